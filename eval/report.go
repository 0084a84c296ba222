package eval

import (
	"fmt"
	"io"
	"sort"
)

// Share is a count of records and how many of them are true (fact and party).
type Share struct{ N, True int }

// Precision is True/N, or 1 when there is nothing to measure.
func (s Share) Precision() float64 {
	if s.N == 0 {
		return 1
	}
	return float64(s.True) / float64(s.N)
}

// Precision counts records per family and tier.
type Precision map[string]map[string]*Share // family → tier → share

// Measure counts the records: per family and tier, and "all" per tier.
func Measure(recs []Record) Precision {
	p := Precision{}
	add := func(fam, tier string, ok bool) {
		if p[fam] == nil {
			p[fam] = map[string]*Share{}
		}
		if p[fam][tier] == nil {
			p[fam][tier] = &Share{}
		}
		p[fam][tier].N++
		if ok {
			p[fam][tier].True++
		}
	}
	for _, r := range recs {
		add(r.Family, r.Tier, r.True())
		add("all", r.Tier, r.True())
	}
	return p
}

// Print writes the table of precision per family, findings and leads apart.
func (p Precision) Print(w io.Writer) {
	fams := append([]string{}, Families...)
	for f := range p {
		known := f == "all"
		for _, g := range Families {
			known = known || f == g
		}
		if !known {
			fams = append(fams, f)
		}
	}
	sort.SliceStable(fams[len(Families):], func(i, j int) bool { return fams[len(Families)+i] < fams[len(Families)+j] })
	fams = append(fams, "all")
	fmt.Fprintf(w, "%-12s %18s %18s %6s\n", "family", "findings (true/n)", "leads (true/n)", "total")
	for _, f := range fams {
		m := p[f]
		if m == nil {
			continue
		}
		cell := func(t string) string {
			s := m[t]
			if s == nil || s.N == 0 {
				return "-"
			}
			return fmt.Sprintf("%5.1f%% %4d/%-4d", 100*s.Precision(), s.True, s.N)
		}
		n := 0
		for _, s := range m {
			n += s.N
		}
		fmt.Fprintf(w, "%-12s %18s %18s %6d\n", f, cell("finding"), cell("lead"), n)
	}
}
