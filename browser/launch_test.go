package browser

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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

// Launch starts Chromium with the hardening flags and a fresh profile that cleanup removes.
func TestLaunchHardenedFreshProfile(t *testing.T) {
	bin := ResolveBin("")
	if err := available(bin); err != nil {
		t.Skipf("browser: Chromium not installed, skipping: %v", err)
	}
	tmp := t.TempDir()
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
	// The browser process's command line (Linux /proc) carries the hardening flags.
	cmd := processCmdline(dirs[0])
	if cmd == "" {
		t.Log("no /proc command line found for the profile; flags not checked")
	} else {
		for _, f := range []string{"--disable-background-networking", "--no-pings", "--disable-component-update",
			"--disable-sync", "--disable-extensions", "--deny-permission-prompts", "--host-resolver-rules=MAP *.launch.test 127.0.0.1", "--lang=zh-CN"} {
			if !strings.Contains(cmd, f) {
				t.Errorf("command line lacks %s:\n%s", f, cmd)
			}
		}
		if strings.Contains(cmd, "--enable-automation") {
			t.Errorf("--enable-automation should be removed")
		}
		if want := os.Geteuid() == 0; strings.Contains(cmd, "--no-sandbox") != want {
			t.Errorf("--no-sandbox present = %v, want %v (root only)", !want, want)
		}
	}
	cleanup()
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("profile %s left behind (%v)", dirs[0], err)
	}
}

// processCmdline returns the NUL-separated command line, joined with spaces, of the process
// started with --user-data-dir=dir, or "".
func processCmdline(dir string) string {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("--user-data-dir="+dir)) || bytes.Contains(b, []byte("--type=")) {
			continue
		}
		return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
	}
	return ""
}
