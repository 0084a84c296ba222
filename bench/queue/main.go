// Command queue measures how many scan jobs per second pilmon dispatches through the jobs stream
// — enqueue, XREADGROUP by a pool of workers, the whole pipeline (target read, scan with a trivial
// inspector, assess, findings upsert, not-re-observed marking, scan record, progress events) and
// the acknowledgement — next to the ceiling redis-benchmark reaches with plain XADDs on the same
// server in the same run.
//
//	go run ./bench/queue [-jobs 20000] [-targets 200] [-pools 4] [-concurrency 16]
//
// Goal: dispatched scans per second >= 25 % of redis-benchmark's pipelined XADD rate.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"pilmon/evidence"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
	"pilmon/worker"
)

func main() {
	jobs := flag.Int("jobs", 20000, "scan jobs to dispatch")
	nTargets := flag.Int("targets", 200, "targets the jobs are spread over")
	pools := flag.Int("pools", 4, "worker pools (consumers), as separate worker processes would be")
	conc := flag.Int("concurrency", 16, "scans at once per pool")
	benchN := flag.Int("bench-n", 200000, "requests for redis-benchmark")
	showStats := flag.Bool("commandstats", false, "print the server's per-command statistics")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the dispatch phase")
	flag.Parse()
	profile = *cpuprofile
	verbose = *showStats
	if err := run(*jobs, *nTargets, *pools, *conc, *benchN); err != nil {
		fmt.Fprintln(os.Stderr, "bench/queue:", err)
		os.Exit(1)
	}
}

var (
	profile string
	verbose bool
)

// trivial is the cheapest possible inspector: it takes policy files without the core opening
// them (declared like a URL kind) and observes nothing, so what is measured is the queue and the
// pipeline around the scan.
type trivial struct{}

func (trivial) Name() string    { return "trivial" }
func (trivial) Version() string { return "1" }
func (trivial) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{{Kind: scanner.SourcePolicyFile, URL: true}}
}
func (trivial) Inspect(context.Context, *scanner.Input) scanner.Output { return scanner.Output{} }

func run(nJobs, nTargets, pools, conc, benchN int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pilmon-bench-queue-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := store.StartRedis(ctx, filepath.Join(dir, "data"), store.RedisOptions{Logger: log})
	if err != nil {
		return err
	}
	defer srv.Stop(ctx)

	ceilingP16, err := redisBenchmark(srv, benchN, 16)
	if err != nil {
		return err
	}
	ceilingP1, err := redisBenchmark(srv, benchN/4, 1)
	if err != nil {
		return err
	}

	cat, err := rules.Default()
	if err != nil {
		return err
	}
	root := filepath.Join(dir, "import")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "policy.txt"), []byte("隐私政策"), 0o644); err != nil {
		return err
	}
	st := store.NewStore(srv.Client(), "")
	reg := targets.New(st, targets.Options{ImportRoot: root, Catalogue: cat, Kinds: pipeline.Kinds(cat)})
	for i := range nTargets {
		_, err := reg.Put(ctx, scanner.Target{ID: fmt.Sprintf("t%04d", i), Kind: scanner.TargetApp, Name: "bench",
			Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: "policy.txt"}}})
		if err != nil {
			return err
		}
	}
	ev, err := evidence.Open(filepath.Join(dir, "evidence"), evidence.Options{Tool: "bench"})
	if err != nil {
		return err
	}

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	full, err := measure(ctx, srv, st, nJobs, nTargets, pools, conc, func(i int) worker.Deps {
		runner := &pipeline.Runner{Catalogue: cat, Inspectors: []scanner.Inspector{trivial{}}, Evidence: ev, Store: st, Log: quiet}
		return worker.Deps{Store: st, Targets: reg, Runner: runner, Name: fmt.Sprintf("bench-%d", i), Log: log}
	}, "scan")
	if err != nil {
		return err
	}
	queueOnly, err := measure(ctx, srv, st, nJobs, nTargets, pools, conc, func(i int) worker.Deps {
		return worker.Deps{Store: st, Targets: reg, Name: fmt.Sprintf("queue-%d", i), Log: log,
			Run: func(context.Context, scanner.Target, string) (store.ScanRecord, error) {
				return store.ScanRecord{}, nil
			}}
	}, "queue")
	if err != nil {
		return err
	}
	_, recs, _ := st.RecentScans(ctx, 0, 1)
	if verbose {
		stats, _ := srv.Client().Info(ctx, "commandstats").Result()
		fmt.Println(stats)
	}
	fmt.Printf("bench/queue  %s/%s, %d CPUs, %d jobs over %d targets, %d pools x %d scans at once\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), nJobs, nTargets, pools, conc)
	fmt.Printf("  redis-benchmark XADD -P 16 (ceiling):      %10.0f XADD/s\n", ceilingP16)
	fmt.Printf("  redis-benchmark XADD -P 1:                 %10.0f XADD/s\n", ceilingP1)
	fmt.Printf("  enqueue (EnqueueJob, 8 writers):           %10.0f jobs/s\n", full.enqueue)
	fmt.Printf("  dispatch, whole scan pipeline:             %10.0f scans/s  (%.1f %% of XADD -P 16, %.1f %% of -P 1; %d records)\n",
		full.dispatch, 100*full.dispatch/ceilingP16, 100*full.dispatch/ceilingP1, recs)
	fmt.Printf("  dispatch, queue only (read, no-op, ack):   %10.0f jobs/s   (%.1f %% of XADD -P 16, %.1f %% of -P 1)\n",
		queueOnly.dispatch, 100*queueOnly.dispatch/ceilingP16, 100*queueOnly.dispatch/ceilingP1)
	fmt.Println("  goal: dispatch >= 25 % of XADD -P 16")
	return nil
}

// redisBenchmark runs redis-benchmark's XADD against the server and returns requests per second.
func redisBenchmark(srv *store.RedisServer, n, pipelineDepth int) (float64, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark not found (apt-get install redis-tools): %w", err)
	}
	stream := "bench:xadd:" + strconv.Itoa(pipelineDepth)
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "-a", srv.Password(),
		"-n", strconv.Itoa(n), "-c", "50", "-P", strconv.Itoa(pipelineDepth), "--csv",
		"XADD", stream, "*", "f", "v")
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w", err)
	}
	defer srv.Client().Del(context.Background(), stream)
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark output: %w\n%s", err, out)
	}
	for _, r := range rows {
		if len(r) >= 2 && strings.HasPrefix(r[0], "XADD") {
			return strconv.ParseFloat(r[1], 64)
		}
	}
	return 0, fmt.Errorf("no XADD row in redis-benchmark output:\n%s", out)
}

type rates struct{ enqueue, dispatch float64 }

// measure enqueues every job first (timed on its own), then starts the pools and times until the
// stream is empty and every job is acknowledged.
func measure(ctx context.Context, srv *store.RedisServer, st *store.Store, nJobs, nTargets, pools int,
	conc int, deps func(i int) worker.Deps, tag string) (rates, error) {
	var r rates
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < nJobs; i += 8 {
				j := store.Job{ID: fmt.Sprintf("%s-%07d", tag, i), TargetID: fmt.Sprintf("t%04d", i%nTargets), RequestedBy: "bench"}
				if _, err := st.EnqueueJob(ctx, j); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return r, err
	default:
	}
	r.enqueue = float64(nJobs) / time.Since(start).Seconds()

	if profile != "" && tag == "scan" {
		f, err := os.Create(profile)
		if err != nil {
			return r, err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	start = time.Now()
	var ps []*worker.Pool
	for i := range pools {
		p, err := worker.StartPool(ctx, deps(i), conc)
		if err != nil {
			return r, err
		}
		ps = append(ps, p)
	}
	for {
		n, err := st.JobCount(ctx)
		if err != nil {
			return r, err
		}
		if n == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.dispatch = float64(nJobs) / time.Since(start).Seconds()
	var done int64
	for _, p := range ps {
		_ = p.Stop(ctx)
		done += p.Stats().Done
	}
	if done != int64(nJobs) {
		return r, fmt.Errorf("%s: %d of %d jobs done", tag, done, nJobs)
	}
	return r, nil
}
