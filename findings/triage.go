package findings

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"pilmon/rules"
)

// AllStates lists every state in the order of the case path.
var AllStates = []State{
	StateNew, StateInReview, StateDismissed, StateEscalated, StateCaseOpened,
	StateRecommendationIssued, StateRectified, StateNotRectified,
	StateAnnouncementPublished, StateSuitFiled, StateClosed,
}

// transitions is the triage and case path (ARCHITECTURE.md, reference/pil-procedure.md).
var transitions = map[State][]State{
	StateNew: {StateInReview},
	// Assessment (评估) ends in dropping the clue or escalating it towards a case.
	StateInReview: {StateDismissed, StateEscalated},
	// A dismissed clue can be reopened: a later scan or a complaint may show the practice persists,
	// and the dismissal stays in the history, so reopening loses nothing.
	StateDismissed: {StateInReview},
	// Escalation may be sent back for more assessment before a case is filed (立案), for example when
	// the prosecutor deciding on filing finds the evidence thin or jurisdiction unclear.
	StateEscalated: {StateCaseOpened, StateInReview},
	// After filing: the administrative track (检察建议 to a regulator), the civil track (诉前公告
	// against the handler, PIPL Art. 70), or closing (insufficient evidence, no jurisdiction).
	StateCaseOpened:            {StateRecommendationIssued, StateAnnouncementPublished, StateClosed},
	StateRecommendationIssued:  {StateRectified, StateNotRectified},
	StateNotRectified:          {StateSuitFiled},
	StateAnnouncementPublished: {StateSuitFiled, StateClosed}, // closed: an organisation sued
	StateRectified:             {StateClosed},
	StateSuitFiled:             {StateClosed},
	StateClosed:                nil,
}

// AllowedNext returns the states a finding in state s may move to (nil for a terminal or unknown
// state). The slice is a copy.
func AllowedNext(s State) []State { return append([]State(nil), transitions[s]...) }

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

var stateLabels = map[State]rules.Text{
	StateNew:                   {ZH: "新线索", EN: "New"},
	StateInReview:              {ZH: "评估中", EN: "In review"},
	StateDismissed:             {ZH: "已排除", EN: "Dismissed"},
	StateEscalated:             {ZH: "已提请立案", EN: "Escalated"},
	StateCaseOpened:            {ZH: "已立案", EN: "Case opened"},
	StateRecommendationIssued:  {ZH: "已发出检察建议", EN: "Recommendation issued"},
	StateRectified:             {ZH: "已整改", EN: "Rectified"},
	StateNotRectified:          {ZH: "未整改", EN: "Not rectified"},
	StateAnnouncementPublished: {ZH: "已发布诉前公告", EN: "Announcement published"},
	StateSuitFiled:             {ZH: "已提起诉讼", EN: "Suit filed"},
	StateClosed:                {ZH: "已结案", EN: "Closed"},
}

// Label returns the state's name in Chinese and English; an unknown state is its own label.
func (s State) Label() rules.Text {
	if l, ok := stateLabels[s]; ok {
		return l
	}
	return rules.Text{ZH: string(s), EN: string(s)}
}

// documentRequired lists the transitions that issue a document: 检察建议书, 诉前公告, 起诉书.
var documentRequired = map[State]bool{
	StateRecommendationIssued:  true,
	StateAnnouncementPublished: true,
	StateSuitFiled:             true,
}

// IllegalTransitionError is returned when the state machine has no edge from From to To.
type IllegalTransitionError struct {
	From, To State
	Allowed  []State
}

func (e *IllegalTransitionError) Error() string {
	allowed := "none (terminal state)"
	if len(e.Allowed) > 0 {
		names := make([]string, len(e.Allowed))
		for i, s := range e.Allowed {
			names[i] = string(s)
		}
		allowed = strings.Join(names, ", ")
	}
	return fmt.Sprintf("非法的状态变更 illegal transition %s → %s; allowed from %s: %s", e.From, e.To, e.From, allowed)
}

// Why a clue is dismissed (排除理由): the dashboard asks for one of these with every dismissal, so
// that dismissals can be counted and reviewed by reason. ReasonOther needs the note to say what.
const (
	ReasonFalsePositive = "false_positive" // 误报
	ReasonNecessary     = "necessary"      // 基本功能所必需
	ReasonRectified     = "rectified"      // 已整改
	ReasonDuplicate     = "duplicate"      // 重复
	ReasonOther         = "other"          // 其他
)

// DismissReasons lists the reasons in the order a form offers them.
var DismissReasons = []string{ReasonFalsePositive, ReasonNecessary, ReasonRectified, ReasonDuplicate, ReasonOther}

var reasonLabels = map[string]rules.Text{
	ReasonFalsePositive: {ZH: "误报", EN: "False positive"},
	ReasonNecessary:     {ZH: "基本功能所必需", EN: "Necessary for the basic function"},
	ReasonRectified:     {ZH: "已整改", EN: "Already rectified"},
	ReasonDuplicate:     {ZH: "重复", EN: "Duplicate"},
	ReasonOther:         {ZH: "其他", EN: "Other"},
}

// ReasonLabel names a dismissal reason in both languages; an unknown one is its own label.
func ReasonLabel(r string) rules.Text {
	if l, ok := reasonLabels[r]; ok {
		return l
	}
	return rules.Text{ZH: r, EN: r}
}

// TransitionInput is what an analyst or prosecutor supplies with a state change.
type TransitionInput struct {
	// Reason is the dismissal reason (DismissReasons), only with a move to dismissed; whether
	// one is required is the caller's policy (the dashboard requires it).
	Reason string
	Note   string
	// DocumentNo and DocumentDate (YYYY-MM-DD) are required when entering recommendation_issued,
	// announcement_published and suit_filed.
	DocumentNo   string
	DocumentDate string
}

const (
	maxNoteBytes  = 16 << 10
	maxDocNoBytes = 200
	maxActorBytes = 200
)

// Deadline returns the date the next step is due after entering state to with a document dated
// docDate, or the zero time when none follows: a regulator must reply to a 检察建议 within two months,
// a 诉前公告 runs 30 days (pil-procedure.md). The day of the document is not counted; a month period
// ends on the same day of the month, or on the month's last day when it has none (12-31 → 02-28).
// Holidays that extend a period are not known here; the date shown is the ordinary one.
func Deadline(to State, docDate time.Time) time.Time {
	switch to {
	case StateRecommendationIssued:
		return addMonthsClamped(docDate, 2)
	case StateAnnouncementPublished:
		return docDate.AddDate(0, 0, 30)
	}
	return time.Time{}
}

func addMonthsClamped(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(d, last), 0, 0, 0, 0, time.UTC)
}

// NewTransition checks a move from state from to state to on behalf of actor and returns the
// history entry it makes: illegal moves are refused with an *IllegalTransitionError naming the
// allowed next states; a move that issues a document needs its number and date and records the
// deadline that follows. It is the whole state machine; the store only makes the write atomic.
func NewTransition(fp string, from, to State, actor string, in TransitionInput, now time.Time) (Transition, error) {
	if actor == "" || len(actor) > maxActorBytes || !utf8.ValidString(actor) {
		return Transition{}, fmt.Errorf("transition %s: actor must be 1-%d bytes of UTF-8", fp, maxActorBytes)
	}
	if len(in.Note) > maxNoteBytes || !utf8.ValidString(in.Note) {
		return Transition{}, fmt.Errorf("transition %s: note must be valid UTF-8 of at most %d bytes", fp, maxNoteBytes)
	}
	if !to.Valid() {
		return Transition{}, fmt.Errorf("transition %s: unknown state %q", fp, to)
	}
	tr := Transition{At: now.UTC(), Actor: actor, From: from, To: to, Note: in.Note}
	if in.Reason != "" {
		if to != StateDismissed {
			return Transition{}, fmt.Errorf("transition %s: a reason is given only with a dismissal, not with %s", fp, to)
		}
		if _, ok := reasonLabels[in.Reason]; !ok {
			return Transition{}, fmt.Errorf("transition %s: unknown dismissal reason %.40q (want one of %v)", fp, in.Reason, DismissReasons)
		}
		if in.Reason == ReasonOther && strings.TrimSpace(in.Note) == "" {
			return Transition{}, fmt.Errorf("transition %s: reason %q needs the note to say what it is", fp, ReasonOther)
		}
		tr.Reason = in.Reason
	}
	if err := CheckEdge(tr.From, to); err != nil {
		return Transition{}, fmt.Errorf("finding %s: %w", fp, err)
	}
	if documentRequired[to] {
		if strings.TrimSpace(in.DocumentNo) == "" || in.DocumentDate == "" {
			return Transition{}, fmt.Errorf("finding %s: %s (%s) needs the document number and date (文书编号和日期)",
				fp, to, to.Label().ZH)
		}
		if len(in.DocumentNo) > maxDocNoBytes || strings.ContainsFunc(in.DocumentNo, IsControl) || !utf8.ValidString(in.DocumentNo) {
			return Transition{}, fmt.Errorf("finding %s: bad document number %.80q", fp, in.DocumentNo)
		}
		d, err := time.Parse(time.DateOnly, in.DocumentDate)
		if err != nil {
			return Transition{}, fmt.Errorf("finding %s: document date %q: want YYYY-MM-DD", fp, in.DocumentDate)
		}
		tr.DocumentNo, tr.DocumentDate = in.DocumentNo, in.DocumentDate
		if dl := Deadline(to, d); !dl.IsZero() {
			tr.Deadline = dl.Format(time.DateOnly)
		}
	} else if in.DocumentNo != "" || in.DocumentDate != "" {
		return Transition{}, fmt.Errorf("finding %s: %s issues no document; leave document number and date empty", fp, to)
	}
	return tr, nil
}

// IsControl reports an ASCII control character, which no identifier, reference or document
// number may hold.
func IsControl(r rune) bool { return r < 0x20 || r == 0x7f }

// CheckEdge returns an *IllegalTransitionError when the case path has no move from from to to.
func CheckEdge(from, to State) error {
	for _, s := range transitions[from] {
		if s == to {
			return nil
		}
	}
	return &IllegalTransitionError{From: from, To: to, Allowed: AllowedNext(from)}
}

// RequiresDocument reports whether entering s issues a document whose number and date must be given.
func (s State) RequiresDocument() bool { return documentRequired[s] }
