package main

// pilmon worker, pilmon schedule, pilmon target.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"pilmon/pipeline"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
	"pilmon/worker"
)

func (st *state) deps(name string, env *cliEnv) worker.Deps {
	return worker.Deps{Store: st.store, Targets: st.reg, Name: name, Log: env.log}
}

func runWorker(ctx context.Context, env *cliEnv, args []string) error {
	var cfg config
	fs := newFlagSet(env, "worker", "[--name N] [--concurrency N] [--claim-after D] [--attempts N] [--scheduler]")
	cfg.register(fs)
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
	cfg.apply(env)
	st, err := openState(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	ev, err := openEvidence(cfg.dataDir, env.log)
	if err != nil {
		return err
	}
	ins, closeIns, err := buildInspectors(env, st.cat, pipeline.InspectorOptions{BrowserPages: *pages})
	if err != nil {
		return err
	}
	defer closeIns()
	deps := st.deps(*name, env)
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
	// Each subcommand has its own flags: a flag of another subcommand is a usage error.
	var cfg config
	fs := newFlagSet(env, "schedule "+sub, usage)
	cfg.register(fs)
	leaseTTL, tick, id := new(time.Duration), new(time.Duration), new(string)
	jsonOut, n := new(bool), new(int)
	switch sub {
	case "run":
		fs.DurationVar(leaseTTL, "lease-ttl", 15*time.Second, "调度租约有效期 / scheduler lease TTL")
		fs.DurationVar(tick, "tick", time.Second, "检查间隔 / how often due scans are checked")
		fs.StringVar(id, "id", "", "租约中的调度器名称 / scheduler id in the lease")
	case "list":
		fs.BoolVar(jsonOut, "json", false, "输出 JSON / JSON output")
		fs.IntVar(n, "n", 3, "显示的下次运行数 / next runs to show")
	default:
		return usageErr("未知子命令 / unknown subcommand %q; usage: pilmon schedule %s", sub, usage)
	}
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.apply(env)
	st, err := openState(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer st.close()
	deps := st.deps("", env)
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
	const usage = "add --id ID [--kind app|miniprogram|site] --source KIND=LOCATOR… [--opt NAME=VALUE…] [--name N] [--operator O] [--category KEY] [--schedule CRON]\n" +
		"  | list [--json] | show ID [--json] [--history N] | versions ID [--json] | rm ID | import FILE.yaml | scan ID"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon target %s", usage)
	}
	sub, args := args[0], args[1:]
	// Each subcommand has its own flags: a flag of another subcommand (pilmon target list
	// --appid X) is a usage error, not silently ignored.
	var cfg config
	fs := newFlagSet(env, "target "+sub, usage)
	cfg.register(fs)
	jsonOut := new(bool)
	var t scanner.Target
	var sources multiFlag
	options, history := newOptionFlags(), new(int)
	kinds := pipeline.Kinds(nil)
	switch sub {
	case "add":
		fs.BoolVar(jsonOut, "json", false, "输出 JSON / JSON output")
		fs.StringVar(&t.ID, "id", "", "对象 ID / target id")
		fs.StringVar((*string)(&t.Kind), "kind", "", "app|miniprogram|site；默认由来源类型推断 / default: the kind the sources imply")
		fs.StringVar(&t.Name, "name", "", "名称 / name")
		fs.StringVar(&t.Operator, "operator", "", "运营者 / operator")
		fs.StringVar(&t.Category, "category", "", "App 类别 / app category key")
		fs.StringVar(&t.Schedule, "schedule", "", "cron（秒可选，默认 Asia/Shanghai）/ cron spec, seconds optional")
		fs.Var(&sources, "source", "来源 KIND=LOCATOR（可重复）/ a source, repeatable; kinds: "+kindList(kinds))
		fs.StringVar(options.shortcut("appid"), "appid", "", "加密 .wxapkg 的 AppID（同 --opt appid=）/ app id for wxapkg sources")
		fs.StringVar(options.shortcut("device_values"), "device-values", "", "HAR 来源的测试机标识 YAML（同 --opt device_values=）/ device-values file for har sources")
		fs.StringVar(options.shortcut("consent_at"), "consent-at", "", "同意时间 RFC3339（同 --opt consent_at=）/ consent time for har sources")
		fs.Var(&options.opts, "opt", optUsage)
	case "list", "scan", "versions":
		fs.BoolVar(jsonOut, "json", false, "输出 JSON / JSON output")
	case "show":
		fs.BoolVar(jsonOut, "json", false, "输出 JSON / JSON output")
		fs.IntVar(history, "history", 10, "显示的扫描历史条数 / scans of history to show")
	case "rm", "import":
	default:
		return usageErr("未知子命令 / unknown subcommand %q; usage: pilmon target %s", sub, usage)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	cfg.apply(env)
	needArg := func() (string, error) {
		if len(pos) != 1 {
			return "", usageErr("pilmon target %s 需要一个参数 / takes exactly one argument", sub)
		}
		return pos[0], nil
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
			t.Sources = append(t.Sources, scanner.Source{Kind: scanner.SourceKind(kind), Locator: loc})
		}
		// Path options stay as given: the registry resolves them inside the import folder.
		if err := options.apply(t.Sources, kinds, false); err != nil {
			return err
		}
		if t.Kind == "" {
			t.Kind = impliedTarget(t.Sources, kinds)
		}
	}
	st, err := openState(ctx, env, cfg)
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
		recs, total, err := st.store.ScansForTarget(ctx, arg, 0, *history)
		if err != nil {
			return err
		}
		var diff *store.ScanDiff
		if len(recs) >= 2 {
			d := store.DiffScanRecords(recs[1], recs[0])
			diff = &d
		}
		if *jsonOut {
			return writeJSON(env.stdout, map[string]any{"target": t, "scans_total": total, "scans": recs, "latest_diff": diff})
		}
		b, _ := json.MarshalIndent(t, "", "  ")
		fmt.Fprintf(env.stdout, "%s\n\n扫描历史 / scans (%d):\n", b, total)
		for _, r := range recs {
			fmt.Fprintf(env.stdout, "  %s  %s  %-9s  %d 条记录 / records  %s\n", r.ID, r.StartedAt.In(shanghai()).Format("2006-01-02 15:04:05"),
				r.Status, len(r.Fingerprints), r.Duration().Round(time.Millisecond))
		}
		if diff != nil {
			fmt.Fprintf(env.stdout, "\n最近两次扫描的差异 / latest diff %s → %s: 新增 / new %d, 消失 / gone %d, 仍在 / still %d\n",
				diff.From, diff.To, len(diff.New), len(diff.Gone), len(diff.Still))
		}
		return nil
	case "versions":
		// A scan with --store and --target-id keeps versions of a target nobody registered.
		vs, err := st.store.Versions(ctx, arg)
		if err != nil {
			return err
		}
		if len(vs) == 0 {
			if _, err := st.reg.Get(ctx, arg); err != nil {
				return err
			}
		}
		if *jsonOut {
			return writeJSON(env.stdout, vs)
		}
		if len(vs) == 0 {
			fmt.Fprintf(env.stdout, "%s 尚无远程来源的版本 / no versions from a remote source yet\n", arg)
			return nil
		}
		tw := tabwriter.NewWriter(env.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "版本 / version	代码 / code	SHA-256	签名证书 / signer	首次 / first seen（北京时间）	最近 / last seen	来源记录 / provenance")
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\t%s\t%.16s…\t%.16s…\t%s\t%s\t%.16s…\n", dash(v.VersionName), dash(v.VersionCode), v.SHA256, v.SignerSHA256,
				v.FirstSeen.In(shanghai()).Format("2006-01-02 15:04:05"), v.LastSeen.In(shanghai()).Format("2006-01-02 15:04:05"), v.Provenance)
		}
		return tw.Flush()
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
		j, err := worker.Enqueue(ctx, st.deps("", env), arg, "cli", nil)
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
