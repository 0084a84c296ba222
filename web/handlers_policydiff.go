package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"pilmon/cases"
	"pilmon/evidence"
	"pilmon/policies"
	"pilmon/scanner"
)

// The privacy-policy version diff on the dashboard (what `pilmon policy diff` prints), and, on a
// case, the policy versions at the baseline and now for each policy source of its target.

type policyDiffData struct {
	Old, New *policies.Loaded
	Same     bool
	Sections []sectionView
	Elements []policies.ElementChange
	PIAdded  []string
	PIGone   []string
}

type sectionView struct {
	Heading, Change string
	Removed, Added  []string
}

// policyDiffPage compares two stored captures named by their SHA-256 (?a=older&b=newer).
func (s *Server) policyDiffPage(c *echo.Context) error {
	a, b := c.QueryParam("a"), c.QueryParam("b")
	if evidence.CheckHash(a) != nil || evidence.CheckHash(b) != nil {
		return uerr(http.StatusBadRequest, "error.badparam")
	}
	// "sha256:" makes Load read the evidence store; a request never names a file.
	old, err := policies.Load(s.ev, "sha256:"+a, s.cat)
	if err != nil {
		return &userError{code: http.StatusNotFound, key: "policy.diff.unreadable", err: err}
	}
	nw, err := policies.Load(s.ev, "sha256:"+b, s.cat)
	if err != nil {
		return &userError{code: http.StatusNotFound, key: "policy.diff.unreadable", err: err}
	}
	d := policies.DiffVersions(old, nw)
	v := policyDiffData{Old: old, New: nw, Same: old.SHA256 == nw.SHA256, Elements: d.Elements, PIAdded: d.PIAdded, PIGone: d.PIGone}
	for _, sc := range d.Sections {
		rm, ad := policies.LineChanges(sc.Old, sc.New)
		v.Sections = append(v.Sections, sectionView{Heading: sc.Heading, Change: sc.Change, Removed: rm, Added: ad})
	}
	return s.render(c, http.StatusOK, "policydiff", s.newPage(c, "cases", "title.policydiff", v))
}

// policyPair is one policy source of a case's target: the version captured last at or before
// the baseline, and the newest one.
type policyPair struct {
	Source           string
	Baseline, Newest *policies.Version
	Changed          bool
}

// casePolicyVersions finds, for each policy source of the target, the capture current at since
// and the newest capture. It walks the evidence store's records once per source.
func (s *Server) casePolicyVersions(ctx context.Context, targetID string, since time.Time) []policyPair {
	if s.cfg.Targets == nil || targetID == "" {
		return nil
	}
	t, err := s.cfg.Targets.Get(ctx, targetID)
	if err != nil {
		return nil
	}
	var out []policyPair
	for _, src := range t.Sources {
		if src.Kind != scanner.SourcePolicyURL && src.Kind != scanner.SourcePolicyFile {
			continue
		}
		vs, _ := policies.History(ctx, s.ev, src.Locator)
		if len(vs) == 0 {
			continue
		}
		p := policyPair{Source: src.Locator}
		for i := range vs {
			if !vs[i].CapturedAt.After(since) {
				p.Baseline = &vs[i]
			}
		}
		p.Newest = &vs[len(vs)-1]
		p.Changed = p.Baseline != nil && p.Baseline.SHA256 != p.Newest.SHA256
		out = append(out, p)
	}
	return out
}

// baselineTime is when the baseline was fixed: the baseline scan's end, else the recording of
// the step that fixed it.
func (s *Server) baselineTime(ctx context.Context, c cases.Case) time.Time {
	if c.BaselineScan != "" {
		if r, err := s.st.GetScan(ctx, c.BaselineScan); err == nil {
			return r.FinishedAt
		}
	}
	for _, st := range []cases.State{cases.StateRecommendation, cases.StateAnnounced} {
		if d, ok := c.DocumentFor(st); ok {
			return d.RecordedAt
		}
	}
	return c.CreatedAt
}
