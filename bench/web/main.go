// Command web measures the dashboard's filtered findings list with 100,000 findings in Redis, at a
// fixed request rate from wrk on loopback, side by side with a static file served by the same Echo
// server (the floor: same listener, middlewares and security headers, no Redis, no template).
//
//	go run ./bench/web [-n 100000] [-rate 100] [-duration 15s] [-conns 4]
//
// Debian's wrk (4.x) has no fixed-rate option, so every connection waits delay() ms between
// requests (a Lua script): conns × 1000/delay requests per second. Latencies are wrk's, in ms.
// Goal: p99 ≤ 50 ms and within 5× the floor.
//
// Two rows go beyond the goal's static case: a search for a new term on every request (no cached
// answer), and lists while re-scans write 200 findings a second (every list request may have to
// apply changes first). Other modes, to find where time goes:
//
//	-closed            wrk without pauses (a hot server: no idle wake-ups between requests)
//	-inproc N [-pace]  N sequential requests straight into the handler, optionally pausing
//	-paths a,b         measure these paths instead of the list pages
//	-cpuprofile/-memprofile FILE
//	BENCH_SERVER_TIMING=1  also print the handler's own p50/p99 beside wrk's
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"pilmon/accounts"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
	"pilmon/web"
)

func main() {
	n := flag.Int("n", 100000, "findings in Redis")
	rate := flag.Int("rate", 100, "requests per second per endpoint (fixed rate)")
	dur := flag.Duration("duration", 15*time.Second, "wrk duration per endpoint")
	conns := flag.Int("conns", 4, "wrk connections")
	flag.StringVar(&extra, "paths", "", "comma-separated paths to measure instead of the list pages (after the floor)")
	closed := flag.Bool("closed", false, "closed loop: wrk sends the next request as soon as the last is answered (no fixed rate)")
	inproc := flag.Int("inproc", 0, "instead of wrk: time this many sequential in-process requests per endpoint (server cost only)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the server (and, with -inproc, of the requests)")
	flag.DurationVar(&pace, "pace", 0, "with -inproc: pause this long between requests (an idle server between requests, as at a fixed rate)")
	memprofile := flag.String("memprofile", "", "write an allocation profile at the end")
	flag.Parse()
	inProc, cpuProfile, memProfile, closedLoop = *inproc, *cpuprofile, *memprofile, *closed
	runtime.MemProfileRate = 64 << 10
	err := run(*n, *rate, *dur, *conns)
	writeMemProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/web:", err)
		os.Exit(1)
	}
}

func run(n, rate int, dur time.Duration, conns int) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return fmt.Errorf("wrk not installed (apt-get install wrk): %w", err)
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pilmon-bench-web-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := store.StartRedis(ctx, dir, store.RedisOptions{Logger: log})
	if err != nil {
		return err
	}
	defer srv.Stop(ctx)
	cat, err := rules.Default()
	if err != nil {
		return err
	}
	st := store.NewStore(srv.Client(), "")
	ev, err := evidence.Open(dir+"/evidence", evidence.Options{})
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := seed(ctx, st, cat, n); err != nil {
		return err
	}
	fmt.Printf("seeded %d findings in %s\n", n, time.Since(t0).Round(time.Millisecond))
	// The 500 targets the findings belong to, registered with names and app categories (the
	// category filter and the name search read them).
	reg := targets.New(st, targets.Options{ImportRoot: dir, Catalogue: cat, Kinds: pipeline.Kinds(cat)})
	cats := cat.AppCategories()
	for i := range 500 {
		if _, err := reg.Put(ctx, scanner.Target{ID: fmt.Sprintf("t%04d", i), Kind: scanner.TargetApp,
			Name: fmt.Sprintf("应用%04d", i), Operator: fmt.Sprintf("某某科技有限公司%03d", i%120), Category: cats[i%5].Key,
			Sources: []scanner.Source{{Kind: scanner.SourcePolicyURL, Locator: fmt.Sprintf("https://app%04d.example.cn/privacy", i)}}}); err != nil {
			return err
		}
	}
	ws, err := web.New(web.Config{Store: st, Evidence: ev, Catalogue: cat, Targets: reg, Logger: log})
	if err != nil {
		return err
	}
	t0 = time.Now()
	if err := ws.SyncIndex(ctx); err != nil {
		return err
	}
	fmt.Printf("web index built in %s\n", time.Since(t0).Round(time.Millisecond))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("live heap after the index was built: %d MiB (in-process server and bench)\n", ms.HeapAlloc>>20)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ws.Run(runCtx)
	if err := ws.Accounts().Add(ctx, "bench", accounts.RoleViewer, "bench password 123"); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	var handler http.Handler = ws.Handler()
	if os.Getenv("BENCH_SERVER_TIMING") != "" {
		inner := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t0 := time.Now()
			inner.ServeHTTP(w, r)
			serverTimes.add(time.Since(t0))
		})
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	cookie, err := login(base, "bench", "bench password 123")
	if err != nil {
		return err
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if inProc > 0 {
		return inProcess(ws.Handler(), cookie, selectEndpoints(cat), func() func() float64 {
			srv.Client().ConfigResetStat(ctx)
			return func() float64 {
				stats, _ := srv.Client().Info(ctx, "commandstats").Result()
				for _, l := range strings.Split(stats, "\n") {
					if strings.HasPrefix(l, "cmdstat_evalsha:") {
						for _, kv := range strings.Split(strings.TrimSpace(l[len("cmdstat_evalsha:"):]), ",") {
							if v, ok := strings.CutPrefix(kv, "usec_per_call="); ok {
								f, _ := strconv.ParseFloat(v, 64)
								return f / 1000
							}
						}
					}
				}
				return 0
			}
		})
	}
	delayMS := max(1, conns*1000/rate)
	script := dir + "/rate.lua"
	if err := os.WriteFile(script, []byte(fmt.Sprintf("function delay()\n  return %d\nend\n", delayMS)), 0o644); err != nil {
		return err
	}
	eps := selectEndpoints(cat)
	fmt.Printf("\nwrk: %d connections, %d ms between requests per connection ≈ %d req/s, %s per endpoint, loopback\n\n",
		conns, delayMS, conns*1000/delayMS, dur)
	fmt.Println("| endpoint | req/s | p50 ms | p99 ms | p99 / floor p99 | bytes | GC cycles |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var floor float64
	for i, ep := range eps {
		size, err := probe(base+ep.path, cookie)
		if err != nil {
			return fmt.Errorf("%s: %w", ep.path, err)
		}
		epScript := script
		if ep.lua != "" {
			epScript = fmt.Sprintf("%s/ep%d.lua", dir, i)
			body := fmt.Sprintf("function delay()\n  return %d\nend\n%s", delayMS, ep.lua)
			if err := os.WriteFile(epScript, []byte(body), 0o644); err != nil {
				return err
			}
		}
		stopWrites := func() {}
		if ep.writes > 0 {
			stopWrites = rescans(ctx, st, cat, ep.writes)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := wrk(base+ep.path, cookie, epScript, conns, dur)
		runtime.ReadMemStats(&after)
		stopWrites()
		res.gcs = after.NumGC - before.NumGC
		if err != nil {
			return fmt.Errorf("wrk %s: %w", ep.path, err)
		}
		if i == 0 {
			floor = res.p99
		}
		fmt.Printf("| %s | %.0f | %.2f | %.2f | %.1f× | %d | %d |%s\n", ep.name, res.rps, res.p50, res.p99, res.p99/floor, size, res.gcs, serverTimes.take())
	}
	return nil
}

// serverTimes collects the time spent in the handler (BENCH_SERVER_TIMING=1), to tell the server's
// share of wrk's latency from the network's and the client's.
var serverTimes timings

type timings struct {
	mu sync.Mutex
	d  []time.Duration
}

func (t *timings) add(d time.Duration) { t.mu.Lock(); t.d = append(t.d, d); t.mu.Unlock() }

func (t *timings) take() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.d) == 0 {
		return ""
	}
	slices.Sort(t.d)
	s := fmt.Sprintf(" handler p50 %.2f p99 %.2f |", float64(t.d[len(t.d)/2].Microseconds())/1000, float64(t.d[len(t.d)*99/100].Microseconds())/1000)
	t.d = t.d[:0]
	return s
}

var (
	pace       time.Duration
	inProc     int
	cpuProfile string
	memProfile string
	closedLoop bool
	extra      string
)

func writeMemProfile() {
	if memProfile == "" {
		return
	}
	if f, err := os.Create(memProfile); err == nil {
		pprof.Lookup("allocs").WriteTo(f, 0)
		f.Close()
	}
}

type endpoint struct {
	name, path string
	lua        string // more wrk Lua (a request() that varies the path)
	writes     int    // findings re-scanned per second while this endpoint is measured
}

// selectEndpoints is the floor and the list pages, or the floor and the -paths.
func selectEndpoints(cat *rules.Catalogue) []endpoint {
	eps := endpoints(cat)
	if extra == "" {
		return eps
	}
	eps = eps[:1]
	for _, p := range strings.Split(extra, ",") {
		eps = append(eps, endpoint{name: p, path: p})
	}
	return eps
}

func endpoints(cat *rules.Catalogue) []endpoint {
	rule := cat.Violations()[3].ID
	return []endpoint{
		{name: "static file (floor)", path: "/static/app.css"},
		{name: "list, no filter", path: "/findings"},
		{name: "list, state=new & severity=high", path: "/findings?state=new&severity=high"},
		{name: "list, target & state", path: "/findings?target=t0042&state=in_review"},
		{name: "list, rule & severity, page 20", path: "/findings?rule=" + rule + "&severity=medium&page=20"},
		{name: "list, legal basis pipl:17 & state=new", path: "/findings?basis=pipl%3A17&state=new"},
		{name: "list, SDK & last seen from", path: "/findings?sdk=umeng_analytics&last_from=2026-03-15"},
		{name: "list, sorted by first seen", path: "/findings?state=new&sort=first_seen"},
		{name: "list, app category & state", path: "/findings?category=" + cat.AppCategories()[1].Key + "&state=in_review"},
		{name: "list, full-text search", path: "/findings?q=host0042"},
		{name: "list, full-text search, a new term every request", path: "/findings?q=host00001",
			lua: "n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, string.format(\"/findings?q=host%05d\", (n * 7919) % 100000))\nend\n"},
		{name: "list, no filter, while scans write 200 findings/s", path: "/findings", writes: 200},
		{name: "list, legal basis & state, while scans write 200 findings/s", path: "/findings?basis=pipl%3A17&state=new", writes: 200},
	}
}

// rescans re-observes perSecond existing findings every second (a re-scan of a few targets: new
// last-seen times, so the list order changes) until the returned function is called.
func rescans(ctx context.Context, st *store.Store, cat *rules.Catalogue, perSecond int) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(11, 11))
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			// The seed's findings are reproducible: re-create a tenth of a second's worth of them.
			batch := seedFindings(cat, r.IntN(100000-perSecond/10), perSecond/10, time.Now().UTC())
			if _, err := st.UpsertBatch(ctx, batch, fmt.Sprintf("scan-rescan-%d", time.Now().UnixNano())); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "rescan:", err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// inProcess times sequential requests straight into the handler: the server's own cost.
func inProcess(h http.Handler, cookie string, eps []endpoint, redisTime func() func() float64) error {
	fmt.Println("| endpoint | p50 ms | p99 ms | mean ms | Redis script (session), mean ms per call |")
	fmt.Println("|---|---|---|---|---|")
	for _, ep := range eps {
		script := redisTime()
		d := make([]time.Duration, inProc)
		for i := range d {
			req := httptest.NewRequest(http.MethodGet, ep.path, nil)
			req.Header.Set("Cookie", cookie)
			w := httptest.NewRecorder()
			t0 := time.Now()
			h.ServeHTTP(w, req)
			d[i] = time.Since(t0)
			if pace > 0 {
				time.Sleep(pace)
			}
			if w.Code != http.StatusOK {
				return fmt.Errorf("%s: status %d", ep.path, w.Code)
			}
		}
		var sum time.Duration
		for _, x := range d {
			sum += x
		}
		slices.Sort(d)
		ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
		fmt.Printf("| %s | %.2f | %.2f | %.2f | %.2f |\n", ep.name, ms(d[len(d)/2]), ms(d[len(d)*99/100]), ms(sum/time.Duration(len(d))), script())
	}
	return nil
}

// seedFindings returns findings start … start+count-1 of the seed, each the same whenever it is
// made; a non-zero seen replaces the last-seen time (a re-scan).
func seedFindings(cat *rules.Catalogue, start, count int, seen time.Time) []findings.Finding {
	var vs []rules.Violation
	for _, v := range cat.Violations() {
		if v.Check.Mode == "automated" && len(vs) < 40 {
			vs = append(vs, v)
		}
	}
	sdks := []string{"", "", "umeng_analytics", "jpush", "getui", "tencent_bugly", "baidu_map"}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]findings.Finding, 0, count)
	for i := start; i < start+count; i++ {
		r := rand.New(rand.NewPCG(7, uint64(i)))
		v := vs[r.IntN(len(vs))]
		last := base.Add(time.Duration(r.IntN(90*24*60)) * time.Minute)
		attrs := map[string]any{"pi": []any{"device_id"}, "host": fmt.Sprintf("host%05d.example.cn", i)}
		if s := sdks[r.IntN(len(sdks))]; s != "" {
			attrs["sdk"] = s
		}
		f := findings.Finding{TargetID: fmt.Sprintf("t%04d", r.IntN(500)), RuleID: v.ID, RuleVersion: v.Version,
			Subject: fmt.Sprintf("host%05d.example.cn", i), Severity: v.Severity, LegalBasis: v.LegalBasis,
			Summary: rules.Text{ZH: v.Title.ZH, EN: v.Title.EN}, Caveat: v.Caveat,
			Observations: []scanner.Observation{{Kind: "apk.endpoint", Subject: fmt.Sprintf("host%05d.example.cn", i), Attributes: attrs,
				EvidenceRefs: []string{fmt.Sprintf("%064x", i)}, Inspector: "apkinspect", InspectorVersion: "1"}},
			FirstSeen: last.Add(-time.Duration(r.IntN(30*24)) * time.Hour), LastSeen: last}
		if !seen.IsZero() {
			f.LastSeen = seen
		}
		out = append(out, f)
	}
	return out
}

// seed writes n findings over 500 targets and 40 rules, with SDKs, dates over 90 days, and moves
// about a third of them along the case path.
func seed(ctx context.Context, st *store.Store, cat *rules.Catalogue, n int) error {
	var fps []string
	for start := 0; start < n; start += 1000 {
		res, err := st.UpsertBatch(ctx, seedFindings(cat, start, min(1000, n-start), time.Time{}), "scan-bench")
		if err != nil {
			return err
		}
		for _, x := range res {
			fps = append(fps, x.Fingerprint)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(fps); i += 8 {
				if i%3 != 0 {
					continue
				}
				if _, err := st.Transition(ctx, fps[i], findings.StateInReview, "bench", findings.TransitionInput{}); err != nil {
					errs <- err
					return
				}
				if i%9 == 0 {
					if _, err := st.Transition(ctx, fps[i], findings.StateDismissed, "bench", findings.TransitionInput{}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func login(base, user, pw string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/login")
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := csrfRE.FindSubmatch(b)
	if m == nil {
		return "", fmt.Errorf("no CSRF token on the login page")
	}
	res, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "username": {user}, "password": {pw}})
	if err != nil {
		return "", err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("login: status %d", res.StatusCode)
	}
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "pilmon_session" {
			return ck.Name + "=" + ck.Value, nil
		}
	}
	return "", fmt.Errorf("no session cookie")
}

// probe checks the endpoint answers 200 and returns the body size.
func probe(u, cookie string) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d", res.StatusCode)
	}
	return len(b), nil
}

type wrkResult struct {
	rps, p50, p99 float64
	gcs           uint32
}

var (
	latRE = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
)

func wrk(u, cookie, script string, conns int, dur time.Duration) (wrkResult, error) {
	args := []string{"-t", "1", "-c", strconv.Itoa(conns), "-d", dur.String(), "--latency", "-H", "Cookie: " + cookie}
	if !closedLoop {
		args = append(args, "-s", script)
	}
	out, err := exec.Command("wrk", append(args, u)...).CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("%v: %s", err, out)
	}
	var r wrkResult
	if m := rpsRE.FindSubmatch(out); m != nil {
		r.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	for _, m := range latRE.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(m[2]), 64)
		switch string(m[3]) {
		case "us":
			v /= 1000
		case "s":
			v *= 1000
		}
		if string(m[1]) == "50" {
			r.p50 = v
		} else {
			r.p99 = v
		}
	}
	if strings.Contains(string(out), "Non-2xx") {
		return r, fmt.Errorf("non-2xx responses: %s", out)
	}
	return r, nil
}
