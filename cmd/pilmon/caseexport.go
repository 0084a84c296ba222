package main

// The case's case file: what a case (package cases) tells the court report (package casefile).
// Neither package knows the other; the two meet here, for the dashboard and for pilmon export.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"pilmon/casefile"
	"pilmon/cases"
	"pilmon/scanner"
	"pilmon/store"
)

// maxScansForCover bounds how far back a case export looks for the scan that read the app (the
// newest scans of a watched app may all be unchanged downloads that read nothing).
const maxScansForCover = 50

// caseExport is one case ready for casefile: its findings and what its report says about it.
type caseExport struct {
	sel      casefile.Selection
	info     casefile.CaseInfo
	coverage *casefile.Coverage
	context  []scanner.Observation
	target   *scanner.Target
}

// prepareCase reads case id and everything its report needs: the case's findings (only those,
// whatever their triage state, because a prosecutor chose them), the document register and
// deadlines as of now, the coverage of the scan the case rests on (the baseline scan, else the
// target's newest) and the context observations of the newest scan that read the app.
func prepareCase(ctx context.Context, st *store.Store, lookup func(context.Context, string) *scanner.Target, id, procuratorate string, p cases.Policy, now time.Time) (caseExport, error) {
	c, err := st.Case(ctx, id)
	if err != nil {
		return caseExport{}, err
	}
	if len(c.Findings) == 0 {
		return caseExport{}, fmt.Errorf("案件 %s 没有发现 / case %s has no findings: %w", c.CaseNo, c.CaseNo, casefile.ErrEmpty)
	}
	x := caseExport{info: caseInfo(c, procuratorate, p, now)}
	for _, m := range c.Findings {
		x.sel.Fingerprints = append(x.sel.Fingerprints, m.Fingerprint)
	}
	x.sel.TargetID = c.TargetID
	if analysts, err := analystsOf(ctx, st, c); err == nil {
		x.info.Analysts = analysts
	} else {
		return caseExport{}, err
	}
	if c.TargetID == "" {
		return x, nil
	}
	if lookup != nil {
		x.target = lookup(ctx, c.TargetID)
	}
	scans, _, err := st.ScansForTarget(ctx, c.TargetID, 0, maxScansForCover)
	if err != nil {
		return caseExport{}, err
	}
	// Coverage: the scan at the 检察建议 when there is one (the findings were assessed as of then),
	// else the newest complete scan. Without a scan record, no item can be marked 符合.
	for _, sc := range scans {
		if (c.BaselineScan != "" && sc.ID == c.BaselineScan) || (c.BaselineScan == "" && sc.Complete) {
			x.coverage = &casefile.Coverage{ScanID: sc.ID, NotAssessed: sc.NotAssessed}
			break
		}
	}
	for _, sc := range scans {
		if slices.ContainsFunc(sc.Identity, func(o scanner.Observation) bool { return o.Kind == "apk.identity" || o.Kind == "mp.identity" }) {
			x.context = sc.Identity
			break
		}
	}
	return x, nil
}

// caseInfo maps a case onto the report's case block. Labels are the case package's own Chinese
// words, the report being Chinese first.
func caseInfo(c cases.Case, procuratorate string, p cases.Policy, now time.Time) casefile.CaseInfo {
	info := casefile.CaseInfo{
		ReportNo:      reportNo(c, now),
		CaseNo:        c.CaseNo,
		Type:          string(c.Type),
		Procuratorate: procuratorate,
		Operator:      casefile.Party{Name: c.Operator.Name, USCC: c.Operator.USCC, Address: c.Operator.Address},
		Agency:        casefile.Agency{Name: c.Agency.Name, LegalBasis: c.Agency.DutyBasis},
		LeadSource:    c.LeadSource,
	}
	if c.Handler != "" {
		info.Handlers = []string{c.Handler}
	}
	if c.Scale.Users > 0 {
		info.Scale = append(info.Scale, casefile.ScaleFact{Label: "用户数", Value: strconv.FormatInt(c.Scale.Users, 10), Source: c.Scale.Source})
	}
	if c.Scale.Downloads > 0 {
		info.Scale = append(info.Scale, casefile.ScaleFact{Label: "下载量", Value: strconv.FormatInt(c.Scale.Downloads, 10), Source: c.Scale.Source})
	}
	// The privacy policy is compared from the version current when the 检察建议 (or, on the
	// civil track, the announcement) was recorded, as the dashboard's case page does.
	for _, st := range []cases.State{cases.StateRecommendation, cases.StateAnnounced} {
		if d, ok := c.DocumentFor(st); ok {
			info.PolicySince = d.RecordedAt
			break
		}
	}
	for _, d := range c.Documents {
		zh, _ := d.Step.Label()
		doc := casefile.Document{Kind: zh, Number: d.Number, SHA256: d.SHA256}
		if t, err := time.ParseInLocation(time.DateOnly, d.Date, cases.Beijing); err == nil {
			doc.Date = t
		}
		info.Documents = append(info.Documents, doc)
	}
	for _, d := range c.Deadlines(p, now) {
		zh, _ := d.Kind.Label()
		dl := casefile.Deadline{Kind: zh, Status: string(d.Status)}
		if t, err := time.ParseInLocation(time.DateOnly, d.Due, cases.Beijing); err == nil {
			dl.Due = t
		}
		for _, doc := range c.Documents {
			if doc.Date == d.From && doc.Number != "" {
				dl.DocumentNo = doc.Number
				break
			}
		}
		info.Deadlines = append(info.Deadlines, dl)
	}
	return info
}

// reportNo numbers a report by its case and the minute it was made (Beijing time), so that two
// exports of one case are told apart and each number says which case it belongs to.
func reportNo(c cases.Case, now time.Time) string {
	base := c.CaseNo
	if base == "" {
		base = c.ID
	}
	return base + "-报告-" + now.In(cases.Beijing).Format("20060102-1504")
}

// analystsOf lists who worked on the case's findings (notes, triage, manual results), the
// handler and pilmon itself left out, in the order they first appear.
func analystsOf(ctx context.Context, st *store.Store, c cases.Case) ([]string, error) {
	const maxAnalysts = 20
	var out []string
	for _, m := range c.Findings {
		hist, err := st.History(ctx, m.Fingerprint)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			return nil, err
		}
		for _, h := range hist {
			who := h.Actor
			// "user (token t_…)": the person, not the token.
			if i := strings.Index(who, " ("); i > 0 {
				who = who[:i]
			}
			if who == "" || who == c.Handler || strings.HasPrefix(who, "pilmon") || slices.Contains(out, who) {
				continue
			}
			if out = append(out, who); len(out) == maxAnalysts {
				return out, nil
			}
		}
	}
	return out, nil
}

// caseDeps reads case id and returns the selection and the export's dependencies with the case
// block, the coverage and the context observations filled in.
func caseDeps(ctx context.Context, st *store.Store, deps casefile.Deps, lookup func(context.Context, string) *scanner.Target, id, procuratorate string, p cases.Policy) (casefile.Selection, casefile.Deps, error) {
	x, err := prepareCase(ctx, st, lookup, id, procuratorate, p, time.Now())
	if err != nil {
		return casefile.Selection{}, deps, err
	}
	deps.Options.Case, deps.Options.Coverage, deps.Options.Observations = &x.info, x.coverage, x.context
	if x.target != nil {
		deps.Target = x.target
	}
	return x.sel, deps, nil
}

// exportCase writes the case file of case id.
func exportCase(ctx context.Context, w io.Writer, st *store.Store, deps casefile.Deps, lookup func(context.Context, string) *scanner.Target, id, procuratorate string, p cases.Policy) (casefile.Summary, error) {
	sel, deps, err := caseDeps(ctx, st, deps, lookup, id, procuratorate, p)
	if err != nil {
		return casefile.Summary{}, err
	}
	return casefile.Export(ctx, w, sel, deps)
}

// draftRecommendation writes the draft 检察建议书 (DOCX) of case id.
func draftRecommendation(ctx context.Context, w io.Writer, st *store.Store, deps casefile.Deps, lookup func(context.Context, string) *scanner.Target, id, procuratorate string, p cases.Policy) error {
	sel, deps, err := caseDeps(ctx, st, deps, lookup, id, procuratorate, p)
	if err != nil {
		return err
	}
	return casefile.ExportRecommendation(ctx, w, sel, deps)
}
