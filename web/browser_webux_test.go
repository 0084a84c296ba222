package web

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// TestBrowserWebUX: in Chromium, a prosecutor records a manual checklist result with a screenshot
// and lands on the finding it became, the screenshot shown as a thumbnail; the findings list at
// 1366×768 wraps no date or badge and keeps its filter panel closed; at 390 px no page is wider
// than the screen (tables scroll in their box). With -screens it saves each page at both sizes
// under testdata/screens/ (name-1366.png, name-390.png).
func TestBrowserWebUX(t *testing.T) {
	b := testChrome(t)
	e := newEnv(t)
	ctx := context.Background()
	base := e.hs.URL

	// A HAR with the request behind a traffic finding, and a scan that read the app.
	har, err := e.ev.Put(strings.NewReader(testHAR), evidence.Meta{CapturedAt: time.Now().UTC(), Method: "browser_capture",
		Source: "https://example.com/", MediaType: "application/json", Note: "HAR 1.2 written by pilmon live capture"})
	if err != nil {
		t.Fatal(err)
	}
	v := e.cat.Violations()
	var trafficFP string
	for i := range 3 {
		r, err := e.st.Upsert(ctx, findings.Finding{TargetID: e.target, RuleID: v[i].ID, Subject: "pi:device_id_hw->ulogs.umeng.com", Severity: v[i].Severity,
			Tier: rules.TierFinding, Grade: rules.GradeObserved, Confidence: "high", LegalBasis: v[i].LegalBasis,
			Summary: rules.Text{ZH: "首次启动即向友盟发送 IMEI（测试）"}, Observations: []scanner.Observation{{Kind: "traffic.pi_sent", Subject: "device_id_hw -> ulogs.umeng.com",
				Attributes:   map[string]any{"pi": []any{"device_id_hw"}, "host": "ulogs.umeng.com", "entry_index": 1, "key": "imei", "location": "query", "sample": "860…01"},
				EvidenceRefs: []string{har.SHA256}}}}, "scan-ux")
		if err != nil {
			t.Fatal(err)
		}
		trafficFP = r.Fingerprint
	}
	if _, err := e.st.SaveScan(ctx, store.ScanRecord{ID: "20260301T000000Z-aaaaaaaaaaaa", TargetID: e.target, StartedAt: time.Now().Add(-time.Hour),
		FinishedAt: time.Now(), Status: scanner.StatusSucceeded, Complete: true,
		Runs: []store.InspectorRun{{Source: scanner.Source{Kind: scanner.SourceAPK, Locator: "/srv/x.apk"}, Inspector: "apkinspect"}},
		Identity: []scanner.Observation{
			{Kind: "apk.identity", Attributes: map[string]any{"package": "com.example.torch", "version_name": "2.1.0", "version_code": "21", "label": "超亮手电筒"}},
			{Kind: "apk.certificate", Attributes: map[string]any{"subject_dn": "CN=Example Torch, O=某某科技有限公司", "sha256": strings.Repeat("e", 64)}}}}); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}

	w := openPage(t, b, base)
	browserLogin(t, w, base, "pat")

	// The manual result, through the form.
	rule := manualRule(e)
	shot := filepath.Join(t.TempDir(), "拒绝权限后退出.png")
	if err := os.WriteFile(shot, pngBytes(t), 0o600); err != nil {
		t.Fatal(err)
	}
	w.visit(t, base+"/targets/"+e.target+"/checklist?mode=manual")
	form := w.MustElement(`tr[id="` + rule + `"] form`)
	form.MustElement(`select[name="result"]`).MustSelect(e.srv.langs.get(LangZH).T("c.res.violation"))
	form.MustElement(`textarea[name="note"]`).MustInput("测试机 Pixel 7 / Android 14：拒绝通讯录权限后应用直接退出。")
	form.MustElement(`input[type="file"]`).MustSetFiles(shot)
	wait := w.WaitNavigation(proto.PageLifecycleEventNameLoad)
	form.MustElement(`button[type="submit"]`).MustClick()
	wait()
	_ = w.WaitLoad()
	manualFP := findings.Fingerprint(e.target, rule, findings.ManualSubjectPrefix+rule)
	if !strings.HasSuffix(strings.SplitN(w.MustInfo().URL, "?", 2)[0], "/findings/"+manualFP) {
		t.Fatalf("after recording: %s: %s", w.MustInfo().URL, w.text(t))
	}
	// The thumbnail loads after the page's load event on a busy machine: wait for the image itself.
	if has, img, _ := w.Has(`figure.thumb img`); has {
		_ = img.WaitLoad()
	}
	if ok := w.MustEval(`() => { const i = document.querySelector('figure.thumb img'); return !!i && i.complete && i.naturalWidth > 0 }`).Bool(); !ok {
		t.Error("the finding page shows no loaded screenshot thumbnail")
	}
	if body := w.text(t); !strings.Contains(body, "拒绝权限后退出.png") || !strings.Contains(body, "运行时观察") {
		t.Error("the manual finding page lacks the file's name or its grade")
	}

	// The list at 1366×768: no date or badge on two lines, the filter panel closed.
	w.visit(t, base+"/findings")
	// A text on one line has one line box: a range over a text node has one client rect per line.
	wrapped := w.MustEval(`() => [...document.querySelectorAll('td.nw, .sev, .tier, .state, table.list th')].filter(x => {
		const tw = document.createTreeWalker(x, NodeFilter.SHOW_TEXT);
		for (let n = tw.nextNode(); n; n = tw.nextNode()) {
			const r = document.createRange(); r.selectNodeContents(n);
			if (new Set([...r.getClientRects()].map(q => Math.round(q.top))).size > 1) { return true; }
		}
		return false }).map(x => x.textContent)`).Arr()
	if len(wrapped) != 0 {
		t.Errorf("%d dates or badges wrap at 1366 px: %v", len(wrapped), wrapped)
	}
	if open := w.MustEval(`() => document.querySelector('details.filters-panel').open`).Bool(); open {
		t.Error("the filter panel is open by default")
	}

	shots := []struct{ name, path string }{
		{"findings", "/findings"},
		{"findings-filtered", "/findings?q=" + "友盟"},
		{"finding-manual", "/findings/" + manualFP},
		{"finding-traffic", "/findings/" + trafficFP},
		{"har", "/evidence/" + har.SHA256 + "/har?f=" + trafficFP},
		{"evidence", "/evidence/" + har.SHA256},
		{"checklist", "/targets/" + e.target + "/checklist"},
		{"targets", "/targets"},
		{"target", "/targets/" + e.target},
	}
	dir := filepath.Join("testdata", "screens")
	if *screens {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A fresh browser context for every few shots: each has a deadline of its own (testChrome),
	// which a dozen full-page captures on a busy machine would outlast.
	pages := []*watchedPage{w}
	for _, size := range []struct {
		w, h   int
		mobile bool
	}{{1366, 768, false}, {390, 844, true}} {
		for i, s := range shots {
			if i%3 == 0 {
				w = openPage(t, testChrome(t), base)
				browserLogin(t, w, base, "pat")
				pages = append(pages, w)
				if err := w.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: size.w, Height: size.h, DeviceScaleFactor: 1, Mobile: size.mobile}); err != nil {
					t.Fatal(err)
				}
			}
			w.visit(t, base+s.path)
			if strings.Contains(w.text(t), "⟦") {
				t.Errorf("%s: a catalogue key is missing", s.path)
			}
			if size.w == 390 {
				if over := w.MustEval(`() => document.documentElement.scrollWidth`).Int(); over > size.w+2 {
					t.Errorf("%s at 390 px is %d px wide", s.path, over)
				}
			}
			if !*screens {
				continue
			}
			png, err := w.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, s.name+"-"+strconv.Itoa(size.w)+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, w := range pages {
		if len(w.dialogs) > 0 || len(w.foreign) > 0 {
			t.Errorf("dialogs %v, foreign requests %v", w.dialogs, w.foreign)
		}
	}
}
