package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/assess"
	"pilmon/scanner"
	"pilmon/store"
)

// Redis layout of the scan history (under the store prefix):
//
//	scan:{id}            string, JSON ScanRecord, written once per completed scan
//	scans:target:{tid}   sorted set of scan ids, score = start time (Unix ms)
//	scans:all            sorted set of every scan id, same score
//
// A target keeps its newest MaxHistory scans; older records are removed with their index entries.
const MaxHistory = 1000

// ErrNoRecord is returned (wrapped) for a scan id with no record.
var ErrNoRecord = errors.New("scan record not found")

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
	Category *assess.CategoryChoice `json:"category,omitempty"`
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

// Diff compares an older scan a with a newer scan b (order them by StartedAt first if unsure).
func Diff(a, b ScanRecord) ScanDiff {
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

// History reads and writes scan records.
type History struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewHistory returns the scan history kept beside the store's findings.
func NewHistory(st *store.Store) *History {
	return &History{rdb: st.Client(), prefix: st.Prefix()}
}

func (h *History) recordKey(id string) string  { return h.prefix + "scan:" + id }
func (h *History) targetKey(tid string) string { return h.prefix + "scans:target:" + tid }
func (h *History) allKey() string              { return h.prefix + "scans:all" }
func (h *History) recordPrefix() string        { return h.prefix + "scan:" }
func score(r ScanRecord) float64               { return float64(r.StartedAt.UnixMilli()) }
func (h *History) keysFor(tid string) []string { return []string{h.targetKey(tid), h.allKey()} }
func (h *History) argsFor(r ScanRecord, b []byte) []any {
	return []any{h.recordPrefix(), r.ID, string(b), score(r), MaxHistory}
}

// saveScript writes the record and its index entries and trims the target's history, in one
// atomic step. A record already present is kept (first completion wins): a re-delivered job
// whose first run finished but was not acknowledged changes nothing. Returns 1 when written.
var saveScript = redis.NewScript(`
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

// Save stores r unless a record with its id exists; it reports whether it wrote.
func (h *History) Save(ctx context.Context, r ScanRecord) (bool, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	n, err := saveScript.Run(ctx, h.rdb, h.keysFor(r.TargetID), h.argsFor(r, b)...).Int()
	if err != nil {
		return false, fmt.Errorf("save scan record %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// Get returns the record of scan id, or an error wrapping ErrNoRecord.
func (h *History) Get(ctx context.Context, id string) (ScanRecord, error) {
	raw, err := h.rdb.Get(ctx, h.recordKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return ScanRecord{}, fmt.Errorf("scan %.80q: %w", id, ErrNoRecord)
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

// ForTarget returns up to limit scans of the target, newest first, skipping offset, and how many
// the target has in all.
func (h *History) ForTarget(ctx context.Context, targetID string, offset, limit int) ([]ScanRecord, int64, error) {
	return h.page(ctx, h.targetKey(targetID), offset, limit)
}

// Recent returns up to limit scans of every target, newest first.
func (h *History) Recent(ctx context.Context, offset, limit int) ([]ScanRecord, int64, error) {
	return h.page(ctx, h.allKey(), offset, limit)
}

func (h *History) page(ctx context.Context, key string, offset, limit int) ([]ScanRecord, int64, error) {
	offset = max(offset, 0)
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	pipe := h.rdb.Pipeline()
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
		keys[i] = h.recordKey(id)
	}
	// One MGET per key would break on Cluster; records share the prefix's hash tag there.
	vals, err := h.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, 0, fmt.Errorf("scan history: %w", err)
	}
	out := make([]ScanRecord, 0, len(vals))
	for _, v := range vals {
		s, ok := v.(string)
		if !ok {
			continue // trimmed between the two reads
		}
		var r ScanRecord
		if json.Unmarshal([]byte(s), &r) == nil {
			out = append(out, r)
		}
	}
	return out, card.Val(), nil
}

// DiffScans loads two scans and compares the older with the newer.
func (h *History) DiffScans(ctx context.Context, aID, bID string) (ScanDiff, error) {
	a, err := h.Get(ctx, aID)
	if err != nil {
		return ScanDiff{}, err
	}
	b, err := h.Get(ctx, bID)
	if err != nil {
		return ScanDiff{}, err
	}
	if b.StartedAt.Before(a.StartedAt) {
		a, b = b, a
	}
	return Diff(a, b), nil
}

// DiffLatest compares the target's two newest scans; ok is false when it has fewer than two.
func (h *History) DiffLatest(ctx context.Context, targetID string) (d ScanDiff, ok bool, err error) {
	recs, _, err := h.ForTarget(ctx, targetID, 0, 2)
	if err != nil || len(recs) < 2 {
		return ScanDiff{}, false, err
	}
	return Diff(recs[1], recs[0]), true, nil
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}
