package web

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"

	"pilmon/casefile"
	"pilmon/cases"
	"pilmon/findings"
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

// TestBrowserCaseWorkflow walks a whole case in Chromium as a prosecutor clicks it: open a case
// from two findings selected on the list, record the 检察建议 with its document file, see the
// deadline on the overview and in the findings list's deadline column, get the warning on an
// early 未整改 and confirm it with a reason, run 整改复查 and read the per-finding outcome, record
// a manual checklist result 存在问题 with a screenshot and add the finding it became to the case,
// and download the case file: a zip with the PDF report, the manifest and the screenshot. Each
// step asserts what the page shows. With -screens every page is saved at 1366×768 and 390 px.
func TestBrowserCaseWorkflow(t *testing.T) {
	// The whole walk, with a case file printed by a second Chromium, outlasts testChrome's minute
	// on a loaded machine: go test's own -timeout guards it instead.
	b := testChrome(t).CancelTimeout()
	e := newEnv(t)
	ctx := context.Background()
	// The case file with its PDF, printed by a Chromium the export starts (a small case).
	e.srv.cfg.Export.(*testExporter).deps.SkipPDF = false
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
	caseURL := strings.SplitN(w.MustInfo().URL, "?", 2)[0] // without the flash message
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

	// The findings list: the case's findings, and only they, under 仅看已逾期/即将到期, with the
	// deadline's colour, date and case number in their row.
	w.visit(t, e.hs.URL+"/findings?deadline=attention")
	for _, fp := range []string{fpA, fpB} {
		row := w.MustElement(`tr:has(a[href="/findings/` + fp + `"]) td.deadline`)
		if txt := row.MustText(); !strings.Contains(txt, "即将到期") || !strings.Contains(txt, "京检行公建〔2026〕9号") {
			t.Errorf("deadline cell of %s: %q", fp, txt)
		}
	}
	if n := len(w.MustElements(`table.list tbody tr td.deadline`)); n != 2 {
		t.Errorf("仅看已逾期/即将到期 lists %d findings, want the case's 2", n)
	}
	shoot(t, w, "case-findings-deadline")

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

	// The analyst's manual result on the test phone: 存在问题 with a screenshot becomes a finding
	// (grade observed) shown with its thumbnail.
	rule := manualRule(e)
	png := pngBytes(t)
	shotFile := filepath.Join(t.TempDir(), "拒绝权限后退出.png")
	if err := os.WriteFile(shotFile, png, 0o600); err != nil {
		t.Fatal(err)
	}
	w.visit(t, e.hs.URL+"/targets/"+e.target+"/checklist?mode=manual")
	shoot(t, w, "case-checklist")
	row := w.MustElement(`tr[id="` + rule + `"] form`)
	row.MustElement(`select[name="result"]`).MustSelect(e.srv.langs.get(LangZH).T("c.res.violation"))
	row.MustElement(`textarea[name="note"]`).MustInput("测试机 Pixel 7 / Android 14：拒绝通讯录权限后应用直接退出。")
	row.MustElement(`input[type="file"]`).MustSetFiles(shotFile)
	wait = w.WaitNavigation(proto.PageLifecycleEventNameLoad)
	row.MustElement(`button[type="submit"]`).MustClick()
	wait()
	_ = w.WaitLoad()
	manualFP := findings.Fingerprint(e.target, rule, findings.ManualSubjectPrefix+rule)
	if !strings.HasSuffix(strings.SplitN(w.MustInfo().URL, "?", 2)[0], "/findings/"+manualFP) {
		t.Fatalf("after the manual result: on %s: %s", w.MustInfo().URL, w.text(t))
	}
	w.MustElement(`figure.thumb img`).MustWaitLoad()
	if !w.MustEval(`() => document.querySelector('figure.thumb img').naturalWidth > 0`).Bool() {
		t.Error("the manual finding shows no screenshot thumbnail")
	}
	if body := w.text(t); !strings.Contains(body, "拒绝权限后退出.png") || !strings.Contains(body, "运行时观察") {
		t.Error("the manual finding lacks its file's name or its grade")
	}
	shoot(t, w, "case-manual-finding")

	// It joins the case, with a reason, from the case page.
	w.visit(t, caseURL)
	w.MustElement(`form.join input[name="fp"]`).MustInput(manualFP)
	w.MustElement(`form.join input[name="reason"]`).MustInput("人工检测：拒绝权限后退出")
	submitIn(t, w, `form.join`)
	if c, _ := e.st.Case(ctx, id); !c.HasFinding(manualFP) || len(c.Findings) != 3 {
		t.Fatalf("the manual finding did not join: %+v", c.Findings)
	}
	if !strings.Contains(w.text(t), "人工检测：拒绝权限后退出") {
		t.Error("the case page does not list the joined finding with its reason")
	}

	// The case file, downloaded as a browser downloads it: a zip with the PDF report, the signed
	// manifest naming the case's three findings (untriaged ones too: a case's members are listed
	// by hand) and the screenshot as their evidence.
	w.visit(t, caseURL)
	shoot(t, w, "case-final")
	dir := t.TempDir()
	waitDL := b.WaitDownload(dir)
	w.MustElement(`.case-export form[action$="/export"] button`).MustClick()
	dl := waitDL()
	zb, err := os.ReadFile(filepath.Join(dir, dl.GUID))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(dl.SuggestedFilename, ".zip") {
		t.Errorf("download named %q", dl.SuggestedFilename)
	}
	zr, err := zip.NewReader(bytes.NewReader(zb), int64(len(zb)))
	if err != nil {
		t.Fatalf("the case file is not a zip: %v", err)
	}
	member := func(name string) []byte {
		f, err := zr.Open(name)
		if err != nil {
			t.Fatalf("case file lacks %s: %v", name, err)
		}
		defer f.Close()
		data, err := io.ReadAll(f)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if pdf := member("report.pdf"); !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Errorf("report.pdf is not a PDF: %q", pdf[:min(16, len(pdf))])
	}
	sum := sha256.Sum256(png)
	manifest := string(member(casefile.ManifestName))
	for _, want := range []string{hex.EncodeToString(sum[:]), fpA, fpB, manualFP} {
		if !strings.Contains(manifest, want) {
			t.Errorf("the manifest does not name %s", want)
		}
	}

	w.visit(t, e.hs.URL+"/cases")
	if !strings.Contains(w.text(t), "京检行公建〔2026〕9号") {
		t.Error("the case list lacks the case")
	}
	shoot(t, w, "cases")
	if strings.Contains(body, "⟦") {
		t.Error("a catalogue key is missing")
	}
	if len(w.dialogs) > 0 || len(w.foreign) > 0 {
		t.Errorf("dialogs %v, foreign requests %v", w.dialogs, w.foreign)
	}
}
