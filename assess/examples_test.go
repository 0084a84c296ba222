package assess

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

var t0 = time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)

func mustCatalogue(t testing.TB) *rules.Catalogue {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// exampleObservations turns a rule example into what inspectors would have emitted.
func exampleObservations(ex rules.Example) []scanner.Observation {
	out := make([]scanner.Observation, 0, len(ex.Observations))
	for _, f := range ex.Observations {
		out = append(out, scanner.Observation{Kind: f.Kind, Subject: f.Subject, Attributes: f.Attributes,
			EvidenceRefs: []string{"example-" + f.Kind}, Inspector: "example", InspectorVersion: "1"})
	}
	return out
}

func raised(fs []findings.Finding, rule string) []findings.Finding {
	var out []findings.Finding
	for _, f := range fs {
		if f.RuleID == rule {
			out = append(out, f)
		}
	}
	return out
}

var (
	han   = regexp.MustCompile(`\p{Han}`)
	latin = regexp.MustCompile(`\b[A-Za-z]{2,}\b`)
)

// TestCatalogueExamplesThroughAssess: every automated violation fires on each of its positive
// examples and stays silent on each negative one, driven from violations.yaml, through Assess
// (families, vetoes and grouping included), and every finding it raises is complete.
func TestCatalogueExamplesThroughAssess(t *testing.T) {
	cat := mustCatalogue(t)
	a := New(cat)
	n := 0
	for _, v := range cat.Violations() {
		if v.Check.Mode != "automated" {
			continue
		}
		n++
		if len(v.Check.Examples.Positive) == 0 || len(v.Check.Examples.Negative) == 0 {
			t.Errorf("%s: automated rule without positive and negative examples", v.ID)
		}
		for i, ex := range v.Check.Examples.Positive {
			target := scanner.Target{ID: "example:" + v.ID, Category: ex.Category}
			fs := a.Assess(target, "scan-1", exampleObservations(ex), t0)
			got := raised(fs, v.ID)
			if len(got) == 0 {
				t.Errorf("%s positive #%d (%s): did not fire; raised %v", v.ID, i+1, ex.Note, ruleIDs(fs))
				continue
			}
			for _, f := range got {
				checkFinding(t, cat, v, f)
			}
		}
		for i, ex := range v.Check.Examples.Negative {
			target := scanner.Target{ID: "example:" + v.ID, Category: ex.Category}
			if got := raised(a.Assess(target, "scan-1", exampleObservations(ex), t0), v.ID); len(got) > 0 {
				t.Errorf("%s negative #%d (%s): fired with subject %q: %s", v.ID, i+1, ex.Note, got[0].Subject, got[0].Summary.ZH)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d automated violations in the catalogue", n)
	}
}

func ruleIDs(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+" "+f.Subject)
	}
	return out
}

// checkFinding asserts what every finding must carry.
func checkFinding(t *testing.T, cat *rules.Catalogue, v rules.Violation, f findings.Finding) {
	t.Helper()
	fb := fallbackSummary(&v, f.Subject)
	switch {
	case f.Fingerprint != findings.Fingerprint(f.TargetID, f.RuleID, f.Subject):
		t.Errorf("%s: fingerprint %s does not match", v.ID, f.Fingerprint)
	case f.RuleVersion != v.Version || f.Severity == "" || len(f.LegalBasis) == 0 || f.LegalBasis[0].Instrument != v.LegalBasis[0].Instrument || f.LegalBasis[0].Level == "":
		t.Errorf("%s: rule version, severity or legal basis wrong: %+v", v.ID, f)
	case f.Summary == fb:
		t.Errorf("%s: summary fell back to the rule title (no template for kind %s?)", v.ID, f.Observations[0].Kind)
	case !han.MatchString(f.Summary.ZH) || len(latin.FindAllString(f.Summary.EN, -1)) < 5:
		t.Errorf("%s: summary not zh + en: %+v", v.ID, f.Summary)
	case strings.Contains(f.Summary.ZH+f.Summary.EN, "<no value>") || strings.Contains(f.Summary.ZH+f.Summary.EN, "%!"):
		t.Errorf("%s: summary has unfilled values: %+v", v.ID, f.Summary)
	case f.Confidence == "" || f.ConfidenceReason.ZH == "" || f.ConfidenceReason.EN == "":
		t.Errorf("%s: no confidence or reason: %q %+v", v.ID, f.Confidence, f.ConfidenceReason)
	case len(f.Observations) == 0 || len(f.EvidenceRefs) == 0:
		t.Errorf("%s: no observations or evidence", v.ID)
	case f.Subject == "" || strings.Contains(f.Subject, "/tmp") || strings.Contains(f.Subject, "https://"):
		t.Errorf("%s: unstable subject %q", v.ID, f.Subject)
	case f.State != findings.StateNew || f.LastScanID == "":
		t.Errorf("%s: state %s scan %s", v.ID, f.State, f.LastScanID)
	}
	if _, ok := cat.Violation(f.RuleID); !ok {
		t.Errorf("unknown rule %s", f.RuleID)
	}
	if rules.GradeRank(f.Grade) == 0 || rules.TierRank(f.Tier) == 0 {
		t.Errorf("%s: tier %q grade %q", v.ID, f.Tier, f.Grade)
	}
	if f.Tier == rules.TierFinding && rules.TierOf(&v, f.Grade) != rules.TierFinding {
		t.Errorf("%s: a finding of grade %s", v.ID, f.Grade)
	}
}

// Every automated violation names a family of families.yaml, so none is assessed without a
// reviewed subject and confidence.
func TestEveryAutomatedViolationHasAFamily(t *testing.T) {
	cat := mustCatalogue(t)
	for _, v := range cat.Violations() {
		if v.Check.Mode != "automated" {
			continue
		}
		if _, ok := cat.Family(v.Family); !ok {
			t.Errorf("%s: family %q is not in families.yaml", v.ID, v.Family)
		}
	}
}

// The summary templates' placeholders that the catalogue validates (rules.SummaryFields) are
// exactly the fields of the data they are rendered with.
func TestSummaryFieldsMatchTemplateData(t *testing.T) {
	var got []string
	rt := reflect.TypeOf(tmplData{})
	for i := 0; i < rt.NumField(); i++ {
		if rt.Field(i).IsExported() {
			got = append(got, rt.Field(i).Name)
		}
	}
	want := slices.Clone(rules.SummaryFields)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("tmplData fields %v, rules.SummaryFields %v", got, want)
	}
}

// Every trigger kind of every automated rule has a template.
func TestEveryTriggerKindHasATemplate(t *testing.T) {
	cat := mustCatalogue(t)
	ts, err := loadTemplates(cat)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, v := range cat.Violations() {
		for _, tr := range v.Check.Triggers {
			for _, g := range rules.Grades {
				if _, ok := ts.lookup(v.ID, tr.Kind, g); !ok {
					t.Errorf("no summary template for %s, kind %s, grade %s", v.ID, tr.Kind, g)
				}
				used[v.ID+"|"+tr.Kind+"|"+g] = true
				used[v.ID+"|"+tr.Kind+"|"] = true
			}
		}
		for _, s := range v.Summaries {
			if s.Kind == "*" {
				used[v.ID+"|*|"+s.Grade] = true
			}
		}
	}
	for _, k := range ts.templateKeys() {
		if !used[k] {
			t.Errorf("template %s matches no trigger of the catalogue", k)
		}
	}
}
