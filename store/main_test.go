package store

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"pilmon/findings/findingstest"
)

// testRedis is one real redis-server for the package's tests, started through StartRedis in a
// temporary data dir. Each test gets its own key prefix on it (newTestStore).
var testRedis *RedisServer

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintln(os.Stderr, "store tests need a real redis-server and none is in PATH: install it (apt-get install redis-server); CI installs it")
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "pilmon-store-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	testRedis, err = StartRedis(ctx, dir, RedisOptions{Logger: quietLog})
	if err != nil {
		fmt.Fprintln(os.Stderr, "store tests: start redis-server:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = testRedis.Stop(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

var prefixSeq atomic.Int64

// newTestStore returns a store on the shared test server with a prefix no other test uses.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	return NewStore(testRedis.Client(), fmt.Sprintf("test%d:", prefixSeq.Add(1)))
}

var (
	t0            = findingstest.T0
	sampleFinding = findingstest.Sample
)
