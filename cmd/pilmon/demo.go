package main

import (
	"context"
	"fmt"
)

// runDemo shows what this build can do end to end. It grows as capabilities land (issue 12):
// today it starts the embedded Redis with AOF in the demo data dir, proves it answers, loads the
// rule catalogue, and says plainly which parts are not available yet.
func runDemo(ctx context.Context, env *cliEnv, args []string) error {
	var common commonFlags
	fs := newFlagSet(env, "demo", "[--data-dir DIR] [--listen ADDR]")
	common.register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "看板地址 / dashboard address")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	common.apply(env)
	cat, err := loadCatalogue(common.dataDir)
	if err != nil {
		return err
	}
	st := cat.Stats()
	fmt.Fprintf(env.stdout, "规则目录 / catalogue: %+v\n", st)
	rdb, stop, err := openRedis(ctx, env, common)
	if err != nil {
		return err
	}
	defer stop()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis ping: %w", err)
	}
	fmt.Fprintf(env.stdout, "内置 Redis 已启动（AOF）/ embedded Redis running with AOF in %s/redis\n", common.dataDir)
	fmt.Fprintf(env.stdout, "看板（%s）尚未提供 / the dashboard is not available in this build yet (issue 10); nothing is served.\n", *listen)
	return nil
}
