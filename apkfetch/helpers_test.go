package apkfetch

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/apkinspect"
	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/samplegen/apkbuild"
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

// apkFixtures are small real APKs built once per test run with Debian's tools: v1 and v2 differ
// in version and permissions and share signer A; v2b is v2's code signed by B.
type apkFixtures struct {
	v1, v2, v2b []byte
}

var (
	fixturesOnce sync.Once
	fixtures     apkFixtures
	fixturesErr  error
)

const manifestTmpl = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="com.example.fetched" android:versionCode="%CODE%" android:versionName="%NAME%">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
    <uses-permission android:name="%PERM%"/>
    <application android:label="@string/app_name">
        <activity android:name=".Main"/>
    </application>
</manifest>`

const mainSmali = `.class public Lcom/example/fetched/Main;
.super Landroid/app/Activity;
.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/app/Activity;-><init>()V
    return-void
.end method
`

func buildFixtures(t *testing.T) apkFixtures {
	t.Helper()
	if err := apkbuild.Available(); err != nil {
		t.Skip(err)
	}
	fixturesOnce.Do(func() {
		dir, err := os.MkdirTemp("", "apkfetch-fixtures-")
		if err != nil {
			fixturesErr = err
			return
		}
		build := func(name, code, vname, perm string, key *apkbuild.Key) []byte {
			if fixturesErr != nil {
				return nil
			}
			sub := filepath.Join(dir, name)
			if fixturesErr = os.MkdirAll(sub, 0o755); fixturesErr != nil {
				return nil
			}
			m := strings.NewReplacer("%CODE%", code, "%NAME%", vname, "%PERM%", perm).Replace(manifestTmpl)
			var p string
			p, fixturesErr = apkbuild.Build(sub, apkbuild.Spec{Manifest: string(m),
				Res:   map[string]string{"values/strings.xml": `<?xml version="1.0" encoding="utf-8"?><resources><string name="app_name">取包示例</string></resources>`},
				Smali: map[string]string{"Main.smali": mainSmali}, Sign: key})
			if fixturesErr != nil {
				return nil
			}
			b, err := os.ReadFile(p)
			fixturesErr = err
			return b
		}
		keyDir := func(n string) string {
			d := filepath.Join(dir, n)
			_ = os.MkdirAll(d, 0o755)
			return d
		}
		a, err := apkbuild.NewKey(keyDir("keyA"), "/C=CN/O=Operator A (test)/CN=a")
		if err != nil {
			fixturesErr = err
			return
		}
		b, err := apkbuild.NewKey(keyDir("keyB"), "/C=CN/O=Someone else (test)/CN=b")
		if err != nil {
			fixturesErr = err
			return
		}
		fixtures.v1 = build("v1", "1", "1.0", "android.permission.READ_CONTACTS", a)
		fixtures.v2 = build("v2", "2", "2.0", "android.permission.CAMERA", a)
		fixtures.v2b = build("v2b", "2", "2.0", "android.permission.CAMERA", b)
	})
	if fixturesErr != nil {
		t.Fatal(fixturesErr)
	}
	return fixtures
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
