package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/internal/testredis"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/samplegen"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) { testredis.Main(m, "worker") }

var seq atomic.Int64

// env is one isolated installation: its own key prefix, import folder and evidence store.
type env struct {
	deps Deps
	root string
	cat  *rules.Catalogue
}

func newEnv(t *testing.T, rdb redis.UniversalClient) *env {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "import")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	ev, err := evidence.Open(filepath.Join(dir, "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("wt%d:", seq.Add(1))
	store := store.NewStore(rdb, prefix)
	ins, closeFn, err := pipeline.DefaultInspectors(cat, pipeline.InspectorOptions{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	return &env{root: root, cat: cat, deps: Deps{
		Store:      store,
		Targets:    targets.New(store, targets.Options{ImportRoot: root, Catalogue: cat, Kinds: pipeline.Kinds(cat)}),
		Runner:     &pipeline.Runner{Catalogue: cat, Inspectors: ins, Evidence: ev, Store: store},
		ClaimAfter: 300 * time.Millisecond,
		Log:        quiet,
	}}
}

// addPolicyTarget writes a generated policy into the import folder and registers a target for it.
func (e *env) addPolicyTarget(t *testing.T, id string, omit uint32, schedule string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.root, id+".txt"), []byte(samplegen.PolicyText(omit)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := e.deps.Targets.Put(context.Background(), scanner.Target{ID: id, Kind: scanner.TargetApp, Name: id,
		Category: "ride_hailing", Schedule: schedule,
		Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: id + ".txt"}}})
	if err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond until it holds, failing the test after a generous limit (a hang, not a
// timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) jobsLeft(t *testing.T) int64 {
	n, err := e.deps.Store.JobCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPoolRunsEveryJobOnce(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testredis.Server().Client())
	for i := range 5 {
		e.addPolicyTarget(t, fmt.Sprintf("app-%d", i), 1<<(8+i), "")
	}
	var ids []string
	for i := range 20 {
		j, err := Enqueue(ctx, e.deps, fmt.Sprintf("app-%d", i%5), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	// A job that names a target nobody registered is dead at once, with its reason.
	if _, err := e.deps.Store.EnqueueJob(ctx, store.Job{ID: "orphan", TargetID: "no-such-target"}); err != nil {
		t.Fatal(err)
	}
	e.deps.ClaimAfter = time.Minute // nothing here should be taken over
	d2 := e.deps
	d2.Name = "w2"
	d2.Runner = &pipeline.Runner{Catalogue: e.cat, Inspectors: e.deps.Runner.Inspectors, Evidence: e.deps.Runner.Evidence, Store: e.deps.Store}
	e.deps.Name = "w1"
	p1, err := StartPool(ctx, e.deps, 3)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := StartPool(ctx, d2, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool { return e.jobsLeft(t) == 0 })
	for _, p := range []*Pool{p1, p2} {
		if err := p.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	s1, s2 := p1.Stats(), p2.Stats()
	if s1.Done+s2.Done != 20 || s1.Dead+s2.Dead != 1 || s1.Reclaimed+s2.Reclaimed != 0 {
		t.Errorf("stats %+v %+v", s1, s2)
	}
	dead, _ := e.deps.Store.DeadJobs(ctx, 10)
	if len(dead) != 1 || !strings.Contains(dead[0].Job, "orphan") || !strings.Contains(dead[0].Error, "not found") {
		t.Errorf("dead letters %+v", dead)
	}
	h := e.deps.Store
	workers := map[string]int{}
	for _, id := range ids {
		rec, err := h.GetScan(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		workers[rec.Worker]++
	}
	if workers["w1"] == 0 || workers["w2"] == 0 {
		t.Errorf("work not shared: %v", workers)
	}
}

func TestStaleJobTakenOverAndSlowJobKept(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testredis.Server().Client())
	// Margins of 3 on a loaded 2-core machine: heartbeats every ClaimAfter/3.
	e.deps.ClaimAfter = time.Second
	e.addPolicyTarget(t, "app-1", 0, "")
	j, _ := Enqueue(ctx, e.deps, "app-1", "test", nil)
	// A consumer reads the job and dies without acknowledging it.
	got, err := e.deps.Store.ReadJobs(ctx, "ghost", 1, -1)
	if err != nil || len(got) != 1 {
		t.Fatal(got, err)
	}
	// A slow job: its inspector takes several claim timeouts, and must not be taken over while
	// its worker's heartbeat goes on.
	e.deps.Runner.Inspectors = append([]scanner.Inspector{slow{d: 3 * e.deps.ClaimAfter}}, e.deps.Runner.Inspectors...)
	if err := os.WriteFile(filepath.Join(e.root, "slow.apk"), []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := e.deps.Targets.Put(ctx, scanner.Target{ID: "slow-1", Kind: "app", Sources: []scanner.Source{{Kind: scanner.SourceAPK, Locator: "slow.apk"}}}); err != nil {
		t.Fatal(err)
	}
	slowJob, _ := Enqueue(ctx, e.deps, "slow-1", "test", nil)
	e.deps.Name = "w1"
	p1, err := StartPool(ctx, e.deps, 2)
	if err != nil {
		t.Fatal(err)
	}
	d2 := e.deps
	d2.Name = "w2"
	p2, err := StartPool(ctx, d2, 2)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the queue to drain", func() bool { return e.jobsLeft(t) == 0 })
	_ = p1.Stop(ctx)
	_ = p2.Stop(ctx)
	s1, s2 := p1.Stats(), p2.Stats()
	if s1.Reclaimed+s2.Reclaimed != 1 || s1.Done+s2.Done != 2 {
		t.Errorf("want the ghost's job reclaimed once and the slow job never: %+v %+v", s1, s2)
	}
	h := e.deps.Store
	for _, id := range []string{j.ID, slowJob.ID} {
		if _, err := h.GetScan(ctx, id); err != nil {
			t.Error(err)
		}
	}
	if n := slowCalls.Load(); n != 1 {
		t.Errorf("slow job ran %d times", n)
	}
}

var slowCalls atomic.Int64

// slow is a unit-test inspector that takes d.
type slow struct{ d time.Duration }

func (slow) Name() string    { return "slow" }
func (slow) Version() string { return "0" }
func (slow) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{{Kind: scanner.SourceAPK, URL: true}} // the core does not open the locator
}
func (s slow) Inspect(ctx context.Context, _ *scanner.Input) scanner.Output {
	slowCalls.Add(1)
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
	}
	return scanner.Output{}
}

// badAssessor is a unit-test assessor whose findings the store refuses, so every run fails.
type badAssessor struct{}

func (badAssessor) Assess(t scanner.Target, _ string, _ []scanner.Observation, _ time.Time) []findings.Finding {
	return []findings.Finding{{TargetID: t.ID, RuleID: "r", Subject: "s", Severity: "catastrophic"}}
}

func TestFailingJobDeadLetteredAfterAttempts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testredis.Server().Client())
	e.addPolicyTarget(t, "app-1", 0, "")
	e.deps.Runner.Assessor = badAssessor{}
	e.deps.Attempts = 3
	j, _ := Enqueue(ctx, e.deps, "app-1", "test", nil)
	p, err := StartPool(ctx, e.deps, 1)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job to be dead-lettered", func() bool { return e.jobsLeft(t) == 0 })
	_ = p.Stop(ctx)
	st := p.Stats()
	if st.Failed != 2 || st.Dead != 1 || st.Reclaimed != 2 || st.Done != 0 {
		t.Errorf("stats %+v, want 2 failures retried, then dead on the third", st)
	}
	dead, _ := e.deps.Store.DeadJobs(ctx, 10)
	if len(dead) != 1 || !strings.Contains(dead[0].Job, j.ID) || !strings.Contains(dead[0].Error, "unknown severity") {
		t.Fatalf("dead letters %+v", dead)
	}
	if _, err := e.deps.Store.GetScan(ctx, j.ID); err == nil {
		t.Error("a failed scan has a history entry")
	}
}

func TestSchedulersOneActiveOneEnqueuePerTick(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, testredis.Server().Client())
	e.addPolicyTarget(t, "app-1", 0, "* * * * * *")
	e.addPolicyTarget(t, "app-2", 0, "@every 2s")
	e.addPolicyTarget(t, "manual", 0, "")
	opts := SchedulerOptions{LeaseTTL: 600 * time.Millisecond, Tick: 50 * time.Millisecond}
	var scheds []*Scheduler
	for i := range 2 {
		o := opts
		o.ID = fmt.Sprintf("sched-%d", i)
		s, err := StartScheduler(ctx, e.deps, o)
		if err != nil {
			t.Fatal(err)
		}
		scheds = append(scheds, s)
	}
	countJobs := func() int64 { return e.jobsLeft(t) }
	waitFor(t, "five scheduled scans", func() bool { return countJobs() >= 5 })
	active := 0
	for _, s := range scheds {
		if s.Active() {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d schedulers active", active)
	}
	// Hand over: the active one stops and releases the lease; the other takes over.
	var standby *Scheduler
	for _, s := range scheds {
		if s.Active() {
			_ = s.Stop(ctx)
		} else {
			standby = s
		}
	}
	waitFor(t, "the stand-by to take over", standby.Active)
	before := countJobs()
	waitFor(t, "scans after the handover", func() bool { return countJobs() >= before+2 })
	_ = standby.Stop(ctx)

	msgs, err := e.deps.Store.QueuedJobs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.jobsLeft(t); int64(len(msgs)) != n {
		t.Fatalf("%d of the %d jobs in the stream decode", len(msgs), n)
	}
	seen := map[string]bool{}
	initial := map[string]int{}
	for _, m := range msgs {
		j := m.Job
		if j.RequestedBy == RequestedInitial {
			// The one scan a newly seen schedule gets at once, off the tick grid.
			initial[j.TargetID]++
			if j.ID != ScheduledScanID(j.TargetID, j.At) {
				t.Errorf("initial job %+v", j)
			}
			continue
		}
		if j.TargetID == "manual" {
			t.Error("a target without a schedule was enqueued")
		}
		key := j.TargetID + "@" + j.At.String()
		if seen[key] {
			t.Errorf("tick %s enqueued twice", key)
		}
		seen[key] = true
		if j.ID != ScheduledScanID(j.TargetID, j.At) || j.RequestedBy != "scheduler" {
			t.Errorf("job %+v", j)
		}
		if j.TargetID == "app-2" && j.At.UnixMilli()%2000 != 0 {
			t.Errorf("@every 2s tick not aligned: %v", j.At)
		}
	}
	for _, id := range []string{"app-1", "app-2"} {
		if initial[id] != 1 {
			t.Errorf("target %s got %d initial scans, want exactly 1 across both schedulers", id, initial[id])
		}
	}
	// Every second of app-1's schedule from the first tick to the last is there: no tick lost in
	// the handover either.
	var secs []int64
	for _, m := range msgs {
		j := m.Job
		if j.TargetID == "app-1" && j.RequestedBy == RequestedScheduler {
			secs = append(secs, j.At.Unix())
		}
	}
	slices.Sort(secs)
	for i := 1; i < len(secs); i++ {
		if secs[i] != secs[i-1]+1 {
			t.Errorf("app-1 ticks not contiguous: %v", secs)
			break
		}
	}
	infos, holder, err := Schedules(ctx, e.deps, time.Now(), 2)
	if err != nil || len(infos) != 2 || holder != "" || len(infos[0].Next) != 2 || infos[0].Last.IsZero() {
		t.Errorf("schedules %+v holder %q %v", infos, holder, err)
	}
}

func TestDueTicks(t *testing.T) {
	sc, _ := targets.ParseSchedule("0 * * * * *") // every minute
	last := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ticks, collapsed := dueTicks(sc, last, last.Add(3*time.Minute+30*time.Second))
	if len(ticks) != 3 || !ticks[2].Equal(last.Add(3*time.Minute)) || collapsed != 0 {
		t.Errorf("short gap: %v collapsed %d", ticks, collapsed)
	}
	ticks, collapsed = dueTicks(sc, last, last.Add(50*time.Minute+30*time.Second))
	if len(ticks) != 1 || !ticks[0].Equal(last.Add(50*time.Minute)) || collapsed != 49 {
		t.Errorf("long outage: %v collapsed %d", ticks, collapsed)
	}
	if ticks, _ := dueTicks(sc, last, last.Add(59*time.Second)); len(ticks) != 0 {
		t.Errorf("nothing is due yet, got %v", ticks)
	}
}
