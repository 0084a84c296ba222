package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"pilmon/evidence"
	"pilmon/internal/testredis"
	"pilmon/rules"
	"pilmon/samplegen"
	"pilmon/scanner"
	"pilmon/store"
)

func TestMain(m *testing.M) { testredis.Main(m, "pipeline") }

var seq atomic.Int64

// policyText leaves out the retention period and account deletion; fullerPolicy only the
// retention period (the operator rectified half of it).
var (
	policyText   = samplegen.PolicyText(1<<8 | 1<<11)
	fullerPolicy = samplegen.PolicyText(1 << 8)
)

func newRunner(t *testing.T) (*Runner, string) { return newRunnerB(t) }

func newRunnerB(t testing.TB) (*Runner, string) {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ev, err := evidence.Open(filepath.Join(dir, "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	ins, closeFn, err := DefaultInspectors(cat, InspectorOptions{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	st := store.NewStore(testredis.Server().Client(), fmt.Sprintf("pt%d:", seq.Add(1)))
	return &Runner{Catalogue: cat, Inspectors: ins, Evidence: ev, Store: st, Worker: "test-worker"}, dir
}

func writeFile(t *testing.T, path, text string) string { return writeFileB(t, path, text) }

func writeFileB(t testing.TB, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunRecordsEventsAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	r, dir := newRunner(t)
	p := writeFile(t, filepath.Join(dir, "policy.txt"), policyText)
	target := scanner.Target{ID: "app-1", Kind: scanner.TargetApp, Name: "示例", Category: "ride_hailing",
		Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: p}}}
	var mu sync.Mutex
	var kinds []string
	rec, err := r.Run(ctx, target, "scan-1", func(e store.Event) {
		mu.Lock()
		kinds = append(kinds, e.Kind)
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{scanner.EventScanStarted, scanner.EventSourceFetched, scanner.EventInspectorFinished, scanner.EventFindingsUpserted, scanner.EventScanFinished}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("events %v, want %v", kinds, want)
	}
	if !rec.Complete || rec.Status != scanner.StatusSucceeded || len(rec.Fingerprints) == 0 || len(rec.Runs) != 1 ||
		rec.Runs[0].Inspector != "policies" || len(rec.Evidence) == 0 || rec.Worker != "test-worker" {
		t.Fatalf("record %+v", rec)
	}
	// The events reached the stream too, in order, with the worker named.
	evs, err := r.Store.ReadEvents(ctx, "0", 100, -1)
	if err != nil || len(evs) != len(want) {
		t.Fatalf("stream holds %d events (%v)", len(evs), err)
	}
	for i, e := range evs {
		if e.Event.Kind != want[i] || e.Event.ScanID != "scan-1" || e.Event.Data["worker"] != "test-worker" {
			t.Errorf("stream event %d: %+v", i, e.Event)
		}
	}
	for _, fp := range rec.Fingerprints {
		f, err := r.Store.Get(ctx, fp)
		if err != nil || f.TargetID != "app-1" || f.LastScanID != "scan-1" {
			t.Fatalf("finding %s: %+v %v", fp, f, err)
		}
	}
	// Re-delivery of the same scan: same record, one history entry, no new finding history.
	again, err := r.Run(ctx, target, "scan-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normal(again), normal(rec)) {
		t.Errorf("re-run changed the record:\n%+v\n%+v", again, rec)
	}
	hist, total, err := r.Store.ScansForTarget(ctx, "app-1", 0, 10)
	if err != nil || total != 1 || len(hist) != 1 {
		t.Fatalf("history %d entries (%v)", total, err)
	}
	for _, fp := range rec.Fingerprints {
		h, _ := r.Store.History(ctx, fp)
		if len(h) != 1 {
			t.Errorf("finding %s has %d history entries", fp, len(h))
		}
	}
}

// normal drops what JSON does not keep (monotonic clock readings).
func normal(r store.ScanRecord) store.ScanRecord {
	r.StartedAt, r.FinishedAt = r.StartedAt.Round(0).UTC(), r.FinishedAt.Round(0).UTC()
	return r
}

func TestRescanDiffAndNotReobserved(t *testing.T) {
	ctx := context.Background()
	r, dir := newRunner(t)
	p := writeFile(t, filepath.Join(dir, "policy.txt"), policyText)
	target := scanner.Target{ID: "app-2", Kind: scanner.TargetApp, Name: "示例二", Category: "ride_hailing",
		Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: p}}}
	first, err := r.Run(ctx, target, "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, p, fullerPolicy) // the operator rectified part of the policy
	second, err := r.Run(ctx, target, "s2", nil)
	if err != nil {
		t.Fatal(err)
	}
	d, ok, err := r.Store.DiffLatestScans(ctx, "app-2")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if d.From != "s1" || d.To != "s2" || len(d.Gone) == 0 || len(d.Still) == 0 {
		t.Fatalf("diff %+v", d)
	}
	if !reflect.DeepEqual(d, store.DiffScanRecords(first, second)) {
		t.Error("DiffLatest and Diff disagree")
	}
	if second.MarkedNotReobserved != len(d.Gone) {
		t.Errorf("marked %d, gone %d", second.MarkedNotReobserved, len(d.Gone))
	}
	for _, fp := range d.Gone {
		f, _ := r.Store.Get(ctx, fp)
		if f.NotReobservedSince != "s2" {
			t.Errorf("gone finding %s: not_reobserved_since %q", fp, f.NotReobservedSince)
		}
	}
	for _, fp := range d.Still {
		f, _ := r.Store.Get(ctx, fp)
		if f.NotReobservedSince != "" || f.LastScanID != "s2" {
			t.Errorf("still finding %s: %+v", fp, f)
		}
	}
	recent, total, _ := r.Store.RecentScans(ctx, 0, 10)
	if total != 2 || recent[0].ID != "s2" {
		t.Errorf("recent: %d, %+v", total, recent)
	}
}

// failing is a unit-test inspector whose source always fails (declared like a URL kind, so the
// core hands it the locator without opening it).
type failing struct{}

func (failing) Name() string    { return "failing" }
func (failing) Version() string { return "0" }
func (failing) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{{Kind: scanner.SourceAPK, URL: true}}
}
func (failing) Inspect(context.Context, *scanner.Input) scanner.Output {
	return scanner.Output{Errors: []scanner.FileError{{Path: "x.apk", Reason: "truncated zip"}}}
}

func TestIncompleteScanMarksNothing(t *testing.T) {
	ctx := context.Background()
	r, dir := newRunner(t)
	r.Inspectors = append([]scanner.Inspector{failing{}}, r.Inspectors...)
	p := writeFile(t, filepath.Join(dir, "policy.txt"), policyText)
	target := scanner.Target{ID: "app-3", Kind: scanner.TargetApp, Name: "三", Category: "ride_hailing",
		Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: p}}}
	first, err := r.Run(ctx, target, "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	// The APK fails and the policy moved: nothing may be called rectified on that basis.
	target.Sources = []scanner.Source{{Kind: scanner.SourceAPK, Locator: filepath.Join(dir, "x.apk")}}
	rec, err := r.Run(ctx, target, "s2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Complete || rec.Status != scanner.StatusFailed || rec.MarkedNotReobserved != 0 ||
		len(rec.Runs) != 1 || !slices.Contains(rec.Runs[0].Errors, scanner.FileError{Path: "x.apk", Reason: "truncated zip"}) {
		t.Fatalf("record %+v", rec)
	}
	for _, fp := range first.Fingerprints {
		if f, _ := r.Store.Get(ctx, fp); f.NotReobservedSince != "" {
			t.Errorf("%s marked after an incomplete scan", fp)
		}
	}
}

func TestCancelledScanIsNotRecorded(t *testing.T) {
	r, dir := newRunner(t)
	p := writeFile(t, filepath.Join(dir, "policy.txt"), policyText)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := r.Run(ctx, scanner.Target{ID: "app-4", Kind: "app", Name: "四",
		Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: p}}}, "s1", nil)
	if err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("err %v", err)
	}
	if _, err := r.Store.GetScan(context.Background(), "s1"); err == nil {
		t.Error("an interrupted scan was recorded")
	}
}
