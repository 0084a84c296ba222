// Command upserts measures how fast pilmon writes findings into a managed Redis, next to the
// ceiling redis-benchmark reaches with a trivial Lua script on the same server in the same run.
//
//	go run ./bench/upserts [-n 100000] [-batch 100] [-workers 8]
//
// The first figure is findings per second; UpsertBatch sends them 100 to one EVALSHA of the upsert
// script (hash, history, four index entries, evidence union), up to 1,000 per round trip. The
// ceiling is scripts per second of "return 1"; the second baseline, a no-op EVALSHA that receives as
// many bytes as one upsert sends, is the floor any script that must see the finding's bytes pays.
// Server CPU per operation (INFO cpu, main thread) is printed beside the rates because on a
// shared machine it varies less than they do. Goal: at least 30 % of the ceiling.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

func main() {
	n := flag.Int("n", 100000, "distinct findings to upsert")
	batch := flag.Int("batch", 100, "findings per pipelined UpsertBatch")
	workers := flag.Int("workers", 8, "concurrent writers")
	benchN := flag.Int("bench-n", 100000, "requests for redis-benchmark")
	flag.Parse()
	if err := run(*n, *batch, *workers, *benchN); err != nil {
		fmt.Fprintln(os.Stderr, "bench/upserts:", err)
		os.Exit(1)
	}
}

func run(n, batch, workers, benchN int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pilmon-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := store.StartRedis(ctx, dir, store.RedisOptions{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer srv.Stop(ctx)
	store := store.NewStore(srv.Client(), "")

	fs := make([]findings.Finding, n)
	for i := range fs {
		fs[i] = realisticFinding(i)
	}
	sample, _ := findings.MarshalCanonical(fs[0])

	srv.Client().ConfigResetStat(ctx)
	cpu0, in0 := serverCPU(srv), netInput(srv)
	first, err := timeUpserts(ctx, store, fs, batch, workers, "scan-1")
	if err != nil {
		return err
	}
	cpuFirst := (serverCPU(srv) - cpu0) / float64(n)
	bytesPerUpsert := (netInput(srv) - in0) / n
	splitFirst := commandSplit(srv, n)
	srv.Client().ConfigResetStat(ctx)
	// The same findings again from a later scan: the update path (evidence union, index moves).
	for i := range fs {
		fs[i].LastSeen = fs[i].LastSeen.Add(time.Hour)
		fs[i].EvidenceRefs = append(fs[i].EvidenceRefs, fmt.Sprintf("%064x", i+1<<40))
	}
	cpu0 = serverCPU(srv)
	again, err := timeUpserts(ctx, store, fs, batch, workers, "scan-2")
	if err != nil {
		return err
	}
	cpuAgain := (serverCPU(srv) - cpu0) / float64(n)
	splitAgain := commandSplit(srv, n)
	// The same scan delivered again (a worker retrying after a lost acknowledgement).
	cpu0 = serverCPU(srv)
	redelivered, err := timeUpserts(ctx, store, fs, batch, workers, "scan-2")
	if err != nil {
		return err
	}
	cpuRedelivered := (serverCPU(srv) - cpu0) / float64(n)
	counts, err := store.Counts(ctx)
	if err != nil {
		return err
	}
	if counts.Total != int64(n) {
		return fmt.Errorf("store holds %d findings after upserting %d", counts.Total, n)
	}
	mem, _ := srv.Client().Info(ctx, "memory").Result()

	cpu0 = serverCPU(srv)
	ceiling, err := redisBenchmark(srv, benchN, "eval", "return 1", "0")
	if err != nil {
		return err
	}
	cpuEval := (serverCPU(srv) - cpu0) / float64(benchN)
	// The fairest floor: a script that does nothing but receives as many bytes as one upsert sent
	// (measured on the server, total_net_input_bytes over the first pass), as noopArgs arguments.
	cpu0 = serverCPU(srv)
	floor, err := redisBenchmark(srv, benchN, noopArgs(srv, bytesPerUpsert)...)
	if err != nil {
		return err
	}
	cpuFloor := (serverCPU(srv) - cpu0) / float64(benchN)
	fmt.Printf("redis-server %s, GOMAXPROCS %d, %d findings of ~%d bytes canonical JSON, batches of %d, %d writers\n",
		serverVersion(srv), runtime.GOMAXPROCS(0), n, len(sample), batch, workers)
	fmt.Printf("%-52s %12.0f /s\n", "finding upserts, new (pipelined UpsertBatch)", first)
	fmt.Printf("%-52s %12.0f /s\n", "finding upserts, re-scan of the same findings", again)
	fmt.Printf("%-52s %12.0f /s\n", "finding upserts, re-delivery of the re-scan", redelivered)
	fmt.Printf("%-52s %12.0f /s\n", fmt.Sprintf("redis-benchmark -n %d -P 16 eval \"return 1\" 0", benchN), ceiling)
	fmt.Printf("%-52s %12.0f /s\n", fmt.Sprintf("redis-benchmark -P 16 evalsha no-op, %d B in %d args", bytesPerUpsert, noopArgCount), floor)
	fmt.Printf("%-52s %11.1f %%  (goal >= 30 %%)\n", "ratio new / ceiling", 100*first/ceiling)
	fmt.Printf("%-52s %11.1f %%\n", "ratio re-scan / ceiling", 100*again/ceiling)
	fmt.Printf("%-52s %11.1f %%\n", "ratio new / no-op with the same bytes", 100*first/floor)
	fmt.Printf("%-52s %12s\n", "redis used_memory", infoField(mem, "used_memory_human"))
	// Wall-clock rates depend on what else the machine runs (here the Go writers share the cores
	// with the server); the server's own CPU time per operation does not.
	fmt.Printf("server CPU per operation: upsert new %.1f µs, re-scan %.1f µs, re-delivery %.1f µs, eval \"return 1\" %.2f µs, no-op with the same bytes %.2f µs\n",
		cpuFirst*1e6, cpuAgain*1e6, cpuRedelivered*1e6, cpuEval*1e6, cpuFloor*1e6)
	fmt.Printf("commandstats µs per upsert, new:     %s\n", splitFirst)
	fmt.Printf("commandstats µs per upsert, re-scan: %s\n", splitAgain)
	fmt.Printf("%-52s %11.1f %%\n", "CPU-bound ratio new (eval CPU / upsert CPU)", 100*cpuEval/cpuFirst)
	fmt.Printf("%-52s %11.1f %%\n", "CPU-bound ratio re-scan", 100*cpuEval/cpuAgain)
	return nil
}

func timeUpserts(ctx context.Context, store *store.Store, fs []findings.Finding, batch, workers int, scan string) (float64, error) {
	work := make(chan []findings.Finding)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if _, err := store.UpsertBatch(ctx, b, scan); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < len(fs); i += batch {
		work <- fs[i:min(i+batch, len(fs))]
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return float64(len(fs)) / elapsed.Seconds(), nil
}

// noopArgCount is how many arguments the no-op baseline spreads an upsert's bytes over (an upsert
// sends about ten per finding).
const noopArgCount = 10

// noopArgs is the redis-benchmark command line of an EVALSHA of "return 1" whose request is about
// size bytes long, like one upsert's.
func noopArgs(srv *store.RedisServer, size int) []string {
	sha, _ := srv.Client().ScriptLoad(context.Background(), "return 1").Result()
	args := []string{"evalsha", sha, "0"}
	// RESP framing: *N\r\n, then $len\r\n…\r\n per argument (about 9 bytes each).
	framing := 4 + 9*3 + len("evalsha") + len(sha) + 1
	per := max(1, (size-framing)/noopArgCount-9)
	for i := range noopArgCount {
		args = append(args, strings.Repeat(string(rune('a'+i)), per))
	}
	return args
}

// redisBenchmark runs redis-benchmark with the given command against the server and returns its
// requests per second.
func redisBenchmark(srv *store.RedisServer, n int, command ...string) (float64, error) {
	bin, err := exec.LookPath("redis-benchmark")
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark not in PATH (Debian: apt-get install redis-tools): %w", err)
	}
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(srv.Port()), "-a", srv.Password(),
		"-n", strconv.Itoa(n), "-P", "16", "--csv"}
	cmd := exec.Command(bin, append(args, command...)...)
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %w", err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(rows) < 2 || len(rows[len(rows)-1]) < 2 {
		return 0, fmt.Errorf("redis-benchmark output not understood: %q", out)
	}
	return strconv.ParseFloat(rows[len(rows)-1][1], 64)
}

// serverCPU is the CPU time (user + system, seconds) the server's main thread has used.
func serverCPU(srv *store.RedisServer) float64 {
	info, _ := srv.Client().Info(context.Background(), "cpu").Result()
	u, _ := strconv.ParseFloat(infoField(info, "used_cpu_user_main_thread"), 64)
	s, _ := strconv.ParseFloat(infoField(info, "used_cpu_sys_main_thread"), 64)
	return u + s
}

// commandSplit is the server time per upsert by command (INFO commandstats since the last
// CONFIG RESETSTAT): the script call (evalsha, which includes the commands it runs) and the
// commands inside it, calls per upsert in brackets.
func commandSplit(srv *store.RedisServer, n int) string {
	info, _ := srv.Client().Info(context.Background(), "commandstats").Result()
	var parts []string
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		name, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd || name == "info" || name == "config|resetstat" || name == "ping" {
			continue
		}
		var calls, usec float64
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(v, 64)
			switch k {
			case "calls":
				calls = f
			case "usec":
				usec = f
			}
		}
		parts = append(parts, fmt.Sprintf("%s %.1f (%.2f)", name, usec/float64(n), calls/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// netInput is the number of bytes the server has read from clients.
func netInput(srv *store.RedisServer) int {
	info, _ := srv.Client().Info(context.Background(), "stats").Result()
	n, _ := strconv.Atoi(infoField(info, "total_net_input_bytes"))
	return n
}

func serverVersion(srv *store.RedisServer) string {
	info, _ := srv.Client().Info(context.Background(), "server").Result()
	return infoField(info, "redis_version")
}

func infoField(info, key string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return "?"
}

var base = time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)

// realisticFinding looks like what assess produces for an APK: two observations with attributes,
// two citations, bilingual summary and caveat, two evidence references. 500 targets, 40 rules.
func realisticFinding(i int) findings.Finding {
	target := fmt.Sprintf("app:com.example.app%03d", i%500)
	rule := fmt.Sprintf("rdff-3.%d", i%40)
	subject := fmt.Sprintf("telephony.getDeviceId@com.umeng.commonsdk.internal.utils.c%06d", i)
	apk := fmt.Sprintf("%064x", i)
	sev := []rules.Severity{"critical", "high", "medium", "low", "info"}[i%5]
	return findings.Finding{
		TargetID: target, RuleID: rule, RuleVersion: 1, Subject: subject, Severity: sev,
		LegalBasis: []rules.Citation{{Instrument: "rdff2019", Article: "3.1"}, {Instrument: "pipl", Article: "17"}},
		Summary: rules.Text{
			ZH: "应用在用户同意隐私政策前调用 TelephonyManager.getDeviceId 读取设备标识符（IMEI），属于未经同意收集个人信息。",
			EN: "The app reads the device identifier (IMEI) through TelephonyManager.getDeviceId before the user agrees to the privacy policy.",
		},
		Caveat: rules.Text{
			ZH: "静态分析无法确定调用发生的时机，需在测试机上确认。",
			EN: "Static analysis cannot tell when the call happens; confirm on a test phone.",
		},
		Observations: []scanner.Observation{
			{Kind: "apk.sensitive_api", Subject: subject,
				Attributes:   map[string]any{"api": "telephony.getDeviceId", "caller_class": "com.umeng.commonsdk.internal.utils.c", "pi": []string{"device_id"}, "sdk": "umeng_analytics"},
				EvidenceRefs: []string{apk}, Inspector: "apkinspect", InspectorVersion: "0.3.0"},
			{Kind: "apk.permission", Subject: "android.permission.READ_PHONE_STATE",
				Attributes:   map[string]any{"pi": []string{"device_id", "phone_number"}, "protection_level": "dangerous"},
				EvidenceRefs: []string{apk}, Inspector: "apkinspect", InspectorVersion: "0.3.0"},
		},
		EvidenceRefs: []string{apk, fmt.Sprintf("%064x", i+1<<32)},
		LastSeen:     base.Add(time.Duration(i) * time.Millisecond),
	}
}
