package browser

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// stubLookup resolves the made-up names of these tests; rebind.test answers a public address,
// then loopback, alternately, as a rebinding DNS server would.
func stubLookup() func(context.Context, string) ([]netip.Addr, error) {
	var mu sync.Mutex
	n := 0
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "loop.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		case "mixed.test":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34"), netip.MustParseAddr("10.0.0.1")}, nil
		case "public.test":
			return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
		case "rebind.test":
			mu.Lock()
			defer mu.Unlock()
			n++
			if n%2 == 1 {
				return []netip.Addr{netip.MustParseAddr("93.184.216.34")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return nil, errors.New("no such host (test resolver)")
	}
}

// refusedHosts are destinations neither the guard nor the proxy may ever reach.
var refusedHosts = []string{"127.0.0.1", "[::127.0.0.1]", "[::ffff:127.0.0.1]", "0.0.0.0", "[::]", "169.254.169.254",
	"100.64.0.1", "2130706433", "0177.0.0.1", "0x7f.1", "0x7f000001", "127.1", "loop.test", "mixed.test", "[::ffff:a9fe:a9fe]",
	"[64:ff9b::7f00:1]", "[fe80::1]", "[::1]", "10.1.2.3", "0x7f.0.0.0x1", "0x7f.0x.0.0x", "99999999999"}

func TestGuardRefusesEncodedLoopback(t *testing.T) {
	g, err := NewGuard(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	g.lookup = stubLookup()
	for _, h := range refusedHosts {
		if err := g.Check(context.Background(), "http://"+h+":8080/"); !errors.Is(err, ErrRefused) {
			t.Errorf("Check(http://%s:8080/) = %v, want refusal", h, err)
		}
	}
	for _, h := range []string{"public.test", "93.184.216.34", "1572395042", "0x5d.0xb8.0xd8.0x22"} {
		if err := g.Check(context.Background(), "http://"+h+"/"); err != nil {
			t.Errorf("Check(http://%s/) = %v, want allowed", h, err)
		}
	}
	// Legacy IPv4 forms are read as URL parsers read them.
	for in, want := range map[string]string{"2130706433": "127.0.0.1", "0177.0.0.1": "127.0.0.1", "0x7f.1": "127.0.0.1",
		"127.1": "127.0.0.1", "0x7f.0.1": "127.0.0.1", "10.0x10203": "10.1.2.3", "0": "0.0.0.0"} {
		if got, ok := parseIPHost(in); !ok || got.String() != want {
			t.Errorf("parseIPHost(%q) = %v %v, want %s", in, got, ok, want)
		}
	}
	for _, in := range []string{"256.0.0.1", "1.2.3.4.5", "0x100.1", "4294967296", "1.2.3.08", "example.org", "1..2"} {
		if got, ok := parseIPHost(in); ok {
			t.Errorf("parseIPHost(%q) = %v, want no address", in, got)
		}
	}
}

// testProxy is a proxy on loopback that serves any local client (the peer check is tested on
// its own) and records the addresses it would connect to instead of connecting.
func testProxy(t *testing.T, allow []string) (*proxy, func() []netip.AddrPort) {
	t.Helper()
	g, err := NewGuard(allow, "")
	if err != nil {
		t.Fatal(err)
	}
	g.lookup = stubLookup()
	p, err := startProxy(g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	p.checkPeer = func(net.Conn) error { return nil }
	var mu sync.Mutex
	var dialed []netip.AddrPort
	p.dialAddr = func(_ context.Context, ap netip.AddrPort) (net.Conn, error) {
		mu.Lock()
		defer mu.Unlock()
		dialed = append(dialed, ap)
		return nil, errors.New("test: not connecting")
	}
	return p, func() []netip.AddrPort {
		mu.Lock()
		defer mu.Unlock()
		return append([]netip.AddrPort(nil), dialed...)
	}
}

// rawProxyRequest sends one request to the proxy and returns the status code (0 when the proxy
// closed the connection without answering).
func rawProxyRequest(t *testing.T, addr, req string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := fmt.Fprint(c, req); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestProxyRefusesPrivateDestinations(t *testing.T) {
	p, dialed := testProxy(t, []string{"127.0.0.2"})
	for _, h := range refusedHosts {
		for _, req := range []string{
			"GET http://" + h + ":8080/x HTTP/1.1\r\nHost: " + h + ":8080\r\n\r\n",
			"CONNECT " + h + ":443 HTTP/1.1\r\nHost: " + h + ":443\r\n\r\n",
			"GET http://" + h + "/ws HTTP/1.1\r\nHost: " + h + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
		} {
			if code := rawProxyRequest(t, p.Addr(), req); code != http.StatusForbidden {
				t.Errorf("%q: status %d, want 403", strings.SplitN(req, "\r\n", 2)[0], code)
			}
		}
	}
	if d := dialed(); len(d) != 0 {
		t.Fatalf("proxy connected to refused destinations: %v", d)
	}
	// Allowed destinations are connected to at exactly the address the guard checked.
	for _, tc := range []struct{ req, want string }{
		{"GET http://public.test/ HTTP/1.1\r\nHost: public.test\r\n\r\n", "93.184.216.34:80"},
		{"CONNECT public.test:8443 HTTP/1.1\r\nHost: public.test:8443\r\n\r\n", "93.184.216.34:8443"},
		{"CONNECT 127.0.0.2:9 HTTP/1.1\r\nHost: 127.0.0.2:9\r\n\r\n", "127.0.0.2:9"},
		{"GET http://2130706434:81/ HTTP/1.1\r\nHost: x\r\n\r\n", "127.0.0.2:81"},
	} {
		before := len(dialed())
		if code := rawProxyRequest(t, p.Addr(), tc.req); code != http.StatusBadGateway {
			t.Errorf("%q: status %d, want 502 from the stubbed dial", tc.req, code)
		}
		d := dialed()
		if len(d) != before+1 || d[len(d)-1].String() != tc.want {
			t.Errorf("%q: dialed %v, want %s", tc.req, d[before:], tc.want)
		}
	}
	// Requests that are not proxy requests are refused without a connection.
	for _, req := range []string{"GET / HTTP/1.1\r\nHost: public.test\r\n\r\n", "GET ftp://public.test/ HTTP/1.1\r\nHost: x\r\n\r\n",
		"CONNECT public.test HTTP/1.1\r\nHost: public.test\r\n\r\n", "CONNECT public.test:0 HTTP/1.1\r\nHost: public.test:0\r\n\r\n"} {
		if code := rawProxyRequest(t, p.Addr(), req); code != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", req, code)
		}
	}
}

// A name that rebinds between lookups is connected to at the address that was checked, never
// at the one a second lookup would give.
// A host-resolver rule with a port ("MAP * 127.0.0.1:PORT", as the demo uses) sends the
// connection to that port, as Chromium itself would without a proxy; one without keeps the URL's.
func TestProxyAppliesMappedPort(t *testing.T) {
	g, err := NewGuard([]string{"127.0.0.0/8"}, "MAP *.demo.test 127.0.0.1:4567, MAP *.plain.test 127.0.0.3, EXCLUDE x.demo.test")
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(g)
	var dialed []string
	p.dialAddr = func(_ context.Context, ap netip.AddrPort) (net.Conn, error) {
		dialed = append(dialed, ap.String())
		return nil, errors.New("test: not connecting")
	}
	for _, hp := range []struct {
		host string
		port uint16
	}{{"h5.demo.test", 80}, {"h5.demo.test", 443}, {"a.plain.test", 8080}} {
		_, _ = p.dialChecked(context.Background(), hp.host, hp.port)
	}
	if want := "[127.0.0.1:4567 127.0.0.1:4567 127.0.0.3:8080]"; fmt.Sprint(dialed) != want {
		t.Errorf("dialed %v, want %s", dialed, want)
	}
}

func TestProxyClosesDNSRebinding(t *testing.T) {
	p, dialed := testProxy(t, nil)
	codes := map[int]int{}
	for range 6 {
		codes[rawProxyRequest(t, p.Addr(), "CONNECT rebind.test:443 HTTP/1.1\r\nHost: rebind.test:443\r\n\r\n")]++
	}
	if codes[http.StatusForbidden] != 3 || codes[http.StatusBadGateway] != 3 {
		t.Errorf("statuses %v, want 3 refused (loopback answer) and 3 dialed (public answer)", codes)
	}
	for _, d := range dialed() {
		if d.Addr() != netip.MustParseAddr("93.184.216.34") {
			t.Errorf("dialed %s for rebind.test", d)
		}
	}
}

// Only the proxy's own Chromium process group may use it: another local process gets its
// connection closed unanswered.
func TestProxyServesOnlyItsProcessGroup(t *testing.T) {
	g, err := NewGuard(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	g.lookup = stubLookup()
	p, err := startProxy(g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.dialAddr = func(context.Context, netip.AddrPort) (net.Conn, error) {
		return nil, errors.New("test: not connecting")
	}
	req := "CONNECT public.test:443 HTTP/1.1\r\nHost: public.test:443\r\n\r\n"
	if code := rawProxyRequest(t, p.Addr(), req); code != 0 {
		t.Errorf("proxy with no chromium attached answered %d", code)
	}
	p.setPeerGroup(syscall.Getpgrp() + 1e6) // a group this test is not in
	if code := rawProxyRequest(t, p.Addr(), req); code != 0 {
		t.Errorf("proxy answered a client outside its process group: %d", code)
	}
	refused, _ := p.Refused()
	if len(refused) != 2 || !strings.Contains(refused[1], "not held by chromium's process group") {
		t.Errorf("refusals %q", refused)
	}
	// The test process's own group holds the client socket: served.
	p.setPeerGroup(syscall.Getpgrp())
	if code := rawProxyRequest(t, p.Addr(), req); code != http.StatusBadGateway {
		t.Errorf("client in the process group: status %d, want 502 from the stubbed dial", code)
	}
}

func FuzzProxyRequest(f *testing.F) {
	for _, s := range []string{
		"GET http://public.test/ HTTP/1.1\r\nHost: public.test\r\n\r\n",
		"CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n",
		"CONNECT [::127.0.0.1]:443 HTTP/1.1\r\nHost: [::127.0.0.1]:443\r\n\r\n",
		"GET http://0x7f.1:80/ HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET http://[::ffff:127.0.0.1]/ HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		"POST http://rebind.test/x HTTP/1.1\r\nHost: rebind.test\r\nContent-Length: 3\r\n\r\nabc",
		"GET / HTTP/1.1\r\nHost: public.test\r\n\r\n",
		"CONNECT public.test:99999 HTTP/1.0\r\n\r\n",
		"GET http://%31%32%37.0.0.1/ HTTP/1.1\r\nHost: x\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return
		}
		g, err := NewGuard([]string{"192.0.2.7"}, "MAP *.mapped.test 10.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		g.lookup = stubLookup()
		p := newProxy(g)
		var dialed []netip.AddrPort
		p.dialAddr = func(_ context.Context, ap netip.AddrPort) (net.Conn, error) {
			dialed = append(dialed, ap)
			return nil, errors.New("fuzz: not connecting")
		}
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusBadRequest, http.StatusForbidden, http.StatusBadGateway:
		default:
			t.Fatalf("status %d for %q", w.Code, raw)
		}
		for _, ap := range dialed {
			if !g.AddrAllowed(ap.Addr()) || ap.Port() == 0 {
				t.Fatalf("dialed %s for %q", ap, raw)
			}
		}
		if host, port, err := requestTarget(req); err == nil && (host == "" || port == 0) {
			t.Fatalf("target %q:%d accepted for %q", host, port, raw)
		}
	})
}
