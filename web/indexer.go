package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/store"
)

// indexer is the dashboard's in-memory copy of what the findings list filters on, sorts by and
// shows, one small entry per finding. Redis stays the only source of truth: the copy is loaded
// once, then follows the store's change feed (store.ChangesStream), which every write of a
// finding appends to in the same atomic script. Before answering, a list request reads the feed
// after the position the copy has applied (one round trip, nothing to read in the usual case), so
// a page always reflects every write that finished before the request, whichever process made it.
// A gap in the feed's numbers (the copy fell behind its cap, Redis lost writes in a crash, or was
// emptied) makes it load everything again.
//
// Queries run on an immutable snapshot (ixSnapshot); each batch of changes makes the next one from
// the last at a cost proportional to the batch, so that a filter over 100,000 findings needs no
// Redis work beyond reading the feed, also while scans write.
//
// The first version answered the list with a Lua script over sorted sets in Redis (the store's
// indexes plus web:idx:* sets this indexer maintained); filters whose shortest set was long (a legal
// basis, an SDK with a date range) cost 25-120 ms per page at 100,000 findings. Those keys are
// deleted when the copy first loads.
type indexer struct {
	st  *store.Store
	log *slog.Logger

	syncMu sync.Mutex // one catch-up or load at a time

	mu     sync.RWMutex
	cur    *ixSnapshot       // never nil
	head   store.ChangesHead // the feed position applied
	loaded bool

	slots  *slotTable // used under syncMu
	legacy sync.Once

	// strs interns the strings many entries share (states, rules, targets, citations, SDKs), so
	// that 100,000 entries are a few objects each for the garbage collector. Used under syncMu.
	strs map[string]string
}

func (ix *indexer) intern(s string) string {
	if v, ok := ix.strs[s]; ok {
		return v
	}
	if len(ix.strs) < 1<<20 {
		ix.strs[s] = s
	}
	return s
}

// ixEntry is one finding as the list needs it. It is never modified once stored: an update
// replaces it, so a snapshot can keep pointing to it.
type ixEntry struct {
	fp          string
	score       int64 // the store's index score: severity rank × 1e13 + last seen (Unix ms)
	first, last int64 // Unix ms
	state       string
	rule        string
	target      string
	sev         int // findings.SeverityRank
	sevName     rules.Severity
	bases       []string
	sdks        []string
	hay         string // lower-cased searchable text, NUL-separated
	subject     string
	notReobs    string // not_reobserved_since
	sig         signature
}

// row is the entry as a list row.
func (e *ixEntry) row() findings.Finding {
	return findings.Finding{Fingerprint: e.fp, TargetID: e.target, RuleID: e.rule, Subject: e.subject,
		Severity: e.sevName, State: findings.State(e.state),
		FirstSeen: time.UnixMilli(e.first).UTC(), LastSeen: time.UnixMilli(e.last).UTC(), NotReobservedSince: e.notReobs}
}

const (
	ixChunk        = 500
	maxHay         = 2048
	changesPerRead = 1000
	headCheckEvery = 30 * time.Second
)

func newIndexer(st *store.Store, log *slog.Logger) *indexer {
	return &indexer{st: st, log: log, cur: &ixSnapshot{}, slots: newSlotTable(), strs: map[string]string{}}
}

// run keeps the copy current until ctx ends: it waits on the feed and applies what arrives, so that
// requests seldom find anything to apply, and checks now and then that the feed was not reset
// behind its back (Redis restarted without the last writes, or emptied).
func (ix *indexer) run(ctx context.Context, retry time.Duration) {
	lastCheck := time.Now()
	wait := func() {
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
	for ctx.Err() == nil {
		if err := ix.catchUp(ctx); err != nil {
			if ctx.Err() == nil {
				ix.log.Warn("findings list index", "err", err)
			}
			wait()
			continue
		}
		for ctx.Err() == nil {
			if time.Since(lastCheck) > headCheckEvery {
				lastCheck = time.Now()
				if err := ix.checkHead(ctx); err != nil && ctx.Err() == nil {
					ix.log.Warn("findings list index", "err", err)
				}
			}
			// Wait for the next changes (or a few seconds) and apply what the wait returned.
			ix.mu.RLock()
			from := ix.head
			ix.mu.RUnlock()
			cs, err := ix.st.ReadChanges(ctx, from.ID, changesPerRead, 5*time.Second)
			if err == nil {
				err = ix.applyRead(ctx, from, cs)
			}
			if err != nil {
				if ctx.Err() == nil {
					ix.log.Warn("findings list index", "err", err)
				}
				wait()
				break // catch up from scratch
			}
		}
	}
}

// checkHead reloads the copy when the feed's counter is behind the position applied: Redis
// restarted without its last writes, or its data was replaced. (A counter ahead is what catchUp
// handles.)
func (ix *indexer) checkHead(ctx context.Context) error {
	h, err := ix.st.ChangesHead(ctx)
	if err != nil {
		return err
	}
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	ix.mu.RLock()
	behind := ix.loaded && h.Seq < ix.head.Seq
	ix.mu.RUnlock()
	if !behind {
		return nil
	}
	ix.log.Warn("findings change feed went back; reloading the list index", "feed", h.Seq)
	return ix.reload(ctx)
}

// catchUp applies every change after the copy's position, loading everything first when the copy
// is empty or the feed has a gap.
func (ix *indexer) catchUp(ctx context.Context) error {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	return ix.catchUpLocked(ctx)
}

func (ix *indexer) catchUpLocked(ctx context.Context) error {
	ix.mu.RLock()
	loaded, head := ix.loaded, ix.head
	ix.mu.RUnlock()
	if !loaded {
		if err := ix.reload(ctx); err != nil {
			return err
		}
		ix.mu.RLock()
		head = ix.head
		ix.mu.RUnlock()
	}
	for {
		cs, err := ix.st.ReadChanges(ctx, head.ID, changesPerRead, 0)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		if head, err = ix.apply(ctx, head, cs); err != nil || head.ID == "" {
			return err // head.ID == "": a gap, and apply reloaded
		}
		if len(cs) < changesPerRead {
			return nil
		}
	}
}

// apply applies changes cs, which follow position head, and returns the new position; on a gap it
// reloads everything and returns an empty position. Caller holds syncMu.
func (ix *indexer) apply(ctx context.Context, head store.ChangesHead, cs []store.Change) (store.ChangesHead, error) {
	seen := map[string]bool{}
	var fps []string
	for _, c := range cs {
		if c.Seq != head.Seq+1 {
			ix.log.Info("findings change feed has a gap; reloading the list index", "have", head.Seq, "next", c.Seq)
			return store.ChangesHead{}, ix.reload(ctx)
		}
		head = store.ChangesHead{Seq: c.Seq, ID: c.ID}
		for _, fp := range c.Fingerprints {
			if !seen[fp] && idRE.MatchString(fp) {
				seen[fp] = true
				fps = append(fps, fp)
			}
		}
	}
	for start := 0; start < len(fps); start += ixChunk {
		batch, err := ix.read(ctx, fps[start:min(start+ixChunk, len(fps))])
		if err != nil {
			return store.ChangesHead{}, err
		}
		ix.mu.RLock()
		cur := ix.cur
		ix.mu.RUnlock()
		next := cur.apply(batch, ix.slots)
		ix.mu.Lock()
		ix.cur = next
		ix.mu.Unlock()
	}
	ix.mu.Lock()
	ix.head = head
	ix.mu.Unlock()
	return head, nil
}

// prefetch adds a read of the feed after the copy's position to pipe, so that a request can learn
// of new changes in the round trip it makes anyway (its session). The returned function, called
// once the pipeline ran, applies what was read and reads more only when that was not all (a full
// batch, a gap, a position another request moved meanwhile, a failed read).
func (ix *indexer) prefetch(ctx context.Context, pipe redis.Pipeliner) func(context.Context) error {
	ix.mu.RLock()
	loaded, from := ix.loaded, ix.head
	ix.mu.RUnlock()
	if !loaded {
		return ix.catchUp
	}
	cmd := ix.st.QueueReadChanges(ctx, pipe, from.ID, changesPerRead, 0)
	return func(ctx context.Context) error {
		cs, err := store.ParseChanges(cmd)
		if err != nil {
			return ix.catchUp(ctx)
		}
		return ix.applyRead(ctx, from, cs)
	}
}

// applyRead applies changes cs, read after position from (by prefetch or by run's wait), reading
// more only when that was not all: a full batch, a gap, a position another reader moved meanwhile.
func (ix *indexer) applyRead(ctx context.Context, from store.ChangesHead, cs []store.Change) error {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	if len(cs) == changesPerRead {
		return ix.catchUpLocked(ctx)
	}
	ix.mu.RLock()
	head := ix.head
	ix.mu.RUnlock()
	for len(cs) > 0 && cs[0].Seq <= head.Seq {
		cs = cs[1:] // applied by another reader meanwhile
	}
	if len(cs) == 0 {
		if head.Seq >= from.Seq {
			return nil // current as of the read
		}
		return ix.catchUpLocked(ctx) // reloaded meanwhile: read again
	}
	if cs[0].Seq != head.Seq+1 {
		return ix.catchUpLocked(ctx)
	}
	_, err := ix.apply(ctx, head, cs)
	return err
}

// freshKey marks a request context whose list index was brought up to date by prefetch.
type freshKey struct{}

// ensureFresh brings the list index up to date unless the request's prefetch already did.
func (ix *indexer) ensureFresh(ctx context.Context) error {
	if ctx.Value(freshKey{}) != nil {
		return nil
	}
	return ix.catchUp(ctx)
}

// reload reads every finding into a fresh copy. The feed's head is read first, so a write racing
// the load is applied again afterwards rather than missed. Caller holds syncMu.
func (ix *indexer) reload(ctx context.Context) error {
	ix.legacy.Do(func() { ix.dropLegacyKeys(ctx) })
	head, err := ix.st.ChangesHead(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var fps []string
	var cursor uint64
	for {
		kv, next, err := ix.st.Client().ZScan(ctx, ix.st.Prefix()+"idx:all", cursor, "", 2000).Result()
		if err != nil {
			return fmt.Errorf("list index: %w", err)
		}
		for i := 0; i < len(kv); i += 2 {
			if !seen[kv[i]] {
				seen[kv[i]] = true
				fps = append(fps, kv[i])
			}
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	all := make(map[string]*ixEntry, len(fps))
	for start := 0; start < len(fps); start += ixChunk {
		batch, err := ix.read(ctx, fps[start:min(start+ixChunk, len(fps))])
		if err != nil {
			return err
		}
		for fp, e := range batch {
			if e != nil {
				all[fp] = e
			}
		}
	}
	slots := newSlotTable()
	sn := (&ixSnapshot{}).apply(all, slots)
	ix.mu.Lock()
	ix.cur, ix.slots, ix.head, ix.loaded = sn, slots, head, true
	ix.mu.Unlock()
	return nil
}

// dropLegacyKeys deletes the web:idx:* sets of the first version (derived data nothing reads now).
func (ix *indexer) dropLegacyKeys(ctx context.Context) {
	rdb := ix.st.Client()
	var cursor uint64
	n := 0
	for {
		keys, next, err := rdb.Scan(ctx, cursor, ix.st.Prefix()+"web:idx:*", 1000).Result()
		if err != nil {
			return
		}
		if len(keys) > 0 {
			rdb.Unlink(ctx, keys...)
			n += len(keys)
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	if n > 0 {
		ix.log.Info("deleted the dashboard's old list index keys", "keys", n)
	}
}

// ixContent is the part of a finding's JSON the list reads.
type ixContent struct {
	Subject    string         `json:"subject"`
	TargetID   string         `json:"target_id"`
	RuleID     string         `json:"rule_id"`
	Severity   rules.Severity `json:"severity"`
	LegalBasis []struct {
		Instrument string `json:"instrument"`
		Article    string `json:"article"`
	} `json:"legal_basis"`
	Observations []struct {
		Attributes map[string]any `json:"attributes"`
	} `json:"observations"`
}

// read loads the entries of fps in one round trip; a fingerprint with no finding maps to nil.
func (ix *indexer) read(ctx context.Context, fps []string) (map[string]*ixEntry, error) {
	pipe := ix.st.Client().Pipeline()
	cmds := make([]*redis.SliceCmd, len(fps))
	for i, fp := range fps {
		cmds[i] = pipe.HMGet(ctx, ix.st.Prefix()+"finding:"+fp, "json", "state", "first_seen", "last_seen", "not_reobserved_since", "score")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("list index: read findings: %w", err)
	}
	out := make(map[string]*ixEntry, len(fps))
	for i, fp := range fps {
		v := cmds[i].Val()
		str := func(k int) string {
			if k < len(v) {
				s, _ := v[k].(string)
				return s
			}
			return ""
		}
		var c ixContent
		if str(0) == "" || json.Unmarshal([]byte(str(0)), &c) != nil {
			out[fp] = nil
			continue
		}
		first, _ := time.Parse(time.RFC3339Nano, str(2))
		last, _ := time.Parse(time.RFC3339Nano, str(3))
		score, _ := strconv.ParseInt(str(5), 10, 64)
		e := &ixEntry{fp: fp, score: score, first: first.UnixMilli(), last: last.UnixMilli(), state: ix.intern(str(1)),
			rule: ix.intern(c.RuleID), target: ix.intern(c.TargetID), sev: findings.SeverityRank(c.Severity), sevName: rules.Severity(ix.intern(string(c.Severity))),
			subject: c.Subject, notReobs: ix.intern(str(4))}
		var hay strings.Builder
		add := func(s string) {
			if s != "" && hay.Len() < maxHay && !strings.Contains(hay.String(), strings.ToLower(s)) {
				hay.WriteString(strings.ToLower(s))
				hay.WriteByte(0)
			}
		}
		add(c.Subject)
		add(c.TargetID)
		for _, o := range c.Observations {
			for _, k := range []string{"label", "package", "host", "url", "title", "appid", "quote"} {
				if sv, ok := o.Attributes[k].(string); ok {
					add(sv)
				}
			}
			if sdk, ok := o.Attributes["sdk"].(string); ok && sdk != "" && ruleRE.MatchString(sdk) && !slices.Contains(e.sdks, sdk) {
				e.sdks = append(e.sdks, ix.intern(sdk))
			}
		}
		slices.Sort(e.sdks)
		for _, b := range c.LegalBasis {
			if k := b.Instrument + ":" + b.Article; len(k) <= 64 && !slices.Contains(e.bases, k) {
				e.bases = append(e.bases, ix.intern(k))
			}
		}
		e.hay = hay.String()
		e.sig = signatureOf(e.hay)
		out[fp] = e
	}
	return out, nil
}

// snapshot returns the current snapshot.
func (ix *indexer) snapshot() *ixSnapshot {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.cur
}

// size is the number of findings in the copy.
func (ix *indexer) size() int {
	return ix.snapshot().n
}
