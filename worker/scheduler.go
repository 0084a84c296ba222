package worker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
)

// Redis keys of the scheduler (under the store prefix):
//
//	scheduler:lease            the active scheduler's id, with a TTL (SET NX PX, renewed by Lua)
//	schedule:cursor            hash target id → Unix ms of the last tick enqueued (for a target
//	                           seen for the first time, the moment its initial scan was enqueued)
//	schedule:tick:{tid}:{ms}   dedupe marker of one tick of one target, kept DedupeTTL
const (
	leaseKey  = "scheduler:lease"
	cursorKey = "schedule:cursor"
	tickKey   = "schedule:tick:"
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

var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// enqueueScript: KEYS = dedupe marker, jobs stream, cursor hash; ARGV = dedupe TTL ms, job JSON,
// target id, tick ms. Enqueues once per marker and moves the cursor forward either way. Returns
// the stream id, or false when the tick was already enqueued.
var enqueueScript = redis.NewScript(`
local id = false
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
end
local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
if tonumber(ARGV[4]) > cur then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
return id
`)

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
	rdb := deps.Store.Client()
	// The group must exist before the script's XADD, or jobs added now would be invisible to a
	// group created later from "$".
	err := rdb.XGroupCreateMkStream(ctx, deps.Store.Prefix()+store.JobsStream, store.WorkersGroup, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
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
		return releaseScript.Run(ctx, s.d.Store.Client(), []string{s.key(leaseKey)}, s.o.ID).Err()
	}
	return nil
}

func (s *Scheduler) key(k string) string { return s.d.Store.Prefix() + k }

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
	rdb := s.d.Store.Client()
	ttl := strconv.FormatInt(s.o.LeaseTTL.Milliseconds(), 10)
	if s.active.Load() {
		n, err := renewScript.Run(ctx, rdb, []string{s.key(leaseKey)}, s.o.ID, ttl).Int()
		if err != nil || n == 0 {
			// Lost it (expired during a pause, or Redis unreachable): stand by. A Redis error
			// does not prove another holder, but enqueuing without the lease could race one.
			s.active.Store(false)
			s.d.Log.Warn("scheduler lease lost 调度租约丢失", "id", s.o.ID, "err", err)
			return
		}
	} else {
		ok, err := rdb.SetNX(ctx, s.key(leaseKey), s.o.ID, s.o.LeaseTTL).Result()
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
	rdb := s.d.Store.Client()
	cursors, err := rdb.HGetAll(ctx, s.key(cursorKey)).Result()
	if err != nil {
		return fmt.Errorf("read schedule cursors: %w", err)
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
		raw, seen := cursors[t.ID]
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
		ms, _ := strconv.ParseInt(raw, 10, 64)
		ticks, collapsed := dueTicks(sc, time.UnixMilli(ms), now)
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
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	ms := strconv.FormatInt(tick.UnixMilli(), 10)
	keys := []string{s.key(tickKey + targetID + ":" + ms), s.key(store.JobsStream), s.key(cursorKey)}
	res, err := enqueueScript.Run(ctx, s.d.Store.Client(), keys, DedupeTTL.Milliseconds(), b, targetID, ms).Result()
	if errors.Is(err, redis.Nil) {
		return nil // already enqueued by another scheduler
	}
	if err != nil {
		return fmt.Errorf("enqueue scheduled scan of %s at %s: %w", targetID, tick.Format(time.RFC3339), err)
	}
	s.enqueued.Add(1)
	s.d.Log.Debug("scheduled scan enqueued 定时扫描已入队", "target", targetID, "tick", tick, "job", job.ID, "stream_id", res)
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
	rdb := d.Store.Client()
	cursors, err := rdb.HGetAll(ctx, d.Store.Prefix()+cursorKey).Result()
	if err != nil {
		return nil, "", err
	}
	holder, err := rdb.Get(ctx, d.Store.Prefix()+leaseKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, "", err
	}
	var out []ScheduleInfo
	for _, t := range ts {
		if t.Schedule == "" {
			continue
		}
		info := ScheduleInfo{TargetID: t.ID, Name: t.Name, Spec: t.Schedule, Next: []time.Time{}}
		if raw, ok := cursors[t.ID]; ok {
			if ms, err := strconv.ParseInt(raw, 10, 64); err == nil {
				info.Last = time.UnixMilli(ms)
			}
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
