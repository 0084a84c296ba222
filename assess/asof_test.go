package assess

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/scanner"
)

// policyScan is a policy with no contact details and no storage location, dated by itself.
func policyScan(kind scanner.SourceKind, locator, dated string, opts map[string]string) (scanner.Target, []scanner.Observation) {
	t := scanner.Target{ID: "app:dated", Kind: scanner.TargetApp, Name: "dated",
		Sources: []scanner.Source{{Kind: kind, Locator: locator, Options: opts}}}
	refs := []string{"policy-sha"}
	o := func(kind, subject string, attrs map[string]any) scanner.Observation {
		return scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs, EvidenceRefs: refs, Inspector: "policies", InspectorVersion: "1"}
	}
	return t, []scanner.Observation{
		o("policy.document", locator, map[string]any{"language": "zh", "title": "隐私政策", "chars": 5000, "is_privacy_policy": true, "effective_date": dated}),
		o("policy.element", "contact", map[string]any{"element": "contact", "present": false}),
		o("policy.element", "storage_location", map[string]any{"element": "storage_location", "present": false}),
	}
}

func byRule(fs []findings.Finding, id string) (findings.Finding, bool) {
	for _, f := range fs {
		if f.RuleID == id {
			return f, true
		}
	}
	return findings.Finding{}, false
}

func citesInstrument(f findings.Finding, id string) bool {
	for _, c := range f.LegalBasis {
		if c.Instrument == id {
			return true
		}
	}
	return false
}

func quietAssessor(t *testing.T) (*Assessor, *bytes.Buffer) {
	a := New(mustCatalogue(t))
	var buf bytes.Buffer
	a.Log = slog.New(slog.NewTextHandler(&buf, nil))
	return a, &buf
}

// A policy file dated before the PIPL took effect cites no PIPL article: a rule anchored in the
// PIPL is not raised (the log says why), one anchored in a standard then in force is raised
// without its PIPL citations. The same policy dated after 2021-11-01 cites the PIPL.
func TestDocumentBeforePIPLCitesNoPIPL(t *testing.T) {
	a, log := quietAssessor(t)
	scanTime := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tg, obs := policyScan(scanner.SourcePolicyFile, "/cases/old-policy.html", "更新日期：2021年6月1日", nil)
	fs := a.Assess(tg, "scan-1", obs, scanTime)
	if _, ok := byRule(fs, "pipl-17-no-contact"); ok {
		t.Error("pipl-17-no-contact raised for a policy dated 2021-06-01")
	}
	if !strings.Contains(log.String(), "rule=pipl-17-no-contact") || !strings.Contains(log.String(), "anchor=pipl:17") || !strings.Contains(log.String(), "as_of=2021-06-01T00:00:00Z") {
		t.Errorf("no log line says why pipl-17-no-contact was not raised:\n%s", log)
	}
	f, ok := byRule(fs, "gbt35273-5.5-no-storage-location")
	if !ok {
		t.Fatalf("gbt35273-5.5-no-storage-location not raised; got %v", ruleIDs(fs))
	}
	if citesInstrument(f, "pipl") || f.AsOfSource != findings.AsOfDocument || !f.AsOf.Equal(time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("before the PIPL: basis %v as_of %s (%s)", f.LegalBasis, f.AsOf, f.AsOfSource)
	}
	if f.LegalBasis[0].Level != "recommended_standard" {
		t.Errorf("anchor level %q", f.LegalBasis[0].Level)
	}

	tg, obs = policyScan(scanner.SourcePolicyFile, "/cases/new-policy.html", "本政策自2022年1月1日起生效。", nil)
	fs = a.Assess(tg, "scan-2", obs, scanTime)
	f, ok = byRule(fs, "pipl-17-no-contact")
	if !ok || !citesInstrument(f, "pipl") || f.AsOfSource != findings.AsOfDocument || f.AsOf.Year() != 2022 {
		t.Fatalf("policy dated 2022: pipl-17-no-contact %v %+v", ok, f.LegalBasis)
	}
	if f.LegalBasis[0].Instrument != "pipl" || f.LegalBasis[0].Level != "law" {
		t.Errorf("anchor %+v", f.LegalBasis[0])
	}
	if citesInstrument(f, "ndsr2024") {
		t.Error("a policy dated 2022 cites the 2025 regulation")
	}
}

// The analyst's as_of on the source overrides the date the document states for itself.
func TestAnalystAsOfOverridesDocumentDate(t *testing.T) {
	a, _ := quietAssessor(t)
	scanTime := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tg, obs := policyScan(scanner.SourcePolicyFile, "/cases/p.html", "更新日期：2021年6月1日", map[string]string{OptionAsOf: "2025-06-30"})
	fs := a.Assess(tg, "scan-1", obs, scanTime)
	f, ok := byRule(fs, "pipl-17-no-contact")
	if !ok {
		t.Fatalf("not raised with the analyst's as_of 2025-06-30: %v", ruleIDs(fs))
	}
	if f.AsOfSource != findings.AsOfAnalyst || !f.AsOf.Equal(time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("as_of %s (%s), want the analyst's 2025-06-30", f.AsOf, f.AsOfSource)
	}
	if !citesInstrument(f, "ndsr2024") {
		t.Errorf("the regulation in force on 2025-06-30 is not cited: %v", f.LegalBasis)
	}
	// without the option the document date applies
	tg.Sources[0].Options = nil
	f, _ = byRule(a.Assess(tg, "scan-2", obs, scanTime), "gbt35273-5.5-no-storage-location")
	if f.AsOfSource != findings.AsOfDocument {
		t.Errorf("without the option: as_of source %q", f.AsOfSource)
	}
}

// A live capture is dated by its capture time, a file without a date of its own by the scan; the
// CSL citation follows the numbering in force then.
func TestCaptureAndScanTimeAndCSLVersion(t *testing.T) {
	a, _ := quietAssessor(t)
	res := &scanner.Result{ScanID: "scan-1", StartedAt: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), FinishedAt: time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)}
	tg, obs := policyScan(scanner.SourcePolicyURL, "https://example.cn/privacy", "2020年1月1日", nil)
	res.Target = tg
	res.Reports = []scanner.Report{{Source: tg.Sources[0], Status: scanner.StatusSucceeded, Observations: obs, Evidence: []evidence.Ref{{SHA256: "policy-sha"}}}}
	captured := time.Date(2025, 12, 31, 15, 0, 0, 0, time.UTC) // 2025-12-31 23:00 in Beijing
	fs := a.AssessScan(res, map[string]time.Time{"policy-sha": captured}).Findings
	f, ok := byRule(fs, "pipl-17-no-contact")
	if !ok {
		t.Fatalf("not raised: %v", ruleIDs(fs))
	}
	if f.AsOfSource != findings.AsOfCapture || !f.AsOf.Equal(captured) {
		t.Errorf("live capture: as_of %s (%s), want the capture time", f.AsOf, f.AsOfSource)
	}

	// the same facts from a file with no stated date: the scan time, 2026 numbering
	tg, obs = policyScan(scanner.SourcePolicyFile, "/cases/undated.html", "", nil)
	obs = append(obs, scanner.Observation{Kind: "policy.element", Subject: "account_cancellation",
		Attributes: map[string]any{"element": "account_cancellation", "present": false}, EvidenceRefs: []string{"policy-sha"}})
	for _, tc := range []struct {
		now  time.Time
		want string
	}{{time.Date(2025, 12, 31, 12, 0, 0, 0, time.UTC), "43@2017"}, {time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC), "45@2026"}} {
		f, ok := byRule(a.Assess(tg, "scan-x", obs, tc.now), "pipl-47-no-deletion")
		if !ok || f.AsOfSource != findings.AsOfScan || !f.AsOf.Equal(tc.now) {
			t.Fatalf("%s: %v %s %s", tc.now, ok, f.AsOf, f.AsOfSource)
		}
		var csl string
		for _, c := range f.LegalBasis {
			if c.Instrument == "csl" {
				csl = c.Article + "@" + c.Version
			}
		}
		if csl != tc.want {
			t.Errorf("%s: cites CSL %q, want %s", tc.now, csl, tc.want)
		}
	}
}

func TestParseDocumentDate(t *testing.T) {
	for in, want := range map[string]string{
		"更新日期：2025年5月1日": "2025-05-01", "2023 年 12 月": "2023-12-01", "2024-03-09": "2024-03-09",
		"2024/3/9": "2024-03-09", "May 1, 2025": "2025-05-01", "1 May 2025": "2025-05-01",
	} {
		got, ok := ParseDocumentDate(in)
		if !ok || got.Format("2006-01-02") != want {
			t.Errorf("%q = %s %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "2025年2月30日", "近期更新", "1899年1月1日"} {
		if got, ok := ParseDocumentDate(in); ok {
			t.Errorf("%q = %s, want no date", in, got)
		}
	}
}
