package policies

import (
	"fmt"
	"regexp"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"pilmon/rules"
)

// clausesYAML is rules/data/policy_clauses.yaml; rules checks its ids and rules, this file compiles
// the patterns.
var clausesYAML = rules.EmbeddedPolicyClauses()

// maxClauseSentence bounds the text of one sentence the clause patterns look at: a clause is a
// sentence, and a run of text without punctuation (a hostile file, a flattened table) is cut here
// rather than matched a dozen times over its whole length.
const maxClauseSentence = 4 << 10

// clauseEnd ends the unit a clause pattern reads: the whole sentence, not its parts between
// semicolons, because a clause's parts are often so divided ("为提升体验，我们收集…；您须同意后方可
// 使用", "…we collect your data; you must consent as a condition of use"). A pattern that must stay
// inside one part says so with [^。；;] in its own window.
var clauseEnd = regexp.MustCompile(`[。！？!?]+|[.](\s+|$)`)

// Clause is one clause of the policy that is itself a violation: its family (rules.ClauseIDs), the
// sentence that states it and the section it is in.
type Clause struct {
	Clause  string `json:"clause"`
	Quote   string `json:"quote"`
	Section string `json:"section"`
}

type clauseFile struct {
	Version int `yaml:"version"`
	Clauses []struct {
		ID       string                `yaml:"id"`
		Rule     string                `yaml:"rule"`
		Name     rules.Text            `yaml:"name"`
		Match    map[string][][]string `yaml:"match"`
		Exclude  map[string][]string   `yaml:"exclude"`
		Positive map[string][]string   `yaml:"positive"`
		Negative map[string][]string   `yaml:"negative"`
	} `yaml:"clauses"`
}

// clauseDetector recognises one clause family: a sentence matches when every pattern of one
// shape matches and no exclusion does.
type clauseDetector struct {
	id       string
	shapes   map[string][][]*regexp.Regexp // by language: alternatives, each a conjunction
	exclude  map[string][]*regexp.Regexp
	positive map[string][]string
	negative map[string][]string
}

func (d *clauseDetector) matches(lang, s string) bool {
	if len(s) > maxClauseSentence {
		s = s[:maxClauseSentence]
	}
	for _, shape := range d.shapes[lang] {
		all := len(shape) > 0
		for _, re := range shape {
			if !re.MatchString(s) {
				all = false
				break
			}
		}
		if all {
			return !matchAny(d.exclude[lang], s)
		}
	}
	return false
}

var (
	clausesOnce sync.Once
	clauseSet   []clauseDetector
	clausesErr  error
)

func loadClauses() ([]clauseDetector, error) {
	clausesOnce.Do(func() { clauseSet, clausesErr = parseClauses(clausesYAML) })
	return clauseSet, clausesErr
}

func parseClauses(data []byte) ([]clauseDetector, error) {
	var f clauseFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", rules.FilePolicyClauses, err)
	}
	compile := func(id, lang, p string) (*regexp.Regexp, error) {
		// English patterns are case-insensitive: policies capitalise freely.
		if lang == "en" && !strings.HasPrefix(p, "(?i)") {
			p = "(?i)" + p
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("policies: %s: clause %s (%s): %w", rules.FilePolicyClauses, id, lang, err)
		}
		return re, nil
	}
	var out []clauseDetector
	for _, c := range f.Clauses {
		d := clauseDetector{id: c.ID, shapes: map[string][][]*regexp.Regexp{}, exclude: map[string][]*regexp.Regexp{},
			positive: c.Positive, negative: c.Negative}
		for lang, shapes := range c.Match {
			for _, shape := range shapes {
				var res []*regexp.Regexp
				for _, p := range shape {
					re, err := compile(c.ID, lang, p)
					if err != nil {
						return nil, err
					}
					res = append(res, re)
				}
				d.shapes[lang] = append(d.shapes[lang], res)
			}
		}
		for lang, ps := range c.Exclude {
			for _, p := range ps {
				re, err := compile(c.ID, lang, p)
				if err != nil {
					return nil, err
				}
				d.exclude[lang] = append(d.exclude[lang], re)
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// Clauses returns, per clause family in the order of policy_clauses.yaml, the first sentence of the
// analysed document that states it. Headings are not read: a heading names a topic, it states no
// clause.
func Clauses(a *Analysis) ([]Clause, error) {
	ds, err := loadClauses()
	if err != nil {
		return nil, err
	}
	if a == nil || a.doc == nil {
		return []Clause{}, nil
	}
	lang := a.Language
	out := []Clause{}
	found := map[string]bool{}
	for _, s := range a.doc.Sections {
		title := s.Title()
		for _, b := range s.Blocks {
			var units []string
			if b.Kind == "row" {
				units = []string{b.Text}
			} else {
				units = splitAt(clauseEnd, b.Text)
			}
			for _, u := range units {
				for i := range ds {
					d := &ds[i]
					if !found[d.id] && d.matches(lang, u) {
						found[d.id] = true
						out = append(out, Clause{Clause: d.id, Quote: quote(u), Section: title})
					}
				}
				if len(found) == len(ds) {
					return sortClauses(out, ds), nil
				}
			}
		}
	}
	return sortClauses(out, ds), nil
}

// sortClauses puts clauses in the order of the detectors, so the report is stable.
func sortClauses(cs []Clause, ds []clauseDetector) []Clause {
	out := make([]Clause, 0, len(cs))
	for _, d := range ds {
		for _, c := range cs {
			if c.Clause == d.id {
				out = append(out, c)
			}
		}
	}
	return out
}
