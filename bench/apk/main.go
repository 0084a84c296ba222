// Command apk measures pilmon's APK inspection beside the pipelines peers use for the same facts,
// in one run on the same files:
//
//	go run ./bench/apk [-n 3] [-androguard=true] [-big-mib 100] [-big-androguard=false] [APK…]
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
// Then a ~100 MiB APK is generated from the corpus APK with the most dex code (its entries, its
// dex files copied again as classes2.dex…, a stored random asset and a deflated text asset), and
// pilmon's inspection runs on it in a child process that reports its peak RSS (VmHWM).
//
// Goals (issue 4): ≥ 5× faster than aapt+dexdump, ≥ 50× faster than androguard, ≤ 2× the floor,
// peak RSS ≤ 256 MiB on a 100 MiB APK.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
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
	bigMiB := flag.Int("big-mib", 100, "size of the generated APK for the peak-RSS measurement (0: skip)")
	bigAG := flag.Bool("big-androguard", false, "also run androguard on the generated APK (minutes)")
	flag.Parse()
	if err := run(*n, *useAG, *bigMiB, *bigAG, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "bench/apk:", err)
		os.Exit(1)
	}
}

// cost is one measurement.
type cost struct {
	wall, cpu time.Duration
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

type pipeline struct {
	name string
	run  func(apk string) cost
}

type row struct {
	apk   string
	size  int64
	costs map[string]cost
}

func run(n int, useAG bool, bigMiB int, bigAG bool, apks []string) error {
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

	if bigMiB > 0 {
		if err := bigAPK(tmp, apks, bigMiB, bigAG && useAG, pipes); err != nil {
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
				check("faster than androguard ("+kind+")", r, "≥ 50×", r >= 50)
			}
			r = div(pick(pc), pick(tot["floor"]))
			check("time of the floor ("+kind+")", r, "≤ 2×", r <= 2)
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
		if err != nil {
			return cost{err: fmt.Errorf("%s: %v: %s", strings.Join(a, " "), err, firstLine(stderr.String()))}
		}
	}
	return cost{wall: c.wall + time.Since(t0), cpu: c.cpu + cpu}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

const agScript = `
import json, sys, time
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

func androguard(p string) cost {
	cmd := exec.Command("/usr/bin/python3", "-c", agScript, p)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return cost{err: fmt.Errorf("%v: %s", err, firstLine(stderr.String()))}
	}
	var t agTimes
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &t); err != nil {
		return cost{err: fmt.Errorf("androguard output: %v", err)}
	}
	agImport = append(agImport, t)
	return cost{wall: time.Duration(t.Wall * 1e9), cpu: time.Duration(t.CPU * 1e9)}
}

// bigAPK builds a ~mib MiB APK and measures every pipeline once on it, and pilmon's peak RSS.
func bigAPK(tmp string, apks []string, mib int, withAG bool, pipes []pipeline) error {
	base, baseDex := "", int64(0)
	for _, p := range apks {
		zr, err := zip.OpenReader(p)
		if err != nil {
			continue
		}
		var n int64
		for _, f := range zr.File {
			if dex.IsDexName(f.Name) {
				n += int64(f.UncompressedSize64)
			}
		}
		zr.Close()
		if n > baseDex {
			base, baseDex = p, n
		}
	}
	if base == "" {
		return errors.New("no base APK")
	}
	out := filepath.Join(tmp, fmt.Sprintf("generated-%dmib.apk", mib))
	info, err := generate(base, out, int64(mib)<<20)
	if err != nil {
		return err
	}
	st, _ := os.Stat(out)
	fmt.Printf("\ngenerated APK: %.1f MiB from %s: %s\n", float64(st.Size())/(1<<20), filepath.Base(base), info)
	tw := tabwriter.NewWriter(os.Stdout, 2, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\tCPU ms\twall ms\tpeak RSS MiB\t")
	for _, pl := range pipes {
		if pl.name == "androguard" && !withAG {
			fmt.Fprintln(tw, "androguard\tskipped (-big-androguard)\t\t\t")
			continue
		}
		rss := "-"
		var c cost
		switch pl.name {
		case "floor", "pilmon", "pilmon+store":
			// In a child, so that the peak is this pipeline's alone.
			var hwm int64
			c, hwm = runChild(pl.name, out, tmp)
			if c.err == nil {
				rss = fmt.Sprintf("%.1f", float64(hwm)/1024)
			}
		default:
			c = pl.run(out)
		}
		if c.err != nil {
			fmt.Fprintf(tw, "%s\terr: %v\t\t\t\n", pl.name, c.err)
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", pl.name, ms(c.cpu), ms(c.wall), rss)
	}
	tw.Flush()
	return nil
}

// generate writes base's entries, its dex files again as further classesN.dex until the dex
// code is a third of the target, a deflated text asset, and a stored random asset that fills the
// file to target bytes.
func generate(base, out string, target int64) (string, error) {
	zr, err := zip.OpenReader(base)
	if err != nil {
		return "", err
	}
	defer zr.Close()
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	var dexes [][]byte
	next := 1
	for _, e := range zr.File {
		if strings.HasPrefix(e.Name, "META-INF/") {
			continue // the signatures no longer match; an unsigned APK is what a repackager hands over
		}
		if dex.IsDexName(e.Name) {
			rc, err := e.Open()
			if err != nil {
				return "", err
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return "", err
			}
			dexes = append(dexes, b)
			next++
		}
		if err := zw.Copy(e); err != nil {
			return "", err
		}
	}
	var dexBytes int64
	for _, d := range dexes {
		dexBytes += int64(len(d))
	}
	copies := 0
	for dexBytes < target/3 && next <= 60 {
		d := dexes[copies%len(dexes)]
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("classes%d.dex", next), Method: zip.Deflate})
		if err != nil {
			return "", err
		}
		if _, err := w.Write(d); err != nil {
			return "", err
		}
		dexBytes += int64(len(d))
		next++
		copies++
	}
	rng := rand.New(rand.NewChaCha8([32]byte{'p', 'i', 'l', 'm', 'o', 'n'}))
	// A deflated asset of words (compresses about 3:1, like real text and JSON assets).
	words := strings.Fields("隐私 政策 用户 设备 标识 location imei privacy policy sdk analytics push config json true false null 0 1 2 3 http https com cn api v1 v2")
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "assets/data/big.json", Method: zip.Deflate})
	if err != nil {
		return "", err
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
			return "", err
		}
		written += int64(n)
	}
	bw.Flush()
	st, _ := f.Stat()
	fill := target - st.Size() - int64(bw.Buffered()) - 64<<10
	if fill < 0 {
		fill = 0
	}
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "assets/res/big.bin", Method: zip.Store})
	if err != nil {
		return "", err
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
			return "", err
		}
		left -= n
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	if err := bw.Flush(); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d dex files (%.1f MiB of dex: the base's %d plus %d copies), %.1f MiB deflated text asset, %.1f MiB stored random asset",
		next-1, float64(dexBytes)/(1<<20), len(dexes), copies, float64(textSize)/(1<<20), float64(fill)/(1<<20)), nil
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
	return cost{wall: time.Duration(r.WallNS), cpu: time.Duration(r.CPUNS)}, r.HWMKiB
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
