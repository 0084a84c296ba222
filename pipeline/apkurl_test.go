package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"pilmon/apkinspect"
	"pilmon/evidence"
	"pilmon/internal/testapk"
	"pilmon/internal/testredis"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// apkServer is an operator's download link: the current package with an ETag, 304 to a request
// that names it.
type apkServer struct {
	mu          sync.Mutex
	body        []byte
	etag        string
	conditional atomic.Int64
}

func (s *apkServer) publish(b []byte, etag string) {
	s.mu.Lock()
	s.body, s.etag = b, etag
	s.mu.Unlock()
}

func (s *apkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, etag := s.body, s.etag
	s.mu.Unlock()
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		s.conditional.Add(1)
		if inm == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", apkinspect.MediaType)
	w.Write(body)
}

func versionsRunner(t *testing.T) *Runner {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := evidence.Open(filepath.Join(t.TempDir(), "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	ins, closeFn, err := DefaultInspectors(cat, InspectorOptions{Tool: "pilmon test", BrowserAllow: []string{"127.0.0.1/32"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeFn() })
	st := store.NewStore(testredis.Server().Client(), fmt.Sprintf("pt%d:", seq.Add(1)))
	return &Runner{Catalogue: cat, Inspectors: ins, Evidence: ev, Store: st}
}

// TestAPKURLVersions: a target watched at its download link keeps the versions it saw. The
// first scan inspects the package; the second makes one conditional request, records
// "unchanged", inspects nothing and marks nothing "not re-observed"; a new version is inspected
// and its findings compared with the first version's scan; a version signed by another
// certificate is observed as apk.signer_changed.
func TestAPKURLVersions(t *testing.T) {
	if err := testapk.Available(); err != nil {
		t.Skip(err)
	}
	apks, err := testapk.Build()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv := &apkServer{}
	ts := httptest.NewTLSServer(srv)
	defer ts.Close()
	pin := sha256.Sum256(ts.Certificate().Raw)
	r := versionsRunner(t)
	src := scanner.Source{Kind: "apk_url", Locator: ts.URL + "/download/app.apk", Options: map[string]string{"tls_cert_sha256": hex.EncodeToString(pin[:])}}
	target := scanner.Target{ID: "app-remote", Kind: scanner.TargetApp, Name: "远程示例", Category: "ride_hailing", Sources: []scanner.Source{src}}
	scan := func(id string) Outcome {
		t.Helper()
		out, err := r.Execute(ctx, Request{Target: target, ScanID: id})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Record.Packages) != 1 {
			t.Fatalf("%s: packages %+v, runs %+v", id, out.Record.Packages, out.Record.Runs)
		}
		return out
	}
	versions := func() []store.PackageVersion {
		vs, err := r.Store.Versions(ctx, target.ID)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}

	srv.publish(apks.V1, `"1"`)
	s1 := scan("s1")
	if p := s1.Record.Packages[0]; p.State != store.PackageFirst || p.VersionName != "1.0" || !s1.Record.Complete || len(s1.Record.Fingerprints) == 0 {
		t.Fatalf("first scan: %+v complete=%v findings=%d", p, s1.Record.Complete, len(s1.Record.Fingerprints))
	}

	s2 := scan("s2")
	p := s2.Record.Packages[0]
	if p.State != store.PackageUnchanged || srv.conditional.Load() != 1 || s2.Record.Runs[0].Status != scanner.StatusUnchanged {
		t.Fatalf("second scan: %+v, %d conditional requests, run %+v", p, srv.conditional.Load(), s2.Record.Runs[0])
	}
	if s2.Record.Complete || s2.Record.MarkedNotReobserved != 0 || s2.Record.Status != scanner.StatusSucceeded {
		t.Errorf("unchanged scan: complete=%v marked=%d status=%s", s2.Record.Complete, s2.Record.MarkedNotReobserved, s2.Record.Status)
	}
	for _, o := range s2.Result.Observations() {
		if o.Inspector == apkinspect.Name {
			t.Fatalf("the unchanged package was inspected again: %s", o.Kind)
		}
	}
	if vs := versions(); len(vs) != 1 || vs[0].Checks != 2 || vs[0].ScanID != "s1" || !vs[0].LastSeen.After(vs[0].FirstSeen) ||
		vs[0].LastProvenance == vs[0].Provenance {
		t.Fatalf("versions after an unchanged check: %+v", vs)
	}

	srv.publish(apks.V2, `"2"`)
	s3 := scan("s3")
	p = s3.Record.Packages[0]
	if p.State != store.PackageNew || p.VersionName != "2.0" || p.PreviousScan != "s1" || p.SignerChanged || p.Diff == nil {
		t.Fatalf("new version: %+v", p)
	}
	want := store.DiffScanRecords(s1.Record, s3.Record)
	if fmt.Sprint(*p.Diff) != fmt.Sprint(want) || len(p.Diff.New)+len(p.Diff.Gone) == 0 {
		t.Errorf("diff %+v, want %+v (READ_CONTACTS gone, CAMERA new)", *p.Diff, want)
	}
	if vs := versions(); len(vs) != 2 || vs[0].VersionName != "2.0" || vs[1].VersionName != "1.0" || vs[0].SignerSHA256 != vs[1].SignerSHA256 {
		t.Fatalf("versions, newest first: %+v", vs)
	}

	srv.publish(apks.V2B, `"2b"`)
	s4 := scan("s4")
	if p := s4.Record.Packages[0]; p.State != store.PackageNew || !p.SignerChanged {
		t.Fatalf("re-signed version: %+v", p)
	}
	found := false
	for _, o := range s4.Result.Observations() {
		found = found || o.Kind == "apk.signer_changed"
	}
	if !found {
		t.Error("no apk.signer_changed observation")
	}
	if vs := versions(); len(vs) != 3 || vs[0].SignerSHA256 == vs[1].SignerSHA256 {
		t.Fatalf("versions after the signer change: %+v", vs)
	}
}
