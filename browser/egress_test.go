package browser

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// canary listens on 127.0.0.1 (TCP and UDP, one port) and counts whatever reaches it.
type canary struct {
	port int
	tcp  net.Listener
	udp  net.PacketConn
	mu   sync.Mutex
	hits []string
}

func newCanary(t *testing.T) *canary {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			_ = ln.Close()
			continue
		}
		c := &canary{port: port, tcp: ln, udp: pc}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				c.note("tcp from " + conn.RemoteAddr().String())
				_ = conn.Close()
			}
		}()
		go func() {
			buf := make([]byte, 2048)
			for {
				_, from, err := pc.ReadFrom(buf)
				if err != nil {
					return
				}
				c.note("udp from " + from.String())
			}
		}()
		t.Cleanup(func() { _, _ = ln.Close(), pc.Close() })
		return c
	}
	t.Fatal("no port free for both TCP and UDP on 127.0.0.1")
	return nil
}

func (c *canary) note(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hits = append(c.hits, s)
}

func (c *canary) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.hits...)
}

// hostileAttempts are what the hostile page reports back once each attempt has settled.
var hostileAttempts = []string{"fetch", "websocket", "worker", "serviceworker", "sharedworker", "webrtc", "popup"}

// hostilePage tries every way out of a page that Fetch interception does not see, towards the
// canary on 127.0.0.1, from a page served on the allowed 127.0.0.2.
func hostilePage(canaryPort int) string {
	c := fmt.Sprintf("127.0.0.1:%d", canaryPort)
	return `<!doctype html><html><head><title>hostile</title>
<link rel="preconnect" href="http://` + c + `"><link rel="preconnect" href="https://` + c + `">
<link rel="dns-prefetch" href="http://` + c + `"></head><body><p>hostile page</p>
<script>
const C = '` + c + `';
const report = (what, how) => fetch('/report?what=' + what + '&how=' + encodeURIComponent(String(how).slice(0, 80))).catch(() => {});
const settle = (what, p) => p.then(v => report(what, 'done ' + v), e => report(what, 'error ' + e));
settle('fetch', Promise.allSettled(['http://' + C + '/fetch', 'http://[::ffff:127.0.0.1]:` + fmt.Sprint(canaryPort) + `/m',
  'http://2130706433:` + fmt.Sprint(canaryPort) + `/d', 'http://0x7f.1:` + fmt.Sprint(canaryPort) + `/h'].map(u => fetch(u, {mode: 'no-cors'}))).then(r => r.map(x => x.status).join()));
settle('websocket', new Promise((ok, bad) => { try { const ws = new WebSocket('ws://' + C + '/ws'); ws.onopen = () => ok('open'); ws.onerror = () => ok('error'); ws.onclose = () => ok('close'); } catch (e) { bad(e); } }));
settle('worker', new Promise((ok, bad) => { try { const w = new Worker('/worker.js'); w.onmessage = e => ok(e.data); w.onerror = e => ok('error'); } catch (e) { bad(e); } }));
settle('serviceworker', navigator.serviceWorker ? navigator.serviceWorker.register('/sw.js').then(r => 'registered') : Promise.resolve('no serviceWorker'));
settle('sharedworker', new Promise((ok, bad) => { if (typeof SharedWorker === 'undefined') { ok('no SharedWorker'); return; } try { const w = new SharedWorker('/shared.js'); w.port.onmessage = e => ok(e.data); w.onerror = () => ok('error'); } catch (e) { bad(e); } }));
settle('webrtc', new Promise((ok, bad) => { try {
  const pc = new RTCPeerConnection({iceServers: [{urls: 'stun:' + C}, {urls: 'turn:' + C + '?transport=udp', username: 'u', credential: 'p'}, {urls: 'turn:' + C + '?transport=tcp', username: 'u', credential: 'p'}]});
  pc.createDataChannel('x');
  pc.onicegatheringstatechange = () => { if (pc.iceGatheringState === 'complete') ok('gathered'); };
  pc.createOffer().then(o => pc.setLocalDescription(o)).catch(bad);
} catch (e) { bad(e); } }));
settle('popup', new Promise(ok => { const w = window.open('http://' + C + '/popup'); ok(w ? 'opened' : 'blocked'); }));
</script><img src="/wait-reports"></body></html>`
}

// A page on an allowed address (127.0.0.2) reaches no refused address (the canary on
// 127.0.0.1) by any path: fetch, WebSocket, dedicated, shared and service workers, a popup,
// WebRTC (STUN and TURN over UDP and TCP, host candidates), preconnect. The proxy's refusals
// show the attempts were made, and the capture itself still works.
func TestEgressOnlyThroughGuard(t *testing.T) {
	if err := available(ResolveBin("")); err != nil {
		t.Skipf("browser: Chromium not installed, skipping: %v", err)
	}
	cn := newCanary(t)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no 127.0.0.2 on this host: %v", err)
	}
	var (
		mu      sync.Mutex
		reports = map[string]string{}
		allIn   = make(chan struct{})
	)
	js := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, body)
		}
	}
	canaryURL := fmt.Sprintf("http://127.0.0.1:%d", cn.port)
	mux := http.NewServeMux()
	mux.HandleFunc("/hostile", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, hostilePage(cn.port))
	})
	mux.HandleFunc("/worker.js", js(`fetch('`+canaryURL+`/worker').then(() => postMessage('reached'), e => postMessage('refused'));`))
	mux.HandleFunc("/shared.js", js(`onconnect = e => { const p = e.ports[0]; fetch('`+canaryURL+`/shared').then(() => p.postMessage('reached'), () => p.postMessage('refused')); };`))
	mux.HandleFunc("/sw.js", js(`self.addEventListener('install', e => e.waitUntil(
  fetch('`+canaryURL+`/sw').then(() => 'reached', () => 'refused').then(v => fetch('/report?what=serviceworker-fetch&how=' + v))));`))
	mux.HandleFunc("/report", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		reports[r.URL.Query().Get("what")] = r.URL.Query().Get("how")
		for _, a := range append(hostileAttempts, "serviceworker-fetch") {
			if _, ok := reports[a]; !ok {
				return
			}
		}
		select {
		case <-allIn:
		default:
			close(allIn)
		}
	})
	mux.HandleFunc("/wait-reports", func(w http.ResponseWriter, r *http.Request) {
		// Holds the page's load event until every attempt has settled, so the capture ends after them.
		select {
		case <-allIn:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "image/gif")
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	b, err := New(Options{Allow: []string{"127.0.0.2"}, SharedProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	page := "http://" + ln.Addr().String() + "/hostile"
	c, err := b.Capture(context.Background(), page, CaptureOptions{NavigationTimeout: 2 * time.Minute,
		TotalTimeout: 3 * time.Minute, NoScreenshot: true, NoMHTML: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c.HTML), "hostile page") {
		t.Errorf("capture did not render the page: %s", c.HTML)
	}
	mu.Lock()
	got := fmt.Sprint(reports)
	_, swFetched := reports["serviceworker-fetch"]
	mu.Unlock()
	t.Logf("attempts: %s", got)
	if !swFetched {
		t.Errorf("the service worker never ran its fetch: %s", got)
	}
	if strings.Contains(got, "reached") {
		t.Errorf("a worker reached the canary: %s", got)
	}
	if hits := cn.seen(); len(hits) > 0 {
		t.Errorf("the canary on a refused address was reached %d times: %v", len(hits), hits)
	}
	// Chromium reports the proxy as every response's remote end; the log records the server.
	var docIP string
	for _, r := range c.Requests {
		if r.URL == page {
			docIP = r.RemoteIP
		}
	}
	if docIP != "127.0.0.2" {
		t.Errorf("document's remote IP %q, want the server's 127.0.0.2", docIP)
	}
	b.mu.Lock()
	proc := b.shared
	px := proc.proxy
	b.mu.Unlock()
	proxyPort := int(proc.proxyAddr().Port())
	otherPort := proxyPort + 1
	if got := proc.remoteIP(page, "127.0.0.1", &proxyPort); got != "127.0.0.2" {
		t.Errorf("remoteIP through the proxy = %q, want 127.0.0.2", got)
	}
	if got := proc.remoteIP(page, "127.0.0.1", &otherPort); got != "127.0.0.1" {
		t.Errorf("remoteIP of a connection not through the proxy = %q, want it unchanged", got)
	}
	refused, n := px.Refused()
	target := fmt.Sprintf("127.0.0.1:%d", cn.port)
	var toCanary []string
	for _, r := range refused {
		if strings.Contains(r, target) {
			toCanary = append(toCanary, r)
		}
	}
	sort.Strings(toCanary)
	t.Logf("proxy refused %d connections, %d to the canary: %v", n, len(toCanary), toCanary)
	t.Logf("all refusals: %q", refused)
	all := strings.Join(toCanary, "\n")
	// The service worker's fetch is invisible to the page's interception: only the proxy stops
	// it. (The dedicated worker's fetch is stopped by the interception in this Chromium.)
	if !strings.Contains(all, "GET http://"+target+"/sw") {
		t.Errorf("no proxy refusal for %s/sw: the attempt did not reach the proxy", target)
	}
	// Chromium tunnels WebSockets through an HTTP proxy with CONNECT.
	if !strings.Contains(all, "GET http://"+target+"/ws") && !strings.Contains(all, "CONNECT "+target) {
		t.Errorf("no proxy refusal for the WebSocket to %s", target)
	}
}

// While a capture runs, no Chromium process has a listening TCP socket (no DevTools port), and
// the capture still works.
func TestNoListeningSocketDuringCapture(t *testing.T) {
	b, base := testBrowser(t)
	probed := make(chan []string, 1)
	probeMu.Lock()
	probe = func() {
		procs := descendants(os.Getpid())
		if len(procs) == 0 {
			probed <- []string{"no chromium process found below the test"}
			return
		}
		probed <- listeningSockets(procs)
	}
	probeMu.Unlock()
	c, err := b.Capture(context.Background(), base+"/probe", CaptureOptions{NoScreenshot: true, NoMHTML: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(c.HTML), "probed") {
		t.Errorf("capture did not render the probe page: %s", c.HTML)
	}
	select {
	case l := <-probed:
		if len(l) > 0 {
			t.Errorf("chromium listens: %v", l)
		}
	default:
		t.Fatal("the probe did not run during the capture")
	}
}

var (
	probeMu sync.Mutex
	probe   func()
)

func probeHandler(w http.ResponseWriter, r *http.Request) {
	probeMu.Lock()
	p := probe
	probeMu.Unlock()
	if p != nil {
		p()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, `<!doctype html><html><body><p>probed</p></body></html>`)
}

// listeningSockets returns "pid: inode" for every socket one of pids holds that is in the LISTEN
// state in that process's network namespace (/proc/PID/net/tcp and tcp6).
func listeningSockets(pids []int) []string {
	var out []string
	for _, pid := range pids {
		listen := map[string]bool{}
		for _, table := range []string{"tcp", "tcp6"} {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n")[1:] {
				if f := strings.Fields(l); len(f) >= 10 && f[3] == "0A" {
					listen[f[9]] = true
				}
			}
		}
		fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
		for _, fd := range fds {
			link, err := os.Readlink(fd)
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inode := strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"); listen[inode] {
				out = append(out, fmt.Sprintf("pid %d listens (socket %s)", pid, inode))
			}
		}
	}
	return out
}
