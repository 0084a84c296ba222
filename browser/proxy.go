package browser

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is the only way out for a pilmon Chromium: an HTTP proxy (absolute-form requests,
// CONNECT tunnels, WebSocket upgrades) on a loopback port. Every connection it makes is
// decided by the SSRF guard: it resolves the name itself (with the same host-resolver rules
// Chromium gets) and connects to exactly an address the guard accepted, so a second DNS answer
// cannot rebind the connection to a private address. Chromium's request interception stays as
// the second layer; the proxy also covers what interception never sees: WebSocket handshakes,
// workers, popups, preconnects and WebRTC's TCP relay.
//
// The port is reachable by every local user, so the proxy serves only its own Chromium: on
// accept it finds the client socket in /proc/net/tcp and refuses the connection unless a
// process of Chromium's process group holds it. A shared secret would have to be answered to a
// 407 challenge by each target's Fetch domain, and workers and browser-initiated requests have
// none; the peer check needs no cooperation from Chromium. (Whether Chromium would take a unix
// socket as an HTTP proxy was not tried.)
type proxy struct {
	guard *Guard
	ln    net.Listener
	srv   *http.Server
	rp    *httputil.ReverseProxy
	tr    *http.Transport
	pgid  atomic.Int64
	// checkPeer decides whether an accepted client may use the proxy; dialAddr makes the
	// outbound connection. Tests replace them.
	checkPeer func(net.Conn) error
	dialAddr  func(ctx context.Context, ap netip.AddrPort) (net.Conn, error)

	mu       sync.Mutex
	tunnels  map[net.Conn]struct{}
	upstream map[string]netip.Addr // "host:port" as requested → address last connected to
	refused  []string
	refusedN int
	closed   bool
}

const (
	maxRefusedLog     = 256
	proxyDialTimeout  = 30 * time.Second
	proxyHeaderLimit  = 1 << 20
	proxyHeaderWindow = 30 * time.Second
)

// newProxy builds the handler without listening (the fuzz target drives it directly).
func newProxy(g *Guard) *proxy {
	p := &proxy{guard: g, tunnels: map[net.Conn]struct{}{}, upstream: map[string]netip.Addr{}}
	p.checkPeer = p.peerInGroup
	p.dialAddr = func(ctx context.Context, ap netip.AddrPort) (net.Conn, error) {
		d := net.Dialer{Timeout: proxyDialTimeout}
		return d.DialContext(ctx, "tcp", ap.String())
	}
	p.tr = &http.Transport{
		Proxy:                  nil,
		DialContext:            p.dial,
		DisableCompression:     true, // pass bodies through as the server sent them
		MaxResponseHeaderBytes: proxyHeaderLimit,
		IdleConnTimeout:        30 * time.Second,
		MaxIdleConnsPerHost:    4,
		ForceAttemptHTTP2:      false,
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL = pr.In.URL
			pr.Out.Host = "" // the Host header names the host the guard checked
			pr.Out.Header.Del("Proxy-Authorization")
		},
		Transport:     p.tr,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler:  p.fail,
	}
	return p
}

// startProxy listens on a fresh loopback port and serves until Close.
func startProxy(g *Guard) (*proxy, error) {
	p := newProxy(g)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("browser: proxy listener: %w", err)
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: proxyHeaderWindow, MaxHeaderBytes: proxyHeaderLimit,
		ErrorLog: log.New(io.Discard, "", 0)}
	go func() { _ = p.srv.Serve(peerListener{ln, p}) }()
	return p, nil
}

// Addr is host:port of the listener.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// setPeerGroup names the process group whose members may use the proxy.
func (p *proxy) setPeerGroup(pgid int) { p.pgid.Store(int64(pgid)) }

// Close stops the listener and every tunnel.
func (p *proxy) Close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.tunnels {
		_ = c.Close()
	}
	p.mu.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
	}
	p.tr.CloseIdleConnections()
}

// Refused returns the refusals so far (the newest maxRefusedLog) and how many there were.
func (p *proxy) Refused() ([]string, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refused...), p.refusedN
}

func (p *proxy) noteRefused(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusedN++
	if len(p.refused) >= maxRefusedLog {
		p.refused = append(p.refused[:0], p.refused[1:]...)
	}
	p.refused = append(p.refused, s)
}

// peerListener refuses, at accept, every client the proxy does not serve.
type peerListener struct {
	net.Listener
	p *proxy
}

func (l peerListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if err := l.p.checkPeer(c); err != nil {
			l.p.noteRefused("client " + c.RemoteAddr().String() + ": " + err.Error())
			_ = c.Close()
			continue
		}
		return c, nil
	}
}

// requestTarget is where a proxied request wants to go: host (no brackets) and port. CONNECT
// names host:port; any other request must be absolute-form http:// (https:// arrives as
// CONNECT, ws:// as an absolute http:// upgrade).
func requestTarget(r *http.Request) (string, uint16, error) {
	var authority string
	if r.Method == http.MethodConnect {
		authority = r.Host
		if r.URL != nil && r.URL.Host != "" {
			authority = r.URL.Host
		}
		if authority == "" {
			return "", 0, errors.New("CONNECT without host:port")
		}
	} else {
		if r.URL == nil || !r.URL.IsAbs() || r.URL.Host == "" {
			return "", 0, errors.New("not an absolute-form request (this is a proxy)")
		}
		if !strings.EqualFold(r.URL.Scheme, "http") {
			return "", 0, fmt.Errorf("scheme %q cannot be proxied", r.URL.Scheme)
		}
		authority = r.URL.Host
		if r.URL.Port() == "" {
			authority = net.JoinHostPort(strings.Trim(r.URL.Hostname(), "[]"), "80")
		}
	}
	host, port, err := net.SplitHostPort(authority)
	if err != nil {
		return "", 0, fmt.Errorf("bad authority %q: %v", authority, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("bad port %q", port)
	}
	if host == "" {
		return "", 0, fmt.Errorf("no host in %q", authority)
	}
	return host, uint16(n), nil
}

// dial connects to one of exactly the addresses the guard accepted for host.
func (p *proxy) dial(ctx context.Context, _, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("browser: proxy: bad address %q: %w", hostport, err)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return nil, fmt.Errorf("%w: bad port in %q", ErrRefused, hostport)
	}
	return p.dialChecked(ctx, host, uint16(n))
}

func (p *proxy) dialChecked(ctx context.Context, host string, port uint16) (net.Conn, error) {
	addrs, err := p.guard.Resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	dialPort := port
	if mp, ok := p.guard.mappedPort(host); ok {
		dialPort = mp
	}
	var last error
	for _, a := range addrs {
		c, err := p.dialAddr(ctx, netip.AddrPortFrom(a.Unmap(), dialPort))
		if err == nil {
			p.noteUpstream(host, port, a.Unmap())
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("browser: proxy: connect %s: %w", net.JoinHostPort(host, strconv.Itoa(int(port))), last)
}

// maxUpstream bounds the host → address record; it starts afresh when full.
const maxUpstream = 4096

func (p *proxy) noteUpstream(host string, port uint16, a netip.Addr) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.upstream) >= maxUpstream {
		clear(p.upstream)
	}
	p.upstream[upstreamKey(host, port)] = a
}

func upstreamKey(host string, port uint16) string {
	return net.JoinHostPort(strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), ".")), strconv.Itoa(int(port)))
}

// Upstream returns the address the proxy last connected to for rawURL's host and port. Chromium
// reports the proxy as the remote end of every request; this is the server's address.
func (p *proxy) Upstream(rawURL string) (netip.Addr, bool) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return netip.Addr{}, false
	}
	port := u.Port()
	if port == "" {
		switch strings.ToLower(u.Scheme) {
		case "https", "wss":
			port = "443"
		default:
			port = "80"
		}
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.Addr{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.upstream[upstreamKey(u.Hostname(), uint16(n))]
	return a, ok
}

// fail answers a request the proxy could not complete: 403 with the guard's reason when
// refused, 502 otherwise. Chromium shows either as a failed request.
func (p *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := http.StatusBadGateway
	if errors.Is(err, ErrRefused) {
		code = http.StatusForbidden
		target := r.URL.String()
		if r.Method == http.MethodConnect {
			target = r.Host
		}
		p.noteRefused(r.Method + " " + truncateString(target, 300) + ": " + err.Error())
	}
	http.Error(w, err.Error(), code)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	host, port, err := requestTarget(r)
	if err != nil {
		p.noteRefused(r.Method + " " + truncateString(r.RequestURI, 300) + ": " + err.Error())
		http.Error(w, "pilmon capture proxy: "+err.Error(), http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodConnect {
		p.rp.ServeHTTP(w, r)
		return
	}
	up, err := p.dialChecked(r.Context(), host, port)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		_ = up.Close()
		http.Error(w, "pilmon capture proxy: cannot tunnel on this connection", http.StatusInternalServerError)
		return
	}
	c, rw, err := hj.Hijack()
	if err != nil {
		_ = up.Close()
		return
	}
	if !p.track(c, up) {
		_, _ = c.Close(), up.Close()
		return
	}
	defer p.untrack(c, up)
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	tunnel(c, rw.Reader, up)
}

func (p *proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.tunnels[c] = struct{}{}
	}
	return true
}

func (p *proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.tunnels, c)
		_ = c.Close()
	}
}

// tunnel copies both ways until either side ends; buffered holds what the client sent after
// the CONNECT header.
func tunnel(client net.Conn, buffered *bufio.Reader, up net.Conn) {
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up, buffered)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(client, up)
		if tc, ok := client.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}()
	<-done
	<-done
}

func truncateString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// peerInGroup accepts a client only when the socket at its end of the connection belongs to a
// process in the proxy's Chromium process group.
func (p *proxy) peerInGroup(c net.Conn) error {
	pgid := int(p.pgid.Load())
	if pgid <= 0 {
		return errors.New("no chromium attached to this proxy")
	}
	remote, ok1 := c.RemoteAddr().(*net.TCPAddr)
	local, ok2 := c.LocalAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return errors.New("not a TCP client")
	}
	inode, err := socketInode("/proc/net/tcp", remote.AddrPort(), local.AddrPort())
	if err != nil {
		return err
	}
	link := "socket:[" + inode + "]"
	if holdsSocket(pgid, link) {
		return nil
	}
	for _, pid := range groupMembers(pgid) {
		if pid != pgid && holdsSocket(pid, link) {
			return nil
		}
	}
	return fmt.Errorf("socket %s is not held by chromium's process group %d", inode, pgid)
}

// socketInode finds in a /proc/net/tcp table the socket whose local end is from and whose
// remote end is to, and returns its inode.
func socketInode(table string, from, to netip.AddrPort) (string, error) {
	f, err := os.Open(table)
	if err != nil {
		return "", fmt.Errorf("cannot identify the client: %w", err)
	}
	defer f.Close()
	want1, want2 := procNetAddr(from), procNetAddr(to)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), 4096)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if len(fl) < 10 || fl[1] != want1 || fl[2] != want2 {
			continue
		}
		if fl[9] == "0" {
			continue
		}
		return fl[9], nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("cannot identify the client: %s: %w", table, err)
	}
	return "", fmt.Errorf("client %s not found in %s", from, table)
}

// procNetAddr formats an IPv4 address and port as /proc/net/tcp prints them: the address as
// the kernel's 32-bit word in host byte order, in hex, then the port in hex.
func procNetAddr(ap netip.AddrPort) string {
	a := ap.Addr().Unmap().As4()
	w := binary.NativeEndian.Uint32(a[:])
	return fmt.Sprintf("%08X:%04X", w, ap.Port())
}

func holdsSocket(pid int, link string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == link {
			return true
		}
	}
	return false
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := processGroup(pid); err == nil && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// processGroup reads field 5 of /proc/PID/stat (after the parenthesised command name, which
// may itself contain spaces and parentheses).
func processGroup(pid int) (int, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return 0, errors.New("malformed stat")
	}
	return strconv.Atoi(f[2])
}
