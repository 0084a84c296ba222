package apkfetch

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"

	"pilmon/browser"
)

// Limits on what a download page's link rules and links may hold.
const (
	maxPatternLen = 512
	maxLinkLen    = 4096
	// maxProbes bounds the HEAD requests the default rule makes when no link ends in .apk.
	maxProbes = 5
)

// LinkRule picks a download page's APK link.
type LinkRule struct {
	// Selector restricts the candidates to the elements it matches (link_selector=).
	Selector bool
	// Pattern, when set, must match the link's absolute URL (link_pattern=).
	Pattern *regexp.Regexp
}

// ParsePattern compiles a link_pattern option (Go RE2 syntax: linear time, no backtracking).
func ParsePattern(s string) (*regexp.Regexp, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > maxPatternLen {
		return nil, fmt.Errorf("link_pattern of %d bytes, limit %d", len(s), maxPatternLen)
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("link_pattern %.80q: %v", s, err)
	}
	return re, nil
}

// Pick returns the chosen link among a page's links, and the candidates the default rule would
// probe by content type when none is chosen by its URL. The rules, in order: a link the target's
// selector matched (and its pattern, if any); else the first link matching the pattern; else,
// by default, the first link whose path ends in .apk; else no link, with up to maxProbes
// candidates (links with a download attribute or whose text or URL speaks of a download) for
// the caller to ask for their content type.
func Pick(links []browser.Link, rule LinkRule) (chosen string, probe []string) {
	var ok []string
	for _, l := range links {
		if u := usableLink(l.Href); u != "" {
			ok = append(ok, u)
		}
	}
	if rule.Pattern != nil {
		for _, u := range ok {
			if rule.Pattern.MatchString(u) {
				return u, nil
			}
		}
		return "", nil
	}
	if rule.Selector {
		if len(ok) > 0 {
			return ok[0], nil
		}
		return "", nil
	}
	for _, u := range ok {
		if EndsInAPK(u) {
			return u, nil
		}
	}
	for _, l := range links {
		u := usableLink(l.Href)
		if u == "" || slices.Contains(probe, u) {
			continue
		}
		t := strings.ToLower(l.Text + " " + u)
		if l.Download || strings.Contains(t, "下载") || strings.Contains(t, "download") || strings.Contains(t, "apk") {
			probe = append(probe, u)
			if len(probe) == maxProbes {
				break
			}
		}
	}
	return "", probe
}

// EndsInAPK reports whether a URL's path names an .apk file.
func EndsInAPK(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return strings.EqualFold(path.Ext(u.Path), ".apk")
}

// usableLink returns the link without its fragment when it is an absolute http(s) URL of
// reasonable length, else "".
func usableLink(href string) string {
	if len(href) > maxLinkLen {
		return ""
	}
	u, err := url.Parse(strings.TrimSpace(href))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	u.Fragment = ""
	return u.String()
}
