package web

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/evidence"
	"pilmon/internal/testredis"
	"pilmon/rules"
	"pilmon/store"
)

// The login memory test runs the dashboard in a child process (this test binary, re-executed
// with loginServerEnv set) so that the peak resident size it reads is the server's alone, with
// the production argon2id parameters.
const loginServerEnv = "PILMON_WEB_TEST_LOGIN_SERVER"

// runLoginServer is the child: a dashboard on the Redis at $PILMON_WEB_TEST_REDIS with one user
// hashed with the production parameters. It prints "ADDR host:port", serves until its stdin
// closes, then prints "STATS total peak" (hash computations) and exits.
func runLoginServer() int {
	ctx := context.Background()
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "login server:", err); return 1 }
	rdb, err := store.Connect(ctx, os.Getenv("PILMON_WEB_TEST_REDIS"), "")
	if err != nil {
		return fail(err)
	}
	st := store.NewStore(rdb, os.Getenv(loginServerEnv))
	dir, err := os.MkdirTemp("", "pilmon-login-server-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	ev, err := evidence.Open(dir, evidence.Options{Tool: "pilmon test"})
	if err != nil {
		return fail(err)
	}
	cat, err := rules.Default()
	if err != nil {
		return fail(err)
	}
	srv, err := New(Config{Store: st, Evidence: ev, Catalogue: cat, Logger: quiet,
		Login: accounts.LoginLimits{PerUser: 1000, PerIP: 1000, Window: time.Minute, LockFor: time.Minute}})
	if err != nil {
		return fail(err)
	}
	if err := srv.Accounts().Add(ctx, "vic", accounts.RoleViewer, testPassword); err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	go http.Serve(ln, srv.Handler())
	fmt.Printf("ADDR %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	hs := srv.Accounts().HashStats()
	fmt.Printf("STATS %d %d\n", hs.Total, hs.Peak)
	return 0
}

// vmHWM returns the peak resident set size of process pid in KiB.
func vmHWM(t *testing.T, pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestLoginMemoryBounded: 40 concurrent logins with the production argon2id parameters (64 MiB
// each; unbounded, 2.5 GiB) keep the server's peak resident size under 500 MiB.
func TestLoginMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes with the production parameters")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loginServerEnv+"="+testredis.Prefix("mem"), "PILMON_WEB_TEST_REDIS="+testredis.Server().URL())
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "ADDR ") {
		t.Fatalf("child: %q", sc.Text())
	}
	base := "http://" + strings.TrimPrefix(sc.Text(), "ADDR ")
	start := vmHWM(t, cmd.Process.Pid)
	e := &env{t: t, hs: nil}
	clients := make([]*client, 40)
	for i := range clients {
		clients[i] = e.anonAt(base)
		clients[i].get("/login")
	}
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			res := c.postForm("/login", url.Values{"username": {"vic"}, "password": {testPassword}})
			mu.Lock()
			codes[res.StatusCode]++
			mu.Unlock()
		})
	}
	wg.Wait()
	peak := vmHWM(t, cmd.Process.Pid)
	stdin.Close()
	var total, most int64
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "STATS %d %d", &total, &most); err == nil {
			break
		}
	}
	t.Logf("server peak RSS %d MiB (%d MiB before the logins); statuses %v; %d argon2id computations, at most %d at once",
		peak>>10, start>>10, codes, total, most)
	if peak > 500<<10 {
		t.Errorf("server peak RSS %d MiB, want under 500 MiB", peak>>10)
	}
	if codes[http.StatusSeeOther] == 0 || codes[http.StatusSeeOther]+codes[http.StatusServiceUnavailable] != 40 {
		t.Errorf("statuses %v: want logins and 503s only", codes)
	}
}
