// Package worker runs scan jobs from the jobs stream (a consumer group shared by any number of
// processes) and the scheduler that enqueues due scans.
//
// Delivery: a job is read with XREADGROUP, its scan run through pipeline.Runner, and only then
// acknowledged (XACK + XDEL). While it runs, the worker refreshes the job's idle time every
// ClaimAfter/3 so that a slow scan (a Chromium capture) is never taken over; a job whose worker
// died stops being refreshed and another worker takes it with XAUTOCLAIM after ClaimAfter. A job
// that fails is left pending and retried the same way; once delivered more than Attempts times it
// goes to the dead-letter stream with its last error. A target that does not exist or no longer
// validates is dead-lettered at once. Re-running a job is harmless: the scan id is the job id and
// the pipeline is idempotent under it.
package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"pilmon/pipeline"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
)

// Event kinds of the job lifecycle on the events stream (beside the pipeline's scan events).
const (
	EventJobReclaimed = "job.reclaimed"
	EventJobFailed    = "job.failed"
	EventJobDead      = "job.dead"
)

// Deps is what workers and the scheduler need. Runner is only needed by workers.
type Deps struct {
	Store   *store.Store
	Targets *targets.Registry
	Runner  *pipeline.Runner
	// Name is the consumer name in the group (one per process; default host-pid).
	Name string
	// ClaimAfter is how long a job may go without its worker's heartbeat before another worker
	// takes it over; default 30 s.
	ClaimAfter time.Duration
	// Attempts is how many deliveries a job gets before it is dead-lettered; default 3.
	Attempts int
	Log      *slog.Logger
	// Run, when set, replaces Runner.Run for each job (bench/queue measures the queue alone with a
	// no-op here). It must be idempotent under the scan id, as Runner.Run is.
	Run func(ctx context.Context, t scanner.Target, scanID string) (store.ScanRecord, error)
}

func (d *Deps) defaults() error {
	if d.Store == nil || d.Targets == nil {
		return errors.New("worker: Deps needs Store and Targets")
	}
	if d.Name == "" {
		h, _ := os.Hostname()
		d.Name = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	if d.ClaimAfter <= 0 {
		d.ClaimAfter = 30 * time.Second
	}
	if d.Attempts <= 0 {
		d.Attempts = 3
	}
	if d.Log == nil {
		d.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return nil
}

// Stats counts what a pool did.
type Stats struct {
	Done      int64 // scans finished and acknowledged
	Failed    int64 // runs that failed and were left for a retry
	Dead      int64 // jobs dead-lettered
	Reclaimed int64 // jobs taken over from a silent consumer (or retried)
}

// Pool runs up to n scans at once for one consumer.
type Pool struct {
	d      Deps
	n      int
	cancel context.CancelFunc // stops reading and claiming
	kill   context.CancelFunc // interrupts running scans
	wg     sync.WaitGroup     // reader, claimer, heartbeat
	runs   sync.WaitGroup     // running scans
	slots  chan struct{}

	mu       sync.Mutex
	inflight map[string]bool // stream ids held by this consumer
	acks     *acker

	done, failed, dead, reclaimed atomic.Int64
}

// StartPool starts a pool of n concurrent scans (n <= 0 means 1) reading jobs as deps.Name.
func StartPool(ctx context.Context, deps Deps, n int) (*Pool, error) {
	if err := deps.defaults(); err != nil {
		return nil, err
	}
	if deps.Runner == nil && deps.Run == nil {
		return nil, errors.New("worker: Deps.Runner is required for a pool")
	}
	if n <= 0 {
		n = 1
	}
	if deps.Run == nil {
		if deps.Runner.Worker == "" {
			deps.Runner.Worker = deps.Name
		}
		r := deps.Runner
		deps.Run = func(ctx context.Context, t scanner.Target, scanID string) (store.ScanRecord, error) {
			return r.Run(ctx, t, scanID, nil)
		}
	}
	// Fail fast when Redis is unreachable (ReadJobs creates the consumer group).
	if err := deps.Store.Ping(ctx); err != nil {
		return nil, fmt.Errorf("worker %s: %w", deps.Name, err)
	}
	base := context.WithoutCancel(ctx)
	runCtx, kill := context.WithCancel(base)
	loopCtx, cancel := context.WithCancel(runCtx)
	p := &Pool{d: deps, n: n, cancel: cancel, kill: kill, slots: make(chan struct{}, n), inflight: map[string]bool{},
		acks: &acker{store: deps.Store}}
	p.wg.Add(3)
	go p.readLoop(loopCtx, runCtx)
	go p.claimLoop(loopCtx, runCtx)
	go p.heartbeatLoop(runCtx)
	go func() { // the caller's context ending stops the pool like Stop without a grace period
		select {
		case <-ctx.Done():
			p.cancel()
		case <-loopCtx.Done():
		}
	}()
	deps.Log.Info("worker started 工作进程已启动", "name", deps.Name, "concurrency", n, "claim_after", deps.ClaimAfter)
	return p, nil
}

// Name returns the consumer name.
func (p *Pool) Name() string { return p.d.Name }

// Stats returns the counters so far.
func (p *Pool) Stats() Stats {
	return Stats{Done: p.done.Load(), Failed: p.failed.Load(), Dead: p.dead.Load(), Reclaimed: p.reclaimed.Load()}
}

// Stop stops taking jobs and waits for running scans until ctx ends; scans still running then are
// interrupted and left pending, for another worker to take over after ClaimAfter.
func (p *Pool) Stop(ctx context.Context) error {
	p.cancel()
	finished := make(chan struct{})
	go func() { p.runs.Wait(); close(finished) }()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = fmt.Errorf("worker %s: stopped with scans still running (left pending): %w", p.d.Name, ctx.Err())
	}
	p.kill()
	p.runs.Wait()
	p.wg.Wait()
	return err
}

// acquire takes a free slot, or returns false when ctx ends.
func (p *Pool) acquire(ctx context.Context) bool {
	select {
	case p.slots <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (p *Pool) readLoop(ctx, runCtx context.Context) {
	defer p.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		if !p.acquire(ctx) {
			return
		}
		// Take as many jobs as there are free slots, so the consumer holds no job it cannot
		// start: a job waiting in a crashed worker's memory would wait ClaimAfter for nothing.
		free := 1
		for len(p.slots) < p.n {
			select {
			case p.slots <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		msgs, err := p.d.Store.ReadJobs(ctx, p.d.Name, int64(free), time.Second)
		if err != nil {
			for range free {
				<-p.slots
			}
			if ctx.Err() != nil {
				return
			}
			p.d.Log.Warn("read jobs 读取任务失败", "err", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		for i := len(msgs); i < free; i++ {
			<-p.slots
		}
		for _, m := range msgs {
			p.start(runCtx, m)
		}
	}
}

// start runs one job in a slot the caller already holds.
func (p *Pool) start(ctx context.Context, m store.JobMessage) {
	p.mu.Lock()
	p.inflight[m.StreamID] = true
	p.mu.Unlock()
	p.runs.Add(1)
	go func() {
		defer p.runs.Done()
		defer func() { <-p.slots }()
		defer p.forget(m.StreamID)
		p.process(ctx, m)
	}()
}

func (p *Pool) forget(streamID string) {
	p.mu.Lock()
	delete(p.inflight, streamID)
	p.mu.Unlock()
}

func (p *Pool) claimLoop(ctx, runCtx context.Context) {
	defer p.wg.Done()
	every := max(p.d.ClaimAfter/2, 50*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		msgs, err := p.d.Store.ClaimStale(ctx, p.d.Name, p.d.ClaimAfter)
		if err != nil {
			if ctx.Err() == nil {
				p.d.Log.Warn("claim stale jobs 接管超时任务失败", "err", err)
			}
			continue
		}
		for _, m := range msgs {
			// Claimed jobs now belong to this consumer: keep them alive while they wait. One this
			// process is already running (a late heartbeat) is not started twice.
			p.mu.Lock()
			running := p.inflight[m.StreamID]
			p.inflight[m.StreamID] = true
			p.mu.Unlock()
			if running {
				continue
			}
			p.reclaimed.Add(1)
			p.publish(ctx, EventJobReclaimed, m, fmt.Sprintf("第 %d 次投递 / delivery %d", m.Deliveries, m.Deliveries))
			if m.Deliveries > int64(p.d.Attempts) {
				p.forget(m.StreamID)
				p.deadLetter(ctx, m, p.lastError(ctx, m))
				continue
			}
			if !p.acquire(ctx) {
				p.forget(m.StreamID)
				return
			}
			p.start(runCtx, m)
		}
	}
}

// heartbeatLoop resets the idle time of every job this consumer holds, so that a long scan is
// not mistaken for a dead worker's.
func (p *Pool) heartbeatLoop(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(max(p.d.ClaimAfter/3, 20*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		ids := make([]string, 0, len(p.inflight))
		for id := range p.inflight {
			ids = append(ids, id)
		}
		p.mu.Unlock()
		if err := p.d.Store.HeartbeatJobs(ctx, p.d.Name, ids); err != nil && ctx.Err() == nil {
			p.d.Log.Warn("job heartbeat 任务心跳失败", "err", err)
		}
	}
}

func (p *Pool) lastError(ctx context.Context, m store.JobMessage) error {
	msg, err := p.d.Store.JobError(ctx, m.StreamID)
	if err != nil || msg == "" {
		return fmt.Errorf("投递 %d 次仍未完成（工作进程崩溃？）/ delivered %d times without finishing (did its worker crash?)", m.Deliveries, m.Deliveries)
	}
	return fmt.Errorf("投递 %d 次后放弃 / gave up after %d deliveries: %s", m.Deliveries, m.Deliveries, msg)
}

// permanentError marks a failure that no retry can fix.
type permanentError struct{ error }

func (p *Pool) process(ctx context.Context, m store.JobMessage) {
	log := p.d.Log.With("job", m.Job.ID, "target", m.Job.TargetID, "stream_id", m.StreamID, "delivery", m.Deliveries)
	rec, err := p.runJob(ctx, m)
	if err == nil {
		if err := p.acks.ack(context.WithoutCancel(ctx), m.StreamID); err != nil {
			// The record is saved; a re-delivery finds it and only acknowledges.
			log.Warn("ack failed 确认失败", "err", err)
			return
		}
		p.done.Add(1)
		log.Debug("scan done 扫描完成", "status", rec.Status, "findings", len(rec.Fingerprints))
		return
	}
	if ctx.Err() != nil {
		log.Info("scan interrupted, left pending 扫描中断，任务保留", "err", err)
		return
	}
	var perm permanentError
	if errors.As(err, &perm) || m.Deliveries >= int64(p.d.Attempts) {
		p.deadLetter(ctx, m, err)
		return
	}
	p.failed.Add(1)
	log.Warn("scan failed, will retry 扫描失败，将重试", "err", err)
	if nerr := p.d.Store.NoteJobError(ctx, m.StreamID, truncate(err.Error(), 2000)); nerr != nil {
		log.Warn("note job error 记录任务错误失败", "err", nerr)
	}
	p.publish(ctx, EventJobFailed, m, err.Error())
}

func (p *Pool) runJob(ctx context.Context, m store.JobMessage) (store.ScanRecord, error) {
	t, err := p.d.Targets.Get(ctx, m.Job.TargetID)
	if errors.Is(err, targets.ErrNotFound) {
		return store.ScanRecord{}, permanentError{err}
	}
	if err != nil {
		return store.ScanRecord{}, err
	}
	if len(m.Job.Sources) > 0 {
		// A job may narrow the scan to some sources; they are validated like the target's own.
		t.Sources = m.Job.Sources
	}
	// Check again at scan time: a symlink in the import folder may have changed since.
	t, err = p.d.Targets.Validate(t)
	if err != nil {
		return store.ScanRecord{}, permanentError{err}
	}
	return p.d.Run(ctx, t, m.Job.ID)
}

func (p *Pool) deadLetter(ctx context.Context, m store.JobMessage, cause error) {
	ctx = context.WithoutCancel(ctx)
	if err := p.d.Store.DeadLetter(ctx, m, cause); err != nil {
		p.d.Log.Warn("dead-letter failed 移入死信失败", "job", m.Job.ID, "err", err)
		return
	}
	p.dead.Add(1)
	p.d.Log.Warn("job dead-lettered 任务移入死信队列", "job", m.Job.ID, "target", m.Job.TargetID, "err", cause)
	p.publish(ctx, EventJobDead, m, cause.Error())
}

func (p *Pool) publish(ctx context.Context, kind string, m store.JobMessage, msg string) {
	_, _ = p.d.Store.PublishEvent(context.WithoutCancel(ctx), store.Event{Kind: kind, ScanID: m.Job.ID, TargetID: m.Job.TargetID,
		Message: truncate(msg, 2000), Data: map[string]any{"worker": p.d.Name, "stream_id": m.StreamID, "deliveries": m.Deliveries}})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Enqueue asks for a scan of the target now and returns the job (its id is the scan id).
func Enqueue(ctx context.Context, d Deps, targetID, requestedBy string, sources []scanner.Source) (store.Job, error) {
	if _, err := d.Targets.Get(ctx, targetID); err != nil {
		return store.Job{}, err
	}
	j := store.Job{ID: scanner.NewScanID(time.Now()), TargetID: targetID, RequestedBy: requestedBy, Sources: sources}
	if _, err := d.Store.EnqueueJob(ctx, j); err != nil {
		return j, err
	}
	return j, nil
}
