package main

// Owned by the scheduling and workers work (issue 9): pilmon worker, pilmon schedule, pilmon target.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"pilmon/evidence"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
	"pilmon/worker"
)

// stateFlags are the flags of every command that works on the shared state.
type stateFlags struct {
	common     commonFlags
	importRoot string
	prefix     string
}

func (s *stateFlags) register(fs *flag.FlagSet) {
	s.common.register(fs)
	fs.StringVar(&s.importRoot, "import-root", os.Getenv("PILMON_IMPORT_ROOT"),
		"本地来源所在的导入目录 / the folder local sources must live in (default <data-dir>/import)")
	fs.StringVar(&s.prefix, "prefix", store.DefaultPrefix, "Redis 键前缀 / Redis key prefix")
}

// state is what the worker, schedule and target commands share.
type state struct {
	cat   *rules.Catalogue
	store *store.Store
	reg   *targets.Registry
	close func()
}

func openState(ctx context.Context, env *cliEnv, s stateFlags) (*state, error) {
	cat, err := loadCatalogue(s.common.dataDir)
	if err != nil {
		return nil, err
	}
	root := s.importRoot
	if root == "" {
		root = filepath.Join(s.common.dataDir, "import")
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("import folder: %w", err)
	}
	rdb, stop, err := openRedis(ctx, env, s.common)
	if err != nil {
		return nil, err
	}
	store := store.NewStore(rdb, s.prefix)
	return &state{cat: cat, store: store, close: stop,
		reg: targets.New(store, targets.Options{ImportRoot: root, Catalogue: cat})}, nil
}

func (st *state) deps(name string, log func() *cliEnv) worker.Deps {
	return worker.Deps{Store: st.store, Targets: st.reg, Name: name, Log: log().log}
}

func runWorker(ctx context.Context, env *cliEnv, args []string) error {
	var s stateFlags
	fs := newFlagSet(env, "worker", "[--name N] [--concurrency N] [--claim-after D] [--attempts N] [--scheduler]")
	s.register(fs)
	name := fs.String("name", "", "消费者名称，每个进程唯一 / consumer name, unique per process (default host-pid)")
	conc := fs.Int("concurrency", 2, "同时进行的扫描数 / scans at once")
	claimAfter := fs.Duration("claim-after", 30*time.Second, "无心跳多久后由其他工作进程接管 / take over a job after this long without its worker's heartbeat")
	attempts := fs.Int("attempts", 3, "投递多少次后移入死信 / deliveries before a job is dead-lettered")
	pages := fs.Int("browser-pages", 2, "同时打开的浏览器页面 / Chromium pages at once (one browser per worker)")
	withSched := fs.Bool("scheduler", false, "同时参与定时调度（租约保证只有一个生效）/ also run a scheduler (a lease keeps one active)")
	grace := fs.Duration("grace", 30*time.Second, "停止时等待进行中扫描的时间 / how long to let running scans finish on stop")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	s.common.apply(env)
	st, err := openState(ctx, env, s)
	if err != nil {
		return err
	}
	defer st.close()
	ev, err := evidence.Open(filepath.Join(s.common.dataDir, "evidence"), evidence.Options{Tool: "pilmon " + version})
	if err != nil {
		return fmt.Errorf("evidence store: %w", err)
	}
	ins, closeIns, err := buildInspectors(env, st.cat, pipeline.InspectorOptions{BrowserPages: *pages})
	if err != nil {
		return err
	}
	defer closeIns()
	deps := st.deps(*name, func() *cliEnv { return env })
	deps.ClaimAfter, deps.Attempts = *claimAfter, *attempts
	deps.Runner = &pipeline.Runner{Catalogue: st.cat, Inspectors: ins, Evidence: ev, Store: st.store, Log: env.log}
	pool, err := worker.StartPool(ctx, deps, *conc)
	if err != nil {
		return err
	}
	var sched *worker.Scheduler
	if *withSched {
		if sched, err = worker.StartScheduler(ctx, deps, worker.SchedulerOptions{}); err != nil {
			_ = pool.Stop(context.Background())
			return err
		}
	}
	fmt.Fprintf(env.stderr, "pilmon worker %s 已启动 / started (concurrency %d)\n", pool.Name(), *conc)
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), *grace)
	defer cancel()
	if sched != nil {
		_ = sched.Stop(stopCtx)
	}
	err = pool.Stop(stopCtx)
	stats := pool.Stats()
	fmt.Fprintf(env.stderr, "pilmon worker %s 已停止 / stopped: done %d, failed %d, dead %d, reclaimed %d\n",
		pool.Name(), stats.Done, stats.Failed, stats.Dead, stats.Reclaimed)
	return err
}

func runSchedule(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "run [--lease-ttl D] [--tick D] | list [--json] [-n N]"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon schedule %s", usage)
	}
	sub, args := args[0], args[1:]
	var s stateFlags
	fs := newFlagSet(env, "schedule "+sub, usage)
	s.register(fs)
	leaseTTL := fs.Duration("lease-ttl", 15*time.Second, "调度租约有效期 / scheduler lease TTL")
	tick := fs.Duration("tick", time.Second, "检查间隔 / how often due scans are checked")
	jsonOut := fs.Bool("json", false, "输出 JSON / JSON output")
	n := fs.Int("n", 3, "list: 显示的下次运行数 / next runs to show")
	id := fs.String("id", "", "run: 租约中的调度器名称 / scheduler id in the lease")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	s.common.apply(env)
	switch sub {
	case "run", "list":
	default:
		return usageErr("未知子命令 / unknown subcommand %q; usage: pilmon schedule %s", sub, usage)
	}
	st, err := openState(ctx, env, s)
	if err != nil {
		return err
	}
	defer st.close()
	deps := st.deps("", func() *cliEnv { return env })
	if sub == "list" {
		infos, holder, err := worker.Schedules(ctx, deps, time.Now(), *n)
		if err != nil {
			return err
		}
		if *jsonOut {
			return writeJSON(env.stdout, map[string]any{"active_scheduler": holder, "schedules": infos})
		}
		if holder == "" {
			holder = "无 / none"
		}
		fmt.Fprintf(env.stdout, "当前调度器 / active scheduler: %s\n\n", holder)
		tw := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "对象 / target\t计划 / schedule\t上次 / last\t下次 / next")
		for _, in := range infos {
			var next []string
			for _, t := range in.Next {
				next = append(next, t.In(shanghai()).Format("2006-01-02 15:04:05"))
			}
			last := "-"
			if !in.Last.IsZero() {
				last = in.Last.In(shanghai()).Format("2006-01-02 15:04:05")
			}
			if in.Error != "" {
				next = []string{"! " + in.Error}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", in.TargetID, in.Spec, last, strings.Join(next, ", "))
		}
		return tw.Flush()
	}
	sched, err := worker.StartScheduler(ctx, deps, worker.SchedulerOptions{ID: *id, LeaseTTL: *leaseTTL, Tick: *tick})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "pilmon scheduler %s 已启动（租约 %s）/ started (lease %s)\n", sched.ID(), *leaseTTL, *leaseTTL)
	<-ctx.Done()
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = sched.Stop(stopCtx)
	fmt.Fprintf(env.stderr, "pilmon scheduler %s 已停止 / stopped: enqueued %d\n", sched.ID(), sched.Enqueued())
	return err
}

func shanghai() *time.Location {
	if l, err := time.LoadLocation(targets.DefaultZone); err == nil {
		return l
	}
	return time.UTC
}

func runTarget(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "add --id ID --kind app|miniprogram|site --source KIND=LOCATOR… [--name N] [--operator O] [--category KEY] [--schedule CRON]\n" +
		"  | list [--json] | show ID [--json] [--history N] | rm ID | import FILE.yaml | scan ID"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon target %s", usage)
	}
	sub, args := args[0], args[1:]
	var s stateFlags
	fs := newFlagSet(env, "target "+sub, usage)
	s.register(fs)
	jsonOut := fs.Bool("json", false, "输出 JSON / JSON output")
	var t scanner.Target
	var sources multiFlag
	fs.StringVar(&t.ID, "id", "", "add: 对象 ID / target id")
	fs.StringVar((*string)(&t.Kind), "kind", "app", "add: app|miniprogram|site")
	fs.StringVar(&t.Name, "name", "", "add: 名称 / name")
	fs.StringVar(&t.Operator, "operator", "", "add: 运营者 / operator")
	fs.StringVar(&t.Category, "category", "", "add: App 类别 / app category key")
	fs.StringVar(&t.Schedule, "schedule", "", "add: cron（秒可选，默认 Asia/Shanghai）/ cron spec, seconds optional")
	fs.Var(&sources, "source", "add: 来源 KIND=LOCATOR（可重复）/ a source, repeatable; kinds: "+kindList())
	appID := fs.String("appid", "", "add: 加密 .wxapkg 的 AppID / app id for wxapkg sources")
	deviceValues := fs.String("device-values", "", "add: HAR 来源的测试机标识 YAML / device-values file for har sources")
	history := fs.Int("history", 10, "show: 显示的扫描历史条数 / scans of history to show")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	s.common.apply(env)
	needArg := func() (string, error) {
		if len(pos) != 1 {
			return "", usageErr("pilmon target %s 需要一个参数 / takes exactly one argument", sub)
		}
		return pos[0], nil
	}
	switch sub {
	case "add", "list", "show", "rm", "import", "scan":
	default:
		return usageErr("未知子命令 / unknown subcommand %q; usage: pilmon target %s", sub, usage)
	}
	var arg string
	if sub != "add" && sub != "list" {
		if arg, err = needArg(); err != nil {
			return err
		}
	}
	var importData []byte
	if sub == "import" {
		f, err := os.Open(arg)
		if err != nil {
			return err
		}
		importData, err = readLimited(f, targets.MaxImportBytes)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", arg, err)
		}
	}
	if sub == "add" {
		for _, src := range sources {
			kind, loc, ok := strings.Cut(src, "=")
			if !ok {
				return usageErr("--source %q: want KIND=LOCATOR", src)
			}
			so := scanner.Source{Kind: scanner.SourceKind(kind), Locator: loc}
			if so.Kind == scanner.SourceWxapkg && *appID != "" {
				so.Options = map[string]string{"appid": *appID}
			}
			if so.Kind == scanner.SourceHAR && *deviceValues != "" {
				so.Options = map[string]string{"device_values": *deviceValues}
			}
			t.Sources = append(t.Sources, so)
		}
	}
	st, err := openState(ctx, env, s)
	if err != nil {
		return err
	}
	defer st.close()
	invalid := func(err error) error {
		if errors.Is(err, targets.ErrInvalid) {
			return exitErr{exitUsage, err}
		}
		return err
	}
	switch sub {
	case "add":
		stored, err := st.reg.Put(ctx, t)
		if err != nil {
			return invalid(err)
		}
		if *jsonOut {
			return writeJSON(env.stdout, stored)
		}
		fmt.Fprintf(env.stdout, "已保存 / saved %s (%d 个来源 / sources)\n", stored.ID, len(stored.Sources))
		return nil
	case "list":
		ts, err := st.reg.List(ctx)
		if err != nil && ts == nil {
			return err
		}
		if *jsonOut {
			return writeJSON(env.stdout, ts)
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\t类型 / kind\t名称 / name\t类别 / category\t来源 / sources\t计划 / schedule")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", t.ID, t.Kind, t.Name, dash(t.Category), len(t.Sources), dash(t.Schedule))
		}
		tw.Flush()
		return err
	case "show":
		t, err := st.reg.Get(ctx, arg)
		if err != nil {
			return err
		}
		h := pipeline.NewHistory(st.store)
		recs, total, err := h.ForTarget(ctx, arg, 0, *history)
		if err != nil {
			return err
		}
		var diff *pipeline.ScanDiff
		if len(recs) >= 2 {
			d := pipeline.Diff(recs[1], recs[0])
			diff = &d
		}
		if *jsonOut {
			return writeJSON(env.stdout, map[string]any{"target": t, "scans_total": total, "scans": recs, "latest_diff": diff})
		}
		b, _ := json.MarshalIndent(t, "", "  ")
		fmt.Fprintf(env.stdout, "%s\n\n扫描历史 / scans (%d):\n", b, total)
		for _, r := range recs {
			fmt.Fprintf(env.stdout, "  %s  %s  %-9s  %d 条线索 / findings  %s\n", r.ID, r.StartedAt.In(shanghai()).Format("2006-01-02 15:04:05"),
				r.Status, len(r.Fingerprints), r.Duration().Round(time.Millisecond))
		}
		if diff != nil {
			fmt.Fprintf(env.stdout, "\n最近两次扫描的差异 / latest diff %s → %s: 新增 / new %d, 消失 / gone %d, 仍在 / still %d\n",
				diff.From, diff.To, len(diff.New), len(diff.Gone), len(diff.Still))
		}
		return nil
	case "rm":
		ok, err := st.reg.Delete(ctx, arg)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("target %q: %w", arg, targets.ErrNotFound)
		}
		fmt.Fprintf(env.stdout, "已删除 / removed %s（线索与历史保留 / findings and history kept）\n", arg)
		return nil
	case "import":
		ts, err := st.reg.Import(ctx, importData)
		if err != nil {
			return invalid(err)
		}
		fmt.Fprintf(env.stdout, "已导入 / imported %d 个对象 / targets\n", len(ts))
		return nil
	case "scan":
		j, err := worker.Enqueue(ctx, st.deps("", func() *cliEnv { return env }), arg, "cli", nil)
		if err != nil {
			return err
		}
		if *jsonOut {
			return writeJSON(env.stdout, j)
		}
		fmt.Fprintf(env.stdout, "已排队 / queued scan %s of %s\n", j.ID, arg)
		return nil
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func readLimited(f *os.File, limit int64) ([]byte, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%d bytes, limit %d", st.Size(), limit)
	}
	buf := make([]byte, st.Size())
	_, err = f.ReadAt(buf, 0)
	return buf, err
}
