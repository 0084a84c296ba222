// Package assess turns one target's observations (every source of one scan together) and the rule
// catalogue into findings a prosecutor can act on.
//
// The generic engine runs every automated violation of the catalogue through rules.Catalogue.Fires.
// What the triggers cannot say is in the rule's YAML entry, its family (families.yaml) and the
// observation kinds (observation_kinds.yaml), and applied by families.go: the finding's subject
// (stable across re-scans), the confidence and its reason, severity adjustments, and vetoes the
// triggers cannot express (PIPL Art. 31 only for targets that suggest minors). Matches of one rule
// with the same subject become one finding carrying all the observations and evidence behind it.
// Summaries come from the rule's summary templates and say specifically what was seen.
package assess

import (
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// Confidence levels of a finding (findings.Finding.Confidence).
const (
	ConfidenceHigh   = "high"
	ConfidenceMedium = "medium"
	ConfidenceLow    = "low"
)

// MaxObservationsPerFinding bounds what one finding carries (the findings store refuses content
// over 4 MiB); the summary says how many more there were.
const MaxObservationsPerFinding = 200

// Assessor turns observations into findings. It is safe for concurrent use.
type Assessor struct {
	cat      *rules.Catalogue
	rules    []autoRule
	tmpl     *templateSet
	kinds    map[string]*kindData
	appKinds []string // observation kinds that show an app or mini-program was inspected
	// Log receives why a rule was not raised (its anchor not in force at as_of); nil is slog.Default.
	Log *slog.Logger
}

// autoRule is one automated violation with what the engine needs to run it cheaply.
type autoRule struct {
	v rules.Violation
	// kinds are the observation kinds Fires must see: trigger kinds, required kinds and the kinds
	// of Unless joins. Other observations cannot change its result.
	kinds []string
	// requires maps a trigger kind to the kinds its triggers require (attached as context).
	requires map[string][]string
	data     *ruleData
}

// New returns an Assessor over the catalogue. It panics if a template of the catalogue does not
// parse, which loading the catalogue already rules out.
func New(cat *rules.Catalogue) *Assessor {
	ts, err := loadTemplates(cat)
	if err != nil {
		panic(err)
	}
	kinds, app, err := compileKinds(cat)
	if err != nil {
		panic(err)
	}
	a := &Assessor{cat: cat, tmpl: ts, kinds: kinds, appKinds: app}
	for _, v := range cat.Violations() {
		if v.Check.Mode != "automated" || len(v.Check.Triggers) == 0 {
			continue
		}
		rd, err := compileRule(cat, &v)
		if err != nil {
			panic(err)
		}
		r := autoRule{v: v, requires: map[string][]string{}, data: rd}
		seen := map[string]bool{}
		add := func(k string) {
			if k != "" && !seen[k] {
				seen[k] = true
				r.kinds = append(r.kinds, k)
			}
		}
		for _, t := range v.Check.Triggers {
			add(t.Kind)
			for _, q := range t.Requires {
				add(q)
				if !slices.Contains(r.requires[t.Kind], q) {
					r.requires[t.Kind] = append(r.requires[t.Kind], q)
				}
			}
			if t.Unless != nil {
				add(t.Unless.Kind)
			}
		}
		a.rules = append(a.rules, r)
	}
	return a
}

// Catalogue returns the catalogue the assessor uses.
func (a *Assessor) Catalogue() *rules.Catalogue { return a.cat }

// obsFact lets Fires match an observation while remembering its index.
type obsFact struct {
	o *scanner.Observation
	i int
}

func (f obsFact) FactKind() string                 { return f.o.Kind }
func (f obsFact) FactAttr(name string) (any, bool) { return f.o.FactAttr(name) }

// group collects the matches of one rule with one subject.
type group struct {
	rule    *autoRule
	subject string
	hits    []hit
	trig    []int // indexes of triggering observations, in input order
	context []int
}

// Assess returns the findings and leads that the observations of one scan of target t support,
// findings first, then by severity (most severe first), rule and subject. Every finding is in state "new" with FirstSeen
// = LastSeen = now; the store keeps the real first-seen time and triage state across scans.
func (a *Assessor) Assess(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time) []findings.Finding {
	fs, _ := a.AssessWithCategory(t, scanID, obs, now)
	return fs
}

// AssessWithCategory is Assess that also returns the app category the findings were judged
// against and why (the one choice the rules saw, so a caller never chooses it a second time).
func (a *Assessor) AssessWithCategory(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time) ([]findings.Finding, CategoryChoice) {
	return a.assess(t, scanID, obs, now, targetProvenance(t, now))
}

func (a *Assessor) assess(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time, prov *Provenance) ([]findings.Finding, CategoryChoice) {
	sc := newScanCtx(a.cat, t, obs)
	sc.prov = prov
	sc.appKinds = a.appKinds
	byKind := map[string][]rules.Fact{}
	for i := range obs {
		byKind[obs[i].Kind] = append(byKind[obs[i].Kind], obsFact{&obs[i], i})
	}
	var groups []*group
	index := map[string]*group{}
	var facts []rules.Fact
	for ri := range a.rules {
		r := &a.rules[ri]
		facts = facts[:0]
		for _, k := range r.kinds {
			facts = append(facts, byKind[k]...)
		}
		if len(facts) == 0 {
			continue
		}
		fired := a.cat.Fires(r.v, sc.category.Key, facts)
		for _, f := range fired {
			of, ok := f.(obsFact)
			if !ok {
				continue
			}
			if !sc.staticReadPossible(of.o) {
				continue
			}
			h, keep := a.refine(sc, r, of.o)
			if !keep {
				continue
			}
			key := r.v.ID + "\x00" + h.subject
			g := index[key]
			if g == nil {
				g = &group{rule: r, subject: h.subject}
				index[key] = g
				groups = append(groups, g)
			}
			g.hits = append(g.hits, h)
			g.trig = append(g.trig, of.i)
			g.context = append(g.context, h.context...)
			for _, q := range r.requires[of.o.Kind] {
				g.context = append(g.context, firstN(sc.byKind[q], 20)...)
			}
		}
	}
	out := make([]findings.Finding, 0, len(groups))
	for _, g := range groups {
		if f, ok := a.finding(sc, g, scanID, now); ok {
			out = append(out, f)
		}
	}
	// reachability ranks once per record, not once per comparison
	reach := make(map[string]int, len(out))
	for i := range out {
		reach[out[i].Fingerprint] = reachRank(out[i].Observations)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if ti, tj := rules.TierRank(out[i].Tier), rules.TierRank(out[j].Tier); ti != tj {
			return ti > tj // findings before leads
		}
		ri, rj := findings.SeverityRank(out[i].Severity), findings.SeverityRank(out[j].Severity)
		if ri != rj {
			return ri > rj
		}
		// among leads of one severity, a call reached at app start first (reach.go)
		if ci, cj := reach[out[i].Fingerprint], reach[out[j].Fingerprint]; ci != cj {
			return ci > cj
		}
		if out[i].RuleID != out[j].RuleID {
			return out[i].RuleID < out[j].RuleID
		}
		return out[i].Subject < out[j].Subject
	})
	return out, sc.category
}

func firstN(s []int, n int) []int {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// finding builds one finding from a group: the most severe adjusted severity, the strongest
// confidence, the summary rendered from the triggering observations, the law in force at its
// as_of; ok is false when the rule's anchor was not in force then.
func (a *Assessor) finding(sc *scanCtx, g *group, scanID string, now time.Time) (findings.Finding, bool) {
	v := g.rule.v
	sev := v.Severity
	best := -1
	for i, h := range g.hits {
		s := h.severity
		if s == "" {
			s = v.Severity
		}
		if i == 0 || findings.SeverityRank(s) > findings.SeverityRank(sev) {
			sev = s
		}
		if best < 0 || confRank(h.confidence) > confRank(g.hits[best].confidence) {
			best = i
		}
	}
	conf, reason := ConfidenceLow, rules.Text{}
	if best >= 0 {
		conf, reason = g.hits[best].confidence, g.hits[best].reason
	}
	// The grade is the strongest any triggering observation supports for the rule's claim; the
	// tier follows from it (rules.TierOf: static and inferred records are always leads).
	grade := rules.GradeInferred
	for _, h := range g.hits {
		if rules.GradeRank(h.grade) > rules.GradeRank(grade) {
			grade = h.grade
		}
	}
	tier := rules.TierOf(&v, grade)
	if g.rule.data.categoryDependent && sc.category.Suggested && sc.category.Key != "" {
		// a category pilmon only suggested cannot carry a finding: the record is a lead that
		// says which category was suggested and why
		conf = lowerConfidence(conf)
		reason = joinText(reason, sc.category.Reason)
		tier = rules.TierLead
	}
	trig := uniqueInts(g.trig)
	seen := map[int]bool{}
	var idx []int
	for _, i := range trig {
		seen[i] = true
		idx = append(idx, i)
	}
	for _, i := range g.context {
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	more := 0
	if len(idx) > MaxObservationsPerFinding {
		more = len(idx) - MaxObservationsPerFinding
		idx = idx[:MaxObservationsPerFinding]
	}
	var obs []scanner.Observation
	refs := map[string]bool{}
	for _, i := range idx {
		obs = append(obs, sc.obs[i])
	}
	// evidence: every observation behind the finding, including those cut from the list
	for _, i := range append(trig, g.context...) {
		for _, r := range sc.obs[i].EvidenceRefs {
			refs[r] = true
		}
	}
	var evid []string
	for r := range refs {
		evid = append(evid, r)
	}
	sort.Strings(evid)
	trigObs := make([]scanner.Observation, 0, len(trig))
	for _, i := range trig {
		trigObs = append(trigObs, sc.obs[i])
	}
	sum := a.tmpl.render(sc, &v, g.subject, grade, tier, trigObs)
	if zh, en := reachSentence(trigObs); zh != "" {
		sum.ZH += zh
		sum.EN += en
	}
	if more > 0 {
		sum.ZH += fmt.Sprintf("（另有 %d 条相关观察未列出）", more)
		sum.EN += fmt.Sprintf(" (%d more related observations not listed)", more)
	}
	f := findings.Finding{
		Fingerprint:      findings.Fingerprint(sc.target.ID, v.ID, g.subject),
		TargetID:         sc.target.ID,
		RuleID:           v.ID,
		RuleVersion:      v.Version,
		Subject:          g.subject,
		Severity:         sev,
		Tier:             tier,
		Grade:            grade,
		LegalBasis:       slices.Clone(v.LegalBasis),
		Summary:          sum,
		Caveat:           v.Caveat,
		Observations:     obs,
		EvidenceRefs:     evid,
		FirstSeen:        now.UTC(),
		LastSeen:         now.UTC(),
		LastScanID:       scanID,
		State:            findings.StateNew,
		Confidence:       conf,
		ConfidenceReason: reason,
	}
	f.AsOf, f.AsOfSource = sc.prov.asOf(trigObs, sc.obs)
	return f, a.dateLaw(&f, &v)
}

func uniqueInts(s []int) []int {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func confRank(c string) int {
	switch c {
	case ConfidenceHigh:
		return 3
	case ConfidenceMedium:
		return 2
	case ConfidenceLow:
		return 1
	}
	return 0
}

func lowerConfidence(c string) string {
	if c == ConfidenceHigh {
		return ConfidenceMedium
	}
	return ConfidenceLow
}

func joinText(a, b rules.Text) rules.Text {
	j := func(x, y, sep string) string {
		switch {
		case x == "":
			return y
		case y == "":
			return x
		}
		return x + sep + y
	}
	return rules.Text{ZH: j(a.ZH, b.ZH, "；"), EN: j(a.EN, b.EN, "; ")}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// str returns a string attribute ("" when absent or of another type).
func str(o *scanner.Observation, name string) string {
	v, _ := o.Attributes[name].(string)
	return v
}

// boolAttr returns a bool attribute and whether it was a bool.
func boolAttr(o *scanner.Observation, name string) (bool, bool) {
	v, ok := o.Attributes[name].(bool)
	return v, ok
}

// intAttr returns a numeric attribute as int.
func intAttr(o *scanner.Observation, name string) (int, bool) {
	switch x := o.Attributes[name].(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case int32:
		return int(x), true
	case float64:
		return int(x), true
	case uint64:
		return int(x), true
	}
	return 0, false
}

// strs returns a list attribute as strings ([]string, []any of strings, or one string).
func strs(o *scanner.Observation, name string) []string {
	switch x := o.Attributes[name].(type) {
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if x != "" {
			return []string{x}
		}
	}
	return nil
}
