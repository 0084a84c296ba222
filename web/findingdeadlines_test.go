package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/cases"
)

// seedCase stores an administrative case holding fps whose 检察建议 (dated docDate) is recorded.
func (e *env) seedCase(caseNo, docDate string, fps ...string) cases.Case {
	e.t.Helper()
	ctx := context.Background()
	f := cases.Fields{CaseNo: caseNo, Type: cases.Administrative, Handler: "王检察官", Operator: cases.Operator{Name: "某公司"},
		Agency: cases.Agency{Name: "某市通信管理局", DutyBasis: "个人信息保护法第六十条"}, TargetID: e.target}
	now := time.Now()
	c, evs, err := cases.New(f, fps, "同一运营者", "prosecutor", now)
	if err != nil {
		e.t.Fatal(err)
	}
	if c, err = e.st.CreateCase(ctx, c, evs); err != nil {
		e.t.Fatal(err)
	}
	c, err = e.st.UpdateCase(ctx, c.ID, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.Move(cases.StateRecommendation, cases.MoveInput{Number: caseNo + "-建议", Date: docDate}, "prosecutor", cases.DefaultPolicy, now)
		return []cases.Event{ev}, err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestFindingsDeadlineColumn: the findings list shows, per finding in a case, the most urgent
// deadline of its cases with its colour and case number, filters by it (one status, overdue or
// due soon, none) and sorts by it (most urgent first, findings without one after), on the page
// and in the API.
func TestFindingsDeadlineColumn(t *testing.T) {
	e := newEnv(t)
	fpA, fpB, fpC, fpD := e.fps[2], e.fps[4], e.fps[5], e.fps[7]
	overdue := e.seedCase("京检行公建〔2026〕1号", docDateDueIn(t, -3), fpA, fpB)
	soon := e.seedCase("京检行公建〔2026〕2号", docDateDueIn(t, 5), fpB, fpC)
	pat := e.login(accounts.RoleProsecutor)

	link := func(fp string) string { return `<a href="/findings/` + fp + `">` }
	// rowOf is the row of fp's link (the list writes one row per finding).
	rowOf := func(body, fp string) string {
		i := strings.Index(body, link(fp))
		if i < 0 {
			return ""
		}
		end := strings.Index(body[i:], "</tr>")
		return body[i : i+end]
	}
	_, body := pat.get("/findings")
	if r := rowOf(body, fpA); !strings.Contains(r, `dl dl-overdue">已逾期`) || !strings.Contains(r, `href="/cases/`+overdue.ID+`"`) {
		t.Errorf("fpA's row lacks its overdue deadline: %s", r)
	}
	// fpB is in both cases: its row shows the more urgent one.
	if r := rowOf(body, fpB); !strings.Contains(r, "dl-overdue") || strings.Contains(r, soon.ID) {
		t.Errorf("fpB's row does not show the most urgent of its cases' deadlines: %s", r)
	}
	if r := rowOf(body, fpC); !strings.Contains(r, `dl dl-due_soon">即将到期`) || !strings.Contains(r, "京检行公建〔2026〕2号") {
		t.Errorf("fpC's row lacks its due-soon deadline: %s", r)
	}
	if r := rowOf(body, fpD); r == "" || strings.Contains(r, `class="dl `) {
		t.Errorf("fpD, in no case, shows a deadline: %s", r)
	}
	if !strings.Contains(body, `<select name="deadline">`) || !strings.Contains(body, "仅看已逾期/即将到期") {
		t.Error("the filter panel offers no deadline filter")
	}

	for _, c := range []struct {
		q         string
		in, notIn []string
	}{
		{"deadline=overdue", []string{fpA, fpB}, []string{fpC, fpD}},
		{"deadline=due_soon", []string{fpC}, []string{fpA, fpB, fpD}},
		{"deadline=attention", []string{fpA, fpB, fpC}, []string{fpD}},
		{"deadline=open", nil, []string{fpA, fpB, fpC, fpD}},
		{"deadline=none", []string{fpD}, []string{fpA, fpB, fpC}},
		{"deadline=bogus", []string{fpA, fpD}, nil}, // an unknown value filters nothing
	} {
		_, body := pat.get("/findings?" + c.q)
		for _, fp := range c.in {
			if !strings.Contains(body, link(fp)) {
				t.Errorf("%s: %s missing", c.q, fp)
			}
		}
		for _, fp := range c.notIn {
			if strings.Contains(body, link(fp)) {
				t.Errorf("%s: %s listed", c.q, fp)
			}
		}
	}
	// The none filter's total is every finding but the three in cases.
	if _, body := pat.get("/findings?deadline=none"); !strings.Contains(body, e.srv.langs.get(LangZH).T("list.total", e.srv.langs.get(LangZH).N(int64(len(e.fps)-3)))) {
		t.Errorf("deadline=none total wrong")
	}

	// Sorted by deadline: the overdue ones, then the one due soon, then the rest; paging keeps
	// the order and the total.
	_, body = pat.get("/findings?sort=deadline")
	pos := func(fp string) int { return strings.Index(body, link(fp)) }
	if !(pos(fpA) >= 0 && pos(fpB) >= 0 && pos(fpA) < pos(fpC) && pos(fpB) < pos(fpC) && pos(fpC) < pos(fpD)) {
		t.Errorf("sort=deadline order: A %d B %d C %d D %d", pos(fpA), pos(fpB), pos(fpC), pos(fpD))
	}
	var paged []string
	f := Filter{Sort: "deadline", Per: 2}
	for f.Page = 1; f.Page <= 30; f.Page++ {
		r, err := e.srv.list(context.Background(), e.srv.langs.get(LangZH), f)
		if err != nil {
			t.Fatal(err)
		}
		if r.Total != int64(len(e.fps)) {
			t.Fatalf("sort=deadline page %d: total %d, want %d", f.Page, r.Total, len(e.fps))
		}
		for _, it := range r.Items {
			paged = append(paged, it.Fingerprint)
		}
		if f.Page >= r.Pages {
			break
		}
	}
	if len(paged) != len(e.fps) || paged[2] != fpC || !(paged[0] == fpA && paged[1] == fpB || paged[0] == fpB && paged[1] == fpA) {
		t.Errorf("sort=deadline paged by 2: %d rows, first three %v", len(paged), paged[:min(3, len(paged))])
	}
	seen := map[string]bool{}
	for _, fp := range paged {
		if seen[fp] {
			t.Errorf("sort=deadline lists %s twice", fp)
		}
		seen[fp] = true
	}

	// The API takes the same filter.
	tok := pat.newToken("api")
	if code, body := e.api(tok, http.MethodGet, "/api/v1/findings?deadline=due_soon", ""); code != http.StatusOK || !strings.Contains(body, `"total":1,`) ||
		!strings.Contains(body, fpC) {
		t.Errorf("API deadline filter: %d %.200s", code, body)
	}
}
