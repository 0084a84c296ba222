package assess

import (
	"fmt"
	"time"

	"pilmon/findings"
	"pilmon/rules"
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
		} else if why, ok := undecided(v, obs); ok {
			out = append(out, findings.NotAssessed{RuleID: v.ID, Reason: why})
		}
	}
	return out
}

// undecided reports whether a trigger of the rule would match an observation but for an attribute
// the rule wants true or false and the observation has "unclear" (a tristate: a policy sentence
// that uses an element's words without stating it). Such a fact decides the rule neither way: it
// is listed as not assessed, with the candidate quote to read.
func undecided(v *rules.Violation, obs []scanner.Observation) (rules.Text, bool) {
	for _, t := range v.Check.Triggers {
		for i := range obs {
			o := &obs[i]
			if o.Kind != t.Kind || len(t.Where) == 0 {
				continue
			}
			unclear, match := false, true
			for k, want := range t.Where {
				got, ok := o.Attributes[k]
				if k == "subject" {
					got, ok = o.Subject, true
				}
				if _, isBool := want.(bool); isBool && got == rules.TristateUnclear {
					unclear = true
					continue
				}
				if !ok || !whereHas(want, got) {
					match = false
					break
				}
			}
			if match && unclear {
				q, _ := o.Attributes["quote"].(string)
				return rules.Text{
					ZH: fmt.Sprintf("政策文本的相关表述不明确（“%s”），不能据此认定有或无，需人工通读。", q),
					EN: fmt.Sprintf("The policy's wording on this is unclear (%q): it shows neither presence nor absence; read it.", q),
				}, true
			}
		}
	}
	return rules.Text{}, false
}

// whereHas: the attribute value got equals want, or one of want's items when want is a list.
func whereHas(want, got any) bool {
	if list, ok := want.([]any); ok {
		for _, w := range list {
			if fmt.Sprint(w) == fmt.Sprint(got) {
				return true
			}
		}
		return false
	}
	return fmt.Sprint(want) == fmt.Sprint(got)
}
