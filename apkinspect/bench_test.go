package apkinspect

import (
	"archive/zip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"pilmon/internal/corpus"

	"pilmon/apkinspect/callgraph"
	"pilmon/apkinspect/dex"
	"pilmon/apkinspect/manifest"
	"pilmon/evidence"
	"pilmon/scanner"
)

// largestCorpusAPK returns the corpus APK with the most dex bytes and its dex files.
func largestCorpusAPK(b *testing.B) (string, map[string][]byte) {
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	best, bestN := "", 0
	var bestDex map[string][]byte
	for _, f := range files {
		zr, err := zip.OpenReader(f)
		if err != nil {
			continue
		}
		dexes, n := map[string][]byte{}, 0
		for _, e := range zr.File {
			if !dex.IsDexName(e.Name) {
				continue
			}
			rc, err := e.Open()
			if err != nil {
				continue
			}
			d, _ := io.ReadAll(rc)
			rc.Close()
			dexes[e.Name] = d
			n += len(d)
		}
		zr.Close()
		if n > bestN {
			best, bestN, bestDex = f, n, dexes
		}
	}
	if best == "" {
		b.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	return best, bestDex
}

// BenchmarkDexIndex indexes every dex of the largest corpus APK (what apkinspect does per APK).
func BenchmarkDexIndex(b *testing.B) {
	_, dexes := largestCorpusAPK(b)
	total := 0
	for _, d := range dexes {
		total += len(d)
	}
	b.SetBytes(int64(total))
	for i := 0; i < b.N; i++ {
		for name, d := range dexes {
			f, err := dex.Parse(context.Background(), name, d, dex.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			for _, c := range f.Classes {
				f.TypeName(c.Type)
				for _, r := range c.Refs {
					if r.Kind == dex.Invoke {
						f.MethodDescriptor(r.Target)
					}
				}
			}
		}
	}
}

// BenchmarkDexdump runs Debian's `dexdump -d` over the same dex files, for comparison.
func BenchmarkDexdump(b *testing.B) {
	if _, err := exec.LookPath("dexdump"); err != nil {
		b.Skip("dexdump not installed (Debian package dexdump)")
	}
	_, dexes := largestCorpusAPK(b)
	dir := b.TempDir()
	var paths []string
	total := 0
	for name, d := range dexes {
		p := filepath.Join(dir, name)
		os.WriteFile(p, d, 0o644)
		paths = append(paths, p)
		total += len(d)
	}
	b.SetBytes(int64(total))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, p := range paths {
			cmd := exec.Command("dexdump", "-d", p)
			cmd.Stdout = io.Discard
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkInspect is the whole inspection of the largest corpus APK, or of the APK that
// PILMON_BENCH_APK names (bench/apk's generated one, say, to profile it).
func BenchmarkInspect(b *testing.B) {
	p := os.Getenv("PILMON_BENCH_APK")
	if p == "" {
		p, _ = largestCorpusAPK(b)
	}
	in := New(catalogue(b), Options{})
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	c0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceAPK, Locator: p}, hashOnlySink{})
		if rep.Status == scanner.StatusFailed {
			b.Fatal(rep.Errors)
		}
	}
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
}

// hashOnlySink hashes what it is given and stores nothing (what bench/apk's "pilmon" column uses).
type hashOnlySink struct{}

func (hashOnlySink) Put(r io.Reader, _ evidence.Meta) (evidence.Ref, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	return evidence.Ref{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, err
}

// BenchmarkInspectCorpus inspects every corpus APK once per iteration.
func BenchmarkInspectCorpus(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	if len(files) == 0 {
		b.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	in := New(catalogue(b), Options{})
	var total int64
	for _, f := range files {
		st, _ := os.Stat(f)
		total += st.Size()
	}
	b.SetBytes(total)
	b.ReportAllocs()
	c0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceAPK, Locator: f}, hashOnlySink{})
		}
	}
	// CPU time is what bench/apk judges: on a shared machine wall time mostly measures the
	// neighbours. It includes the garbage collector's background work.
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the user+system time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// openBenchAPK opens the APK the benchmarks take: $PILMON_BENCH_APK, else the largest corpus APK.
func openBenchAPK(b *testing.B) *zip.ReadCloser {
	p := os.Getenv("PILMON_BENCH_APK")
	if p == "" {
		p, _ = largestCorpusAPK(b)
	}
	zr, err := zip.OpenReader(p)
	if err != nil {
		b.Fatal(err)
	}
	return zr
}

// BenchmarkSolve is the call graph's Solve alone (roots from the manifest), on the APK
// BenchmarkInspect takes; the graph is rebuilt, untimed, before each run. solve-cpu-ns/op is
// the process's CPU time over Solve only (the garbage collector's work during it included).
func BenchmarkSolve(b *testing.B) {
	zr := openBenchAPK(b)
	defer zr.Close()
	read := func(name string) []byte {
		rc, err := zr.Open(name)
		if err != nil {
			return nil
		}
		defer rc.Close()
		d, _ := io.ReadAll(rc)
		return d
	}
	m, err := manifest.Parse(read("AndroidManifest.xml"), read("resources.arsc"))
	if err != nil {
		b.Fatal(err)
	}
	roots := entryPoints(m)
	var names []string
	for _, e := range zr.File {
		if dex.IsDexName(e.Name) {
			names = append(names, e.Name)
		}
	}
	slices.SortFunc(names, func(x, y string) int { return dexOrder(x) - dexOrder(y) })
	var cpu time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		g := callgraph.New(callgraph.Limits{})
		for _, n := range names {
			f, err := dex.Parse(context.Background(), n, read(n), dex.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			g.AddDex(f)
		}
		runtime.GC()
		b.StartTimer()
		c0 := processCPU()
		if r := g.Solve(roots); r.Edges == 0 {
			b.Fatal("no edges")
		}
		cpu += processCPU() - c0
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "solve-cpu-ns/op")
}

// BenchmarkAddDex is the call graph's AddDex alone over every dex file of the APK
// BenchmarkInspect takes, parsed once, untimed; adddex-cpu-ns/op is the process's CPU time
// over the AddDex calls only.
func BenchmarkAddDex(b *testing.B) {
	zr := openBenchAPK(b)
	defer zr.Close()
	var files []*dex.File
	var total int64
	for _, e := range zr.File {
		if !dex.IsDexName(e.Name) {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			b.Fatal(err)
		}
		d, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			b.Fatal(err)
		}
		f, err := dex.Parse(context.Background(), e.Name, d, dex.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
		total += int64(len(d))
	}
	slices.SortFunc(files, func(x, y *dex.File) int { return dexOrder(x.Name) - dexOrder(y.Name) })
	var cpu time.Duration
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		g := callgraph.New(callgraph.Limits{})
		g.ExpectDex(total)
		b.StartTimer()
		c0 := processCPU()
		for _, f := range files {
			g.AddDex(f)
		}
		cpu += processCPU() - c0
		if g.Methods() == 0 {
			b.Fatal("no methods")
		}
	}
	b.ReportMetric(float64(cpu)/float64(b.N), "adddex-cpu-ns/op")
}
