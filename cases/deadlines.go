package cases

import (
	"fmt"
	"math"
	"sort"
	"time"
	_ "time/tzdata" // Asia/Shanghai without relying on the host's zoneinfo
)

// Beijing is the zone deadlines are counted in: a procuratorate's days are Beijing days.
var Beijing = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// Policy holds the periods the path creates and when a deadline counts as due soon. The defaults
// are the ordinary periods of reference/pil-procedure.md: a regulator replies to a 检察建议 within
// two months (人民检察院公益诉讼办案规则 2021; 15 days when urgent, which a prosecutor sets per
// deployment with ReplyDays), and a 诉前公告 runs 30 days.
type Policy struct {
	ReplyMonths      int `json:"reply_months"`
	ReplyDays        int `json:"reply_days"` // when > 0, replaces ReplyMonths (urgent cases)
	AnnouncementDays int `json:"announcement_days"`
	DueSoonDays      int `json:"due_soon_days"`
}

// DefaultPolicy is two months, 30 days, and a week's warning.
var DefaultPolicy = Policy{ReplyMonths: 2, AnnouncementDays: 30, DueSoonDays: 7}

// Validate checks the periods are positive and plausible (a typo of 600 days is refused).
func (p Policy) Validate() error {
	if p.ReplyMonths < 0 || p.ReplyMonths > 24 || p.ReplyDays < 0 || p.ReplyDays > 730 || (p.ReplyMonths == 0 && p.ReplyDays == 0) {
		return fmt.Errorf("deadlines: reply period must be 1-24 months or 1-730 days (got %d months, %d days)", p.ReplyMonths, p.ReplyDays)
	}
	if p.AnnouncementDays < 1 || p.AnnouncementDays > 730 {
		return fmt.Errorf("deadlines: announcement period must be 1-730 days (got %d)", p.AnnouncementDays)
	}
	if p.DueSoonDays < 0 || p.DueSoonDays > 365 {
		return fmt.Errorf("deadlines: due-soon window must be 0-365 days (got %d)", p.DueSoonDays)
	}
	return nil
}

// DeadlineKind names what a deadline waits for.
type DeadlineKind string

const (
	DeadlineReply        DeadlineKind = "reply"        // the regulator's written reply to the 检察建议
	DeadlineAnnouncement DeadlineKind = "announcement" // the end of the 诉前公告 period
)

// Label names the kind in Chinese and English.
func (k DeadlineKind) Label() (zh, en string) {
	switch k {
	case DeadlineReply:
		return "检察建议回复期限", "Reply to the recommendation"
	case DeadlineAnnouncement:
		return "诉前公告期限", "Announcement period"
	}
	return string(k), string(k)
}

// DeadlineStatus is where a deadline stands today.
type DeadlineStatus string

const (
	StatusOpen    DeadlineStatus = "open"
	StatusDueSoon DeadlineStatus = "due_soon"
	StatusOverdue DeadlineStatus = "overdue"
	StatusMet     DeadlineStatus = "met"
)

// Deadline is one deadline of a case.
type Deadline struct {
	Kind DeadlineKind `json:"kind"`
	// From is the document date the period runs from; Due the last day of the period (Beijing
	// dates, YYYY-MM-DD).
	From   string         `json:"from"`
	Due    string         `json:"due"`
	Status DeadlineStatus `json:"status"`
	// Pending is true while the case waits in the step that started the deadline: only then
	// does it need someone's attention.
	Pending bool `json:"pending"`
	// MetOn is the date of the document that met it (the reply), or the day the case moved on.
	MetOn string `json:"met_on,omitempty"`
}

// DaysLeft is how many Beijing days remain until Due (negative when past).
func (d Deadline) DaysLeft(now time.Time) int {
	due, err := time.ParseInLocation(time.DateOnly, d.Due, Beijing)
	if err != nil {
		return 0
	}
	return daysUntil(due, now)
}

// daysUntil counts whole Beijing days from today to due (China keeps no daylight saving time, so
// a day is 24 hours; rounding absorbs nothing else).
func daysUntil(due, now time.Time) int { return int(math.Round(due.Sub(today(now)).Hours() / 24)) }

// NeedsAttention reports a pending deadline that is due soon or overdue.
func (d Deadline) NeedsAttention() bool {
	return d.Pending && (d.Status == StatusDueSoon || d.Status == StatusOverdue)
}

func today(now time.Time) time.Time {
	y, m, d := now.In(Beijing).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, Beijing)
}

// addMonthsClamped ends a month period on the same day of the month, or on the month's last day
// when it has none (12-31 + 2 months → 02-28), as findings.Deadline does.
func addMonthsClamped(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, t.Location())
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), 0, 0, 0, 0, t.Location())
}

// due computes the last day of a period starting the day after from (the day of the document is
// not counted). Holidays that extend a period are not known here; the date shown is the ordinary
// one.
func (p Policy) due(kind DeadlineKind, from time.Time) time.Time {
	if kind == DeadlineReply {
		if p.ReplyDays > 0 {
			return from.AddDate(0, 0, p.ReplyDays)
		}
		return addMonthsClamped(from, p.ReplyMonths)
	}
	return from.AddDate(0, 0, p.AnnouncementDays)
}

// startedBy maps each deadline to the step whose document starts it, and the steps that meet it.
var deadlineSteps = []struct {
	kind  DeadlineKind
	start State
}{
	{DeadlineReply, StateRecommendation},
	{DeadlineAnnouncement, StateAnnounced},
}

// Deadlines returns the case's deadlines as of now, in the order the path creates them. A
// deadline exists once its starting step's document is registered with a date.
func (c Case) Deadlines(p Policy, now time.Time) []Deadline {
	var out []Deadline
	for _, ds := range deadlineSteps {
		doc, ok := c.DocumentFor(ds.start)
		if !ok || doc.Date == "" {
			continue
		}
		from, err := time.ParseInLocation(time.DateOnly, doc.Date, Beijing)
		if err != nil {
			continue
		}
		due := p.due(ds.kind, from)
		d := Deadline{Kind: ds.kind, From: doc.Date, Due: due.Format(time.DateOnly), Pending: c.State == ds.start}
		switch {
		case ds.kind == DeadlineReply && c.hasDoc(StateReplied):
			// The reply meets the deadline; its date (MetOn) shows whether it came late.
			r, _ := c.DocumentFor(StateReplied)
			d.Status, d.MetOn = StatusMet, r.Date
		case ds.kind == DeadlineAnnouncement && !d.Pending:
			// The period is spent once the case moves on (a suit, or closing when an
			// organisation sued).
			d.Status, d.MetOn = StatusMet, c.movedOnDate(ds.start)
		default:
			// Waiting, or (a reply that never came) the case moved on without it: the date
			// decides, and Pending says whether anyone still has to act on it.
			left := daysUntil(due, now)
			switch {
			case left < 0:
				d.Status = StatusOverdue
			case left <= p.DueSoonDays:
				d.Status = StatusDueSoon
			default:
				d.Status = StatusOpen
			}
		}
		out = append(out, d)
	}
	return out
}

func (c Case) hasDoc(s State) bool { _, ok := c.DocumentFor(s); return ok }

// movedOnDate is the Beijing date of the document (or, without one, the record) of the step
// after start.
func (c Case) movedOnDate(start State) string {
	for i, d := range c.Documents {
		if d.Step == start && i+1 < len(c.Documents) {
			n := c.Documents[i+1]
			if n.Date != "" {
				return n.Date
			}
			return n.RecordedAt.In(Beijing).Format(time.DateOnly)
		}
	}
	return c.UpdatedAt.In(Beijing).Format(time.DateOnly)
}

// Attention is a case with a deadline that needs attention today.
type Attention struct {
	Case     Case
	Deadline Deadline
}

// NeedingAttention picks, from cs, every pending deadline due soon or overdue, the most urgent
// first (overdue before due soon, then by due date).
func NeedingAttention(cs []Case, p Policy, now time.Time) []Attention {
	var out []Attention
	for _, c := range cs {
		for _, d := range c.Deadlines(p, now) {
			if d.NeedsAttention() {
				out = append(out, Attention{Case: c, Deadline: d})
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Deadline, out[j].Deadline
		if (a.Status == StatusOverdue) != (b.Status == StatusOverdue) {
			return a.Status == StatusOverdue
		}
		if a.Due != b.Due {
			return a.Due < b.Due
		}
		return out[i].Case.ID < out[j].Case.ID
	})
	return out
}

// WorstStatus is the most urgent status among a case's pending deadlines ("" when none is
// pending): the lists sort and filter cases by it.
func WorstStatus(ds []Deadline) DeadlineStatus {
	rank := map[DeadlineStatus]int{StatusMet: 1, StatusOpen: 2, StatusDueSoon: 3, StatusOverdue: 4}
	var w DeadlineStatus
	for _, d := range ds {
		if d.Pending && rank[d.Status] > rank[w] {
			w = d.Status
		}
	}
	return w
}

// FindingDeadline is a deadline of a case a finding belongs to.
type FindingDeadline struct {
	CaseID string `json:"case_id"`
	CaseNo string `json:"case_no"`
	Deadline
}

// DeadlinesOf returns the deadlines, as of now, of the cases in cs that finding fp belongs to
// (store.CasesForFinding reads those cases): the case file's XLSX shows them in its 期限 column.
func DeadlinesOf(cs []Case, fp string, p Policy, now time.Time) []FindingDeadline {
	var out []FindingDeadline
	for _, c := range cs {
		if !c.HasFinding(fp) {
			continue
		}
		for _, d := range c.Deadlines(p, now) {
			out = append(out, FindingDeadline{CaseID: c.ID, CaseNo: c.CaseNo, Deadline: d})
		}
	}
	return out
}
