// Package cases is the case (案件) model: a case groups the findings of one operator's app for a
// public-interest case, carries the facts a prosecutor files (案号, track, 承办人, the operator, the
// competent agency, the lead source, the scale of the harm), moves along the case path with one
// document per step in a register, and derives the deadlines the path creates. It is pure: no
// Redis, no clock of its own (every operation takes now); package store keeps cases and makes each
// change atomic, package web shows them.
//
// How the per-finding states of findings/triage.go map onto a case: the case path is the case's,
// not each finding's. Findings keep their own triage states (new → in_review → dismissed |
// escalated) and join a case as members; the case's states reuse the names the per-finding path
// used beyond escalated (case_opened, recommendation_issued, rectified, not_rectified,
// announcement_published, suit_filed, closed, plus replied, which the per-finding path never had),
// so a finding a prosecutor moved along the older per-finding path reads as the same step of the
// case path (FindingState). A dismissed finding cannot join a case: it has to be taken back into
// review first, which its own history records.
package cases

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the track of a case: who the case is against decides the procedure.
type Type string

const (
	// Administrative (行政公益诉讼): a regulator failed to act; 检察建议 to it, then suit
	// (行政诉讼法 Art. 25 para. 4; 人民检察院公益诉讼办案规则 2021).
	Administrative Type = "administrative"
	// Civil (民事公益诉讼): against the personal-information handler itself (PIPL Art. 70,
	// 民事诉讼法 Art. 58); a 30-day 诉前公告 must precede the suit.
	Civil Type = "civil"
)

// Valid reports whether t is a known track.
func (t Type) Valid() bool { return t == Administrative || t == Civil }

// Label names the track in Chinese and English.
func (t Type) Label() (zh, en string) {
	switch t {
	case Administrative:
		return "行政公益诉讼", "Administrative public-interest case"
	case Civil:
		return "民事公益诉讼", "Civil public-interest case"
	}
	return string(t), string(t)
}

// Operator is the personal-information handler that runs the app (运营者).
type Operator struct {
	Name string `json:"name"`
	// USCC is the 统一社会信用代码 (GB 32100-2015); empty when not yet known.
	USCC    string `json:"uscc,omitempty"`
	Address string `json:"address,omitempty"`
}

// Agency is the competent authority a 检察建议 goes to (被建议单位) and why it is competent.
type Agency struct {
	Name string `json:"name,omitempty"`
	// DutyBasis is the legal basis of its duty (e.g. 个人信息保护法第六十条).
	DutyBasis string `json:"duty_basis,omitempty"`
}

// Scale is what shows that many people (众多个人) are affected, with where the figure comes from.
type Scale struct {
	Users     int64  `json:"users,omitempty"`
	Downloads int64  `json:"downloads,omitempty"`
	Source    string `json:"source,omitempty"` // e.g. 应用商店页面 2026-12-01 截图
}

// Member is a finding that belongs to a case.
type Member struct {
	Fingerprint string    `json:"fingerprint"`
	JoinedAt    time.Time `json:"joined_at"`
	By          string    `json:"by"`
	Reason      string    `json:"reason"`
}

// Document is one entry of the document register: the document a step of the path issued or
// received, recorded once with that step.
type Document struct {
	Step   State  `json:"step"`
	Number string `json:"number,omitempty"`
	Date   string `json:"date,omitempty"` // YYYY-MM-DD, the document's own date
	// SHA256 and SM3 are the evidence hashes of the uploaded file (empty when none was uploaded).
	SHA256     string    `json:"sha256,omitempty"`
	SM3        string    `json:"sm3,omitempty"`
	FileName   string    `json:"file_name,omitempty"`
	RecordedAt time.Time `json:"recorded_at"`
	By         string    `json:"by"`
}

// Case is one case as stored. Version counts the changes: the store writes a change only when the
// version it read is still current.
type Case struct {
	ID         string     `json:"id"`
	CaseNo     string     `json:"case_no"`
	Type       Type       `json:"type"`
	State      State      `json:"state"`
	Handler    string     `json:"handler"` // 承办人
	Operator   Operator   `json:"operator"`
	Agency     Agency     `json:"agency"`
	LeadSource string     `json:"lead_source,omitempty"` // 线索来源
	Scale      Scale      `json:"scale"`
	TargetID   string     `json:"target_id,omitempty"`
	Findings   []Member   `json:"findings"`
	Documents  []Document `json:"documents"`
	// CloseReason says why a closed case was closed.
	CloseReason string `json:"close_reason,omitempty"`
	// BaselineScan is the target's newest scan when the 检察建议 (or, on the civil track, the 诉前公告)
	// was recorded: 整改复查 compares against it.
	BaselineScan string `json:"baseline_scan,omitempty"`
	// RecheckScan is the scan the last 整改复查 requested.
	RecheckScan string    `json:"recheck_scan,omitempty"`
	RecheckAt   time.Time `json:"recheck_at,omitzero"`
	CreatedAt   time.Time `json:"created_at"`
	CreatedBy   string    `json:"created_by"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

// Event is one entry of a case's append-only history.
type Event struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Kind    EventKind `json:"kind"`
	From    State     `json:"from,omitempty"`
	To      State     `json:"to,omitempty"`
	Finding string    `json:"finding,omitempty"`
	// Reason is why (joining, leaving, closing, an early step); Note is free text.
	Reason string `json:"reason,omitempty"`
	Note   string `json:"note,omitempty"`
	// Early is set when a step was recorded before the deadline it ends, after confirmation.
	Early    bool      `json:"early,omitempty"`
	Document *Document `json:"document,omitempty"`
	Scan     string    `json:"scan,omitempty"`
}

// EventKind names what an Event records.
type EventKind string

const (
	EventCreated EventKind = "created"
	EventMoved   EventKind = "moved"
	EventJoined  EventKind = "joined"
	EventLeft    EventKind = "left"
	EventEdited  EventKind = "edited"
	EventRecheck EventKind = "recheck"
)

// Bounds on what a user or an API client may put into a case.
const (
	maxField    = 200      // names, numbers, one-line fields (bytes)
	maxText     = 4 << 10  // lead source, reasons, duty basis
	maxNote     = 16 << 10 // notes
	MaxFindings = 5000     // members of one case
	maxCount    = 1 << 40  // users / downloads: more than anyone has
)

func checkLine(what, v string, maxLen int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required (必填)", what)
	}
	if len(v) > maxLen {
		return fmt.Errorf("%s: at most %d bytes", what, maxLen)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s: not valid UTF-8", what)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("%s: control characters are not allowed", what)
	}
	return nil
}

func checkText(what, v string, maxLen int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required (必填)", what)
	}
	if len(v) > maxLen || !utf8.ValidString(v) {
		return fmt.Errorf("%s: at most %d bytes of UTF-8", what, maxLen)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return (r < 0x20 && r != '\n' && r != '\r' && r != '\t') || r == 0x7f }) {
		return fmt.Errorf("%s: control characters are not allowed", what)
	}
	return nil
}

// Fields are the facts of a case a prosecutor files and may correct later.
type Fields struct {
	CaseNo     string   `json:"case_no"`
	Type       Type     `json:"type"`
	Handler    string   `json:"handler"`
	Operator   Operator `json:"operator"`
	Agency     Agency   `json:"agency"`
	LeadSource string   `json:"lead_source"`
	Scale      Scale    `json:"scale"`
	TargetID   string   `json:"target_id"`
}

// Validate checks the fields: required ones present, every string bounded and printable, the
// 统一社会信用代码 well formed with its check character, counts not negative. The administrative
// track needs the agency (the 检察建议 goes to it), so it is required there.
func (f Fields) Validate() error {
	if !f.Type.Valid() {
		return fmt.Errorf("case type %.40q: want %s or %s", f.Type, Administrative, Civil)
	}
	checks := []error{
		checkLine("案号 case_no", f.CaseNo, maxField, true),
		checkLine("承办人 handler", f.Handler, maxField, true),
		checkLine("运营者 operator.name", f.Operator.Name, maxField, true),
		checkLine("operator.uscc", f.Operator.USCC, maxField, false),
		checkLine("operator.address", f.Operator.Address, maxField, false),
		checkLine("被建议单位 agency.name", f.Agency.Name, maxField, f.Type == Administrative),
		checkText("agency.duty_basis", f.Agency.DutyBasis, maxText, f.Type == Administrative),
		checkText("线索来源 lead_source", f.LeadSource, maxText, false),
		checkLine("scale.source", f.Scale.Source, maxField, false),
		checkLine("target_id", f.TargetID, maxField, false),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if f.Operator.USCC != "" {
		if err := CheckUSCC(f.Operator.USCC); err != nil {
			return err
		}
	}
	if f.Scale.Users < 0 || f.Scale.Downloads < 0 || f.Scale.Users > maxCount || f.Scale.Downloads > maxCount {
		return fmt.Errorf("scale: users and downloads must be between 0 and %d", int64(maxCount))
	}
	if (f.Scale.Users > 0 || f.Scale.Downloads > 0) && strings.TrimSpace(f.Scale.Source) == "" {
		// A figure without its source is not evidence of 众多个人.
		return fmt.Errorf("scale: users/downloads need their source (数据来源)")
	}
	return nil
}

// Normalize trims the one-line fields and upper-cases the USCC.
func (f Fields) Normalize() Fields {
	tr := strings.TrimSpace
	f.CaseNo, f.Handler, f.LeadSource, f.TargetID = tr(f.CaseNo), tr(f.Handler), tr(f.LeadSource), tr(f.TargetID)
	f.Operator = Operator{Name: tr(f.Operator.Name), USCC: strings.ToUpper(tr(f.Operator.USCC)), Address: tr(f.Operator.Address)}
	f.Agency = Agency{Name: tr(f.Agency.Name), DutyBasis: tr(f.Agency.DutyBasis)}
	f.Scale.Source = tr(f.Scale.Source)
	return f
}

// Fields returns the case's filed facts.
func (c Case) Fields() Fields {
	return Fields{CaseNo: c.CaseNo, Type: c.Type, Handler: c.Handler, Operator: c.Operator, Agency: c.Agency,
		LeadSource: c.LeadSource, Scale: c.Scale, TargetID: c.TargetID}
}

func (c *Case) setFields(f Fields) {
	c.CaseNo, c.Type, c.Handler, c.Operator, c.Agency = f.CaseNo, f.Type, f.Handler, f.Operator, f.Agency
	c.LeadSource, c.Scale, c.TargetID = f.LeadSource, f.Scale, f.TargetID
}

// HasFinding reports whether fp is a member.
func (c Case) HasFinding(fp string) bool {
	for _, m := range c.Findings {
		if m.Fingerprint == fp {
			return true
		}
	}
	return false
}

// Fingerprints returns the members' fingerprints in joining order.
func (c Case) Fingerprints() []string {
	out := make([]string, len(c.Findings))
	for i, m := range c.Findings {
		out[i] = m.Fingerprint
	}
	return out
}

// DocumentFor returns the register's document of step s.
func (c Case) DocumentFor(s State) (Document, bool) {
	for _, d := range c.Documents {
		if d.Step == s {
			return d, true
		}
	}
	return Document{}, false
}

func checkActor(actor string) error { return checkLine("actor", actor, maxField, true) }

// New opens a case (立案) with fields and its first members, on behalf of actor. fps are checked
// by the caller against the store (they must exist and not be dismissed); here only their form and
// number.
func New(f Fields, fps []string, reason, actor string, now time.Time) (Case, []Event, error) {
	f = f.Normalize()
	if err := f.Validate(); err != nil {
		return Case{}, nil, err
	}
	if err := checkActor(actor); err != nil {
		return Case{}, nil, err
	}
	if err := checkText("reason", reason, maxText, false); err != nil {
		return Case{}, nil, err
	}
	now = now.UTC()
	c := Case{State: StateFiled, Findings: []Member{}, Documents: []Document{}, CreatedAt: now, CreatedBy: actor, UpdatedAt: now}
	c.setFields(f)
	evs := []Event{{At: now, Actor: actor, Kind: EventCreated, To: StateFiled, Note: f.CaseNo}}
	if strings.TrimSpace(reason) == "" {
		reason = "立案时加入" // the record's language is the case's: Chinese
	}
	for _, fp := range fps {
		ev, err := c.Join(fp, reason, actor, now)
		if err != nil {
			return Case{}, nil, err
		}
		evs = append(evs, ev)
	}
	return c, evs, nil
}

// Edit replaces the filed facts; the track cannot change once the path has left 立案, since the
// steps taken belong to the track.
func (c *Case) Edit(f Fields, actor string, now time.Time) (Event, error) {
	f = f.Normalize()
	if err := f.Validate(); err != nil {
		return Event{}, err
	}
	if err := checkActor(actor); err != nil {
		return Event{}, err
	}
	if f.Type != c.Type && c.State != StateFiled {
		return Event{}, fmt.Errorf("case %s: the track cannot change after %s", c.ID, StateFiled)
	}
	c.setFields(f)
	c.UpdatedAt = now.UTC()
	return Event{At: now.UTC(), Actor: actor, Kind: EventEdited}, nil
}

// CheckFingerprint checks the form of a finding fingerprint (32 lower-case hex digits).
func CheckFingerprint(fp string) error {
	if len(fp) != 32 || strings.ContainsFunc(fp, func(r rune) bool { return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') }) {
		return fmt.Errorf("finding %.40q: not a fingerprint", fp)
	}
	return nil
}

// Join adds finding fp with a reason; a closed case takes no findings.
func (c *Case) Join(fp, reason, actor string, now time.Time) (Event, error) {
	if err := CheckFingerprint(fp); err != nil {
		return Event{}, err
	}
	if err := checkText("reason", reason, maxText, true); err != nil {
		return Event{}, err
	}
	if err := checkActor(actor); err != nil {
		return Event{}, err
	}
	if c.State == StateClosed {
		return Event{}, fmt.Errorf("case %s is closed; it takes no findings", c.ID)
	}
	if c.HasFinding(fp) {
		return Event{}, fmt.Errorf("finding %s is already in case %s", fp, c.ID)
	}
	if len(c.Findings) >= MaxFindings {
		return Event{}, fmt.Errorf("case %s holds %d findings, the most a case may", c.ID, MaxFindings)
	}
	now = now.UTC()
	c.Findings = append(c.Findings, Member{Fingerprint: fp, JoinedAt: now, By: actor, Reason: reason})
	c.UpdatedAt = now
	return Event{At: now, Actor: actor, Kind: EventJoined, Finding: fp, Reason: reason}, nil
}

// Leave removes finding fp with a reason (the history keeps that it was a member).
func (c *Case) Leave(fp, reason, actor string, now time.Time) (Event, error) {
	if err := checkText("reason", reason, maxText, true); err != nil {
		return Event{}, err
	}
	if err := checkActor(actor); err != nil {
		return Event{}, err
	}
	for i, m := range c.Findings {
		if m.Fingerprint == fp {
			c.Findings = append(c.Findings[:i:i], c.Findings[i+1:]...)
			c.UpdatedAt = now.UTC()
			return Event{At: now.UTC(), Actor: actor, Kind: EventLeft, Finding: fp, Reason: reason}, nil
		}
	}
	return Event{}, fmt.Errorf("finding %.40q is not in case %s", fp, c.ID)
}

// StartRecheck records that 整改复查 requested scan scanID.
func (c *Case) StartRecheck(scanID, actor string, now time.Time) (Event, error) {
	if err := checkLine("scan", scanID, maxField, true); err != nil {
		return Event{}, err
	}
	if err := checkActor(actor); err != nil {
		return Event{}, err
	}
	if c.TargetID == "" {
		return Event{}, fmt.Errorf("case %s names no target to re-scan", c.ID)
	}
	c.RecheckScan, c.RecheckAt, c.UpdatedAt = scanID, now.UTC(), now.UTC()
	return Event{At: now.UTC(), Actor: actor, Kind: EventRecheck, Scan: scanID}, nil
}
