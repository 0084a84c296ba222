package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"pilmon/accounts"
	"pilmon/findings"
	"pilmon/rules"
)

var flashRE = regexp.MustCompile(`<p class="flash">([^<]*)</p>`)

// triageFinding stores a finding of the given severity on rule i of the catalogue.
func triageFinding(t *testing.T, e *env, i int, subject string, sev rules.Severity) string {
	t.Helper()
	v := e.cat.Violations()[i]
	r, err := e.st.Upsert(context.Background(), findings.Finding{TargetID: e.target, RuleID: v.ID, Subject: subject, Severity: sev,
		Summary: rules.Text{ZH: "测试"}}, "scan-triage")
	if err != nil {
		t.Fatal(err)
	}
	return r.Fingerprint
}

// TestDismissNeedsReasonAndConfirmation: a dismissal without a reason, or "other" without a note,
// is refused with the reason; a high one needs the confirmation; the reason is in the history.
func TestDismissNeedsReasonAndConfirmation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	low, high := triageFinding(t, e, 0, "low-one", "low"), triageFinding(t, e, 0, "high-one", "high")
	pat := e.login(accounts.RoleProsecutor)
	for _, fp := range []string{low, high} {
		if res := pat.postForm("/findings/"+fp+"/transition", url.Values{"to": {"in_review"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("in_review: %d", res.StatusCode)
		}
	}
	move := func(fp string, v url.Values) (int, string) {
		v.Set("to", "dismissed")
		v.Set("_csrf", pat.csrf)
		req, _ := http.NewRequest(http.MethodPost, pat.base+"/findings/"+fp+"/transition", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, body := pat.do(req)
		return res.StatusCode, body
	}
	if code, body := move(low, url.Values{}); code != http.StatusBadRequest || !strings.Contains(body, "排除须选择理由") {
		t.Errorf("no reason: %d", code)
	}
	if code, body := move(low, url.Values{"reason": {"because"}}); code != http.StatusBadRequest || !strings.Contains(body, "排除须选择理由") {
		t.Errorf("unknown reason: %d", code)
	}
	if code, body := move(low, url.Values{"reason": {"other"}}); code != http.StatusBadRequest || !strings.Contains(body, "须在说明中写明") {
		t.Errorf("other without a note: %d", code)
	}
	if code, body := move(high, url.Values{"reason": {"false_positive"}}); code != http.StatusConflict || !strings.Contains(body, "须经确认") {
		t.Errorf("high without confirmation: %d", code)
	}
	if st, _ := e.st.State(ctx, high); st != findings.StateInReview {
		t.Fatalf("a refused dismissal moved the finding to %s", st)
	}
	if code, _ := move(high, url.Values{"reason": {"false_positive"}, "confirm_high": {"1"}}); code != http.StatusSeeOther {
		t.Errorf("high with confirmation: %d", code)
	}
	if code, _ := move(low, url.Values{"reason": {"other"}, "note": {"测试机型号不符"}}); code != http.StatusSeeOther {
		t.Errorf("other with a note: %d", code)
	}
	h, _ := e.st.History(ctx, high)
	if last := h[len(h)-1]; last.To != findings.StateDismissed || last.Reason != findings.ReasonFalsePositive {
		t.Errorf("history %+v", last)
	}
	if _, body := pat.get("/findings/" + high); !strings.Contains(body, "排除理由：误报") {
		t.Error("the finding page does not show the reason")
	}
	// The form asks for the reason, and for the confirmation only on a high finding.
	for _, fp := range []string{low, high} {
		if res := pat.postForm("/findings/"+fp+"/transition", url.Values{"to": {"in_review"}}); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("reopen: %d", res.StatusCode)
		}
	}
	_, lowPage := pat.get("/findings/" + low)
	_, highPage := pat.get("/findings/" + high)
	if !strings.Contains(lowPage, `<select name="reason" required>`) || strings.Contains(lowPage, `name="confirm_high"`) || !strings.Contains(highPage, `name="confirm_high" value="1" required`) {
		t.Error("the dismissal form lacks the reason, or asks the confirmation on the wrong finding")
	}
	// The API follows the same rules.
	tok := pat.newToken("triage")
	if code, _ := e.api(tok, http.MethodPost, "/api/v1/findings/"+low+"/transition", `{"to":"dismissed"}`); code != http.StatusBadRequest {
		t.Errorf("API dismissal without reason: %d", code)
	}
	if code, _ := e.api(tok, http.MethodPost, "/api/v1/findings/"+low+"/transition", `{"to":"dismissed","reason":"duplicate"}`); code != http.StatusOK {
		t.Errorf("API dismissal with reason: %d", code)
	}
}

// TestBulkReportsOutcome: a bulk move says how many moved and why the others did not; a bulk
// dismissal without reason is refused before anything moves; a crafted outcome link shows only
// catalogue texts.
func TestBulkReportsOutcome(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	low, high, fresh := triageFinding(t, e, 0, "b-low", "low"), triageFinding(t, e, 0, "b-high", "critical"), triageFinding(t, e, 0, "b-new", "low")
	pat := e.login(accounts.RoleProsecutor)
	for _, fp := range []string{low, high} {
		pat.postForm("/findings/"+fp+"/transition", url.Values{"to": {"in_review"}})
	}
	bulk := func(v url.Values) *http.Response {
		v.Set("back", "/findings?state=in_review")
		return pat.postForm("/findings/bulk", v)
	}
	if res := bulk(url.Values{"to": {"dismissed"}, "fp": {low, high}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bulk dismissal without reason: %d", res.StatusCode)
	}
	if st, _ := e.st.State(ctx, low); st != findings.StateInReview {
		t.Fatal("a refused bulk moved a finding")
	}
	res := bulk(url.Values{"to": {"dismissed"}, "reason": {"duplicate"}, "fp": {low, high, fresh, "bad fp!"}})
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "bulk_ok=1") || !strings.Contains(loc, "bulk_failed=3") || !strings.Contains(loc, "state=in_review") {
		t.Fatalf("bulk: %d → %s", res.StatusCode, loc)
	}
	if err := e.srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	_, body := pat.get(loc)
	for _, want := range []string{"成功 1 条，失败 3 条", "高危、严重记录的排除须经确认（1 条）", "办理流程不允许此变更（1 条）", "参数无效（1 条）"} {
		if !strings.Contains(body, want) {
			t.Errorf("the outcome lacks %q", want)
		}
	}
	_, body = pat.get("/findings?bulk_ok=2&bulk_failed=1&bulk_why=flash.saved:1,nonsense:1,error.500:x")
	if m := flashRE.FindStringSubmatch(body); m == nil || m[1] != "批量变更完成：成功 2 条，失败 1 条" {
		t.Errorf("a crafted outcome link shows %q", m)
	}
}

// TestListGroupsOneFact: findings of one target about one subject are written as one fact with
// its legal readings (the subject spans their rows); the filter panel is closed unless a filter
// is on; subjects read in words.
func TestListGroupsOneFact(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := triageFinding(t, e, 0, "pi:device_id_hw->ulogs.umeng.com", "high"), triageFinding(t, e, 1, "pi:device_id_hw->ulogs.umeng.com", "high")
	if err := e.srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	ana := e.login(accounts.RoleAnalyst)
	_, body := ana.get("/findings?q=ulogs.umeng.com")
	if strings.Count(body, `rowspan="2"`) != 2 || !strings.Contains(body, "同一事实的 2 项法律评价") || !strings.Contains(body, "/findings/"+a) || !strings.Contains(body, "/findings/"+b) {
		t.Error("the two readings of one fact are not grouped")
	}
	if !strings.Contains(body, "发送至 ulogs.umeng.com（友盟+ 统计分析 (U-App)）") {
		t.Error("the subject is not in words")
	}
	if !strings.Contains(body, `<details class="filters-panel" open>`) {
		t.Error("the filter panel is closed while a filter is on")
	}
	if _, body := ana.get("/findings"); !strings.Contains(body, `<details class="filters-panel">`) || strings.Contains(body, `rowspan="2"`) && !strings.Contains(body, "同一事实") {
		t.Error("the filter panel is open by default")
	}
	// Searching by the catalogue's names finds the fact.
	for _, q := range []string{"友盟", "IMEI", "Umeng"} {
		if _, body := ana.get("/findings?q=" + url.QueryEscape(q)); !strings.Contains(body, "/findings/"+a) {
			t.Errorf("search %q does not find the Umeng finding", q)
		}
	}
}
