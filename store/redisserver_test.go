package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/findings"
)

func startTestRedis(t *testing.T, dir string) *RedisServer {
	t.Helper()
	r, err := StartRedis(context.Background(), dir, RedisOptions{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func TestManagedRedisConfiguration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	r := startTestRedis(t, dir)
	for key, want := range map[string]string{
		"appendonly": "yes", "appendfsync": "everysec", "save": "", "bind": "127.0.0.1",
		"protected-mode": "yes", "requirepass": r.Password(), "dir": filepath.Join(dir, "redis"),
	} {
		got, err := r.Client().ConfigGet(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got[key] != want {
			t.Errorf("CONFIG GET %s = %q, want %q", key, got[key], want)
		}
	}
	for _, name := range []string{"password", "redis.conf", "redis.log", "redis.pid", "redis.port"} {
		fi, err := os.Stat(filepath.Join(dir, "redis", name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
		}
	}
	if r.URL() != fmt.Sprintf("redis://:%s@127.0.0.1:%d/0", r.Password(), r.Port()) {
		t.Errorf("URL = %s", r.URL())
	}
	// Without the password the server refuses to work.
	c, err := Connect(ctx, fmt.Sprintf("redis://127.0.0.1:%d/0", r.Port()), "")
	if err == nil {
		c.Close()
		t.Error("connected without the password")
	} else if strings.Contains(err.Error(), r.Password()) {
		t.Error("error leaks the password")
	}
	c, err = Connect(ctx, r.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// Durability: what was written more than a second before a SIGKILL is in the AOF.
func TestManagedRedisSurvivesKill(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	r, err := StartRedis(ctx, dir, RedisOptions{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	pw, port := r.Password(), r.Port()
	s := NewStore(r.Client(), "")
	var batch []findings.Finding
	for i := range 50 {
		batch = append(batch, sampleFinding("app:durable", "rdff-3.1", fmt.Sprint("subject-", i)))
	}
	res, err := s.UpsertBatch(ctx, batch, "scan-1")
	if err != nil {
		t.Fatal(err)
	}
	fp := res[7].Fingerprint
	for _, to := range []findings.State{findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened} {
		if _, err := s.Transition(ctx, fp, to, "prosecutor-wang", findings.TransitionInput{Note: "备注 " + string(to)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Transition(ctx, fp, findings.StateRecommendationIssued, "prosecutor-wang",
		findings.TransitionInput{DocumentNo: "沪检行公建〔2025〕12号", DocumentDate: "2025-04-01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnqueueJob(ctx, Job{ID: "scan-2", TargetID: "app:durable"}); err != nil {
		t.Fatal(err)
	}
	wantHistory, _ := s.History(ctx, fp)
	wantList, wantTotal, _ := s.List(ctx, Query{Limit: 100})
	wantCounts, _ := s.Counts(ctx)

	// appendfsync everysec: everything acknowledged before the last second is on disk.
	time.Sleep(1500 * time.Millisecond)
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if r.Client().Ping(ctx).Err() == nil {
		t.Fatal("server answers after SIGKILL")
	}

	r2 := startTestRedis(t, dir)
	if r2.Password() != pw {
		t.Error("restart made a new password")
	}
	if r2.Port() != port {
		t.Logf("port %d was taken, restarted on %d", port, r2.Port())
	}
	s2 := NewStore(r2.Client(), "")
	gotHistory, err := s2.History(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(gotHistory) != fmt.Sprint(wantHistory) || len(gotHistory) != 5 {
		t.Errorf("history after restart:\n%+v\nwant\n%+v", gotHistory, wantHistory)
	}
	if gotHistory[4].Deadline != "2025-06-01" {
		t.Errorf("deadline after restart = %q", gotHistory[4].Deadline)
	}
	gotList, gotTotal, err := s2.List(ctx, Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if gotTotal != wantTotal || fmt.Sprint(gotList) != fmt.Sprint(wantList) {
		t.Errorf("findings after restart differ: %d vs %d", gotTotal, wantTotal)
	}
	if gotCounts, _ := s2.Counts(ctx); fmt.Sprint(gotCounts) != fmt.Sprint(wantCounts) {
		t.Errorf("counts after restart %+v, want %+v", gotCounts, wantCounts)
	}
	if got := mustGet(t, s2, fp).State; got != findings.StateRecommendationIssued {
		t.Errorf("state after restart = %s", got)
	}
	jobs, err := s2.ReadJobs(ctx, "w", 10, -1)
	if err != nil || len(jobs) != 1 || jobs[0].Job.ID != "scan-2" {
		t.Errorf("jobs after restart: %+v, %v", jobs, err)
	}
	// The store keeps working on the restarted server (its scripts reload themselves).
	if r, err := s2.Upsert(ctx, sampleFinding("app:durable", "rdff-3.1", "new"), "scan-2"); err != nil || !r.Created {
		t.Errorf("upsert after restart: %+v, %v", r, err)
	}
}

func TestManagedRedisCleanRestartReusesPortAndPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	r, err := StartRedis(ctx, dir, RedisOptions{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pw, port := r.Password(), r.Port()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "redis", "redis.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file left after a clean stop: %v", err)
	}
	if err := r.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	r2 := startTestRedis(t, dir)
	if r2.Password() != pw {
		t.Error("clean restart made a new password")
	}
	// The previous port is preferred; only another program taking it in between may move it.
	if r2.Port() != port && portFree(port) {
		t.Errorf("restart on port %d although the previous port %d is free", r2.Port(), port)
	}
	if v, _ := r2.Client().Get(ctx, "k").Result(); v != "v" {
		t.Errorf("value after a clean restart = %q", v)
	}
}

func TestManagedRedisSecondStartShares(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	first := startTestRedis(t, dir)
	second, err := StartRedis(ctx, dir, RedisOptions{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	if second.Owned() || second.Port() != first.Port() {
		t.Fatalf("second start: owned %v port %d; want a connection to port %d", second.Owned(), second.Port(), first.Port())
	}
	if err := second.Client().Set(ctx, "shared", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := second.Kill(); err == nil {
		t.Error("a non-owner killed the server")
	}
	if err := second.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := first.Client().Get(ctx, "shared").Result(); err != nil || v != "1" {
		t.Errorf("first server after the second stopped: %q, %v", v, err)
	}
}

func TestManagedRedisAdoptsAnOrphan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	orphan, err := StartRedis(ctx, dir, RedisOptions{Logger: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orphan.signalKill() })
	// pilmon "dies" without stopping its child: the lock goes, the server stays.
	orphan.release()
	r := startTestRedis(t, dir)
	if !r.Owned() || r.pid != orphan.pid || r.Port() != orphan.Port() {
		t.Fatalf("restart after an orphan: owned %v pid %d port %d; want to adopt pid %d", r.Owned(), r.pid, r.Port(), orphan.pid)
	}
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-orphan.done:
	case <-time.After(10 * time.Second):
		t.Fatal("adopted server still running after Stop")
	}
}

func TestManagedRedisMissingBinary(t *testing.T) {
	t.Parallel()
	_, err := StartRedis(context.Background(), t.TempDir(), RedisOptions{Binary: "redis-server-not-installed", Logger: quietLog})
	if !errors.Is(err, ErrRedisNotFound) || !strings.Contains(err.Error(), "apt-get install redis-server") || !strings.Contains(err.Error(), "--redis URL") {
		t.Errorf("err = %v", err)
	}
}

func TestManagedRedisReportsAFailedStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A script standing in for redis-server that exits at once with a message.
	fake := filepath.Join(t.TempDir(), "redis-server")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho 'FATAL CONFIG FILE ERROR (fake)'\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := StartRedis(context.Background(), dir, RedisOptions{Binary: fake, Logger: quietLog, StartTimeout: 10 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "FATAL CONFIG FILE ERROR (fake)") || !strings.Contains(err.Error(), "exited during start") {
		t.Errorf("err = %v, want the exit and the log's last lines", err)
	}
	// The lock was released: a real start on the same dir works.
	startTestRedis(t, dir)
}

func TestConnectRefusesUnreachable(t *testing.T) {
	t.Parallel()
	if _, err := Connect(context.Background(), "redis://:secret@127.0.0.1:1/0", ""); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("err = %v, want a refusal without the password", err)
	}
	if _, err := Connect(context.Background(), "http://x", ""); err == nil {
		t.Error("http URL accepted")
	}
}
