package eval

import (
	"fmt"
	"io"
)

// Comparison is what a re-scan shows against the judged set.
type Comparison struct {
	// FalseFindings are records judged false (fact or party) that came back as tier finding.
	FalseFindings []Record
	// Missing are records judged true that did not come back.
	Missing []Record
	// New are records of the re-scan that are not in the judged set.
	New []Record
	// Changed are judged records that came back with another tier or grade (reported only).
	Changed []string
	// Errors are inputs the re-scan could not scan, or whose hash changed.
	Errors []string
	// Produced are the judged records the re-scan raised again, with the tier and grade it gave
	// them: precision is measured on what pilmon says now, not on records it no longer says.
	Produced []Record
}

// Failed reports whether the comparison breaks the judged set.
func (c Comparison) Failed() bool {
	return len(c.FalseFindings) > 0 || len(c.Missing) > 0 || len(c.Errors) > 0
}

// Compare matches the records of a re-scan against the judged records.
func Compare(judged []Record, scanned []Scanned) Comparison {
	var c Comparison
	byKey := map[string]Record{}
	for _, r := range judged {
		byKey[r.Key()] = r
	}
	seen := map[string]bool{}
	scannedInput := map[string]bool{}
	for _, s := range scanned {
		if s.Err != nil {
			c.Errors = append(c.Errors, fmt.Sprintf("%s: %v", s.Input.Path, s.Err))
			continue
		}
		scannedInput[s.Input.Path] = true
		for _, f := range s.Findings {
			got := FromFinding(s.Input, f)
			k := got.Key()
			seen[k] = true
			j, ok := byKey[k]
			if !ok {
				c.New = append(c.New, got)
				continue
			}
			cur := j
			cur.Tier, cur.Grade = got.Tier, got.Grade
			c.Produced = append(c.Produced, cur)
			if !j.True() && got.Tier == "finding" {
				c.FalseFindings = append(c.FalseFindings, j)
			}
			if got.Tier != j.Tier || got.Grade != j.Grade {
				c.Changed = append(c.Changed, fmt.Sprintf("%s %s %s: %s/%s → %s/%s", j.Input, j.RuleID, j.Subject,
					j.Tier, j.Grade, got.Tier, got.Grade))
			}
		}
	}
	for _, r := range judged {
		if scannedInput[r.Input] && r.True() && !seen[r.Key()] {
			c.Missing = append(c.Missing, r)
		}
	}
	return c
}

// Print writes the comparison.
func (c Comparison) Print(w io.Writer) {
	for _, e := range c.Errors {
		fmt.Fprintln(w, "ERROR", e)
	}
	for _, r := range c.FalseFindings {
		fmt.Fprintf(w, "FALSE FINDING %s %s %s: %s\n", r.Input, r.RuleID, r.Subject, r.Reason)
	}
	for _, r := range c.Missing {
		fmt.Fprintf(w, "MISSING %s %s %s (%s)\n", r.Input, r.RuleID, r.Subject, r.Tier)
	}
	for _, s := range c.Changed {
		fmt.Fprintln(w, "changed", s)
	}
	for _, r := range c.New {
		fmt.Fprintf(w, "new %s %s %s (%s, %s)\n", r.Input, r.RuleID, r.Subject, r.Family, r.Tier)
	}
	fmt.Fprintf(w, "false findings %d, missing %d, changed %d, new %d, errors %d\n",
		len(c.FalseFindings), len(c.Missing), len(c.Changed), len(c.New), len(c.Errors))
}
