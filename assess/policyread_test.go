package assess

import (
	"strings"
	"testing"
	"time"

	"pilmon/findings"
	"pilmon/scanner"
)

// A policy's last update dates it when it is later than its date of effect: the findings read the
// version of the text that was captured.
func TestUpdatedDateFeedsAsOf(t *testing.T) {
	a, _ := quietAssessor(t)
	tg, obs := policyScan(scanner.SourcePolicyFile, "/cases/p.html", "2021-06-01", nil)
	obs[0].Attributes["updated_date"] = "2022-01-10"
	f, ok := byRule(a.Assess(tg, "scan-1", obs, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), "gbt35273-5.5-no-storage-location")
	if !ok {
		t.Fatal("no finding to read as_of from")
	}
	if f.AsOfSource != findings.AsOfDocument || !f.AsOf.Equal(time.Date(2022, 1, 10, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("as_of %s (%s), want the updated date 2022-01-10", f.AsOf, f.AsOfSource)
	}
	// an update date earlier than the date of effect does not move it back
	obs[0].Attributes["updated_date"] = "2020-01-01"
	f, _ = byRule(a.Assess(tg, "scan-1", obs, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)), "gbt35273-5.5-no-storage-location")
	if !f.AsOf.Equal(time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("as_of %s, want the date of effect 2021-06-01", f.AsOf)
	}
}

// An element the policy only seems to state ("unclear") decides nothing: the rule that fires on
// its absence does not fire, while the same element absent does.
func TestUnclearElementIsNoFindingOfAbsence(t *testing.T) {
	a, _ := quietAssessor(t)
	tg, obs := policyScan(scanner.SourcePolicyFile, "/cases/p.html", "2023-05-01", nil)
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := byRule(a.Assess(tg, "scan-1", obs, at), "gbt35273-5.5-no-storage-location"); !ok {
		t.Fatal("absent storage location raised nothing: the negative case below would prove nothing")
	}
	obs[2].Attributes["present"] = "unclear"
	obs[2].Attributes["quote"] = "我们会依法保存您的信息。"
	if f, ok := byRule(a.Assess(tg, "scan-1", obs, at), "gbt35273-5.5-no-storage-location"); ok {
		t.Errorf("an unclear element raised %s (%s)", f.RuleID, f.Tier)
	}
}

// The rule an unclear element would decide is listed as not assessed, with the candidate quote;
// the same element absent raises the rule and is not listed.
func TestUnclearElementIsNotAssessed(t *testing.T) {
	a, _ := quietAssessor(t)
	tg, obs := policyScan(scanner.SourcePolicyFile, "/cases/p.html", "2023-05-01", nil)
	inv := scanner.Observation{Kind: "scan.inventory", Subject: "app:dated", Attributes: map[string]any{"has_app": false, "has_policy": true, "has_traffic": false, "has_runtime": false, "policy_link_found": false}}
	obs = append(obs, inv)
	listed := func(rep Report) (string, bool) {
		for _, n := range rep.NotAssessed {
			if n.RuleID == "gbt35273-5.5-no-storage-location" {
				return n.Reason.ZH, true
			}
		}
		return "", false
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	if _, ok := listed(a.AssessReport(tg, "scan-1", obs, at)); ok {
		t.Error("an absent element is listed as not assessed")
	}
	obs[2].Attributes["present"] = "unclear"
	obs[2].Attributes["quote"] = "我们会依法保存您的信息。"
	why, ok := listed(a.AssessReport(tg, "scan-1", obs, at))
	if !ok || !strings.Contains(why, "我们会依法保存您的信息") {
		t.Errorf("unclear element: not assessed %v, reason %q", ok, why)
	}
}
