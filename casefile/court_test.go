package casefile

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// courtCase is the case the court-report tests export.
func courtCase() *CaseInfo {
	return &CaseInfo{ReportNo: "PILMON-2025-0007", CaseNo: "京检公益〔2025〕12号", Type: "administrative",
		Procuratorate: "北京市示例区人民检察院", Handlers: []string{"王检察官"}, Analysts: []string{"李分析员"},
		Operator: Party{Name: "示例科技有限公司", USCC: "91110000MA00000000", Address: "北京市示例区示例路1号"},
		Agency:   Agency{Name: "北京市示例区通信管理局", LegalBasis: "《中华人民共和国个人信息保护法》第六十条"},
		Scale:    []ScaleFact{{Label: "下载量", Value: "约1200万次", Source: "应用商店页面"}},
		Documents: []Document{{Kind: "检察建议书", Number: "京示检行公建〔2025〕3号", Date: time.Date(2025, 6, 3, 0, 0, 0, 0, beijing), SHA256: strings.Repeat("ab", 32)},
			{Kind: "回复函", Number: "京示通函〔2025〕9号", Date: time.Date(2025, 7, 20, 0, 0, 0, 0, beijing)}},
		Deadlines:   []Deadline{{Kind: "检察建议回复期限", Due: time.Date(2025, 8, 3, 0, 0, 0, 0, beijing), Status: "due_soon", DocumentNo: "京示检行公建〔2025〕3号"}},
		Environment: TestEnvironment{OSVersion: "Android 13"}}
}

// courtFixture adds to the fixture: the scan's context observations, an established finding with
// the screenshot, and two findings of the target the export must leave out (one dismissed, one
// untriaged).
func courtFixture(t *testing.T) (*fixture, Deps, []string) {
	fx := newFixture(t)
	d := fx.deps(false)
	d.Case = courtCase()
	d.Observations = []scanner.Observation{
		{Kind: "apk.identity", Subject: "com.example.ride", Attributes: map[string]any{"package": "com.example.ride", "version_name": "5.2.1", "version_code": "521", "label": "示例出行"}, EvidenceRefs: []string{fx.refs["apk"]}},
		{Kind: "apk.certificate", Subject: "c0ffee", Attributes: map[string]any{"subject_dn": "CN=Example Ride, O=示例科技", "sha256": strings.Repeat("c0", 32)}},
		{Kind: "runtime.session", Subject: "pilmon:com.example.ride", Attributes: map[string]any{"format": "pilmon", "device": "Pixel 6a", "script": "pilmon-hooks 1.2"}},
	}
	// Everything that needs a traffic capture could not be decided by the scan.
	d.Coverage = &Coverage{ScanID: "scan-0002", NotAssessed: []findings.NotAssessed{
		{RuleID: "rdff-5.1", Reason: rules.Text{ZH: "本次扫描未提供抓包", EN: "no traffic capture"}}}}
	// The tracker finding is established (observed in traffic), its request in the capture.
	for fp, f := range fx.store.fs {
		if f.TargetID == "app-demo" && f.RuleID == "rdff-3.1" {
			f.Tier, f.Grade = rules.TierFinding, rules.GradeObserved
			f.Observations = []scanner.Observation{{Kind: "traffic.pi_sent", Subject: "device_id -> tracker.example", EvidenceRefs: []string{fx.refs["har"]},
				Attributes: map[string]any{"pi": []any{"device_id"}, "host": "tracker.example", "location": "query", "key": "imei",
					"url": "https://tracker.example/collect?imei=860000000000001&x=<script>", "sample": "860…01", "entry_index": 0,
					"entry_time": "2025-05-20T02:03:00Z", "known_value": true}}}
			fx.store.fs[fp] = f
		}
	}
	// A phone-sized screenshot beside the fixture's small one: the report prints a reduced copy.
	big, err := fx.ev.Put(bytes.NewReader(phoneShot(t)), evidence.Meta{CapturedAt: fixedNow.Add(-time.Hour), Method: "browser_screenshot",
		Source: "https://example.cn/h5", Tool: "pilmon 0.1.0-test", MediaType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	fx.refs["bigshot"] = big.SHA256
	for fp, f := range fx.store.fs {
		if f.TargetID == "app-demo" && f.RuleID == "rdff-3.1" {
			f.EvidenceRefs = append(f.EvidenceRefs, big.SHA256)
			fx.store.fs[fp] = f
		}
	}
	var excluded []string
	for _, c := range []struct {
		subject string
		state   findings.State
	}{{"dismissed.example", findings.StateDismissed}, {"untriaged.example", findings.StateNew}} {
		f := fx.store.fs[fx.fps[0]]
		f.Subject, f.RuleID, f.State = c.subject, "rdff-6.5", c.state
		f.Fingerprint = findings.Fingerprint("app-demo", f.RuleID, c.subject)
		fx.store.fs[f.Fingerprint] = f
		excluded = append(excluded, c.subject)
	}
	return fx, d, excluded
}

var (
	utcStamp   = regexp.MustCompile(`\d{2}:\d{2}(:\d{2})?(\.\d+)?Z|UTC(?:[^+]|$)`)
	serverPath = regexp.MustCompile(`(^|[\s(（"'=])/(tmp|var|home|root|cases|data|srv|opt|work|usr)/`)
	pageFooter = regexp.MustCompile(`第(\d+)页共(\d+)页`)
)

// TestCourtReport prints the report of a case and reads it back with poppler: the cover fields,
// all 31 认定方法 items in the summary table, Beijing time only, no server path, the excluded
// findings absent, the screenshot as an image, "第 X 页 共 Y 页" on every page and a contents page
// whose numbers are the pages the headings are on.
func TestCourtReport(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	pdfimages := needTool(t, "pdfimages", "poppler-utils")
	b := newBrowser(t)
	fx, d, excluded := courtFixture(t)
	d.Browser = b
	bundle := fx.export(t, d)
	if rep := verifyBytes(t, bundle, VerifyOptions{}); !rep.OK {
		t.Fatalf("bundle:\n%s", rep)
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(pdfPath, member(t, bundle, ReportName), 0o644); err != nil {
		t.Fatal(err)
	}
	if keep := os.Getenv("CASEFILE_KEEP_PDF"); keep != "" {
		os.WriteFile(keep, member(t, bundle, ReportName), 0o644)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", pdfPath, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	flat := spaces.ReplaceAllString(text, "")
	c := courtCase()
	for _, want := range []string{c.ReportNo, c.CaseNo, c.Procuratorate, "行政公益诉讼", "王检察官", "李分析员", c.Operator.USCC,
		c.Operator.Address, "com.example.ride", "5.2.1", "521", fx.refs["apk"], fx.recordSM3(t, fx.refs["apk"]),
		"CN=ExampleRide,O=示例科技", strings.Repeat("c0", 32), "本地文件（上传）示例出行-5.2.1.apk", "Pixel6a", "Android13",
		"pilmon0.1.0-test", "北京时间", "违法事实汇总表", "京示检行公建〔2025〕3号", "京示通函〔2025〕9号", "即将到期",
		"北京市示例区通信管理局", "约1200万次", "待核实：需在测试机上确认", "请求摘录", "imei=860000000000001&x=<script>"} {
		if !strings.Contains(flat, spaces.ReplaceAllString(want, "")) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	// All 31 items, each with its title.
	n := 0
	for _, v := range fx.cat.Violations() {
		if m := rdffItemID.FindStringSubmatch(v.ID); m != nil && v.ID == "rdff-"+m[1] {
			n++
			// Titles wrap inside their cell; the table's text comes out cell by cell.
			if head := []rune(spaces.ReplaceAllString(v.Title.ZH, "")); !strings.Contains(flat, string(head[:min(10, len(head))])) {
				t.Errorf("summary table lacks item %s %s", m[1], v.Title.ZH)
			}
		}
	}
	if n != 31 {
		t.Errorf("%d 认定方法 items in the catalogue, want 31", n)
	}
	for _, mark := range []string{"不符合", "符合", "未检测", "本次扫描未提供抓包"} {
		if !strings.Contains(flat, mark) {
			t.Errorf("summary table has no %q", mark)
		}
	}
	if m := utcStamp.FindString(text); m != "" {
		t.Errorf("UTC timestamp %q in the report", m)
	}
	if m := serverPath.FindString(text); m != "" {
		t.Errorf("server path %q in the report", m)
	}
	if strings.Contains(text, fx.evDir) || strings.Contains(text, os.TempDir()+"/") {
		t.Error("the evidence directory or the temporary directory is named in the report")
	}
	for _, s := range excluded {
		if strings.Contains(text, s) {
			t.Errorf("excluded finding %s is in the report", s)
		}
	}
	for _, english := range []string{"traffic.pi_sent", "apk.permission", "file_import", "har_import", "http_fetch"} {
		if strings.Contains(text, english) {
			t.Errorf("identifier %q in the Chinese report", english)
		}
	}
	imgs, err := exec.Command(pdfimages, "-list", pdfPath).Output()
	if err != nil {
		t.Fatalf("pdfimages: %v", err)
	}
	// The fixture's screenshot is 240×160; pdfimages lists it with its size. The phone-sized one
	// is printed as a copy reduced to its box at shotDPI, captioned with the original's hash.
	if !regexp.MustCompile(`(?m)^\s*\d+\s+\d+\s+image\s+240\s+160\b`).Match(imgs) {
		t.Errorf("no 240×160 screenshot among the PDF's images:\n%s", imgs)
	}
	_, _, pw, ph := shotLayout(1080, 2400)
	if pw >= 1080 || !regexp.MustCompile(fmt.Sprintf(`(?m)^\s*\d+\s+\d+\s+image\s+%d\s+%d\b`, pw, ph)).Match(imgs) {
		t.Errorf("no %d×%d reduced copy of the 1080×2400 screenshot among the PDF's images:\n%s", pw, ph, imgs)
	}
	for _, want := range []string{"原件（240×160像素），SHA-256：" + fx.refs["shot"],
		fmt.Sprintf("为便于打印缩小的副本（%d×%d像素；原件1080×2400像素，在证据包中），原件SHA-256：%s", pw, ph, fx.refs["bigshot"])} {
		if !strings.Contains(flat, want) {
			t.Errorf("PDF text lacks the screenshot caption %q", want)
		}
	}
	if !bytes.Equal(member(t, bundle, EvidenceDir+fx.refs["bigshot"]+".png"), phoneShot(t)) {
		t.Error("the bundle does not hold the original screenshot byte for byte")
	}

	// Page numbers: every page carries "第 X 页 共 Y 页" with X its own number.
	pages := strings.Split(text, "\f")
	if len(pages) > 0 && strings.TrimSpace(pages[len(pages)-1]) == "" {
		pages = pages[:len(pages)-1]
	}
	for i, p := range pages {
		m := pageFooter.FindStringSubmatch(spaces.ReplaceAllString(p, ""))
		if m == nil || m[1] != strconv.Itoa(i+1) || m[2] != strconv.Itoa(len(pages)) {
			t.Errorf("page %d footer %v, want 第%d页共%d页", i+1, m, i+1, len(pages))
		}
	}
	// Contents: each section heading's number is the page that holds that heading.
	toc := -1
	for i, p := range pages {
		if strings.Contains(p, "目录") && strings.Contains(p, "一、违法事实汇总表") {
			toc = i
			break
		}
	}
	if toc < 0 {
		t.Fatal("no contents page")
	}
	tocText, err := exec.Command(pdftotext, "-enc", "UTF-8", "-layout", "-f", strconv.Itoa(toc+1), "-l", strconv.Itoa(toc+1), pdfPath, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, h := range []string{"一、违法事实汇总表", "案件信息", "二、发现概要", "三、发现详情", "四、保管链与证据清单", "五、校验说明"} {
		m := regexp.MustCompile(regexp.QuoteMeta(h) + `\s*(\d+)`).FindStringSubmatch(string(tocText))
		if m == nil {
			t.Errorf("contents line for %s has no page number", h)
			continue
		}
		p, _ := strconv.Atoi(m[1])
		if p < 1 || p > len(pages) || !strings.Contains(pages[p-1], h) || p-1 == toc {
			t.Errorf("contents says %s is on page %d, which does not hold it", h, p)
			continue
		}
		checked++
	}
	if checked == 0 {
		t.Error("no contents entry checked")
	}
}

// TestSummaryTableMarks: 不符合 needs an established finding; a lead alone, a manual item, an item
// the scan could not assess, an item with records left out, and any item without coverage are
// 未检测; 符合 only for an assessed automated item with nothing behind it.
func TestSummaryTableMarks(t *testing.T) {
	fx, d, _ := courtFixture(t)
	marks := func(d Deps, sel Selection) map[string]string {
		items, excl, err := resolve(context.Background(), d.Findings, sel)
		if err != nil {
			t.Fatal(err)
		}
		j := &job{items: items, target: fx.target, ev: d.Evidence, cat: d.Catalogue, opts: d.Options, excluded: excl}
		if err := j.prepare(); err != nil {
			t.Fatal(err)
		}
		rows, arts := j.summaryTable(j.reportData(""))
		out := map[string]string{}
		for _, r := range rows {
			out[r.Ref] = r.MarkKey
		}
		for _, r := range arts {
			out["pipl:"+strings.TrimSuffix(strings.TrimPrefix(r.Ref, "《中华人民共和国个人信息保护法》第"), "条")] = r.MarkKey
		}
		return out
	}
	got := marks(d, Selection{TargetID: "app-demo"})
	want := map[string]string{
		"3.1":     markBreach,   // the established tracker finding
		"1.1":     markUntested, // a lead only
		"1.2":     markUntested, // manual
		"5.1":     markUntested, // needs traffic: not assessed
		"6.5":     markUntested, // records of it were left out (dismissed, untriaged)
		"3.8":     markComplies, // assessed (needs a policy), nothing fired, nothing left out
		"pipl:13": markBreach,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("item %s marked %q, want %q", k, got[k], w)
		}
	}
	// Without coverage nothing is 符合.
	d.Coverage = nil
	for k, m := range marks(d, Selection{TargetID: "app-demo"}) {
		if m == markComplies {
			t.Errorf("item %s marked 符合 without coverage", k)
		}
	}
}

// TestSelectionStates: a target's dismissed and untriaged findings are left out unless asked for;
// a finding listed by fingerprint is kept whatever its state.
func TestSelectionStates(t *testing.T) {
	fx, _, _ := courtFixture(t)
	subjects := func(sel Selection) map[string]bool {
		items, _, err := resolve(context.Background(), fx.store, sel)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, it := range items {
			out[it.f.Subject] = true
		}
		return out
	}
	def := subjects(Selection{TargetID: "app-demo"})
	if def["dismissed.example"] || def["untriaged.example"] || !def["tracker.example"] {
		t.Errorf("default selection %v", def)
	}
	all := subjects(Selection{TargetID: "app-demo", IncludeDismissed: true, IncludeUntriaged: true})
	if !all["dismissed.example"] || !all["untriaged.example"] {
		t.Errorf("selection asking for all states %v", all)
	}
	listed := subjects(Selection{TargetID: "app-demo", Fingerprints: []string{findings.Fingerprint("app-demo", "rdff-6.5", "dismissed.example")}})
	if !listed["dismissed.example"] || listed["untriaged.example"] {
		t.Errorf("listed fingerprint %v", listed)
	}
}

// TestRecommendationDOCX writes the draft 检察建议书, checks its parts are well-formed XML holding
// the case facts, and, where LibreOffice is installed, converts it to PDF and reads the Chinese
// facts back with pdftotext.
func TestRecommendationDOCX(t *testing.T) {
	fx, d, excluded := courtFixture(t)
	d.SkipPDF = true
	var buf bytes.Buffer
	if err := ExportRecommendation(context.Background(), &buf, Selection{TargetID: "app-demo"}, d); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var doc string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		dec := xml.NewDecoder(bytes.NewReader(b))
		for {
			if _, err := dec.Token(); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Errorf("%s is not well-formed XML: %v", f.Name, err)
				}
				break
			}
		}
		if f.Name == "word/document.xml" {
			doc = string(b)
		}
	}
	c := courtCase()
	v, _ := fx.cat.Violation("rdff-3.1")
	facts := []string{"检察建议书", c.Procuratorate, c.Agency.Name, c.Operator.Name, c.Operator.USCC, v.Title.ZH, "《中华人民共和国个人信息保护法》第13条", "两个月内"}
	for _, want := range facts {
		if !strings.Contains(doc, want) {
			t.Errorf("document.xml lacks %q", want)
		}
	}
	for _, s := range excluded {
		if strings.Contains(doc, s) {
			t.Errorf("excluded finding %s in the draft", s)
		}
	}
	// The draft is in the bundle too.
	d.SkipPDF = true
	if b := member(t, fx.export(t, d), DraftName); !bytes.HasPrefix(b, []byte("PK")) {
		t.Error("bundle draft is not a zip")
	}

	soffice, err := exec.LookPath("soffice")
	if err != nil {
		if soffice, err = exec.LookPath("libreoffice"); err != nil {
			t.Skip("LibreOffice not installed (Debian: libreoffice-writer-nogui): the conversion is not checked")
		}
	}
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	dir := t.TempDir()
	in := filepath.Join(dir, "draft.docx")
	os.WriteFile(in, buf.Bytes(), 0o644)
	cmd := exec.Command(soffice, "--headless", "--norestore", "-env:UserInstallation=file://"+filepath.Join(dir, "profile"), "--convert-to", "pdf", "--outdir", dir, in)
	cmd.Env = append(os.Environ(), "HOME="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("libreoffice: %v\n%s", err, out)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", filepath.Join(dir, "draft.pdf"), "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	flat := spaces.ReplaceAllString(string(out), "")
	for _, want := range facts {
		if !strings.Contains(flat, spaces.ReplaceAllString(want, "")) {
			t.Errorf("LibreOffice's PDF of the draft lacks %q", want)
		}
	}
}

// TestCaseInfoLimits: an oversized case is refused naming the field.
func TestCaseInfoLimits(t *testing.T) {
	fx, d, _ := courtFixture(t)
	d.SkipPDF = true
	d.Case.CaseNo = strings.Repeat("号", maxCaseField*4+1)
	var buf bytes.Buffer
	if _, err := Export(context.Background(), &buf, Selection{TargetID: "app-demo"}, d); err == nil || !strings.Contains(err.Error(), "case_no") {
		t.Errorf("oversized case number: %v", err)
	}
	d.Case = courtCase()
	d.Case.Documents = make([]Document, maxCaseDocs+1)
	if _, err := Export(context.Background(), &buf, Selection{TargetID: "app-demo"}, d); err == nil || !strings.Contains(err.Error(), "documents") {
		t.Errorf("too many documents: %v", err)
	}
	_ = fx
}

// TestDisplaySource: a URL is kept, a path keeps only its file name.
func TestDisplaySource(t *testing.T) {
	for in, want := range map[string]string{
		"https://example.cn/a.apk":         "https://example.cn/a.apk",
		"/var/lib/pilmon/uploads/x/示例.apk": "本地文件 示例.apk",
		`C:\Users\li\Desktop\a.har`:        "本地文件 a.har",
		"/":                                "本地文件",
		"":                                 "",
	} {
		if got := displaySource(in, "zh"); got != want {
			t.Errorf("displaySource(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCourtXLSX: sheet 通报 has the MIIT notice columns and one row for the app with only the
// established findings' titles as 所涉问题; sheet 发现 fills 期限 and 文书编号 from the case, and
// leaves them empty without one.
func TestCourtXLSX(t *testing.T) {
	fx, d, _ := courtFixture(t)
	d.SkipPDF = true
	rowsOf := func(d Deps, sheet string) [][]string {
		x, err := excelize.OpenReader(bytes.NewReader(member(t, fx.export(t, d), SheetName)))
		if err != nil {
			t.Fatal(err)
		}
		defer x.Close()
		if x.GetSheetList()[0] != SheetNotice {
			t.Errorf("first sheet %v, want %s", x.GetSheetList(), SheetNotice)
		}
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		return rows
	}
	notice := rowsOf(d, SheetNotice)
	if !slices.Equal(notice[0], []string{"序号", "应用名称", "应用开发者", "应用来源", "应用版本", "所涉问题"}) || len(notice) != 2 {
		t.Fatalf("notice sheet %v", notice)
	}
	established, _ := fx.cat.Violation("rdff-3.1")
	lead, _ := fx.cat.Violation("rdff-2.1")
	r := notice[1]
	if r[0] != "1" || r[1] != "示例出行" || r[2] != "示例科技有限公司" || !strings.Contains(r[3], "示例出行-5.2.1.apk") || r[4] != "5.2.1" ||
		!strings.Contains(r[5], established.Title.ZH) || strings.Contains(r[5], lead.Title.ZH) || !strings.Contains(r[5], "待核实线索 2 条") {
		t.Errorf("notice row %q", r)
	}
	col := func(rows [][]string, name string) int {
		return slices.IndexFunc(rows[0], func(h string) bool { return strings.HasPrefix(h, name) })
	}
	full := rowsOf(d, SheetFindings)
	dl, dn := col(full, "期限"), col(full, "文书编号")
	if dl < 0 || dn < 0 {
		t.Fatalf("findings sheet header %v", full[0])
	}
	for _, row := range full[1:] {
		if len(row) <= dn || !strings.Contains(row[dl], "检察建议回复期限 2025-08-03（即将到期）") || !strings.Contains(row[dn], "京示检行公建〔2025〕3号") {
			t.Errorf("finding row without the case's deadline and document: %q", row)
		}
	}
	d.Case = nil
	for _, row := range rowsOf(d, SheetFindings)[1:] {
		if len(row) > dl && (row[dl] != "" || len(row) > dn && row[dn] != "") {
			t.Errorf("deadline or document without a case: %q", row)
		}
	}
}

// TestCoverProvenance: with an apk.provenance observation the cover says where and when the APK
// was downloaded (in Beijing time, with the TLS chain); without one, the local file and its
// upload time.
func TestCoverProvenance(t *testing.T) {
	fx, d, _ := courtFixture(t)
	cover := func(d Deps) coverView {
		items, excl, err := resolve(context.Background(), d.Findings, Selection{TargetID: "app-demo"})
		if err != nil {
			t.Fatal(err)
		}
		j := &job{items: items, target: fx.target, ev: d.Evidence, cat: d.Catalogue, opts: d.Options, excluded: excl}
		if err := j.prepare(); err != nil {
			t.Fatal(err)
		}
		return j.cover("Chromium/120.0")
	}
	local := cover(d)
	if local.App.Obtained != "本地文件（上传） 示例出行-5.2.1.apk" || local.App.ObtainedAt != "2025-05-20 18:00:00 北京时间" || local.App.TLS != "" {
		t.Errorf("local APK: %+v", local.App)
	}
	if !slices.Contains(local.Env.Tools, "Chromium/120.0") || local.Env.Device != "Pixel 6a" || local.Env.OS != "Android 13" {
		t.Errorf("environment %+v", local.Env)
	}
	d.Observations = append(d.Observations, scanner.Observation{Kind: "apk.provenance", Subject: "https://dl.example.cn/ride.apk",
		Attributes: map[string]any{"url": "https://dl.example.cn/ride.apk", "final_url": "https://cdn.example.cn/ride-5.2.1.apk",
			"fetched_at": "2025-05-20T02:00:00Z", "tls_chain": []any{"CN=cdn.example.cn", "CN=Example CA"}}})
	dl := cover(d)
	if dl.App.Obtained != "https://dl.example.cn/ride.apk" || dl.App.FinalURL != "https://cdn.example.cn/ride-5.2.1.apk" ||
		dl.App.ObtainedAt != "2025-05-20 10:00:00 北京时间" || dl.App.TLS != "CN=cdn.example.cn\nCN=Example CA" {
		t.Errorf("downloaded APK: %+v", dl.App)
	}
}

// TestExcerpts: the value under the matched key is marked in the URL; elsewhere the masked sample
// is shown after its key; captured text is escaped in the report's HTML.
func TestExcerpts(t *testing.T) {
	fx, d, _ := courtFixture(t)
	j := &job{cat: fx.cat, opts: d.Options}
	j.opts.Lang = "zh"
	obs := func(attrs map[string]any) []scanner.Observation {
		return []scanner.Observation{{Kind: "traffic.pi_sent", Attributes: attrs}}
	}
	e := j.excerpts(obs(map[string]any{"host": "t.example", "location": "query", "key": "imei", "url": "https://t.example/c?aimei=1&imei=8600&z=<b>"}))
	if len(e) != 1 || e[0].Before != "https://t.example/c?aimei=1&imei=" || e[0].Match != "8600" || e[0].After != "&z=<b>" {
		t.Errorf("query excerpt %+v", e)
	}
	e = j.excerpts(obs(map[string]any{"host": "t.example", "location": "header", "key": "X-Dev", "url": "https://t.example/c", "sample": "860…01"}))
	if len(e) != 1 || e[0].Match != "860…01" || !strings.Contains(e[0].Before, "X-Dev") {
		t.Errorf("header excerpt %+v", e)
	}
	if e := j.excerpts([]scanner.Observation{{Kind: "apk.permission", Attributes: map[string]any{"url": "x"}}}); len(e) != 0 {
		t.Errorf("excerpt from a non-traffic observation: %+v", e)
	}
	items, excl, err := resolve(context.Background(), d.Findings, Selection{TargetID: "app-demo"})
	if err != nil {
		t.Fatal(err)
	}
	jj := &job{items: items, target: fx.target, ev: d.Evidence, cat: d.Catalogue, opts: d.Options, excluded: excl}
	if err := jj.prepare(); err != nil {
		t.Fatal(err)
	}
	html, err := renderHTML(jj.reportData(""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "<mark>860000000000001</mark>&amp;x=&lt;script&gt;") || strings.Contains(html, "x=<script>") {
		t.Error("the request excerpt is not marked and escaped in the report's HTML")
	}
}
