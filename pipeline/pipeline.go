// Package pipeline runs one scan end to end — scanner → inspectors → assess → findings — and
// keeps the scan history: a record per scan with its timing, per-inspector status and errors, the
// fingerprints it raised and its evidence, and the difference between two scans of a target.
// Progress goes to the events stream as it happens. Running the same scan id twice (a job
// re-delivered after a crash) leaves the same findings and one history entry.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"pilmon/assess"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// Event kinds published on the events stream (store.Event.Kind).
const (
	EventScanStarted      = "scan.started"
	EventSourceFetched    = "source.fetched"
	EventInspectorDone    = "inspector.finished"
	EventFindingsUpserted = "findings.upserted"
	EventScanFinished     = "scan.finished"
)

// Assessor turns a scan's observations into findings; *assess.Assessor is the real one.
type Assessor interface {
	Assess(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time) []findings.Finding
}

// Runner runs scans. Its fields are read-only once Run is first called; Run is safe for
// concurrent use.
type Runner struct {
	Catalogue  *rules.Catalogue
	Inspectors []scanner.Inspector
	Evidence   *evidence.Store
	Store      *store.Store
	// Assessor defaults to assess.New(Catalogue).
	Assessor Assessor
	// Scan bounds each scan (source concurrency, per-source timeout); ScanID and Events are set
	// by Run.
	Scan scanner.Options
	// Worker names who ran the scan, recorded in events and the history.
	Worker string
	// Log receives warnings (an event that could not be published); default discards.
	Log *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time

	once    sync.Once
	history *History
	events  *eventQueue
}

func (r *Runner) init() {
	r.once.Do(func() {
		if r.Assessor == nil && r.Catalogue != nil {
			r.Assessor = assess.New(r.Catalogue)
		}
		if r.Log == nil {
			r.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		r.history = NewHistory(r.Store)
		r.events = &eventQueue{store: r.Store, now: r.Now, onErr: func(err error) {
			r.Log.Warn("publish events 发布事件失败", "err", err)
		}}
	})
}

// History returns the runner's scan history.
func (r *Runner) History() *History {
	r.init()
	return r.history
}

// Run scans target as scan scanID: every source through the first inspector that accepts it, the
// observations through the assessor, the findings upserted by fingerprint, findings the target no
// longer shows marked "not re-observed" when the scan is complete, then the record saved. emit,
// when not nil, sees every event published (the CLI's progress bar); it must not block.
//
// When a record for scanID already exists the scan is not run again and that record is returned:
// the job was done and only its acknowledgement was lost.
func (r *Runner) Run(ctx context.Context, target scanner.Target, scanID string, emit func(store.Event)) (ScanRecord, error) {
	r.init()
	if r.Store == nil || r.Evidence == nil || r.Assessor == nil {
		return ScanRecord{}, errors.New("pipeline: Runner needs Store, Evidence and Catalogue or Assessor")
	}
	if scanID == "" {
		scanID = scanner.NewScanID(r.Now())
	}
	if err := ctx.Err(); err != nil {
		return ScanRecord{}, fmt.Errorf("scan %s of %s interrupted: %w", scanID, target.ID, err)
	}
	if rec, err := r.history.Get(ctx, scanID); err == nil {
		return rec, nil
	} else if !errors.Is(err, ErrNoRecord) {
		return ScanRecord{}, err
	}
	pub := &publisher{r: r, ctx: ctx, emit: emit, scanID: scanID, targetID: target.ID}
	pub.send(EventScanStarted, fmt.Sprintf("开始扫描 %s / scanning %s", target.Name, target.ID),
		map[string]any{"sources": len(target.Sources)})

	opts := r.Scan
	opts.ScanID = scanID
	opts.Now = r.Now
	opts.Events = func(e scanner.Event) {
		if e.Kind != "inspector_finished" {
			return
		}
		pub.send(EventInspectorDone, e.Message, map[string]any{
			"inspector": e.Inspector, "source": e.Source, "status": string(e.Status), "done": e.Done, "total": e.Total})
	}
	sink := &fetchSink{store: r.Evidence, pub: pub, sources: map[string]bool{}}
	for _, s := range target.Sources {
		sink.sources[s.Locator] = true
	}
	res := scanner.Scan(ctx, target, r.Inspectors, sink, opts)
	if err := ctx.Err(); err != nil {
		// Cancelled (shutdown): the results are incomplete and must not be recorded; the job
		// stays pending and another delivery runs it again.
		return ScanRecord{}, fmt.Errorf("scan %s of %s interrupted: %w", scanID, target.ID, err)
	}

	fs := r.Assessor.Assess(target, scanID, res.Observations(), res.StartedAt)
	return r.record(ctx, pub, res, fs)
}

// Record stores the findings of a scan that ran outside the runner (pilmon scan --store) exactly
// as Run would: upserted by fingerprint, absent ones marked "not re-observed" when the scan was
// complete, the scan saved in the target's history, the events published. Recording the same
// scan twice changes nothing.
func (r *Runner) Record(ctx context.Context, res *scanner.Result, fs []findings.Finding) (ScanRecord, error) {
	r.init()
	if r.Store == nil {
		return ScanRecord{}, errors.New("pipeline: Record needs a Store")
	}
	if rec, err := r.history.Get(ctx, res.ScanID); err == nil {
		return rec, nil
	} else if !errors.Is(err, ErrNoRecord) {
		return ScanRecord{}, err
	}
	pub := &publisher{r: r, ctx: ctx, scanID: res.ScanID, targetID: res.Target.ID}
	return r.record(ctx, pub, res, fs)
}

// record is the part of a scan after assessment: upsert, mark, save, announce.
func (r *Runner) record(ctx context.Context, pub *publisher, res *scanner.Result, fs []findings.Finding) (ScanRecord, error) {
	target, scanID := res.Target, res.ScanID
	results, err := r.Store.UpsertBatch(ctx, fs, scanID)
	if err != nil {
		return ScanRecord{}, fmt.Errorf("scan %s of %s: %w", scanID, target.ID, err)
	}
	rec := ScanRecord{
		ID: scanID, TargetID: target.ID, TargetName: target.Name, Worker: r.Worker,
		StartedAt: res.StartedAt, FinishedAt: res.FinishedAt, Status: res.Status(), Complete: res.Complete(),
		Evidence: res.EvidenceRefs(), Fingerprints: []string{},
	}
	created := 0
	for _, u := range results {
		rec.Fingerprints = append(rec.Fingerprints, u.Fingerprint)
		if u.Created {
			created++
		}
	}
	rec.Fingerprints = sortedUnique(rec.Fingerprints)
	rec.Created = created
	if rec.Evidence == nil {
		rec.Evidence = []string{}
	}
	for _, rep := range res.Reports {
		run := InspectorRun{Source: rep.Source, Inspector: rep.Inspector, InspectorVersion: rep.InspectorVersion,
			Status: rep.Status, Errors: rep.Errors, Observations: len(rep.Observations), Evidence: []string{}}
		for _, e := range rep.Evidence {
			run.Evidence = append(run.Evidence, e.SHA256)
		}
		rec.Runs = append(rec.Runs, run)
	}
	if rec.Complete {
		n, err := r.Store.MarkNotReobserved(ctx, target.ID, scanID, rec.Fingerprints)
		if err != nil {
			return ScanRecord{}, fmt.Errorf("scan %s of %s: %w", scanID, target.ID, err)
		}
		rec.MarkedNotReobserved = n
	}
	pub.send(EventFindingsUpserted, fmt.Sprintf("%d 条线索（新 %d）/ %d findings (%d new)", len(results), created, len(results), created),
		map[string]any{"findings": len(results), "created": created, "marked_not_reobserved": rec.MarkedNotReobserved})
	wrote, err := r.history.Save(ctx, rec)
	if err != nil {
		return ScanRecord{}, err
	}
	if !wrote {
		// Another delivery of the same job finished first: its record is the history entry.
		return r.history.Get(ctx, scanID)
	}
	pub.last = true
	pub.send(EventScanFinished, fmt.Sprintf("扫描完成 %s / scan done: %s", rec.Status, rec.Status), map[string]any{
		"status": string(rec.Status), "complete": rec.Complete, "findings": len(rec.Fingerprints),
		"duration_ms": rec.Duration().Milliseconds()})
	// The scan's events are in the stream when Run returns (the flush is shared with concurrent
	// scans, so this costs at most one round trip).
	select {
	case <-pub.flushed:
	case <-ctx.Done():
	}
	return rec, nil
}

// publisher sends a scan's events to the stream and to the local observer.
type publisher struct {
	r        *Runner
	ctx      context.Context
	emit     func(store.Event)
	scanID   string
	targetID string
	last     bool            // the next send is the scan's last event
	flushed  <-chan struct{} // closed once the last event is written
}

func (p *publisher) send(kind, msg string, data map[string]any) {
	if p.r.Worker != "" {
		data["worker"] = p.r.Worker
	}
	e := store.Event{Kind: kind, ScanID: p.scanID, TargetID: p.targetID, Message: msg, At: p.r.Now().UTC(), Data: data}
	if p.emit != nil {
		p.emit(e)
	}
	// Progress is best effort: a lost event never fails a scan.
	done := p.r.events.add(e, p.last)
	if p.last {
		p.flushed = done
	}
}

// fetchSink stores evidence and reports "source fetched" when an input itself (not something
// derived from it) is stored.
type fetchSink struct {
	store   *evidence.Store
	pub     *publisher
	sources map[string]bool
	mu      sync.Mutex
	seen    []string
}

func (s *fetchSink) Put(rd io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	ref, err := s.store.Put(rd, meta)
	if err != nil || meta.Method == "derived" || !s.sources[meta.Source] {
		return ref, err
	}
	s.mu.Lock()
	dup := slices.Contains(s.seen, meta.Source)
	if !dup {
		s.seen = append(s.seen, meta.Source)
	}
	s.mu.Unlock()
	if !dup {
		s.pub.send(EventSourceFetched, meta.Source, map[string]any{
			"source": meta.Source, "sha256": ref.SHA256, "size": ref.Size, "method": meta.Method})
	}
	return ref, nil
}
