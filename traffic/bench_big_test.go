package traffic

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImportGenerated writes a generated HAR of $PILMON_BENCH_MB megabytes (default 200) to a
// temp file and measures, in the same run: the floor (encoding/json Decoder tokenising it, nothing
// else), pilmon's import with analysis (MB/s, peak heap, peak RSS), and `jq -c '.log.entries |
// length'` when jq is installed. Run: go test ./traffic -run XXX -bench ImportGenerated -benchtime 1x
func BenchmarkImportGenerated(b *testing.B) {
	mb := 200
	if s := os.Getenv("PILMON_BENCH_MB"); s != "" {
		mb, _ = strconv.Atoi(s)
	}
	path := filepath.Join(b.TempDir(), "big.har")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := writeGeneratedHAR(w, mb<<20/7650, 4800); err != nil {
		b.Fatal(err)
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(path)
	size := float64(st.Size()) / (1 << 20)
	rate := func(d time.Duration) float64 { return size / d.Seconds() }
	for b.Loop() {
		// pilmon first, so the process's peak RSS is the import's
		runtime.GC()
		var peak uint64
		t0 := time.Now()
		fh, _ := os.Open(path)
		a := NewAnalyzer(testCatalogue(b), Options{})
		n := 0
		info, err := ReadHAR(fh, Limits{}, func(e *Entry) error {
			a.Add(e)
			if n++; n%1000 == 0 {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapAlloc)
			}
			return nil
		})
		res := a.Finish(info)
		fh.Close()
		dImport := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		rss := peakRSS()
		// floor
		t0 = time.Now()
		fh, _ = os.Open(path)
		dec := json.NewDecoder(fh)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		fh.Close()
		dFloor := time.Since(t0)
		b.ReportMetric(size, "MB")
		b.ReportMetric(rate(dImport), "import_MB/s")
		b.ReportMetric(rate(dFloor), "floor_MB/s")
		b.ReportMetric(dImport.Seconds()/dFloor.Seconds(), "x_floor")
		b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
		if rss > 0 {
			b.ReportMetric(rss, "peak_rss_MiB")
		}
		b.Logf("%.0f MB, %d entries, %d observations", size, info.Read, len(res.Observations))
		if jq, err := exec.LookPath("jq"); err == nil {
			t0 = time.Now()
			cmd := exec.Command(jq, "-c", ".log.entries | length", path)
			out, err := cmd.Output()
			if err == nil {
				b.ReportMetric(rate(time.Since(t0)), "jq_MB/s")
				b.ReportMetric(childRSS(cmd), "jq_rss_MiB")
				b.Logf("jq counted %s entries", strings.TrimSpace(string(out)))
			}
		}
		if py, err := exec.LookPath("python3"); err == nil {
			t0 = time.Now()
			cmd := exec.Command(py, "-c", "import json,sys; print(len(json.load(open(sys.argv[1]))['log']['entries']))", path)
			if out, err := cmd.Output(); err == nil {
				b.ReportMetric(rate(time.Since(t0)), "python_MB/s")
				b.ReportMetric(childRSS(cmd), "python_rss_MiB")
				b.Logf("python json.load counted %s entries", strings.TrimSpace(string(out)))
			}
		}
	}
}

// childRSS is a finished command's peak RSS in MiB (Linux ru_maxrss is in KiB).
func childRSS(cmd *exec.Cmd) float64 {
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024
	}
	return 0
}

// peakRSS reads VmHWM (Linux), 0 elsewhere.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmHWM:"), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
