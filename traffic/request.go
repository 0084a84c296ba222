package traffic

import (
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
)

// parseRequestURL parses an absolute request URL and requires a host.
func parseRequestURL(s string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		// keep the message short: url.Parse quotes the whole URL
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	if u.Host == "" {
		return nil, errors.New("no host")
	}
	return u, nil
}

// requestParts are the trees the detectors walk for one request, by location.
type requestParts struct {
	url, query, header, cookie, body *node
	bodyFormat                       string
	notes                            []string
}

// skipHeaders carry nothing the analyst needs or are parsed elsewhere.
var skipHeaders = map[string]bool{"cookie": true, ":path": true, ":authority": true, ":method": true, ":scheme": true, "host": true, "content-length": true,
	"accept": true, "accept-encoding": true, "accept-language": true, "connection": true, "cache-control": true, "pragma": true, "content-type": true,
	"sec-fetch-dest": true, "sec-fetch-mode": true, "sec-fetch-site": true, "sec-fetch-user": true, "upgrade-insecure-requests": true, "origin": true,
	"if-none-match": true, "if-modified-since": true, "range": true, "te": true, "priority": true}

// splitRequest builds the location trees of an entry's request.
func splitRequest(e *Entry, u *url.URL, lim Limits) requestParts {
	d := &bodyDecoder{lim: lim}
	var p requestParts
	// path segments: each keyed by the segment before it ("/imei/3582…" -> key "imei")
	p.url = &node{kind: nArr}
	prev := ""
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if seg == "" {
			continue
		}
		seg = unescapeLoose(seg)
		p.url.kids = append(p.url.kids, d.strNode(prev, seg, 0))
		prev = seg
	}
	if u.RawQuery != "" {
		p.query = d.formNode(u.RawQuery, 0)
	}
	if u.Fragment != "" && strings.Contains(u.Fragment, "=") {
		// single-page apps put state in the fragment; it is not sent, but scripts read and forward it
		// — only kept in the url location when it looks like a query
		if f := d.formNode(strings.TrimPrefix(u.Fragment, "?"), 0); f != nil {
			p.url.kids = append(p.url.kids, f.kids...)
		}
	}
	p.header = &node{kind: nObj}
	var cookieHeader []string
	contentType, contentEncoding := "", ""
	for _, h := range e.Request.Headers {
		name := strings.ToLower(strings.TrimSpace(string(h.Name)))
		switch name {
		case "cookie":
			cookieHeader = append(cookieHeader, string(h.Value))
		case "content-type":
			contentType = string(h.Value)
		case "content-encoding":
			contentEncoding = string(h.Value)
		}
		if skipHeaders[name] {
			continue
		}
		v := string(h.Value)
		if name == "referer" {
			if ru, err := url.Parse(v); err == nil && ru.RawQuery != "" {
				q := d.formNode(ru.RawQuery, 0)
				q.key = "referer"
				p.header.kids = append(p.header.kids, q)
			}
			continue
		}
		p.header.kids = append(p.header.kids, d.strNode(string(h.Name), v, 0))
	}
	p.cookie = &node{kind: nObj}
	if len(e.Request.Cookies) > 0 {
		for _, c := range e.Request.Cookies {
			p.cookie.kids = append(p.cookie.kids, d.strNode(string(c.Name), unescapeLoose(string(c.Value)), 0))
		}
	} else {
		for _, ch := range cookieHeader {
			for _, kv := range strings.Split(ch, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				if k != "" {
					p.cookie.kids = append(p.cookie.kids, d.strNode(k, unescapeLoose(v), 0))
				}
			}
		}
	}
	if pd := e.Request.PostData; pd != nil {
		mt := string(pd.MimeType)
		if mt == "" {
			mt = contentType
		}
		text := string(pd.Text)
		var raw []byte
		if enc := strings.ToLower(string(pd.Encoding) + string(pd.XEncoding)); strings.Contains(enc, "base64") {
			b, err := base64.StdEncoding.DecodeString(text)
			if err != nil {
				// cut at the last full quantum (a truncated string) and keep what decodes
				t := strings.TrimRight(text, "=")
				t = t[:len(t)/4*4]
				b, _ = base64.StdEncoding.DecodeString(t)
				p.notes = append(p.notes, "postData base64: "+err.Error())
			}
			raw = b
		} else {
			raw = []byte(text)
		}
		switch {
		case len(raw) > 0:
			b := DecodeBody(raw, mt, contentEncoding, lim)
			p.body, p.bodyFormat = b.Root, b.Format
			p.notes = append(p.notes, b.Notes...)
		case len(pd.Params) > 0:
			n := &node{kind: nObj}
			for _, pr := range pd.Params {
				if d.full() {
					break
				}
				n.kids = append(n.kids, d.strNode(string(pr.Name), unescapeLoose(string(pr.Value)), 0))
			}
			p.body, p.bodyFormat = n, "params"
		}
	}
	return p
}

// forEachLocation visits the non-empty location trees.
func (p requestParts) forEachLocation(fn func(loc string, n *node)) {
	if p.url != nil && len(p.url.kids) > 0 {
		fn("url", p.url)
	}
	if p.query != nil && len(p.query.kids) > 0 {
		fn("query", p.query)
	}
	if p.header != nil && len(p.header.kids) > 0 {
		fn("header", p.header)
	}
	if p.cookie != nil && len(p.cookie.kids) > 0 {
		fn("cookie", p.cookie)
	}
	if p.body != nil {
		fn("body", p.body)
	}
}

// DetectEntry runs the pattern detectors and, when kv is not nil, known-value matching over one
// entry's request. Hits are deduplicated per (detector, location, value).
func DetectEntry(e *Entry, kv *KnownValues, lim Limits) ([]Hit, error) {
	lim = lim.withDefaults()
	u, err := parseRequestURL(string(e.Request.URL))
	if err != nil {
		return nil, err
	}
	parts := splitRequest(e, u, lim)
	seen := map[Hit]bool{}
	var hits []Hit
	emit := func(h Hit) {
		if !seen[h] && len(hits) < 1000 {
			seen[h] = true
			hits = append(hits, h)
		}
	}
	parts.forEachLocation(func(loc string, n *node) {
		detectNode(n, loc, emit)
		if kv != nil {
			kv.matchNode(n, loc, emit)
		}
	})
	return hits, nil
}
