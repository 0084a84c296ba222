// Command apk measures pilmon's APK inspection beside the pipelines peers use for the same facts,
// in one run on the same files:
//
//	go run ./bench/apk [-n 3] [-androguard=true] [-big-mib 100] [-big-classes 60000] [-big-dex 12]
//	    [-big-n N] [-big-androguard=false] [-seed 1] [APK…]
//
// Columns, per APK:
//   - floor: inflating every entry with archive/zip and nothing else (Go, in process);
//   - pilmon: apkinspect.Inspector.Inspect with the embedded catalogue and a discard sink that
//     only hashes (SHA-256) what it is given, i.e. the inspection without evidence storage;
//   - pilmon+store: the same with a throwaway evidence.Store in a temporary directory (SHA-256 +
//     SM3, fsync, sidecar), which is what `pilmon scan` pays;
//   - aapt+dexdump: the Exodus way: unzip every classes*.dex (Go, in process), then `aapt dump
//     badging` and `dexdump -d` over every dex, output discarded (Exodus also parses it: we
//     leave that out, in the peers' favour);
//   - androguard: `AnalyzeAPK(path)` in /usr/bin/python3, timed around the call only (the
//     interpreter start and the import are printed apart, in androguard's favour).
//
// Every figure is the median of -n runs, as CPU time (user+system, of this process for in-process
// work, of the child for tools; androguard reports its own process_time) and wall-clock time. CPU
// time is the one the goals are judged on: on a shared machine wall time mostly measures the
// neighbours. The ratios are over the totals of the APKs that every pipeline read.
//
// Then an APK of at least -big-mib MiB is generated (see generate): -big-classes distinct classes
// written by samplegen/dexgen over -big-dex dex files, a manifest naming generated components,
// and deflated and stored assets up to the size. Every pipeline runs on it, the in-process ones
// in a child that reports its peak RSS (VmHWM); the tools' peak RSS is their rusage maximum.
//
// Goals (issue 17), printed beside each figure: full inspection ≤ 3× the inflate floor, ≥ 5×
// faster than aapt + dexdump -d, ≥ 20× faster than androguard's AnalyzeAPK (which also builds
// cross-references), and peak RSS ≤ 256 MiB on a generated APK of ≥ 100 MiB with ≥ 60,000
// classes in ≥ 8 dex files.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"pilmon/apkinspect"
	"pilmon/apkinspect/dex"
	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/samplegen/apkbuild"
	"pilmon/samplegen/dexgen"
	"pilmon/scanner"
)

const childEnv = "PILMON_BENCH_APK_CHILD"

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		child(mode, os.Args[1])
		return
	}
	n := flag.Int("n", 3, "runs per pipeline and APK (the median is reported)")
	useAG := flag.Bool("androguard", true, "run androguard's AnalyzeAPK (about 10 CPU-seconds per MiB of dex)")
	var big bigSpec
	flag.IntVar(&big.mib, "big-mib", 100, "size of the generated APK in MiB (0: skip it)")
	flag.IntVar(&big.classes, "big-classes", 60000, "distinct classes in the generated APK")
	flag.IntVar(&big.dexFiles, "big-dex", 12, "dex files the generated classes are split over")
	flag.IntVar(&big.n, "big-n", 0, "runs per pipeline on the generated APK (0: as -n)")
	flag.Uint64Var(&big.seed, "seed", 1, "seed of the generated APK")
	flag.BoolVar(&big.androguard, "big-androguard", false, "also run androguard on the generated APK (minutes)")
	flag.StringVar(&big.keep, "big-out", "", "also write the generated APK to this path")
	flag.StringVar(&big.reuse, "big-in", "", "measure this APK (one -big-out wrote) instead of generating it again; its shape is read back and checked as usual")
	flag.Int64Var(&big.agCPU, "big-androguard-cpu", 900, "CPU seconds androguard may use on the generated APK (0: no limit); past it the figure is a lower bound")
	agMem := flag.Int64("big-androguard-mem", 12, "GiB of address space androguard may use on the generated APK (0: no limit)")
	flag.Parse()
	big.agMem = *agMem << 30
	if big.n <= 0 {
		big.n = *n
	}
	if err := run(*n, *useAG, big, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "bench/apk:", err)
		os.Exit(1)
	}
}

// cost is one measurement; rssKiB is the peak RSS of the process that did the work, when known.
// stopped says why the work was stopped unfinished (a limit): its figures are then lower bounds.
type cost struct {
	wall, cpu time.Duration
	rssKiB    int64
	stopped   string
	err       error
}

func (c cost) String() string {
	if c.err != nil {
		return "err"
	}
	return fmt.Sprintf("%s (%s)", ms(c.cpu), ms(c.wall))
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }

func median(cs []cost) cost {
	for _, c := range cs {
		if c.err != nil {
			return c
		}
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].cpu < cs[j].cpu })
	m := cs[len(cs)/2]
	w := make([]time.Duration, len(cs))
	for i, c := range cs {
		w[i] = c.wall
	}
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	m.wall = w[len(w)/2]
	for _, c := range cs {
		m.rssKiB = max(m.rssKiB, c.rssKiB) // the peak over the runs
	}
	return m
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// inProc times f in this process; a GC first so that one pipeline does not pay for another's garbage.
func inProc(f func() error) cost {
	runtime.GC()
	c0, t0 := selfCPU(), time.Now()
	err := f()
	return cost{wall: time.Since(t0), cpu: selfCPU() - c0, err: err}
}

func childCPU(cmd *exec.Cmd) time.Duration {
	if cmd.ProcessState == nil {
		return 0
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// childRSS is the peak RSS of a finished child in KiB (Linux reports ru_maxrss in KiB).
func childRSS(cmd *exec.Cmd) int64 {
	if cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss
	}
	return 0
}

type pipeline struct {
	name string
	run  func(apk string) cost
}

type row struct {
	apk   string
	size  int64
	costs map[string]cost
}

func run(n int, useAG bool, big bigSpec, apks []string) error {
	cat, err := rules.Default()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pilmon-bench-apk-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if len(apks) == 0 {
		apks, err = corpusAPKs()
		if err != nil {
			return err
		}
	}
	for _, t := range []string{"aapt", "dexdump"} {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s not installed (Debian package %s)", t, t)
		}
	}
	if useAG {
		if out, err := exec.Command("/usr/bin/python3", "-c", "import androguard.misc").CombinedOutput(); err != nil {
			fmt.Printf("androguard not importable (%v: %s); its column is skipped\n", err, bytes.TrimSpace(out))
			useAG = false
		}
	}
	store, err := evidence.Open(filepath.Join(tmp, "evidence"), evidence.Options{})
	if err != nil {
		return err
	}
	insp := apkinspect.New(cat, apkinspect.Options{})
	pipes := []pipeline{
		{"floor", func(p string) cost { return inProc(func() error { return floor(p) }) }},
		{"pilmon", func(p string) cost { return inProc(func() error { return inspect(insp, p, hashSink{}) }) }},
		{"pilmon+store", func(p string) cost { return inProc(func() error { return inspect(insp, p, store) }) }},
		{"aapt+dexdump", func(p string) cost { return exodus(p, tmp) }},
	}
	if useAG {
		pipes = append(pipes, pipeline{"androguard", androguard})
	}
	names := make([]string, len(pipes))
	for i, p := range pipes {
		names[i] = p.name
	}

	fmt.Printf("bench/apk: %d APKs, median of %d runs; GOMAXPROCS %d, load average %s\n", len(apks), n, runtime.GOMAXPROCS(0), loadavg())
	fmt.Println("cells: CPU ms (wall ms); CPU = user+system time of the work")
	var rows []row
	for _, p := range apks {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		r := row{apk: filepath.Base(p), size: st.Size(), costs: map[string]cost{}}
		runs := map[string][]cost{}
		for i := 0; i < n; i++ {
			for _, pl := range pipes {
				if pl.name == "androguard" && i > 0 {
					continue // one run: seconds per APK, and its own variance is small beside the gap
				}
				runs[pl.name] = append(runs[pl.name], pl.run(p))
			}
		}
		for k, v := range runs {
			r.costs[k] = median(v)
		}
		fmt.Fprintf(os.Stderr, "  %s done\n", r.apk)
		rows = append(rows, r)
	}
	printTable(rows, names)
	if len(agImport) > 0 {
		var c, w []float64
		for _, t := range agImport {
			c, w = append(c, t.ImportCPU), append(w, t.ImportWall)
		}
		sort.Float64s(c)
		sort.Float64s(w)
		fmt.Printf("androguard: interpreter start and import, not counted above: median %.0f ms CPU (%.0f ms wall) per run\n", c[len(c)/2]*1e3, w[len(w)/2]*1e3)
	}
	printRatios(rows, names)

	if big.mib > 0 {
		big.androguard = big.androguard && useAG
		if err := bigAPK(tmp, big, pipes); err != nil {
			return fmt.Errorf("generated APK: %w", err)
		}
	}
	return nil
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func printTable(rows []row, names []string) {
	tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "APK\tKiB\t")
	for _, n := range names {
		fmt.Fprint(tw, n+"\t")
	}
	fmt.Fprintln(tw, "dexdump/pilmon\tandroguard/pilmon\tpilmon/floor\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%d\t", r.apk, r.size>>10)
		for _, n := range names {
			fmt.Fprint(tw, r.costs[n].String()+"\t")
		}
		p := r.costs["pilmon"]
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", ratio(r.costs["aapt+dexdump"], p), ratio(r.costs["androguard"], p), ratio(p, r.costs["floor"]))
	}
	tw.Flush()
}

func ratio(a, b cost) string {
	if a.err != nil || b.err != nil || a.cpu == 0 || b.cpu == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f×", float64(a.cpu)/float64(b.cpu))
}

// printRatios sums over the APKs every pipeline read and checks the goals.
func printRatios(rows []row, names []string) {
	tot := map[string]cost{}
	used := 0
	for _, r := range rows {
		ok := true
		for _, n := range names {
			if c, has := r.costs[n]; !has || c.err != nil {
				ok = false
			}
		}
		if !ok {
			continue
		}
		used++
		for _, n := range names {
			t := tot[n]
			t.cpu += r.costs[n].cpu
			t.wall += r.costs[n].wall
			tot[n] = t
		}
	}
	if used == 0 {
		fmt.Printf("\nno APK was read by every pipeline: no totals, no ratios\n")
		return
	}
	fmt.Printf("\ntotals over the %d of %d APKs every pipeline read: ", used, len(rows))
	for _, n := range names {
		fmt.Printf("%s %s ms CPU (%s wall); ", n, ms(tot[n].cpu), ms(tot[n].wall))
	}
	fmt.Println()
	for _, p := range []string{"pilmon", "pilmon+store"} {
		pc := tot[p]
		check := func(label string, got float64, goal string, pass bool) {
			verdict := "MET"
			if !pass {
				verdict = "NOT MET"
			}
			fmt.Printf("  %-14s %-34s %6.1f×  goal %s  %s\n", p, label, got, goal, verdict)
		}
		div := func(a, b time.Duration) float64 {
			if b == 0 {
				return 0
			}
			return float64(a) / float64(b)
		}
		for _, kind := range []string{"CPU", "wall"} {
			pick := func(c cost) time.Duration {
				if kind == "CPU" {
					return c.cpu
				}
				return c.wall
			}
			r := div(pick(tot["aapt+dexdump"]), pick(pc))
			check("faster than aapt+dexdump ("+kind+")", r, "≥ 5×", r >= 5)
			if _, ok := tot["androguard"]; ok {
				r = div(pick(tot["androguard"]), pick(pc))
				check("faster than androguard ("+kind+")", r, "≥ 20×", r >= 20)
			}
			r = div(pick(pc), pick(tot["floor"]))
			check("time of the floor ("+kind+")", r, "≤ 3×", r <= 3)
		}
	}
}

// corpusAPKs lists ../shared/corpus/apks (or $PILMON_SHARED/corpus/apks) APKs that parse: a
// readable zip whose every entry inflates, with a manifest and at least one dex.
func corpusAPKs() ([]string, error) {
	shared := os.Getenv("PILMON_SHARED")
	if shared == "" {
		dir, _ := os.Getwd()
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				shared = filepath.Join(dir, "..", "shared")
				break
			}
			p := filepath.Dir(dir)
			if p == dir {
				return nil, errors.New("go.mod not found above the working directory; pass APK paths or set PILMON_SHARED")
			}
			dir = p
		}
	}
	all, _ := filepath.Glob(filepath.Join(shared, "corpus", "apks", "*.apk"))
	var out []string
	for _, p := range all {
		if err := floor(p); err != nil {
			fmt.Fprintf(os.Stderr, "skipped %s: %v\n", filepath.Base(p), err)
			continue
		}
		zr, _ := zip.OpenReader(p)
		man, dx := false, false
		for _, f := range zr.File {
			man = man || f.Name == "AndroidManifest.xml"
			dx = dx || dex.IsDexName(f.Name)
		}
		zr.Close()
		if !man || !dx {
			fmt.Fprintf(os.Stderr, "skipped %s: no manifest or no dex\n", filepath.Base(p))
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no parseable APK under %s/corpus/apks", shared)
	}
	return out, nil
}

// floor inflates every entry and nothing else.
func floor(p string) error {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return err
	}
	defer zr.Close()
	buf := make([]byte, 64<<10)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		_, err = io.CopyBuffer(io.Discard, rc, buf)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
	}
	return nil
}

// hashSink stores nothing: it hashes what it is given, which the report needs for its references.
type hashSink struct{}

func (hashSink) Put(r io.Reader, _ evidence.Meta) (evidence.Ref, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return evidence.Ref{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, err
}

func inspect(in *apkinspect.Inspector, p string, sink scanner.EvidenceSink) error {
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceAPK, Locator: p}, sink)
	if rep.Status == scanner.StatusFailed {
		return fmt.Errorf("%v", rep.Errors)
	}
	return nil
}

// exodus unzips the dex files, then runs aapt dump badging and dexdump -d on each.
func exodus(p, tmp string) cost {
	dir, err := os.MkdirTemp(tmp, "exodus-")
	if err != nil {
		return cost{err: err}
	}
	defer os.RemoveAll(dir)
	var dexes []string
	var cpu time.Duration
	var rss int64
	c := inProc(func() error {
		zr, err := zip.OpenReader(p)
		if err != nil {
			return err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if !dex.IsDexName(f.Name) {
				continue
			}
			rc, err := f.Open()
			if err != nil {
				return err
			}
			out := filepath.Join(dir, f.Name)
			w, err := os.Create(out)
			if err == nil {
				_, err = io.Copy(w, rc)
				w.Close()
			}
			rc.Close()
			if err != nil {
				return err
			}
			dexes = append(dexes, out)
		}
		return nil
	})
	if c.err != nil {
		return c
	}
	t0 := time.Now()
	cmds := [][]string{{"aapt", "dump", "badging", p}}
	for _, d := range dexes {
		cmds = append(cmds, []string{"dexdump", "-d", d})
	}
	for _, a := range cmds {
		cmd := exec.Command(a[0], a[1:]...)
		cmd.Stdout = io.Discard
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cpu += childCPU(cmd)
		rss = max(rss, childRSS(cmd))
		if err != nil {
			return cost{err: fmt.Errorf("%s: %v: %s", strings.Join(a, " "), err, firstLine(stderr.String()))}
		}
	}
	return cost{wall: c.wall + time.Since(t0), cpu: c.cpu + cpu, rssKiB: rss}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

const agScript = `
import json, os, resource, sys, time
cpu, mem = int(os.environ.get("PILMON_AG_CPU", "0")), int(os.environ.get("PILMON_AG_MEM", "0"))
if cpu > 0:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
if mem > 0:
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
t0, c0 = time.perf_counter(), time.process_time()
from androguard.misc import AnalyzeAPK
t1, c1 = time.perf_counter(), time.process_time()
AnalyzeAPK(sys.argv[1])
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_wall": t1 - t0, "import_cpu": c1 - c0, "wall": t2 - t1, "cpu": c2 - c1}))
`

type agTimes struct {
	ImportWall float64 `json:"import_wall"`
	ImportCPU  float64 `json:"import_cpu"`
	Wall       float64 `json:"wall"`
	CPU        float64 `json:"cpu"`
}

var agImport []agTimes

// agLimit bounds androguard: the CPU seconds and the address space (bytes) it may use; 0 for
// none. bigAPK sets it: on the generated APK androguard takes many CPU-minutes and GiB.
var agLimit struct{ cpuSec, memBytes int64 }

func androguard(p string) cost {
	cmd := exec.Command("/usr/bin/python3", "-c", agScript, p)
	cmd.Env = append(os.Environ(), fmt.Sprintf("PILMON_AG_CPU=%d", agLimit.cpuSec), fmt.Sprintf("PILMON_AG_MEM=%d", agLimit.memBytes))
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		if agLimit.cpuSec > 0 || agLimit.memBytes > 0 {
			// Stopped at a limit (SIGXCPU, or a MemoryError): what it used until then is a lower
			// bound of what the analysis costs.
			why := "CPU limit"
			if strings.Contains(stderr.String(), "MemoryError") {
				why = "memory limit"
			}
			return cost{wall: time.Since(t0), cpu: childCPU(cmd), rssKiB: childRSS(cmd), stopped: why}
		}
		return cost{err: fmt.Errorf("%v: %s", err, firstLine(stderr.String()))}
	}
	var t agTimes
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &t); err != nil {
		return cost{err: fmt.Errorf("androguard output: %v", err)}
	}
	agImport = append(agImport, t)
	return cost{wall: time.Duration(t.Wall * 1e9), cpu: time.Duration(t.CPU * 1e9), rssKiB: childRSS(cmd)}
}

// bigSpec is what -big-* asks for.
type bigSpec struct {
	mib, classes, dexFiles, n int
	seed                      uint64
	androguard                bool
	keep, reuse               string
	agCPU, agMem              int64 // androguard's limits on it: CPU seconds, bytes of address space
}

// The generated APK's goals (issue 17).
const (
	goalBigMiB     = 100
	goalBigClasses = 60000
	goalBigDex     = 8
	goalRSSMiB     = 256
)

func verdict(pass bool) string {
	if pass {
		return "MET"
	}
	return "NOT MET"
}

// bigAPK generates the APK and measures every pipeline on it (median of spec.n runs; androguard
// once), with each one's peak RSS.
func bigAPK(tmp string, spec bigSpec, pipes []pipeline) error {
	out := filepath.Join(tmp, "generated.apk")
	t0 := time.Now()
	var sh shape
	var err error
	if spec.reuse != "" {
		// Generation takes minutes of CPU; an APK written by -big-out is the same program
		// (the shape goals below are checked on what is read back either way).
		out = spec.reuse
		if sh, err = readShape(out); err != nil {
			return err
		}
		sh.how = "not generated: " + out + " (-big-in)"
	} else if sh, err = generate(tmp, out, spec); err != nil {
		return err
	}
	fmt.Printf("\ngenerated APK (%.0f s to build): %s\n", time.Since(t0).Seconds(), sh.how)
	if spec.keep != "" {
		if err := copyFile(out, spec.keep); err != nil {
			return err
		}
	}
	fmt.Printf("  read back from the file: %.1f MiB, %d dex files, %d classes (class_defs), %.1f MiB of dex\n",
		float64(sh.size)/(1<<20), sh.dexFiles, sh.classes, float64(sh.dexBytes)/(1<<20))
	fmt.Printf("  shape goals: size %.1f MiB ≥ %d %s; classes %d ≥ %d %s; dex files %d ≥ %d %s\n",
		float64(sh.size)/(1<<20), goalBigMiB, verdict(sh.size >= goalBigMiB<<20),
		sh.classes, goalBigClasses, verdict(sh.classes >= goalBigClasses),
		sh.dexFiles, goalBigDex, verdict(sh.dexFiles >= goalBigDex))

	// Rows are printed as they finish (androguard takes many minutes on this APK).
	agLimit.cpuSec, agLimit.memBytes = spec.agCPU, spec.agMem
	defer func() { agLimit.cpuSec, agLimit.memBytes = 0, 0 }()
	costs := map[string]cost{}
	row := "  %-14s %12s %12s %13s\n"
	fmt.Printf(row, "pipeline", "CPU ms", "wall ms", "peak RSS MiB")
	for _, pl := range pipes {
		if pl.name == "androguard" && !spec.androguard {
			fmt.Printf(row, "androguard", "skipped", "(-big-androguard)", "")
			continue
		}
		runs := spec.n
		if pl.name == "androguard" {
			runs = 1
		}
		var cs []cost
		for i := 0; i < runs; i++ {
			switch pl.name {
			case "floor", "pilmon", "pilmon+store":
				// In a child, so that the peak is this pipeline's alone.
				c, _ := runChild(pl.name, out, filepath.Dir(out))
				cs = append(cs, c)
			default:
				cs = append(cs, pl.run(out))
			}
		}
		c := median(cs)
		costs[pl.name] = c
		if c.err != nil {
			fmt.Printf("  %-14s err: %v\n", pl.name, c.err)
			continue
		}
		if c.stopped != "" {
			fmt.Printf(row+"    stopped at the %s (-big-androguard-cpu, -big-androguard-mem): lower bounds, interpreter start included\n",
				pl.name, "≥ "+ms(c.cpu), "≥ "+ms(c.wall), fmt.Sprintf("≥ %.1f", float64(c.rssKiB)/1024), c.stopped)
			continue
		}
		fmt.Printf(row, pl.name, ms(c.cpu), ms(c.wall), fmt.Sprintf("%.1f", float64(c.rssKiB)/1024))
	}
	fmt.Printf("  (median of %d runs; androguard one run; peak RSS the largest of the runs)\n", spec.n)
	for _, p := range []string{"pilmon", "pilmon+store"} {
		pc := costs[p]
		if pc.err != nil || pc.cpu == 0 {
			continue
		}
		rss := float64(pc.rssKiB) / 1024
		fmt.Printf("  %-14s %-34s %6.1f MiB  goal ≤ %d MiB  %s\n", p, "peak RSS", rss, goalRSSMiB, verdict(rss <= goalRSSMiB))
		for _, kind := range []string{"CPU", "wall"} {
			pick := func(c cost) float64 {
				if kind == "CPU" {
					return float64(c.cpu)
				}
				return float64(c.wall)
			}
			if f := costs["floor"]; f.err == nil && f.cpu > 0 {
				r := pick(pc) / pick(f)
				fmt.Printf("  %-14s %-34s %6.1f×  goal ≤ 3×  %s\n", p, "time of the floor ("+kind+")", r, verdict(r <= 3))
			}
			if e, ok := costs["aapt+dexdump"]; ok && e.err == nil {
				r := pick(e) / pick(pc)
				fmt.Printf("  %-14s %-34s %6.1f×  goal ≥ 5×  %s\n", p, "faster than aapt+dexdump ("+kind+")", r, verdict(r >= 5))
			}
			if a, ok := costs["androguard"]; ok && a.err == nil {
				r := pick(a) / pick(pc)
				if a.stopped != "" {
					// A lower bound meets the goal when it alone reaches it.
					v := verdict(true)
					if r < 20 {
						v = "undecided (androguard stopped first)"
					}
					fmt.Printf("  %-14s %-34s ≥%5.1f×  goal ≥ 20×  %s\n", p, "faster than androguard ("+kind+")", r, v)
					continue
				}
				fmt.Printf("  %-14s %-34s %6.1f×  goal ≥ 20×  %s\n", p, "faster than androguard ("+kind+")", r, verdict(r >= 20))
			}
		}
	}
	return nil
}

// shape is what the generated file holds, read back from it.
type shape struct {
	how               string
	size, dexBytes    int64
	dexFiles, classes int
}

// bigOptions is the program of the generated APK: a realistic shape per class (six virtual and
// two static methods besides the constructors, about ten methods per class as in real apps;
// chains of four classes that override each other's methods; calls to other classes, mostly in
// the same dex file and some into the next, with cycles; Log/String/StringBuilder/TextUtils
// calls; a string constant per method; one method in 97 calling a sensitive API of the catalogue
// with its constant argument; every tenth class a Runnable).
func bigOptions(spec bigSpec) dexgen.Options {
	return dexgen.Options{Seed: spec.seed, Package: "cn.example.bigapp", Classes: spec.classes, DexFiles: spec.dexFiles,
		Methods: 6, Statics: 2, Depth: 4, Calls: 2, Cyclic: true, Framework: 2, Strings: 1, SensitiveEvery: 97, Runnable: 10}
}

// bigManifest declares generated classes as the Application, the launcher activity, a service
// and a BOOT_COMPLETED receiver, so that entry points lead into the generated code.
func bigManifest(o dexgen.Options) (string, error) {
	comp, err := o.Components()
	if err != nil {
		return "", err
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="` + o.Package + `" android:versionCode="1" android:versionName="1.0">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
    <uses-permission android:name="android.permission.INTERNET"/>
    <uses-permission android:name="android.permission.READ_PHONE_STATE"/>
    <uses-permission android:name="android.permission.ACCESS_FINE_LOCATION"/>
    <uses-permission android:name="android.permission.RECEIVE_BOOT_COMPLETED"/>
    <application android:name="` + comp["application"] + `" android:label="bench">
        <activity android:name="` + comp["activity"] + `" android:exported="true">
            <intent-filter>
                <action android:name="android.intent.action.MAIN"/>
                <category android:name="android.intent.category.LAUNCHER"/>
            </intent-filter>
        </activity>
        <service android:name="` + comp["service"] + `" android:exported="false"/>
        <receiver android:name="` + comp["receiver"] + `" android:exported="true">
            <intent-filter>
                <action android:name="android.intent.action.BOOT_COMPLETED"/>
            </intent-filter>
        </receiver>
    </application>
</manifest>
`, nil
}

// generate writes the generated APK: aapt's manifest and resource table, the dex files dexgen
// writes one at a time (deflated), a deflated text asset of a sixth of the target (compresses
// about 3:1, like real JSON and text assets), and a stored random asset that fills the file up
// to the target (as images and media are). Unsigned, as a repackager hands an APK over.
func generate(tmp, out string, spec bigSpec) (shape, error) {
	o := bigOptions(spec)
	man, err := bigManifest(o)
	if err != nil {
		return shape{}, err
	}
	if _, err := exec.LookPath("zipalign"); err != nil {
		return shape{}, errors.New("zipalign not installed (Debian package zipalign), needed to build the manifest")
	}
	base, err := apkbuild.Build(tmp, apkbuild.Spec{Manifest: man})
	if err != nil {
		return shape{}, fmt.Errorf("manifest: %w", err)
	}
	zr, err := zip.OpenReader(base)
	if err != nil {
		return shape{}, err
	}
	defer zr.Close()
	f, err := os.Create(out)
	if err != nil {
		return shape{}, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	for _, e := range zr.File {
		if err := zw.Copy(e); err != nil {
			return shape{}, err
		}
	}
	st, err := dexgen.Each(o, func(name string, b []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err == nil {
			_, err = w.Write(b)
		}
		return err
	})
	if err != nil {
		return shape{}, err
	}
	target := int64(spec.mib) << 20
	rng := rand.New(rand.NewChaCha8([32]byte{'p', 'i', 'l', 'm', 'o', 'n', byte(spec.seed)}))
	words := strings.Fields("隐私 政策 用户 设备 标识 location imei privacy policy sdk analytics push config json true false null 0 1 2 3 http https com cn api v1 v2")
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "assets/data/big.json", Method: zip.Deflate})
	if err != nil {
		return shape{}, err
	}
	textSize := target / 6
	var line []byte
	for written := int64(0); written < textSize; {
		line = line[:0]
		for k := 0; k < 12; k++ {
			line = append(line, words[rng.IntN(len(words))]...)
			line = append(line, ' ')
		}
		line = append(line, '\n')
		n, err := w.Write(line)
		if err != nil {
			return shape{}, err
		}
		written += int64(n)
	}
	if err := bw.Flush(); err != nil {
		return shape{}, err
	}
	pos, _ := f.Seek(0, io.SeekCurrent)
	fill := max(target-pos+64<<10, 0) // the deflater holds back a little; the directory adds some
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "assets/res/big.bin", Method: zip.Store})
	if err != nil {
		return shape{}, err
	}
	buf := make([]byte, 1<<20)
	for left := fill; left > 0; {
		n := min(left, int64(len(buf)))
		for i := 0; i < int(n); i += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && i+k < int(n); k++ {
				buf[i+k] = byte(v >> (8 * k))
			}
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return shape{}, err
		}
		left -= n
	}
	if err := zw.Close(); err != nil {
		return shape{}, err
	}
	if err := bw.Flush(); err != nil {
		return shape{}, err
	}
	sh, err := readShape(out)
	if err != nil {
		return shape{}, err
	}
	sh.how = fmt.Sprintf("seed %d; samplegen/dexgen: %d classes of package %s (%d methods, %d invokes, %d sensitive-API call sites) "+
		"in %d dex files of %.1f MiB; manifest by aapt; %.1f MiB deflated text asset, %.1f MiB stored random asset",
		spec.seed, st.Classes, o.Package, st.Methods, st.Invokes, st.Sensitive, st.DexFiles, float64(st.Bytes)/(1<<20),
		float64(textSize)/(1<<20), float64(fill)/(1<<20))
	return sh, nil
}

func copyFile(from, to string) error {
	r, err := os.Open(from)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// readShape counts dex files, their bytes and their class_defs in the APK at p.
func readShape(p string) (shape, error) {
	st, err := os.Stat(p)
	if err != nil {
		return shape{}, err
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		return shape{}, err
	}
	defer zr.Close()
	sh := shape{size: st.Size()}
	for _, e := range zr.File {
		if !dex.IsDexName(e.Name) {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return shape{}, err
		}
		h := make([]byte, 0x70)
		_, err = io.ReadFull(rc, h)
		rc.Close()
		if err != nil {
			return shape{}, fmt.Errorf("%s: %w", e.Name, err)
		}
		sh.dexFiles++
		sh.dexBytes += int64(e.UncompressedSize64)
		sh.classes += int(binary.LittleEndian.Uint32(h[96:]))
	}
	return sh, nil
}

// runChild runs one in-process pipeline in a fresh copy of this program and reads its peak RSS.
func runChild(mode, apk, tmp string) (cost, int64) {
	exe, err := os.Executable()
	if err != nil {
		return cost{err: err}, 0
	}
	cmd := exec.Command(exe, apk)
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "PILMON_BENCH_TMP="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return cost{err: fmt.Errorf("%v: %s", err, firstLine(stderr.String()))}, 0
	}
	var r struct {
		WallNS, CPUNS int64
		HWMKiB        int64
	}
	if err := json.Unmarshal(outb, &r); err != nil {
		return cost{err: fmt.Errorf("child output %q: %v", outb, err)}, 0
	}
	return cost{wall: time.Duration(r.WallNS), cpu: time.Duration(r.CPUNS), rssKiB: r.HWMKiB}, r.HWMKiB
}

// child runs one pipeline once and prints its cost and VmHWM as JSON.
func child(mode, apk string) {
	var c cost
	switch mode {
	case "floor":
		c = inProc(func() error { return floor(apk) })
	case "pilmon", "pilmon+store":
		cat, err := rules.Default()
		if err != nil {
			c.err = err
			break
		}
		in := apkinspect.New(cat, apkinspect.Options{})
		var sink scanner.EvidenceSink = hashSink{}
		if mode == "pilmon+store" {
			dir, err := os.MkdirTemp(os.Getenv("PILMON_BENCH_TMP"), "child-store-")
			if err != nil {
				c.err = err
				break
			}
			defer os.RemoveAll(dir)
			s, err := evidence.Open(dir, evidence.Options{})
			if err != nil {
				c.err = err
				break
			}
			sink = s
		}
		c = inProc(func() error { return inspect(in, apk, sink) })
	default:
		c.err = fmt.Errorf("unknown mode %q", mode)
	}
	if c.err != nil {
		fmt.Fprintln(os.Stderr, c.err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]int64{"WallNS": int64(c.wall), "CPUNS": int64(c.cpu), "HWMKiB": vmHWM()})
}

func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
