package main

import (
	"context"
	"fmt"

	"pilmon/store"

	"github.com/redis/go-redis/v9"
)

// openRedis connects to --redis when given, else starts (or attaches to) the embedded
// redis-server in the data dir. The returned stop function shuts an owned server down cleanly.
func openRedis(ctx context.Context, env *cliEnv, c config) (redis.UniversalClient, func(), error) {
	if c.redis != "" {
		pw, err := c.redisPassword()
		if err != nil {
			return nil, nil, err
		}
		rdb, err := store.Connect(ctx, c.redis, pw)
		if err != nil {
			return nil, nil, fmt.Errorf("redis %s: %w", redactURL(c.redis), err)
		}
		return rdb, func() { rdb.Close() }, nil
	}
	srv, err := store.StartRedis(ctx, c.dataDir, store.RedisOptions{Logger: env.log})
	if err != nil {
		return nil, nil, err
	}
	env.log.Info("embedded redis", "addr", srv.Addr(), "owned", srv.Owned())
	return srv.Client(), func() {
		if err := srv.Stop(context.Background()); err != nil {
			env.log.Warn("stopping embedded redis", "err", err)
		}
	}, nil
}

// redactURL hides a password in a Redis URL before it is printed.
func redactURL(u string) string {
	at := -1
	for i := len(u) - 1; i >= 0; i-- {
		if u[i] == '@' {
			at = i
			break
		}
	}
	scheme := 0
	for i := 0; i+2 < len(u); i++ {
		if u[i:i+3] == "://" {
			scheme = i + 3
			break
		}
	}
	if at < 0 || at < scheme {
		return u
	}
	return u[:scheme] + "***" + u[at:]
}
