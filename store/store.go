// Package store owns pilmon's Redis: the key layout, the Lua scripts and the one decoder of each
// stored record (findings with their history and indexes, the change feed, scan jobs and events,
// and the managed redis-server child). Nothing outside it builds a key or runs a raw command.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// Redis layout (every key starts with the store's prefix, default "pilmon:"):
//
//	finding:{fp}            hash, one per finding:
//	    json                  canonical JSON of the observed content, fields fingerprint … observations
//	                          (what a scan says; replaced by the newest scan)
//	    evidence              evidence references, the union over every scan, "\n"-separated
//	    json_sha              hex of the first 16 bytes of SHA-256(json): a re-scan compares it
//	                          instead of reading json back into Lua, and rewrites json only when
//	                          it changed
//	    state first_seen last_seen last_scan_id not_reobserved_since
//	                          the lifecycle, owned by the store and the triage state machine
//	                          (not_reobserved_since may be absent, which means "")
//	    last_seen_ns score deadline document_no
//	                          bookkeeping fields (hashes written before the batched upsert also
//	                          hold target, rule, severity and sev_rank, which nothing reads)
//	finding:{fp}:history    list of JSON Transition, append-only (RPUSH only, never rewritten)
//	idx:all, idx:state:{s}, idx:target:{id}, idx:rule:{id}
//	                        sorted sets of fingerprints, score = severity rank × 1e13 + last seen
//	                        (Unix ms), so ZREVRANGE lists the most severe first, then the newest.
//	                        Severity has no index of its own: the score range
//	                        [rank × 1e13, (rank+1) × 1e13) of any index selects it, which saves a
//	                        sorted-set write on every upsert (the most expensive part of one)
//	idx:known:target, idx:known:rule
//	                        sets naming the target and rule indexes that exist (Counts)
//	jobs, jobs:dead, events streams, jobs:errors hash (jobs.go)
//	scan:{id}, scans:target:{tid}, scans:all     the scan history (scans.go)
//	{name}:lease                                 leases such as the scheduler's (leases.go)
//	schedule:cursor, schedule:tick:{tid}:{ms}    schedule bookkeeping (schedule.go)
//
// Get assembles a Finding from the hash; MarshalCanonical of that Finding is the full canonical form.
// The lifecycle lives in its own fields rather than inside "json" so that the Lua scripts never
// parse or re-encode JSON (cjson would not keep the canonical bytes).
//
// The scripts build the index key names from the prefix, so on Redis Cluster the prefix must carry a
// hash tag ("{pilmon}:") to keep every key of one store in one slot.

// DefaultPrefix is the key prefix when none is given.
const DefaultPrefix = "pilmon:"

// Limits on what one finding may carry into Redis.
const (
	maxContentBytes = 4 << 20 // canonical JSON of one finding's observed content
	maxRefLen       = 256     // one evidence reference
	maxIDLen        = 256     // target, rule and scan ids
	maxBatch        = 1000    // findings per pipelined round trip in UpsertBatch
	scriptBatch     = 100     // findings per upsert script run (the server is busy ~1 ms per run)
	maxListLimit    = 1000
	defaultLimit    = 50
)

var (
	// ErrNotFound is returned (wrapped) for a fingerprint the store does not hold.
	ErrNotFound = errors.New("finding not found")
	// ErrConflict is returned (wrapped) when a finding's state changed between reading and writing it.
	ErrConflict = errors.New("finding changed state concurrently")
)

// severityRange is the score range of severity sev in every index, as ZRANGEBYSCORE bounds; an
// unknown severity gets an empty range.
func severityRange(sev rules.Severity) (lo, hi string) {
	r := int64(findings.SeverityRank(sev))
	if r == 0 {
		return "1", "(1"
	}
	return strconv.FormatInt(r*1e13, 10), "(" + strconv.FormatInt((r+1)*1e13, 10)
}

// Store keeps findings, their history and indexes in Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time
	// groupReady is set once the jobs consumer group is known to exist.
	groupReady atomic.Bool
}

// NewStore returns a store using rdb with the given key prefix ("" means DefaultPrefix).
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{rdb: rdb, prefix: prefix, now: time.Now}
}

// Ping checks that Redis answers (a worker starting, a health check).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

func (s *Store) findingKey(fp string) string { return s.prefix + "finding:" + fp }
func (s *Store) historyKey(fp string) string { return s.prefix + "finding:" + fp + ":history" }
func (s *Store) idxKey(parts ...string) string {
	return s.prefix + "idx:" + strings.Join(parts, ":")
}

// findingContent is the observed part of a Finding, the "json" field of its hash. Its fields and
// tags mirror the first fields of Finding (a test checks this).
type findingContent struct {
	Fingerprint  string                `json:"fingerprint"`
	TargetID     string                `json:"target_id"`
	RuleID       string                `json:"rule_id"`
	RuleVersion  int                   `json:"rule_version"`
	Subject      string                `json:"subject"`
	Severity     rules.Severity        `json:"severity"`
	Tier         string                `json:"tier,omitempty"`
	Grade        string                `json:"grade,omitempty"`
	LegalBasis   []rules.Citation      `json:"legal_basis"`
	AsOf         time.Time             `json:"as_of"`
	AsOfSource   string                `json:"as_of_source,omitempty"`
	Summary      rules.Text            `json:"summary"`
	Caveat       rules.Text            `json:"caveat"`
	Observations []scanner.Observation `json:"observations"`
	// Confidence and its reason are re-assessed at every scan, like the summary.
	Confidence       string     `json:"confidence,omitempty"`
	ConfidenceReason rules.Text `json:"confidence_reason,omitzero"`
}

// UpsertResult says what an upsert did.
type UpsertResult struct {
	Created     bool
	Fingerprint string
}

// preparedUpsert is one finding's share of an upsert script run: its fingerprint and its
// upsertArgs arguments (see upsertScript).
type preparedUpsert struct {
	fp   string
	args [upsertArgs]any
}

// upsertArgs is the number of script arguments per finding.
const upsertArgs = 10

// prepareUpsert validates f and builds its script arguments.
func (s *Store) prepareUpsert(f findings.Finding, scanID string, now time.Time) (preparedUpsert, error) {
	if err := checkID("scan id", scanID); err != nil {
		return preparedUpsert{}, err
	}
	if err := checkID("target id", f.TargetID); err != nil {
		return preparedUpsert{}, err
	}
	if err := checkID("rule id", f.RuleID); err != nil {
		return preparedUpsert{}, err
	}
	fp := findings.Fingerprint(f.TargetID, f.RuleID, f.Subject)
	if f.Fingerprint != "" && f.Fingerprint != fp {
		return preparedUpsert{}, fmt.Errorf("fingerprint %q does not match target %q, rule %q, subject %q (want %s)",
			f.Fingerprint, f.TargetID, f.RuleID, f.Subject, fp)
	}
	f.Fingerprint = fp
	rank, ok := int64(findings.SeverityRank(f.Severity)), findings.SeverityRank(f.Severity) > 0
	if !ok {
		return preparedUpsert{}, fmt.Errorf("finding %s: unknown severity %q (want one of %v)", fp, f.Severity, findings.Severities)
	}
	if f.LastSeen.IsZero() {
		f.LastSeen = now
	}
	if f.FirstSeen.IsZero() || f.FirstSeen.After(f.LastSeen) {
		f.FirstSeen = f.LastSeen
	}
	for _, t := range []time.Time{f.FirstSeen, f.LastSeen} {
		if t.Year() < 1970 || t.Year() > 2200 {
			return preparedUpsert{}, fmt.Errorf("finding %s: time %s out of range", fp, t)
		}
	}
	for _, r := range f.EvidenceRefs {
		if r == "" || len(r) > maxRefLen || strings.ContainsFunc(r, findings.IsControl) || !utf8.ValidString(r) {
			return preparedUpsert{}, fmt.Errorf("finding %s: bad evidence reference %.80q (1-%d bytes, no control characters)", fp, r, maxRefLen)
		}
	}
	n := findings.Normalize(f)
	content, err := findings.EncodeCanonical(findingContent{
		Fingerprint: n.Fingerprint, TargetID: n.TargetID, RuleID: n.RuleID, RuleVersion: n.RuleVersion,
		Subject: n.Subject, Severity: n.Severity, Tier: n.Tier, Grade: n.Grade, LegalBasis: n.LegalBasis,
		AsOf: n.AsOf, AsOfSource: n.AsOfSource, Summary: n.Summary,
		Caveat: n.Caveat, Observations: n.Observations,
		Confidence: n.Confidence, ConfidenceReason: n.ConfidenceReason,
	})
	if err != nil {
		return preparedUpsert{}, fmt.Errorf("finding %s: %w", fp, err)
	}
	if len(content) > maxContentBytes {
		return preparedUpsert{}, fmt.Errorf("finding %s: %d bytes of content, limit %d", fp, len(content), maxContentBytes)
	}
	digest := sha256.Sum256(content)
	ns := strconv.FormatInt(n.LastSeen.UnixNano(), 10)
	score := rank*1e13 + n.LastSeen.UnixMilli()
	return preparedUpsert{fp: fp, args: [upsertArgs]any{
		fp, f.TargetID, f.RuleID, content, hex.EncodeToString(digest[:16]), strings.Join(n.EvidenceRefs, "\n"),
		n.FirstSeen.Format(time.RFC3339Nano), n.LastSeen.Format(time.RFC3339Nano),
		strings.Repeat("0", max(0, 19-len(ns))) + ns, strconv.FormatInt(score, 10),
	}}, nil
}

// creationEntry is the history entry of a finding a scan creates.
func creationEntry(scanID string, now time.Time) (string, error) {
	note := fmt.Sprintf("首次发现于扫描 %s (first observed in scan %s)", scanID, scanID)
	if strings.HasPrefix(scanID, ManualScanPrefix) {
		note = "分析人员人工检测结果，见摘要 (an analyst's manual test result, see the summary)"
	}
	hist, err := json.Marshal(findings.Transition{
		At: now.UTC(), Actor: "pilmon", From: "", To: findings.StateNew, Note: note,
	})
	return string(hist), err
}

func checkID(what, id string) error {
	if id == "" || len(id) > maxIDLen || strings.ContainsFunc(id, findings.IsControl) || !utf8.ValidString(id) {
		return fmt.Errorf("bad %s %.80q: want 1-%d bytes of UTF-8 without control characters", what, id, maxIDLen)
	}
	return nil
}

// Upsert records that scanID observed f. A new fingerprint is created in state "new" with one
// history entry. An existing one gets the newer content (observations, severity, summary, rule
// version), LastSeen, LastScanID and the union of evidence references, and loses its
// NotReobservedSince mark; its state, FirstSeen and history are never touched. Delivering the same
// (finding, scan) again changes nothing; a late delivery from an older scan (LastSeen before the
// stored one) only adds its evidence references. Zero FirstSeen/LastSeen mean now; the
// fingerprint is computed when empty and checked when given.
func (s *Store) Upsert(ctx context.Context, f findings.Finding, scanID string) (UpsertResult, error) {
	res, err := s.UpsertBatch(ctx, []findings.Finding{f}, scanID)
	if err != nil {
		return UpsertResult{}, err
	}
	return res[0], nil
}

// UpsertBatch upserts many findings of one scan, each as Upsert does. Findings go to the server
// scriptBatch at a time, each group one atomic script run, and up to maxBatch findings per
// pipelined round trip. On error the results of the findings already written are returned with
// it. Results are in the order of fs.
func (s *Store) UpsertBatch(ctx context.Context, fs []findings.Finding, scanID string) ([]UpsertResult, error) {
	now := s.now()
	prepared := make([]preparedUpsert, len(fs))
	for i, f := range fs {
		p, err := s.prepareUpsert(f, scanID, now)
		if err != nil {
			return nil, fmt.Errorf("upsert batch, finding %d: %w", i, err)
		}
		prepared[i] = p
	}
	hist, err := creationEntry(scanID, now)
	if err != nil {
		return nil, err
	}
	results := make([]UpsertResult, len(fs))
	for start := 0; start < len(prepared); start += maxBatch {
		end := min(start+maxBatch, len(prepared))
		if err := s.upsertChunk(ctx, prepared, start, end, scanID, hist, results); err != nil {
			return results[:start], err
		}
	}
	return results, nil
}

// upsertChunk writes prepared[start:end] in one pipelined round trip of script runs of up to
// scriptBatch findings each.
func (s *Store) upsertChunk(ctx context.Context, prepared []preparedUpsert, start, end int, scanID, hist string, results []UpsertResult) error {
	type run struct{ from, to int }
	var pending []run
	for i := start; i < end; i += scriptBatch {
		pending = append(pending, run{i, min(i+scriptBatch, end)})
	}
	keys := []string{s.idxKey("all")}
	for attempt := 0; ; attempt++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.Cmd, len(pending))
		for j, r := range pending {
			args := make([]any, 0, 3+upsertArgs*(r.to-r.from))
			args = append(args, s.prefix, scanID, hist)
			for i := r.from; i < r.to; i++ {
				args = append(args, prepared[i].args[:]...)
			}
			cmds[j] = upsertScript.EvalSha(ctx, pipe, keys, args...)
		}
		_, _ = pipe.Exec(ctx) // errors are per command, read below
		var retry []run
		for j, r := range pending {
			created, err := cmds[j].Text()
			if err == nil && len(created) != r.to-r.from {
				err = fmt.Errorf("script answered %d results for %d findings", len(created), r.to-r.from)
			}
			if err != nil {
				if attempt == 0 && redis.HasErrorPrefix(err, "NOSCRIPT") {
					retry = append(retry, r)
					continue
				}
				return fmt.Errorf("upsert findings %s…: %w", prepared[r.from].fp, err)
			}
			for i := r.from; i < r.to; i++ {
				results[i] = UpsertResult{Created: created[i-r.from] == '1', Fingerprint: prepared[i].fp}
			}
		}
		if len(retry) == 0 {
			return nil
		}
		// The script cache was empty (a fresh or restarted server): load once, replay the rest.
		// Replaying is safe because the script is idempotent.
		if err := upsertScript.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("load upsert script: %w", err)
		}
		pending = retry
	}
}

// hashFields are the fields of a finding hash that decodeFinding reads, in its order.
var hashFields = []string{"json", "evidence", "state", "first_seen", "last_seen", "last_scan_id", "not_reobserved_since", "score"}

// Get returns the finding with fingerprint fp, or an error wrapping ErrNotFound.
func (s *Store) Get(ctx context.Context, fp string) (findings.Finding, error) {
	vals, err := s.rdb.HMGet(ctx, s.findingKey(fp), hashFields...).Result()
	if err != nil {
		return findings.Finding{}, fmt.Errorf("get finding %s: %w", fp, err)
	}
	r := decodeFinding(fp, vals)
	return r.Finding, r.Err
}

// Stored is one finding as ReadFindings found it.
type Stored struct {
	Finding findings.Finding
	// Score is the finding's score in every index: severity rank × 1e13 + last seen (Unix ms).
	Score int64
	// Err is nil for a finding that was read; it wraps ErrNotFound when there is none, and says
	// what is wrong with a stored hash that does not decode.
	Err error
}

// decodeFinding is the one decoder of a stored finding hash: vals are the values of hashFields.
func decodeFinding(fp string, vals []any) Stored {
	str := func(i int) string {
		if i < len(vals) {
			v, _ := vals[i].(string)
			return v
		}
		return ""
	}
	if len(vals) == 0 || vals[0] == nil {
		return Stored{Err: fmt.Errorf("finding %s: %w", fp, ErrNotFound)}
	}
	var f findings.Finding
	if err := json.Unmarshal([]byte(str(0)), &f); err != nil {
		return Stored{Err: fmt.Errorf("finding %s: stored JSON: %w", fp, err)}
	}
	f.EvidenceRefs = findings.SortedSet(strings.FieldsFunc(str(1), func(r rune) bool { return r == '\n' }))
	f.State = findings.State(str(2))
	var err error
	if f.FirstSeen, err = time.Parse(time.RFC3339Nano, str(3)); err != nil {
		return Stored{Err: fmt.Errorf("finding %s: first_seen: %w", fp, err)}
	}
	if f.LastSeen, err = time.Parse(time.RFC3339Nano, str(4)); err != nil {
		return Stored{Err: fmt.Errorf("finding %s: last_seen: %w", fp, err)}
	}
	f.FirstSeen, f.LastSeen = f.FirstSeen.UTC(), f.LastSeen.UTC()
	f.LastScanID = str(5)
	f.NotReobservedSince = str(6)
	score, err := strconv.ParseInt(str(7), 10, 64)
	if err != nil {
		// Hashes are written with their score; one without is scored as the upsert would.
		score = int64(findings.SeverityRank(f.Severity))*1e13 + f.LastSeen.UnixMilli()
	}
	return Stored{Finding: f, Score: score}
}

// ReadFindings reads the findings fps in one round trip, in the order of fps; a fingerprint with
// no finding, or whose hash does not decode, has Err set. The error is a failed read.
func (s *Store) ReadFindings(ctx context.Context, fps []string) ([]Stored, error) {
	if len(fps) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(fps))
	for i, fp := range fps {
		cmds[i] = pipe.HMGet(ctx, s.findingKey(fp), hashFields...)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	out := make([]Stored, len(fps))
	for i, c := range cmds {
		out[i] = decodeFinding(fps[i], c.Val())
	}
	return out, nil
}

// GetMany returns the findings fps that exist, in the order of fps, in one round trip; a
// fingerprint with no finding is skipped, one whose hash does not decode is an error.
func (s *Store) GetMany(ctx context.Context, fps []string) ([]findings.Finding, error) {
	rs, err := s.ReadFindings(ctx, fps)
	if err != nil {
		return nil, err
	}
	out := make([]findings.Finding, 0, len(rs))
	for _, r := range rs {
		if errors.Is(r.Err, ErrNotFound) {
			continue
		}
		if r.Err != nil {
			return out, r.Err
		}
		out = append(out, r.Finding)
	}
	return out, nil
}

// Query selects findings for List; empty fields do not filter.
type Query struct {
	State    findings.State
	TargetID string
	RuleID   string
	Severity rules.Severity
	Offset   int
	Limit    int // default 50, at most 1000
}

// List returns one page of the findings matching q, most severe first, then most recently seen,
// and the number of findings matching in all.
func (s *Store) List(ctx context.Context, q Query) ([]findings.Finding, int64, error) {
	if q.Offset < 0 {
		q.Offset = 0
	}
	if q.Limit <= 0 {
		q.Limit = defaultLimit
	}
	q.Limit = min(q.Limit, maxListLimit)
	var keys []string
	if q.State != "" {
		keys = append(keys, s.idxKey("state", string(q.State)))
	}
	if q.TargetID != "" {
		keys = append(keys, s.idxKey("target", q.TargetID))
	}
	if q.RuleID != "" {
		keys = append(keys, s.idxKey("rule", q.RuleID))
	}
	// The severity filter is a score range (see the layout above).
	lo, hi := "-inf", "+inf"
	if q.Severity != "" {
		lo, hi = severityRange(q.Severity)
	}
	var fps []string
	var total int64
	switch len(keys) {
	case 0, 1:
		key := s.idxKey("all")
		if len(keys) == 1 {
			key = keys[0]
		}
		pipe := s.rdb.Pipeline()
		card := pipe.ZCount(ctx, key, lo, hi)
		page := pipe.ZRevRangeByScore(ctx, key, &redis.ZRangeBy{Min: lo, Max: hi, Offset: int64(q.Offset), Count: int64(q.Limit)})
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, 0, fmt.Errorf("list findings: %w", err)
		}
		total, fps = card.Val(), page.Val()
	default:
		// Every index shares one score per finding, so the intersection keeps it (MAX).
		zs, err := s.rdb.ZInterWithScores(ctx, &redis.ZStore{Keys: keys, Aggregate: "MAX"}).Result()
		if err != nil {
			return nil, 0, fmt.Errorf("list findings: %w", err)
		}
		if q.Severity != "" {
			r := float64(findings.SeverityRank(q.Severity))
			zs = slices.DeleteFunc(zs, func(z redis.Z) bool { return z.Score < r*1e13 || z.Score >= (r+1)*1e13 })
		}
		slices.SortFunc(zs, func(a, b redis.Z) int {
			if a.Score != b.Score {
				if a.Score > b.Score {
					return -1
				}
				return 1
			}
			return strings.Compare(b.Member.(string), a.Member.(string))
		})
		total = int64(len(zs))
		for i := q.Offset; i < len(zs) && i < q.Offset+q.Limit; i++ {
			fps = append(fps, zs[i].Member.(string))
		}
	}
	out, err := s.GetMany(ctx, fps)
	if out == nil {
		out = []findings.Finding{}
	}
	return out, total, err
}

// Counts is how many findings each index holds.
type Counts struct {
	Total      int64
	ByState    map[findings.State]int64
	BySeverity map[rules.Severity]int64
	ByRule     map[string]int64
	ByTarget   map[string]int64
}

// Counts returns the number of findings per state, severity, rule and target (zero counts omitted).
func (s *Store) Counts(ctx context.Context) (Counts, error) {
	pipe := s.rdb.Pipeline()
	rulesCmd := pipe.SMembers(ctx, s.idxKey("known", "rule"))
	targetsCmd := pipe.SMembers(ctx, s.idxKey("known", "target"))
	if _, err := pipe.Exec(ctx); err != nil {
		return Counts{}, fmt.Errorf("counts: %w", err)
	}
	pipe = s.rdb.Pipeline()
	total := pipe.ZCard(ctx, s.idxKey("all"))
	card := func(names []string, kind string) map[string]*redis.IntCmd {
		m := make(map[string]*redis.IntCmd, len(names))
		for _, n := range names {
			m[n] = pipe.ZCard(ctx, s.idxKey(kind, n))
		}
		return m
	}
	states := make([]string, len(findings.AllStates))
	for i, st := range findings.AllStates {
		states[i] = string(st)
	}
	byState := card(states, "state")
	bySev := make(map[rules.Severity]*redis.IntCmd, len(findings.Severities))
	for _, sev := range findings.Severities {
		lo, hi := severityRange(sev)
		bySev[sev] = pipe.ZCount(ctx, s.idxKey("all"), lo, hi)
	}
	byRule := card(rulesCmd.Val(), "rule")
	byTarget := card(targetsCmd.Val(), "target")
	if _, err := pipe.Exec(ctx); err != nil {
		return Counts{}, fmt.Errorf("counts: %w", err)
	}
	c := Counts{Total: total.Val(), ByState: map[findings.State]int64{}, BySeverity: map[rules.Severity]int64{},
		ByRule: map[string]int64{}, ByTarget: map[string]int64{}}
	for k, v := range byState {
		if n := v.Val(); n > 0 {
			c.ByState[findings.State(k)] = n
		}
	}
	for k, v := range bySev {
		if n := v.Val(); n > 0 {
			c.BySeverity[k] = n
		}
	}
	for k, v := range byRule {
		if n := v.Val(); n > 0 {
			c.ByRule[k] = n
		}
	}
	for k, v := range byTarget {
		if n := v.Val(); n > 0 {
			c.ByTarget[k] = n
		}
	}
	return c, nil
}

// History returns the finding's transitions, oldest first.
func (s *Store) History(ctx context.Context, fp string) ([]findings.Transition, error) {
	raw, err := s.rdb.LRange(ctx, s.historyKey(fp), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("history of %s: %w", fp, err)
	}
	if len(raw) == 0 {
		if n, err := s.rdb.Exists(ctx, s.findingKey(fp)).Result(); err == nil && n == 0 {
			return nil, fmt.Errorf("history of %s: %w", fp, ErrNotFound)
		}
	}
	out := make([]findings.Transition, 0, len(raw))
	for i, r := range raw {
		var t findings.Transition
		if err := json.Unmarshal([]byte(r), &t); err != nil {
			return out, fmt.Errorf("history of %s, entry %d: %w", fp, i, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// ManualScanPrefix begins the scan id of a finding an analyst recorded by hand (a checklist item
// found on a test phone): no automated scan raises it again, so none marks it not re-observed
// (markScript). The prefix is spelled out there too.
const ManualScanPrefix = "manual-"

// ManualScanID is the scan id of one manual record made at now.
func ManualScanID(now time.Time) string { return ManualScanPrefix + scanner.NewScanID(now) }

// MarkNotReobserved records that the complete scan scanID of target targetID raised only the
// fingerprints in raised: every other finding of the target that is not yet marked gets
// NotReobservedSince = scanID (the first scan that no longer saw it). A later upsert clears the
// mark. It returns how many findings were marked.
func (s *Store) MarkNotReobserved(ctx context.Context, targetID, scanID string, raised []string) (int, error) {
	if err := checkID("target id", targetID); err != nil {
		return 0, err
	}
	if err := checkID("scan id", scanID); err != nil {
		return 0, err
	}
	args := make([]any, 0, len(raised)+2)
	args = append(args, s.prefix, scanID)
	for _, fp := range raised {
		args = append(args, fp)
	}
	n, err := markScript.Run(ctx, s.rdb, []string{s.idxKey("target", targetID)}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("mark not re-observed for target %s, scan %s: %w", targetID, scanID, err)
	}
	return n, nil
}
