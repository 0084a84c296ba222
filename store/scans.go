package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/findings"
	"pilmon/scanner"
)

// Scan history (under the store prefix):
//
//	scan:{id}            string, JSON ScanRecord, written once per completed scan
//	scans:target:{tid}   sorted set of scan ids, score = start time (Unix ms)
//	scans:all            sorted set of every scan id, same score
//
// A target keeps its newest MaxScanHistory scans; older records are removed with their index
// entries.
const MaxScanHistory = 1000

// ErrNoScanRecord is returned (wrapped) for a scan id with no record.
var ErrNoScanRecord = errors.New("scan record not found")

// InspectorRun is what one inspector did with one source in a scan.
type InspectorRun struct {
	Source           scanner.Source      `json:"source"`
	Inspector        string              `json:"inspector"`
	InspectorVersion string              `json:"inspector_version"`
	Status           scanner.Status      `json:"status"`
	Errors           []scanner.FileError `json:"errors,omitempty"`
	Observations     int                 `json:"observations"`
	Evidence         []string            `json:"evidence"`
}

// ScanRecord is the history entry of one scan.
type ScanRecord struct {
	ID         string         `json:"id"`
	TargetID   string         `json:"target_id"`
	TargetName string         `json:"target_name"`
	Worker     string         `json:"worker,omitempty"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
	Status     scanner.Status `json:"status"`
	// Complete is true when every source succeeded; only then were findings the scan did not
	// raise marked "not re-observed".
	Complete bool           `json:"complete"`
	Runs     []InspectorRun `json:"runs"`
	// Fingerprints are the findings this scan raised, sorted.
	Fingerprints []string `json:"fingerprints"`
	// Evidence is every artifact stored during the scan (SHA-256), sorted.
	Evidence []string `json:"evidence"`
	// MarkedNotReobserved is how many older findings of the target this scan marked.
	MarkedNotReobserved int `json:"marked_not_reobserved"`
	// Created is how many of the findings were new (first observed in this scan).
	Created int `json:"created"`
	// Category is the app category the findings were judged against and why (absent in records
	// written before it was kept, and with an Assessor that does not say).
	Category *findings.CategoryChoice `json:"category,omitempty"`
	// Identity are the scan's context observations (scanner.ContextKinds: what was scanned — the
	// APK's package, version and signing certificates, a mini-program's appid — where it was
	// downloaded, the test phone's session, the scan inventory), at most scanner.MaxContext: the
	// target page shows the app's identity from the latest scan that had one, and a case report's
	// cover reads them (absent in records written before they were kept).
	Identity []scanner.Observation `json:"identity,omitempty"`
	// NotAssessed are the rules the scan's inputs could not decide, with the reason (absent in
	// records written before it was kept).
	NotAssessed []findings.NotAssessed `json:"not_assessed,omitempty"`
	// Packages say, for each remote package source, which package it served and how that
	// compares with the version seen before.
	Packages []PackageChange `json:"packages,omitempty"`
}

// Package states of a PackageChange.
const (
	PackageFirst     = "first"     // the source's first package
	PackageNew       = "new"       // another package than the source served before
	PackageUnchanged = "unchanged" // the package seen before (304 or same SHA-256), not re-inspected
)

// PackageChange is what one remote package source served in a scan.
type PackageChange struct {
	Source      scanner.Source `json:"source"`
	State       string         `json:"state"`
	SHA256      string         `json:"sha256"`
	VersionName string         `json:"version_name,omitempty"`
	VersionCode string         `json:"version_code,omitempty"`
	Provenance  string         `json:"provenance,omitempty"`
	// Previous is the package seen before (new packages only), PreviousScan the scan that
	// inspected it, and Diff the findings of that scan against this one's.
	Previous      string    `json:"previous,omitempty"`
	PreviousScan  string    `json:"previous_scan,omitempty"`
	SignerChanged bool      `json:"signer_changed,omitempty"`
	Diff          *ScanDiff `json:"diff,omitempty"`
}

// Duration is how long the scan took.
func (r ScanRecord) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// ScanDiff is what changed between two scans of one target.
type ScanDiff struct {
	From string `json:"from"` // the older scan id
	To   string `json:"to"`   // the newer scan id
	// New are raised by To and not by From; Gone by From and not by To; Still by both.
	New   []string `json:"new"`
	Gone  []string `json:"gone"`
	Still []string `json:"still"`
}

// DiffScanRecords compares an older scan a with a newer scan b (order them by StartedAt first if
// unsure).
func DiffScanRecords(a, b ScanRecord) ScanDiff {
	inA := map[string]bool{}
	for _, fp := range a.Fingerprints {
		inA[fp] = true
	}
	inB := map[string]bool{}
	d := ScanDiff{From: a.ID, To: b.ID, New: []string{}, Gone: []string{}, Still: []string{}}
	for _, fp := range b.Fingerprints {
		if inB[fp] {
			continue
		}
		inB[fp] = true
		if inA[fp] {
			d.Still = append(d.Still, fp)
		} else {
			d.New = append(d.New, fp)
		}
	}
	for fp := range inA {
		if !inB[fp] {
			d.Gone = append(d.Gone, fp)
		}
	}
	sort.Strings(d.New)
	sort.Strings(d.Gone)
	sort.Strings(d.Still)
	return d
}

func (s *Store) scanPrefix() string               { return s.prefix + "scan:" }
func (s *Store) scanKey(id string) string         { return s.scanPrefix() + id }
func (s *Store) scansTargetKey(tid string) string { return s.prefix + "scans:target:" + tid }
func (s *Store) scansAllKey() string              { return s.prefix + "scans:all" }
func scanScore(r ScanRecord) float64              { return float64(r.StartedAt.UnixMilli()) }
func (s *Store) scanKeysFor(tid string) []string {
	return []string{s.scansTargetKey(tid), s.scansAllKey()}
}
func (s *Store) scanArgsFor(r ScanRecord, b []byte) []any {
	return []any{s.scanPrefix(), r.ID, string(b), scanScore(r), MaxScanHistory}
}

// saveScanScript writes the record and its index entries and trims the target's history, in one
// atomic step. A record already present is kept (first completion wins): a re-delivered job
// whose first run finished but was not acknowledged changes nothing. Returns 1 when written.
var saveScanScript = redis.NewScript(`
local rkey = ARGV[1] .. ARGV[2]
if redis.call('EXISTS', rkey) == 1 then return 0 end
redis.call('SET', rkey, ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
local n = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[5])
if n > 0 then
  local old = redis.call('ZRANGE', KEYS[1], 0, n - 1)
  for _, id in ipairs(old) do
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', KEYS[2], id)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - 1)
end
return 1
`)

// SaveScan stores r unless a record with its id exists; it reports whether it wrote.
func (s *Store) SaveScan(ctx context.Context, r ScanRecord) (bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	n, err := saveScanScript.Run(ctx, s.rdb, s.scanKeysFor(r.TargetID), s.scanArgsFor(r, b)...).Int()
	if err != nil {
		return false, fmt.Errorf("save scan record %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// GetScan returns the record of scan id, or an error wrapping ErrNoScanRecord.
func (s *Store) GetScan(ctx context.Context, id string) (ScanRecord, error) {
	raw, err := s.rdb.Get(ctx, s.scanKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return ScanRecord{}, fmt.Errorf("scan %.80q: %w", id, ErrNoScanRecord)
	}
	if err != nil {
		return ScanRecord{}, fmt.Errorf("read scan %.80q: %w", id, err)
	}
	var r ScanRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("scan %.80q: stored JSON: %w", id, err)
	}
	return r, nil
}

// ScansForTarget returns up to limit scans of the target, newest first, skipping offset, and how
// many the target has in all.
func (s *Store) ScansForTarget(ctx context.Context, targetID string, offset, limit int) ([]ScanRecord, int64, error) {
	return s.scanPage(ctx, s.scansTargetKey(targetID), offset, limit)
}

// RecentScans returns up to limit scans of every target, newest first, skipping offset, and how
// many scans are kept in all.
func (s *Store) RecentScans(ctx context.Context, offset, limit int) ([]ScanRecord, int64, error) {
	return s.scanPage(ctx, s.scansAllKey(), offset, limit)
}

func (s *Store) scanPage(ctx context.Context, key string, offset, limit int) ([]ScanRecord, int64, error) {
	offset = max(offset, 0)
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	pipe := s.rdb.Pipeline()
	card := pipe.ZCard(ctx, key)
	ids := pipe.ZRevRange(ctx, key, int64(offset), int64(offset+limit-1))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("scan history: %w", err)
	}
	if len(ids.Val()) == 0 {
		return []ScanRecord{}, card.Val(), nil
	}
	keys := make([]string, len(ids.Val()))
	for i, id := range ids.Val() {
		keys[i] = s.scanKey(id)
	}
	// One MGET for the page: on Cluster the records share the prefix's hash tag.
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("scan history: %w", err)
	}
	out := make([]ScanRecord, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // trimmed between the two reads
		}
		var r ScanRecord
		if json.Unmarshal([]byte(str), &r) == nil {
			out = append(out, r)
		}
	}
	return out, card.Val(), nil
}

// DiffScans loads two scans and compares the older with the newer.
func (s *Store) DiffScans(ctx context.Context, aID, bID string) (ScanDiff, error) {
	a, err := s.GetScan(ctx, aID)
	if err != nil {
		return ScanDiff{}, err
	}
	b, err := s.GetScan(ctx, bID)
	if err != nil {
		return ScanDiff{}, err
	}
	if b.StartedAt.Before(a.StartedAt) {
		a, b = b, a
	}
	return DiffScanRecords(a, b), nil
}

// DiffLatestScans compares the target's two newest scans; ok is false when it has fewer than two.
func (s *Store) DiffLatestScans(ctx context.Context, targetID string) (d ScanDiff, ok bool, err error) {
	recs, _, err := s.ScansForTarget(ctx, targetID, 0, 2)
	if err != nil || len(recs) < 2 {
		return ScanDiff{}, false, err
	}
	return DiffScanRecords(recs[1], recs[0]), true, nil
}
