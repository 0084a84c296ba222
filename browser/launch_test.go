package browser

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-rod/rod/lib/proto"
)

func TestResolveBin(t *testing.T) {
	t.Setenv("PILMON_CHROMIUM", "")
	if got := ResolveBin(""); got != DefaultBin {
		t.Errorf("ResolveBin(\"\") = %q, want %q", got, DefaultBin)
	}
	t.Setenv("PILMON_CHROMIUM", "/opt/chromium/chrome")
	if got := ResolveBin(""); got != "/opt/chromium/chrome" {
		t.Errorf("PILMON_CHROMIUM ignored: %q", got)
	}
	if got := ResolveBin("/x/chrome"); got != "/x/chrome" {
		t.Errorf("explicit bin overridden: %q", got)
	}
}

func TestLaunchMissingBinary(t *testing.T) {
	_, _, err := Launch(context.Background(), LaunchOptions{Bin: filepath.Join(t.TempDir(), "no-chromium")})
	if err == nil || !strings.Contains(err.Error(), "no-chromium") || !strings.Contains(err.Error(), "PILMON_CHROMIUM") {
		t.Errorf("error %v should name the binary and PILMON_CHROMIUM", err)
	}
}

// Launch starts Chromium with the hardening flags and a fresh profile that cleanup removes,
// over a DevTools pipe and through the filtering proxy; as root, as an unprivileged user with
// its sandbox on, and it still renders a page.
func TestLaunchHardenedFreshProfile(t *testing.T) {
	bin := ResolveBin("")
	if err := available(bin); err != nil {
		t.Skipf("browser: Chromium not installed, skipping: %v", err)
	}
	tmp := reachableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	rb, cleanup, err := Launch(context.Background(), LaunchOptions{HostResolverRules: "MAP *.launch.test 127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := (proto.BrowserGetVersion{}).Call(rb); err != nil || v.Product == "" {
		t.Errorf("browser version: %v %v", v, err)
	}
	dirs, _ := filepath.Glob(filepath.Join(tmp, "pilmon-chromium-*"))
	if len(dirs) != 1 {
		t.Fatalf("profile directories %v, want exactly one fresh one", dirs)
	}
	page, err := rb.Page(proto.TargetCreateTarget{URL: "data:text/html,<title>rendered</title><p>沙箱</p>"})
	if err != nil {
		t.Fatal(err)
	}
	if err := page.WaitLoad(); err != nil {
		t.Fatal(err)
	}
	if info, err := page.Info(); err != nil || info.Title != "rendered" {
		t.Errorf("page not rendered: %+v %v", info, err)
	}
	// The browser process's command line (Linux /proc) carries the hardening flags.
	pid, cmd := processCmdline(dirs[0])
	var procs []int
	if cmd == "" {
		t.Log("no /proc command line found for the profile; flags not checked")
	} else {
		for _, f := range []string{"--disable-background-networking", "--no-pings", "--disable-component-update",
			"--disable-sync", "--disable-extensions", "--deny-permission-prompts", "--host-resolver-rules=MAP *.launch.test 127.0.0.1",
			"--lang=zh-CN", "--remote-debugging-pipe", "--proxy-server=http://127.0.0.1:", "--proxy-bypass-list=<-loopback>",
			"--webrtc-ip-handling-policy=disable_non_proxied_udp", "SharedWorker"} {
			if !strings.Contains(cmd, f) {
				t.Errorf("command line lacks %s:\n%s", f, cmd)
			}
		}
		for _, f := range []string{"--enable-automation", "--remote-debugging-port", "--no-sandbox"} {
			if strings.Contains(cmd, f) {
				t.Errorf("command line has %s:\n%s", f, cmd)
			}
		}
		if uid := processUID(pid); os.Geteuid() == 0 && (uid == "0" || uid == "") {
			t.Errorf("chromium runs as uid %q although pilmon is root", uid)
		}
		// The sandbox puts the zygote and renderers in their own user or PID namespace.
		self, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
		sandboxed := false
		for _, child := range descendants(pid) {
			if ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", child)); ns != "" && ns != self {
				sandboxed = true
			}
		}
		if !sandboxed {
			t.Errorf("no chromium child of %d runs in its own PID namespace: sandbox off", pid)
		}
		procs = descendants(pid)
	}
	cleanup()
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("profile %s left behind (%v)", dirs[0], err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("left behind in TMPDIR: %v", left)
	}
	// cleanup has killed the process group and waited for the browser: none of its processes
	// may still run (zombies awaiting their reaper aside).
	for _, p := range procs {
		if running(p) && p == pid {
			t.Errorf("chromium %d still running after cleanup", p)
		}
		for running(p) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// descendants lists the processes below pid, found through /proc/*/stat's parent field.
func descendants(pid int) []int {
	parent := map[int]int{}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+1:])
		if i < 0 || len(f) < 2 {
			continue
		}
		var me, pp int
		fmt.Sscan(filepath.Base(filepath.Dir(p)), &me)
		fmt.Sscan(f[1], &pp)
		parent[me] = pp
	}
	var out []int
	for p := range parent {
		for a := parent[p]; a > 1; a = parent[a] {
			if a == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func processUID(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	return ""
}

// reachableTempDir is a temporary directory that the unprivileged account Chromium runs as
// under root can traverse (t.TempDir makes it and its parent 0700), with a short path:
// Chromium's process-singleton socket goes below it and socket paths are limited to 108 bytes.
func reachableTempDir(t *testing.T) string {
	t.Helper()
	tmp, err := os.MkdirTemp("", "pltest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o711); err != nil {
		t.Fatal(err)
	}
	return tmp
}

// processCmdline returns the PID and the NUL-separated command line, joined with spaces, of
// the browser process started with --user-data-dir=dir, or 0 and "".
func processCmdline(dir string) (int, string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("--user-data-dir="+dir)) || bytes.Contains(b, []byte("--type=")) {
			continue
		}
		var pid int
		fmt.Sscan(filepath.Base(filepath.Dir(p)), &pid)
		return pid, string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
	}
	return 0, ""
}

// When the context a process was started with ends, its whole process group dies: the
// browser, its zygotes and renderers, with nothing left running.
func TestProcessKilledWhenContextEnds(t *testing.T) {
	bin := ResolveBin("")
	if err := available(bin); err != nil {
		t.Skipf("browser: Chromium not installed, skipping: %v", err)
	}
	t.Setenv("TMPDIR", reachableTempDir(t))
	g, err := NewGuard(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := startProcess(ctx, launchConfig{bin: bin, guard: g})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer p.close()
	if _, err := p.rod.Page(proto.TargetCreateTarget{URL: "about:blank"}); err != nil {
		t.Fatal(err)
	}
	procs := append(descendants(p.cmd.Process.Pid), p.cmd.Process.Pid)
	if len(procs) < 2 {
		t.Fatalf("chromium %d has no child processes: %v", p.cmd.Process.Pid, procs)
	}
	cancel()
	<-p.exited
	for _, pid := range procs {
		// SIGKILL has been sent to the group; wait until each member is gone or a zombie.
		for running(pid) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := (proto.BrowserGetVersion{}).Call(p.rod); err == nil {
		t.Error("devtools still answers after the context ended")
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}
