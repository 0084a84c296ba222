package web

import (
	"context"
	"flag"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"
	"github.com/go-rod/rod/lib/proto"

	"pilmon/accounts"
	"pilmon/browser"
	"pilmon/findings"
	"pilmon/store"
)

// One Chromium (Debian's) for the package's browser tests, with the hardening flags of the browser
// package; each test gets its own incognito context, so sessions never leak between tests.
var (
	chromeOnce     sync.Once
	chrome         *rod.Browser
	chromeLauncher *launcher.Launcher
	chromeErr      error
	chromeSkip     string
)

// stopChrome ends the package's Chromium and removes its profile (TestMain, after the tests): it
// was launched without rod's leakless guard, so nothing else would.
func stopChrome() {
	if chrome != nil {
		_ = chrome.Close()
	}
	if chromeLauncher != nil {
		chromeLauncher.Kill()
		chromeLauncher.Cleanup()
	}
}

func testChrome(t *testing.T) *rod.Browser {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests skipped with -short")
	}
	chromeOnce.Do(func() {
		bin := os.Getenv("PILMON_CHROMIUM")
		if bin == "" {
			bin = browser.DefaultBin
		}
		if _, err := os.Stat(bin); err != nil {
			chromeSkip = "chromium not installed at " + bin + " (apt-get install chromium): " + err.Error()
			return
		}
		dir, err := os.MkdirTemp("", "pilmon-web-chromium-")
		if err != nil {
			chromeErr = err
			return
		}
		l := launcher.New().Bin(bin).Headless(true).Leakless(false).UserDataDir(dir).NoSandbox(os.Geteuid() == 0)
		for _, f := range []flags.Flag{"disable-background-networking", "disable-component-update", "disable-sync", "no-first-run",
			"disable-default-apps", "disable-extensions", "no-default-browser-check", "disable-gpu", "mute-audio", "hide-scrollbars"} {
			l.Set(f)
		}
		l.Set("lang", "zh-CN")
		chromeLauncher = l
		u, err := l.Launch()
		if err != nil {
			chromeErr = err
			return
		}
		chrome = rod.New().ControlURL(u).NoDefaultDevice()
		chromeErr = chrome.Connect()
	})
	if chromeSkip != "" {
		t.Skip(chromeSkip)
	}
	if chromeErr != nil {
		t.Fatal(chromeErr)
	}
	inc, err := chrome.Incognito()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inc.Close() })
	return inc.Timeout(60 * time.Second)
}

// watchedPage opens a page that records every JavaScript dialog (and dismisses it) and every
// request to a host other than the test server.
type watchedPage struct {
	*rod.Page
	mu      sync.Mutex
	dialogs []string
	foreign []string
}

func openPage(t *testing.T, b *rod.Browser, base string) *watchedPage {
	p, err := b.Page(proto.TargetCreateTarget{URL: "about:blank"})
	if err != nil {
		t.Fatal(err)
	}
	_ = p.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1366, Height: 900, DeviceScaleFactor: 1})
	w := &watchedPage{Page: p}
	host := mustHost(base)
	_ = proto.NetworkEnable{}.Call(p)
	_ = proto.PageEnable{}.Call(p)
	go p.EachEvent(func(e *proto.PageJavascriptDialogOpening) {
		w.mu.Lock()
		w.dialogs = append(w.dialogs, e.Message)
		w.mu.Unlock()
		_ = proto.PageHandleJavaScriptDialog{Accept: false}.Call(p)
	}, func(e *proto.NetworkRequestWillBeSent) {
		u, err := url.Parse(e.Request.URL)
		if err != nil || (u.Scheme != "data" && u.Scheme != "about" && u.Host != host) {
			w.mu.Lock()
			w.foreign = append(w.foreign, e.Request.URL)
			w.mu.Unlock()
		}
	})()
	return w
}

func mustHost(base string) string {
	u, _ := url.Parse(base)
	return u.Host
}

func (w *watchedPage) visit(t *testing.T, u string) {
	t.Helper()
	if err := w.Navigate(u); err != nil {
		t.Fatalf("navigate %s: %v", u, err)
	}
	if err := w.WaitLoad(); err != nil {
		t.Fatalf("load %s: %v", u, err)
	}
}

func (w *watchedPage) text(t *testing.T) string {
	s, err := w.MustElement("body").Text()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// browserLogin fills in and submits the login form.
func browserLogin(t *testing.T, w *watchedPage, base, user string) {
	t.Helper()
	w.visit(t, base+"/login")
	w.MustElement(`input[name="username"]`).MustInput(user)
	w.MustElement(`input[name="password"]`).MustInput(testPassword)
	wait := w.WaitNavigation(proto.PageLifecycleEventNameLoad)
	w.MustElement(`button[type="submit"]`).MustClick()
	wait()
	_ = w.WaitLoad()
	if !strings.Contains(w.MustInfo().URL, base+"/") || strings.Contains(w.MustInfo().URL, "/login") {
		t.Fatalf("login as %s: ended on %s: %s", user, w.MustInfo().URL, w.text(t))
	}
}

// clickMove presses the transition button for state to on the finding page, filling the
// document fields when the step issues one.
func clickMove(t *testing.T, w *watchedPage, to findings.State, docNo string) {
	t.Helper()
	btn, err := w.Element(`button.to-` + string(to))
	if err != nil {
		t.Fatalf("no button for %s: %v", to, err)
	}
	form := btn.MustParent()
	form.MustElement(`textarea[name="note"]`).MustInput("浏览器测试：" + string(to))
	if docNo != "" {
		form.MustElement(`input[name="document_no"]`).MustInput(docNo)
		form.MustElement(`input[name="document_date"]`).MustInputTime(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	}
	wait := w.WaitNavigation(proto.PageLifecycleEventNameLoad)
	btn.MustClick()
	wait()
	_ = w.WaitLoad()
}

// TestBrowserCasePath: an analyst takes a finding into review and proposes escalation, a
// prosecutor carries it through the administrative track to a suit and closes it, all by clicking
// the buttons of the finding page; a viewer sees no buttons and is refused the admin pages.
func TestBrowserCasePath(t *testing.T) {
	b := testChrome(t)
	e := newEnv(t)
	fp := e.fps[1]
	fpURL := e.hs.URL + "/findings/" + fp

	an := openPage(t, b, e.hs.URL)
	browserLogin(t, an, e.hs.URL, "ana")
	an.visit(t, fpURL)
	if has, _, _ := an.Has(`button.to-case_opened`); has {
		t.Fatal("analyst offered case_opened")
	}
	clickMove(t, an, findings.StateInReview, "")
	if has, _, _ := an.Has(`button.to-dismissed`); has {
		t.Fatal("analyst offered dismissed")
	}
	clickMove(t, an, findings.StateEscalated, "")

	b2 := testChrome(t)
	pr := openPage(t, b2, e.hs.URL)
	browserLogin(t, pr, e.hs.URL, "pat")
	pr.visit(t, fpURL)
	clickMove(t, pr, findings.StateCaseOpened, "")
	clickMove(t, pr, findings.StateRecommendationIssued, "京检民公建〔2026〕1号")
	clickMove(t, pr, findings.StateNotRectified, "")
	clickMove(t, pr, findings.StateSuitFiled, "京检民公诉〔2026〕7号")
	clickMove(t, pr, findings.StateClosed, "")
	body := pr.text(t)
	if !strings.Contains(body, "已结案") || !strings.Contains(body, "京检民公建〔2026〕1号") || !strings.Contains(body, "期限：2026-05-02") {
		t.Errorf("finding page after the case path lacks the closed state, the document or its deadline")
	}
	h, err := e.st.History(context.Background(), fp)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, tr := range h[1:] {
		path = append(path, tr.Actor+":"+string(tr.To))
	}
	want := "ana:in_review ana:escalated pat:case_opened pat:recommendation_issued pat:not_rectified pat:suit_filed pat:closed"
	if strings.Join(path, " ") != want {
		t.Fatalf("history %v", path)
	}
	if h[4].DocumentDate != "2026-03-02" || h[4].Deadline != "2026-05-02" {
		t.Errorf("recommendation entry %+v", h[4])
	}

	b3 := testChrome(t)
	vw := openPage(t, b3, e.hs.URL)
	browserLogin(t, vw, e.hs.URL, "vic")
	vw.visit(t, e.hs.URL+"/findings/"+e.fps[2])
	if has, _, _ := vw.Has(`section.moves`); has {
		t.Error("viewer sees transition buttons")
	}
	if has, _, _ := vw.Has(`form[action$="/notes"]`); has {
		t.Error("viewer sees the note form")
	}
	refusal := e.srv.langs.get(LangZH).T("error.403")
	for _, p := range []string{"/users", "/audit", "/dead"} {
		vw.visit(t, e.hs.URL+p)
		if !strings.Contains(vw.text(t), refusal) {
			t.Errorf("viewer on %s: no refusal", p)
		}
	}
	for _, w := range []*watchedPage{an, pr, vw} {
		if len(w.dialogs) > 0 || len(w.foreign) > 0 {
			t.Errorf("dialogs %v, foreign requests %v", w.dialogs, w.foreign)
		}
	}
}

// TestBrowserXSSInert renders every page that shows text written by the party under
// investigation (app name, policy sentence, request URL, a captured page with script) and checks in
// the real browser that nothing ran and nothing was fetched from elsewhere, and that the payloads
// are shown as text.
func TestBrowserXSSInert(t *testing.T) {
	b := testChrome(t)
	e := newEnv(t)
	w := openPage(t, b, e.hs.URL)
	browserLogin(t, w, e.hs.URL, "pat")
	pages := []string{"/", "/findings", "/findings?q=evil", "/findings?target=" + url.QueryEscape(xssTargetID) + "&q=" + url.QueryEscape(`"><img src=x onerror=alert('q')>`),
		"/findings/" + e.fps[0], "/targets", "/targets/" + e.target,
		"/targets/" + e.target + "/checklist", "/evidence/" + e.page, "/evidence/" + e.shot, "/progress"}
	for _, p := range pages {
		w.visit(t, e.hs.URL+p)
	}
	w.visit(t, e.hs.URL+"/findings/"+e.fps[0])
	body := w.text(t)
	for _, s := range []string{"<script>alert('name')</script>", `onerror=alert('policy')`, "<script>alert('url')</script>"} {
		if !strings.Contains(body, s) {
			t.Errorf("payload %q not shown as text", s)
		}
	}
	// The captured page sits in a sandboxed frame; its script must not have run there either.
	w.visit(t, e.hs.URL+"/evidence/"+e.page)
	fr := w.MustElement("iframe.sandboxed")
	if sb, _ := fr.Attribute("sandbox"); sb == nil || *sb != "" {
		t.Errorf("iframe sandbox attribute %v", sb)
	}
	_ = w.WaitIdle(time.Second)
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.dialogs) > 0 {
		t.Errorf("dialogs opened: %v", w.dialogs)
	}
	if len(w.foreign) > 0 {
		t.Errorf("requests to other hosts: %v", w.foreign)
	}
}

var screens = flag.Bool("screens", false, "save a full-page PNG of each main page under testdata/screens/")

// TestBrowserScreenshots renders each main page in zh-CN in Chromium and checks that no catalogue
// key is missing; with -screens it saves a full-page PNG of each under testdata/screens/ (ignored by
// git): go test ./web -run Screenshots -screens
func TestBrowserScreenshots(t *testing.T) {
	b := testChrome(t)
	e := newEnv(t)
	ctx := context.Background()
	// Some history, notes, checklist results, events and a dead letter so the pages have content.
	pat := e.login(accounts.RoleProsecutor)
	pat.postForm("/findings/"+e.fps[0]+"/transition", url.Values{"to": {"in_review"}, "note": {"开始评估"}})
	pat.postForm("/findings/"+e.fps[0]+"/notes", url.Values{"text": {"已在测试机上复现：首次启动即上传 IMEI。"}})
	for _, fp := range e.fps[4:12] {
		pat.postForm("/findings/"+fp+"/transition", url.Values{"to": {"in_review"}})
	}
	e.st.RecordChecklist(ctx, e.target, store.ChecklistEntry{Rule: manualRule(e), Result: ResultViolation, Note: "拒绝非必要权限后应用直接退出。",
		Evidence: []string{e.shot}, By: "ana", At: time.Now().UTC()})
	for i, k := range []string{"scan.started", "inspector.finished", "scan.finished"} {
		e.st.PublishEvent(ctx, store.Event{Kind: k, ScanID: "scan-demo-1", TargetID: e.target, Message: []string{"开始扫描", "apkinspect 完成：42 条观察", "扫描完成：3 条新线索"}[i]})
	}
	e.st.EnqueueJob(ctx, store.Job{ID: "scan-bad-1", TargetID: "gone.target", RequestedBy: "ana"})
	if msgs, err := e.st.ReadJobs(ctx, "w1", 1, -1); err == nil && len(msgs) == 1 {
		e.st.DeadLetter(ctx, msgs[0], errForScreens)
	}
	if err := e.srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := []struct{ user, name, path string }{
		{"", "login", "/login"},
		{"pat", "overview", "/"},
		{"pat", "findings", "/findings"},
		{"pat", "finding", "/findings/" + e.fps[0]},
		{"pat", "evidence", "/evidence/" + e.page},
		{"pat", "targets", "/targets"},
		{"pat", "target", "/targets/" + e.target},
		{"pat", "checklist", "/targets/" + e.target + "/checklist"},
		{"pat", "progress", "/progress"},
		{"alice", "dead", "/dead"},
		{"alice", "audit", "/audit"},
		{"alice", "users", "/users"},
	}
	pages := map[string]*watchedPage{}
	for _, s := range shots {
		w := pages[s.user]
		if w == nil {
			w = openPage(t, testChrome(t), e.hs.URL)
			if s.user != "" {
				browserLogin(t, w, e.hs.URL, s.user)
			}
			pages[s.user] = w
		}
		w.visit(t, e.hs.URL+s.path)
		if strings.Contains(w.text(t), "⟦") {
			t.Errorf("%s: a catalogue key is missing", s.path)
		}
		if !*screens {
			continue
		}
		png, err := w.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, s.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = b
}

type screensErr struct{}

func (screensErr) Error() string { return "目标不存在 / target gone.target not found" }

var errForScreens = screensErr{}
