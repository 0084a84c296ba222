// Package browser is the one place pilmon drives Chromium (Debian's /usr/bin/chromium, never a
// downloaded build) through go-rod over a DevTools pipe (no debugging port): hardened flags, a
// fresh profile per capture, an unprivileged sandboxed process, all egress through a filtering
// proxy that applies the SSRF guard to every connection, the guard again on every request the
// page makes, and captures (rendered HTML incl. same-origin iframes, MHTML, screenshot, request
// log) that go into the evidence store.
package browser

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/go-rod/rod"
)

// DefaultBin is Debian's Chromium; PILMON_CHROMIUM overrides it.
const DefaultBin = "/usr/bin/chromium"

// Version of the capture code, recorded in evidence metadata.
const Version = "2"

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
	// User is the account Chromium runs as when pilmon runs as root; empty means
	// $PILMON_CHROMIUM_USER, then "nobody". Chromium keeps its sandbox as that user. Ignored
	// (Chromium runs as pilmon's own user, sandboxed) when pilmon is not root.
	User string
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

func (b *Browser) launch(ctx context.Context) (*process, error) {
	return startProcess(ctx, launchConfig{bin: b.opts.Bin, hostRules: b.opts.HostResolverRules, guard: b.guard, user: b.opts.User})
}

// LaunchOptions configure a Chromium started by Launch.
type LaunchOptions struct {
	// Bin is the Chromium binary; empty means $PILMON_CHROMIUM, then DefaultBin.
	Bin string
	// Allow and HostResolverRules configure the SSRF guard of the launch's filtering proxy, as
	// Options do; HostResolverRules is passed to Chromium as well. A caller that intercepts
	// requests should still check them with NewGuard (as traffic's live capture does): the proxy
	// is the first layer, the interception the second.
	Allow             []string
	HostResolverRules string
	// User is the account Chromium runs as when pilmon runs as root (see Options.User).
	User string
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

// Launch starts one headless Chromium the way every pilmon capture does (see startProcess):
// driven over a DevTools pipe, its network only through a filtering proxy that applies
// o.Allow and o.HostResolverRules. cleanup closes the browser, kills its process group and
// removes the profile; call it exactly once. The process is also killed when ctx ends.
func Launch(ctx context.Context, o LaunchOptions) (*rod.Browser, func(), error) {
	g, err := NewGuard(o.Allow, o.HostResolverRules)
	if err != nil {
		return nil, nil, err
	}
	p, err := startProcess(ctx, launchConfig{bin: ResolveBin(o.Bin), hostRules: o.HostResolverRules, guard: g, user: o.User})
	if err != nil {
		return nil, nil, err
	}
	launched.Store(p.rod, p)
	return p.rod, func() { launched.Delete(p.rod); p.close() }, nil
}

// launched maps a Browser returned by Launch to its process, for RemoteIP.
var launched sync.Map

// RemoteIP is the server address to record for a response of a Browser returned by Launch:
// Chromium reports the filtering proxy (ip:port) as the remote end of every request, so this
// returns the address the proxy connected to for rawURL's host and port instead. Any other
// ip, or a Browser not from Launch, is returned unchanged.
func RemoteIP(rb *rod.Browser, rawURL, ip string, port *int) string {
	v, ok := launched.Load(rb)
	if !ok {
		return ip
	}
	return v.(*process).remoteIP(rawURL, ip, port)
}

// session gives a capture an isolated browser context and a way to release it.
func (b *Browser) session(ctx context.Context) (*rod.Browser, *process, func(), error) {
	if !b.opts.SharedProcess {
		// The capture's context bounds the process: it is killed when the capture ends.
		p, err := b.launch(ctx)
		if err != nil {
			return nil, nil, nil, err
		}
		return p.rod, p, p.close, nil
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, nil, nil, errors.New("browser: closed")
	}
	if b.shared == nil {
		p, err := b.launch(context.Background())
		if err != nil {
			b.mu.Unlock()
			return nil, nil, nil, err
		}
		b.shared = p
	}
	p := b.shared
	b.mu.Unlock()
	inc, err := p.rod.Incognito()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("browser: new browser context: %w", err)
	}
	return inc, p, func() { _ = inc.Close() }, nil
}

// tool names the capturing program for evidence metadata.
func tool(product string) string {
	s := "pilmon-browser/" + Version
	if product != "" {
		s += " (" + strings.ReplaceAll(product, "HeadlessChrome", "Chromium") + ")"
	}
	return s
}
