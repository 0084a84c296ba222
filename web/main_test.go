package web

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/casefile"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/internal/testredis"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
)

// One real redis-server for the package's tests (internal/testredis); every test gets its own
// key prefix.

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	if os.Getenv(loginServerEnv) != "" {
		os.Exit(runLoginServer())
	}
	// Production hashes cost 64 MiB and 3 passes (TestArgonDefaults); the suite logs in hundreds
	// of times, so it hashes with cheaper parameters.
	accounts.UseArgon2(accounts.Argon2Params{Time: 1, Memory: 1024, Threads: 1})
	testredis.Main(m, "web", stopChrome)
}

var prefixSeq atomic.Int64

// Passwords of the seeded users (one per role).
const testPassword = "correct horse battery staple"

var roleUsers = map[accounts.Role]string{accounts.RoleAdmin: "alice", accounts.RoleProsecutor: "pat", accounts.RoleAnalyst: "ana", accounts.RoleViewer: "vic"}

// env is one test's server, stores and seeded data.
type env struct {
	t      testing.TB
	srv    *Server
	hs     *httptest.Server
	st     *store.Store
	prefix string // the store's key prefix, for tests that reach Redis directly
	ev     *evidence.Store
	reg    *targets.Registry
	cat    *rules.Catalogue
	fps    []string // seeded findings, the XSS one first
	shot   string   // PNG screenshot evidence
	page   string   // captured HTML evidence
	target string
}

// XSS payloads written by "the party under investigation".
const (
	xssName     = `<script>alert('name')</script>"><img src=x onerror=alert('name2')>`
	xssPolicy   = `我们会收集您的信息"><img src=x onerror=alert('policy')><script>alert('policy2')</script>`
	xssTargetID = `t"><img src=x onerror=alert('tid')>`
	xssURL      = `https://evil.example/collect?imei=8613"><script>alert('url')</script><img src=https://evil.example/x.png onerror=alert(1)>`
)

type envOptions struct {
	login   accounts.LoginLimits
	trusted []netip.Prefix // Config.TrustedProxies
	// kinds are source kinds added to those of this build.
	kinds []scanner.KindSpec
	// maxUpload and uploadQuota set Config.MaxUpload and Config.UploadQuota.
	maxUpload, uploadQuota int64
}

func newEnv(t testing.TB, opts ...envOptions) *env {
	t.Helper()
	ctx := context.Background()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("w%d:", prefixSeq.Add(1))
	st := store.NewStore(testredis.Server().Client(), prefix)
	ev, err := evidence.Open(t.TempDir(), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	importRoot := t.TempDir()
	// The kinds of this build, as serve passes them; a test may add its own.
	kinds := pipeline.Kinds(cat)
	if len(opts) > 0 {
		kinds = append(kinds, opts[0].kinds...)
	}
	reg := targets.New(st, targets.Options{ImportRoot: importRoot, Catalogue: cat, Kinds: kinds})
	cfg := Config{Store: st, Evidence: ev, Catalogue: cat, Targets: reg, Logger: quiet,
		UploadDir: importRoot + "/uploads", Version: "test", IndexInterval: 50 * time.Millisecond, Kinds: kinds}
	if len(opts) > 0 {
		cfg.Login = opts[0].login
		cfg.TrustedProxies = opts[0].trusted
		cfg.MaxUpload, cfg.UploadQuota = opts[0].maxUpload, opts[0].uploadQuota
	}
	key, err := casefile.LoadOrCreateKey(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Export = &testExporter{st: st, deps: casefile.Deps{Findings: st, Evidence: ev, Catalogue: cat,
		Options: casefile.Options{Key: key, SkipPDF: true, Tool: "pilmon test"}}}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, st: st, prefix: prefix, ev: ev, reg: reg, cat: cat}
	for r, n := range roleUsers {
		if err := srv.Accounts().Add(ctx, n, r, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	e.seed()
	if err := srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	e.hs = httptest.NewServer(srv.Handler())
	t.Cleanup(e.hs.Close)
	return e
}

func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 40))
	for x := range 64 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 6), 120, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// seed stores a target whose name is an XSS payload, evidence (a screenshot and a captured page
// with script in it) and findings on real catalogue rules.
func (e *env) seed() {
	t := e.t
	ctx := context.Background()
	e.target = "app.demo"
	if _, err := e.reg.Put(ctx, scanner.Target{ID: e.target, Kind: scanner.TargetApp, Name: xssName, Operator: "某某科技有限公司",
		Category: "map_navigation", Sources: []scanner.Source{{Kind: scanner.SourcePolicyURL, Locator: "https://example.com/privacy"}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	shot, err := e.ev.Put(bytes.NewReader(pngBytes(t)), evidence.Meta{CapturedAt: now, Method: "browser_screenshot",
		Source: xssURL, MediaType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.ev.Put(strings.NewReader(`<html><body><h1>隐私政策</h1><p>`+xssPolicy+`</p><script>fetch('https://evil.example/beacon');alert('frame')</script></body></html>`),
		evidence.Meta{CapturedAt: now, Method: "browser_capture", Source: xssURL, MediaType: "text/html; charset=utf-8"})
	if err != nil {
		t.Fatal(err)
	}
	e.shot, e.page = shot.SHA256, page.SHA256
	vs := e.cat.Violations()
	var auto []rules.Violation
	for _, v := range vs {
		if v.Check.Mode == "automated" {
			auto = append(auto, v)
		}
	}
	mk := func(i int, target string, v rules.Violation, subject string, obs []scanner.Observation, refs []string, seen time.Time) findings.Finding {
		return findings.Finding{TargetID: target, RuleID: v.ID, RuleVersion: v.Version, Subject: subject, Severity: v.Severity,
			LegalBasis: v.LegalBasis, Summary: rules.Text{ZH: v.Title.ZH + "（测试）", EN: v.Title.EN + " (test)"}, Caveat: v.Caveat,
			Observations: obs, EvidenceRefs: refs, LastSeen: seen, FirstSeen: seen}
	}
	xssObs := []scanner.Observation{
		{Kind: "apk.identity", Subject: "com.evil.app", Attributes: map[string]any{"label": xssName, "package": "com.evil.app"},
			Inspector: "apkinspect", InspectorVersion: "1"},
		{Kind: "policy.pi_declared", Subject: "device_id", Attributes: map[string]any{"pi": []any{"device_id"}, "quote": xssPolicy},
			EvidenceRefs: []string{page.SHA256}, Inspector: "policies", InspectorVersion: "1"},
		{Kind: "traffic.pi_sent", Subject: "device_id -> evil.example", Attributes: map[string]any{"pi": []any{"device_id"},
			"host": "evil.example", "url": xssURL, "sdk": "umeng_analytics", "phase": "before_consent"},
			EvidenceRefs: []string{shot.SHA256}, Inspector: "traffic", InspectorVersion: "1"},
	}
	var fs []findings.Finding
	fs = append(fs, mk(0, e.target, auto[0], xssName, xssObs, []string{shot.SHA256, page.SHA256}, now.Add(-time.Hour)))
	// A target id is written by whoever registered it; the option lists and links must escape it.
	fs = append(fs, mk(0, xssTargetID, auto[1], "s", nil, nil, now.Add(-2*time.Hour)))
	for i := 1; i < 40; i++ {
		v := auto[i%len(auto)]
		tgt := e.target
		if i%3 == 0 {
			tgt = "mp.other"
		}
		obs := []scanner.Observation{{Kind: "apk.permission", Subject: fmt.Sprintf("android.permission.P%d", i),
			Attributes: map[string]any{"pi": []any{"device_id"}}, Inspector: "apkinspect", InspectorVersion: "1"}}
		if i%4 == 0 {
			obs[0].Attributes["sdk"] = "jpush"
		}
		fs = append(fs, mk(i, tgt, v, fmt.Sprintf("subject-%02d", i), obs, nil, now.Add(-time.Duration(i)*24*time.Hour)))
	}
	for _, f := range fs {
		r, err := e.st.Upsert(ctx, f, "scan-seed")
		if err != nil {
			t.Fatal(err)
		}
		e.fps = append(e.fps, r.Fingerprint)
	}
}

// testExporter is the real case-file exporter without the PDF (no Chromium needed).
type testExporter struct {
	deps casefile.Deps
	st   *store.Store
}

// ExportCase and DraftRecommendation: the case's findings, without the case block that
// cmd/pilmon adds (tested there), so that the web tests exercise the routes and their roles.
func (x *testExporter) ExportCase(ctx context.Context, w io.Writer, id, user string) error {
	c, err := x.st.Case(ctx, id)
	if err != nil {
		return err
	}
	d := x.deps
	d.User = user
	_, err = casefile.Export(ctx, w, casefile.Selection{Fingerprints: c.Fingerprints()}, d)
	return err
}

func (x *testExporter) DraftRecommendation(ctx context.Context, w io.Writer, id, user string) error {
	c, err := x.st.Case(ctx, id)
	if err != nil {
		return err
	}
	d := x.deps
	d.User = user
	return casefile.ExportRecommendation(ctx, w, casefile.Selection{Fingerprints: c.Fingerprints()}, d)
}

func (x *testExporter) Export(ctx context.Context, w io.Writer, target string, fps []string, user string) error {
	d := x.deps
	d.User = user
	_, err := casefile.Export(ctx, w, casefile.Selection{TargetID: target, Fingerprints: fps, IncludeUntriaged: true}, d)
	return err
}

// client is a browser-like HTTP client: a cookie jar, no automatic redirects, the CSRF token of
// the last page read.
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (e *env) anon() *client { return e.anonAt(e.hs.URL) }

// anonAt is anon for a server at base.
func (e *env) anonAt(base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: e.t, base: base, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// login logs in as the user of role r and reads a page to learn the CSRF token.
func (e *env) login(r accounts.Role) *client {
	c := e.anon()
	res := c.loginAs(roleUsers[r], testPassword)
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login as %s: status %d", r, res.StatusCode)
	}
	c.get("/account")
	return c
}

func (c *client) loginAs(user, pw string) *http.Response {
	c.get("/login")
	return c.postForm("/login", url.Values{"username": {user}, "password": {pw}})
}

func (c *client) do(req *http.Request) (*http.Response, string) {
	c.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return res, string(b)
}

func (c *client) get(path string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

// postForm posts a form with the current CSRF token added (unless the form sets _csrf itself).
func (c *client) postForm(path string, form url.Values) *http.Response {
	res, _ := c.postBody(path, form)
	return res
}

// postBody is postForm returning the response body too (a download).
func (c *client) postBody(path string, form url.Values) (*http.Response, string) {
	if _, ok := form["_csrf"]; !ok && c.csrf != "" {
		form.Set("_csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}
