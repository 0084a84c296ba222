package apkfetch

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"pilmon/apkinspect"
	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/internal/testapk"
	"pilmon/scanner"
)

// memSink keeps what an inspector stores, so a test can say exactly what was (not) stored.
type memSink struct {
	mu    sync.Mutex
	metas []evidence.Meta
	blobs map[string][]byte
}

func (s *memSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blobs == nil {
		s.blobs = map[string][]byte{}
	}
	s.blobs[h] = b
	s.metas = append(s.metas, meta)
	return evidence.Ref{SHA256: h, Size: int64(len(b))}, nil
}

// stored counts the stored artifacts of a media type.
func (s *memSink) stored(mediaType string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.metas {
		if m.MediaType == mediaType {
			n++
		}
	}
	return n
}

// buildFixtures returns real APKs (testapk), skipping when Debian's build tools are absent.
func buildFixtures(t *testing.T) testapk.Set {
	t.Helper()
	if err := testapk.Available(); err != nil {
		t.Skip(err)
	}
	s, err := testapk.Build()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// zipWithout returns a zip archive holding one file that is not a manifest.
func zipWithout(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("readme.txt")
	w.Write([]byte("not an app"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// tlsServer starts a local HTTPS server with its own certificate and returns it with the pin
// a source uses to accept exactly that certificate.
func tlsServer(t *testing.T, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	sum := sha256.Sum256(srv.Certificate().Raw)
	return srv, hex.EncodeToString(sum[:])
}

// loopbackGuard allows the test's own server, as PILMON_BROWSER_ALLOW does.
func loopbackGuard(t *testing.T) *browser.Guard {
	t.Helper()
	g, err := browser.NewGuard([]string{"127.0.0.1/32"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func newInspector(t *testing.T, lim Limits) *Inspector {
	return New(apkinspect.New(nil, apkinspect.Options{}), Options{Guard: loopbackGuard(t), Limits: lim, Tool: "pilmon test", TempDir: t.TempDir()})
}

func inspectURL(t *testing.T, in *Inspector, src scanner.Source, prior *scanner.PackageVersion) (scanner.Output, *memSink) {
	t.Helper()
	sink := &memSink{}
	out := in.Inspect(t.Context(), &scanner.Input{Source: src, Path: src.Locator, Sink: sink, Now: nowFunc, Prior: prior})
	return out, sink
}

var nowFunc = time.Now

func newGuardFor(allow ...string) (*browser.Guard, error) { return browser.NewGuard(allow, "") }
