// Package browser is the one place pilmon drives Chromium (Debian's /usr/bin/chromium, never a
// downloaded build) through go-rod: hardened flags, a fresh profile per capture, an SSRF guard on
// every request, and captures (rendered HTML incl. same-origin iframes, MHTML, screenshot, request
// log) that go into the evidence store.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/launcher/flags"
	"github.com/go-rod/rod/lib/proto"
)

// DefaultBin is Debian's Chromium; PILMON_CHROMIUM overrides it.
const DefaultBin = "/usr/bin/chromium"

// Version of the capture code, recorded in evidence metadata.
const Version = "1"

// Options configure a Browser.
type Options struct {
	// Bin is the Chromium binary; empty means $PILMON_CHROMIUM, then DefaultBin.
	Bin string
	// Allow lists CIDRs, addresses or host names ("*.example.org") the SSRF guard lets through
	// although they are private, loopback or link-local.
	Allow []string
	// HostResolverRules is passed to Chromium as --host-resolver-rules and applied by the guard
	// too (subset: "MAP pattern target", "EXCLUDE pattern"). Tests use "MAP * 127.0.0.1".
	HostResolverRules string
	// SharedProcess makes every capture use one Chromium process (started on first use, with its
	// own fresh --user-data-dir removed at Close) and a new incognito browser context per capture.
	// When false each capture starts its own Chromium with a fresh --user-data-dir.
	SharedProcess bool
}

// Browser starts Chromium and captures pages. It is safe for concurrent use.
type Browser struct {
	opts  Options
	guard *Guard

	mu     sync.Mutex
	shared *process
	closed bool
}

// New validates the options; Chromium is started lazily on the first capture.
func New(opts Options) (*Browser, error) {
	opts.Bin = ResolveBin(opts.Bin)
	g, err := NewGuard(opts.Allow, opts.HostResolverRules)
	if err != nil {
		return nil, err
	}
	return &Browser{opts: opts, guard: g}, nil
}

// Bin returns the Chromium binary in use.
func (b *Browser) Bin() string { return b.opts.Bin }

// Guard returns the SSRF guard.
func (b *Browser) Guard() *Guard { return b.guard }

// Available reports whether the Chromium binary exists and is executable.
func (b *Browser) Available() error { return available(b.opts.Bin) }

func available(bin string) error {
	st, err := os.Stat(bin)
	if err != nil {
		return fmt.Errorf("browser: chromium not found at %s (set PILMON_CHROMIUM): %w", bin, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("browser: %s is not an executable", bin)
	}
	return nil
}

// Close stops the shared Chromium process, if any.
func (b *Browser) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.shared != nil {
		b.shared.close()
		b.shared = nil
	}
	return nil
}

// process is one running Chromium.
type process struct {
	l       *launcher.Launcher
	rod     *rod.Browser
	dataDir string
	product string
}

func (b *Browser) launch(ctx context.Context) (*process, error) {
	return startProcess(ctx, b.opts.Bin, b.opts.HostResolverRules)
}

// LaunchOptions configure a Chromium started by Launch.
type LaunchOptions struct {
	// Bin is the Chromium binary; empty means $PILMON_CHROMIUM, then DefaultBin.
	Bin string
	// HostResolverRules is passed as --host-resolver-rules ("MAP * 127.0.0.1" in tests). Launch
	// does not install the SSRF guard: a caller that loads pages must check every request with
	// NewGuard (as Browser's captures and traffic's live capture do).
	HostResolverRules string
}

// ResolveBin returns the Chromium binary to use: bin, else $PILMON_CHROMIUM, else DefaultBin.
func ResolveBin(bin string) string {
	if bin == "" {
		bin = os.Getenv("PILMON_CHROMIUM")
	}
	if bin == "" {
		bin = DefaultBin
	}
	return bin
}

// Launch starts one headless Chromium the way every pilmon capture does: Debian's binary (or
// PILMON_CHROMIUM), a fresh --user-data-dir, the hardening flags (no background networking,
// component updates, sync, extensions, pings, QUIC, GPU, permission prompts…), --no-sandbox
// only when running as root, lang zh-CN. cleanup closes the browser, stops the process (killing
// it after 5 s) and removes the profile; call it exactly once. ctx bounds the start only.
func Launch(ctx context.Context, o LaunchOptions) (*rod.Browser, func(), error) {
	p, err := startProcess(ctx, ResolveBin(o.Bin), o.HostResolverRules)
	if err != nil {
		return nil, nil, err
	}
	return p.rod, p.close, nil
}

// hardeningFlags are added to go-rod's launcher defaults for every Chromium pilmon starts.
var hardeningFlags = []flags.Flag{"disable-gpu", "disable-quic", "no-first-run", "disable-background-networking",
	"disable-component-update", "disable-sync", "disable-default-apps", "mute-audio", "disable-extensions",
	"no-default-browser-check", "disable-breakpad", "disable-domain-reliability", "no-pings",
	"disable-notifications", "deny-permission-prompts", "hide-scrollbars"}

func startProcess(ctx context.Context, bin, hostRules string) (*process, error) {
	if err := available(bin); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pilmon-chromium-")
	if err != nil {
		return nil, fmt.Errorf("browser: profile dir: %w", err)
	}
	l := launcher.New().Context(ctx).Bin(bin).Leakless(false).Headless(true).
		UserDataDir(dir).NoSandbox(os.Geteuid() == 0)
	// rod's defaults ask for automation conveniences; keep its flags but add the hardening ones.
	for _, f := range hardeningFlags {
		l.Set(f)
	}
	l.Delete("enable-automation")
	if hostRules != "" {
		l.Set("host-resolver-rules", hostRules)
	}
	l.Set("lang", "zh-CN")
	u, err := l.Launch()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("browser: start %s: %w", bin, err)
	}
	rb := rod.New().ControlURL(u).NoDefaultDevice()
	if err := rb.Connect(); err != nil {
		l.Kill()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("browser: connect to %s: %w", bin, err)
	}
	p := &process{l: l, rod: rb, dataDir: dir}
	if v, err := (proto.BrowserGetVersion{}).Call(rb); err == nil {
		p.product = v.Product
	}
	return p, nil
}

func (p *process) close() {
	_ = p.rod.Close()
	done := make(chan struct{})
	go func() { p.l.Cleanup(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.l.Kill()
		<-done
	}
	_ = os.RemoveAll(p.dataDir)
}

// session gives a capture an isolated browser context and a way to release it.
func (b *Browser) session(ctx context.Context) (*rod.Browser, string, func(), error) {
	if !b.opts.SharedProcess {
		p, err := b.launch(context.Background())
		if err != nil {
			return nil, "", nil, err
		}
		return p.rod, p.product, p.close, nil
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, "", nil, errors.New("browser: closed")
	}
	if b.shared == nil {
		p, err := b.launch(context.Background())
		if err != nil {
			b.mu.Unlock()
			return nil, "", nil, err
		}
		b.shared = p
	}
	p := b.shared
	b.mu.Unlock()
	inc, err := p.rod.Incognito()
	if err != nil {
		return nil, "", nil, fmt.Errorf("browser: new browser context: %w", err)
	}
	return inc, p.product, func() { _ = inc.Close() }, nil
}

// tool names the capturing program for evidence metadata.
func tool(product string) string {
	s := "pilmon-browser/" + Version
	if product != "" {
		s += " (" + strings.ReplaceAll(product, "HeadlessChrome", "Chromium") + ")"
	}
	return s
}
