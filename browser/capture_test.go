package browser

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/evidence"
)

// One Chromium for the whole test binary: every page is served on loopback under made-up names
// (host-resolver-rules map them to 127.0.0.1); the allow-list admits only those names, so plain
// 127.0.0.1 and 169.254.169.254 stay refused.
var (
	shared     *Browser
	sharedOnce sync.Once
	sharedErr  error
	site       *httptest.Server
	release    = make(chan struct{})
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close()
	}
	if site != nil {
		close(release)
		site.Close()
	}
	os.Exit(code)
}

func testBrowser(t *testing.T) (*Browser, string) {
	t.Helper()
	sharedOnce.Do(func() {
		shared, sharedErr = New(Options{Allow: []string{"*.allowed.test"}, HostResolverRules: "MAP *.allowed.test 127.0.0.1", SharedProcess: true})
		if sharedErr == nil {
			site = httptest.NewServer(siteHandler())
		}
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	if err := shared.Available(); err != nil {
		t.Skipf("browser: Chromium not installed, skipping the integration test: %v", err)
	}
	_, port, _ := net.SplitHostPort(site.Listener.Addr().String())
	return shared, "http://policy.allowed.test:" + port
}

var (
	secretHits   int
	secretHitsMu sync.Mutex
)

func siteHandler() http.Handler {
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("/spa", page(`<!doctype html><html><head><title>SPA</title></head><body><div id="app">加载中…</div>
<script>setTimeout(() => fetch('/api/policy').then(r => r.json()).then(j => {
  document.getElementById('app').innerHTML = '<h1>' + j.title + '</h1><p>' + j.text + '</p>'; }), 200);</script></body></html>`))
	mux.HandleFunc("/api/policy", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"title":"隐私政策","text":"我们会收集您的手机号码用于注册账号。"}`)
	})
	mux.HandleFunc("/framed", page(`<!doctype html><html><body><h1>关于我们</h1><iframe src="/inner"></iframe></body></html>`))
	mux.HandleFunc("/inner", page(`<!doctype html><html><body><h2>个人信息保护政策</h2><p>联系我们：privacy@example.cn</p><img src="x" onerror="document.title='pwned'"></body></html>`))
	mux.HandleFunc("/r1", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/r2", http.StatusFound) })
	mux.HandleFunc("/r2", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/final", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/final", page(`<!doctype html><html><head><title>终点</title></head><body><p>final page</p></body></html>`))
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	mux.HandleFunc("/to-metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
	})
	mux.HandleFunc("/ssrf", func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.Host)
		page(`<!doctype html><html><body><p>ssrf page</p><img src="http://169.254.169.254/latest/meta-data/iam">
<script>fetch('http://127.0.0.1:`+port+`/secret').catch(()=>{});</script></body></html>`)(w, r)
	})
	mux.HandleFunc("/secret", func(w http.ResponseWriter, r *http.Request) {
		secretHitsMu.Lock()
		secretHits++
		secretHitsMu.Unlock()
		fmt.Fprint(w, "secret")
	})
	hang := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
	mux.HandleFunc("/hang", hang)
	mux.HandleFunc("/probe", probeHandler)
	mux.HandleFunc("/slow-image.png", hang)
	mux.HandleFunc("/hanging-subresource", page(`<!doctype html><html><body><p>正文已经显示</p><img src="/slow-image.png"></body></html>`))
	return mux
}

func TestCaptureSPA(t *testing.T) {
	t.Parallel()
	b, base := testBrowser(t)
	c, err := b.Capture(context.Background(), base+"/spa", CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c.HTML), "我们会收集您的手机号码用于注册账号") {
		t.Fatalf("JS-rendered text missing from HTML:\n%s", c.HTML)
	}
	if !bytes.HasPrefix(c.Screenshot, []byte("\x89PNG")) || !bytes.Contains(c.MHTML, []byte("Content-Type: multipart/related")) {
		t.Errorf("screenshot or MHTML missing: %d / %d bytes", len(c.Screenshot), len(c.MHTML))
	}
	var api bool
	for _, r := range c.Requests {
		api = api || (strings.HasSuffix(r.URL, "/api/policy") && r.Status == 200 && r.Method == "GET")
	}
	if !api || c.Status != 200 || c.Title != "SPA" {
		t.Errorf("request log or status wrong: status %d title %q requests %+v", c.Status, c.Title, c.Requests)
	}
}

func TestCaptureIframe(t *testing.T) {
	t.Parallel()
	b, base := testBrowser(t)
	c, err := b.Capture(context.Background(), base+"/framed", CaptureOptions{NoScreenshot: true})
	if err != nil {
		t.Fatal(err)
	}
	h := string(c.HTML)
	if !strings.Contains(h, "个人信息保护政策") || !strings.Contains(h, `data-pilmon-frame="`+base+`/inner"`) {
		t.Fatalf("iframe content not inlined:\n%s", h)
	}
	if c.Title == "pwned" {
		t.Error("serialising the iframe ran its handlers")
	}
}

func TestCaptureRedirects(t *testing.T) {
	t.Parallel()
	b, base := testBrowser(t)
	c, err := b.Capture(context.Background(), base+"/r1", CaptureOptions{NoScreenshot: true, NoMHTML: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{base + "/r1", base + "/r2", base + "/final"}
	if fmt.Sprint(c.Redirects) != fmt.Sprint(want) || c.FinalURL != base+"/final" {
		t.Fatalf("redirect chain %v final %q, want %v", c.Redirects, c.FinalURL, want)
	}
	var hops int
	for _, r := range c.Requests {
		if r.Redirect && (r.Status == 302 || r.Status == 301) {
			hops++
		}
	}
	if hops != 2 {
		t.Errorf("%d redirect hops in the request log, want 2: %+v", hops, c.Requests)
	}

	_, err = b.Capture(context.Background(), base+"/loop", CaptureOptions{NoScreenshot: true, NoMHTML: true})
	if !errors.Is(err, ErrNavigation) || !strings.Contains(err.Error(), "REDIRECT") {
		t.Errorf("redirect loop: err = %v, want a navigation error naming the redirects", err)
	}
}

func TestGuardInBrowser(t *testing.T) {
	t.Parallel()
	b, base := testBrowser(t)
	// Refused before Chromium is involved.
	_, port, _ := net.SplitHostPort(site.Listener.Addr().String())
	for _, u := range []string{"http://127.0.0.1:" + port + "/final", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"} {
		if _, err := b.Capture(context.Background(), u, CaptureOptions{}); !errors.Is(err, ErrRefused) {
			t.Errorf("Capture(%s) err = %v, want refusal", u, err)
		}
	}
	// A redirect from an allowed page to the metadata address.
	c, err := b.Capture(context.Background(), base+"/to-metadata", CaptureOptions{NoScreenshot: true, NoMHTML: true})
	if !errors.Is(err, ErrNavigation) || !blockedIn(c, "169.254.169.254") {
		t.Errorf("redirect to metadata: err = %v, blocked logged %v", err, blockedIn(c, "169.254.169.254"))
	}
	// Requests the page makes itself.
	c, err = b.Capture(context.Background(), base+"/ssrf", CaptureOptions{NoScreenshot: true, NoMHTML: true})
	if err != nil {
		t.Fatal(err)
	}
	if !blockedIn(c, "169.254.169.254") || !blockedIn(c, "127.0.0.1:"+port+"/secret") {
		t.Errorf("page's own private requests not logged as blocked: %+v", c.Requests)
	}
	secretHitsMu.Lock()
	defer secretHitsMu.Unlock()
	if secretHits != 0 {
		t.Errorf("loopback /secret was reached %d times", secretHits)
	}
}

func blockedIn(c *Capture, sub string) bool {
	if c == nil {
		return false
	}
	for _, r := range c.Requests {
		if r.Blocked && strings.Contains(r.URL, sub) && r.Reason != "" {
			return true
		}
	}
	return false
}

func TestCaptureTimeouts(t *testing.T) {
	t.Parallel()
	b, base := testBrowser(t)
	_, err := b.Capture(context.Background(), base+"/hang", CaptureOptions{NavigationTimeout: time.Second, NoScreenshot: true})
	if !errors.Is(err, ErrNavigation) || !strings.Contains(err.Error(), "no response within") {
		t.Errorf("hanging page: err = %v", err)
	}
	c, err := b.Capture(context.Background(), base+"/hanging-subresource",
		CaptureOptions{NavigationTimeout: time.Second, IdleTimeout: 500 * time.Millisecond, NoScreenshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if !c.Partial || !strings.Contains(string(c.HTML), "正文已经显示") {
		t.Errorf("hanging subresource: partial %v, errors %v, html %d bytes", c.Partial, c.Errors, len(c.HTML))
	}
}

type memSink struct{ metas []evidence.Meta }

func (s *memSink) Put(r io.Reader, m evidence.Meta) (evidence.Ref, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	s.metas = append(s.metas, m)
	sum := sha256.Sum256(b)
	return evidence.Ref{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}, nil
}

func TestCaptureToEvidenceAndPDF(t *testing.T) {
	t.Parallel()
	b, base := testBrowser(t)
	sink := &memSink{}
	c, refs, err := b.CaptureToEvidence(context.Background(), sink, base+"/final", CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(refs.All()) != 4 || refs.HTML.Size != int64(len(c.HTML)) {
		t.Fatalf("refs %+v", refs)
	}
	for _, m := range sink.metas {
		if m.Method != "browser_capture" || m.Source != base+"/final" || !strings.HasPrefix(m.Tool, "pilmon-browser/") || m.MediaType == "" {
			t.Errorf("meta %+v", m)
		}
	}
	pdf, err := b.PrintPDF(context.Background(), []byte(`<!doctype html><html><head><meta charset="utf-8"><title>报告</title></head><body><h1>检察建议</h1><p>第一页</p></body></html>`), PDFOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("not a PDF: %q", pdf[:min(len(pdf), 16)])
	}
}

// A capture with its own Chromium process and profile, the default mode.
func TestCaptureOwnProcess(t *testing.T) {
	_, base := testBrowser(t)
	tmp := reachableTempDir(t)
	t.Setenv("TMPDIR", tmp) // the profile directory goes here; it must be gone afterwards
	b, err := New(Options{Allow: []string{"*.allowed.test"}, HostResolverRules: "MAP *.allowed.test 127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.Capture(context.Background(), base+"/final", CaptureOptions{NoScreenshot: true, NoMHTML: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c.HTML), "final page") {
		t.Errorf("html %s", c.HTML)
	}
	left, _ := os.ReadDir(tmp)
	for _, e := range left {
		if strings.HasPrefix(e.Name(), "pilmon-") {
			t.Errorf("profile directory %s left behind", e.Name())
		}
	}
}
