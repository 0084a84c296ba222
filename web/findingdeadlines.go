package web

import (
	"context"
	"sort"
	"time"

	"pilmon/listindex"
)

// The findings list's deadline column: a finding has no deadline of its own once it is in a
// case (the case path creates them), so each row shows the most urgent deadline of the cases it
// belongs to, and the list filters and sorts by it. The list index knows nothing of cases; the
// filter and the sort reach it as sets of fingerprints (listindex.Query Only / Except).

// findingDeadline is the deadline a finding's row shows: one of a case's, with the case.
type findingDeadline struct {
	deadlineView
	CaseID, CaseNo string
}

// Filter.Deadline values beside the statuses: attention is overdue or due soon (仅看已逾期/即将到期),
// none is a finding in no case with a deadline.
const (
	dlAttention = "attention"
	dlNone      = "none"
)

// deadlineFilters are the filter's choices, in the order the form offers them.
var deadlineFilters = []string{dlAttention, "overdue", "due_soon", "open", "met", dlNone}

// dlClassRank orders a row's deadlines by urgency: what needs someone today first, then what
// waits, then what is done; superseded (the case moved on without the awaited event) last.
var dlClassRank = map[string]int{"overdue": 0, "due_soon": 1, "open": 2, "met": 3, "superseded": 4}

func (a findingDeadline) before(b findingDeadline) bool {
	if ra, rb := dlClassRank[a.Class], dlClassRank[b.Class]; ra != rb {
		return ra < rb
	}
	if a.Due != b.Due {
		return a.Due < b.Due
	}
	return a.CaseID < b.CaseID
}

// matches reports whether the row's deadline passes filter want (a status, or attention).
func (a findingDeadline) matches(want string) bool {
	if want == dlAttention {
		return a.Class == "overdue" || a.Class == "due_soon"
	}
	return a.Class == want
}

// findingDeadlines maps every finding that belongs to a case with a deadline to the most
// urgent of its cases' deadlines as of now.
func (s *Server) findingDeadlines(ctx context.Context, l *Lang, now time.Time) (map[string]findingDeadline, error) {
	all, err := s.st.Cases(ctx)
	if err != nil && len(all) == 0 {
		return nil, err
	}
	out := map[string]findingDeadline{}
	for _, c := range all {
		var best *findingDeadline
		for _, v := range s.deadlineViews(l, c, now) {
			fd := findingDeadline{deadlineView: v, CaseID: c.ID, CaseNo: c.CaseNo}
			if best == nil || fd.before(*best) {
				best = &fd
			}
		}
		if best == nil {
			continue
		}
		for _, fp := range c.Fingerprints() {
			if cur, ok := out[fp]; !ok || best.before(cur) {
				out[fp] = *best
			}
		}
	}
	return out, nil
}

// deadlineQuery narrows q by the deadline filter: Only the findings whose deadline matches, or
// Except every finding with one (none).
func deadlineQuery(q *listindex.Query, want string, dls map[string]findingDeadline) {
	switch want {
	case "":
	case dlNone:
		q.Except = make(map[string]bool, len(dls))
		for fp := range dls {
			q.Except[fp] = true
		}
	default:
		q.Only = map[string]bool{}
		for fp, d := range dls {
			if d.matches(want) {
				q.Only[fp] = true
			}
		}
	}
}

// sortedByDeadline answers q ordered by deadline: the findings with one first, most urgent
// first (ties in the list's ordinary order), then those without in that order. Two queries: every
// finding with a deadline that matches (as many as the cases hold), and the page of the rest.
// Direction does not apply: urgency has one order.
func sortedByDeadline(sn *listindex.Snapshot, q listindex.Query, dls map[string]findingDeadline) (int, []*listindex.Entry) {
	off, lim := q.Off, q.Lim
	q.Asc = false
	keys := make(map[string]bool, len(dls))
	for fp := range dls {
		if q.Only == nil || q.Only[fp] {
			keys[fp] = true
		}
	}
	var nWith int
	var page []*listindex.Entry
	if len(keys) > 0 && len(q.Except) == 0 {
		with := q
		with.Only, with.Off, with.Lim = keys, 0, len(keys)
		var dl []*listindex.Entry
		nWith, dl = sn.Query(with)
		sort.SliceStable(dl, func(i, j int) bool { return dls[dl[i].Fingerprint()].before(dls[dl[j].Fingerprint()]) })
		if off < len(dl) {
			page = append(page, dl[off:min(len(dl), off+lim)]...)
		}
	}
	if q.Only != nil {
		// A status filter: every match has a deadline and was read above.
		return nWith, page
	}
	rest := q
	if len(rest.Except) == 0 {
		// Without the none filter the rest are the findings outside keys (with it, Except already
		// holds every finding with a deadline).
		rest.Except = keys
	}
	// The index pages by an offset and a positive limit: a page already full of findings with a
	// deadline still asks for one row of the rest, to count them, and drops it.
	rest.Off, rest.Lim = max(0, off-nWith), max(1, lim-len(page))
	nRest, tail := sn.Query(rest)
	if len(page) < lim {
		page = append(page, tail[:min(len(tail), lim-len(page))]...)
	}
	return nWith + nRest, page
}
