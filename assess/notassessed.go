package assess

import (
	"time"

	"pilmon/findings"
	"pilmon/scanner"
)

// Report is what one scan's assessment says: the findings and leads, the app category they were
// judged against, and the rules the scan's inputs could not decide.
type Report struct {
	Findings    []findings.Finding
	Category    CategoryChoice
	NotAssessed []findings.NotAssessed
}

// AssessReport is AssessWithCategory that also lists the rules the scan's inputs could not
// decide (see NotAssessed).
func (a *Assessor) AssessReport(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time) Report {
	fs, c := a.AssessWithCategory(t, scanID, obs, now)
	return Report{Findings: fs, Category: c, NotAssessed: a.NotAssessed(c, obs)}
}

// NotAssessed lists, in catalogue order, the automated rules whose declared inputs (rules.Inputs:
// scan.inventory flags and "category") the scan did not have, each with the reason in both
// languages. A scan without a scan.inventory observation (observations assembled by hand) says
// nothing about its inputs, so nothing is listed.
func (a *Assessor) NotAssessed(c CategoryChoice, obs []scanner.Observation) []findings.NotAssessed {
	var inv *scanner.Observation
	for i := range obs {
		if obs[i].Kind == "scan.inventory" {
			inv = &obs[i]
			break
		}
	}
	if inv == nil {
		return nil
	}
	has := func(flag string) bool {
		if flag == "category" {
			return c.Key != ""
		}
		b, _ := boolAttr(inv, flag)
		return b
	}
	out := []findings.NotAssessed{}
	for i := range a.rules {
		v := &a.rules[i].v
		if why, missing := v.Inputs.Missing(has); missing {
			out = append(out, findings.NotAssessed{RuleID: v.ID, Reason: why})
		}
	}
	return out
}
