package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"pilmon/accounts"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/store"
)

// postChecklist records a checklist result through the form, with one PNG when withShot.
func postChecklist(t *testing.T, c *client, target, rule, result, note string, withShot bool) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("_csrf", c.csrf)
	mw.WriteField("result", result)
	mw.WriteField("note", note)
	if withShot {
		fw, _ := mw.CreateFormFile("evidence", "拒绝权限后退出.png")
		fw.Write(pngBytes(t))
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/targets/"+target+"/checklist/"+rule, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// TestChecklistViolationBecomesFinding: 存在问题 with a note and a screenshot is a finding (grade
// observed, tier finding, the rule's legal basis, the uploaded evidence, by the analyst) that the
// list, the finding page and a later automated scan treat like any other; without a note or
// without evidence it is refused with the reason and nothing is recorded.
func TestChecklistViolationBecomesFinding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ana := e.login(accounts.RoleAnalyst)
	rule := manualRule(e)
	v, _ := e.cat.Violation(rule)

	if res, body := postChecklist(t, ana, e.target, rule, ResultViolation, "", true); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "请写明在测试机上所见") {
		t.Errorf("violation without a note: %d, want 400 with the reason", res.StatusCode)
	}
	if res, body := postChecklist(t, ana, e.target, rule, ResultViolation, "拒绝通讯录权限后应用退出", false); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "请上传截图或录屏") {
		t.Errorf("violation without evidence: %d, want 400 with the reason", res.StatusCode)
	}
	if cl, _ := e.st.Checklist(ctx, e.target); cl[rule].Result != "" {
		t.Errorf("a refused result was recorded: %+v", cl[rule])
	}
	fp := findings.Fingerprint(e.target, rule, findings.ManualSubjectPrefix+rule)
	if ok, _ := e.st.Exists(ctx, fp); ok {
		t.Fatal("a refused result made a finding")
	}

	res, _ := postChecklist(t, ana, e.target, rule, ResultViolation, "拒绝通讯录权限后应用退出", true)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/findings/"+fp+"?flash=checklist_finding" {
		t.Fatalf("violation: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	f, err := e.st.Get(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := e.st.Checklist(ctx, e.target)
	if f.Grade != rules.GradeObserved || f.Tier != rules.TierFinding || f.Severity != v.Severity || f.AsOfSource != findings.AsOfAnalyst ||
		len(f.LegalBasis) == 0 || f.LegalBasis[0].Instrument != v.LegalBasis[0].Instrument || !strings.Contains(f.Summary.ZH, "分析人员 ana") ||
		!strings.Contains(f.Summary.ZH, "拒绝通讯录权限后应用退出") || len(f.EvidenceRefs) != 1 || f.EvidenceRefs[0] != cl[rule].Evidence[0] ||
		!strings.HasPrefix(f.LastScanID, store.ManualScanPrefix) || cl[rule].Finding != fp {
		t.Fatalf("manual finding %+v\nchecklist %+v", f, cl[rule])
	}
	// Listed and shown like any other, with the screenshot as a thumbnail.
	if err := e.srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, body := ana.get("/findings?rule=" + rule); !strings.Contains(body, "/findings/"+fp) {
		t.Error("the manual finding is not listed")
	}
	if _, body := ana.get("/findings/" + fp); !strings.Contains(body, `src="/evidence/`+f.EvidenceRefs[0]+`/image"`) || !strings.Contains(body, "拒绝权限后退出.png") {
		t.Error("the finding page lacks the screenshot thumbnail or its original file name")
	}
	// A complete automated scan that did not raise it does not mark it not re-observed.
	if _, err := e.st.MarkNotReobserved(ctx, e.target, "20270101T000000Z-cccccccccccc", nil); err != nil {
		t.Fatal(err)
	}
	if f, _ := e.st.Get(ctx, fp); f.NotReobservedSince != "" {
		t.Errorf("a scan marked the manual finding not re-observed: %q", f.NotReobservedSince)
	}
	// Another result is recorded without a finding.
	if res, _ := postChecklist(t, ana, e.target, rule, ResultCompliant, "", false); res.StatusCode != http.StatusSeeOther || strings.HasPrefix(res.Header.Get("Location"), "/findings/") {
		t.Errorf("compliant: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestChecklistFilters: the page shows every item by default, the form preselects no result for
// an untested item, and the status and mode filters keep only matching items.
func TestChecklistFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rule := manualRule(e)
	if err := e.st.RecordChecklist(ctx, e.target, store.ChecklistEntry{Rule: rule, Result: ResultCompliant, By: "ana"}); err != nil {
		t.Fatal(err)
	}
	ana := e.login(accounts.RoleAnalyst)
	_, all := ana.get("/targets/" + e.target + "/checklist")
	n := len(e.cat.Violations())
	if got := strings.Count(all, `<form method="post" action="/targets/`); got != n {
		t.Errorf("unfiltered page: %d item forms, want %d", got, n)
	}
	if strings.Contains(all, `value="violation" selected`) {
		t.Error("the form preselects 存在问题")
	}
	if !strings.Contains(all, `value="compliant" selected`) {
		t.Error("the form does not preselect the recorded result")
	}
	_, man := ana.get("/targets/" + e.target + "/checklist?mode=manual")
	_, auto := ana.get("/targets/" + e.target + "/checklist?mode=auto")
	nm, na := strings.Count(man, `<form method="post" action="/targets/`), strings.Count(auto, `<form method="post" action="/targets/`)
	if nm == 0 || na == 0 || nm+na != n || !strings.Contains(man, `id="`+rule+`"`) || strings.Contains(auto, `id="`+rule+`"`) {
		t.Errorf("mode filter: manual %d, automated %d, of %d", nm, na, n)
	}
	_, comp := ana.get("/targets/" + e.target + "/checklist?status=compliant")
	if strings.Count(comp, `<form method="post" action="/targets/`) != 1 || !strings.Contains(comp, `id="`+rule+`"`) {
		t.Error("status filter does not keep only the compliant item")
	}
	_, bad := ana.get("/targets/" + e.target + "/checklist?status=bogus")
	if strings.Count(bad, `<form method="post" action="/targets/`) != n {
		t.Error("an unknown status filters")
	}
}
