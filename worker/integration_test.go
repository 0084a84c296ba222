package worker

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pilmon/samplegen"
	"pilmon/store"

	"github.com/redis/go-redis/v9"

	"pilmon/assess"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/targets"
)

// These tests run the real pilmon binary as child processes against a real redis-server, and
// kill them with SIGKILL: what must hold is what a prosecutor relies on — every queued scan ends
// up recorded exactly once, no finding is lost or duplicated, nothing acknowledged disappears.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// pilmonBinary builds cmd/pilmon once per test run.
func pilmonBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the pilmon binary; skipped with -short")
	}
	buildOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			buildErr = fmt.Errorf("the go tool is not in PATH: %w", err)
			return
		}
		dir, err := os.MkdirTemp("", "pilmon-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "pilmon")
		out, err := exec.Command(goBin, "build", "-o", binPath, "pilmon/cmd/pilmon").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a pilmon child process; its output is kept for the failure message.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(pilmonBinary(t), args...)
	sb := &lockedWriter{w: &out}
	cmd.Stdout, cmd.Stderr = sb, sb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, out: &out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			sb.mu.Lock()
			t.Logf("--- output of %s:\n%s", name, out.String())
			sb.mu.Unlock()
		}
	})
	return p
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// kill sends SIGKILL (a crash: no cleanup runs) and waits for the process to be gone.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// stop asks for a clean shutdown (SIGINT) and waits.
func (p *proc) stop(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop on SIGINT", p.name)
		p.kill()
	}
}

// system is a data dir shared by the processes, a test-owned redis-server and the client view.
type system struct {
	dataDir string
	root    string
	srv     *store.RedisServer
	store   *store.Store
	reg     *targets.Registry
	cat     *rules.Catalogue
}

func newSystem(t *testing.T) *system {
	t.Helper()
	pilmonBinary(t)
	dir := t.TempDir()
	s := &system{dataDir: filepath.Join(dir, "data"), root: filepath.Join(dir, "data", "import")}
	if err := os.MkdirAll(s.root, 0o755); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.cat, err = rules.Default(); err != nil {
		t.Fatal(err)
	}
	s.startRedis(t)
	t.Cleanup(func() { _ = s.srv.Stop(context.Background()) })
	return s
}

// startRedis starts (or restarts) the redis-server with its AOF under a folder beside the data dir.
func (s *system) startRedis(t *testing.T) {
	t.Helper()
	srv, err := store.StartRedis(context.Background(), filepath.Join(filepath.Dir(s.dataDir), "redisdata"), store.RedisOptions{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.srv = srv
	s.store = store.NewStore(srv.Client(), "")
	s.reg = targets.New(s.store, targets.Options{ImportRoot: s.root, Catalogue: s.cat, Kinds: pipeline.Kinds(s.cat)})
}

func (s *system) rdb() redis.UniversalClient { return s.srv.Client() }

func (s *system) worker(t *testing.T, name string, extra ...string) *proc {
	args := append([]string{"worker", "--redis", s.srv.URL(), "--data-dir", s.dataDir, "--name", name,
		"--concurrency", "2", "--claim-after", "1s"}, extra...)
	return startProc(t, name, args...)
}

func (s *system) scheduler(t *testing.T, id string) *proc {
	return startProc(t, id, "schedule", "run", "--redis", s.srv.URL(), "--data-dir", s.dataDir,
		"--id", id, "--lease-ttl", "1s", "--tick", "100ms")
}

// importTargets writes n generated policies and imports n targets through `pilmon target import`.
func (s *system) importTargets(t *testing.T, n int, schedule string) []scanner.Target {
	t.Helper()
	var yml strings.Builder
	yml.WriteString("targets:\n")
	for i := range n {
		id := fmt.Sprintf("app-%03d", i)
		omit := uint32(1<<(8+i%8)) | uint32(1<<(9+(i/8)%7))
		if err := os.WriteFile(filepath.Join(s.root, id+".txt"), []byte(samplegen.PolicyText(omit)), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&yml, "  - id: %s\n    kind: app\n    name: 示例应用%d\n    category: ride_hailing\n    sources: [{kind: policy_file, locator: %s.txt}]\n", id, i, id)
		if schedule != "" {
			fmt.Fprintf(&yml, "    schedule: %q\n", schedule)
		}
	}
	f := filepath.Join(filepath.Dir(s.dataDir), "targets.yaml")
	if err := os.WriteFile(f, []byte(yml.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pilmonBinary(t), "target", "import", "--redis", s.srv.URL(), "--data-dir", s.dataDir, f).CombinedOutput()
	if err != nil {
		t.Fatalf("pilmon target import: %v\n%s", err, out)
	}
	ts, err := s.reg.List(context.Background())
	if err != nil || len(ts) != n {
		t.Fatalf("registry holds %d targets after import (%v)", len(ts), err)
	}
	return ts
}

func (s *system) jobsLeft(t *testing.T) int64 {
	n, err := s.store.JobCount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (s *system) pendingOf(t *testing.T, consumer string) []string {
	t.Helper()
	ps, err := s.rdb().XPendingExt(context.Background(), &redis.XPendingExtArgs{Stream: store.DefaultPrefix + store.JobsStream,
		Group: store.WorkersGroup, Start: "-", End: "+", Count: 1000, Consumer: consumer}).Result()
	if err != nil && !redis.HasErrorPrefix(err, "NOGROUP") {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.ID)
	}
	return ids
}

func (s *system) recordCount(t *testing.T) int64 {
	_, n, err := s.store.RecentScans(context.Background(), 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// expectedFingerprints runs the scanner and the assessor in this process on the target's files:
// the findings a scan of it must raise.
func (s *system) expectedFingerprints(t *testing.T, ts []scanner.Target) map[string][]string {
	t.Helper()
	ins, closeFn, err := pipeline.DefaultInspectors(s.cat, pipeline.InspectorOptions{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ev, err := evidence.Open(t.TempDir(), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	a := assess.New(s.cat)
	out := map[string][]string{}
	for _, tg := range ts {
		res := scanner.Scan(context.Background(), tg, ins, ev, scanner.Options{ScanID: "expected"})
		var fps []string
		for _, f := range a.Assess(tg, "expected", res.Observations(), time.Now()) {
			fps = append(fps, findings.Fingerprint(f.TargetID, f.RuleID, f.Subject))
		}
		sort.Strings(fps)
		out[tg.ID] = slices.Compact(fps)
	}
	return out
}

func TestProcessesCrashedWorkerEveryScanOnce(t *testing.T) {
	ctx := context.Background()
	s := newSystem(t)
	ts := s.importTargets(t, 40, "")
	want := s.expectedFingerprints(t, ts)
	var jobIDs []string
	for i := range 200 {
		j := store.Job{ID: fmt.Sprintf("scan-%03d", i), TargetID: ts[i%len(ts)].ID, RequestedBy: "test"}
		if _, err := s.store.EnqueueJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		jobIDs = append(jobIDs, j.ID)
	}
	w1 := s.worker(t, "worker-1")
	w2 := s.worker(t, "worker-2")
	w3 := s.worker(t, "worker-3")

	// Kill worker-1 while it holds jobs: after it has done some, with scans of its in flight.
	waitFor(t, "worker-1 to be mid-scan", func() bool {
		return s.recordCount(t) >= 20 && len(s.pendingOf(t, "worker-1")) > 0
	})
	w1.kill()
	orphans := s.pendingOf(t, "worker-1")
	t.Logf("worker-1 killed with %d jobs pending, %d scans recorded", len(orphans), s.recordCount(t))

	waitFor(t, "every job to be done", func() bool {
		return s.jobsLeft(t) == 0 && s.recordCount(t) == 200
	})
	w2.stop(t)
	w3.stop(t)

	h := s.store
	if n := s.recordCount(t); n != 200 {
		t.Errorf("%d history entries, want 200", n)
	}
	perTarget := map[string]int{}
	for _, id := range jobIDs {
		rec, err := h.GetScan(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		perTarget[rec.TargetID]++
		if !slices.Equal(rec.Fingerprints, want[rec.TargetID]) {
			t.Errorf("scan %s of %s raised %v, want %v", id, rec.TargetID, rec.Fingerprints, want[rec.TargetID])
		}
		if !rec.Complete || rec.Status != scanner.StatusSucceeded {
			t.Errorf("scan %s: %s", id, rec.Status)
		}
	}
	for _, tg := range ts {
		if perTarget[tg.ID] != 5 {
			t.Errorf("target %s has %d scans, want 5", tg.ID, perTarget[tg.ID])
		}
		recs, total, _ := h.ScansForTarget(ctx, tg.ID, 0, 100)
		if total != 5 || len(recs) != 5 {
			t.Errorf("target %s: history of %d", tg.ID, total)
		}
		fs, n, err := s.store.List(ctx, store.Query{TargetID: tg.ID, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			got = append(got, f.Fingerprint)
			if hist, _ := s.store.History(ctx, f.Fingerprint); len(hist) != 1 {
				t.Errorf("finding %s has %d history entries, want 1 (created once)", f.Fingerprint, len(hist))
			}
			if f.NotReobservedSince != "" {
				t.Errorf("finding %s marked not re-observed though every scan raised it", f.Fingerprint)
			}
		}
		sort.Strings(got)
		if int(n) != len(want[tg.ID]) || !slices.Equal(got, want[tg.ID]) {
			t.Errorf("target %s: store holds %v, want %v", tg.ID, got, want[tg.ID])
		}
	}
	if dead, _ := s.store.DeadJobs(ctx, 10); len(dead) != 0 {
		t.Errorf("dead letters: %+v", dead)
	}
	if pend := s.pendingOf(t, "worker-1"); len(pend) != 0 {
		t.Errorf("the dead worker still holds %v", pend)
	}
	if len(orphans) > 0 {
		evs, _ := s.store.ReadEvents(ctx, "0", 20000, -1)
		reclaimed := 0
		for _, e := range evs {
			if e.Event.Kind == EventJobReclaimed {
				reclaimed++
			}
		}
		if reclaimed < len(orphans) {
			t.Errorf("%d jobs reclaimed, %d were orphaned", reclaimed, len(orphans))
		}
	}
}

func TestProcessesTwoSchedulersEnqueueOncePerTick(t *testing.T) {
	ctx := context.Background()
	s := newSystem(t)
	s.importTargets(t, 2, "* * * * * *")
	a := s.scheduler(t, "sched-a")
	b := s.scheduler(t, "sched-b")
	holder := func() string { v, _ := s.store.LeaseHolder(ctx, LeaseName); return v }
	waitFor(t, "six scheduled scans", func() bool { return s.jobsLeft(t) >= 6 })
	first := holder()
	active, standby := a, b
	if first == "sched-b" {
		active, standby = b, a
	}
	// The active scheduler crashes without releasing its lease; the stand-by takes over once it
	// expires and fills the gap tick by tick.
	active.kill()
	waitFor(t, "the stand-by to take over", func() bool { h := holder(); return h != "" && h != first })
	before := s.jobsLeft(t)
	waitFor(t, "scans after the takeover", func() bool { return s.jobsLeft(t) >= before+4 })
	standby.stop(t)

	msgs, err := s.store.QueuedJobs(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n := s.jobsLeft(t); int64(len(msgs)) != n {
		t.Fatalf("%d of the %d jobs in the stream decode", len(msgs), n)
	}
	ticks := map[string][]int64{}
	for _, m := range msgs {
		j := m.Job
		ticks[j.TargetID] = append(ticks[j.TargetID], j.At.Unix())
	}
	for tid, secs := range ticks {
		slices.Sort(secs)
		for i := 1; i < len(secs); i++ {
			if secs[i] == secs[i-1] {
				t.Errorf("%s: tick %d enqueued twice", tid, secs[i])
			} else if secs[i] != secs[i-1]+1 {
				t.Errorf("%s: ticks %d..%d missing", tid, secs[i-1]+1, secs[i]-1)
			}
		}
	}
	if len(ticks) != 2 {
		t.Errorf("ticks for %d targets", len(ticks))
	}
}

func TestProcessesWholeSystemRestart(t *testing.T) {
	ctx := context.Background()
	s := newSystem(t)
	ts := s.importTargets(t, 4, "*/2 * * * * *")
	var jobIDs []string
	for i := range 60 {
		j := store.Job{ID: fmt.Sprintf("manual-%03d", i), TargetID: ts[i%len(ts)].ID, RequestedBy: "test"}
		if _, err := s.store.EnqueueJob(ctx, j); err != nil {
			t.Fatal(err)
		}
		jobIDs = append(jobIDs, j.ID)
	}
	start := func() []*proc {
		return []*proc{s.worker(t, "worker-1", "--scheduler"), s.worker(t, "worker-2", "--scheduler")}
	}
	procs := start()
	waitFor(t, "some scans done", func() bool { return s.recordCount(t) >= 10 })
	// Everything dies at once: workers, scheduler, Redis.
	for _, p := range procs {
		p.kill()
	}
	h := s.store
	acked, _, err := h.RecentScans(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	ackedFindings, _, _ := s.store.List(ctx, store.Query{Limit: 1000})
	cursorBefore, _ := s.store.ScheduleCursors(ctx)
	if err := s.srv.Kill(); err != nil {
		t.Fatal(err)
	}
	crashedAt := time.Now()
	t.Logf("killed everything with %d scans recorded, %d findings", len(acked), len(ackedFindings))

	s.startRedis(t)
	h = s.store
	procs = start()
	waitFor(t, "every queued scan to be done and the schedule to resume", func() bool {
		for _, id := range jobIDs {
			if _, err := h.GetScan(ctx, id); err != nil {
				return false
			}
		}
		recs, _, _ := h.RecentScans(ctx, 0, 1000)
		for _, r := range recs {
			if strings.HasPrefix(r.ID, "2") && r.StartedAt.After(crashedAt) {
				return true // a scheduled scan (ids start with the year) ran after the restart
			}
		}
		return false
	})
	for _, p := range procs {
		p.stop(t)
	}
	for _, r := range acked {
		got, err := h.GetScan(ctx, r.ID)
		if err != nil || !slices.Equal(got.Fingerprints, r.Fingerprints) {
			t.Errorf("scan %s recorded before the crash: %v", r.ID, err)
		}
	}
	for _, f := range ackedFindings {
		if _, err := s.store.Get(ctx, f.Fingerprint); err != nil {
			t.Errorf("finding %s lost in the restart: %v", f.Fingerprint, err)
		}
	}
	cursorAfter, _ := s.store.ScheduleCursors(ctx)
	for tid, v := range cursorBefore {
		if cursorAfter[tid].Before(v) {
			t.Errorf("schedule cursor of %s went back from %s to %s", tid, v, cursorAfter[tid])
		}
	}
	if dead, _ := s.store.DeadJobs(ctx, 10); len(dead) != 0 {
		t.Errorf("dead letters: %+v", dead)
	}
}
