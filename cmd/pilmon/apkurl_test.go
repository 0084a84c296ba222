package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/apkinspect"
	"pilmon/internal/testapk"
	"pilmon/internal/testredis"
	"pilmon/scanner"
	"pilmon/store"
)

// TestScanAPKURL: pilmon scan --json --apk-url fetches a remote app once without a target: the
// report has the apk.provenance observation, whose evidence is the sealed download record, and
// the APK's observations as for a local file; with --store, pilmon target versions lists the
// version, and a second scan finds it unchanged.
func TestScanAPKURL(t *testing.T) {
	cleanEnv(t)
	if err := testapk.Available(); err != nil {
		t.Skip(err)
	}
	apks, err := testapk.Build()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"1"`)
		w.Header().Set("Content-Type", apkinspect.MediaType)
		w.Write(apks.V1)
	}))
	defer ts.Close()
	sum := sha256.Sum256(ts.Certificate().Raw)
	pin := "tls_cert_sha256=" + hex.EncodeToString(sum[:])
	data := t.TempDir()
	url := ts.URL + "/app.apk"

	// Loopback is refused unless the operator allows it.
	t.Setenv("PILMON_BROWSER_ALLOW", "")
	_, out, errs := runCLI(t, "scan", "--json", "--apk-url", url, "--opt", pin, "--data-dir", data)
	if !strings.Contains(out+errs, "SSRF") || strings.Contains(out, `"apk.identity"`) {
		t.Fatalf("loopback download without the allow setting: %s %s", out, errs)
	}

	t.Setenv("PILMON_BROWSER_ALLOW", "127.0.0.1/32")
	code, out, errs := runCLI(t, "scan", "--json", "--apk-url", url, "--opt", pin, "--data-dir", data)
	if code != exitOK {
		t.Fatalf("scan --apk-url: %d %s", code, errs)
	}
	var rep struct {
		Observations []scanner.Observation `json:"observations"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var prov *scanner.Observation
	identity := false
	for i, o := range rep.Observations {
		switch o.Kind {
		case "apk.provenance":
			prov = &rep.Observations[i]
		case "apk.identity":
			identity = o.Subject == testapk.Package
		}
	}
	if prov == nil || !identity {
		t.Fatalf("observations lack apk.provenance or apk.identity: %s", out)
	}
	for _, a := range []string{"url", "final_url", "redirects", "address", "tls_chain", "headers", "fetched_at"} {
		if _, ok := prov.Attributes[a]; !ok {
			t.Errorf("apk.provenance lacks %s: %v", a, prov.Attributes)
		}
	}
	// The first evidence of the provenance is the sealed record in the data dir's store.
	recPath := filepath.Join(data, "evidence", "sha256", prov.EvidenceRefs[0][:2], prov.EvidenceRefs[0][2:])
	b, err := os.ReadFile(recPath)
	if err != nil || !strings.Contains(string(b), `"final_url": "`+url+`"`) {
		t.Fatalf("provenance record %s: %v\n%s", recPath, err, b)
	}
	if side, err := os.ReadFile(recPath + ".json"); err != nil || !strings.Contains(string(side), `"seal": "hmac-sha256:`) {
		t.Errorf("provenance record not sealed: %v %s", err, side)
	}

	// Stored under a target id: versions are kept and listed.
	srv := testredis.Start(t, filepath.Join(data, "redis"))
	common := []string{"--redis", srv.URL(), "--data-dir", data}
	for range 2 {
		if code, _, errs := runCLI(t, append([]string{"scan", "--store", "--json", "--target-id", "app:remote", "--apk-url", url, "--opt", pin}, common...)...); code != exitOK {
			t.Fatalf("scan --store: %d %s", code, errs)
		}
	}
	code, out, errs = runCLI(t, append([]string{"target", "versions", "app:remote", "--json"}, common...)...)
	var vs []map[string]any
	if code != exitOK || json.Unmarshal([]byte(out), &vs) != nil || len(vs) != 1 {
		t.Fatalf("target versions: %d %s %s", code, out, errs)
	}
	for _, k := range []string{"version_name", "version_code", "sha256", "signer_sha256", "first_seen", "last_seen", "provenance"} {
		if _, ok := vs[0][k]; !ok {
			t.Errorf("version lacks %s: %v", k, vs[0])
		}
	}
	if vs[0]["version_name"] != "1.0" || vs[0]["checks"] != float64(2) {
		t.Errorf("version %v", vs[0])
	}
	st := store.NewStore(srv.Client(), store.DefaultPrefix)
	recs, _, err := st.ScansForTarget(t.Context(), "app:remote", 0, 2)
	if err != nil || len(recs) != 2 || recs[0].Packages[0].State != store.PackageUnchanged || recs[1].Packages[0].State != store.PackageFirst {
		t.Fatalf("scan records %+v %v", recs, err)
	}
	if code, _, _ := runCLI(t, append([]string{"target", "versions", "nobody"}, common...)...); code == exitOK {
		t.Error("versions of an unknown target succeeded")
	}
}
