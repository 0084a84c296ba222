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
	"maps"
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

// Assessor turns a scan's observations into findings; *assess.Assessor is the real one.
type Assessor interface {
	Assess(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time) []findings.Finding
}

// Runner runs scans. Its fields are read-only once Execute is first called; Execute is safe for
// concurrent use.
type Runner struct {
	Catalogue  *rules.Catalogue
	Inspectors []scanner.Inspector
	Evidence   *evidence.Store
	// Store receives the findings, the record and the events; nil runs and assesses scans
	// without storing anything (pilmon scan without --store).
	Store *store.Store
	// Assessor defaults to assess.New(Catalogue).
	Assessor Assessor
	// Scan bounds each scan (source concurrency, per-source timeout); ScanID and Events are set
	// by Execute.
	Scan scanner.Options
	// Worker names who ran the scan, recorded in events and the history.
	Worker string
	// Log receives warnings (an event that could not be published); default discards.
	Log *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time

	once   sync.Once
	events *eventQueue
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
		if r.Store == nil {
			return
		}
		r.events = &eventQueue{store: r.Store, now: r.Now, onErr: func(err error) {
			r.Log.Warn("publish events 发布事件失败", "err", err)
		}}
	})
}

// Request is one scan for Runner.Execute.
type Request struct {
	Target scanner.Target
	// ScanID names the scan (a job's id); generated when empty.
	ScanID string
	// Emit, when not nil, sees every event of the scan as it happens (the CLI's progress
	// printer), with or without a Store; it must not block.
	Emit func(store.Event)
}

// Outcome is what one scan produced.
type Outcome struct {
	// Record is the scan's history entry: timing, per-inspector runs, the fingerprints raised and
	// Category, the app category the findings were judged against and why. With a Store it is the
	// record saved in the target's history (and Created / MarkedNotReobserved say what storing did).
	Record store.ScanRecord
	// Result is the scanner's result (reports, observations, evidence). It is nil when the scan
	// id was already recorded and the scan was not run again (a re-delivered job).
	Result *scanner.Result
	// Findings are the scan's findings, most severe first (nil when Result is nil).
	Findings []findings.Finding
	// Stored is true when the findings were upserted and the record saved (the Runner has a Store).
	Stored bool
}

// Run scans target as scan scanID through Execute and returns the record (what workers need).
func (r *Runner) Run(ctx context.Context, target scanner.Target, scanID string, emit func(store.Event)) (store.ScanRecord, error) {
	out, err := r.Execute(ctx, Request{Target: target, ScanID: scanID, Emit: emit})
	return out.Record, err
}

// Execute is the one composition of a scan, used by pilmon scan, the workers and the demo: every
// source through the first inspector that accepts it, the observations through the assessor, and
// with a Store the findings upserted by fingerprint, findings the target no longer shows marked
// "not re-observed" when the scan is complete, then the record saved. Progress events go to
// Request.Emit and, with a Store, to the events stream. Without a Store the scan is run and
// assessed and nothing is written to Redis.
//
// Findings are assessed as of the scan's end (Result.FinishedAt), so a finding's LastSeen (and a
// new finding's FirstSeen) is the moment the scan had observed it: by then every observation was
// made and every artifact a finding cites was captured, so LastSeen is never earlier than the
// finding's own evidence. The scan's start is kept in the record (StartedAt).
//
// With a Store, when a record for the scan id already exists the scan is not run again and that
// record is returned: the job was done and only its acknowledgement was lost.
func (r *Runner) Execute(ctx context.Context, req Request) (Outcome, error) {
	r.init()
	target, scanID := req.Target, req.ScanID
	if r.Evidence == nil || r.Assessor == nil {
		return Outcome{}, errors.New("pipeline: Runner needs Evidence and Catalogue or Assessor")
	}
	if scanID == "" {
		scanID = scanner.NewScanID(r.Now())
	}
	if err := ctx.Err(); err != nil {
		return Outcome{}, fmt.Errorf("scan %s of %s interrupted: %w", scanID, target.ID, err)
	}
	if r.Store != nil {
		if rec, err := r.Store.GetScan(ctx, scanID); err == nil {
			return Outcome{Record: rec, Stored: true}, nil
		} else if !errors.Is(err, store.ErrNoScanRecord) {
			return Outcome{}, err
		}
	}
	pub := &publisher{r: r, ctx: ctx, emit: req.Emit, scanID: scanID, targetID: target.ID}
	pub.send(scanner.EventScanStarted, fmt.Sprintf("开始扫描 %s / scanning %s", target.Name, target.ID),
		map[string]any{"sources": len(target.Sources)})

	opts := r.Scan
	opts.ScanID = scanID
	opts.Now = r.Now
	opts.Events = func(e scanner.Event) {
		if e.Kind != scanner.EventInspectorFinished {
			return
		}
		pub.send(scanner.EventInspectorFinished, e.Message, map[string]any{
			"inspector": e.Inspector, "source": e.Source, "status": string(e.Status), "done": e.Done, "total": e.Total})
	}
	sink := &fetchSink{store: r.Evidence, pub: pub, sources: map[string]bool{}, captured: map[string]time.Time{}}
	for _, s := range target.Sources {
		sink.sources[s.Locator] = true
	}
	var versions []store.PackageVersion
	if r.Store != nil {
		vs, err := r.Store.Versions(ctx, target.ID)
		if err != nil {
			return Outcome{}, fmt.Errorf("scan %s of %s: %w", scanID, target.ID, err)
		}
		versions = vs
		opts.Prior = func(src scanner.Source) *scanner.PackageVersion {
			if v, ok := store.LatestVersion(versions, src); ok {
				return v.Prior()
			}
			return nil
		}
	}
	res := scanner.Scan(ctx, target, r.Inspectors, sink, opts)
	if err := ctx.Err(); err != nil {
		// Cancelled (shutdown): the results are incomplete and must not be recorded; the job
		// stays pending and another delivery runs it again.
		return Outcome{}, fmt.Errorf("scan %s of %s interrupted: %w", scanID, target.ID, err)
	}

	fs, category, na := r.assess(res, sink.capturedTimes())
	out := Outcome{Result: res, Findings: fs, Record: newRecord(r.Worker, res, fs, category)}
	out.Record.NotAssessed = na
	if r.Store == nil {
		pub.send(scanner.EventScanFinished, fmt.Sprintf("扫描完成 %s / scan done: %s", out.Record.Status, out.Record.Status),
			finishedData(out.Record))
		return out, nil
	}
	pkgs, err := r.versions(ctx, res, versions, out.Record)
	if err != nil {
		return Outcome{}, err
	}
	out.Record.Packages = pkgs
	rec, err := r.record(ctx, pub, out.Record, fs)
	if err != nil {
		return Outcome{}, err
	}
	out.Record, out.Stored = rec, true
	return out, nil
}

// versions records the packages the scan's remote sources served and compares each new one with
// the version the source served before: its findings against the scan that inspected that one.
func (r *Runner) versions(ctx context.Context, res *scanner.Result, before []store.PackageVersion, rec store.ScanRecord) ([]store.PackageChange, error) {
	var out []store.PackageChange
	for _, rep := range res.Reports {
		pv := rep.Package
		if pv == nil {
			continue
		}
		prev, hadPrev := store.LatestVersion(before, rep.Source)
		stored, _, err := r.Store.RecordVersion(ctx, res.Target.ID, rep.Source, *pv, res.ScanID)
		if err != nil {
			return nil, fmt.Errorf("scan %s of %s: %w", res.ScanID, res.Target.ID, err)
		}
		ch := store.PackageChange{Source: rep.Source, SHA256: pv.SHA256, VersionName: stored.VersionName,
			VersionCode: stored.VersionCode, Provenance: pv.Provenance}
		switch {
		case pv.Unchanged || (hadPrev && prev.SHA256 == pv.SHA256):
			ch.State = store.PackageUnchanged
		case !hadPrev:
			ch.State = store.PackageFirst
		default:
			ch.State = store.PackageNew
			ch.Previous, ch.PreviousScan = prev.SHA256, prev.ScanID
			ch.SignerChanged = prev.SignerSHA256 != "" && pv.SignerSHA256 != "" && prev.SignerSHA256 != pv.SignerSHA256
			if old, err := r.Store.GetScan(ctx, prev.ScanID); err == nil {
				d := store.DiffScanRecords(old, rec)
				ch.Diff = &d
			}
		}
		out = append(out, ch)
	}
	return out, nil
}

// categoryAssessor is an Assessor that says which app category it judged against
// (*assess.Assessor is one).
type categoryAssessor interface {
	AssessWithCategory(t scanner.Target, scanID string, obs []scanner.Observation, now time.Time) ([]findings.Finding, assess.CategoryChoice)
}

func (r *Runner) assess(res *scanner.Result, captured map[string]time.Time) ([]findings.Finding, *assess.CategoryChoice, []findings.NotAssessed) {
	if sa, ok := r.Assessor.(scanAssessor); ok {
		rep := sa.AssessScan(res, captured)
		return rep.Findings, &rep.Category, rep.NotAssessed
	}
	t, scanID, obs, now := res.Target, res.ScanID, res.Observations(), res.FinishedAt
	if ca, ok := r.Assessor.(categoryAssessor); ok {
		fs, c := ca.AssessWithCategory(t, scanID, obs, now)
		return fs, &c, nil
	}
	return r.Assessor.Assess(t, scanID, obs, now), nil, nil
}

// scanAssessor assesses a whole scan result, dating each finding from where its observations came
// from and when the live sources were captured, and lists the rules the inputs could not decide
// (*assess.Assessor is one).
type scanAssessor interface {
	AssessScan(res *scanner.Result, captured map[string]time.Time) assess.Report
}

// newRecord is the history entry of a scan before anything was stored.
func newRecord(worker string, res *scanner.Result, fs []findings.Finding, category *assess.CategoryChoice) store.ScanRecord {
	rec := store.ScanRecord{
		ID: res.ScanID, TargetID: res.Target.ID, TargetName: res.Target.Name, Worker: worker,
		StartedAt: res.StartedAt, FinishedAt: res.FinishedAt, Status: res.Status(), Complete: res.Complete(),
		Evidence: res.EvidenceRefs(), Fingerprints: []string{}, Category: category, Identity: res.Context(),
	}
	for _, f := range fs {
		rec.Fingerprints = append(rec.Fingerprints, f.Fingerprint)
	}
	rec.Fingerprints = findings.SortedSet(rec.Fingerprints)
	if rec.Evidence == nil {
		rec.Evidence = []string{}
	}
	for _, rep := range res.Reports {
		run := store.InspectorRun{Source: rep.Source, Inspector: rep.Inspector, InspectorVersion: rep.InspectorVersion,
			Status: rep.Status, Errors: rep.Errors, Observations: len(rep.Observations), Evidence: []string{}}
		for _, e := range rep.Evidence {
			run.Evidence = append(run.Evidence, e.SHA256)
		}
		rec.Runs = append(rec.Runs, run)
	}
	return rec
}

func finishedData(rec store.ScanRecord) map[string]any {
	return map[string]any{"status": string(rec.Status), "complete": rec.Complete, "findings": len(rec.Fingerprints),
		"duration_ms": rec.Duration().Milliseconds()}
}

// record stores a scan's findings and record: upsert, mark, save, announce.
func (r *Runner) record(ctx context.Context, pub *publisher, rec store.ScanRecord, fs []findings.Finding) (store.ScanRecord, error) {
	target, scanID := rec.TargetID, rec.ID
	results, err := r.Store.UpsertBatch(ctx, fs, scanID)
	if err != nil {
		return store.ScanRecord{}, fmt.Errorf("scan %s of %s: %w", scanID, target, err)
	}
	created := 0
	for _, u := range results {
		if u.Created {
			created++
		}
	}
	rec.Created = created
	if rec.Complete {
		n, err := r.Store.MarkNotReobserved(ctx, target, scanID, rec.Fingerprints)
		if err != nil {
			return store.ScanRecord{}, fmt.Errorf("scan %s of %s: %w", scanID, target, err)
		}
		rec.MarkedNotReobserved = n
	}
	pub.send(scanner.EventFindingsUpserted, fmt.Sprintf("%d 条记录（新 %d）/ %d records (%d new)", len(results), created, len(results), created),
		map[string]any{"findings": len(results), "created": created, "marked_not_reobserved": rec.MarkedNotReobserved})
	wrote, err := r.Store.SaveScan(ctx, rec)
	if err != nil {
		return store.ScanRecord{}, err
	}
	if !wrote {
		// Another delivery of the same job finished first: its record is the history entry.
		return r.Store.GetScan(ctx, scanID)
	}
	pub.last = true
	pub.send(scanner.EventScanFinished, fmt.Sprintf("扫描完成 %s / scan done: %s", rec.Status, rec.Status), finishedData(rec))
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
	if p.r.events == nil {
		return // no store: the observer is the only audience
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
	// captured is the capture time of each stored artifact (the as_of of live captures).
	captured map[string]time.Time
}

func (s *fetchSink) capturedTimes() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.captured)
}

func (s *fetchSink) Put(rd io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	if meta.CapturedAt.IsZero() {
		meta.CapturedAt = time.Now().UTC()
	}
	ref, err := s.store.Put(rd, meta)
	if err == nil {
		s.mu.Lock()
		if _, dup := s.captured[ref.SHA256]; !dup {
			s.captured[ref.SHA256] = meta.CapturedAt.UTC()
		}
		s.mu.Unlock()
	}
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
		s.pub.send(scanner.EventSourceFetched, meta.Source, map[string]any{
			"source": meta.Source, "sha256": ref.SHA256, "size": ref.Size, "method": meta.Method})
	}
	return ref, nil
}
