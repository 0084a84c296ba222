package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"pilmon/casefile"
	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/store"
)

// profileExport runs the export in this process (as `pilmon export` does: the same casefile.Export,
// the same soft memory limit) while a sampler records the RSS and heap every 20 ms; at each new
// peak of the heap it writes a heap profile (as of the last GC) and the goroutines' stacks into
// dir, so that what holds the memory at the peak can be read with `go tool pprof`.
func profileExport(ctx context.Context, dir, dataDir string, st *store.Store, pdf bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(160 << 20)
	}
	key, err := casefile.LoadOrCreateKey(dataDir)
	if err != nil {
		return err
	}
	ev, err := evidence.Open(filepath.Join(dataDir, "evidence"), evidence.Options{Tool: "pilmon bench"})
	if err != nil {
		return err
	}
	cat, err := rules.Default()
	if err != nil {
		return err
	}
	runtime.GC()
	debug.FreeOSMemory()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sample(dir, stop)
	}()
	deps := casefile.Deps{Findings: st, Evidence: ev, Catalogue: cat, User: "bench",
		Options: casefile.Options{Key: key, SkipPDF: !pdf, Tool: "pilmon bench"}}
	t0 := time.Now()
	_, err = casefile.Export(ctx, io.Discard, casefile.Selection{TargetID: "bench-app", IncludeUntriaged: true}, deps)
	close(stop)
	<-done
	fmt.Printf("in-process export: %v, err %v; profiles in %s\n", time.Since(t0).Round(time.Millisecond), err, dir)
	return err
}

func sample(dir string, stop <-chan struct{}) {
	var ms runtime.MemStats
	var maxHeap, maxRSS uint64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	t0 := time.Now()
	last := time.Time{}
	for n := 0; ; n++ {
		select {
		case <-stop:
			fmt.Printf("peak heap in use %d MiB, peak RSS %d MiB\n", maxHeap>>20, maxRSS>>20)
			return
		case <-tick.C:
		}
		runtime.ReadMemStats(&ms)
		rss := procStatus("VmRSS")
		if time.Since(last) > time.Second {
			last = time.Now()
			fmt.Printf("%6.1fs rss %4d MiB heapInuse %4d MiB heapAlloc %4d MiB sys %4d MiB released %4d MiB numGC %d\n",
				time.Since(t0).Seconds(), rss>>20, ms.HeapInuse>>20, ms.HeapAlloc>>20, ms.Sys>>20, ms.HeapReleased>>20, ms.NumGC)
		}
		if rss > maxRSS {
			maxRSS = rss
		}
		if ms.HeapInuse > maxHeap+8<<20 {
			maxHeap = ms.HeapInuse
			tag := fmt.Sprintf("%03.0f-%dMiB", time.Since(t0).Seconds(), ms.HeapInuse>>20)
			fmt.Printf("%6.1fs new heap peak %d MiB (rss %d MiB)\n", time.Since(t0).Seconds(), ms.HeapInuse>>20, rss>>20)
			if f, err := os.Create(filepath.Join(dir, "heap-"+tag+".pprof")); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
			if f, err := os.Create(filepath.Join(dir, "stacks-"+tag+".txt")); err == nil {
				_ = pprof.Lookup("goroutine").WriteTo(f, 1)
				f.Close()
			}
		}
	}
}

func procStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
