package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"pilmon/apkinspect"
	"pilmon/internal/testapk"
	"pilmon/internal/testredis"
	"pilmon/scanner"
	"pilmon/store"
)

// TestScheduledAPKURLPicksUpNewVersion: a target watched at its download link on a short
// schedule picks up a version the operator publishes between two ticks, with the scans in
// between recording "unchanged". Loopback is allowed by PILMON_BROWSER_ALLOW, the setting an
// operator uses.
func TestScheduledAPKURLPicksUpNewVersion(t *testing.T) {
	if err := testapk.Available(); err != nil {
		t.Skip(err)
	}
	apks, err := testapk.Build()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	body, etag := apks.V1, `"1"`
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b, e := body, etag
		mu.Unlock()
		if r.Header.Get("If-None-Match") == e {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", e)
		w.Header().Set("Content-Type", apkinspect.MediaType)
		w.Write(b)
	}))
	defer ts.Close()
	pin := sha256.Sum256(ts.Certificate().Raw)

	t.Setenv("PILMON_BROWSER_ALLOW", "127.0.0.1/32")
	ctx := context.Background()
	e := newEnv(t, testredis.Server().Client())
	if _, err := e.deps.Targets.Put(ctx, scanner.Target{ID: "remote-app", Kind: scanner.TargetApp, Category: "ride_hailing",
		Schedule: "@every 2s", Sources: []scanner.Source{{Kind: "apk_url", Locator: ts.URL + "/app.apk",
			Options: map[string]string{"tls_cert_sha256": hex.EncodeToString(pin[:])}}}}); err != nil {
		t.Fatal(err)
	}
	sched, err := StartScheduler(ctx, e.deps, SchedulerOptions{LeaseTTL: 3 * time.Second, Tick: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer sched.Stop(ctx)
	pool, err := StartPool(ctx, e.deps, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Stop(ctx)

	versions := func() []store.PackageVersion {
		vs, err := e.deps.Store.Versions(ctx, "remote-app")
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	states := func() map[string]int {
		recs, _, err := e.deps.Store.ScansForTarget(ctx, "remote-app", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, r := range recs {
			for _, p := range r.Packages {
				out[p.State]++
			}
		}
		return out
	}
	waitFor(t, "the first version", func() bool { return len(versions()) == 1 })
	waitFor(t, "an unchanged check", func() bool { return states()[store.PackageUnchanged] >= 1 })
	mu.Lock()
	body, etag = apks.V2, `"2"`
	mu.Unlock()
	waitFor(t, "the version published between two ticks", func() bool { return len(versions()) == 2 })
	vs := versions()
	if vs[0].VersionName != "2.0" || vs[1].VersionName != "1.0" {
		t.Errorf("versions %+v", vs)
	}
	if s := states(); s[store.PackageFirst] != 1 || s[store.PackageNew] != 1 {
		t.Errorf("scan states %v", s)
	}
}
