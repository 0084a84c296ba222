package cases

import (
	"fmt"
	"strings"
	"time"

	"pilmon/findings"
)

// State is a step of the case path.
type State string

// The steps, named as the per-finding path named them (see the package comment), plus replied.
const (
	StateFiled          State = State(findings.StateCaseOpened)            // 立案
	StateRecommendation State = State(findings.StateRecommendationIssued)  // 检察建议
	StateReplied        State = "replied"                                  // 回复
	StateRectified      State = State(findings.StateRectified)             // 整改
	StateNotRectified   State = State(findings.StateNotRectified)          // 未整改
	StateAnnounced      State = State(findings.StateAnnouncementPublished) // 诉前公告
	StateSuit           State = State(findings.StateSuitFiled)             // 起诉
	StateClosed         State = State(findings.StateClosed)                // 结案
)

// AllStates lists the steps in path order.
var AllStates = []State{StateFiled, StateRecommendation, StateReplied, StateRectified, StateNotRectified,
	StateAnnounced, StateSuit, StateClosed}

// paths are the two tracks (reference/pil-procedure.md; 人民检察院公益诉讼办案规则 2021):
//
// Administrative (行政公益诉讼): the 检察建议 goes to the regulator, which must reply in writing
// within two months (人民检察院公益诉讼办案规则 2021, per reference/pil-procedure.md); 跟进调查 finds the app rectified or not; an agency that did
// not perform its duty is sued (行政诉讼法 Art. 25 para. 4). 未整改 may follow the 检察建议 without a
// reply (the regulator never answered), which the deadline check guards.
//
// Civil (民事公益诉讼): against the handler (PIPL Art. 70); the 诉前公告 runs 30 days
// (the same rules) and must precede the suit (民事诉讼法 Art. 58 para. 2: the procuratorate sues
// only when no body the law names does); the case closes without suit when such a body sues.
//
// Either track may close right after filing (insufficient evidence, no jurisdiction).
var paths = map[Type]map[State][]State{
	Administrative: {
		StateFiled:          {StateRecommendation, StateClosed},
		StateRecommendation: {StateReplied, StateNotRectified},
		StateReplied:        {StateRectified, StateNotRectified},
		StateRectified:      {StateClosed},
		StateNotRectified:   {StateSuit, StateClosed},
		StateSuit:           {StateClosed},
	},
	Civil: {
		StateFiled:     {StateAnnounced, StateClosed},
		StateAnnounced: {StateSuit, StateClosed},
		StateSuit:      {StateClosed},
	},
}

// Next returns the steps a case of track t in state s may move to.
func Next(t Type, s State) []State { return append([]State(nil), paths[t][s]...) }

// Valid reports whether s is a step of the path.
func (s State) Valid() bool {
	for _, x := range AllStates {
		if x == s {
			return true
		}
	}
	return false
}

var stateLabels = map[State][2]string{
	StateFiled:          {"立案", "Filed"},
	StateRecommendation: {"检察建议", "Recommendation issued"},
	StateReplied:        {"回复", "Reply received"},
	StateRectified:      {"整改", "Rectified"},
	StateNotRectified:   {"未整改", "Not rectified"},
	StateAnnounced:      {"诉前公告", "Pre-suit announcement"},
	StateSuit:           {"起诉", "Suit filed"},
	StateClosed:         {"结案", "Closed"},
}

// Label names a step in Chinese and English.
func (s State) Label() (zh, en string) {
	if l, ok := stateLabels[s]; ok {
		return l[0], l[1]
	}
	return string(s), string(s)
}

// FindingState is the per-finding state (findings/triage.go) a step corresponds to; replied has
// none (ok false). See the package comment.
func FindingState(s State) (findings.State, bool) {
	if s == StateReplied || !s.Valid() {
		return "", false
	}
	return findings.State(s), true
}

// docRule is what a step records in the register: the document's name, and whether its number
// and date are required (a step whose document is optional records one only when given).
type docRule struct {
	zh, en       string
	needNumber   bool
	needDate     bool
	needReason   bool // closing needs a reason
	baselineScan bool // the step fixes the scan 整改复查 compares against
}

var docRules = map[State]docRule{
	StateRecommendation: {zh: "检察建议书", en: "procuratorial recommendation", needNumber: true, needDate: true, baselineScan: true},
	StateReplied:        {zh: "回复函", en: "reply", needDate: true},
	StateRectified:      {zh: "跟进调查记录", en: "follow-up record"},
	StateNotRectified:   {zh: "跟进调查记录", en: "follow-up record"},
	StateAnnounced:      {zh: "诉前公告", en: "pre-suit announcement", needNumber: true, needDate: true, baselineScan: true},
	StateSuit:           {zh: "起诉书", en: "statement of claim", needNumber: true, needDate: true},
	StateClosed:         {zh: "结案报告", en: "closing report", needReason: true},
}

// DocumentName names the document step s records, in Chinese and English.
func DocumentName(s State) (zh, en string) {
	r := docRules[s]
	return r.zh, r.en
}

// NeedsDocumentNumber reports whether entering s requires the document's number and date.
func NeedsDocumentNumber(s State) bool { return docRules[s].needNumber }

// MoveInput is what a prosecutor supplies with a step.
type MoveInput struct {
	Number, Date string // the document's number and date (YYYY-MM-DD)
	// SHA256, SM3 and FileName describe the uploaded document, already stored as evidence.
	SHA256, SM3, FileName string
	Note                  string
	// Reason is required to close, and to record a step before the deadline it ends.
	Reason string
	// Confirm acknowledges the early-step warning (see EarlyStepError).
	Confirm bool
	// BaselineScan is the target's newest scan id now; recorded with the 检察建议 / 诉前公告.
	BaselineScan string
}

// EarlyStepError is returned when a step would be recorded before the deadline it ends (未整改
// before the regulator's reply period is over, 起诉 before the announcement has run): the step is
// refused until the prosecutor confirms and gives a reason.
type EarlyStepError struct {
	To       State
	Deadline Deadline
	DaysLeft int
}

func (e *EarlyStepError) Error() string {
	zh, _ := e.To.Label()
	return fmt.Sprintf("%s 在期限 %s（%s）届满前 %d 天记录，需要确认并说明理由 recorded %d days before the %s deadline %s: confirm and give a reason",
		zh, e.Deadline.Due, e.Deadline.Kind, e.DaysLeft, e.DaysLeft, e.Deadline.Kind, e.Deadline.Due)
}

// IllegalMoveError is returned for a step the case's track does not allow from its state.
type IllegalMoveError struct {
	Type     Type
	From, To State
	Allowed  []State
}

func (e *IllegalMoveError) Error() string {
	names := make([]string, len(e.Allowed))
	for i, s := range e.Allowed {
		names[i] = string(s)
	}
	allowed := strings.Join(names, ", ")
	if allowed == "" {
		allowed = "none (closed)"
	}
	return fmt.Sprintf("非法的案件步骤 illegal step %s → %s on the %s track; allowed: %s", e.From, e.To, e.Type, allowed)
}

// earlySteps are the steps that end a pending deadline and so may be taken early only with
// confirmation: the deadline kind each one ends.
var earlySteps = map[State]DeadlineKind{
	StateNotRectified: DeadlineReply,
	StateSuit:         DeadlineAnnouncement,
}

// Move takes the case one step along its track on behalf of actor, recording the step's document
// in the register. It is the whole case path; the store only makes the write atomic.
func (c *Case) Move(to State, in MoveInput, actor string, p Policy, now time.Time) (Event, error) {
	if err := checkActor(actor); err != nil {
		return Event{}, err
	}
	if !to.Valid() {
		return Event{}, fmt.Errorf("case %s: unknown step %.40q", c.ID, to)
	}
	allowed := Next(c.Type, c.State)
	ok := false
	for _, s := range allowed {
		ok = ok || s == to
	}
	if !ok {
		return Event{}, &IllegalMoveError{Type: c.Type, From: c.State, To: to, Allowed: allowed}
	}
	rule := docRules[to]
	in.Number, in.Date, in.Reason = strings.TrimSpace(in.Number), strings.TrimSpace(in.Date), strings.TrimSpace(in.Reason)
	for _, err := range []error{
		checkLine("文书编号 document number", in.Number, maxField, rule.needNumber),
		checkLine("文书日期 document date", in.Date, maxField, rule.needDate),
		checkLine("file name", in.FileName, maxField, false),
		checkText("note", in.Note, maxNote, false),
		checkText("理由 reason", in.Reason, maxText, rule.needReason),
	} {
		if err != nil {
			return Event{}, fmt.Errorf("case %s → %s: %w", c.ID, to, err)
		}
	}
	if (in.SHA256 != "" || in.Number != "") && in.Date == "" {
		return Event{}, fmt.Errorf("case %s → %s: a document needs its date (文书日期)", c.ID, to)
	}
	if in.SHA256 != "" && (len(in.SHA256) != 64 || len(in.SM3) != 64) {
		return Event{}, fmt.Errorf("case %s → %s: the document's evidence hashes are malformed", c.ID, to)
	}
	if in.Date != "" {
		d, err := time.ParseInLocation(time.DateOnly, in.Date, Beijing)
		if err != nil {
			return Event{}, fmt.Errorf("case %s → %s: document date %.40q: want YYYY-MM-DD", c.ID, to, in.Date)
		}
		if d.After(today(now)) {
			return Event{}, fmt.Errorf("case %s → %s: document date %s is in the future", c.ID, to, in.Date)
		}
		// A document cannot predate the documents of the steps before it.
		for _, prev := range c.Documents {
			if prev.Date != "" && in.Date < prev.Date {
				return Event{}, fmt.Errorf("case %s → %s: document date %s is before the %s document of %s", c.ID, to, in.Date, prev.Step, prev.Date)
			}
		}
	}
	ev := Event{At: now.UTC(), Actor: actor, Kind: EventMoved, From: c.State, To: to, Note: in.Note, Reason: in.Reason}
	if kind, ok := earlySteps[to]; ok {
		for _, dl := range c.Deadlines(p, now) {
			if dl.Kind != kind || !dl.Pending {
				continue
			}
			if left := dl.DaysLeft(now); left > 0 {
				if !in.Confirm || in.Reason == "" {
					return Event{}, &EarlyStepError{To: to, Deadline: dl, DaysLeft: left}
				}
				ev.Early = true
			}
		}
	}
	if in.Number != "" || in.Date != "" || in.SHA256 != "" {
		doc := Document{Step: to, Number: in.Number, Date: in.Date, SHA256: in.SHA256, SM3: in.SM3,
			FileName: in.FileName, RecordedAt: now.UTC(), By: actor}
		if _, dup := c.DocumentFor(to); dup {
			// The path has no cycles, so this only happens with a corrupted record; refuse
			// rather than keep two documents for one step.
			return Event{}, fmt.Errorf("case %s: a %s document is already registered", c.ID, to)
		}
		c.Documents = append(c.Documents, doc)
		ev.Document = &doc
	}
	if rule.baselineScan && in.BaselineScan != "" && c.BaselineScan == "" {
		if err := checkLine("baseline scan", in.BaselineScan, maxField, false); err != nil {
			return Event{}, err
		}
		c.BaselineScan = in.BaselineScan
		ev.Scan = in.BaselineScan
	}
	if to == StateClosed {
		c.CloseReason = in.Reason
	}
	c.State, c.UpdatedAt = to, now.UTC()
	return ev, nil
}
