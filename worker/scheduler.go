package worker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
)

// The scheduler's lease and its bookkeeping (a cursor per target, a dedupe marker per tick) are
// kept by the store (store/leases.go, store/schedule.go).
const (
	// LeaseName is the scheduler's lease in the store: only its holder enqueues.
	LeaseName = "scheduler"
	// DedupeTTL is how long a tick's dedupe marker lives: longer than any lease handover.
	DedupeTTL = 7 * 24 * time.Hour
	// maxCatchUp bounds the walk over ticks missed while no scheduler ran.
	maxCatchUp = 100000
	// maxBackfill is how many missed ticks are still enqueued one by one.
	maxBackfill = 10
)

// SchedulerOptions tune a scheduler.
type SchedulerOptions struct {
	// ID names this scheduler in the lease; default host-pid-random.
	ID string
	// LeaseTTL is how long the lease outlives its holder's last renewal; a stand-by takes over
	// after it. Default 15 s.
	LeaseTTL time.Duration
	// Tick is how often due scans are looked for and the lease renewed (at most LeaseTTL/3);
	// default 1 s.
	Tick time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Scheduler enqueues scans when their targets' cron schedules fall due. Several may run (one per
// `pilmon serve`); only the holder of the Redis lease enqueues, and every tick of every target
// is enqueued at most once even across a lease handover (a dedupe marker per target and tick,
// set in the same script as the XADD).
type Scheduler struct {
	d      Deps
	o      SchedulerOptions
	cancel context.CancelFunc
	done   chan struct{}
	active atomic.Bool

	mu        sync.Mutex
	cache     []scanner.Target
	cacheAt   time.Time
	schedules map[string]targets.Schedule
	enqueued  atomic.Int64
}

// StartScheduler starts a scheduler that competes for the lease and, while it holds it, enqueues
// due scans. Stop releases the lease at once so a stand-by need not wait for it to expire.
func StartScheduler(ctx context.Context, deps Deps, opts SchedulerOptions) (*Scheduler, error) {
	if err := deps.defaults(); err != nil {
		return nil, err
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 15 * time.Second
	}
	if opts.Tick <= 0 {
		opts.Tick = time.Second
	}
	opts.Tick = min(opts.Tick, opts.LeaseTTL/3)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		h, _ := os.Hostname()
		opts.ID = fmt.Sprintf("%s-%d-%s", h, os.Getpid(), hex.EncodeToString(b[:]))
	}
	// Fail fast when Redis is unreachable (the store creates the consumer group before the
	// first scheduled job).
	if err := deps.Store.Ping(ctx); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Scheduler{d: deps, o: opts, cancel: cancel, done: make(chan struct{}), schedules: map[string]targets.Schedule{}}
	go func() {
		select {
		case <-ctx.Done():
			cancel()
		case <-loopCtx.Done():
		}
	}()
	go s.loop(loopCtx)
	return s, nil
}

// ID returns the scheduler's lease id.
func (s *Scheduler) ID() string { return s.o.ID }

// Active reports whether this scheduler holds the lease.
func (s *Scheduler) Active() bool { return s.active.Load() }

// Enqueued returns how many scans this scheduler enqueued.
func (s *Scheduler) Enqueued() int64 { return s.enqueued.Load() }

// Stop stops the scheduler and releases the lease if it holds it.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.cancel()
	select {
	case <-s.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if s.active.Swap(false) {
		return s.d.Store.ReleaseLease(ctx, LeaseName, s.o.ID)
	}
	return nil
}

func (s *Scheduler) loop(ctx context.Context) {
	defer close(s.done)
	t := time.NewTicker(s.o.Tick)
	defer t.Stop()
	for {
		s.step(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// step renews or acquires the lease and, when held, enqueues what is due.
func (s *Scheduler) step(ctx context.Context) {
	if s.active.Load() {
		held, err := s.d.Store.RenewLease(ctx, LeaseName, s.o.ID, s.o.LeaseTTL)
		if err != nil || !held {
			// Lost it (expired during a pause, or Redis unreachable): stand by. A Redis error
			// does not prove another holder, but enqueuing without the lease could race one.
			s.active.Store(false)
			s.d.Log.Warn("scheduler lease lost 调度租约丢失", "id", s.o.ID, "err", err)
			return
		}
	} else {
		ok, err := s.d.Store.AcquireLease(ctx, LeaseName, s.o.ID, s.o.LeaseTTL)
		if err != nil || !ok {
			return
		}
		s.active.Store(true)
		s.d.Log.Info("scheduler active 调度器已接管", "id", s.o.ID)
	}
	if err := s.enqueueDue(ctx); err != nil && ctx.Err() == nil {
		s.d.Log.Warn("scheduler 调度失败", "err", err)
	}
}

// targetsCached lists the targets at most every 5 ticks (a schedule edit takes effect within that).
func (s *Scheduler) targetsCached(ctx context.Context, now time.Time) ([]scanner.Target, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache != nil && now.Sub(s.cacheAt) < 5*s.o.Tick {
		return s.cache, nil
	}
	ts, err := s.d.Targets.List(ctx)
	if err != nil && ts == nil {
		return nil, err
	}
	s.cache, s.cacheAt = ts, now
	return ts, nil
}

func (s *Scheduler) schedule(spec string) (targets.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sc, ok := s.schedules[spec]; ok {
		return sc, nil
	}
	sc, err := targets.ParseSchedule(spec)
	if err != nil {
		return nil, err
	}
	s.schedules[spec] = sc
	return sc, nil
}

func (s *Scheduler) enqueueDue(ctx context.Context) error {
	now := s.o.Now()
	ts, err := s.targetsCached(ctx, now)
	if err != nil {
		return err
	}
	cursors, err := s.d.Store.ScheduleCursors(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range ts {
		if t.Schedule == "" {
			continue
		}
		sc, err := s.schedule(t.Schedule)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.ID, err))
			continue
		}
		last, seen := cursors[t.ID]
		if !seen {
			// First sight of this schedule: scan the target now (a prosecutor who registers a
			// target wants to see it, not wait for its first tick), then count ticks from here;
			// the past is never scanned. The enqueue script moves the cursor, so this happens
			// once, whichever scheduler holds the lease.
			if err := s.enqueueTick(ctx, t.ID, now.Truncate(time.Second), RequestedInitial); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		ticks, collapsed := dueTicks(sc, last, now)
		if collapsed > 0 {
			s.d.Log.Info("missed ticks collapsed into one scan 错过的定时合并为一次扫描", "target", t.ID, "collapsed", collapsed, "tick", ticks[0])
		}
		for _, tick := range ticks {
			if err := s.enqueueTick(ctx, t.ID, tick, RequestedScheduler); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}

// dueTicks returns the ticks of sc after last and not after now, oldest first. A short gap (a
// lease handover, a quick restart) is filled tick by tick; after a longer outage (more than
// maxBackfill ticks) only the latest tick is returned, with how many earlier ones it stands for:
// one scan, not a burst of identical ones.
func dueTicks(sc targets.Schedule, last, now time.Time) ([]time.Time, int) {
	var ticks []time.Time
	t := last
	n := 0
	for ; n < maxCatchUp; n++ {
		next := sc.Next(t)
		if next.IsZero() || next.After(now) {
			break
		}
		t = next
		if len(ticks) < maxBackfill+1 {
			ticks = append(ticks, t)
		}
	}
	if n <= maxBackfill {
		return ticks, 0
	}
	return []time.Time{t}, n - 1
}

// ScheduledScanID is the scan id of target's scheduled scan at tick: the same in every scheduler.
func ScheduledScanID(targetID string, tick time.Time) string {
	h := sha256.Sum256([]byte(targetID + "\x00" + strconv.FormatInt(tick.UnixMilli(), 10)))
	return tick.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(h[:6])
}

// RequestedBy values of the jobs the scheduler enqueues: a tick of the schedule, or the initial
// scan of a target whose schedule it sees for the first time.
const (
	RequestedScheduler = "scheduler"
	RequestedInitial   = "scheduler:initial"
)

func (s *Scheduler) enqueueTick(ctx context.Context, targetID string, tick time.Time, by string) error {
	job := store.Job{ID: ScheduledScanID(targetID, tick), TargetID: targetID, RequestedBy: by, At: tick.UTC()}
	id, err := s.d.Store.EnqueueScheduledJob(ctx, job, tick, DedupeTTL)
	if err != nil || id == "" {
		return err // "": already enqueued by another scheduler
	}
	s.enqueued.Add(1)
	s.d.Log.Debug("scheduled scan enqueued 定时扫描已入队", "target", targetID, "tick", tick, "job", job.ID, "stream_id", id)
	return nil
}

// ScheduleInfo is one scheduled target, for `pilmon schedule list` and the dashboard.
type ScheduleInfo struct {
	TargetID string      `json:"target_id"`
	Name     string      `json:"name"`
	Spec     string      `json:"spec"`
	Last     time.Time   `json:"last,omitzero"` // last tick enqueued (or when the schedule was first seen)
	Next     []time.Time `json:"next"`
	Error    string      `json:"error,omitempty"`
}

// Schedules lists every target with a schedule and its next n runs, and the current lease holder
// ("" when no scheduler is active).
func Schedules(ctx context.Context, d Deps, now time.Time, n int) ([]ScheduleInfo, string, error) {
	ts, err := d.Targets.List(ctx)
	if err != nil && ts == nil {
		return nil, "", err
	}
	cursors, err := d.Store.ScheduleCursors(ctx)
	if err != nil {
		return nil, "", err
	}
	holder, err := d.Store.LeaseHolder(ctx, LeaseName)
	if err != nil {
		return nil, "", err
	}
	var out []ScheduleInfo
	for _, t := range ts {
		if t.Schedule == "" {
			continue
		}
		info := ScheduleInfo{TargetID: t.ID, Name: t.Name, Spec: t.Schedule, Next: []time.Time{}}
		if last, ok := cursors[t.ID]; ok {
			info.Last = last
		}
		next, err := targets.NextRuns(t.Schedule, now, n)
		if err != nil {
			info.Error = err.Error()
		}
		info.Next = append(info.Next, next...)
		out = append(out, info)
	}
	return out, holder, nil
}
