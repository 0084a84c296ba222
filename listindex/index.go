// Package listindex is the dashboard's in-memory findings list index: a copy of what the list
// filters on, sorts by and shows, one small entry per finding, loaded from the store once and then
// following the store's change feed, queried on immutable snapshots.
package listindex

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/store"
)

// Index is the dashboard's in-memory copy of what the findings list filters on, sorts by and
// shows, one small entry per finding. Redis stays the only source of truth: the copy is loaded
// once, then follows the store's change feed (store.ChangesStream), which every write of a
// finding appends to in the same atomic script. Before answering, a list request reads the feed
// after the position the copy has applied (one round trip, nothing to read in the usual case), so
// a page always reflects every write that finished before the request, whichever process made it.
// A gap in the feed's numbers (the copy fell behind its cap, Redis lost writes in a crash, or was
// emptied) makes it load everything again.
//
// Queries run on an immutable snapshot (Snapshot); each batch of changes makes the next one from
// the last at a cost proportional to the batch, so that a filter over 100,000 findings needs no
// Redis work beyond reading the feed, also while scans write.
//
// The first version answered the list with a Lua script over sorted sets in Redis (the store's
// indexes plus web:idx:* sets this index maintained); filters whose shortest set was long (a legal
// basis, an SDK with a date range) cost 25-120 ms per page at 100,000 findings. Those keys are
// deleted when the copy first loads.
type Index struct {
	st  *store.Store
	log *slog.Logger

	syncMu sync.Mutex // one catch-up or load at a time

	mu     sync.RWMutex
	cur    *Snapshot         // never nil
	head   store.ChangesHead // the feed position applied
	loaded bool

	slots  *slotTable // used under syncMu
	legacy sync.Once
	loads  atomic.Int64 // full loads so far

	// terms adds words a finding is found by (SetTerms); nil adds none.
	terms Terms

	// strs interns the strings many entries share (states, rules, targets, citations, SDKs), so
	// that 100,000 entries are a few objects each for the garbage collector. Used under syncMu.
	strs map[string]string
}

func (ix *Index) intern(s string) string {
	if v, ok := ix.strs[s]; ok {
		return v
	}
	if len(ix.strs) < 1<<20 {
		ix.strs[s] = s
	}
	return s
}

// Entry is one finding as the list needs it. It is never modified once stored: an update
// replaces it, so a snapshot can keep pointing to it.
type Entry struct {
	fp          string
	score       int64 // the store's index score: severity rank × 1e13 + last seen (Unix ms)
	first, last int64 // Unix ms
	state       string
	rule        string
	target      string
	sev         int // findings.SeverityRank
	sevName     rules.Severity
	tier        string // "finding", "lead" or "" (before tiers)
	grade       string
	bases       []string
	sdks        []string
	hay         string // lower-cased searchable text, NUL-separated
	subject     string
	notReobs    string // not_reobserved_since
	sig         signature
	// refs are the evidence the finding and its observations cite (interned: many findings of a
	// scan cite one HAR), for the evidence page's links back to its findings.
	refs []string
}

// Fingerprint is the entry's finding's fingerprint.
func (e *Entry) Fingerprint() string { return e.fp }

// Row is the entry as a list row: the finding's identity, subject, severity, state and dates.
func (e *Entry) Row() findings.Finding {
	return findings.Finding{Fingerprint: e.fp, TargetID: e.target, RuleID: e.rule, Subject: e.subject,
		Severity: e.sevName, Tier: e.tier, Grade: e.grade, State: findings.State(e.state),
		FirstSeen: time.UnixMilli(e.first).UTC(), LastSeen: time.UnixMilli(e.last).UTC(), NotReobservedSince: e.notReobs}
}

const (
	ixChunk        = 500
	maxHay         = 2048
	headCheckEvery = 30 * time.Second
)

// ChangesPerRead is the most changes one read of the feed returns.
const ChangesPerRead = 1000

// New returns an empty index of the findings in st; it loads on first use.
func New(st *store.Store, log *slog.Logger) *Index {
	return &Index{st: st, log: log, cur: &Snapshot{}, slots: newSlotTable(), strs: map[string]string{}}
}

// Run keeps the copy current until ctx ends: it waits on the feed and applies what arrives, so that
// requests seldom find anything to apply, and checks now and then that the feed was not reset
// behind its back (Redis restarted without the last writes, or emptied).
func (ix *Index) Run(ctx context.Context, retry time.Duration) {
	lastCheck := time.Now()
	wait := func() {
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
	for ctx.Err() == nil {
		if err := ix.CatchUp(ctx); err != nil {
			if ctx.Err() == nil {
				ix.log.Warn("findings list index", "err", err)
			}
			wait()
			continue
		}
		for ctx.Err() == nil {
			if time.Since(lastCheck) > headCheckEvery {
				lastCheck = time.Now()
				if err := ix.CheckHead(ctx); err != nil && ctx.Err() == nil {
					ix.log.Warn("findings list index", "err", err)
				}
			}
			// Wait for the next changes (or a few seconds) and apply what the wait returned.
			ix.mu.RLock()
			from := ix.head
			ix.mu.RUnlock()
			cs, err := ix.st.ReadChanges(ctx, from.ID, ChangesPerRead, 5*time.Second)
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

// CheckHead reloads the copy when the feed's counter is behind the position applied: Redis
// restarted without its last writes, or its data was replaced. (A counter ahead is what catchUp
// handles.)
func (ix *Index) CheckHead(ctx context.Context) error {
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

// CatchUp applies every change after the copy's position, loading everything first when the copy
// is empty or the feed has a gap.
func (ix *Index) CatchUp(ctx context.Context) error {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	return ix.catchUpLocked(ctx)
}

func (ix *Index) catchUpLocked(ctx context.Context) error {
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
		cs, err := ix.st.ReadChanges(ctx, head.ID, ChangesPerRead, 0)
		if err != nil {
			return err
		}
		if len(cs) == 0 {
			return nil
		}
		if head, err = ix.apply(ctx, head, cs); err != nil || head.ID == "" {
			return err // head.ID == "": a gap, and apply reloaded
		}
		if len(cs) < ChangesPerRead {
			return nil
		}
	}
}

// apply applies changes cs, which follow position head, and returns the new position; on a gap it
// reloads everything and returns an empty position. Caller holds syncMu.
func (ix *Index) apply(ctx context.Context, head store.ChangesHead, cs []store.Change) (store.ChangesHead, error) {
	seen := map[string]bool{}
	var fps []string
	for _, c := range cs {
		if c.Seq != head.Seq+1 {
			ix.log.Info("findings change feed has a gap; reloading the list index", "have", head.Seq, "next", c.Seq)
			return store.ChangesHead{}, ix.reload(ctx)
		}
		head = store.ChangesHead{Seq: c.Seq, ID: c.ID}
		for _, fp := range c.Fingerprints {
			if !seen[fp] && fpRE.MatchString(fp) {
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

// Prefetch lets a request learn of new changes in a round trip it makes anyway (its session, see
// store.PageState): it returns the feed position to read after ("" when the index has not loaded,
// and nothing should be read) and the function that applies what was read, once read. That
// function reads more only when the read was not all (a full batch, a gap, a position another
// request moved meanwhile, a failed read).
func (ix *Index) Prefetch() (after string, apply func(ctx context.Context, cs []store.Change, readErr error) error) {
	ix.mu.RLock()
	loaded, from := ix.loaded, ix.head
	ix.mu.RUnlock()
	if !loaded {
		return "", func(ctx context.Context, _ []store.Change, _ error) error { return ix.CatchUp(ctx) }
	}
	return from.ID, func(ctx context.Context, cs []store.Change, readErr error) error {
		if readErr != nil {
			return ix.CatchUp(ctx)
		}
		return ix.applyRead(ctx, from, cs)
	}
}

// applyRead applies changes cs, read after position from (by Prefetch or by Run's wait), reading
// more only when that was not all: a full batch, a gap, a position another reader moved meanwhile.
func (ix *Index) applyRead(ctx context.Context, from store.ChangesHead, cs []store.Change) error {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	if len(cs) == ChangesPerRead {
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

// freshKey marks a request context whose list index was brought up to date by Prefetch.
type freshKey struct{}

// MarkFresh returns ctx marked as brought up to date (by Prefetch's apply): EnsureFresh then
// reads nothing more.
func MarkFresh(ctx context.Context) context.Context { return context.WithValue(ctx, freshKey{}, true) }

// EnsureFresh brings the list index up to date unless ctx is marked fresh.
func (ix *Index) EnsureFresh(ctx context.Context) error {
	if ctx.Value(freshKey{}) != nil {
		return nil
	}
	return ix.CatchUp(ctx)
}

// reload reads every finding into a fresh copy. The feed's head is read first, so a write racing
// the load is applied again afterwards rather than missed. Caller holds syncMu.
func (ix *Index) reload(ctx context.Context) error {
	ix.legacy.Do(func() { ix.dropLegacyKeys(ctx) })
	head, err := ix.st.ChangesHead(ctx)
	if err != nil {
		return err
	}
	fps, err := ix.st.AllFingerprints(ctx)
	if err != nil {
		return fmt.Errorf("list index: %w", err)
	}
	all := make(map[string]*Entry, len(fps))
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
	sn := (&Snapshot{}).apply(all, slots)
	ix.mu.Lock()
	ix.cur, ix.slots, ix.head, ix.loaded = sn, slots, head, true
	ix.mu.Unlock()
	ix.loads.Add(1)
	return nil
}

// Loads returns how many times the index loaded every finding.
func (ix *Index) Loads() int64 { return ix.loads.Load() }

// dropLegacyKeys deletes the web:idx:* sets of the first version (derived data nothing reads now).
func (ix *Index) dropLegacyKeys(ctx context.Context) {
	if n, _ := ix.st.DropLegacyListKeys(ctx); n > 0 {
		ix.log.Info("deleted the dashboard's old list index keys", "keys", n)
	}
}

// read loads the entries of fps in one round trip; a fingerprint with no finding (or one whose
// stored hash does not decode) maps to nil.
func (ix *Index) read(ctx context.Context, fps []string) (map[string]*Entry, error) {
	rs, err := ix.st.ReadFindings(ctx, fps)
	if err != nil {
		return nil, fmt.Errorf("list index: %w", err)
	}
	out := make(map[string]*Entry, len(fps))
	for i, fp := range fps {
		if rs[i].Err != nil {
			out[fp] = nil
			continue
		}
		out[fp] = ix.entry(fp, rs[i])
	}
	return out, nil
}

// searched are the observation attributes the text search looks in.
var searched = []string{"label", "package", "host", "url", "title", "appid", "quote"}

// entry is the list's entry of a stored finding.
func (ix *Index) entry(fp string, r store.Stored) *Entry {
	f := &r.Finding
	e := &Entry{fp: fp, score: r.Score, first: f.FirstSeen.UnixMilli(), last: f.LastSeen.UnixMilli(), state: ix.intern(string(f.State)),
		rule: ix.intern(f.RuleID), target: ix.intern(f.TargetID), sev: findings.SeverityRank(f.Severity),
		sevName: rules.Severity(ix.intern(string(f.Severity))), subject: f.Subject, notReobs: ix.intern(f.NotReobservedSince),
		tier: ix.intern(f.Tier), grade: ix.intern(f.Grade)}
	var hay strings.Builder
	add := func(s string) {
		if s != "" && hay.Len() < maxHay && !strings.Contains(hay.String(), strings.ToLower(s)) {
			hay.WriteString(strings.ToLower(s))
			hay.WriteByte(0)
		}
	}
	add(f.Subject)
	add(f.TargetID)
	if ix.terms != nil {
		for _, w := range ix.terms(f) {
			add(w)
		}
	}
	for _, o := range f.Observations {
		for _, k := range searched {
			if sv, ok := o.Attributes[k].(string); ok {
				add(sv)
			}
		}
		if sdk, ok := o.Attributes["sdk"].(string); ok && sdk != "" && sdkRE.MatchString(sdk) && !slices.Contains(e.sdks, sdk) {
			e.sdks = append(e.sdks, ix.intern(sdk))
		}
	}
	slices.Sort(e.sdks)
	for _, b := range f.LegalBasis {
		if k := b.Instrument + ":" + b.Article; len(k) <= 64 && !slices.Contains(e.bases, k) {
			e.bases = append(e.bases, ix.intern(k))
		}
	}
	e.hay = hay.String()
	e.sig = signatureOf(e.hay)
	addRef := func(r string) {
		if len(e.refs) < maxRefsPerEntry && !slices.Contains(e.refs, r) {
			e.refs = append(e.refs, ix.intern(r))
		}
	}
	for _, r := range f.EvidenceRefs {
		addRef(r)
	}
	for _, o := range f.Observations {
		for _, r := range o.EvidenceRefs {
			addRef(r)
		}
	}
	return e
}

// maxRefsPerEntry bounds the evidence references an entry keeps.
const maxRefsPerEntry = 32

// SetTerms sets the words findings are found by beyond their own text (CatalogueTerms). Call it
// before the index first loads.
func (ix *Index) SetTerms(t Terms) {
	ix.syncMu.Lock()
	defer ix.syncMu.Unlock()
	ix.terms = t
}

// fpRE and sdkRE are what a fingerprint named in the feed and an SDK id must look like.
var (
	fpRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
	sdkRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// Snapshot returns the current snapshot.
func (ix *Index) Snapshot() *Snapshot {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.cur
}

// Size is the number of findings in the copy.
func (ix *Index) Size() int {
	return ix.Snapshot().n
}
