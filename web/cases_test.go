package web

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/cases"
	"pilmon/evidence"
	"pilmon/scanner"
	"pilmon/store"
)

// caseForm is a valid administrative case for the seeded target, with the given findings.
func (e *env) caseForm(fps ...string) url.Values {
	return url.Values{"case_no": {"京检行公建〔2026〕7号"}, "type": {"administrative"}, "handler": {"王检察官"},
		"operator_name": {"某某科技有限公司"}, "operator_uscc": {"91440300708461136T"}, "agency_name": {"某市通信管理局"},
		"agency_duty_basis": {"个人信息保护法第六十条"}, "lead_source": {"大数据法律监督模型"}, "downloads": {"1200000"},
		"scale_source": {"应用商店页面"}, "target": {e.target}, "fp": fps, "reason": {"同一运营者"}}
}

// postMultipart posts fields (the CSRF token first, as the server requires) and an optional file.
func (c *client) postMultipart(path string, fields map[string]string, fileName string, content []byte) (*http.Response, string) {
	c.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("_csrf", c.csrf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if content != nil {
		fw, _ := mw.CreateFormFile("file", fileName)
		fw.Write(content)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// docDateDueIn returns a 检察建议 date whose two-month reply deadline is days from today
// (Beijing), found with the cases package's own arithmetic.
func docDateDueIn(t *testing.T, days int) string {
	t.Helper()
	now := time.Now()
	for back := 0; back < 120; back++ {
		d := now.In(cases.Beijing).AddDate(0, 0, -back).Format(time.DateOnly)
		c := cases.Case{State: cases.StateRecommendation, Documents: []cases.Document{{Step: cases.StateRecommendation, Date: d}}}
		if ds := c.Deadlines(cases.DefaultPolicy, now); len(ds) == 1 && ds[0].DaysLeft(now) == days {
			return d
		}
	}
	t.Fatalf("no document date puts the deadline %d days ahead", days)
	return ""
}

// TestCaseWorkflow walks a case as a prosecutor on the pages: open it from findings (the list's
// bulk form), record the 检察建议 with its document, see the deadline on the overview, be warned
// on an early 未整改, remove and add findings with reasons, run 整改复查 and read its outcome.
func TestCaseWorkflow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pat := e.login(accounts.RoleProsecutor)
	fpA, fpB, fpC := e.fps[2], e.fps[4], e.fps[5]

	// The bulk form's "open a case" sends the selection to the case form.
	pat.get("/findings")
	res := pat.postForm("/findings/bulk", url.Values{"fp": {fpA, fpB}, "action": {"case"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/cases/new?") ||
		!strings.Contains(res.Header.Get("Location"), fpA) {
		t.Fatalf("bulk open case: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res, body := pat.get(res.Header.Get("Location")); res.StatusCode != http.StatusOK || !strings.Contains(body, fpA) || !strings.Contains(body, fpB) {
		t.Fatalf("case form: %d", res.StatusCode)
	}
	// A mistyped 统一社会信用代码 is refused with the reason, the form kept.
	bad := e.caseForm(fpA, fpB)
	bad.Set("operator_uscc", "91440300708461136X")
	if res := pat.postForm("/cases", bad); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad USCC: %d", res.StatusCode)
	}
	// The baseline: the target's newest scan raised fpA and fpB.
	base := store.ScanRecord{ID: "scan-base", TargetID: e.target, StartedAt: time.Now().Add(-time.Hour), FinishedAt: time.Now().Add(-time.Hour),
		Status: scanner.StatusSucceeded, Complete: true, Fingerprints: []string{fpA, fpB}}
	if _, err := e.st.SaveScan(ctx, base); err != nil {
		t.Fatal(err)
	}
	res = pat.postForm("/cases", e.caseForm(fpA, fpB))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", res.StatusCode)
	}
	casePath, _, _ := strings.Cut(res.Header.Get("Location"), "?")
	id := strings.TrimPrefix(casePath, "/cases/")
	_, body := pat.get(casePath)
	for _, want := range []string{"京检行公建〔2026〕7号", "91440300708461136T", "某市通信管理局", "行政公益诉讼"} {
		if !strings.Contains(body, want) {
			t.Errorf("case page lacks %q", want)
		}
	}
	// The case file and the draft: the case page offers both; the zip holds the case's findings
	// only, the DOCX is a DOCX; a viewer may not export.
	if !strings.Contains(body, casePath+"/export") || !strings.Contains(body, casePath+"/draft") {
		t.Error("the case page offers no case export")
	}
	if res, zipBody := pat.postBody(casePath+"/export", url.Values{}); res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" ||
		!strings.HasPrefix(zipBody, "PK") {
		t.Errorf("case export: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	} else if !strings.Contains(res.Header.Get("Content-Disposition"), url.PathEscape("京检行公建〔2026〕7号")) {
		t.Errorf("case export file name: %s", res.Header.Get("Content-Disposition"))
	}
	if res, docx := pat.postBody(casePath+"/draft", url.Values{}); res.StatusCode != http.StatusOK || !strings.HasPrefix(docx, "PK") ||
		!strings.Contains(res.Header.Get("Content-Type"), "wordprocessingml") {
		t.Errorf("draft: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	viewer := e.login(accounts.RoleViewer)
	viewer.get(casePath)
	if res := viewer.postForm(casePath+"/export", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer case export: %d", res.StatusCode)
	}

	// Prosecutors search by the numbers they file under: the case number finds the case's
	// findings and no other.
	if _, list := pat.get("/findings?q=" + url.QueryEscape("〔2026〕7号")); !strings.Contains(list, fpA) || !strings.Contains(list, fpB) || strings.Contains(list, fpC) {
		t.Error("a search by the case number does not list exactly the case's findings")
	}

	// The facts can be corrected on the page; a bad code is refused there too.
	edit := e.caseForm()
	edit.Set("operator_address", "深圳市南山区科技园")
	if res := pat.postForm(casePath+"/edit", edit); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit: %d", res.StatusCode)
	}
	edit.Set("operator_uscc", "91440300708461136X")
	if res := pat.postForm(casePath+"/edit", edit); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("edit with a bad code: %d", res.StatusCode)
	}
	if c, _ := e.st.Case(ctx, id); c.Operator.Address != "深圳市南山区科技园" || c.Operator.USCC != "91440300708461136T" {
		t.Fatalf("after edits: %+v", c.Operator)
	}

	// 检察建议 with its document; the deadline falls 5 days from today.
	docDate := docDateDueIn(t, 5)
	doc := []byte("%PDF-1.4 检察建议书")
	res, _ = pat.postMultipart(casePath+"/move", map[string]string{"to": "recommendation_issued", "number": "京检行公建〔2026〕7号", "date": docDate}, "检察建议书.pdf", doc)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("record recommendation: %d", res.StatusCode)
	}
	c, err := e.st.Case(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := c.DocumentFor(cases.StateRecommendation)
	if !ok || d.SHA256 == "" || d.SM3 == "" || d.FileName != "检察建议书.pdf" || c.BaselineScan != "scan-base" {
		t.Fatalf("register: %+v, baseline %q", d, c.BaselineScan)
	}
	if _, err := e.ev.Stat(d.SHA256); err != nil {
		t.Fatalf("document not in the evidence store: %v", err)
	}
	_, body = pat.get(casePath)
	if !strings.Contains(body, `dl dl-due_soon`) || !strings.Contains(body, "即将到期") {
		t.Error("case page does not show the deadline as due soon")
	}
	_, body = pat.get("/")
	if !strings.Contains(body, `href="/cases/`+id+`"`) || !strings.Contains(body, "即将到期") {
		t.Error("overview does not list the case needing attention")
	}

	// 未整改 before the deadline: a warning, nothing recorded; then confirmed with a reason.
	res, body = pat.postMultipart(casePath+"/move", map[string]string{"to": "not_rectified"}, "", nil)
	if res.StatusCode != http.StatusConflict || !strings.Contains(body, `id="early"`) {
		t.Fatalf("early not_rectified: %d", res.StatusCode)
	}
	if c, _ := e.st.Case(ctx, id); c.State != cases.StateRecommendation {
		t.Fatalf("early step recorded without confirmation: %s", c.State)
	}
	res, _ = pat.postMultipart(casePath+"/move", map[string]string{"to": "not_rectified", "confirm": "1"}, "", nil)
	if res.StatusCode != http.StatusConflict {
		t.Fatalf("confirmed without a reason: %d", res.StatusCode)
	}

	// Findings leave and join with reasons.
	if res := pat.postForm(casePath+"/findings/"+fpB+"/leave", url.Values{"reason": {}}); res.StatusCode != http.StatusBadRequest {
		t.Fatalf("leave without reason: %d", res.StatusCode)
	}
	if res := pat.postForm(casePath+"/findings/"+fpB+"/leave", url.Values{"reason": {"误报"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("leave: %d", res.StatusCode)
	}
	if res := pat.postForm(casePath+"/findings", url.Values{"fp": {fpB}, "reason": {"复核后确认"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %d", res.StatusCode)
	}
	if res := pat.postForm(casePath+"/findings", url.Values{"fp": {fpC}, "reason": {"手工补充"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("join: %d", res.StatusCode)
	}

	// 整改复查: a scan is queued and recorded on the case; when its record exists the page
	// compares: fpA still raised, fpB gone, fpC never in the baseline.
	if res := pat.postForm(casePath+"/recheck", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("recheck: %d", res.StatusCode)
	}
	c, _ = e.st.Case(ctx, id)
	if c.RecheckScan == "" {
		t.Fatal("recheck scan not recorded")
	}
	if _, body := pat.get(casePath); !strings.Contains(body, "复查扫描尚未完成") {
		t.Error("pending re-scan not shown")
	}
	re := store.ScanRecord{ID: c.RecheckScan, TargetID: e.target, StartedAt: time.Now(), FinishedAt: time.Now(),
		Status: scanner.StatusSucceeded, Complete: true, Fingerprints: []string{fpA}}
	if _, err := e.st.SaveScan(ctx, re); err != nil {
		t.Fatal(err)
	}
	_, body = pat.get(casePath)
	for _, want := range []string{"outcome-still", "outcome-gone", "outcome-unknown", "仍存在 1 项，已消失 1 项，无法判断 1 项"} {
		if !strings.Contains(body, want) {
			t.Errorf("recheck outcome lacks %q", want)
		}
	}
	// The target's policy changed after the 检察建议: the case links the two versions' diff.
	putPolicy := func(body string, at time.Time) string {
		ref, err := e.ev.Put(strings.NewReader(body), evidence.Meta{CapturedAt: at, Method: "browser_capture",
			Source: "https://example.com/privacy", MediaType: "text/html; charset=utf-8"})
		if err != nil {
			t.Fatal(err)
		}
		return ref.SHA256
	}
	oldP := putPolicy("<html><body><h1>隐私政策</h1><h2>我们收集的信息</h2><p>我们会收集您的设备标识符。</p></body></html>", time.Now().Add(-2*time.Hour))
	newP := putPolicy("<html><body><h1>隐私政策</h1><h2>我们收集的信息</h2><p>我们不再收集设备标识符。</p></body></html>", time.Now())
	_, body = pat.get(casePath)
	link := "/policy/diff?a=" + oldP + "&amp;b=" + newP
	if !strings.Contains(body, link) {
		t.Fatalf("case page lacks the policy diff link %s", link)
	}
	res, body = pat.get("/policy/diff?a=" + oldP + "&b=" + newP)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "<ins>我们不再收集设备标识符。</ins>") || !strings.Contains(body, "<del>我们会收集您的设备标识符。</del>") {
		t.Errorf("policy diff page: %d", res.StatusCode)
	}
	if res, _ := pat.get("/policy/diff?a=../../etc/passwd&b=" + newP); res.StatusCode != http.StatusBadRequest {
		t.Errorf("policy diff with a path: %d", res.StatusCode)
	}
	h, _ := e.st.CaseHistory(ctx, id)
	kinds := map[cases.EventKind]int{}
	for _, ev := range h {
		kinds[ev.Kind]++
	}
	if kinds[cases.EventJoined] != 4 || kinds[cases.EventLeft] != 1 || kinds[cases.EventMoved] != 1 || kinds[cases.EventRecheck] != 1 {
		t.Errorf("history %v", kinds)
	}
	// The list filters by deadline status.
	if _, body := pat.get("/cases?deadline=due_soon"); !strings.Contains(body, casePath) {
		t.Error("due_soon filter lost the case")
	}
	if _, body := pat.get("/cases?deadline=overdue"); strings.Contains(body, casePath) {
		t.Error("overdue filter shows a case due soon")
	}
}

// TestCaseRoles: prosecutors open and move cases; analysts, viewers and admins read them and are
// refused every change, on the pages and through the API.
func TestCaseRoles(t *testing.T) {
	e := newEnv(t)
	pat := e.login(accounts.RoleProsecutor)
	res := pat.postForm("/cases", e.caseForm(e.fps[2]))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("prosecutor create: %d", res.StatusCode)
	}
	casePath, _, _ := strings.Cut(res.Header.Get("Location"), "?")
	for _, r := range []accounts.Role{accounts.RoleAnalyst, accounts.RoleViewer, accounts.RoleAdmin} {
		c := e.login(r)
		if res, body := c.get(casePath); res.StatusCode != http.StatusOK || strings.Contains(body, `action="`+casePath+`/move"`) {
			t.Errorf("%s reads the case: %d (move form shown: %v)", r, res.StatusCode, strings.Contains(body, "/move"))
		}
		if res, _ := c.get("/cases/new"); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s case form: %d", r, res.StatusCode)
		}
		if res := c.postForm("/cases", e.caseForm(e.fps[3])); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s create: %d", r, res.StatusCode)
		}
		if res := c.postForm(casePath+"/edit", e.caseForm()); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s edit: %d", r, res.StatusCode)
		}
		if res := c.postForm(casePath+"/recheck", url.Values{}); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s recheck: %d", r, res.StatusCode)
		}
		if res, _ := c.postMultipart(casePath+"/move", map[string]string{"to": "closed", "reason": "x"}, "", nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("%s move: %d", r, res.StatusCode)
		}
	}
	ana := e.login(accounts.RoleAnalyst)
	ana.get("/findings")
	if res := ana.postForm("/findings/bulk", url.Values{"fp": {e.fps[2]}, "action": {"case"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst bulk open case: %d", res.StatusCode)
	}
}

// TestCasesAPI: the JSON contract (case_no, type, state, findings, documents with number, date and
// hash, deadlines with kind, due and status) and the same role rules as the pages, per role.
func TestCasesAPI(t *testing.T) {
	e := newEnv(t)
	toks := map[accounts.Role]string{}
	for r := range roleUsers {
		toks[r] = e.login(r).newToken("api")
	}
	create := `{"case_no":"京检民公告〔2026〕3号","type":"civil","handler":"李检察官","operator":{"name":"某公司","uscc":"91110108551385082Q"},"target_id":"app.demo","findings":["` + e.fps[2] + `"]}`
	for _, r := range []accounts.Role{accounts.RoleAnalyst, accounts.RoleViewer, accounts.RoleAdmin} {
		if code, _ := e.api(toks[r], http.MethodPost, "/api/v1/cases", create); code != http.StatusForbidden {
			t.Errorf("%s API create: %d", r, code)
		}
	}
	code, body := e.api(toks[accounts.RoleProsecutor], http.MethodPost, "/api/v1/cases", create)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct {
		ID string `json:"id"`
	}
	json.Unmarshal([]byte(body), &created)
	// Unknown fields and a bad check character are refused.
	if code, _ := e.api(toks[accounts.RoleProsecutor], http.MethodPost, "/api/v1/cases", strings.Replace(create, `"type"`, `"tipe"`, 1)); code != http.StatusBadRequest {
		t.Errorf("unknown field: %d", code)
	}
	if code, _ := e.api(toks[accounts.RoleProsecutor], http.MethodPost, "/api/v1/cases", strings.Replace(create, "082Q", "082R", 1)); code != http.StatusBadRequest {
		t.Errorf("bad USCC: %d", code)
	}
	// The civil track: no 起诉 before the 诉前公告.
	move := func(r accounts.Role, body string) (int, string) {
		return e.api(toks[r], http.MethodPost, "/api/v1/cases/"+created.ID+"/move", body)
	}
	if code, _ := move(accounts.RoleProsecutor, `{"to":"suit_filed","number":"起诉书1号","date":"2026-01-05"}`); code != http.StatusBadRequest {
		t.Errorf("suit before announcement: %d", code)
	}
	if code, _ := move(accounts.RoleAnalyst, `{"to":"announcement_published","number":"公告1号","date":"2026-01-05"}`); code != http.StatusForbidden {
		t.Errorf("analyst move: %d", code)
	}
	today := time.Now().In(cases.Beijing).Format(time.DateOnly)
	if code, body := move(accounts.RoleProsecutor, `{"to":"announcement_published","number":"公告1号","date":"`+today+`"}`); code != http.StatusOK {
		t.Fatalf("announce: %d %s", code, body)
	}
	// 起诉 during the announcement: 409 with the deadline, until confirmed with a reason.
	code, body = move(accounts.RoleProsecutor, `{"to":"suit_filed","number":"起诉书1号","date":"`+today+`"}`)
	if code != http.StatusConflict || !strings.Contains(body, `"early":true`) {
		t.Errorf("early suit: %d %s", code, body)
	}
	// Findings join and leave through the API with a reason; the facts can be corrected.
	members := "/api/v1/cases/" + created.ID + "/findings"
	if code, _ := e.api(toks[accounts.RoleAnalyst], http.MethodPost, members, `{"fingerprint":"`+e.fps[3]+`","reason":"r"}`); code != http.StatusForbidden {
		t.Errorf("analyst join: %d", code)
	}
	if code, body := e.api(toks[accounts.RoleProsecutor], http.MethodPost, members, `{"fingerprint":"`+e.fps[3]+`","reason":""}`); code != http.StatusBadRequest {
		t.Errorf("join without a reason: %d %s", code, body)
	}
	if code, body := e.api(toks[accounts.RoleProsecutor], http.MethodPost, members, `{"fingerprint":"`+e.fps[3]+`","reason":"同一运营者"}`); code != http.StatusOK {
		t.Errorf("join: %d %s", code, body)
	}
	if code, body := e.api(toks[accounts.RoleProsecutor], http.MethodPost, members, `{"fingerprint":"`+e.fps[3]+`","reason":"重复","leave":true}`); code != http.StatusOK {
		t.Errorf("leave: %d %s", code, body)
	}
	edit := `{"case_no":"京检民公告〔2026〕3号","type":"administrative","handler":"李检察官","operator":{"name":"某公司"},"agency":{"name":"某局","duty_basis":"依据"}}`
	if code, _ := e.api(toks[accounts.RoleProsecutor], http.MethodPost, "/api/v1/cases/"+created.ID+"/edit", edit); code != http.StatusBadRequest {
		t.Errorf("track changed after the announcement: %d", code)
	}
	edit = strings.Replace(edit, `"administrative"`, `"civil"`, 1)
	if code, body := e.api(toks[accounts.RoleProsecutor], http.MethodPost, "/api/v1/cases/"+created.ID+"/edit", edit); code != http.StatusOK || !strings.Contains(body, `"agency":{"name":"某局"`) {
		t.Errorf("edit: %d %s", code, body)
	}
	for r := range roleUsers {
		code, body := e.api(toks[r], http.MethodGet, "/api/v1/cases/"+created.ID, "")
		if code != http.StatusOK {
			t.Errorf("%s GET case: %d", r, code)
			continue
		}
		var doc struct {
			Case struct {
				CaseNo    string `json:"case_no"`
				Type      string `json:"type"`
				State     string `json:"state"`
				Findings  []any  `json:"findings"`
				Documents []struct {
					Number, Date, SHA256 string
				} `json:"documents"`
				Deadlines []cases.Deadline `json:"deadlines"`
			} `json:"case"`
			History []cases.Event `json:"history"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil {
			t.Fatal(err)
		}
		c := doc.Case
		if c.CaseNo != "京检民公告〔2026〕3号" || c.Type != "civil" || c.State != "announcement_published" || len(c.Findings) != 1 ||
			len(c.Documents) != 1 || c.Documents[0].Number != "公告1号" || len(c.Deadlines) != 1 ||
			c.Deadlines[0].Kind != cases.DeadlineAnnouncement || c.Deadlines[0].Status != cases.StatusOpen || len(doc.History) < 6 {
			t.Errorf("%s: %s", r, body)
		}
		if code, body := e.api(toks[r], http.MethodGet, "/api/v1/cases", ""); code != http.StatusOK || !strings.Contains(body, `"deadlines":[{"kind":"announcement"`) {
			t.Errorf("%s list: %d %s", r, code, body)
		}
	}
}
