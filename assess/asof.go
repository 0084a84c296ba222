package assess

import (
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// OptionAsOf is the source option by which an analyst dates what a source shows (YYYY-MM-DD): the
// law in force on that day is applied to findings read from it, whatever else pilmon knows.
const OptionAsOf = "as_of"

// Provenance says where a scan's observations came from: which source each stored artifact was
// read from and when a live source was captured. Findings are dated from it (asOf).
type Provenance struct {
	// Sources are the target's sources; ScanTime is when the scan ran (the fallback as_of).
	Sources  []scanner.Source
	ScanTime time.Time
	// sourceOf maps an evidence SHA-256 to the index of the source it was read from.
	sourceOf map[string]int
	// captured is the capture time of a source's input, by source index.
	captured map[int]time.Time
}

// ProvenanceOf builds the provenance of a scan result. captured gives the capture time of stored
// artifacts by SHA-256 (what the evidence store recorded); a live source whose input has none is
// dated by the scan's start.
func ProvenanceOf(res *scanner.Result, captured map[string]time.Time) *Provenance {
	p := &Provenance{ScanTime: res.FinishedAt, sourceOf: map[string]int{}, captured: map[int]time.Time{}}
	for _, rep := range res.Reports {
		i := sourceIndex(p.Sources, rep.Source)
		if i < 0 {
			p.Sources = append(p.Sources, rep.Source)
			i = len(p.Sources) - 1
		}
		for k, e := range rep.Evidence {
			if _, dup := p.sourceOf[e.SHA256]; !dup {
				p.sourceOf[e.SHA256] = i
			}
			if k == 0 {
				if t, ok := captured[e.SHA256]; ok && !t.IsZero() {
					p.captured[i] = t.UTC()
				} else if _, ok := p.captured[i]; !ok && !res.StartedAt.IsZero() {
					p.captured[i] = res.StartedAt.UTC()
				}
			}
		}
	}
	return p
}

func sourceIndex(ss []scanner.Source, s scanner.Source) int {
	for i, x := range ss {
		if x.Kind == s.Kind && x.Locator == s.Locator {
			return i
		}
	}
	return -1
}

// targetProvenance is the provenance known from the target alone (Assess without a scan result):
// a policy observation is traced to its source by its locator, and a target with one source
// traces everything to it.
func targetProvenance(t scanner.Target, now time.Time) *Provenance {
	return &Provenance{Sources: t.Sources, ScanTime: now}
}

// liveSource reports whether pilmon captures the source itself at scan time.
func liveSource(k scanner.SourceKind) bool {
	return k == scanner.SourcePolicyURL || k == scanner.SourceH5URL
}

// datedAt is one candidate as_of with where it came from.
type datedAt struct {
	t   time.Time
	src string
}

// asOf dates a finding from the observations that triggered it (see ARCHITECTURE.md, "Law"):
// the analyst's as_of on their source wins; otherwise the latest of each source's own date: the
// capture time for a live capture, the date a policy file states for itself, else the scan time.
// all are the scan's observations (to find the policy document of a source).
func (p *Provenance) asOf(trig, all []scanner.Observation) (time.Time, string) {
	srcs := p.sourcesOf(trig, all)
	if len(srcs) == 0 {
		// Facts with no source (what the scan lacked): the analyst's date for the target, if any.
		for i := range p.Sources {
			srcs = append(srcs, i)
		}
		if best, ok := p.analyst(srcs); ok {
			return best.t, best.src
		}
		return p.ScanTime.UTC(), findings.AsOfScan
	}
	if best, ok := p.analyst(srcs); ok {
		return best.t, best.src
	}
	var best datedAt
	for _, i := range srcs {
		d := p.sourceDate(i, all)
		if best.src == "" || d.t.After(best.t) {
			best = d
		}
	}
	return best.t, best.src
}

func (p *Provenance) analyst(srcs []int) (datedAt, bool) {
	var best datedAt
	for _, i := range srcs {
		if t, err := ParseAsOfOption(p.Sources[i].Options[OptionAsOf]); err == nil && !t.IsZero() {
			if best.src == "" || t.After(best.t) {
				best = datedAt{t, findings.AsOfAnalyst}
			}
		}
	}
	return best, best.src != ""
}

func (p *Provenance) sourceDate(i int, all []scanner.Observation) datedAt {
	s := p.Sources[i]
	if liveSource(s.Kind) {
		if t, ok := p.captured[i]; ok {
			return datedAt{t, findings.AsOfCapture}
		}
		return datedAt{p.ScanTime.UTC(), findings.AsOfCapture}
	}
	for k := range all {
		o := &all[k]
		if o.Kind != "policy.document" || !p.from(o, i) {
			continue
		}
		// The version of the text read: its last update when that is later than its date of effect.
		t, ok := ParseDocumentDate(str(o, "effective_date"))
		if u, uok := ParseDocumentDate(str(o, "updated_date")); uok && (!ok || u.After(t)) {
			t, ok = u, true
		}
		if ok {
			return datedAt{t, findings.AsOfDocument}
		}
	}
	return datedAt{p.ScanTime.UTC(), findings.AsOfScan}
}

// from reports whether observation o was read from source i.
func (p *Provenance) from(o *scanner.Observation, i int) bool {
	for _, r := range o.EvidenceRefs {
		if j, ok := p.sourceOf[r]; ok {
			return j == i
		}
	}
	if o.Kind == "policy.document" && o.Subject == p.Sources[i].Locator {
		return true
	}
	return len(p.sourceOf) == 0 && len(p.Sources) == 1
}

// sourcesOf returns the indexes of the sources the observations were read from.
func (p *Provenance) sourcesOf(trig, all []scanner.Observation) []int {
	var out []int
	add := func(i int) {
		for _, x := range out {
			if x == i {
				return
			}
		}
		out = append(out, i)
	}
	for k := range trig {
		o := &trig[k]
		found := false
		for _, r := range o.EvidenceRefs {
			if i, ok := p.sourceOf[r]; ok {
				add(i)
				found = true
				break
			}
		}
		if found || len(o.EvidenceRefs) == 0 {
			continue
		}
		// Without a scan result: a policy.* fact shares its evidence with its policy.document,
		// whose subject is the source's locator; a target with one source owns every fact.
		if strings.HasPrefix(o.Kind, "policy.") {
			if i, ok := p.policySource(o, all); ok {
				add(i)
				continue
			}
		}
		if len(p.Sources) == 1 {
			add(0)
		}
	}
	return out
}

func (p *Provenance) policySource(o *scanner.Observation, all []scanner.Observation) (int, bool) {
	for k := range all {
		d := &all[k]
		if d.Kind != "policy.document" || !sameRefs(d.EvidenceRefs, o.EvidenceRefs) {
			continue
		}
		for i, s := range p.Sources {
			if s.Locator == d.Subject {
				return i, true
			}
		}
	}
	return 0, false
}

func sameRefs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ParseAsOfOption parses an analyst's as_of (YYYY-MM-DD) as midnight UTC of that day; "" is the
// zero time.
func ParseAsOfOption(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation(rules.DateLayout, s, time.UTC)
	if err != nil {
		return time.Time{}, fmt.Errorf("as_of %q: want a date YYYY-MM-DD", s)
	}
	return t, nil
}

var (
	zhDateRe  = regexp.MustCompile(`(\d{4})\s*年\s*(\d{1,2})\s*月(?:\s*(\d{1,2})\s*日)?`)
	numDateRe = regexp.MustCompile(`(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})`)
	months    = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	enDateRe  = regexp.MustCompile(`(?i)(?:([a-z]+)\s+(\d{1,2}),?\s+(\d{4}))|(?:(\d{1,2})\s+([a-z]+)\s+(\d{4}))`)
)

// ParseDocumentDate reads the date a document states for itself, as the policies inspector
// extracts it ("2025年5月1日", "2025年5月" (the 1st), "2025-05-01", "May 1, 2025", "1 May 2025"),
// as midnight UTC of that day.
func ParseDocumentDate(s string) (time.Time, bool) {
	ymd := func(y, m, d string) (time.Time, bool) {
		yi, _ := strconv.Atoi(y)
		mi, _ := strconv.Atoi(m)
		di := 1
		if d != "" {
			di, _ = strconv.Atoi(d)
		}
		if yi < 1990 || yi > 2200 || mi < 1 || mi > 12 || di < 1 || di > 31 {
			return time.Time{}, false
		}
		t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC)
		if t.Day() != di {
			return time.Time{}, false // 2月30日
		}
		return t, true
	}
	if m := zhDateRe.FindStringSubmatch(s); m != nil {
		return ymd(m[1], m[2], m[3])
	}
	if m := numDateRe.FindStringSubmatch(s); m != nil {
		return ymd(m[1], m[2], m[3])
	}
	if m := enDateRe.FindStringSubmatch(s); m != nil {
		name, d, y := m[1], m[2], m[3]
		if name == "" {
			name, d, y = m[5], m[4], m[6]
		}
		for i, mn := range months {
			if strings.EqualFold(name, mn) {
				return ymd(y, strconv.Itoa(i+1), d)
			}
		}
	}
	return time.Time{}, false
}

// dateLaw applies the law in force at the finding's as_of: its legal basis is what was in force
// then, anchor first and the rest by level. ok is false when the rule's anchor was not in force:
// the finding is not raised, and the log says why.
func (a *Assessor) dateLaw(f *findings.Finding, v *rules.Violation) bool {
	basis, dropped, ok := a.cat.BasisAt(v.LegalBasis, f.AsOf)
	if !ok {
		a.logger().Info("assess: rule not raised: its anchor is not in force at the finding's as_of",
			"rule", v.ID, "target", f.TargetID, "subject", f.Subject, "anchor", v.LegalBasis[0].String(),
			"as_of", f.AsOf.UTC().Format(time.RFC3339), "as_of_source", f.AsOfSource)
		return false
	}
	if len(dropped) > 0 {
		names := make([]string, len(dropped))
		for i, c := range dropped {
			names[i] = c.String()
		}
		a.logger().Debug("assess: citations not in force at the finding's as_of dropped", "rule", v.ID,
			"subject", f.Subject, "as_of", f.AsOf.UTC().Format(time.RFC3339), "dropped", strings.Join(names, ","))
	}
	f.LegalBasis = basis
	return true
}

func (a *Assessor) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.Default()
}

// AssessScan assesses a scan result: each finding dated from where its observations came from
// (ProvenanceOf; captured as there), with the category and the rules the inputs could not decide.
func (a *Assessor) AssessScan(res *scanner.Result, captured map[string]time.Time) Report {
	obs := res.Observations()
	fs, c := a.assess(res.Target, res.ScanID, obs, res.FinishedAt, ProvenanceOf(res, captured))
	return Report{Findings: fs, Category: c, NotAssessed: a.NotAssessed(c, obs)}
}
