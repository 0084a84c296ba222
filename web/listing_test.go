package web

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

type expRow struct {
	fp, target, rule, state, subject string
	sev                              rules.Severity
	score, first, last               int64
	sdk                              string
}

// TestListMatchesBruteForce runs random filter, sort and page combinations through the list
// index and compares each page with the same query computed in Go over every finding.
func TestListMatchesBruteForce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	vs := e.cat.Violations()[:30]
	tgts := []string{"t.a", "t.b", "t.c", "t.d"}
	cats := map[string]string{"t.a": "map_navigation", "t.b": "map_navigation", "t.c": "online_shopping", e.target: "map_navigation"}
	for id, c := range cats {
		if _, err := e.reg.Put(ctx, scanner.Target{ID: id, Kind: scanner.TargetApp, Name: id, Category: c, Sources: []scanner.Source{{Kind: scanner.SourcePolicyURL, Locator: "https://example.com/p"}}}); err != nil {
			t.Fatal(err)
		}
	}
	sdks := []string{"", "umeng_analytics", "jpush", "getui"}
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var fs []findings.Finding
	for i := range 1500 {
		v := vs[r.IntN(len(vs))]
		last := base.Add(time.Duration(r.IntN(60*24)) * time.Hour)
		first := last.Add(-time.Duration(r.IntN(30*24)) * time.Hour)
		attrs := map[string]any{"pi": []any{"device_id"}}
		if s := sdks[r.IntN(len(sdks))]; s != "" {
			attrs["sdk"] = s
		}
		fs = append(fs, findings.Finding{TargetID: tgts[r.IntN(len(tgts))], RuleID: v.ID, RuleVersion: 1,
			Subject: fmt.Sprintf("host%04d.example", i), Severity: v.Severity, LegalBasis: v.LegalBasis,
			Observations: []scanner.Observation{{Kind: "apk.endpoint", Subject: "s", Attributes: attrs, Inspector: "x", InspectorVersion: "1"}},
			FirstSeen:    first, LastSeen: last})
	}
	res, err := e.st.UpsertBatch(ctx, fs, "scan-1")
	if err != nil {
		t.Fatal(err)
	}
	for i, rr := range res {
		if i%3 == 0 {
			if _, err := e.st.Transition(ctx, rr.Fingerprint, findings.StateInReview, "t", findings.TransitionInput{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := e.srv.SyncIndex(ctx); err != nil {
		t.Fatal(err)
	}
	// Every finding in the store, the seeded ones included.
	var all []expRow
	for off := 0; ; off += 1000 {
		page, _, err := e.st.List(ctx, store.Query{Offset: off, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range page {
			row := expRow{fp: f.Fingerprint, target: f.TargetID, rule: f.RuleID, state: string(f.State), sev: f.Severity,
				subject: f.Subject, score: int64(findings.SeverityRank(f.Severity))*1e13 + f.LastSeen.UnixMilli(),
				first: f.FirstSeen.UnixMilli(), last: f.LastSeen.UnixMilli()}
			for _, o := range f.Observations {
				if s, ok := o.Attributes["sdk"].(string); ok {
					row.sdk = s
				}
			}
			all = append(all, row)
		}
		if len(page) < 1000 {
			break
		}
	}
	day := func(s string) int64 {
		t, _ := time.ParseInLocation(time.DateOnly, s, Shanghai)
		return t.UnixMilli()
	}
	basis := "pipl:17"
	withBasis := map[string]bool{}
	for _, v := range e.cat.Violations() {
		for _, c := range v.LegalBasis {
			if c.String() == basis {
				withBasis[v.ID] = true
			}
		}
	}
	for iter := range 2000 {
		f := Filter{Per: []int{5, 20, 50}[r.IntN(3)], Page: 1 + r.IntN(4)}
		if r.IntN(2) == 0 {
			f.State = []string{"new", "in_review", "closed"}[r.IntN(3)]
		}
		if r.IntN(3) == 0 {
			f.Severity = string(findings.Severities[r.IntN(4)])
		}
		if r.IntN(3) == 0 {
			f.Rule = vs[r.IntN(len(vs))].ID
		}
		if r.IntN(3) == 0 {
			f.Target = tgts[r.IntN(len(tgts))]
		}
		if r.IntN(5) == 0 {
			f.Basis = basis
		}
		if r.IntN(4) == 0 {
			f.SDK = sdks[1+r.IntN(3)]
		}
		if r.IntN(5) == 0 {
			f.LastFrom = base.AddDate(0, 0, r.IntN(30)).Format(time.DateOnly)
		}
		if r.IntN(5) == 0 {
			f.FirstTo = base.AddDate(0, 0, r.IntN(40)).Format(time.DateOnly)
		}
		if r.IntN(6) == 0 {
			f.Q = fmt.Sprintf("host0%d", r.IntN(10))
		}
		if r.IntN(6) == 0 {
			f.Category = []string{"map_navigation", "online_shopping"}[r.IntN(2)]
		}
		f.Sort = []string{"", "", "last_seen", "first_seen"}[r.IntN(4)]
		f.Asc = r.IntN(4) == 0
		var want []expRow
		for _, x := range all {
			if (f.State != "" && x.state != f.State) || (f.Severity != "" && string(x.sev) != f.Severity) ||
				(f.Rule != "" && x.rule != f.Rule) || (f.Target != "" && x.target != f.Target) ||
				(f.Basis != "" && !withBasis[x.rule]) || (f.SDK != "" && x.sdk != f.SDK) ||
				(f.LastFrom != "" && x.last < day(f.LastFrom)) || (f.FirstTo != "" && x.first >= day(f.FirstTo)+86400000) ||
				(f.Q != "" && !strings.Contains(x.subject, f.Q)) || (f.Category != "" && cats[x.target] != f.Category) {
				continue
			}
			want = append(want, x)
		}
		key := func(x expRow) int64 {
			switch f.Sort {
			case "last_seen":
				return x.last
			case "first_seen":
				return x.first
			}
			return x.score
		}
		slices.SortFunc(want, func(a, b expRow) int {
			c := cmp.Or(cmp.Compare(key(a), key(b)), strings.Compare(a.fp, b.fp))
			if !f.Asc {
				c = -c
			}
			return c
		})
		got, err := e.srv.list(ctx, e.srv.langs.get(LangZH), f)
		if err != nil {
			t.Fatal(err)
		}
		lo := min(len(want), (f.Page-1)*f.Per)
		hi := min(len(want), lo+f.Per)
		var wantFPs, gotFPs []string
		for _, x := range want[lo:hi] {
			wantFPs = append(wantFPs, x.fp)
		}
		for _, x := range got.Items {
			gotFPs = append(gotFPs, x.Fingerprint)
		}
		if got.Total != int64(len(want)) || !slices.Equal(gotFPs, wantFPs) {
			t.Fatalf("iteration %d, filter %s: total %d want %d\n got %v\nwant %v", iter, url.Values(f.Values()).Encode(), got.Total, len(want), gotFPs, wantFPs)
		}
	}
}

// The list page (written without the template engine, see listrows.go) escapes everything the
// parties under investigation wrote, and everything from the request: no payload appears as
// markup, each appears escaped, and every catalogue key it names exists in both languages.
func TestListPageEscapes(t *testing.T) {
	e := newEnv(t)
	q := `"><img src=x onerror=alert('q')><script>alert(1)</script>`
	for _, lang := range []string{"zh-CN", "en"} {
		c := e.login(accounts.RoleProsecutor)
		c.get("/lang/" + lang + "?next=/findings")
		path := "/findings?target=" + url.QueryEscape(xssTargetID) + "&q=" + url.QueryEscape(q) + "&first_from=2020-01-01&page=1&per=5"
		for _, p := range []string{"/findings", "/findings?per=5&target=" + url.QueryEscape(xssTargetID), path} {
			res, body := c.get(p)
			if res.StatusCode != 200 {
				t.Fatalf("%s: status %d", p, res.StatusCode)
			}
			for _, bad := range []string{"<script>alert", "<img src=x", `"><img`, "⟦"} {
				if strings.Contains(body, bad) {
					t.Errorf("%s (%s): page contains %q", p, lang, bad)
				}
			}
			if !strings.Contains(body, `name="_csrf"`) || !strings.Contains(body, `id="bulk"`) {
				t.Errorf("%s (%s): bulk or export forms missing", p, lang)
			}
		}
		_, body := c.get("/findings")
		for _, want := range []string{template.HTMLEscapeString(xssName), template.HTMLEscapeString(xssTargetID)} {
			if !strings.Contains(body, want) {
				t.Errorf("(%s) escaped payload %q not shown", lang, want)
			}
		}
		_, body = c.get(path)
		if !strings.Contains(body, template.HTMLEscapeString(q)) {
			t.Errorf("(%s) the search term is not shown back, escaped", lang)
		}
	}
}
