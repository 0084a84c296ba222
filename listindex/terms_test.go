package listindex

import (
	"slices"
	"strings"
	"testing"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// TestSearchByCatalogueNames: a finding about an IMEI sent to Umeng is found by 友盟, Umeng, IMEI
// and the PI category's English name; one about contacts by 通讯录; neither by the other's words.
// Citing finds the findings that cite an artifact, through their observations too.
func TestSearchByCatalogueNames(t *testing.T) {
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{strs: map[string]string{}}
	ix.SetTerms(CatalogueTerms(cat))
	har := strings.Repeat("a", 64)
	imei := ix.entry("fp1", store.Stored{Finding: findings.Finding{TargetID: "app.x", RuleID: "r1", Subject: "pi:device_id_hw->ulogs.umeng.com",
		Severity: "high", Observations: []scanner.Observation{{Kind: "traffic.pi_sent", EvidenceRefs: []string{har}}}}})
	contacts := ix.entry("fp2", store.Stored{Finding: findings.Finding{TargetID: "app.x", RuleID: "r2", Subject: "pi:contacts@app",
		Severity: "high", EvidenceRefs: []string{strings.Repeat("b", 64)}}})
	plain := &Index{strs: map[string]string{}}
	bare := plain.entry("fp1", store.Stored{Finding: findings.Finding{TargetID: "app.x", RuleID: "r1", Subject: "pi:device_id_hw->ulogs.umeng.com", Severity: "high"}})
	sn := snapshotOf([]*Entry{imei, contacts})
	for _, c := range []struct {
		q    string
		want string
	}{{"友盟", "fp1"}, {"umeng+", "fp1"}, {"IMEI", "fp1"}, {"hardware identifiers", "fp1"}, {"通讯录", "fp2"}, {"address book", "fp2"}} {
		q := Query{Text: strings.ToLower(c.q), Lim: 10}
		q.FirstLo, q.FirstHi = AnyTime()
		q.LastLo, q.LastHi = AnyTime()
		n, es := sn.Query(q)
		if n != 1 || es[0].fp != c.want {
			t.Errorf("search %q: %d hits, want only %s", c.q, n, c.want)
		}
	}
	if strings.Contains(bare.hay, "友盟") {
		t.Error("an index without terms added catalogue names")
	}
	if got := sn.Citing(har, 10); len(got) != 1 || got[0].fp != "fp1" {
		t.Errorf("Citing(HAR) = %v, want fp1", got)
	}
	if got := sn.Citing(strings.Repeat("c", 64), 10); len(got) != 0 {
		t.Errorf("Citing(unknown) = %v", got)
	}
}

// TestSearchByFingerprints: a search that names findings by something the index does not hold
// (a case's document number, resolved by the caller) finds exactly those, on top of its text.
func TestSearchByFingerprints(t *testing.T) {
	ix := &Index{strs: map[string]string{}}
	a := ix.entry("fpa", store.Stored{Finding: findings.Finding{TargetID: "app.x", RuleID: "r1", Subject: "s1", Severity: "high"}})
	b := ix.entry("fpb", store.Stored{Finding: findings.Finding{TargetID: "app.x", RuleID: "r2", Subject: "s2", Severity: "high"}})
	sn := snapshotOf([]*Entry{a, b})
	q := Query{Text: "京检行公建〔2026〕7号", TextFingerprints: map[string]bool{"fpb": true}, Lim: 10}
	q.FirstLo, q.FirstHi = AnyTime()
	q.LastLo, q.LastHi = AnyTime()
	if n, es := sn.Query(q); n != 1 || es[0].fp != "fpb" {
		t.Errorf("by fingerprint: %d hits", n)
	}
	q.TextFingerprints = nil
	if n, _ := sn.Query(q); n != 0 {
		t.Errorf("without the fingerprints the number matches %d findings, want none", n)
	}
}

// TestOnlyAndExcept: Only keeps exactly the named findings, Except drops them, each combined
// with the other conditions (the findings list's deadline filter and sort rest on both).
func TestOnlyAndExcept(t *testing.T) {
	ix := &Index{strs: map[string]string{}}
	var es []*Entry
	for _, c := range []struct{ fp, sev string }{{"fpa", "high"}, {"fpb", "high"}, {"fpc", "low"}} {
		es = append(es, ix.entry(c.fp, store.Stored{Finding: findings.Finding{TargetID: "app.x", RuleID: "r1", Subject: c.fp, Severity: rules.Severity(c.sev)}}))
	}
	sn := snapshotOf(es)
	fps := func(q Query) []string {
		q.FirstLo, q.FirstHi = AnyTime()
		q.LastLo, q.LastHi = AnyTime()
		q.Lim = 10
		n, page := sn.Query(q)
		var out []string
		for _, e := range page {
			out = append(out, e.fp)
		}
		if n != len(out) {
			t.Errorf("%+v: total %d, page %v", q, n, out)
		}
		slices.Sort(out)
		return out
	}
	high := findings.SeverityRank("high")
	for _, c := range []struct {
		q    Query
		want []string
	}{
		{Query{Only: map[string]bool{"fpa": true, "fpc": true}}, []string{"fpa", "fpc"}},
		{Query{Only: map[string]bool{"fpa": true, "fpc": true}, Sev: high}, []string{"fpa"}},
		{Query{Only: map[string]bool{"nope": true}}, nil},
		{Query{Only: map[string]bool{}}, nil},
		{Query{Except: map[string]bool{"fpa": true}}, []string{"fpb", "fpc"}},
		{Query{Except: map[string]bool{"fpa": true}, Sev: high}, []string{"fpb"}},
		{Query{Except: map[string]bool{"fpa": true, "fpb": true, "fpc": true}}, nil},
		{Query{Only: map[string]bool{"fpa": true, "fpb": true}, Except: map[string]bool{"fpa": true}}, []string{"fpb"}},
	} {
		if got := fps(c.q); !slices.Equal(got, c.want) {
			t.Errorf("only %v except %v sev %d: %v, want %v", c.q.Only, c.q.Except, c.q.Sev, got, c.want)
		}
	}
}
