package assess

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
	"text/template"

	"pilmon/rules"
	"pilmon/scanner"
)

// The generic engine for what a rule's YAML entry says beyond its triggers (rules/assessment.go):
// the finding's subject, the confidence an observation supports and why, the family's context and
// the family's and the rule's adjustments. Nothing here knows a rule id or an observation kind;
// they are all read from the catalogue.

// hit is what the engine makes of one observation that fired a rule.
type hit struct {
	subject    string
	severity   rules.Severity // "" keeps the rule's
	confidence string
	grade      string // what the observation supports for the rule's claim (capped by the rule)
	reason     rules.Text
	context    []int // indexes of further observations to attach (consent events)
}

// bilingual is a compiled pair of templates.
type bilingual struct{ zh, en *template.Template }

type confRule struct {
	when   map[string]any
	level  string
	reason bilingual
}

// kindData is what the catalogue says about one observation kind.
type kindData struct {
	attrs      map[string]string // attribute → type
	subject    *template.Template
	confidence []confRule
	kind       rules.ObservationKind // for its grade rules
}

// ruleData is what a rule's entry and its family add to its triggers.
type ruleData struct {
	subject           *template.Template
	confidence        []confRule // kind-specific, by confRule.when["\x00kind"]
	confKinds         []string   // parallel to confidence
	context           []rules.ContextRule
	adjust            []adjustment
	categoryDependent bool
}

type adjustment struct {
	rules.Adjustment
	reason bilingual
}

var obsFuncs = template.FuncMap{
	"join": strings.Join,
	// no reports an attribute that is present and false (absent is not false)
	"no": func(v any) bool { b, ok := v.(bool); return ok && !b },
}

func compileObs(name, text string) (*template.Template, error) {
	if text == "" {
		return nil, nil
	}
	return template.New(name).Funcs(obsFuncs).Option("missingkey=error").Parse(text)
}

func compileBilingual(name string, t rules.Text, funcs func(lang string) template.FuncMap) (bilingual, error) {
	var b bilingual
	var err error
	if t.ZH != "" {
		if b.zh, err = template.New(name + "/zh").Funcs(funcs("zh")).Option("missingkey=error").Parse(t.ZH); err != nil {
			return b, err
		}
	}
	if t.EN != "" {
		if b.en, err = template.New(name + "/en").Funcs(funcs("en")).Option("missingkey=error").Parse(t.EN); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (b bilingual) render(data any) rules.Text {
	run := func(t *template.Template) string {
		if t == nil {
			return ""
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return ""
		}
		return buf.String()
	}
	return rules.Text{ZH: run(b.zh), EN: run(b.en)}
}

func compileConf(who string, rs []rules.ConfidenceRule) ([]confRule, error) {
	out := make([]confRule, 0, len(rs))
	for i, r := range rs {
		b, err := compileBilingual(fmt.Sprintf("%s confidence %d", who, i+1), r.Reason, func(string) template.FuncMap { return obsFuncs })
		if err != nil {
			return nil, err
		}
		out = append(out, confRule{when: r.When, level: r.Level, reason: b})
	}
	return out, nil
}

// compileKinds reads the observation kinds' subjects and confidence rules.
func compileKinds(cat *rules.Catalogue) (map[string]*kindData, []string, error) {
	m := map[string]*kindData{}
	var app []string
	for _, k := range cat.ObservationKinds() {
		kd := &kindData{attrs: map[string]string{}, kind: k}
		for _, a := range k.Attributes {
			kd.attrs[a.Name] = a.Type
		}
		var err error
		if kd.subject, err = compileObs(k.Kind+" finding_subject", k.FindingSubject); err != nil {
			return nil, nil, err
		}
		if kd.confidence, err = compileConf(k.Kind, k.Confidence); err != nil {
			return nil, nil, err
		}
		if k.AppEvidence {
			app = append(app, k.Kind)
		}
		m[k.Kind] = kd
	}
	return m, app, nil
}

// compileRule reads a violation's and its family's additions.
func compileRule(cat *rules.Catalogue, v *rules.Violation) (*ruleData, error) {
	rd := &ruleData{}
	var err error
	if rd.subject, err = compileObs(v.ID+" subject", v.Subject); err != nil {
		return nil, err
	}
	if rd.confidence, err = compileConf(v.ID, v.Confidence); err != nil {
		return nil, err
	}
	for _, r := range v.Confidence {
		rd.confKinds = append(rd.confKinds, r.Kind)
	}
	adj := v.Adjust
	for _, t := range v.Check.Triggers {
		rd.categoryDependent = rd.categoryDependent || t.OutsideNecessaryScope
	}
	if f, ok := cat.Family(v.Family); ok {
		rd.categoryDependent = rd.categoryDependent || f.CategoryDependent
		rd.context = f.Context
		adj = append(slices.Clone(f.Adjust), adj...)
	}
	for i, a := range adj {
		b, err := compileBilingual(fmt.Sprintf("%s adjustment %d", v.ID, i+1), a.Reason, func(lang string) template.FuncMap {
			return template.FuncMap{"pi": func(ids []string) string { return piNames(cat, ids, lang) }}
		})
		if err != nil {
			return nil, err
		}
		rd.adjust = append(rd.adjust, adjustment{a, b})
	}
	return rd, nil
}

// obsValues are an observation's declared attributes and its subject, as templates see them:
// strings and lists always present (empty when absent), bools and ints nil when absent.
func obsValues(kd *kindData, o *scanner.Observation) map[string]any {
	m := map[string]any{"subject": o.Subject}
	if kd == nil {
		return m
	}
	for name, typ := range kd.attrs {
		switch typ {
		case "string":
			m[name] = str(o, name)
		case "[]string":
			m[name] = strs(o, name)
		case "bool":
			if b, ok := boolAttr(o, name); ok {
				m[name] = b
			} else {
				m[name] = nil
			}
		case "int":
			if n, ok := intAttr(o, name); ok {
				m[name] = n
			} else {
				m[name] = nil
			}
		default:
			m[name] = o.Attributes[name]
		}
	}
	return m
}

func execString(t *template.Template, data any) (string, bool) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", false
	}
	return buf.String(), true
}

func whenHolds(when map[string]any, o *scanner.Observation) bool {
	for a, want := range when {
		switch w := want.(type) {
		case bool:
			if b, ok := boolAttr(o, a); !ok || b != w {
				return false
			}
		case string:
			if str(o, a) != w {
				return false
			}
		case int:
			if n, ok := intAttr(o, a); !ok || n != w {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// refine applies a rule's entry to one observation that fired it; false drops the match.
func (a *Assessor) refine(sc *scanCtx, r *autoRule, o *scanner.Observation) (hit, bool) {
	kd := a.kinds[o.Kind]
	vals := obsValues(kd, o)
	h := hit{confidence: ConfidenceLow, grade: rules.GradeInferred}
	if kd != nil {
		if g := rules.RuleGrade(&r.v, kd.kind, o.FactAttr); g != "" {
			h.grade = g
		}
	}
	h.grade = rules.CapGrade(&r.v, o.Kind, h.grade)
	conf := func(cs []confRule, kinds []string) bool {
		for i, c := range cs {
			if kinds != nil && kinds[i] != o.Kind {
				continue
			}
			if whenHolds(c.when, o) {
				h.confidence, h.reason = c.level, c.reason.render(vals)
				return true
			}
		}
		return false
	}
	if !conf(r.data.confidence, r.data.confKinds) && kd != nil {
		conf(kd.confidence, nil)
	}
	for _, cr := range r.data.context {
		if len(cr.For) == 0 || slices.ContainsFunc(cr.For, func(p string) bool { ok, _ := path.Match(p, o.Kind); return ok }) {
			for _, k := range cr.Kinds {
				h.context = append(h.context, sc.byKind[k]...)
			}
		}
	}
	for i := range r.data.adjust {
		adj := &r.data.adjust[i]
		if !sc.holds(&adj.When, o) {
			continue
		}
		if adj.Drop {
			return h, false
		}
		if adj.Severity != "" {
			h.severity = adj.Severity
		}
		if adj.Confidence != "" {
			h.confidence = adj.Confidence
		}
		if adj.Reason != (rules.Text{}) {
			t := adj.reason.render(map[string]any{"minors": sc.minors, "sensitive_seen": sc.sensitiveSeen})
			if adj.ReplaceReason {
				h.reason = t
			} else {
				h.reason = joinText(h.reason, t)
			}
		}
	}
	tmpl := r.data.subject
	if tmpl == nil && kd != nil {
		tmpl = kd.subject
	}
	if tmpl != nil {
		h.subject, _ = execString(tmpl, vals)
	}
	if h.subject == "" {
		h.subject = o.Kind + ":" + o.Subject
	}
	return h, true
}

// holds evaluates an adjustment's condition on the scan and the triggering observation.
func (sc *scanCtx) holds(c *rules.Condition, o *scanner.Observation) bool {
	is := func(p *bool, v bool) bool { return p == nil || *p == v }
	switch {
	case len(c.Kinds) > 0 && !slices.Contains(c.Kinds, o.Kind),
		len(c.Category) > 0 && !slices.Contains(c.Category, sc.category.Key),
		!is(c.CategoryKnown, sc.category.Key != ""),
		len(c.ScanHas) > 0 && !slices.ContainsFunc(c.ScanHas, sc.has),
		slices.ContainsFunc(c.ScanLacks, sc.has),
		c.PrivacyPolicy != nil && !is(c.PrivacyPolicy, sc.isPrivacyPolicy()),
		!is(c.Minors, sc.minors != ""),
		!is(c.SensitiveSeen, len(sc.sensitiveSeen) > 0),
		c.ScanPractice != nil && !is(c.ScanPractice, sc.scanPractice()),
		c.TargetSDKMin > 0 && sc.targetSDK < c.TargetSDKMin:
		return false
	}
	for _, p := range strs(o, "pi") {
		if len(c.PIOnly) > 0 && !slices.Contains(c.PIOnly, p) {
			return false
		}
	}
	return true
}

// isPrivacyPolicy is false only when every captured policy document is known not to be one.
func (sc *scanCtx) isPrivacyPolicy() bool {
	docs := sc.byKind["policy.document"]
	if len(docs) == 0 {
		return true
	}
	for _, i := range docs {
		if b, ok := boolAttr(&sc.obs[i], "is_privacy_policy"); !ok || b {
			return true
		}
	}
	return false
}
