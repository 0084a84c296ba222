package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/internal/testredis"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// TestDataDirModes: a data dir left by an older pilmon (0755 directories, 0444 evidence, a 0644
// upload) is made private by the next command, which says so in its log; the case file it exports
// is readable by its owner only; and a private key others could read is still refused, not
// silently tightened.
func TestDataDirModes(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	srv := testredis.Start(t, filepath.Join(t.TempDir(), "redis-test"))
	ev, err := evidence.Open(filepath.Join(dataDir, "evidence"), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ev.Put(strings.NewReader("IMEI 861234567890123"), evidence.Meta{Method: "http_fetch", Source: "https://example.cn/c", MediaType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	upload := filepath.Join(dataDir, "import", "uploads", ref.SHA256+".apk")
	if err := os.MkdirAll(filepath.Dir(upload), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(upload, []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
	// What an older pilmon left: everything readable by every local account.
	filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		} else if err == nil && strings.Contains(p, "sha256") {
			os.Chmod(p, 0o444)
		}
		return nil
	})
	st := store.NewStore(srv.Client(), store.DefaultPrefix)
	f := findings.Finding{Fingerprint: findings.Fingerprint("t1", "rdff-3.1", "a.example"), TargetID: "t1", RuleID: "rdff-3.1",
		RuleVersion: 1, Subject: "a.example", Severity: "high", LegalBasis: []rules.Citation{{Instrument: "pipl", Article: "13"}},
		Summary:      rules.Text{ZH: "同意前发送设备标识", EN: "device id before consent"},
		Observations: []scanner.Observation{{Kind: "traffic.pi_sent", Subject: "a.example", EvidenceRefs: []string{ref.SHA256}, Inspector: "traffic", InspectorVersion: "1"}},
		EvidenceRefs: []string{ref.SHA256}, FirstSeen: time.Now(), LastSeen: time.Now()}
	if _, err := st.Upsert(ctx, f, "scan-1"); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "case.zip")
	code, stdout, stderr := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--out", out, "--no-pdf", "--include-untriaged")
	if code != exitOK {
		t.Fatalf("export: %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "took group and other permissions off data dir entries") {
		t.Errorf("the log does not say modes were tightened:\n%s", stderr)
	}
	err = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v after export, want no group or other permissions", p, fi.Mode().Perm())
		}
		if fi.IsDir() && fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: directory mode %v, want 0700", p, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := ev.Path(ref.SHA256)
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{{dataDir, 0o700}, {blob, 0o400}, {blob + ".json", 0o400}, {upload, 0o600},
		{filepath.Join(dataDir, "keys", "casefile-ed25519.pem"), 0o600}, {out, 0o600}} {
		if fi, err := os.Stat(c.path); err != nil || fi.Mode().Perm() != c.want {
			t.Errorf("%s: %v %v, want mode %v", c.path, fi.Mode().Perm(), err, c.want)
		}
	}
	if code, stdout, stderr := runCLI(t, "verify", out, "--pubkey", filepath.Join(dataDir, "keys", "casefile-ed25519.pub.pem")); code != exitOK {
		t.Fatalf("verify: %d\n%s%s", code, stdout, stderr)
	}

	// A private key that others could read is refused, as before: it may have been copied.
	key := filepath.Join(dataDir, "keys", "casefile-ed25519.pem")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--out", out, "--no-pdf")
	if code == exitOK || !strings.Contains(stdout+stderr, "chmod 600") {
		t.Errorf("export with a 0644 private key: %d\n%s%s", code, stdout, stderr)
	}
}

// TestEditedSidecarRefusesExport: the capture record of an exported artifact is edited on disk and
// resealed the way anyone can (the unkeyed SHA-256 seal); the next export is refused with an error
// naming the sidecar file, and the case file exported before still verifies.
func TestEditedSidecarRefusesExport(t *testing.T) {
	ctx := context.Background()
	dataDir := filepath.Join(t.TempDir(), "data")
	srv := testredis.Start(t, filepath.Join(t.TempDir(), "redis-test"))
	ev, err := evidence.Open(filepath.Join(dataDir, "evidence"), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ev.Put(strings.NewReader("IMEI 861234567890123"), evidence.Meta{Method: "http_fetch", Source: "https://example.cn/c", MediaType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewStore(srv.Client(), store.DefaultPrefix)
	f := findings.Finding{Fingerprint: findings.Fingerprint("t1", "rdff-3.1", "a.example"), TargetID: "t1", RuleID: "rdff-3.1",
		RuleVersion: 1, Subject: "a.example", Severity: "high", LegalBasis: []rules.Citation{{Instrument: "pipl", Article: "13"}},
		Summary:      rules.Text{ZH: "同意前发送设备标识", EN: "device id before consent"},
		EvidenceRefs: []string{ref.SHA256}, FirstSeen: time.Now(), LastSeen: time.Now()}
	if _, err := st.Upsert(ctx, f, "scan-1"); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(t.TempDir(), "first.zip")
	code, stdout, stderr := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--include-untriaged", "--out", first, "--no-pdf")
	if code != exitOK {
		t.Fatalf("export: %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "sealed the existing evidence records with the new seal key") {
		t.Errorf("the first command does not log that it sealed the existing records:\n%s", stderr)
	}

	// Edit the capture record: another source, resealed with the SHA-256 anyone can compute.
	blob, _ := ev.Path(ref.SHA256)
	sidecar := blob + ".json"
	orig, err := os.ReadFile(sidecar)
	if err != nil {
		t.Fatal(err)
	}
	edited := bytes.Replace(orig, []byte("https://example.cn/c"), []byte("https://example.cn/d"), 1)
	var compact bytes.Buffer
	if err := json.Compact(&compact, edited); err != nil {
		t.Fatal(err)
	}
	body := regexp.MustCompile(`,"seal":"[^"]*"}$`).ReplaceAll(compact.Bytes(), []byte("}"))
	sum := sha256.Sum256(body)
	edited = regexp.MustCompile(`"seal": "[^"]*"`).ReplaceAll(edited, []byte(`"seal": "`+hex.EncodeToString(sum[:])+`"`))
	if err := os.WriteFile(sidecar+".tmp", edited, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(sidecar+".tmp", sidecar); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "second.zip")
	code, stdout, stderr = runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--include-untriaged", "--out", second, "--no-pdf")
	if code == exitOK || !strings.Contains(stdout+stderr, sidecar) || !strings.Contains(stdout+stderr, "封存校验失败") {
		t.Fatalf("export after the sidecar was edited: %d, want a refusal naming %s\n%s%s", code, sidecar, stdout, stderr)
	}
	if _, err := os.Stat(second); err == nil {
		t.Error("a refused export left a case file")
	}
	pub := filepath.Join(dataDir, "keys", "casefile-ed25519.pub.pem")
	if code, stdout, stderr := runCLI(t, "verify", first, "--pubkey", pub); code != exitOK || !strings.Contains(stdout, "verification OK") {
		t.Fatalf("verify of the earlier case file: %d\n%s%s", code, stdout, stderr)
	}
}
