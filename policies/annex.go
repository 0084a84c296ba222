package policies

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"pilmon/scanner"
)

const (
	// maxAnnexLinks: a policy page links a handful of annexes (SDK list, sharing list, PI list,
	// permission list); more links of that name are a page built to make the scan fetch.
	maxAnnexLinks = 4
	// maxAnchors bounds the anchors of one page read for annex names.
	maxAnchors = 20000
	// maxAnchorRunes: an annex link is named in a few words; a longer anchor is a paragraph
	// that happens to be a link, and its words are not read.
	maxAnchorRunes = 80
)

// annexLinkName is what a link to an annex of a policy is called: the SDK list, the third-party
// sharing list, the list of PI collected, the permission list, in Chinese or English. Whether the
// page behind the link is an annex is decided by reading it (classify), not by its name.
var annexLinkName = regexp.MustCompile(`(?i)SDK[^，。]{0,8}(目录|清单|列表|说明|一览)|第三方[^，。]{0,10}(共享|合作|接入|SDK)[^，。]{0,6}(清单|目录|列表)|` +
	`(已收集|收集)[^，。]{0,6}个人信息[^，。]{0,4}(清单|目录|列表)|个人信息[^，。]{0,6}(收集|共享)[^，。]{0,4}(清单|目录|列表)|` +
	`权限[^，。]{0,10}(说明|清单|列表|目录|一览)|` +
	`\b(third[- ]party )?SDKs? (list|directory)\b|\blist of (third[- ]party )?(SDKs|partners)\b|` +
	`\bthird[- ]party (information |data )?sharing list\b|\b(app )?permissions? list\b|\blist of (app )?permissions\b|` +
	`\b(personal (information|data)|PI) (we )?collected list\b|\blist of (personal (information|data)|PI) (we )?collect(ed)?\b`)

// AnnexLinks returns the links of a captured policy page whose anchor text or title names an
// annex of the policy (see annexLinkName): http and https only, resolved against the page's URL,
// without their fragment, neither the page itself nor a repeat, at most maxAnnexLinks, in page
// order. page is the captured HTML; a link inside it to a part of the same page is already read
// with the page.
func AnnexLinks(page []byte, pageURL string) []string {
	base, err := url.Parse(pageURL)
	if err != nil {
		return nil
	}
	self := *base
	self.Fragment, self.RawFragment = "", ""
	seen := map[string]bool{self.String(): true}
	var out []string
	z := html.NewTokenizer(bytes.NewReader(page))
	var (
		inA         bool
		href, title string
		text        strings.Builder
		textRunes   int
		anchors     int
	)
	finish := func() {
		inA = false
		if len(out) >= maxAnnexLinks {
			return
		}
		if !annexName(title) && !annexName(text.String()) {
			return
		}
		if u := annexURL(base, href); u != "" && !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for len(out) < maxAnnexLinks {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if inA {
				finish()
			}
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			if atom.Lookup(name) != atom.A {
				continue
			}
			if inA {
				finish() // an unclosed anchor ends where the next begins, as a browser reads it
			}
			if anchors++; anchors > maxAnchors {
				return out
			}
			href, title = "", ""
			text.Reset()
			textRunes = 0
			for hasAttr {
				var k, v []byte
				k, v, hasAttr = z.TagAttr()
				switch string(k) {
				case "href":
					href = string(v)
				case "title", "aria-label":
					if title == "" {
						title = string(v)
					}
				}
			}
			inA = tt == html.StartTagToken
			if !inA {
				finish()
			}
		case html.EndTagToken:
			if name, _ := z.TagName(); inA && atom.Lookup(name) == atom.A {
				finish()
			}
		case html.TextToken:
			if inA && textRunes <= maxAnchorRunes {
				t := z.Text()
				textRunes += utf8.RuneCount(t)
				text.Write(t)
			}
		}
	}
	return out
}

// annexName reports whether a link's words name an annex; a long text is not a link's name.
func annexName(s string) bool {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || utf8.RuneCountInString(s) > maxAnchorRunes {
		return false
	}
	return annexLinkName.MatchString(s)
}

// annexURL resolves href against the page: "" unless the result is an http or https URL with a
// host. The fragment is dropped (it names a place in the page, not another page).
func annexURL(base *url.URL, href string) string {
	href = strings.TrimSpace(href)
	if href == "" || len(href) > 2048 {
		return ""
	}
	ref, err := url.Parse(href)
	if err != nil {
		return ""
	}
	u := base.ResolveReference(ref)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return ""
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// annexes captures the annexes the policy page links (AnnexLinks), each through the same browser
// as sealed evidence with its own refs, and reads each one. An annex that is an SDK or permission
// list adds its observations, marked annex_of the policy; any other page is dropped and named on
// the policy's document (policyDoc, its policy.document attributes: annexes_dropped). A capture that fails is a scan error naming the annex
// URL; the policy's observations stand. The annexes' own links are not followed: an annex is read
// one level from its policy.
func (in *Inspector) annexes(ctx context.Context, input *scanner.Input, policyDoc map[string]any, page []byte, pageURL string, out *scanner.Output) {
	var dropped []string
	for _, u := range AnnexLinks(page, pageURL) {
		if ctx.Err() != nil {
			out.Errors = append(out.Errors, scanner.Errorf(u, "annex of %s not fetched: %v", input.Source.Locator, ctx.Err()))
			return
		}
		c, crefs, err := in.br.CaptureToEvidence(ctx, input.Sink, u, in.opts.Capture)
		out.Artifacts = append(out.Artifacts, crefs.All()...)
		if err != nil || c == nil || len(c.HTML) == 0 {
			reason := "nothing captured"
			if err != nil {
				reason = err.Error()
			}
			out.Errors = append(out.Errors, scanner.Errorf(u, "annex of %s: %s", input.Source.Locator, reason))
			continue
		}
		if c.Partial {
			out.Errors = append(out.Errors, scanner.Errorf(u, "annex of %s: capture incomplete: %s", input.Source.Locator, strings.Join(c.Errors, "; ")))
		}
		a, err := Analyze(u, c.HTML, "text/html; charset=utf-8", in.cat)
		if err != nil {
			out.Errors = append(out.Errors, scanner.Errorf(u, "annex of %s: %s", input.Source.Locator, strings.TrimPrefix(err.Error(), "policies: "+u+": ")))
			continue
		}
		if !a.DocType.IsAnnex() {
			dropped = append(dropped, fmt.Sprintf("%s: read as %s (%s), not an SDK or permission list", u, a.DocType, a.DocTypeReason))
			continue
		}
		var refs []string
		if crefs.HTML.SHA256 != "" {
			refs = []string{crefs.HTML.SHA256}
		}
		obs := Observations(a, u, refs, in.Name(), in.Version())
		obs[0].Attributes["annex_of"] = input.Source.Locator
		if in.cat != nil {
			obs = SDKListObservations(obs, a, in.cat.SDKs(), refs, in.Name(), in.Version())
		}
		out.Observations = append(out.Observations, obs...)
	}
	if len(dropped) > 0 {
		policyDoc["annexes_dropped"] = dropped
	}
}
