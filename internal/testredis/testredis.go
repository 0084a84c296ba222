// Package testredis gives a package's tests one real redis-server, started through
// store.StartRedis in a temporary data dir, as every integration test in pilmon talks to the
// real thing. Tests isolate themselves with their own key prefix (Prefix).
package testredis

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"

	"pilmon/store"
)

var (
	server *store.RedisServer
	seq    atomic.Int64
)

// Main is a package's TestMain: it starts the server, runs the tests, then the after functions
// (the package's own clean-up), and stops it. A missing redis-server fails the tests with a message
// saying how to install it (CI installs it).
func Main(m *testing.M, pkg string, after ...func()) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		fmt.Fprintf(os.Stderr, "%s tests need a real redis-server and none is in PATH: install it (apt-get install redis-server); CI installs it\n", pkg)
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", "pilmon-"+pkg+"-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	server, err = store.StartRedis(ctx, dir, store.RedisOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s tests: start redis-server: %v\n", pkg, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	for _, f := range after {
		f()
	}
	_ = server.Stop(ctx)
	os.RemoveAll(dir)
	os.Exit(code)
}

// Server is the running test server (nil outside Main).
func Server() *store.RedisServer { return server }

// Prefix returns a key prefix no other test in the process uses.
func Prefix(name string) string { return fmt.Sprintf("%s%d:", name, seq.Add(1)) }

// Start runs a redis-server of the test's own in dataDir (for tests that need a server beside a
// data dir, such as the CLI's), stopped when the test ends. Without redis-server the test is
// skipped, naming the package to install.
func Start(t testing.TB, dataDir string) *store.RedisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (Debian package redis-server)")
	}
	srv, err := store.StartRedis(context.Background(), dataDir, store.RedisOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv
}
