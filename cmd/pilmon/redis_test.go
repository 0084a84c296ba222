package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// startPasswordRedis runs a redis-server that requires password pw on a Unix socket in a
// temporary folder and returns its URL (without the password).
func startPasswordRedis(t *testing.T, pw string) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (Debian package redis-server)")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command("redis-server", "--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
		"--requirepass", pw, "--save", "", "--appendonly", "no", "--dir", dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// The server says when it accepts connections; if it dies first the pipe ends and we fail.
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.Contains(strings.ToLower(sc.Text()), "ready to accept connections") {
			go func() {
				for sc.Scan() {
				}
			}()
			return "unix://" + sock
		}
	}
	t.Fatalf("redis-server on %s did not start", sock)
	return ""
}

// TestRedisPasswordOutsideTheURL: the password of a shared Redis comes from
// PILMON_REDIS_PASSWORD or --redis-password-file, so the URL on the command line carries none.
func TestRedisPasswordOutsideTheURL(t *testing.T) {
	const pw = "s3cret-redis-pass"
	u := startPasswordRedis(t, pw)
	data := t.TempDir()
	t.Setenv("PILMON_REDIS_PASSWORD", "")
	code, _, errs := runCLI(t, "user", "list", "--data-dir", data, "--redis", u)
	if code == exitOK || !strings.Contains(strings.ToUpper(errs), "NOAUTH") {
		t.Fatalf("no password: code %d stderr %q", code, errs)
	}
	t.Setenv("PILMON_REDIS_PASSWORD", pw)
	if code, _, errs := runCLI(t, "user", "list", "--data-dir", data, "--redis", u); code != exitOK {
		t.Fatalf("PILMON_REDIS_PASSWORD: code %d stderr %q", code, errs)
	}
	// The file wins over the variable.
	t.Setenv("PILMON_REDIS_PASSWORD", "wrong")
	f := filepath.Join(t.TempDir(), "redis.pw")
	if err := os.WriteFile(f, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCLI(t, "user", "list", "--data-dir", data, "--redis", u, "--redis-password-file", f); code != exitOK {
		t.Fatalf("--redis-password-file: code %d stderr %q", code, errs)
	}
	code, _, errs = runCLI(t, "user", "list", "--data-dir", data, "--redis", u)
	if code == exitOK || strings.Contains(errs, "wrong") {
		t.Fatalf("wrong password: code %d stderr %q", code, errs)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if code, _, errs := runCLI(t, "user", "list", "--data-dir", data, "--redis", u, "--redis-password-file", empty); code == exitOK || !strings.Contains(errs, "empty") {
		t.Fatalf("empty password file: code %d stderr %q", code, errs)
	}
}

func TestParseProxies(t *testing.T) {
	ps, err := parseProxies(" 10.0.0.0/8, 192.0.2.7 ,::1,")
	if err != nil || len(ps) != 3 || ps[0].String() != "10.0.0.0/8" || ps[1].String() != "192.0.2.7/32" || ps[2].String() != "::1/128" {
		t.Fatalf("%v %v", ps, err)
	}
	if _, err := parseProxies("10.0.0.0/8,proxy.example"); err == nil || !strings.Contains(err.Error(), "proxy.example") {
		t.Fatalf("bad entry: %v", err)
	}
}
