package apkfetch

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pilmon/browser"
)

// FuzzPick: whatever links a hostile page lists and whatever pattern a target sets, picking
// never panics, chooses only an absolute http(s) link of the page, and probes at most maxProbes.
func FuzzPick(f *testing.F) {
	f.Add("https://dl.example.cn/app.apk", "下载", "", false)
	f.Add("https://dl.example.cn/get?id=1#x", "立即下载", "", true)
	f.Add("javascript:alert(1)", "download", `\.apk$`, false)
	f.Add("//no-scheme/app.APK", "", "(", false)
	f.Add("https://a/"+strings.Repeat("x", 5000)+".apk", "apk", "", false)
	f.Add("https://a/b.apk\nhttps://c/d.apk", "", "d", true)
	f.Fuzz(func(t *testing.T, hrefs, text, pattern string, selector bool) {
		var links []browser.Link
		for _, h := range strings.Split(hrefs, "\n") {
			links = append(links, browser.Link{Href: h, Text: text, Download: len(h)%2 == 0})
		}
		re, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		chosen, probe := Pick(links, LinkRule{Selector: selector, Pattern: re})
		if len(probe) > maxProbes || (chosen != "" && len(probe) > 0) {
			t.Fatalf("chosen %q and %d probes", chosen, len(probe))
		}
		for _, u := range append(probe, chosen) {
			if u == "" {
				continue
			}
			p, err := url.Parse(u)
			if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || p.Fragment != "" {
				t.Fatalf("picked %q", u)
			}
		}
	})
}

// FuzzResponseHeaders: the content-type check and the headers kept in the record take whatever
// the server sends without panicking, keep the record bounded, and refuse every type that is
// not a package's.
func FuzzResponseHeaders(f *testing.F) {
	f.Add("application/vnd.android.package-archive", "ETag", `"abc"`)
	f.Add("text/html; charset=utf-8", "Content-Disposition", `attachment; filename="app.apk"`)
	f.Add("application/octet-stream;;;=", "X-"+strings.Repeat("a", 300), strings.Repeat("v", 5000))
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, ct, name, value string) {
		err := CheckContentType(ct)
		if err != nil && !errors.Is(err, ErrNotAPK) {
			t.Fatalf("%q: %v", ct, err)
		}
		h := http.Header{}
		for i := range 100 {
			h[name+strings.Repeat("x", i)] = []string{value, value}
		}
		kept := keptHeaders(h)
		if len(kept) > maxHeaders {
			t.Fatalf("%d headers kept", len(kept))
		}
		for k, v := range kept {
			if len(k) > 128+len("…") || len(v) > maxHeaderValue+len("…") {
				t.Fatalf("header %d/%d bytes kept", len(k), len(v))
			}
		}
	})
}
