package scanner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"sync"
	"time"
)

// Event is a progress event of a scan. The scan knows nothing of who shows it: the CLI progress
// bar and the dashboard both subscribe (Options.Events).
type Event struct {
	Kind      string    `json:"kind"` // one of the Event* constants (events.go)
	ScanID    string    `json:"scan_id"`
	TargetID  string    `json:"target_id"`
	Inspector string    `json:"inspector,omitempty"`
	Source    string    `json:"source,omitempty"`
	Status    Status    `json:"status,omitempty"`
	Message   string    `json:"message,omitempty"`
	Done      int       `json:"done"`
	Total     int       `json:"total"`
	At        time.Time `json:"at"`
}

// Options bound one scan.
type Options struct {
	// ScanID is generated when empty.
	ScanID string
	// Concurrency is how many sources are inspected at once (default 2).
	Concurrency int
	// SourceTimeout bounds one inspector on one source (default 10 minutes).
	SourceTimeout time.Duration
	// Events receives progress; it must not block for long. Nil discards.
	Events func(Event)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Prior returns the newest package an earlier scan of the target fetched from src (remote
	// package sources); nil, or a nil result, when none is known.
	Prior func(src Source) *PackageVersion
}

// Result is the outcome of one scan of one target.
type Result struct {
	ScanID     string    `json:"scan_id"`
	Target     Target    `json:"target"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Reports    []Report  `json:"reports"`
}

// Complete reports whether every source was inspected without failure; only a complete scan may
// mark findings as "not re-observed" (a failed fetch is not evidence of rectification, and an
// unchanged package that was not inspected again re-observed nothing).
func (r *Result) Complete() bool {
	for _, rep := range r.Reports {
		if rep.Status != StatusSucceeded {
			return false
		}
	}
	return len(r.Reports) > 0
}

// Status summarises the scan: failed if every report failed or was skipped, partial if any did
// not succeed, else succeeded.
func (r *Result) Status() Status {
	ok, bad := 0, 0
	for _, rep := range r.Reports {
		// An unchanged package counts as a success of the scan, though not as a re-observation
		// (Complete).
		if rep.Status == StatusSucceeded || rep.Status == StatusUnchanged {
			ok++
		} else if rep.Status == StatusFailed || rep.Status == StatusSkipped {
			bad++
		}
	}
	switch {
	case len(r.Reports) == 0 || bad == len(r.Reports):
		return StatusFailed
	case ok == len(r.Reports):
		return StatusSucceeded
	default:
		return StatusPartial
	}
}

// inventoryFlags are the attributes of scan.inventory, each false until a report sets it (the
// kinds of source the scan had, declared by KindSpec.Inventory, and facts declared by
// KindSpec.Signals such as a link to a privacy policy inside the app).
var inventoryFlags = []string{"has_app", "has_policy", "has_traffic", "has_runtime", "policy_link_found"}

// ContextKinds are the observation kinds that describe the app and the test rather than a
// violation (the package's identity and signer, where it was downloaded, the test phone's session,
// what the scan was given). A scan record keeps them so that a case report made later can state
// the app's identity and the test environment on its cover.
var ContextKinds = map[string]bool{"apk.identity": true, "apk.certificate": true, "apk.provenance": true,
	"mp.identity": true, "runtime.session": true, "scan.inventory": true}

// MaxContext bounds the context observations a scan record keeps: a hostile input with thousands
// of sessions or certificates cannot grow the record without limit.
const MaxContext = 64

// Context returns the scan's context observations (ContextKinds), at most MaxContext.
func (r *Result) Context() []Observation {
	var out []Observation
	for _, o := range r.Observations() {
		if ContextKinds[o.Kind] && len(out) < MaxContext {
			out = append(out, o)
		}
	}
	return out
}

// Observations returns every report's observations plus one scan.inventory observation that
// says which kinds of source the scan had, so rules can reason about what is absent.
func (r *Result) Observations() []Observation {
	var out []Observation
	inv := map[string]any{}
	for _, f := range inventoryFlags {
		inv[f] = false
	}
	for _, rep := range r.Reports {
		for _, f := range rep.inventory {
			inv[f] = true
		}
		out = append(out, rep.Observations...)
	}
	out = append(out, Observation{
		Kind: "scan.inventory", Subject: r.Target.ID, Attributes: inv,
		Inspector: "scanner", InspectorVersion: Version,
	})
	return out
}

// EvidenceRefs lists every stored artifact of the scan, sorted and unique.
func (r *Result) EvidenceRefs() []string {
	seen := map[string]bool{}
	var out []string
	for _, rep := range r.Reports {
		for _, e := range rep.Evidence {
			if !seen[e.SHA256] {
				seen[e.SHA256] = true
				out = append(out, e.SHA256)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Version is the scanner's own version, recorded in scan.inventory observations.
const Version = "1"

// NewScanID returns a sortable, unique scan id: UTC time then 6 random bytes.
func NewScanID(now time.Time) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Scan inspects every source of the target with the first inspector that accepts it. One
// inspector's failure, panic or timeout never loses the other sources' results.
func Scan(ctx context.Context, t Target, inspectors []Inspector, sink EvidenceSink, opts Options) *Result {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	if opts.SourceTimeout <= 0 {
		opts.SourceTimeout = 10 * time.Minute
	}
	emit := opts.Events
	if emit == nil {
		emit = func(Event) {}
	}
	res := &Result{ScanID: opts.ScanID, Target: t, StartedAt: now().UTC()}
	if res.ScanID == "" {
		res.ScanID = NewScanID(res.StartedAt)
	}
	total := len(t.Sources)
	emit(Event{Kind: EventScanStarted, ScanID: res.ScanID, TargetID: t.ID, Total: total, At: now().UTC()})

	res.Reports = make([]Report, total)
	sem := make(chan struct{}, opts.Concurrency)
	var mu sync.Mutex
	done := 0
	run := func(idx []int, sessions map[string]*sessionData) {
		var wg sync.WaitGroup
		for _, i := range idx {
			src := t.Sources[i]
			wg.Add(1)
			go func(i int, src Source) {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				insp := pick(inspectors, src)
				var rep Report
				if insp == nil {
					rep = Report{Source: src, Status: StatusSkipped, Observations: []Observation{},
						Errors: []FileError{Errorf(src.Locator, "no inspector accepts sources of kind %q", src.Kind)}}
				} else {
					emit(Event{Kind: EventInspectorStarted, ScanID: res.ScanID, TargetID: t.ID, Inspector: insp.Name(),
						Source: src.Locator, Total: total, At: now().UTC()})
					var prior *PackageVersion
					if opts.Prior != nil {
						prior = opts.Prior(src)
					}
					rep = runOne(ctx, insp, src, sink, opts.SourceTimeout, now, sessions[sessionOf(src)], prior)
				}
				mu.Lock()
				res.Reports[i] = rep
				done++
				d := done
				mu.Unlock()
				msg := ""
				if len(rep.Errors) > 0 {
					msg = rep.Errors[0].Error()
				}
				emit(Event{Kind: EventInspectorFinished, ScanID: res.ScanID, TargetID: t.ID, Inspector: rep.Inspector,
					Source: src.Locator, Status: rep.Status, Message: msg, Done: d, Total: total, At: now().UTC()})
			}(i, src)
		}
		wg.Wait()
	}
	// Sources that provide known values for a session run first; the rest of that session then
	// look for what they saw. Sources outside any session run in the first wave too.
	var first, second []int
	provides := make([]bool, len(t.Sources))
	sessions := map[string]bool{}
	for i, src := range t.Sources {
		provides[i] = providesKnown(inspectors, src)
		if s := sessionOf(src); s != "" && provides[i] {
			sessions[s] = true
		}
	}
	for i, src := range t.Sources {
		if s := sessionOf(src); s != "" && sessions[s] && !provides[i] {
			second = append(second, i)
		} else {
			first = append(first, i)
		}
	}
	run(first, nil)
	if len(second) > 0 {
		data := map[string]*sessionData{}
		for _, i := range first {
			rep := res.Reports[i]
			s := sessionOf(rep.Source)
			if s == "" || !provides[i] {
				continue
			}
			if data[s] == nil {
				data[s] = &sessionData{}
			}
			data[s].known = append(data[s].known, rep.known...)
			data[s].obs = append(data[s].obs, rep.Observations...)
		}
		run(second, data)
	}
	res.FinishedAt = now().UTC()
	emit(Event{Kind: EventScanFinished, ScanID: res.ScanID, TargetID: t.ID, Status: res.Status(),
		Done: total, Total: total, At: res.FinishedAt})
	return res
}

// providesKnown tells whether src's kind reports known values for its session.
func providesKnown(inspectors []Inspector, src Source) bool {
	insp := pick(inspectors, src)
	if insp == nil {
		return false
	}
	spec, ok := SpecFor(insp, src.Kind)
	return ok && spec.ProvidesKnown
}

// pick returns the first inspector that declares src's kind.
func pick(inspectors []Inspector, src Source) Inspector {
	for _, in := range inspectors {
		if _, ok := SpecFor(in, src.Kind); ok {
			return in
		}
	}
	return nil
}
