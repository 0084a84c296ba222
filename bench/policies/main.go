// Command policies measures the two halves of reading a privacy policy, side by side:
//
//		go run ./bench/policies [-rounds 5] [-n 10] [-corpus DIR] [-chromium=true]
//
//	  - analysis: policies.Analyze (charset detection, HTML/Markdown → sections, the mandated
//	    elements, PI and SDKs declared) and the observations the inspector builds from it (the
//	    clause detectors included) over every policy of the shared corpus
//	    (../shared/corpus/policies/{zh,en}, or $PILMON_SHARED, or -corpus), text already captured
//	    and in memory. Reported as policies per second and MiB per second over all files (median
//	    of -rounds passes), and the p50 / p95 time of one policy, in wall and CPU time;
//	  - capture: browser.Capture of a local policy page (a corpus policy served by httptest on
//	    loopback, which the SSRF guard is told to allow) through Debian's Chromium, -n times, with
//	    the options pilmon scan uses (HTML, MHTML, full-page screenshot, request log). Two
//	    modes: "shared" is what `pilmon scan` and the workers do (one Chromium process, a fresh
//	    incognito context per capture; the first capture, which starts Chromium, is reported
//	    apart as the cold start); "fresh" starts a new Chromium with a new profile per capture.
//
// The CPU column of a capture is this process only (go-rod and the HTTP server), not
// Chromium's; wall time is the figure that matters there.
package main

import (
	"context"
	"flag"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"pilmon/browser"
	"pilmon/policies"
	"pilmon/rules"
)

func main() {
	rounds := flag.Int("rounds", 5, "passes over the corpus for the analysis figures (the median is reported)")
	n := flag.Int("n", 10, "captures per Chromium mode")
	corpus := flag.String("corpus", "", "folder of policies (default: ../shared/corpus/policies beside the module root)")
	useChromium := flag.Bool("chromium", true, "measure captures through Chromium")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the analysis passes to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench/policies:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*rounds, *n, *corpus, *useChromium); err != nil {
		fmt.Fprintln(os.Stderr, "bench/policies:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type doc struct {
	name string
	data []byte
}

func run(rounds, n int, corpus string, useChromium bool) error {
	if corpus == "" {
		var err error
		if corpus, err = defaultCorpus(); err != nil {
			return err
		}
	}
	docs, err := loadCorpus(corpus)
	if err != nil {
		return err
	}
	cat, err := rules.Default()
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d policies, %.2f MiB in %s\n", len(docs), float64(totalBytes(docs))/(1<<20), corpus)

	an, err := benchAnalysis(docs, cat, max(rounds, 1))
	if err != nil {
		return err
	}
	long, longCPU, longPages, err := benchLong(docs, cat, max(rounds, 1))
	if err != nil {
		return err
	}
	var shared, fresh *captureStats
	if useChromium {
		page := pickPage(docs)
		if shared, err = benchCapture(page, n, true); err != nil {
			return err
		}
		if fresh, err = benchCapture(page, n, false); err != nil {
			return err
		}
	}

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\t"+"what\tn\tp50 wall\tp95 wall\tp50 CPU\tthroughput\t")
	fmt.Fprintf(tw, "\tanalysis of one policy (corpus, in memory)\t%d\t%s\t%s\t%s\t%.0f policies/s, %.1f MiB/s\t\n",
		len(docs)*an.rounds, ms(an.p50), ms(an.p95), ms(an.cpuP50), an.perSec, an.mibPerSec)
	fmt.Fprintf(tw, "\tanalysis of a %d-page policy (corpus texts joined)\t%d\t%s\t\t%s\t\t\n", longPages, max(rounds, 1), ms(long), ms(longCPU))
	if useChromium {
		fmt.Fprintf(tw, "\tcapture, shared Chromium (pilmon scan)\t%d\t%s\t%s\t%s\t%.1f captures/s\t\n",
			len(shared.walls), ms(shared.p50), ms(shared.p95), ms(shared.cpuP50), 1/shared.p50.Seconds())
		fmt.Fprintf(tw, "\t  cold start (launch + first capture)\t1\t%s\t\t\t\t\n", ms(shared.cold))
		fmt.Fprintf(tw, "\tcapture, fresh Chromium per capture\t%d\t%s\t%s\t%s\t%.1f captures/s\t\n",
			len(fresh.walls), ms(fresh.p50), ms(fresh.p95), ms(fresh.cpuP50), 1/fresh.p50.Seconds())
	}
	tw.Flush()
	if useChromium {
		fmt.Printf("\ncapture p50 (shared) / analysis p50 = %.0f×: capturing a policy costs about %.0f analyses of one\n",
			shared.p50.Seconds()/an.p50.Seconds(), shared.p50.Seconds()/an.p50.Seconds())
		fmt.Printf("%d-page policy analysis p50 / capture p50 (shared) = %.1f %% (bound: 5 %%)\n", longPages, 100*long.Seconds()/shared.p50.Seconds())
		fmt.Printf("captured page: %s (%d bytes of HTML rendered, %d requests)\n", shared.page, shared.htmlBytes, shared.requests)
	}
	return nil
}

// pageRunes is one printed page of Chinese text (A4, small four, about 40 × 40 characters) read
// generously; a 100-page policy is about 200,000 characters.
const pageRunes = 2000

// benchLong times the analysis of one very long policy: the Chinese corpus texts joined into one
// HTML page of at least 100 pages (each text's own sections kept), p50 of rounds.
func benchLong(docs []doc, cat *rules.Catalogue, rounds int) (wall, cpu time.Duration, pages int, err error) {
	var b strings.Builder
	b.WriteString("<html><head><meta charset=\"utf-8\"><title>长隐私政策</title></head><body>")
	runes := 0
	for runes < 100*pageRunes {
		added := 0
		for _, d := range docs {
			if !strings.Contains(d.name, "zh") {
				continue
			}
			a, err := policies.Analyze(d.name, d.data, "", cat)
			if err != nil {
				continue // a refused file adds nothing
			}
			for _, s := range a.Document().Sections {
				fmt.Fprintf(&b, "<h2>%s</h2>", html.EscapeString(s.Title()))
				for _, bl := range s.Blocks {
					fmt.Fprintf(&b, "<p>%s</p>", html.EscapeString(bl.Text))
					runes += utf8.RuneCountInString(bl.Text)
					added++
				}
			}
			if runes >= 100*pageRunes {
				break
			}
		}
		if added == 0 {
			return 0, 0, 0, fmt.Errorf("no Chinese corpus text to build a long policy from")
		}
	}
	b.WriteString("</body></html>")
	page := []byte(b.String())
	var walls, cpus []time.Duration
	for range rounds {
		start, c0 := time.Now(), cpuNow()
		if err := analyse("long.html", page, "text/html; charset=utf-8", cat); err != nil {
			return 0, 0, 0, err
		}
		walls, cpus = append(walls, time.Since(start)), append(cpus, cpuNow()-c0)
	}
	return percentile(walls, 50), percentile(cpus, 50), runes / pageRunes, nil
}

// analyse is what the inspector does with a policy's bytes once they are in memory: Analyze, and
// the observations built from it (clause detection and the SDK list included).
func analyse(name string, data []byte, ctype string, cat policies.Catalogue) error {
	a, err := policies.Analyze(name, data, ctype, cat)
	if err != nil {
		return err
	}
	policies.Observations(a, name, nil, "policies", "bench")
	return nil
}

type analysisStats struct {
	rounds            int
	p50, p95, cpuP50  time.Duration
	perSec, mibPerSec float64
}

func benchAnalysis(docs []doc, cat policies.Catalogue, rounds int) (*analysisStats, error) {
	// One warm-up pass: compiled patterns and the catalogue are loaded once per process.
	for _, d := range docs {
		if err := analyse(d.name, d.data, "", cat); err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
	}
	var walls, cpus, passes []time.Duration
	for r := 0; r < rounds; r++ {
		start := time.Now()
		for _, d := range docs {
			c0, t0 := cpuNow(), time.Now()
			if err := analyse(d.name, d.data, "", cat); err != nil {
				return nil, fmt.Errorf("%s: %w", d.name, err)
			}
			walls = append(walls, time.Since(t0))
			cpus = append(cpus, cpuNow()-c0)
		}
		passes = append(passes, time.Since(start))
	}
	pass := percentile(passes, 50)
	return &analysisStats{rounds: rounds, p50: percentile(walls, 50), p95: percentile(walls, 95), cpuP50: percentile(cpus, 50),
		perSec: float64(len(docs)) / pass.Seconds(), mibPerSec: float64(totalBytes(docs)) / (1 << 20) / pass.Seconds()}, nil
}

type captureStats struct {
	walls                  []time.Duration
	p50, p95, cpuP50, cold time.Duration
	page                   string
	htmlBytes, requests    int
}

func benchCapture(page doc, n int, shared bool) (*captureStats, error) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/privacy" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType(page.name))
		_, _ = w.Write(page.data)
	}))
	defer srv.Close()
	br, err := browser.New(browser.Options{Allow: []string{"127.0.0.1"}, SharedProcess: shared})
	if err != nil {
		return nil, err
	}
	defer br.Close()
	if err := br.Available(); err != nil {
		return nil, fmt.Errorf("%w (run with -chromium=false to skip the capture figures)", err)
	}
	u := srv.URL + "/privacy"
	st := &captureStats{page: page.name}
	var cpus []time.Duration
	total := n
	if shared {
		total++ // the first capture starts Chromium and is reported apart
	}
	for i := 0; i < total; i++ {
		c0, t0 := cpuNow(), time.Now()
		c, err := br.Capture(context.Background(), u, browser.CaptureOptions{})
		wall, cpu := time.Since(t0), cpuNow()-c0
		if err != nil {
			return nil, fmt.Errorf("capture %s: %w", u, err)
		}
		if c.Partial {
			return nil, fmt.Errorf("capture %s was partial: %v", u, c.Errors)
		}
		if shared && i == 0 {
			st.cold = wall
			continue
		}
		st.walls = append(st.walls, wall)
		cpus = append(cpus, cpu)
		st.htmlBytes, st.requests = len(c.HTML), len(c.Requests)
	}
	st.p50, st.p95, st.cpuP50 = percentile(st.walls, 50), percentile(st.walls, 95), percentile(cpus, 50)
	return st, nil
}

// pickPage serves the Chinese policy closest to the corpus median size: a typical real page.
func pickPage(docs []doc) doc {
	var zh []doc
	for _, d := range docs {
		if strings.HasPrefix(d.name, "zh/") && strings.HasSuffix(d.name, ".html") {
			zh = append(zh, d)
		}
	}
	if len(zh) == 0 {
		zh = docs
	}
	sort.Slice(zh, func(i, j int) bool { return len(zh[i].data) < len(zh[j].data) })
	return zh[len(zh)/2]
}

func contentType(name string) string {
	switch {
	case strings.HasSuffix(name, ".html"):
		return "text/html; charset=utf-8"
	case strings.HasSuffix(name, ".md"):
		return "text/markdown; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

func defaultCorpus() (string, error) {
	if d := os.Getenv("PILMON_SHARED"); d != "" {
		return filepath.Join(d, "corpus", "policies"), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", "corpus", "policies"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("module root not found; pass -corpus")
		}
		dir = parent
	}
}

// loadCorpus reads <dir>/zh/* and <dir>/en/* (or the files of dir itself).
func loadCorpus(dir string) ([]doc, error) {
	var paths []string
	for _, sub := range []string{"zh", "en"} {
		m, _ := filepath.Glob(filepath.Join(dir, sub, "*"))
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		paths, _ = filepath.Glob(filepath.Join(dir, "*"))
	}
	var docs []doc
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() || strings.HasSuffix(p, ".md") && strings.EqualFold(filepath.Base(p), "SOURCES.md") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, p)
		docs = append(docs, doc{name: filepath.ToSlash(rel), data: data})
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("no policies in %s (pass -corpus)", dir)
	}
	return docs, nil
}

func totalBytes(docs []doc) int {
	n := 0
	for _, d := range docs {
		n += len(d.data)
	}
	return n
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[min(max(i-1, 0), len(s)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }
