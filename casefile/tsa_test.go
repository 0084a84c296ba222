package casefile

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// localTSA is an RFC 3161 time-stamping authority built on `openssl ts -reply` behind an
// httptest server, with its own CA.
type localTSA struct {
	url   string
	roots *x509.CertPool
	caPEM string
}

func startTSA(t *testing.T) *localTSA {
	t.Helper()
	openssl := needTool(t, "openssl", "openssl")
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(openssl, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
		"-subj", "/CN=pilmon test CA", "-days", "3650", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
	run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr", "-subj", "/CN=pilmon test TSA")
	write("tsa-ext.cnf", "extendedKeyUsage=critical,timeStamping\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n")
	run("x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "tsa.crt", "-days", "3650", "-extfile", "tsa-ext.cnf")
	write("serial", "01\n")
	write("tsa.cnf", `[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = `+dir+`
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
certs = $dir/ca.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
`)
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	var mu sync.Mutex // openssl ts keeps its serial in a file
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
			http.Error(w, "want a POSTed timestamp query", http.StatusBadRequest)
			return
		}
		q, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		os.WriteFile(filepath.Join(dir, "q.tsq"), q, 0o600)
		cmd := exec.Command(openssl, "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq", "-out", "r.tsr")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			http.Error(w, string(out), http.StatusInternalServerError)
			return
		}
		resp, _ := os.ReadFile(filepath.Join(dir, "r.tsr"))
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return &localTSA{url: srv.URL, roots: roots, caPEM: filepath.Join(dir, "ca.crt")}
}

func TestTimestamp(t *testing.T) {
	tsa := startTSA(t)
	fx := newFixture(t)
	d := fx.deps(true)
	d.TSAURL = tsa.url
	var buf bytes.Buffer
	sum, err := Export(context.Background(), &buf, Selection{TargetID: "app-demo"}, d)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Timestamped || sum.TimestampTime.IsZero() {
		t.Fatalf("summary %+v", sum)
	}
	bundle := buf.Bytes()
	pub := testKey().Public().(ed25519.PublicKey)
	rep := verifyBytes(t, bundle, VerifyOptions{PublicKey: pub, TSARoots: tsa.roots})
	if !rep.OK || rep.Timestamp == nil || !rep.Timestamp.ChainVerified || !strings.Contains(rep.Timestamp.Signer, "pilmon test TSA") {
		t.Fatalf("verify: %+v\n%s", rep.Timestamp, rep)
	}
	if !rep.Timestamp.GenTime.Equal(sum.TimestampTime) || rep.Timestamp.Policy != "1.2.3.4.1" {
		t.Errorf("timestamp %+v, export said %v", rep.Timestamp, sum.TimestampTime)
	}
	if *update {
		// Keep a real openssl reply as a seed of FuzzVerifyTimestamp.
		seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", member(t, bundle, TimestampName))
		os.MkdirAll(filepath.Join("testdata", "fuzz", "FuzzVerifyTimestamp"), 0o755)
		os.WriteFile(filepath.Join("testdata", "fuzz", "FuzzVerifyTimestamp", "openssl-reply"), []byte(seed), 0o644)
	}
	// openssl, the oracle, agrees that the token covers manifest.json.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), member(t, bundle, ManifestName), 0o644)
	os.WriteFile(filepath.Join(dir, "timestamp.tsr"), member(t, bundle, TimestampName), 0o644)
	cmd := exec.Command("openssl", "ts", "-verify", "-in", "timestamp.tsr", "-data", "manifest.json", "-CAfile", tsa.caPEM)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Verification: OK") {
		t.Fatalf("openssl ts -verify: %v\n%s", err, out)
	}
	// The manifest's own signature, checked with openssl as VERIFY.txt tells a court's expert to.
	os.WriteFile(filepath.Join(dir, "signature.ed25519"), member(t, bundle, SignatureName), 0o644)
	os.WriteFile(filepath.Join(dir, "publickey.pem"), member(t, bundle, PublicKeyName), 0o644)
	cmd = exec.Command("openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "publickey.pem", "-rawin", "-in", "manifest.json", "-sigfile", "signature.ed25519")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "Signature Verified Successfully") {
		t.Fatalf("openssl pkeyutl -verify: %v\n%s", err, out)
	}

	// A token over another manifest, or a changed token, is named.
	other := rewrite(t, bundle, func(name string, data []byte) ([]byte, bool) {
		if name == TimestampName {
			data = bytes.Clone(data)
			data[len(data)-40] ^= 1
		}
		return data, false
	}, nil)
	found := false
	for _, p := range verifyBytes(t, other, VerifyOptions{PublicKey: pub, TSARoots: tsa.roots}).Problems {
		found = found || (p.Kind == ProblemTimestamp && p.Path == TimestampName)
	}
	if !found {
		t.Error("an altered timestamp token verified")
	}
	// Without the TSA's CA the token is still checked, but its chain is not.
	if rep := verifyBytes(t, bundle, VerifyOptions{PublicKey: pub}); !rep.OK || rep.Timestamp.ChainVerified {
		t.Errorf("without roots: %+v", rep.Timestamp)
	}
	// Another CA does not vouch for this TSA.
	if rep := verifyBytes(t, bundle, VerifyOptions{PublicKey: pub, TSARoots: x509.NewCertPool()}); rep.OK {
		t.Error("token verified against an empty root pool")
	}
}

func TestTimestampFailures(t *testing.T) {
	fx := newFixture(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write([]byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02}) // PKIStatus rejection, no token
	}))
	defer srv.Close()
	d := fx.deps(true)
	d.TSAURL = srv.URL
	if _, err := Export(context.Background(), &bytes.Buffer{}, Selection{TargetID: "app-demo"}, d); err == nil || !strings.Contains(err.Error(), "PKIStatus 2") {
		t.Errorf("rejected timestamp: %v", err)
	}
}
