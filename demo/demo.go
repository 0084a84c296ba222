// Package demo is `pilmon demo` (`make demo`): the whole product in one command, as a newcomer
// meets it. It generates fictional violating and clean targets with samplegen (labelled as
// generated), serves their privacy policies and H5 pages on its own loopback server under made-up
// domains, registers the targets with a schedule, runs their first scans through the real job
// queue, worker pool and scheduler (Chromium for the URLs), serves the dashboard, and — for tests
// and `pilmon demo --check` — asserts through the dashboard's HTTP API that every target shows
// the findings it was made to show.
//
// Only the demo lets the SSRF guard through to loopback: its inspectors are built here with the
// allow-list and host-resolver rules of its own server, not from the configuration of a real
// deployment.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"pilmon/casefile"
	"pilmon/evidence"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
	"pilmon/web"
	"pilmon/worker"
)

// Config configures a demo.
type Config struct {
	// DataDir holds the evidence store and the casefile signing key; the caller runs Redis
	// (usually embedded in DataDir/redis).
	DataDir string
	// Listen is the dashboard's address (default 127.0.0.1:8080; port 0 picks a free one).
	Listen string
	// Store and Targets are the caller's, on its Redis. The generated inputs go to the
	// registry's import folder (ImportRoot(DataDir) by convention), under demo/.
	Store     *store.Store
	Targets   *targets.Registry
	Catalogue *rules.Catalogue
	// Version is shown in the footer and recorded in evidence ("pilmon <Version>").
	Version string
	// Out receives the messages and the progress bar; TTY redraws the bar in place.
	Out io.Writer
	TTY bool
	Log *slog.Logger
	// Workers is the number of concurrent scans (default 2).
	Workers int
	// Evidence is the caller's evidence store (with its seal key); nil opens DataDir/evidence
	// without a key.
	Evidence *evidence.Store
}

// Demo is a running demo.
type Demo struct {
	cfg          Config
	tool         string
	site         *site
	store        *store.Store
	reg          *targets.Registry
	ev           *evidence.Store
	web          *web.Server
	http         *http.Server
	ln           net.Listener
	closeBrowser func() error
	pool         *worker.Pool
	sched        *worker.Scheduler

	cancel context.CancelFunc
	served chan struct{}

	// URL is the dashboard's address, e.g. http://127.0.0.1:8080/.
	URL string
	// AdminPassword is the password of "admin" when this run created the account ("" otherwise:
	// it was printed on the first run).
	AdminPassword string
	// Targets are the demo targets as registered.
	Targets []scanner.Target
	// APKMissing says why the APKs were not built ("" when they were).
	APKMissing string
	// Pending are the targets without any scan when this run started: the scheduler gives each
	// its initial scan as soon as it sees its schedule.
	Pending map[string]bool
	// Jobs are those first scans as WaitFirstScans sees them start (scan id → target id).
	Jobs map[string]string
}

// ImportRoot is the demo's import folder in dataDir, for the registry given to Start.
func ImportRoot(dataDir string) string { return filepath.Join(dataDir, "import") }

// Start generates and registers the demo targets, starts the loopback site, the dashboard, the
// worker pool and the scheduler, whose first sight of a target's schedule enqueues its initial scan.
// Stop undoes all of it (the caller stops Redis).
func Start(ctx context.Context, cfg Config) (d *Demo, err error) {
	if cfg.Store == nil || cfg.Targets == nil || cfg.Catalogue == nil || cfg.DataDir == "" {
		return nil, errors.New("demo: Config needs DataDir, Store, Targets and Catalogue")
	}
	if cfg.Targets.ImportRoot() == "" {
		return nil, errors.New("demo: the targets registry needs an import folder for the generated inputs")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d = &Demo{cfg: cfg, tool: "pilmon " + cfg.Version, cancel: cancel, served: make(chan struct{}), Jobs: map[string]string{}, Pending: map[string]bool{}}
	defer func() {
		if err != nil {
			_ = d.Stop(context.Background())
			d = nil
		}
	}()

	if d.site, err = startSite(); err != nil {
		return d, err
	}
	importRoot := cfg.Targets.ImportRoot()
	fmt.Fprintln(cfg.Out, "生成演示样本（虚构运营者，标注为示例）/ generating the demo samples (fictional operator, labelled as generated)…")
	g, err := generate(filepath.Join(importRoot, "demo"))
	if err != nil {
		return d, fmt.Errorf("demo: generate samples: %w", err)
	}
	if g.violating.APK != "" {
		d.site.apk.Store(&g.violating.APK)
	}
	if d.APKMissing = g.apkMissing(); d.APKMissing != "" {
		fmt.Fprintf(cfg.Out, "注意 / note: 未生成 APK，App 对象不含 APK 来源 / the APKs were not built: %s\n", d.APKMissing)
	}
	if d.ev = cfg.Evidence; d.ev == nil {
		if d.ev, err = evidence.Open(filepath.Join(cfg.DataDir, "evidence"), evidence.Options{Tool: d.tool}); err != nil {
			return d, fmt.Errorf("demo: evidence store: %w", err)
		}
	}
	d.store, d.reg = cfg.Store, cfg.Targets
	for _, t := range demoTargets(g) {
		stored, err := d.reg.Put(ctx, t)
		if err != nil {
			return d, fmt.Errorf("demo: register %s: %w", t.ID, err)
		}
		d.Targets = append(d.Targets, stored)
	}
	fmt.Fprintf(cfg.Out, "已登记 %d 个演示对象，计划 %s / registered %d demo targets, schedule %s\n", len(d.Targets), Schedule, len(d.Targets), Schedule)

	if err := d.startDashboard(ctx, runCtx, importRoot); err != nil {
		return d, err
	}
	if err := d.startWorkers(runCtx); err != nil {
		return d, err
	}
	if err := d.findPending(ctx); err != nil {
		return d, err
	}
	return d, nil
}

func (d *Demo) startDashboard(ctx, runCtx context.Context, importRoot string) error {
	cfg := d.cfg
	uploads := filepath.Join(importRoot, "uploads")
	if err := os.MkdirAll(uploads, 0o755); err != nil {
		return err
	}
	key, err := casefile.LoadOrCreateKey(cfg.DataDir)
	if err != nil {
		return err
	}
	exp := &exporter{reg: d.reg, deps: casefile.Deps{Findings: d.store, Evidence: d.ev, Catalogue: cfg.Catalogue,
		Options: casefile.Options{Key: key, Tool: d.tool}}}
	d.web, err = web.New(web.Config{Store: d.store, Evidence: d.ev, Catalogue: cfg.Catalogue, Targets: d.reg,
		Logger: cfg.Log, Export: exp, UploadDir: uploads, Version: cfg.Version, IndexInterval: time.Second})
	if err != nil {
		return err
	}
	pw, created, err := d.web.Accounts().EnsureAdmin(ctx)
	if err != nil {
		return err
	}
	if created {
		d.AdminPassword = pw
	}
	d.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("demo: dashboard on %s: %w (another program uses it? try: make demo LISTEN=127.0.0.1:8090)", cfg.Listen, err)
	}
	d.URL = "http://" + d.ln.Addr().String() + "/"
	d.http = &http.Server{Handler: d.web.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10, BaseContext: func(net.Listener) context.Context { return runCtx }}
	go d.web.Run(runCtx)
	go func() {
		defer close(d.served)
		if err := d.http.Serve(d.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Warn("dashboard stopped 看板停止", "err", err)
		}
	}()
	return nil
}

// inspectors are pipeline.DefaultInspectors with the SSRF guard letting the demo's loopback site
// through (here only) and its made-up domains mapped to it.
func (d *Demo) inspectors() ([]scanner.Inspector, error) {
	ins, closeBrowser, err := pipeline.DefaultInspectors(d.cfg.Catalogue, pipeline.InspectorOptions{
		Tool: d.tool, BrowserAllow: []string{"127.0.0.0/8"}, HostResolverRules: d.site.HostResolverRules(),
		CaptureIdleQuiet: 500 * time.Millisecond, BrowserPages: 2})
	if err != nil {
		return nil, err
	}
	d.closeBrowser = closeBrowser
	return ins, nil
}

func (d *Demo) startWorkers(runCtx context.Context) error {
	ins, err := d.inspectors()
	if err != nil {
		return err
	}
	deps := worker.Deps{Store: d.store, Targets: d.reg, Log: d.cfg.Log,
		Runner: &pipeline.Runner{Catalogue: d.cfg.Catalogue, Inspectors: ins, Evidence: d.ev, Store: d.store, Log: d.cfg.Log}}
	if d.pool, err = worker.StartPool(runCtx, deps, d.cfg.Workers); err != nil {
		return err
	}
	if d.sched, err = worker.StartScheduler(runCtx, deps, worker.SchedulerOptions{}); err != nil {
		return err
	}
	return nil
}

// findPending notes the demo targets that have no scan yet. Their first scans go through the
// real scheduler: it enqueues an initial scan the first time it sees a schedule.
func (d *Demo) findPending(ctx context.Context) error {
	for _, t := range d.Targets {
		_, total, err := d.store.ScansForTarget(ctx, t.ID, 0, 1)
		if err != nil {
			return err
		}
		if total == 0 {
			d.Pending[t.ID] = true
		}
	}
	return nil
}

// WaitFirstScans shows a progress bar until every first scan is recorded (or dead-lettered), and
// returns an error naming the scans that failed.
func (d *Demo) WaitFirstScans(ctx context.Context) error {
	if len(d.Pending) == 0 {
		fmt.Fprintln(d.cfg.Out, "演示对象已有扫描记录，复用已有数据；调度器按计划重新扫描 / the demo targets were scanned before: reusing the data; the scheduler rescans them on schedule")
		return nil
	}
	total := 0
	srcs := map[string]int{} // target id → sources
	for _, t := range d.Targets {
		if d.Pending[t.ID] {
			srcs[t.ID] = len(t.Sources)
			total += len(t.Sources)
		}
	}
	started := map[string]bool{}    // target id → its first scan has been seen
	done := map[string]int{}        // scan id → sources finished
	finished := map[string]string{} // scan id → status
	after := "0"
	start := time.Now()
	bar := &progress{out: d.cfg.Out, tty: d.cfg.TTY}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		evs, err := d.store.ReadEvents(ctx, after, 1000, -1)
		if err != nil && ctx.Err() == nil {
			d.cfg.Log.Warn("read events", "err", err)
		}
		for _, m := range evs {
			after = m.StreamID
			e := m.Event
			if _, ours := d.Jobs[e.ScanID]; !ours {
				if !d.Pending[e.TargetID] || started[e.TargetID] || e.ScanID == "" {
					continue
				}
				d.Jobs[e.ScanID], started[e.TargetID] = e.TargetID, true
			}
			switch e.Kind {
			case scanner.EventInspectorFinished:
				done[e.ScanID]++
			case worker.EventJobDead:
				finished[e.ScanID] = "dead: " + e.Message
			}
		}
		for id := range d.Jobs {
			if _, ok := finished[id]; ok {
				continue
			}
			if rec, err := d.store.GetScan(ctx, id); err == nil {
				st := string(rec.Status)
				for _, r := range rec.Runs {
					if r.Status != scanner.StatusSucceeded {
						st += fmt.Sprintf(" [%s %s: %s]", r.Inspector, r.Source.Locator, scanner.JoinErrors(r.Errors, " | "))
					}
				}
				finished[id] = st
				done[id] = srcs[d.Jobs[id]]
			}
		}
		n := 0
		for id, tid := range d.Jobs {
			n += min(done[id], srcs[tid])
		}
		bar.draw(n, total, len(finished), len(d.Pending), time.Since(start))
		if len(finished) == len(d.Pending) {
			bar.finish()
			break
		}
		select {
		case <-ctx.Done():
			bar.finish()
			return ctx.Err()
		case <-tick.C:
		}
	}
	var bad []string
	ids := make([]string, 0, len(finished))
	for id := range finished {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		st := finished[id]
		if !strings.HasPrefix(st, string(scanner.StatusSucceeded)) {
			bad = append(bad, fmt.Sprintf("%s (%s): %s", d.Jobs[id], id, st))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("demo: scans not fully successful / 扫描未完全成功: %s", strings.Join(bad, "; "))
	}
	return nil
}

// progress draws one line: a bar over the sources inspected, targets done, elapsed time.
type progress struct {
	out  io.Writer
	tty  bool
	last string
}

func (p *progress) draw(n, total, targetsDone, targets int, el time.Duration) {
	const width = 24
	fill := 0
	if total > 0 {
		fill = n * width / total
	}
	line := fmt.Sprintf("首次扫描 / first scans [%s%s] %d/%d 来源 sources · %d/%d 对象 targets",
		strings.Repeat("█", fill), strings.Repeat("░", width-fill), n, total, targetsDone, targets)
	if p.tty {
		fmt.Fprintf(p.out, "\r\033[K%s · %.0fs", line, el.Seconds())
		return
	}
	if line != p.last {
		fmt.Fprintf(p.out, "%s · %.1fs\n", line, el.Seconds())
	}
	p.last = line
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.out)
	}
}

// Summary writes the findings per target and how to log in.
func (d *Demo) Summary(ctx context.Context, w io.Writer, dataDir string) error {
	if err := d.web.SyncIndex(ctx); err != nil {
		return err
	}
	c, err := d.store.Counts(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "\n演示对象 / demo targets:")
	for _, t := range d.Targets {
		fmt.Fprintf(w, "  %-22s %3d 条记录 / records  %s\n", t.ID, c.ByTarget[t.ID], t.Name)
	}
	fmt.Fprintf(w, "\n看板 / dashboard: %s\n", d.URL)
	if d.AdminPassword != "" {
		fmt.Fprintf(w, "用户名 / user: admin\n初始密码（只显示这一次，请记下）/ initial password (shown once, write it down):\n\n    %s\n\n", d.AdminPassword)
	} else {
		fmt.Fprintf(w, "用户名 / user: admin — 密码已在第一次运行时显示 / the password was printed on the first run.\n"+
			"忘记密码时重置 / to reset it:  echo 'NEW-PASSWORD' | ./bin/pilmon user passwd admin --data-dir %s\n", dataDir)
	}
	fmt.Fprintln(w, "按 Ctrl-C 停止（工作进程、调度器、看板、浏览器、Redis）/ press Ctrl-C to stop everything.")
	return nil
}

// Stop stops the scheduler, the workers (letting running scans finish for a while), the
// dashboard, Chromium and the loopback site.
func (d *Demo) Stop(ctx context.Context) error {
	var errs []error
	stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if d.sched != nil {
		errs = append(errs, d.sched.Stop(stopCtx))
	}
	if d.pool != nil {
		errs = append(errs, d.pool.Stop(stopCtx))
	}
	if d.http != nil {
		errs = append(errs, d.http.Shutdown(stopCtx))
		<-d.served
	}
	d.cancel()
	if d.closeBrowser != nil {
		errs = append(errs, d.closeBrowser())
	}
	if d.site != nil {
		errs = append(errs, d.site.Stop(stopCtx))
	}
	return errors.Join(errs...)
}

// exporter adapts casefile.Export to the dashboard's export buttons.
type exporter struct {
	deps casefile.Deps
	reg  *targets.Registry
}

func (x *exporter) Export(ctx context.Context, w io.Writer, target string, fps []string, user string) error {
	d := x.deps
	d.User = user
	if target != "" {
		if t, err := x.reg.Get(ctx, target); err == nil {
			d.Target = &t
		}
	}
	// The dashboard exports what its list shows, untriaged findings included (the list has no
	// control to leave them out yet); dismissed ones stay out.
	_, err := casefile.Export(ctx, w, casefile.Selection{TargetID: target, Fingerprints: fps, IncludeUntriaged: true}, d)
	return err
}
