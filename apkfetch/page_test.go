package apkfetch

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"pilmon/apkinspect"
	"pilmon/browser"
	"pilmon/scanner"
)

var (
	pageBrowserOnce sync.Once
	pageBrowser     *browser.Browser
	pageBrowserErr  error
)

// testBrowser is one shared Chromium allowed to reach loopback; the test skips without Chromium.
func testBrowser(t *testing.T) *browser.Browser {
	t.Helper()
	pageBrowserOnce.Do(func() {
		pageBrowser, pageBrowserErr = browser.New(browser.Options{Allow: []string{"127.0.0.1/32"}, SharedProcess: true})
	})
	if pageBrowserErr != nil {
		t.Fatal(pageBrowserErr)
	}
	if err := pageBrowser.Available(); err != nil {
		t.Skipf("Chromium not installed: %v", err)
	}
	return pageBrowser
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pageBrowser != nil {
		pageBrowser.Close()
	}
	os.Exit(code)
}

// TestDownloadPage: the operator's 下载 page is captured in Chromium (its screenshot kept as
// evidence of where the link was) and the APK link picked by the default rule (a link ending in
// .apk; else a download link served as an APK), by a CSS selector, or by a URL pattern; a page
// without an APK link is an error.
func TestDownloadPage(t *testing.T) {
	fx := buildFixtures(t)
	br := testBrowser(t)
	served := map[string][]byte{"/files/shop-1.0.apk": fx.V1, "/files/shop-2.0.apk": fx.V2, "/get": fx.V2}
	dl, pin := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := served[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", apkinspect.MediaType)
		if r.URL.Path == "/get" && r.Method == http.MethodGet && r.URL.Query().Get("id") == "" {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	pages := map[string]string{
		"/default": `<a href="/about">关于我们</a> <a href="` + dl.URL + `/files/shop-1.0.apk#top">下载 1.0</a>`,
		"/probe":   `<a href="/about">关于我们</a> <a href="` + dl.URL + `/get?id=7">立即下载</a>`,
		"/two":     `<a href="` + dl.URL + `/files/shop-1.0.apk">旧版</a> <div id="official"><a href="` + dl.URL + `/files/shop-2.0.apk">官方下载</a></div>`,
		"/none":    `<p>请前往应用市场</p> <a href="/about">关于我们</a>`,
	}
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><html><head><title>下载</title></head><body>%s</body></html>", p)
	}))
	defer site.Close()
	in := New(apkinspect.New(nil, apkinspect.Options{}), Options{Guard: br.Guard(), Browser: br, Tool: "pilmon test", TempDir: t.TempDir()})
	for _, c := range []struct {
		page    string
		opts    map[string]string
		want    string // the version picked, "" for an error
		wantErr string
	}{
		{"/default", nil, "1.0", ""},
		{"/probe", nil, "2.0", ""},
		{"/two", nil, "1.0", ""},
		{"/two", map[string]string{"link_selector": "#official a"}, "2.0", ""},
		{"/two", map[string]string{"link_selector": "#official"}, "2.0", ""},
		{"/two", map[string]string{"link_pattern": `shop-2\.\d+\.apk$`}, "2.0", ""},
		{"/two", map[string]string{"link_selector": "#nothing-here"}, "", "link_selector / link_pattern"},
		{"/none", nil, "", "no APK link on the page by the default rule"},
		{"/two", map[string]string{"link_pattern": "("}, "", "link_pattern"},
	} {
		t.Run(strings.TrimPrefix(c.page, "/")+fmt.Sprint(c.opts), func(t *testing.T) {
			opts := map[string]string{"tls_cert_sha256": pin}
			for k, v := range c.opts {
				opts[k] = v
			}
			src := scanner.Source{Kind: SourceAPKPageURL, Locator: site.URL + c.page, Options: opts}
			out, sink := inspectURL(t, in, src, nil)
			if c.want == "" {
				if len(out.Errors) == 0 || !strings.Contains(out.Errors[0].Reason, c.wantErr) || out.Package != nil {
					t.Fatalf("errors %v package %+v, want an error containing %q", out.Errors, out.Package, c.wantErr)
				}
				if sink.stored(apkinspect.MediaType) != 0 {
					t.Errorf("a package was stored")
				}
				return
			}
			if len(out.Errors) != 0 || out.Package == nil || out.Package.VersionName != c.want {
				t.Fatalf("errors %v package %+v, want version %s", out.Errors, out.Package, c.want)
			}
			prov := provenanceOf(t, out)
			if prov.Attributes["page_url"] != src.Locator || !strings.HasPrefix(prov.Attributes["url"].(string), dl.URL) {
				t.Errorf("provenance %v", prov.Attributes)
			}
			if sink.stored("image/png") != 1 || sink.stored(apkinspect.MediaType) != 1 {
				t.Errorf("stored %v, want the page's screenshot and the package", sink.metas)
			}
			// The page's capture is cited by the provenance observation.
			if len(prov.EvidenceRefs) < 3 {
				t.Errorf("provenance cites %v, want the record, the page capture and the package", prov.EvidenceRefs)
			}
		})
	}
}
