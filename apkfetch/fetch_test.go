package apkfetch

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pilmon/apkinspect"
	"pilmon/scanner"
)

// publisher is the operator's download server of the tests: it serves the current package with
// validators and answers conditional requests, and counts what it was asked.
type publisher struct {
	mu          sync.Mutex
	body        []byte
	etag, lmod  string
	requests    atomic.Int64
	conditional atomic.Int64
}

func (p *publisher) publish(body []byte, etag, lmod string) {
	p.mu.Lock()
	p.body, p.etag, p.lmod = body, etag, lmod
	p.mu.Unlock()
}

func (p *publisher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	p.mu.Lock()
	body, etag, lmod := p.body, p.etag, p.lmod
	p.mu.Unlock()
	if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
		p.conditional.Add(1)
		if (etag != "" && r.Header.Get("If-None-Match") == etag) || (etag == "" && lmod != "" && r.Header.Get("If-Modified-Since") == lmod) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if lmod != "" {
		w.Header().Set("Last-Modified", lmod)
	}
	w.Header().Set("Content-Type", apkinspect.MediaType)
	w.Write(body)
}

func kinds(obs []scanner.Observation) map[string]int {
	out := map[string]int{}
	for _, o := range obs {
		out[o.Kind]++
	}
	return out
}

func provenanceOf(t *testing.T, out scanner.Output) scanner.Observation {
	t.Helper()
	for _, o := range out.Observations {
		if o.Kind == "apk.provenance" {
			return o
		}
	}
	t.Fatalf("no apk.provenance among %v (errors %v)", kinds(out.Observations), out.Errors)
	return scanner.Observation{}
}

// TestDownloadVersions: first download (inspected, provenance with the pinned certificate),
// an unchanged second check that is one conditional request answered 304 and is not inspected,
// the same bytes served without validators (unchanged by SHA-256), a new version, and the same
// version signed by another certificate (apk.signer_changed); a version with the same signer
// gives no signer observation.
func TestDownloadVersions(t *testing.T) {
	fx := buildFixtures(t)
	pub := &publisher{}
	srv, pin := tlsServer(t, pub)
	in := newInspector(t, Limits{})
	src := scanner.Source{Kind: SourceAPKURL, Locator: srv.URL + "/dl/app.apk", Options: map[string]string{"tls_cert_sha256": pin}}

	pub.publish(fx.V1, `"v1"`, "")
	out, sink := inspectURL(t, in, src, nil)
	if len(out.Errors) != 0 || out.Package == nil || out.Package.Unchanged {
		t.Fatalf("first download: errors %v package %+v", out.Errors, out.Package)
	}
	k := kinds(out.Observations)
	if k["apk.identity"] != 1 || k["apk.permission"] == 0 || k["apk.certificate"] != 1 || k["apk.signer_changed"] != 0 {
		t.Fatalf("first download observed %v", k)
	}
	p1 := *out.Package
	if p1.VersionName != "1.0" || p1.VersionCode != "1" || p1.Package != "com.example.fetched" || len(p1.SignerSHA256) != 64 || p1.ETag != `"v1"` {
		t.Errorf("first version %+v", p1)
	}
	prov := provenanceOf(t, out)
	if prov.Attributes["url"] != src.Locator || prov.Attributes["final_url"] != src.Locator || prov.Attributes["address"] != "127.0.0.1" ||
		prov.Attributes["status"] != 200 || prov.Attributes["sha256"] != p1.SHA256 {
		t.Errorf("provenance %v", prov.Attributes)
	}
	if chain := prov.Attributes["tls_chain"].([]string); len(chain) == 0 || !strings.Contains(chain[0], "sha256="+pin) {
		t.Errorf("tls_chain %v, want the server's certificate %s", chain, pin)
	}
	if sink.stored(apkinspect.MediaType) != 1 || sink.stored("application/json") != 1 {
		t.Errorf("stored %v", sink.metas)
	}
	// The provenance record is what the observation cites, and says what was fetched.
	var rec Record
	if err := json.Unmarshal(sink.blobs[prov.EvidenceRefs[0]], &rec); err != nil || rec.SHA256 != p1.SHA256 || rec.URL != src.Locator ||
		rec.Headers["Etag"] != `"v1"` || len(rec.TLSChain) == 0 || rec.FetchedAt.IsZero() || !strings.HasPrefix(rec.TLSMode, "pinned") {
		t.Errorf("provenance record %+v (%v)", rec, err)
	}

	// Unchanged: one conditional request, 304, not inspected.
	before := pub.requests.Load()
	out, sink = inspectURL(t, in, src, &p1)
	if got := pub.requests.Load() - before; got != 1 || pub.conditional.Load() != 1 {
		t.Errorf("unchanged check made %d requests, %d conditional; want one conditional", got, pub.conditional.Load())
	}
	if len(out.Errors) != 0 || out.Package == nil || !out.Package.Unchanged || out.Package.SHA256 != p1.SHA256 {
		t.Fatalf("304: errors %v package %+v", out.Errors, out.Package)
	}
	if k := kinds(out.Observations); k["apk.identity"] != 0 || k["apk.provenance"] != 1 {
		t.Errorf("an unchanged package was inspected: %v", k)
	}
	if sink.stored(apkinspect.MediaType) != 0 || provenanceOf(t, out).Attributes["not_modified"] != true {
		t.Errorf("304 stored a package or did not say so: %v", sink.metas)
	}

	// The same bytes without validators: downloaded, found unchanged by SHA-256, not inspected.
	pub.publish(fx.V1, "", "")
	out, _ = inspectURL(t, in, src, &p1)
	if len(out.Errors) != 0 || out.Package == nil || !out.Package.Unchanged || kinds(out.Observations)["apk.identity"] != 0 {
		t.Fatalf("same bytes: errors %v package %+v observed %v", out.Errors, out.Package, kinds(out.Observations))
	}

	// A new version by the same signer.
	pub.publish(fx.V2, `"v2"`, "")
	out, _ = inspectURL(t, in, src, &p1)
	if len(out.Errors) != 0 || out.Package == nil || out.Package.Unchanged || out.Package.VersionName != "2.0" {
		t.Fatalf("new version: errors %v package %+v", out.Errors, out.Package)
	}
	if k := kinds(out.Observations); k["apk.identity"] != 1 || k["apk.signer_changed"] != 0 {
		t.Errorf("new version by the same signer observed %v", k)
	}
	p2 := *out.Package
	if p2.SignerSHA256 != p1.SignerSHA256 {
		t.Errorf("same key, different signer %s vs %s", p2.SignerSHA256, p1.SignerSHA256)
	}

	// The same code signed by someone else.
	pub.publish(fx.V2B, `"v2b"`, "")
	out, _ = inspectURL(t, in, src, &p2)
	var changed *scanner.Observation
	for i, o := range out.Observations {
		if o.Kind == "apk.signer_changed" {
			changed = &out.Observations[i]
		}
	}
	if changed == nil || changed.Attributes["previous_signer_sha256"] != p2.SignerSHA256 || changed.Attributes["signer_sha256"] != out.Package.SignerSHA256 ||
		changed.Subject == p2.SignerSHA256 {
		t.Fatalf("signer change not observed: %+v", changed)
	}
}

// TestBadServers: every answer of a hostile or broken server is a clear error, the provenance
// record says what happened, no package is stored and no version is reported.
func TestBadServers(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/loop/a", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop/b", http.StatusFound) })
	mux.HandleFunc("/loop/b", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop/a", http.StatusFound) })
	mux.HandleFunc("/far", func(w http.ResponseWriter, r *http.Request) {
		n := 0
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		http.Redirect(w, r, fmt.Sprintf("/far?n=%d", n+1), http.StatusFound)
	})
	mux.HandleFunc("/private", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://10.1.2.3/app.apk", http.StatusFound)
	})
	mux.HandleFunc("/metadata", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/endless", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("PK\x03\x04"))
		chunk := make([]byte, 64<<10)
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("PK\x03\x04"))
		w.(http.Flusher).Flush()
		select { // never sends the rest
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", apkinspect.MediaType)
		w.Header().Set("Content-Length", fmt.Sprint(int64(2)<<30))
		w.Write([]byte("PK\x03\x04"))
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<html><body>请使用应用市场下载</body></html>"))
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html>404</html>"))
	})
	mux.HandleFunc("/zip", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(zipWithout(t))
	})
	mux.HandleFunc("/text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write([]byte("this is not a zip archive at all"))
	})
	srv, pin := tlsServer(t, mux)
	// Only /slow needs a short idle bound; every other case gets the default one, so that a TLS
	// handshake on a loaded machine is not cut short by the bound under test elsewhere.
	stalls := newInspector(t, Limits{MaxBytes: 1 << 20, Idle: 300 * time.Millisecond, MaxRedirects: 5})
	in := newInspector(t, Limits{MaxBytes: 1 << 20, MaxRedirects: 5})
	for _, c := range []struct {
		path string
		opts map[string]string
		want string
	}{
		{"/loop/a", nil, "redirect loop"},
		{"/far", nil, "more than 5"},
		{"/private", nil, "10.1.2.3"},
		{"/metadata", nil, "169.254.169.254"},
		{"/endless", nil, "more than 1048576 bytes"},
		{"/slow", nil, "no data for"},
		{"/huge", nil, "announces 2147483648 bytes"},
		{"/html", nil, "served as text/html"},
		{"/error", nil, "HTTP 404"},
		{"/zip", nil, "without AndroidManifest.xml"},
		{"/text", nil, "not a zip archive"},
		// No pin: the test server's own certificate is not trusted.
		{"/zip", map[string]string{}, "certificate"},
		// A pin of another certificate.
		{"/zip", map[string]string{"tls_cert_sha256": strings.Repeat("ab", 32)}, "not the pinned"},
	} {
		t.Run(strings.TrimPrefix(c.path, "/")+fmt.Sprint(len(c.opts)), func(t *testing.T) {
			opts := c.opts
			if opts == nil {
				opts = map[string]string{"tls_cert_sha256": pin}
			}
			prior := &scanner.PackageVersion{SHA256: strings.Repeat("0", 64), ETag: `"old"`, URL: "elsewhere"}
			inst := in
			if c.path == "/slow" {
				inst = stalls
			}
			out, sink := inspectURL(t, inst, scanner.Source{Kind: SourceAPKURL, Locator: srv.URL + c.path, Options: opts}, prior)
			if len(out.Errors) == 0 || !strings.Contains(out.Errors[0].Reason, c.want) {
				t.Fatalf("errors %v, want one containing %q", out.Errors, c.want)
			}
			if out.Package != nil || len(out.Observations) != 0 {
				t.Errorf("a failed download reported %+v and %d observations", out.Package, len(out.Observations))
			}
			if sink.stored(apkinspect.MediaType) != 0 {
				t.Errorf("a package was stored: %v", sink.metas)
			}
			if sink.stored("application/json") != 1 {
				t.Fatalf("no provenance record of the failed download: %v", sink.metas)
			}
			var rec Record
			for _, b := range sink.blobs {
				_ = json.Unmarshal(b, &rec)
			}
			if rec.Error == "" || rec.URL != srv.URL+c.path {
				t.Errorf("record %+v does not say what failed", rec)
			}
		})
	}
	// Nothing is left in the temporary folder.
	if left, _ := os.ReadDir(in.fetch.TempDir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// TestCertificateForAnotherHost: with verification on and the server's certificate trusted, a
// URL naming another host than the certificate's is refused; the same server by the address
// its certificate names is accepted.
func TestCertificateForAnotherHost(t *testing.T) {
	srv, _ := tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		w.Write(zipWithout(t))
	}))
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	g, err := newGuardFor("127.0.0.1/32", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{Guard: g, RootCAs: pool, TempDir: t.TempDir()}
	port := srv.URL[strings.LastIndexByte(srv.URL, ':')+1:]
	d, err := f.Get(t.Context(), "https://localhost:"+port+"/app.apk", Conditional{}, TLSPolicy{})
	d.Close()
	if err == nil || !strings.Contains(err.Error(), "another host") {
		t.Fatalf("certificate for 127.0.0.1/example.com accepted for localhost: %v", err)
	}
	d, err = f.Get(t.Context(), srv.URL+"/app.apk", Conditional{}, TLSPolicy{})
	d.Close()
	if err != nil || d.Record.Status != 200 || d.Record.TLSMode != "verified (system roots, host name)" {
		t.Fatalf("verified download: %v %+v", err, d.Record)
	}
}

// TestGuardRefusesLoopbackByDefault: without the allow setting the test server itself (loopback)
// is refused before any connection.
func TestGuardRefusesLoopbackByDefault(t *testing.T) {
	pub := &publisher{}
	srv, pin := tlsServer(t, pub)
	g, err := newGuardFor()
	if err != nil {
		t.Fatal(err)
	}
	in := New(apkinspect.New(nil, apkinspect.Options{}), Options{Guard: g})
	out, sink := inspectURL(t, in, scanner.Source{Kind: SourceAPKURL, Locator: srv.URL + "/app.apk", Options: map[string]string{"tls_cert_sha256": pin}}, nil)
	if len(out.Errors) == 0 || !strings.Contains(out.Errors[0].Reason, "SSRF") || pub.requests.Load() != 0 || sink.stored(apkinspect.MediaType) != 0 {
		t.Fatalf("loopback fetched without being allowed: %v, %d requests", out.Errors, pub.requests.Load())
	}
}

func TestTLSOptions(t *testing.T) {
	for _, c := range []struct {
		opts map[string]string
		ok   bool
	}{
		{map[string]string{}, true},
		{map[string]string{"tls_cert_sha256": strings.Repeat("AB:", 31) + "AB"}, true},
		{map[string]string{"tls_cert_sha256": "abc"}, false},
		{map[string]string{"insecure_tls": "true"}, true},
		{map[string]string{"insecure_tls": "maybe"}, false},
	} {
		tp, err := tlsPolicy(scanner.Source{Options: c.opts})
		if (err == nil) != c.ok {
			t.Errorf("%v: %+v %v", c.opts, tp, err)
		}
	}
}

func TestCheckContentType(t *testing.T) {
	for ct, ok := range map[string]bool{"": true, apkinspect.MediaType: true, "application/octet-stream; charset=binary": true,
		"text/html; charset=utf-8": false, "application/json": false, "image/png": false, "garbage;;;=": false} {
		if err := CheckContentType(ct); (err == nil) != ok || (err != nil && !errors.Is(err, ErrNotAPK)) {
			t.Errorf("CheckContentType(%q) = %v", ct, err)
		}
	}
}
