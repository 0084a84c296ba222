package rules

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"gopkg.in/yaml.v3"
)

// What a rule needs beyond its triggers, kept as data so that a reviewer can add a rule without a
// Go change: the family it belongs to (families.yaml), how its finding's subject is named, the
// confidence each observation kind supports with its reason, adjustments to severity, confidence
// and reason, and the summary templates. Package assess is the generic engine that applies them.

// Confidence levels.
var confidenceLevels = []string{"high", "medium", "low"}

// Family is a group of rules that share what assess adds to a match (families.yaml).
type Family struct {
	ID          string `yaml:"id" json:"id"`
	Description Text   `yaml:"description" json:"description"`
	// CategoryDependent: the rules' result depends on the app category, so a category pilmon only
	// suggested lowers the confidence and the finding says the category was suggested.
	CategoryDependent bool `yaml:"category_dependent,omitempty" json:"category_dependent,omitempty"`
	// Context lists further observations of the scan attached to a finding (consent events).
	Context []ContextRule `yaml:"context,omitempty" json:"context,omitempty"`
	// Adjust applies to every rule of the family, before the rule's own adjustments.
	Adjust []Adjustment `yaml:"adjust,omitempty" json:"adjust,omitempty"`
}

// ContextRule attaches the scan's observations of Kinds to a finding whose triggering observation
// has a kind matching one of For (path.Match patterns such as "traffic.*"; empty: any kind).
type ContextRule struct {
	Kinds []string `yaml:"kinds" json:"kinds"`
	For   []string `yaml:"for,omitempty" json:"for,omitempty"`
}

// Adjustment changes a match when its condition holds: drops it (a veto the triggers cannot
// express), lowers severity or confidence, adds to the confidence reason or replaces it. Reason is
// a template over .minors (why the target suggests minors) and .sensitive_seen (sensitive PI ids
// the scan saw), with the function pi (PI names in the reason's language).
type Adjustment struct {
	Note          string    `yaml:"note,omitempty" json:"note,omitempty"`
	When          Condition `yaml:"when" json:"when"`
	Drop          bool      `yaml:"drop,omitempty" json:"drop,omitempty"`
	Severity      Severity  `yaml:"severity,omitempty" json:"severity,omitempty"`
	Confidence    string    `yaml:"confidence,omitempty" json:"confidence,omitempty"`
	Reason        Text      `yaml:"reason,omitempty" json:"reason,omitempty"`
	ReplaceReason bool      `yaml:"replace_reason,omitempty" json:"replace_reason,omitempty"`
}

// Condition holds when every field set holds. Scan facts: the triggering observation's kind, the
// app category, the kinds of observation the scan has, whether the captured document is a privacy
// policy, whether the target suggests minors, whether sensitive PI was seen, whether an app,
// mini-program or traffic was looked at, the targetSdkVersion, and the triggering PI.
type Condition struct {
	Kinds         []string `yaml:"kinds,omitempty" json:"kinds,omitempty"`                   // trigger kind is one of
	Category      []string `yaml:"category,omitempty" json:"category,omitempty"`             // the scan's category is one of
	CategoryKnown *bool    `yaml:"category_known,omitempty" json:"category_known,omitempty"` // a category is set or suggested
	ScanHas       []string `yaml:"scan_has,omitempty" json:"scan_has,omitempty"`             // the scan has one of these kinds
	ScanLacks     []string `yaml:"scan_lacks,omitempty" json:"scan_lacks,omitempty"`         // the scan has none of these kinds
	PrivacyPolicy *bool    `yaml:"privacy_policy,omitempty" json:"privacy_policy,omitempty"` // false: every captured document is known not to be one
	Minors        *bool    `yaml:"minors,omitempty" json:"minors,omitempty"`
	SensitiveSeen *bool    `yaml:"sensitive_seen,omitempty" json:"sensitive_seen,omitempty"`
	ScanPractice  *bool    `yaml:"scan_practice,omitempty" json:"scan_practice,omitempty"`
	TargetSDKMin  int      `yaml:"target_sdk_at_least,omitempty" json:"target_sdk_at_least,omitempty"`
	PIOnly        []string `yaml:"pi_only,omitempty" json:"pi_only,omitempty"` // every "pi" value of the trigger is one of
}

// ConfidenceRule gives the confidence an observation supports and why. The first rule whose When
// attributes all equal the observation's applies. Reason is a template over the observation's
// attributes and .subject. In a violation's entry Kind names the trigger kind it is for; the
// observation kind's own rules (observation_kinds.yaml) apply when none of the violation's do.
type ConfidenceRule struct {
	Kind   string         `yaml:"kind,omitempty" json:"kind,omitempty"`
	When   map[string]any `yaml:"when,omitempty" json:"when,omitempty"`
	Level  string         `yaml:"level" json:"level"`
	Reason Text           `yaml:"reason" json:"reason"`
}

// Summary is the template of a finding's summary for one kind of triggering observation ("*":
// any) and, when Grade is set, for records of that grade only (a lead worded as what the code or
// text shows and what to check, a finding as what was established), over the fields listed in
// SummaryFields with the functions of SummaryFuncs.
type Summary struct {
	Kind  string `yaml:"kind" json:"kind"`
	Grade string `yaml:"grade,omitempty" json:"grade,omitempty"`
	ZH    string `yaml:"zh" json:"zh"`
	EN    string `yaml:"en" json:"en"`
}

// Placeholders and functions of the templates; assess provides exactly these (a test there checks
// its template data against SummaryFields).
var (
	SummaryFields = []string{"D", "Rule", "Kind", "Count", "Obs", "Subject", "PI", "OutsidePI", "SensitivePI", "Undeclared",
		"NoSeparate", "Hosts", "SDKs", "APIs", "Permissions", "Callers", "Files", "Phases", "Detectors", "Elements", "Settings",
		"Components", "Actions", "Flags", "Quotes", "Titles", "Via", "PersistentPI", "KnownValue", "OwnCode", "HasOffset",
		"OffsetMS", "Line", "Category", "CategoryZH", "CategoryEN", "CategorySuggested", "NoPICategory", "PolicyTitle",
		"ScanSDKs", "ScanSensitive", "ScanPractice", "TargetSDK", "Grade", "Lead", "Unresolved", "AllUnresolved",
		"Unidentified", "WeakSDKs", "ScanWeakSDKs", "NotAtStart", "Parties", "Calls", "PerSecond", "HostFlag", "Formats", "Rows",
		"ThresholdPerSecond", "ThresholdPerSession", "ReadAPIs", "ReadParties", "ReadAt", "ReadRows"}
	SummaryFuncs     = []string{"list", "pi", "sdk", "perm", "elem", "secs", "quote", "more", "rest", "first", "has", "party", "vendor"}
	ObservationFuncs = []string{"join", "no"} // subject and confidence-reason templates
	AdjustFields     = []string{"minors", "sensitive_seen"}
	AdjustFuncs      = []string{"pi"}
)

// Family returns the family with the given id.
func (c *Catalogue) Family(id string) (Family, bool) {
	for _, f := range c.families {
		if f.ID == id {
			return f, true
		}
	}
	return Family{}, false
}

// Families returns every family.
func (c *Catalogue) Families() []Family { return slices.Clone(c.families) }

// ParseTemplate parses a catalogue template with stand-ins for funcs (the caller executes it with
// the real ones) and returns the fields it names at the top level of its data.
func ParseTemplate(name, text string, funcs []string) (*template.Template, []string, error) {
	fm := template.FuncMap{}
	for _, f := range funcs {
		fm[f] = func(...any) any { return nil }
	}
	t, err := template.New(name).Funcs(fm).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, nil, err
	}
	var fields []string
	var walk func(n parse.Node, top bool)
	walk = func(n parse.Node, top bool) {
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c, top)
			}
		case *parse.ActionNode:
			walk(x.Pipe, top)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c, top)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a, top)
			}
		case *parse.FieldNode:
			if top {
				fields = append(fields, x.Ident[0])
			}
		case *parse.ChainNode:
			walk(x.Node, top)
		case *parse.VariableNode:
			if len(x.Ident) > 1 && x.Ident[0] == "$" {
				fields = append(fields, x.Ident[1])
			}
		case *parse.IfNode:
			walk(x.Pipe, top)
			walk(x.List, top)
			walk(x.ElseList, top)
		case *parse.WithNode: // dot changes inside the body
			walk(x.Pipe, top)
			walk(x.List, false)
			walk(x.ElseList, top)
		case *parse.RangeNode:
			walk(x.Pipe, top)
			walk(x.List, false)
			walk(x.ElseList, top)
		}
	}
	walk(t.Tree.Root, true)
	return t, fields, nil
}

// checkTemplate reports a template that does not parse or names a field outside allowed.
func (l *loader) checkTemplate(f string, n *yaml.Node, who, text string, funcs, allowed []string) {
	if text == "" {
		return
	}
	_, fields, err := ParseTemplate(who, text, funcs)
	if err != nil {
		l.add(f, n, "%s: %v", who, err)
		return
	}
	for _, fd := range fields {
		if !slices.Contains(allowed, fd) {
			l.add(f, n, "%s: placeholder .%s is not one of %s", who, fd, strings.Join(allowed, ", "))
		}
	}
}

// kindFields are the placeholders of an observation template: the kind's attributes and subject.
func (c *Catalogue) kindFields(kind string) []string {
	out := []string{"subject"}
	for a := range c.attrTypes[kind] {
		out = append(out, a)
	}
	return out
}

func (l *loader) kindRef(c *Catalogue, f string, n *yaml.Node, who, kind string) bool {
	if _, ok := c.kindByName[kind]; !ok {
		l.add(f, n, "%s names undeclared observation kind %q", who, kind)
		return false
	}
	return true
}

func (l *loader) kindPattern(c *Catalogue, f string, n *yaml.Node, who, pat string) {
	if _, err := path.Match(pat, ""); err != nil {
		l.add(f, n, "%s: bad kind pattern %q: %v", who, pat, err)
		return
	}
	for _, k := range c.kinds {
		if ok, _ := path.Match(pat, k.Kind); ok {
			return
		}
	}
	l.add(f, n, "%s: kind pattern %q matches no declared observation kind", who, pat)
}

func (l *loader) confidenceRules(c *Catalogue, f string, n *yaml.Node, who string, rs []ConfidenceRule, kindOf func(ConfidenceRule) string) {
	for j, r := range rs {
		rn := at(n, "confidence", j)
		kind := kindOf(r)
		w := fmt.Sprintf("%s confidence %d", who, j+1)
		l.oneOf(f, rn, "level", r.Level, confidenceLevels)
		l.text(f, rn, "reason", r.Reason)
		if !l.kindRef(c, f, rn, w, kind) {
			continue
		}
		for a, v := range r.When {
			t, ok := c.attrTypes[kind][a]
			switch {
			case !ok:
				l.add(f, rn, "%s: when names attribute %q that kind %s does not declare", w, a, kind)
			case !scalarOfType(v, t):
				l.add(f, rn, "%s: when %s: %v is not a %s", w, a, v, t)
			}
		}
		fields := c.kindFields(kind)
		l.checkTemplate(f, rn, w+" zh", r.Reason.ZH, ObservationFuncs, fields)
		l.checkTemplate(f, rn, w+" en", r.Reason.EN, ObservationFuncs, fields)
	}
}

func scalarOfType(v any, t string) bool {
	switch v.(type) {
	case bool:
		return t == "bool" || t == "tristate"
	case string:
		return t == "string" || (t == "tristate" && v == TristateUnclear)
	case int:
		return t == "int"
	}
	return false
}

func (l *loader) adjustments(c *Catalogue, f string, n *yaml.Node, who string, as []Adjustment) {
	for j, a := range as {
		an := at(n, "adjust", j)
		w := fmt.Sprintf("%s adjustment %d", who, j+1)
		for _, k := range append(append(slices.Clone(a.When.Kinds), a.When.ScanHas...), a.When.ScanLacks...) {
			l.kindRef(c, f, an, w, k)
		}
		for _, cat := range a.When.Category {
			if _, ok := c.appCatByKey[cat]; !ok {
				l.add(f, an, "%s names unknown app category %q", w, cat)
			}
		}
		l.piRefs(c, f, an, w, "pi_only", a.When.PIOnly)
		if a.Severity != "" {
			l.oneOf(f, an, "severity", string(a.Severity), severities)
		}
		if a.Confidence != "" {
			l.oneOf(f, an, "confidence", a.Confidence, confidenceLevels)
		}
		if a.Drop && (a.Severity != "" || a.Confidence != "" || a.Reason != (Text{})) {
			l.add(f, an, "%s: drop takes no severity, confidence or reason", w)
		}
		if !a.Drop && a.Severity == "" && a.Confidence == "" && a.Reason == (Text{}) {
			l.add(f, an, "%s changes nothing", w)
		}
		if a.Reason != (Text{}) {
			l.text(f, an, "reason", a.Reason)
		}
		l.checkTemplate(f, an, w+" zh", a.Reason.ZH, AdjustFuncs, AdjustFields)
		l.checkTemplate(f, an, w+" en", a.Reason.EN, AdjustFuncs, AdjustFields)
	}
}

// validateFamilies checks families.yaml and everything an automated rule and an observation kind
// say for assess: every family, kind, category, attribute and placeholder they name must exist.
func (l *loader) validateFamilies(c *Catalogue) {
	f := FileFamilies
	seen := map[string]int{}
	for i, fam := range c.families {
		n := l.nodes[f][i]
		l.unique(f, n, "id", fam.ID, seen)
		l.text(f, n, "description", fam.Description)
		who := "family " + fam.ID
		for j, cr := range fam.Context {
			cn := at(n, "context", j)
			for _, k := range cr.Kinds {
				l.kindRef(c, f, cn, who+" context", k)
			}
			for _, p := range cr.For {
				l.kindPattern(c, f, cn, who+" context", p)
			}
		}
		l.adjustments(c, f, n, who, fam.Adjust)
	}

	f = FileObservationKinds
	for i, k := range c.kinds {
		n := l.nodes[f][i]
		who := "kind " + k.Kind
		l.checkTemplate(f, at(n, "finding_subject"), who+" finding_subject", k.FindingSubject, ObservationFuncs, c.kindFields(k.Kind))
		l.confidenceRules(c, f, n, who, k.Confidence, func(r ConfidenceRule) string {
			if r.Kind != "" {
				l.add(f, at(n, "confidence"), "%s: confidence rules of a kind take no kind", who)
			}
			return k.Kind
		})
	}

	f = FileViolations
	for i, v := range c.violations {
		n := l.nodes[f][i]
		who := "violation " + v.ID
		if v.Check.Mode != ModeAutomated {
			if v.Family != "" || v.Subject != "" || len(v.Confidence)+len(v.Adjust)+len(v.Summaries) > 0 {
				l.add(f, n, "%s: family, subject, confidence, adjust and summaries are for automated rules", who)
			}
			continue
		}
		if v.Family == "" {
			l.add(f, at(n, "family"), "%s: an automated rule needs a family (%s)", who, FileFamilies)
		} else if _, ok := c.Family(v.Family); !ok {
			l.add(f, at(n, "family"), "%s names unknown family %q", who, v.Family)
		}
		trig := map[string]bool{}
		for _, t := range v.Check.Triggers {
			trig[t.Kind] = true
		}
		for k := range trig {
			if kk, ok := c.ObservationKind(k); ok && len(kk.Confidence) == 0 && !slices.ContainsFunc(v.Confidence, func(r ConfidenceRule) bool { return r.Kind == k }) {
				l.add(f, n, "%s: trigger kind %s has no confidence rule (in %s or in the rule)", who, k, FileObservationKinds)
			}
		}
		if v.Subject != "" {
			for k := range trig {
				l.checkTemplate(f, at(n, "subject"), who+" subject (trigger "+k+")", v.Subject, ObservationFuncs, c.kindFields(k))
			}
		}
		l.confidenceRules(c, f, n, who, v.Confidence, func(r ConfidenceRule) string {
			if !trig[r.Kind] {
				l.add(f, at(n, "confidence"), "%s: confidence for %q, which is no trigger kind of the rule", who, r.Kind)
			}
			return r.Kind
		})
		l.adjustments(c, f, n, who, v.Adjust)
		sk := map[string]bool{}
		for j, s := range v.Summaries {
			sn := at(n, "summaries", j)
			w := fmt.Sprintf("%s summary for %s", who, s.Kind)
			if s.Kind != "*" {
				l.kindRef(c, f, sn, w, s.Kind)
			}
			if sk[s.Kind+"|"+s.Grade] {
				l.add(f, sn, "%s: two summaries for kind %s grade %q", who, s.Kind, s.Grade)
			}
			sk[s.Kind+"|"+s.Grade] = true
			if s.ZH == "" || s.EN == "" {
				l.add(f, sn, "%s: zh and en are required", w)
			}
			l.checkTemplate(f, sn, w+" zh", s.ZH, SummaryFuncs, SummaryFields)
			l.checkTemplate(f, sn, w+" en", s.EN, SummaryFuncs, SummaryFields)
		}
	}
}
