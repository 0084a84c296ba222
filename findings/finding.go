// Package findings is the finding model: the Finding, its fingerprint, its canonical JSON and the
// triage and case-path state machine. It knows nothing of storage; package store keeps findings in
// Redis.
package findings

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"pilmon/rules"
	"pilmon/scanner"
)

// State is a finding's place on the triage and case path (see ARCHITECTURE.md, pil-procedure.md).
type State string

const (
	StateNew                   State = "new"
	StateInReview              State = "in_review"
	StateDismissed             State = "dismissed"
	StateEscalated             State = "escalated"
	StateCaseOpened            State = "case_opened"
	StateRecommendationIssued  State = "recommendation_issued"
	StateRectified             State = "rectified"
	StateNotRectified          State = "not_rectified"
	StateAnnouncementPublished State = "announcement_published"
	StateSuitFiled             State = "suit_filed"
	StateClosed                State = "closed"
)

// Finding is a claim that a target probably breaks a named provision, with the evidence for it.
// Its JSON form is canonical (fixed field order, UTC times, sorted sets) and golden-tested.
// Tier is "finding" (认定事实) when the record alone establishes what its title states and "lead"
// (待核实线索) when it needs confirmation; Grade is what its evidence establishes: observed,
// declared, static or inferred (rules/grade.go). Both are empty on records from before tiers.
type Finding struct {
	Fingerprint string           `json:"fingerprint"`
	TargetID    string           `json:"target_id"`
	RuleID      string           `json:"rule_id"`
	RuleVersion int              `json:"rule_version"`
	Subject     string           `json:"subject"`
	Severity    rules.Severity   `json:"severity"`
	Tier        string           `json:"tier,omitempty"`
	Grade       string           `json:"grade,omitempty"`
	LegalBasis  []rules.Citation `json:"legal_basis"`
	// AsOf is the time the law is judged at: only articles in force then are cited. AsOfSource
	// says where it came from: the capture time of a live capture, the date a document states for
	// itself, the analyst's as_of, or the scan time (AsOf* constants).
	AsOf       time.Time  `json:"as_of"`
	AsOfSource string     `json:"as_of_source,omitempty"`
	Summary    rules.Text `json:"summary"`
	// Caveat is what the check cannot know, copied from the rule.
	Caveat       rules.Text            `json:"caveat"`
	Observations []scanner.Observation `json:"observations"`
	// Confidence is how strongly the observations behind the finding support it: "high" (seen in
	// traffic and matched to a device value the analyst supplied), "medium" (seen in traffic by a
	// pattern, or read from the policy text), "low" (a static reference only: a capability, not
	// proof of collection). Set by assess; empty on findings from before it existed.
	Confidence string `json:"confidence,omitempty"`
	// ConfidenceReason says why, in both languages, and names an app category pilmon suggested
	// when the analyst gave none.
	ConfidenceReason rules.Text `json:"confidence_reason,omitzero"`
	EvidenceRefs     []string   `json:"evidence_refs"`
	FirstSeen        time.Time  `json:"first_seen"`
	LastSeen         time.Time  `json:"last_seen"`
	LastScanID       string     `json:"last_scan_id"`
	State            State      `json:"state"`
	// NotReobservedSince is the id of the first complete scan that no longer raised this finding;
	// empty while it is still observed.
	NotReobservedSince string `json:"not_reobserved_since,omitempty"`
}

// Where a finding's AsOf came from.
const (
	AsOfCapture  = "capture"
	AsOfDocument = "document"
	AsOfAnalyst  = "analyst"
	AsOfScan     = "scan"
)

// Fingerprint is hex(sha256(targetID ‖ ruleID ‖ subject))[:32], with a 0x00 separator so that
// ("ab","c") and ("a","bc") differ.
func Fingerprint(targetID, ruleID, subject string) string {
	h := sha256.New()
	h.Write([]byte(targetID))
	h.Write([]byte{0})
	h.Write([]byte(ruleID))
	h.Write([]byte{0})
	h.Write([]byte(subject))
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Transition is one append-only history entry.
type Transition struct {
	At    time.Time `json:"at"`
	Actor string    `json:"actor"`
	From  State     `json:"from"`
	To    State     `json:"to"`
	// Reason is why a clue was dismissed (DismissReasons); empty for other moves.
	Reason string `json:"reason,omitempty"`
	Note   string `json:"note,omitempty"`
	// DocumentNo and DocumentDate are recorded when the transition issues a document
	// (检察建议书 for recommendation_issued, 公告 for announcement_published, 起诉书 for suit_filed).
	DocumentNo   string `json:"document_no,omitempty"`
	DocumentDate string `json:"document_date,omitempty"` // YYYY-MM-DD
	// Deadline is the date the next step is due (two months after a recommendation, 30 days after
	// an announcement), YYYY-MM-DD.
	Deadline string `json:"deadline,omitempty"`
}

var severityRanks = map[rules.Severity]int{"critical": 5, "high": 4, "medium": 3, "low": 2, "info": 1}

// SeverityRank orders severities: critical 5, high 4, medium 3, low 2, info 1, anything else 0.
func SeverityRank(s rules.Severity) int { return severityRanks[s] }

// Severities lists the known severities, most severe first.
var Severities = []rules.Severity{"critical", "high", "medium", "low", "info"}

// CategoryChoice is the app category a scan's findings were judged against: the target's own, or
// one suggested from the evidence, with the reason in both languages.
type CategoryChoice struct {
	Key       string     `json:"key,omitempty"`
	Suggested bool       `json:"suggested,omitempty"`
	Reason    rules.Text `json:"reason"`
	// Candidates are the other categories that scored as high (a tie means no suggestion).
	Candidates []string `json:"candidates,omitempty"`
}

// NotAssessed is a rule a scan's inputs could not decide, and why (the inputs it needed and did
// not have), listed in the scan report instead of the rule firing or staying silent.
type NotAssessed struct {
	RuleID string     `json:"rule_id"`
	Reason rules.Text `json:"reason"`
}
