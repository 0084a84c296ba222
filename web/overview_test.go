package web

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"pilmon/accounts"
	"pilmon/cases"
)

// TestOverviewCountsCasesByStep: the overview counts cases by the step they are at, beside (not
// instead of) the findings' own triage states, which a finding keeps when it joins a case.
func TestOverviewCountsCasesByStep(t *testing.T) {
	e := newEnv(t)
	pat := e.login(accounts.RoleProsecutor)
	count := func(body, section, href string) string {
		i := strings.Index(body, `<section id="`+section+`">`)
		if i < 0 {
			t.Fatalf("overview lacks section %s", section)
		}
		sec := body[i:]
		sec = sec[:strings.Index(sec, "</section>")]
		m := regexp.MustCompile(`href="` + regexp.QuoteMeta(href) + `">[^<]*</a></td><td class="n">([^<]*)<`).FindStringSubmatch(sec)
		if m == nil {
			t.Fatalf("section %s has no row for %s", section, href)
		}
		return m[1]
	}
	_, body := pat.get("/")
	if got := count(body, "bycasestate", "/cases?state=case_opened"); got != "0" {
		t.Errorf("no case yet, 立案 counts %s", got)
	}
	newBefore := count(body, "bystate", "/findings?state=new")

	e.seedCase("京检行公建〔2026〕1号", docDateDueIn(t, 30), e.fps[2])
	c, evs, err := cases.New(cases.Fields{CaseNo: "京检民公告〔2026〕2号", Type: cases.Civil, Handler: "李检察官", Operator: cases.Operator{Name: "某公司"}},
		[]string{e.fps[3]}, "", "prosecutor", e.srv.now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateCase(context.Background(), c, evs); err != nil {
		t.Fatal(err)
	}
	_, body = pat.get("/")
	for href, want := range map[string]string{"/cases?state=case_opened": "1", "/cases?state=recommendation_issued": "1", "/cases?state=replied": "0", "/cases?state=closed": "0"} {
		if got := count(body, "bycasestate", href); got != want {
			t.Errorf("cases at %s: %s, want %s", href, got, want)
		}
	}
	if !strings.Contains(body, "共 2 件案件") {
		t.Error("the case card does not say how many cases it counts")
	}
	// Joining a case does not move a finding's own state: the findings' card is unchanged.
	if got := count(body, "bystate", "/findings?state=new"); got != newBefore {
		t.Errorf("findings in state new: %s after two cases, %s before", got, newBefore)
	}
	if !strings.Contains(body, "线索按处理状态") || !strings.Contains(body, "案件按办理阶段") {
		t.Error("the two cards do not say what they count")
	}
}
