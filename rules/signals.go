package rules

import (
	"io/fs"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Files whose data other packages match with their own code: rules loads and cross-checks them,
// the consuming packages get the parsed entries (or, for the policy patterns, the bytes) from here.
const (
	FileSDKSignals     = "sdk_signals.yaml"           // apkinspect: SDKs named by native libraries and assets
	FileCrossBorder    = "cross_border_trackers.yaml" // traffic: tracker domains operated abroad
	FilePolicyElements = "policy_elements.yaml"       // names of the mandated policy elements
	FileFamilies       = "families.yaml"              // rule families: what assess adds to a match
	// FilePolicyPatterns is parsed by package policies (regexps with a prefilter derived from
	// them); rules checks its top level and that its element ids are declared elements.
	FilePolicyPatterns = "policy_patterns.yaml"
	// FilePolicyClauses is parsed by package policies too (clause detectors); rules checks its
	// top level, the clause ids and that each names an automated rule.
	FilePolicyClauses = "policy_clauses.yaml"
)

// ClauseIDs are the clause families of policy_clauses.yaml, the values of a policy.clause
// observation's "clause" attribute.
var ClauseIDs = []string{"deemed_consent", "bundled_consent", "no_notice_change", "refuse_then_deny", "forced_purpose", "publish_sensitive"}

// SDKSignal names an SDK by a file an APK carries that is not code (sdk_signals.yaml).
type SDKSignal struct {
	SDK     string `yaml:"sdk" json:"sdk"`
	Kind    string `yaml:"kind" json:"kind"` // lib | asset
	Glob    string `yaml:"glob" json:"glob"`
	Example string `yaml:"example" json:"example"`
	Source  string `yaml:"source" json:"source"`
}

// CrossBorderTracker is a tracker operated from outside mainland China (cross_border_trackers.yaml).
type CrossBorderTracker struct {
	ID      string   `yaml:"id" json:"id"`
	Name    string   `yaml:"name" json:"name"`
	Country string   `yaml:"country" json:"country"`
	Domains []string `yaml:"domains" json:"domains"`
}

// PolicyElement names one mandated element of a privacy policy (policy_elements.yaml).
type PolicyElement struct {
	ID   string `yaml:"id" json:"id"`
	Name Text   `yaml:"name" json:"name"`
}

// SDKSignals returns the file signals of sdk_signals.yaml.
func (c *Catalogue) SDKSignals() []SDKSignal { return slices.Clone(c.signals) }

// CrossBorderTrackers returns the entries of cross_border_trackers.yaml.
func (c *Catalogue) CrossBorderTrackers() []CrossBorderTracker { return slices.Clone(c.trackers) }

// PolicyElements returns the named policy elements, in file order.
func (c *Catalogue) PolicyElements() []PolicyElement { return slices.Clone(c.elements) }

// PolicyElement returns the element with the given id.
func (c *Catalogue) PolicyElement(id string) (PolicyElement, bool) {
	for _, e := range c.elements {
		if e.ID == id {
			return e, true
		}
	}
	return PolicyElement{}, false
}

// PolicyPatternsYAML returns policy_patterns.yaml of the loaded catalogue.
func (c *Catalogue) PolicyPatternsYAML() []byte { return slices.Clone(c.policyPatterns) }

// EmbeddedPolicyPatterns returns the embedded policy_patterns.yaml; package policies compiles it
// once, before any catalogue is loaded.
func EmbeddedPolicyPatterns() []byte {
	b, err := fs.ReadFile(embeddedData(), FilePolicyPatterns)
	if err != nil {
		panic(err) // the embed pattern guarantees the file
	}
	return b
}

// EmbeddedPolicyClauses returns the embedded policy_clauses.yaml; package policies compiles it.
func EmbeddedPolicyClauses() []byte {
	b, err := fs.ReadFile(embeddedData(), FilePolicyClauses)
	if err != nil {
		panic(err) // the embed pattern guarantees the file
	}
	return b
}

// decodeVersion1 decodes a pattern file of package policies into doc (safely: bounded aliases and
// depth) and checks that version() is 1; false when it does not decode, the error recorded.
func (l *loader) decodeVersion1(f string, data []byte, doc any, version func() int) bool {
	var root yaml.Node
	if err := safeUnmarshal(data, &root); err != nil {
		l.addYAMLError(f, nil, err)
		return false
	}
	if err := safeDecode(&root, doc); err != nil {
		l.addYAMLError(f, nil, err)
		return false
	}
	if v := version(); v != 1 {
		l.add(f, nil, "unsupported version %d (want 1)", v)
	}
	return true
}

// checkPolicyClauses checks what rules can of policy_clauses.yaml: version 1, every family of
// ClauseIDs exactly once, and a rule that exists and is automated for each. Package policies
// compiles the patterns and runs their examples.
func (l *loader) checkPolicyClauses(c *Catalogue, data []byte) {
	const f = FilePolicyClauses
	var doc struct {
		Version int `yaml:"version"`
		Clauses []struct {
			ID   string `yaml:"id"`
			Rule string `yaml:"rule"`
		} `yaml:"clauses"`
	}
	if !l.decodeVersion1(f, data, &doc, func() int { return doc.Version }) {
		return
	}
	seen := map[string]bool{}
	for _, cl := range doc.Clauses {
		if !slices.Contains(ClauseIDs, cl.ID) || seen[cl.ID] {
			l.add(f, nil, "clause %q is unknown or repeated (want each of %s once)", cl.ID, strings.Join(ClauseIDs, ", "))
		}
		seen[cl.ID] = true
		if v, ok := c.Violation(cl.Rule); !ok || v.Check.Mode != "automated" {
			l.add(f, nil, "clause %s: rule %q is not an automated rule of %s", cl.ID, cl.Rule, FileViolations)
		}
	}
	for _, id := range ClauseIDs {
		if !seen[id] {
			l.add(f, nil, "clause %s has no entry", id)
		}
	}
}

func (l *loader) validateSignals(c *Catalogue) {
	const f = FileSDKSignals
	for i, s := range c.signals {
		n := l.nodes[f][i]
		who := "signal " + s.Kind + " " + s.Glob
		switch {
		case s.SDK == "" || s.Glob == "" || s.Source == "" || s.Example == "":
			l.add(f, n, "%s: sdk, glob, example and source are required", who)
		case s.Kind != "lib" && s.Kind != "asset":
			l.add(f, at(n, "kind"), "%s: kind %q is not lib or asset", who, s.Kind)
		}
		if _, err := path.Match(s.Glob, ""); err != nil {
			l.add(f, at(n, "glob"), "%s: %v", who, err)
		}
		if _, ok := c.sdkByID[s.SDK]; s.SDK != "" && !ok {
			l.add(f, at(n, "sdk"), "%s names unknown SDK %q", who, s.SDK)
		}
	}
}

func (l *loader) validateTrackers(c *Catalogue) {
	const f = FileCrossBorder
	owner := map[string]string{}
	for i, t := range c.trackers {
		n := l.nodes[f][i]
		if t.ID == "" || t.Country == "" || t.Country == "cn" || len(t.Domains) == 0 {
			l.add(f, n, "tracker %q needs id, a non-cn country and domains", t.ID)
		}
		for j, d := range t.Domains {
			d = strings.ToLower(d)
			if prev, dup := owner[d]; dup {
				l.add(f, at(n, "domains", j), "tracker %s: domain %s already belongs to tracker %s", t.ID, d, prev)
				continue
			}
			owner[d] = t.ID
		}
	}
}

func (l *loader) validateElements(c *Catalogue) {
	const f = FilePolicyElements
	seen := map[string]int{}
	for i, e := range c.elements {
		n := l.nodes[f][i]
		l.unique(f, n, "id", e.ID, seen)
		l.text(f, n, "name", e.Name)
	}
}

// checkPolicyPatterns checks what rules can of policy_patterns.yaml: version 1 and element ids
// that policy_elements.yaml names. Package policies compiles the patterns and runs their examples.
func (l *loader) checkPolicyPatterns(c *Catalogue, data []byte) {
	const f = FilePolicyPatterns
	var doc struct {
		Version  int `yaml:"version"`
		Elements []struct {
			ID string `yaml:"id"`
		} `yaml:"elements"`
	}
	if !l.decodeVersion1(f, data, &doc, func() int { return doc.Version }) {
		return
	}
	if len(c.elements) == 0 {
		return
	}
	for _, e := range doc.Elements {
		if _, ok := c.PolicyElement(e.ID); !ok {
			l.add(f, nil, "element %q is not declared in %s", e.ID, FilePolicyElements)
		}
	}
}
