package policies

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
)

// JSON returns the report as canonical JSON: fixed field order, sorted map keys, no HTML
// escaping, two-space indent, trailing newline.
func (a *Analysis) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(a); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SectionChange is one section added, removed or changed between two versions.
type SectionChange struct {
	Heading string `json:"heading"`
	Change  string `json:"change"` // added | removed | changed
	Old     string `json:"old,omitempty"`
	New     string `json:"new,omitempty"`
}

// ElementChange is an element that appeared, disappeared or changed its quote.
type ElementChange struct {
	Element string  `json:"element"`
	Old     Element `json:"old"`
	New     Element `json:"new"`
}

// DiffResult compares two captures of the same policy section by section.
type DiffResult struct {
	Sections []SectionChange `json:"sections"`
	Elements []ElementChange `json:"elements"`
	PIAdded  []string        `json:"pi_added"`
	PIGone   []string        `json:"pi_removed"`
}

// Diff compares an older and a newer analysis. Sections are matched by heading (numbering
// ignored, so renumbering alone is no change).
func Diff(old, new *Analysis) DiffResult {
	r := DiffResult{Sections: []SectionChange{}, Elements: []ElementChange{}, PIAdded: []string{}, PIGone: []string{}}
	// Headings are matched by a key that ignores case, spacing and Markdown attribute lists
	// ("Information we collect {: #markup }" is "Information We Collect"); the heading shown is
	// the one written in the newer version when both have it.
	index := func(a *Analysis) (map[string]string, map[string]string, []string) {
		text, shown := map[string]string{}, map[string]string{}
		var order []string
		if a == nil || a.doc == nil {
			return text, shown, order
		}
		for _, s := range a.doc.Sections {
			k := headingKey(s.Heading)
			if _, dup := text[k]; dup {
				text[k] += "\n" + s.Text()
				continue
			}
			text[k], shown[k] = s.Text(), strings.TrimSpace(attrList.ReplaceAllString(s.Heading, ""))
			order = append(order, k)
		}
		return text, shown, order
	}
	om, oshown, oorder := index(old)
	nm, nshown, norder := index(new)
	for _, k := range oorder {
		if nt, ok := nm[k]; !ok {
			r.Sections = append(r.Sections, SectionChange{Heading: oshown[k], Change: "removed", Old: om[k]})
		} else if nt != om[k] {
			r.Sections = append(r.Sections, SectionChange{Heading: nshown[k], Change: "changed", Old: om[k], New: nt})
		}
	}
	for _, k := range norder {
		if _, ok := om[k]; !ok {
			r.Sections = append(r.Sections, SectionChange{Heading: nshown[k], Change: "added", New: nm[k]})
		}
	}
	for _, id := range ElementIDs {
		var o, n Element
		if old != nil {
			o = old.Elements[id]
		}
		if new != nil {
			n = new.Elements[id]
		}
		if o != n {
			r.Elements = append(r.Elements, ElementChange{Element: id, Old: o, New: n})
		}
	}
	pis := func(a *Analysis) map[string]bool {
		m := map[string]bool{}
		if a != nil {
			for _, p := range a.PIDeclared {
				m[p.PI] = true
			}
		}
		return m
	}
	op, np := pis(old), pis(new)
	for p := range np {
		if !op[p] {
			r.PIAdded = append(r.PIAdded, p)
		}
	}
	for p := range op {
		if !np[p] {
			r.PIGone = append(r.PIGone, p)
		}
	}
	sort.Strings(r.PIAdded)
	sort.Strings(r.PIGone)
	return r
}

// attrList is a kramdown attribute list such as "{: #markup }" or "{: datetime=\"2024-01-01\" }".
var attrList = regexp.MustCompile(`\{:[^}]*\}`)

func headingKey(h string) string {
	return strings.ToLower(strings.Join(strings.Fields(attrList.ReplaceAllString(h, "")), " "))
}
