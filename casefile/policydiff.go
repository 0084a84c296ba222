package casefile

import (
	"context"
	"maps"
	"slices"
	"time"

	"pilmon/policies"
	"pilmon/rules"
	"pilmon/scanner"
)

// The case file shows how the target's privacy policy changed (what `pilmon policy diff` and the
// dashboard's policy diff show): for each policy source of the target captured in more than one
// version, the version current at the 检察建议 (CaseInfo.PolicySince; else the earliest) against
// the newest, each named by its capture time and SHA-256.

// Limits of the policy diff section: changed sentences shown per source, and the length of one.
const (
	maxPolicyDiffLines = 40
	maxPolicyLineRunes = 300
	maxPolicySources   = 10
)

type policyDiffView struct {
	Source   string
	Old, New policyVersionView
	// AtRecommendation: Old is the version current at the 检察建议 (else the earliest).
	AtRecommendation bool
	Same             bool
	Elements         []policyElementView
	PIAdded, PIGone  []string
	SDKAdded         []string
	SDKGone          []string
	Sections         []policySectionView
	// MoreLines counts the changed sentences left out (maxPolicyDiffLines).
	MoreLines int
}

type policyVersionView struct {
	CapturedAt, SHA256 string
}

type policyElementView struct {
	Name, Old, New, Quote string
}

type policySectionView struct {
	Heading, Change string
	Removed, Added  []string
}

// policyDiffs compares the policy versions of the target's policy sources. A source captured in
// one version only, or whose versions cannot be read, has no diff.
func (j *job) policyDiffs(ctx context.Context) []policyDiffView {
	if j.ev == nil {
		return nil
	}
	var since time.Time
	if j.opts.Case != nil {
		since = j.opts.Case.PolicySince
	}
	var out []policyDiffView
	for _, src := range j.target.Sources {
		if src.Kind != scanner.SourcePolicyURL && src.Kind != scanner.SourcePolicyFile {
			continue
		}
		if len(out) == maxPolicySources || ctx.Err() != nil {
			break
		}
		vs, _ := policies.History(ctx, j.ev, src.Locator)
		distinct := map[string]bool{}
		for _, v := range vs {
			distinct[v.SHA256] = true
		}
		if len(distinct) < 2 {
			continue
		}
		old, atRec := vs[0], false
		if !since.IsZero() {
			for _, v := range vs {
				if !v.CapturedAt.After(since) {
					old, atRec = v, true
				}
			}
		}
		nv := vs[len(vs)-1]
		if v, ok := j.policyDiff(src.Locator, old, nv); ok {
			v.AtRecommendation = atRec
			out = append(out, v)
		}
	}
	return out
}

func (j *job) policyDiff(source string, ov, nv policies.Version) (policyDiffView, bool) {
	v := policyDiffView{Source: displaySource(source, j.opts.Lang),
		Old:  policyVersionView{CapturedAt: j.fmtTime(ov.CapturedAt), SHA256: ov.SHA256},
		New:  policyVersionView{CapturedAt: j.fmtTime(nv.CapturedAt), SHA256: nv.SHA256},
		Same: ov.SHA256 == nv.SHA256}
	if v.Same {
		return v, true
	}
	old, err := policies.Load(j.ev, "sha256:"+ov.SHA256, j.cat)
	if err != nil {
		return v, false
	}
	nw, err := policies.Load(j.ev, "sha256:"+nv.SHA256, j.cat)
	if err != nil {
		return v, false
	}
	d := policies.DiffVersions(old, nw)
	L := labelsFor(j.opts.Lang)
	has := func(e policies.Element) string {
		if e.Present {
			return L.PolicyPresent
		}
		return L.PolicyAbsent
	}
	for _, e := range d.Elements {
		name := e.Element
		if pe, ok := j.cat.PolicyElement(e.Element); ok {
			name = j.text(pe.Name)
		}
		v.Elements = append(v.Elements, policyElementView{Name: name, Old: has(e.Old), New: has(e.New), Quote: clip(e.New.Quote)})
	}
	v.PIAdded, v.PIGone = j.piNames(d.PIAdded), j.piNames(d.PIGone)
	v.SDKAdded, v.SDKGone = j.sdkChanges(old.Analysis, nw.Analysis)
	budget := maxPolicyDiffLines
	take := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			if budget == 0 {
				v.MoreLines++
				continue
			}
			budget--
			out = append(out, clip(l))
		}
		return out
	}
	for _, sc := range d.Sections {
		rm, ad := policies.LineChanges(sc.Old, sc.New)
		v.Sections = append(v.Sections, policySectionView{Heading: sc.Heading, Change: j.text(policyChangeLabel(sc.Change)),
			Removed: take(rm), Added: take(ad)})
	}
	return v, true
}

func (j *job) piNames(ids []string) []string {
	var out []string
	for _, id := range ids {
		if c, ok := j.cat.PICategory(id); ok {
			out = append(out, j.text(c.Name))
		} else {
			out = append(out, id)
		}
	}
	return out
}

// sdkChanges are the catalogue SDKs one version names and the other does not.
func (j *job) sdkChanges(old, nw *policies.Analysis) (added, gone []string) {
	set := func(a *policies.Analysis) map[string]bool {
		m := map[string]bool{}
		if a != nil {
			for _, s := range a.SDKsDeclared {
				m[s.SDK] = true
			}
		}
		return m
	}
	om, nm := set(old), set(nw)
	name := func(id string) string {
		if s, ok := j.cat.SDK(id); ok {
			return j.text(s.Name)
		}
		return id
	}
	for _, id := range slices.Sorted(maps.Keys(nm)) {
		if !om[id] {
			added = append(added, name(id))
		}
	}
	for _, id := range slices.Sorted(maps.Keys(om)) {
		if !nm[id] {
			gone = append(gone, name(id))
		}
	}
	return added, gone
}

func policyChangeLabel(c string) rules.Text {
	switch c {
	case "added":
		return rules.Text{ZH: "新增", EN: "added"}
	case "removed":
		return rules.Text{ZH: "删除", EN: "removed"}
	}
	return rules.Text{ZH: "修改", EN: "changed"}
}

func clip(s string) string {
	if r := []rune(s); len(r) > maxPolicyLineRunes {
		return string(r[:maxPolicyLineRunes]) + "…"
	}
	return s
}
