package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/internal/testredis"
	"pilmon/store"
)

// TestTargetAndScheduleCommands drives pilmon target and pilmon schedule against a real
// redis-server: add (and refusals), list, show, scan (enqueue), schedule list, rm.
func TestTargetAndScheduleCommands(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	srv := testredis.Start(t, filepath.Join(base, "redis"))
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(filepath.Join(data, "import"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "import", "a.har"), []byte(`{"log":{"entries":[]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--redis", srv.URL(), "--data-dir", data}
	cli := func(args ...string) (int, string, string) { return runCLI(t, append(args, common...)...) }

	code, out, errs := cli("target", "add", "--id", "mp-1", "--kind", "miniprogram", "--name", "示例小程序",
		"--category", "ride_hailing", "--schedule", "0 0 3 * * *", "--source", "har=a.har", "--source", "policy_url=https://example.cn/p")
	if code != exitOK || !strings.Contains(out, "mp-1") {
		t.Fatalf("target add: %d %s %s", code, out, errs)
	}
	for name, args := range map[string][]string{
		"escape":       {"--id", "x", "--source", "har=../../etc/passwd"},
		"bad category": {"--id", "x", "--category", "nope", "--source", "har=a.har"},
		"bad cron":     {"--id", "x", "--schedule", "every day", "--source", "har=a.har"},
		"no kind":      {"--id", "x", "--source", "a.har"},
	} {
		if code, _, _ := cli(append([]string{"target", "add"}, args...)...); code != exitUsage {
			t.Errorf("%s: exit %d, want %d", name, code, exitUsage)
		}
	}
	code, out, _ = cli("target", "list", "--json")
	var list []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["id"] != "mp-1" {
		t.Fatalf("target list: %d %s", code, out)
	}
	code, out, _ = cli("target", "scan", "mp-1", "--json")
	var job store.Job
	if code != exitOK || json.Unmarshal([]byte(out), &job) != nil || job.TargetID != "mp-1" || job.ID == "" {
		t.Fatalf("target scan: %d %s", code, out)
	}
	if n, _ := store.NewStore(srv.Client(), store.DefaultPrefix).JobCount(ctx); n != 1 {
		t.Errorf("%d jobs queued, want 1", n)
	}
	if code, out, _ = cli("target", "show", "mp-1"); code != exitOK || !strings.Contains(out, "scans (0)") {
		t.Errorf("target show: %d %s", code, out)
	}
	code, out, _ = cli("schedule", "list")
	if code != exitOK || !strings.Contains(out, "mp-1") || !strings.Contains(out, "03:00:00") {
		t.Errorf("schedule list: %d %s", code, out)
	}
	if code, _, _ = cli("target", "rm", "mp-1"); code != exitOK {
		t.Errorf("target rm: %d", code)
	}
	if code, _, _ = cli("target", "rm", "mp-1"); code != exitError {
		t.Errorf("second rm: %d", code)
	}
	if code, _, _ = cli("schedule", "frob"); code != exitUsage {
		t.Errorf("schedule frob: %d", code)
	}
}
