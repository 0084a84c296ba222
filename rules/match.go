package rules

import (
	"fmt"
	"math"
	"reflect"
)

// FactKind returns the example observation's kind.
func (e ExampleFact) FactKind() string { return e.Kind }

// FactAttr returns the named attribute ("subject" gives Subject).
func (e ExampleFact) FactAttr(name string) (any, bool) {
	if name == "subject" {
		return e.Subject, true
	}
	v, ok := e.Attributes[name]
	return v, ok
}

// Facts returns the example's observations as facts.
func (e Example) Facts() []Fact {
	out := make([]Fact, len(e.Observations))
	for i := range e.Observations {
		out[i] = e.Observations[i]
	}
	return out
}

// Fires returns the facts that trigger v in a scan of an app of the given category ("" when
// unknown), in input order and each once. It implements the semantics documented on Trigger;
// a violation without triggers never fires.
func (c *Catalogue) Fires(v Violation, category string, facts []Fact) []Fact {
	if len(v.Check.Triggers) == 0 || len(facts) == 0 {
		return nil
	}
	m := matcher{c: c, category: category, facts: facts}
	var out []Fact
	for _, f := range facts {
		for i := range v.Check.Triggers {
			if m.matches(&v.Check.Triggers[i], f) {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// matcher holds per-scan state computed lazily: the kinds present and the cancel sets of Unless.
type matcher struct {
	c        *Catalogue
	category string
	facts    []Fact
	kinds    map[string]bool
	cancel   map[Join]map[any]bool
}

func (m *matcher) matches(t *Trigger, f Fact) bool {
	if f == nil || isNilFact(f) || f.FactKind() != t.Kind {
		return false
	}
	for k, want := range t.Where {
		got, ok := f.FactAttr(k)
		if !ok || !anyEqual(listOf(got), listOf(want)) {
			return false
		}
	}
	if t.OutsideNecessaryScope && !m.outsideScope(f) {
		return false
	}
	if t.SensitiveOnly && !m.sensitive(f) {
		return false
	}
	for _, r := range t.Requires {
		if !m.hasKind(r) {
			return false
		}
	}
	if t.Unless != nil {
		vals, ok := f.FactAttr(t.Unless.On)
		if ok {
			cancel := m.cancelSet(*t.Unless)
			for _, v := range listOf(vals) {
				if cancel[normValue(v)] {
					return false
				}
			}
		}
	}
	return true
}

func (m *matcher) outsideScope(f Fact) bool {
	if m.category == "" || m.c == nil {
		return false
	}
	cat, ok := m.c.appCatByKey[m.category]
	if !ok {
		return false
	}
	necessary := m.c.necessaryPI[m.c.appCategories[cat].Key]
	pis, _ := f.FactAttr("pi")
	for _, p := range listOf(pis) {
		s, ok := p.(string)
		if ok && !necessary[s] {
			return true
		}
	}
	return false
}

func (m *matcher) sensitive(f Fact) bool {
	if m.c == nil {
		return false
	}
	pis, _ := f.FactAttr("pi")
	for _, p := range listOf(pis) {
		if s, ok := p.(string); ok && m.c.IsSensitive(s) {
			return true
		}
	}
	return false
}

func (m *matcher) hasKind(kind string) bool {
	if m.kinds == nil {
		m.kinds = map[string]bool{}
		for _, f := range m.facts {
			if f != nil && !isNilFact(f) {
				m.kinds[f.FactKind()] = true
			}
		}
	}
	return m.kinds[kind]
}

func (m *matcher) cancelSet(j Join) map[any]bool {
	if s, ok := m.cancel[j]; ok {
		return s
	}
	s := map[any]bool{}
	for _, f := range m.facts {
		if f == nil || isNilFact(f) || f.FactKind() != j.Kind {
			continue
		}
		if v, ok := f.FactAttr(j.On); ok {
			for _, x := range listOf(v) {
				s[normValue(x)] = true
			}
		}
	}
	if m.cancel == nil {
		m.cancel = map[Join]map[any]bool{}
	}
	m.cancel[j] = s
	return s
}

// isNilFact guards against a typed nil pointer stored in the Fact interface.
func isNilFact(f Fact) bool {
	v := reflect.ValueOf(f)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// listOf turns an attribute or where value into a list: []string and []any (YAML lists) are
// spread, anything else is one item. nil is the empty list.
func listOf(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case []int:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	}
	return []any{v}
}

func anyEqual(got, want []any) bool {
	for _, g := range got {
		ng := normValue(g)
		for _, w := range want {
			if ng == normValue(w) {
				return true
			}
		}
	}
	return false
}

// normValue makes values comparable across their Go representations: YAML decodes numbers as
// int, JSON as float64, inspectors may use int64; all numbers become float64.
func normValue(v any) any {
	switch x := v.(type) {
	case string, bool:
		return x
	case int:
		return float64(x)
	case int8:
		return float64(x)
	case int16:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case uint:
		return float64(x)
	case uint8:
		return float64(x)
	case uint16:
		return float64(x)
	case uint32:
		return float64(x)
	case uint64:
		return float64(x)
	case float32:
		return float64(x)
	case float64:
		if math.IsNaN(x) {
			return "NaN"
		}
		return x
	case nil:
		return nil
	}
	return fmt.Sprintf("%T:%v", v, v)
}
