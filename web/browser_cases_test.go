package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"pilmon/cases"
	"pilmon/scanner"
	"pilmon/store"
)

// submitIn clicks the submit button of form and waits for the next page.
func submitIn(t *testing.T, w *watchedPage, form string) {
	t.Helper()
	wait := w.WaitNavigation(proto.PageLifecycleEventNameLoad)
	w.MustElement(form + ` button[type="submit"]`).MustClick()
	wait()
	_ = w.WaitLoad()
}

// shoot saves the page at 1366×768 and at 390 px wide under testdata/screens/ (with -screens).
func shoot(t *testing.T, w *watchedPage, name string) {
	t.Helper()
	if !*screens {
		return
	}
	dir := filepath.Join("testdata", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, vp := range []struct {
		suffix string
		w, h   int
	}{{"1366", 1366, 768}, {"390", 390, 844}} {
		_ = w.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: vp.w, Height: vp.h, DeviceScaleFactor: 1})
		png, err := w.Screenshot(true, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+vp.suffix+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = w.SetViewport(&proto.EmulationSetDeviceMetricsOverride{Width: 1366, Height: 900, DeviceScaleFactor: 1})
}

// TestBrowserCaseWorkflow walks a case in Chromium as a prosecutor clicks it: open a case from
// two findings selected on the list, record the 检察建议 with its document file, see the deadline
// on the overview, get the warning on an early 未整改 and confirm it with a reason, run 整改复查
// and read the per-finding outcome.
func TestBrowserCaseWorkflow(t *testing.T) {
	b := testChrome(t)
	e := newEnv(t)
	ctx := context.Background()
	fpA, fpB := e.fps[2], e.fps[3] // both of e.target (the seed gives every third finding to another)
	if _, err := e.st.SaveScan(ctx, store.ScanRecord{ID: "scan-base", TargetID: e.target, StartedAt: time.Now().Add(-time.Hour),
		FinishedAt: time.Now().Add(-time.Hour), Status: scanner.StatusSucceeded, Complete: true, Fingerprints: []string{fpA, fpB}}); err != nil {
		t.Fatal(err)
	}
	w := openPage(t, b, e.hs.URL)
	browserLogin(t, w, e.hs.URL, "pat")

	// Select two findings on the list and open a case from them.
	w.visit(t, e.hs.URL+"/findings?target="+e.target)
	for _, fp := range []string{fpA, fpB} {
		w.MustElement(`input[name="fp"][value="` + fp + `"]`).MustClick()
	}
	wait := w.WaitNavigation(proto.PageLifecycleEventNameLoad)
	w.MustElement(`button[name="action"][value="case"]`).MustClick()
	wait()
	_ = w.WaitLoad()
	if !strings.Contains(w.MustInfo().URL, "/cases/new?") {
		t.Fatalf("open case from findings: on %s", w.MustInfo().URL)
	}
	w.MustElement(`input[name="case_no"]`).MustInput("京检行公建〔2026〕9号")
	w.MustElement(`input[name="operator_uscc"]`).MustInput("91440300708461136T")
	w.MustElement(`input[name="agency_name"]`).MustInput("某市通信管理局")
	w.MustElement(`textarea[name="agency_duty_basis"]`).MustInput("个人信息保护法第六十条")
	shoot(t, w, "case-new")
	submitIn(t, w, "#newcase")
	caseURL := w.MustInfo().URL
	if !strings.Contains(caseURL, "/cases/case-") {
		t.Fatalf("after creating: on %s: %s", caseURL, w.text(t))
	}
	id := strings.TrimPrefix(strings.SplitN(caseURL, "?", 2)[0], e.hs.URL+"/cases/")

	// Record the 检察建议 with its document; the deadline falls 5 days from today.
	// MustInputTime types the date of the time in UTC: noon UTC is the same date in Beijing.
	docDate, err := time.Parse(time.DateOnly, docDateDueIn(t, 5))
	if err != nil {
		t.Fatal(err)
	}
	docDate = docDate.Add(12 * time.Hour)
	file := filepath.Join(t.TempDir(), "检察建议书.pdf")
	if err := os.WriteFile(file, []byte("%PDF-1.4 检察建议书（测试）"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.MustElement(`details.move:has(form.move-recommendation_issued) summary`).MustClick()
	form := `form.move-recommendation_issued`
	w.MustElement(form + ` input[name="number"]`).MustInput("京检行公建〔2026〕9号")
	w.MustElement(form + ` input[name="date"]`).MustInputTime(docDate)
	w.MustElement(form + ` input[name="file"]`).MustSetFiles(file)
	submitIn(t, w, form)
	body := w.text(t)
	for _, want := range []string{"检察建议书.pdf", "京检行公建〔2026〕9号", "即将到期", "剩余 5 天"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page after the 检察建议 lacks %q", want)
		}
	}
	shoot(t, w, "case")

	w.visit(t, e.hs.URL+"/")
	if has, _, _ := w.Has(`#attention a[href="/cases/` + id + `"]`); !has || !strings.Contains(w.text(t), "即将到期") {
		t.Error("the overview does not show the case's deadline")
	}
	shoot(t, w, "case-overview")

	// 未整改 five days early: warned, nothing recorded; confirmed with a reason, recorded.
	w.visit(t, caseURL)
	w.MustElement(`details.move:has(form.move-not_rectified) summary`).MustClick()
	submitIn(t, w, `form.move-not_rectified`)
	if has, _, _ := w.Has(`#early`); !has {
		t.Fatalf("no early warning: %s", w.text(t))
	}
	if c, _ := e.st.Case(ctx, id); c.State != cases.StateRecommendation {
		t.Fatalf("early step recorded without confirmation: %s", c.State)
	}
	shoot(t, w, "case-early")
	w.MustElement(`#early textarea[name="reason"]`).MustInput("被建议单位书面答复拒绝整改")
	w.MustElement(`#early input[name="confirm"]`).MustClick()
	submitIn(t, w, `#early form`)
	if c, _ := e.st.Case(ctx, id); c.State != cases.StateNotRectified {
		t.Fatalf("confirmed early step not recorded: %s", c.State)
	}
	if !strings.Contains(w.text(t), "期限前记录") {
		t.Error("the history does not mark the early step")
	}

	// 整改复查: queued from the page; when the scan's record exists, the outcome per finding.
	submitIn(t, w, `#recheck form`)
	c, _ := e.st.Case(ctx, id)
	if c.RecheckScan == "" {
		t.Fatal("整改复查 did not record its scan")
	}
	if _, err := e.st.SaveScan(ctx, store.ScanRecord{ID: c.RecheckScan, TargetID: e.target, StartedAt: time.Now(), FinishedAt: time.Now(),
		Status: scanner.StatusSucceeded, Complete: true, Fingerprints: []string{fpA}}); err != nil {
		t.Fatal(err)
	}
	w.visit(t, caseURL)
	body = w.text(t)
	if !strings.Contains(body, "仍存在 1 项，已消失 1 项，无法判断 0 项") {
		t.Errorf("recheck outcome missing: %s", body)
	}
	shoot(t, w, "case-recheck")
	w.visit(t, e.hs.URL+"/cases")
	shoot(t, w, "cases")
	if strings.Contains(body, "⟦") {
		t.Error("a catalogue key is missing")
	}
	if len(w.dialogs) > 0 || len(w.foreign) > 0 {
		t.Errorf("dialogs %v, foreign requests %v", w.dialogs, w.foreign)
	}
}
