package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"pilmon/demo"
)

// runDemo is `make demo`: generated fictional targets scanned by the real queue, workers and
// scheduler, the dashboard served until Ctrl-C. With --check it does the same on a fresh
// temporary data dir, asserts through the dashboard that every target shows its expected findings
// (and the clean one none), and exits.
func runDemo(ctx context.Context, env *cliEnv, args []string) error {
	var common config
	fs := newFlagSet(env, "demo", "[--data-dir DIR] [--listen ADDR] [--workers N] | --check")
	common.register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "看板地址 / dashboard address")
	workers := fs.Int("workers", 2, "同时进行的扫描数 / scans at once")
	check := fs.Bool("check", false, "在新的临时数据目录中运行演示并核对线索后退出 / run on a fresh temporary data dir, check the findings, exit")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	common.apply(env)
	if *workers < 1 || *workers > 64 {
		return usageErr("--workers: 1-64")
	}
	if *check {
		if common.redis != "" {
			return usageErr("--check 使用自己的内置 Redis / --check runs its own embedded Redis; drop --redis")
		}
		dir, err := os.MkdirTemp("", "pilmon-demo-check-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		common.dataDir, common.importRoot = dir, "" // everything of the check lives in its own data dir
		*listen = "127.0.0.1:0"
	}
	started := time.Now()
	st, err := openState(ctx, env, common)
	if err != nil {
		return err
	}
	defer st.close()
	fmt.Fprintf(env.stdout, "内置 Redis 已启动（AOF）/ embedded Redis running in %s/redis\n", common.dataDir)
	tty := false
	if f, ok := env.stdout.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	ev, err := openEvidence(common.dataDir, env.log)
	if err != nil {
		return err
	}
	d, err := demo.Start(ctx, demo.Config{DataDir: common.dataDir, Listen: *listen, Store: st.store, Targets: st.reg, Catalogue: st.cat,
		Version: version, Out: env.stdout, TTY: tty, Log: env.log, Workers: *workers, Evidence: ev})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(env.stdout, "正在停止 / stopping: 调度器 scheduler, 工作进程 workers, 看板 dashboard, 浏览器 browser, Redis…")
		if err := d.Stop(context.Background()); err != nil {
			env.log.Warn("demo stop", "err", err)
		}
	}()
	fmt.Fprintf(env.stdout, "看板已启动 / dashboard up: %s（扫描进度 / live progress: %sprogress）\n", d.URL, d.URL)
	scanErr := d.WaitFirstScans(ctx)
	if errors.Is(scanErr, context.Canceled) {
		return nil
	}
	if *check {
		if scanErr != nil {
			return scanErr
		}
		res, err := d.Check(ctx)
		if err != nil {
			return err
		}
		for _, id := range demo.TargetIDs {
			fmt.Fprintf(env.stdout, "  %-22s %2d 条记录 / records on the dashboard, %d 条预期 / expected\n", id, len(res.Findings[id]), len(demo.Expected[id]))
		}
		if d.APKMissing != "" {
			fmt.Fprintf(env.stdout, "注意 / note: APK 相关的预期已跳过 / expectations needing the APK were skipped: %s\n", d.APKMissing)
		}
		fmt.Fprintf(env.stdout, "演示检查通过 / demo check passed in %.1f s\n", time.Since(started).Seconds())
		return nil
	}
	if scanErr != nil {
		// A failed source is shown on the dashboard too; the demo keeps serving.
		fmt.Fprintf(env.stdout, "注意 / note: %v\n", scanErr)
	}
	if err := d.Summary(ctx, env.stdout, common.dataDir); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "就绪用时 / ready in %.1f s\n", time.Since(started).Seconds())
	<-ctx.Done()
	return nil
}
