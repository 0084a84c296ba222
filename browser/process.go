package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/cdp"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"
	"github.com/go-rod/rod/lib/proto"
)

// hardeningFlags are added to go-rod's launcher defaults for every Chromium pilmon starts.
var hardeningFlags = []flags.Flag{"disable-gpu", "disable-quic", "no-first-run", "disable-background-networking",
	"disable-component-update", "disable-sync", "disable-default-apps", "mute-audio", "disable-extensions",
	"no-default-browser-check", "disable-breakpad", "disable-domain-reliability", "no-pings",
	"disable-notifications", "deny-permission-prompts", "hide-scrollbars"}

// webRTCPolicy keeps WebRTC off UDP unless it goes through the proxy (which speaks no UDP), so
// ICE cannot send STUN or host-candidate packets anywhere. Debian's build reads the switch
// without "force-"; the preference in the profile covers builds that only honour that.
const webRTCPolicy = "disable_non_proxied_udp"

// launchConfig is everything startProcess needs.
type launchConfig struct {
	bin       string
	hostRules string
	guard     *Guard
	user      string // account to run as when root; "" = $PILMON_CHROMIUM_USER, then nobody
}

// process is one running Chromium and the proxy it talks through.
type process struct {
	rod      *rod.Browser
	dataDir  string
	tmpDir   string
	product  string
	cmd      *exec.Cmd
	pipe     *pipeTransport
	proxy    *proxy
	exited   chan struct{}
	stderr   *tailBuffer
	sandbox  bool   // Chromium's own sandbox is on
	runAs    string // account name Chromium runs as
	stopCtx  func() bool
	stopPops context.CancelFunc
	once     sync.Once
}

// chromiumCredential decides whom Chromium runs as. As root, Chromium's sandbox refuses to
// start and a compromised renderer would be root, so it runs as an unprivileged account
// instead; otherwise it runs as pilmon's own user.
func chromiumCredential(name string) (*syscall.Credential, string, error) {
	if os.Geteuid() != 0 {
		return nil, "", nil
	}
	if name == "" {
		name = os.Getenv("PILMON_CHROMIUM_USER")
	}
	if name == "" {
		name = "nobody"
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, "", fmt.Errorf("browser: chromium user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, "", fmt.Errorf("browser: chromium user %q has no numeric uid/gid (%s/%s)", name, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, "", fmt.Errorf("browser: chromium user %q is root; name an unprivileged account", name)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, name, nil
}

// startProcess starts Chromium the way every pilmon capture does: Debian's binary (or
// PILMON_CHROMIUM), a fresh --user-data-dir, go-rod's default flags plus the hardening ones
// (no background networking, component updates, sync, extensions, pings, QUIC, GPU,
// permission prompts…), lang zh-CN; DevTools over --remote-debugging-pipe so no port exists;
// every connection through a filtering proxy on loopback that only this Chromium may use;
// WebRTC kept off UDP, shared workers off, popups closed; as an unprivileged user with the
// sandbox on when pilmon is root. ctx bounds the process: when it ends, the process group is
// killed.
func startProcess(ctx context.Context, cfg launchConfig) (*process, error) {
	if err := available(cfg.bin); err != nil {
		return nil, err
	}
	cred, runAs, err := chromiumCredential(cfg.user)
	if err != nil {
		return nil, err
	}
	px, err := startProxy(cfg.guard)
	if err != nil {
		return nil, err
	}
	p, err := spawn(ctx, cfg, cred, px, true)
	if err != nil && cred != nil && strings.Contains(strings.ToLower(err.Error()), "sandbox") {
		// Chromium's sandbox needs unprivileged user namespaces (or the setuid chrome-sandbox,
		// which Debian does not ship); where the host forbids them, Chromium still runs as the
		// unprivileged user, which keeps a compromised renderer away from root's files.
		p, err = spawn(ctx, cfg, cred, px, false)
	}
	if err != nil {
		px.Close()
		return nil, err
	}
	p.runAs = runAs
	return p, nil
}

func spawn(ctx context.Context, cfg launchConfig, cred *syscall.Credential, px *proxy, sandbox bool) (*process, error) {
	dir, err := os.MkdirTemp("", "pilmon-chromium-")
	if err != nil {
		return nil, fmt.Errorf("browser: profile dir: %w", err)
	}
	// Chromium's own TMPDIR, beside the profile rather than in it: its process-singleton socket
	// goes there and a socket path must stay under 108 bytes.
	tmp, err := os.MkdirTemp("", "pilmon-ctmp-")
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("browser: chromium temp dir: %w", err)
	}
	fail := func(err error) (*process, error) {
		_, _ = os.RemoveAll(dir), os.RemoveAll(tmp)
		return nil, err
	}
	if err := writeProfilePrefs(dir); err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := chownTree(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("browser: hand profile %s to uid %d: %w", dir, cred.Uid, err))
		}
		if err := chownTree(tmp, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(fmt.Errorf("browser: hand %s to uid %d: %w", tmp, cred.Uid, err))
		}
		if err := traversable(filepath.Dir(dir), cred); err != nil {
			return fail(err)
		}
	}
	args := chromiumArgs(dir, cfg.hostRules, px.Addr(), !sandbox)

	// fd 3 is the pipe Chromium reads commands from, fd 4 the one it writes replies to.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("browser: devtools pipe: %w", err))
	}
	resR, resW, err := os.Pipe()
	if err != nil {
		_, _ = cmdR.Close(), cmdW.Close()
		return fail(fmt.Errorf("browser: devtools pipe: %w", err))
	}
	cmd := exec.Command(cfg.bin, args...)
	cmd.ExtraFiles = []*os.File{cmdR, resW}
	cmd.Dir = dir
	cmd.Env = childEnv(dir, tmp)
	stderr := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	// Its own process group, so that Close can kill the zygotes and renderers too; killed if
	// pilmon dies (the shell wrapper execs Chromium, so the signal reaches the browser itself).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: cred}
	cmd.WaitDelay = 2 * time.Second
	err = cmd.Start()
	_, _ = cmdR.Close(), resW.Close()
	if err != nil {
		_, _ = cmdW.Close(), resR.Close()
		return fail(fmt.Errorf("browser: start %s: %w", cfg.bin, err))
	}
	p := &process{dataDir: dir, tmpDir: tmp, cmd: cmd, pipe: newPipeTransport(resR, cmdW), proxy: px, exited: make(chan struct{}),
		stderr: stderr, sandbox: sandbox}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	px.setPeerGroup(cmd.Process.Pid)
	p.stopCtx = context.AfterFunc(ctx, p.kill)

	client := cdp.New().Start(p.pipe)
	rb := rod.New().Client(client).NoDefaultDevice()
	connected := make(chan error, 1)
	go func() {
		err := rb.Connect()
		if err == nil {
			var v *proto.BrowserGetVersionResult
			if v, err = (proto.BrowserGetVersion{}).Call(rb); err == nil {
				p.product = v.Product
			}
		}
		connected <- err
	}()
	select {
	case err = <-connected:
	case <-time.After(60 * time.Second):
		err = errors.New("no devtools answer within 60 s")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.kill()
		<-p.exited
		_ = p.pipe.Close()
		_, _ = os.RemoveAll(dir), os.RemoveAll(tmp)
		return nil, fmt.Errorf("browser: start %s: %v; chromium said: %s", cfg.bin, err, stderr.String())
	}
	p.rod = rb
	p.closePopups()
	return p, nil
}

// chromiumArgs is the command line: go-rod's defaults (minus the debugging port and
// automation banner) plus pilmon's hardening and egress flags.
func chromiumArgs(dir, hostRules, proxyAddr string, noSandbox bool) []string {
	l := launcher.New().Headless(true).UserDataDir(dir)
	l.Delete(flags.RemoteDebuggingPort)
	l.Delete(flags.NoSandbox)
	l.Delete("enable-automation")
	for _, f := range hardeningFlags {
		l.Set(f)
	}
	if hostRules != "" {
		l.Set("host-resolver-rules", hostRules)
	}
	l.Set("lang", "zh-CN")
	l.Set("remote-debugging-pipe")
	l.Set(flags.ProxyServer, "http://"+proxyAddr)
	// Chromium sends loopback destinations around a proxy unless told otherwise.
	l.Set("proxy-bypass-list", "<-loopback>")
	l.Set("webrtc-ip-handling-policy", webRTCPolicy)
	l.Set("force-webrtc-ip-handling-policy", webRTCPolicy)
	// Shared workers would outlive the page; service workers have no switch in this build and
	// are contained by the proxy like everything else.
	disabled, _ := l.GetFlags("disable-features")
	l.Set("disable-features", append(append([]string(nil), disabled...), "SharedWorker")...)
	if noSandbox {
		l.Set(flags.NoSandbox)
	}
	return l.FormatArgs()
}

// writeProfilePrefs seeds the fresh profile's preferences: WebRTC off non-proxied UDP.
func writeProfilePrefs(dir string) error {
	prefs, _ := json.Marshal(map[string]any{"webrtc": map[string]any{
		"ip_handling_policy": webRTCPolicy, "multiple_routes_enabled": false, "nonproxied_udp_enabled": false}})
	if err := os.MkdirAll(filepath.Join(dir, "Default"), 0o700); err != nil {
		return fmt.Errorf("browser: profile %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Default", "Preferences"), prefs, 0o600); err != nil {
		return fmt.Errorf("browser: profile %s: %w", dir, err)
	}
	return nil
}

// traversable checks that the account Chromium runs as can reach the profile: every directory
// above it must let that account search it, or Chromium fails with a bare "permission denied".
func traversable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		var st syscall.Stat_t
		if err := syscall.Stat(d, &st); err != nil {
			return fmt.Errorf("browser: profile parent %s: %w", d, err)
		}
		ok := st.Mode&0o001 != 0 || (st.Uid == cred.Uid && st.Mode&0o100 != 0) || (st.Gid == cred.Gid && st.Mode&0o010 != 0)
		if !ok {
			return fmt.Errorf("browser: uid %d, which chromium runs as, cannot reach its profile: %s is mode %o owned by uid %d (point TMPDIR at a directory it can traverse)",
				cred.Uid, d, st.Mode&0o7777, st.Uid)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// childEnv is pilmon's environment with HOME, TMPDIR and the XDG directories in the profile,
// so that an unprivileged Chromium never tries to write into root's home or pilmon's TMPDIR
// (where its process-singleton socket would go), and everything it writes is removed with it.
func childEnv(dir, tmp string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || k == "TMPDIR" || strings.HasPrefix(k, "XDG_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+dir, "TMPDIR="+tmp, "XDG_CONFIG_HOME="+filepath.Join(dir, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(dir, ".cache"))
}

// closePopups closes every page a page opens (window.open, target=_blank) as soon as
// Chromium reports it: a capture looks at one page, and a popup must not keep loading.
func (p *process) closePopups() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stopPops = cancel
	rb := p.rod.Context(ctx)
	wait := rb.EachEvent(func(e *proto.TargetTargetCreated) {
		if e.TargetInfo.OpenerID == "" {
			return
		}
		id := e.TargetInfo.TargetID
		go func() { _, _ = proto.TargetCloseTarget{TargetID: id}.Call(rb) }()
	})
	go wait()
}

// proxyAddr is the address Chromium reports as the remote end of every proxied request.
func (p *process) proxyAddr() netip.AddrPort {
	ap, _ := netip.ParseAddrPort(p.proxy.Addr())
	return ap
}

// remoteIP is the server address for a request Chromium reports as fetched from ip:port: the
// address the proxy connected to when ip:port is the proxy, else ip as reported.
func (p *process) remoteIP(rawURL, ip string, port *int) string {
	ap := p.proxyAddr()
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err != nil || port == nil || a.Unmap() != ap.Addr() || *port != int(ap.Port()) {
		return ip
	}
	if up, ok := p.proxy.Upstream(rawURL); ok {
		return up.String()
	}
	return ip
}

// kill stops the whole process group at once.
func (p *process) kill() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// close asks Chromium to quit, kills its process group after 5 s (and in any case, to take
// stray children with it), stops the proxy and removes the profile. Safe to call twice.
func (p *process) close() {
	p.once.Do(func() {
		p.stopCtx()
		if p.stopPops != nil {
			p.stopPops()
		}
		if p.rod != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = proto.BrowserClose{}.Call(p.rod.Context(ctx))
			select {
			case <-p.exited:
			case <-ctx.Done():
			}
			cancel()
		}
		p.kill()
		<-p.exited
		_ = p.pipe.Close()
		p.proxy.Close()
		_, _ = os.RemoveAll(p.dataDir), os.RemoveAll(p.tmpDir)
	})
}

// tailBuffer keeps the last max bytes written to it: Chromium's last words for an error message.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, b...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
