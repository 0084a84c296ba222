package rules

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// What a record establishes. Every observation kind declares the grade of what it shows
// (observation_kinds.yaml, grade); a finding's grade is the strongest its triggering observations
// support, capped by its rule (violations.yaml, grade_cap); its tier follows from the grade unless
// the rule says tier: lead (a claim that needs functional context whatever the evidence).
const (
	// GradeObserved: runtime behaviour (traffic matched to a device value, hook logs).
	GradeObserved = "observed"
	// GradeDeclared: the operator's own statement (manifest, privacy policy, app.json).
	GradeDeclared = "declared"
	// GradeStatic: code in the package that can do it (a sensitive API, an SDK by its classes).
	GradeStatic = "static"
	// GradeInferred: a heuristic, a pattern without a value match, a comparison with a list.
	GradeInferred = "inferred"

	// TierFinding: the record alone establishes the fact its title states (认定事实).
	TierFinding = "finding"
	// TierLead: the record needs confirmation, on a test phone or by reading (待核实线索).
	TierLead = "lead"
)

// Grades lists the grades, strongest first.
var Grades = []string{GradeObserved, GradeDeclared, GradeStatic, GradeInferred}

// Tiers lists the tiers in the order they are shown: findings before leads.
var Tiers = []string{TierFinding, TierLead}

// GradeRank orders grades: observed 4, declared 3, static 2, inferred 1, anything else 0.
func GradeRank(g string) int {
	if i := slices.Index(Grades, g); i >= 0 {
		return len(Grades) - i
	}
	return 0
}

// TierRank orders tiers for display: finding 2, lead 1, anything else (records from before
// tiers) 0.
func TierRank(t string) int {
	switch t {
	case TierFinding:
		return 2
	case TierLead:
		return 1
	}
	return 0
}

// TierOf is the tier a record of grade g can have under rule v: a finding only for observed or
// declared evidence and a rule that does not ask for a lead. Nothing else can make a finding: a
// static or inferred record is always a lead.
func TierOf(v *Violation, g string) string {
	if g != GradeObserved && g != GradeDeclared {
		return TierLead
	}
	if v != nil && v.Tier == TierLead {
		return TierLead
	}
	return TierFinding
}

// CapGrade is the grade an observation of kind with grade g supports for rule v's claim: g
// lowered to the rule's cap for the kind (grade_caps) and to its cap for every kind (grade_cap).
func CapGrade(v *Violation, kind, g string) string {
	if v == nil {
		return g
	}
	for _, c := range []string{v.GradeCaps[kind], v.GradeCap} {
		if c != "" && GradeRank(g) > GradeRank(c) {
			g = c
		}
	}
	return g
}

// GradeRule gives the grade of an observation whose attributes equal every `when` entry; the
// first rule that holds applies.
type GradeRule struct {
	When  map[string]any `yaml:"when,omitempty" json:"when,omitempty"`
	Grade string         `yaml:"grade" json:"grade"`
}

// GradeRules is a kind's grade: a scalar ("grade: static") or a list of conditional rules whose
// last entry has no condition.
type GradeRules []GradeRule

// UnmarshalYAML accepts a scalar as one unconditional rule.
func (g *GradeRules) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*g = GradeRules{{Grade: n.Value}}
		return nil
	}
	var rs []GradeRule
	if err := n.Decode(&rs); err != nil {
		return err
	}
	*g = rs
	return nil
}

// Inputs is the input inventory a rule needs to be decided (scan.inventory flags, plus
// "category" for an app category set or suggested): every flag of All and, when Any is set, one
// of Any. A scan without them lists the rule under not_assessed instead of judging it.
type Inputs struct {
	All []string `yaml:"all,omitempty" json:"all,omitempty"`
	Any []string `yaml:"any,omitempty" json:"any,omitempty"`
}

// InputFlags are the flags Inputs may name, each with what a scan without it lacks.
var InputFlags = map[string]Text{
	"has_app":     {ZH: "本次扫描未提供安装包或小程序", EN: "no APK or mini-program was scanned"},
	"has_policy":  {ZH: "本次扫描未提供隐私政策（文件或网址）", EN: "no privacy policy (file or URL) was given"},
	"has_traffic": {ZH: "本次扫描未提供抓包", EN: "no traffic capture was analysed"},
	"has_runtime": {ZH: "本次扫描未提供测试机运行时记录（挂钩日志）", EN: "no runtime hook log from a test phone was analysed"},
	"category":    {ZH: "未指定 App 类别，也无法推断", EN: "no app category was set and none could be suggested"},
}

// Missing returns the reason a scan with the given flags cannot decide a rule needing in, or
// false when it can.
func (in *Inputs) Missing(has func(flag string) bool) (Text, bool) {
	if in == nil {
		return Text{}, false
	}
	var zh, en []string
	for _, f := range in.All {
		if !has(f) {
			zh, en = append(zh, InputFlags[f].ZH), append(en, InputFlags[f].EN)
		}
	}
	if len(in.Any) > 0 && !slices.ContainsFunc(in.Any, has) {
		var z, e []string
		for _, f := range in.Any {
			z, e = append(z, InputFlags[f].ZH), append(e, InputFlags[f].EN)
		}
		zh = append(zh, strings.Join(z, "，且"))
		en = append(en, strings.Join(e, ", and "))
	}
	if len(zh) == 0 {
		return Text{}, false
	}
	return Text{ZH: strings.Join(zh, "；"), EN: strings.Join(en, "; ")}, true
}

// validateGrades checks the grades of the observation kinds and what the rules say about grade,
// tier and inputs.
func (l *loader) validateGrades(c *Catalogue) {
	f := FileObservationKinds
	for i, k := range c.kinds {
		n := l.nodes[f][i]
		who := "kind " + k.Kind
		for j, r := range k.Grade {
			gn := at(n, "grade")
			l.oneOf(f, gn, "grade", r.Grade, Grades)
			for a, v := range r.When {
				t, ok := c.attrTypes[k.Kind][a]
				switch {
				case !ok:
					l.add(f, gn, "%s grade %d: when names attribute %q that the kind does not declare", who, j+1, a)
				case !scalarOfType(v, t):
					l.add(f, gn, "%s grade %d: when %s: %v is not a %s", who, j+1, a, v, t)
				}
			}
			if j == len(k.Grade)-1 && len(r.When) > 0 {
				l.add(f, gn, "%s: the last grade rule needs no condition, so that every observation has a grade", who)
			}
		}
	}
	f = FileViolations
	for i, v := range c.violations {
		n := l.nodes[f][i]
		who := "violation " + v.ID
		if v.Tier != "" && v.Tier != TierLead {
			l.add(f, at(n, "tier"), "%s: tier may only be %q (a finding follows from the grade of its evidence)", who, TierLead)
		}
		if v.GradeCap != "" {
			l.oneOf(f, n, "grade_cap", v.GradeCap, Grades)
		}
		for k, g := range v.GradeCaps {
			l.oneOf(f, at(n, "grade_caps"), "grade_caps "+k, g, Grades)
			if !slices.ContainsFunc(v.Check.Triggers, func(t Trigger) bool { return t.Kind == k }) {
				l.add(f, at(n, "grade_caps"), "%s: grade_caps names %s, which is no trigger kind of the rule", who, k)
			}
		}
		for k, rs := range v.GradeFor {
			if !slices.ContainsFunc(v.Check.Triggers, func(t Trigger) bool { return t.Kind == k }) {
				l.add(f, at(n, "grade_for"), "%s: grade_for names %s, which is no trigger kind of the rule", who, k)
			}
			for j, r := range rs {
				l.oneOf(f, at(n, "grade_for"), fmt.Sprintf("grade_for %s %d", k, j+1), r.Grade, Grades)
				if len(r.When) == 0 {
					l.add(f, at(n, "grade_for"), "%s: grade_for %s entry %d has no condition (a rule replaces a kind's grade only where it holds)", who, k, j+1)
				}
				for a := range r.When {
					if _, ok := c.attrTypes[k][a]; !ok {
						l.add(f, at(n, "grade_for"), "%s: grade_for %s names attribute %q that the kind does not declare", who, k, a)
					}
				}
			}
		}
		if v.LeadTitle != (Text{}) {
			l.text(f, n, "lead_title", v.LeadTitle)
		}
		if v.Inputs != nil {
			for _, fl := range append(slices.Clone(v.Inputs.All), v.Inputs.Any...) {
				if _, ok := InputFlags[fl]; !ok {
					l.add(f, at(n, "inputs"), "%s: inputs names unknown flag %q (known: has_app, has_policy, has_traffic, has_runtime, category)", who, fl)
				}
			}
		}
		if v.Check.Mode != ModeAutomated {
			continue
		}
		if v.Inputs == nil {
			l.add(f, n, "%s: an automated rule declares the inputs it needs (inputs: {all: […], any: […]})", who)
		}
		for _, t := range v.Check.Triggers {
			if k, ok := c.ObservationKind(t.Kind); ok && len(k.Grade) == 0 {
				l.add(f, n, "%s: trigger kind %s has no grade in %s", who, t.Kind, FileObservationKinds)
			}
		}
		for j, s := range v.Summaries {
			if s.Grade != "" {
				l.oneOf(f, at(n, "summaries", j), "grade", s.Grade, Grades)
			}
		}
	}
}

// RuleGrade is the grade an observation of kind k supports for rule v's claim before caps: the
// rule's grade_for entry for the kind when one holds, else the kind's own grade.
func RuleGrade(v *Violation, k ObservationKind, attr func(name string) (any, bool)) string {
	if v != nil {
		for _, r := range v.GradeFor[k.Kind] {
			if gradeWhen(r.When, attr) {
				return r.Grade
			}
		}
	}
	return KindGrade(k, attr)
}

// KindGrade is the grade of an observation of kind k with attribute lookup attr ("" when the
// kind declares none).
func KindGrade(k ObservationKind, attr func(name string) (any, bool)) string {
	for _, r := range k.Grade {
		if gradeWhen(r.When, attr) {
			return r.Grade
		}
	}
	return ""
}

func gradeWhen(when map[string]any, attr func(string) (any, bool)) bool {
	for a, want := range when {
		got, ok := attr(a)
		if !ok || fmt.Sprint(got) != fmt.Sprint(want) {
			return false
		}
	}
	return true
}
