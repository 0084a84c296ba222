// Package casefile exports findings as a case file (案卷) a prosecutor can hand to a court: a zip
// bundle holding every evidence artifact byte for byte, the findings as canonical JSON with their
// history, a Chinese PDF report printed by Chromium, an XLSX for the case officer, a manifest
// listing every member with its SHA-256, SM3, size and capture records, an ed25519 signature over
// the manifest with the installation's key and, optionally, an RFC 3161 timestamp token over it.
// Verify re-computes all of it offline.
//
// The bundle is streamed: evidence is read once from the store, hashed while it is copied into
// the zip and never held in memory; a blob that no longer hashes to its address aborts the export
// with an error naming it. On any error the writer holds an incomplete zip that must be discarded.
//
// Layout of a bundle:
//
//	manifest.json         canonical JSON: every member below except the last three, signed
//	findings.json         canonical JSON: each finding (findings.MarshalCanonical) and its history
//	report.pdf            the report (zh-CN, or en), absent when Options.SkipPDF
//	findings.xlsx         sheet 通报 (one row per app, the MIIT notice layout), sheet 发现 (one row
//	                      per finding, with 期限 and 文书编号) and sheet 证据 (one row per artifact)
//	recommendation-draft.docx  the draft 检察建议书 (ExportRecommendation), for WPS or Word
//	evidence/<sha256>.ext every artifact the findings rest on
//	publickey.pem         the signing key (also inside manifest.json)
//	VERIFY.txt            how to verify, zh and en
//	signature.ed25519     64-byte ed25519 signature over manifest.json
//	timestamp.tsr         RFC 3161 TimeStampResp over SHA-256(manifest.json), when a TSA is configured
package casefile

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// Limits on one export.
const (
	// MaxFindings bounds how many findings one bundle may hold.
	MaxFindings = 100_000
	// MaxEvidence bounds how many artifacts one bundle may hold.
	MaxEvidence = 1_000_000
)

// Member names inside a bundle.
const (
	ManifestName  = "manifest.json"
	SignatureName = "signature.ed25519"
	TimestampName = "timestamp.tsr"
	FindingsName  = "findings.json"
	ReportName    = "report.pdf"
	SheetName     = "findings.xlsx"
	PublicKeyName = "publickey.pem"
	VerifyName    = "VERIFY.txt"
	EvidenceDir   = "evidence/"
)

// Selection says which findings to export: every finding of a target, the listed fingerprints,
// or both (the union). A target holds whatever the scanner raised, so of a target's findings the
// dismissed ones (判定不成立) and the untriaged ones (state new: nobody has looked at them) are left
// out unless asked for; a finding listed by fingerprint was chosen by someone and is always kept.
type Selection struct {
	TargetID     string   `json:"target_id,omitempty"`
	Fingerprints []string `json:"fingerprints,omitempty"`
	// IncludeDismissed and IncludeUntriaged keep a target's dismissed and untriaged findings.
	IncludeDismissed bool `json:"include_dismissed,omitempty"`
	IncludeUntriaged bool `json:"include_untriaged,omitempty"`
}

// keeps reports whether a finding drawn in by the target belongs in the export.
func (s Selection) keeps(f findings.Finding) bool {
	switch f.State {
	case findings.StateDismissed:
		return s.IncludeDismissed
	case findings.StateNew, "":
		return s.IncludeUntriaged
	}
	return true
}

// FindingStore is what Export reads findings from; *store.Store implements it.
type FindingStore interface {
	Get(ctx context.Context, fp string) (findings.Finding, error)
	History(ctx context.Context, fp string) ([]findings.Transition, error)
	List(ctx context.Context, q store.Query) ([]findings.Finding, int64, error)
}

var _ FindingStore = (*store.Store)(nil)

// Options are shared by Export and WriteScanBundle.
type Options struct {
	// Key signs the manifest (LoadOrCreateKey). Required.
	Key ed25519.PrivateKey
	// Browser prints the PDF; nil starts a Chromium for this export and stops it afterwards.
	Browser *browser.Browser
	// SkipPDF leaves report.pdf out (no Chromium needed); everything else is unchanged.
	SkipPDF bool
	// Lang of the PDF: "zh" (default) or "en". The XLSX headers are always Chinese with English.
	Lang string
	// TSAURL, when set, asks that RFC 3161 time-stamping authority for a token over the manifest;
	// a TSA failure fails the export (the operator asked for a timestamp).
	TSAURL string
	// HTTPClient talks to the TSA; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// Tool names the exporting program and version, e.g. "pilmon 0.1.0".
	Tool string
	// Now is the export time; nil means time.Now.
	Now func() time.Time
	// Case describes the case the findings belong to (cover, document register, deadlines, the
	// draft 检察建议书); nil exports a plain selection.
	Case *CaseInfo
	// MemberOf lists, per finding fingerprint, the cases it belongs to, for the XLSX's 期限 and
	// 文书编号 columns of an export that is not one case's (the dashboard's findings export).
	MemberOf map[string][]*CaseInfo
	// Coverage is what the scan behind the findings could decide; nil marks no 认定方法 item 符合.
	Coverage *Coverage
	// Observations are the scan's context observations (apk.identity, apk.certificate,
	// apk.provenance, runtime.session, scan.inventory) for the cover; those the findings carry are
	// used too.
	Observations []scanner.Observation
}

// Deps are what Export needs besides the selection.
type Deps struct {
	Findings  FindingStore
	Evidence  *evidence.Store
	Catalogue *rules.Catalogue
	// User is the exporting user, shown on the cover and recorded in the manifest.
	User string
	// Target describes the target on the cover when known (name, operator); nil shows the id only.
	Target *scanner.Target
	Options
}

// ScanBundleInput is one scan's worth of results for WriteScanBundle (pilmon scan --bundle).
type ScanBundleInput struct {
	Findings  []findings.Finding
	Evidence  *evidence.Store
	Catalogue *rules.Catalogue
	Target    scanner.Target
	User      string
	ScanID    string
	// StartedAt and FinishedAt are the scan's times (cover); zero means taken from the findings.
	StartedAt, FinishedAt time.Time
	// EvidenceRefs are every artifact the scan stored (scanner.Result.EvidenceRefs); they are
	// bundled even when no finding cites them, so the bundle holds the inputs themselves.
	EvidenceRefs []string
	Options
}

// Summary says what an export wrote.
type Summary struct {
	Findings             int       `json:"findings"`
	Evidence             int       `json:"evidence"`
	EvidenceBytes        int64     `json:"evidence_bytes"`
	PublicKeyFingerprint string    `json:"public_key_fingerprint"`
	ManifestSHA256       string    `json:"manifest_sha256"`
	Timestamped          bool      `json:"timestamped"`
	TimestampTime        time.Time `json:"timestamp_time,omitzero"`
}

// ErrEmpty is returned when a selection matches no finding.
var ErrEmpty = errors.New("没有符合条件的发现 / the selection matches no finding")

// Export writes the bundle of the selected findings to w. Findings are read from deps.Findings with
// their history; evidence from deps.Evidence.
func Export(ctx context.Context, w io.Writer, sel Selection, deps Deps) (Summary, error) {
	if deps.Findings == nil || deps.Evidence == nil || deps.Catalogue == nil {
		return Summary{}, errors.New("casefile: export needs a finding store, an evidence store and the catalogue")
	}
	items, excluded, err := resolve(ctx, deps.Findings, sel)
	if err != nil {
		return Summary{}, err
	}
	if len(items) == 0 {
		return Summary{}, ErrEmpty
	}
	target := scanner.Target{ID: sel.TargetID}
	if deps.Target != nil {
		target = *deps.Target
	} else if target.ID == "" {
		target.ID = commonTarget(items)
	}
	job := &job{items: items, target: target, user: deps.User, sel: sel, ev: deps.Evidence,
		cat: deps.Catalogue, opts: deps.Options, excluded: excluded}
	return job.run(ctx, w)
}

// WriteScanBundle writes the bundle of one scan's findings (which need not be in any store) and
// of every artifact the scan captured. Findings carry no history yet: the bundle records none.
func WriteScanBundle(ctx context.Context, w io.Writer, in ScanBundleInput) error {
	if in.Evidence == nil || in.Catalogue == nil {
		return errors.New("casefile: scan bundle needs the evidence store and the catalogue")
	}
	if len(in.Findings) > MaxFindings {
		return fmt.Errorf("casefile: %d findings, more than the %d a bundle may hold", len(in.Findings), MaxFindings)
	}
	items := make([]item, 0, len(in.Findings))
	seen := map[string]bool{}
	for _, f := range in.Findings {
		if seen[f.Fingerprint] {
			continue
		}
		seen[f.Fingerprint] = true
		items = append(items, item{f: f})
	}
	sortItems(items)
	sel := Selection{TargetID: in.Target.ID}
	j := &job{items: items, target: in.Target, user: in.User, sel: sel, ev: in.Evidence, cat: in.Catalogue,
		opts: in.Options, extraRefs: in.EvidenceRefs, scanID: in.ScanID, started: in.StartedAt, finished: in.FinishedAt}
	_, err := j.run(ctx, w)
	return err
}

// item is one finding with its history.
type item struct {
	f       findings.Finding
	history []findings.Transition
}

// resolve reads the selected findings and their history, most severe first. It also counts, per
// rule, the target's findings the selection left out, so that the report never calls an item
// 符合 when a record of it exists outside the export.
func resolve(ctx context.Context, st FindingStore, sel Selection) ([]item, map[string]int, error) {
	byFP := map[string]findings.Finding{}
	excluded := map[string]int{}
	if sel.TargetID != "" {
		const page = 1000
		for off := 0; ; off += page {
			fs, total, err := st.List(ctx, store.Query{TargetID: sel.TargetID, Offset: off, Limit: page})
			if err != nil {
				return nil, nil, fmt.Errorf("casefile: findings of target %s: %w", sel.TargetID, err)
			}
			for _, f := range fs {
				if sel.keeps(f) {
					byFP[f.Fingerprint] = f
				} else {
					excluded[f.RuleID]++
				}
			}
			if len(byFP) > MaxFindings {
				return nil, nil, fmt.Errorf("casefile: target %s has more than %d findings; export a selection", sel.TargetID, MaxFindings)
			}
			if len(fs) == 0 || int64(off+page) >= total {
				break
			}
		}
	}
	for _, fp := range sel.Fingerprints {
		if _, ok := byFP[fp]; ok {
			continue
		}
		f, err := st.Get(ctx, fp)
		if err != nil {
			return nil, nil, fmt.Errorf("casefile: finding %s: %w", fp, err)
		}
		if sel.TargetID != "" && f.TargetID == sel.TargetID && !sel.keeps(f) {
			excluded[f.RuleID]-- // listed by hand: no longer left out
		}
		byFP[fp] = f
		if len(byFP) > MaxFindings {
			return nil, nil, fmt.Errorf("casefile: more than %d findings selected", MaxFindings)
		}
	}
	items := make([]item, 0, len(byFP))
	for fp, f := range byFP {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		h, err := st.History(ctx, fp)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, fmt.Errorf("casefile: history of %s: %w", fp, err)
		}
		items = append(items, item{f: f, history: h})
	}
	sortItems(items)
	for r, n := range excluded {
		if n <= 0 {
			delete(excluded, r)
		}
	}
	return items, excluded, nil
}

// sortItems orders findings (认定事实) before leads (待核实线索), each grouped by the legal item
// they are pleaded under (认定方法 items in order, then the anchor article), most severe first,
// then by rule, subject and fingerprint, so the same selection always gives the same bundle order.
func sortItems(items []item) {
	slices.SortFunc(items, func(a, b item) int {
		if ta, tb := rules.TierRank(a.f.Tier), rules.TierRank(b.f.Tier); ta != tb {
			return tb - ta
		}
		if c := strings.Compare(groupKey(a.f.RuleID, a.f.LegalBasis), groupKey(b.f.RuleID, b.f.LegalBasis)); c != 0 {
			return c
		}
		if ra, rb := findings.SeverityRank(a.f.Severity), findings.SeverityRank(b.f.Severity); ra != rb {
			return rb - ra
		}
		if c := strings.Compare(a.f.RuleID, b.f.RuleID); c != 0 {
			return c
		}
		if c := strings.Compare(a.f.Subject, b.f.Subject); c != 0 {
			return c
		}
		return strings.Compare(a.f.Fingerprint, b.f.Fingerprint)
	})
}

// commonTarget returns the target every item shares, or "" when they differ.
func commonTarget(items []item) string {
	t := ""
	for i, it := range items {
		if i == 0 {
			t = it.f.TargetID
		} else if it.f.TargetID != t {
			return ""
		}
	}
	return t
}
