package evidence

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testSealKey(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

// forge replaces h's sidecar with data, as someone with write access to the evidence folder could.
func forge(t *testing.T, s *Store, h string, data []byte) {
	t.Helper()
	p := s.sidecarPath(h)
	tmp := p + ".forged"
	if err := os.WriteFile(tmp, data, 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestKeyedSealDetectsEditedSidecar: a sidecar edited on disk and resealed by the editor (the
// unkeyed seal anyone can recompute, or a keyed seal under a key of their own) is refused on read
// with an error naming the file, when the store has a seal key. A store without a key cannot tell:
// that is why every pilmon command opens the store with one.
func TestKeyedSealDetectsEditedSidecar(t *testing.T) {
	s := newStore(t, Options{SealKey: testSealKey(1)})
	ref, err := s.Put(strings.NewReader("policy page"), Meta{Method: "http_fetch", Source: "https://example.cn/privacy", MediaType: "text/html"})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Stat(ref.SHA256)
	if err != nil {
		t.Fatalf("fresh keyed sidecar: %v", err)
	}
	edited := rec
	edited.Captures = []Capture{rec.Captures[0]}
	edited.Captures[0].Source = "https://example.cn/privacy-v2"
	edited.Captures[0].CapturedAt = edited.Captures[0].CapturedAt.Add(-48 * 3600e9)
	unkeyed, err := encodeSidecar(edited)
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := encodeSidecarWith(edited, testSealKey(2))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"unkeyed seal": unkeyed, "another key's seal": otherKey} {
		forge(t, s, ref.SHA256, data)
		_, err := s.Stat(ref.SHA256)
		if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), s.sidecarPath(ref.SHA256)) || !strings.Contains(err.Error(), "封存校验失败") {
			t.Errorf("%s: Stat = %v, want ErrTampered naming %s", name, err, s.sidecarPath(ref.SHA256))
		}
		if err := s.List(context.Background(), func(Record) error { return nil }); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: List = %v, want the record reported", name, err)
		}
		if _, err := s.Put(strings.NewReader("policy page"), Meta{Method: "http_fetch", Source: "again"}); !errors.Is(err, ErrTampered) {
			t.Errorf("%s: a second capture attached itself to the edited sidecar: %v", name, err)
		}
	}
	// The same edit in a store without a key passes: the unkeyed seal proves nothing.
	plain := newStore(t, Options{})
	ref2, err := plain.Put(strings.NewReader("policy page"), Meta{Method: "http_fetch", Source: "https://example.cn/privacy", MediaType: "text/html"})
	if err != nil {
		t.Fatal(err)
	}
	forge(t, plain, ref2.SHA256, unkeyed)
	if got, err := plain.Stat(ref2.SHA256); err != nil || got.Captures[0].Source != "https://example.cn/privacy-v2" {
		t.Fatalf("keyless store: %+v %v", got, err)
	}
}

// TestResealAdoptsUnkeyedSidecars: a store written without a key and reopened with one refuses
// its sidecars until Reseal, which seals each once; captures after that carry the keyed seal; a
// different key is refused by id.
func TestResealAdoptsUnkeyedSidecars(t *testing.T) {
	dir := t.TempDir()
	old, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var hs []string
	for _, b := range []string{"one", "two"} {
		ref, err := old.Put(strings.NewReader(b), Meta{Method: "file_import", Source: b})
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, ref.SHA256)
	}
	s, err := Open(dir, Options{SealKey: testSealKey(1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(hs[0]); !errors.Is(err, ErrTampered) {
		t.Fatalf("unkeyed sidecar read with a key: %v, want ErrTampered", err)
	}
	if n, err := s.Reseal(context.Background()); err != nil || n != 2 {
		t.Fatalf("Reseal: %d %v, want 2", n, err)
	}
	if n, err := s.Reseal(context.Background()); err != nil || n != 0 {
		t.Fatalf("second Reseal: %d %v, want 0", n, err)
	}
	for _, h := range hs {
		if _, err := s.Stat(h); err != nil {
			t.Fatalf("after Reseal: %v", err)
		}
	}
	if _, err := s.Put(strings.NewReader("one"), Meta{Method: "file_import", Source: "again"}); err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Stat(hs[0]); err != nil || len(rec.Captures) != 2 {
		t.Fatalf("second capture: %+v %v", rec, err)
	}
	other, err := Open(dir, Options{SealKey: testSealKey(2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Stat(hs[0]); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), SealKeyID(testSealKey(1))) {
		t.Fatalf("read with another key: %v, want the sealing key's id named", err)
	}
	// Reseal with another key leaves them alone and says so in one error.
	if n, err := other.Reseal(context.Background()); n != 0 || err == nil || !strings.Contains(err.Error(), "2 sidecars are sealed with another key") {
		t.Fatalf("Reseal with another key: %d %v", n, err)
	}
	if _, err := s.Stat(hs[0]); err != nil {
		t.Fatalf("after another key's Reseal: %v", err)
	}
	if _, err := Open(dir, Options{SealKey: []byte("short")}); err == nil {
		t.Fatal("a 5-byte seal key was accepted")
	}
}

func TestLoadOrCreateSealKey(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys", "evidence-seal.key")
	k1, created, err := LoadOrCreateSealKey(p)
	if err != nil || !created || len(k1) != 32 {
		t.Fatalf("create: %d bytes, created %v, %v", len(k1), created, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k2, created, err := LoadOrCreateSealKey(p)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: created %v, %v, same %v", created, err, bytes.Equal(k1, k2))
	}
	os.Chmod(p, 0o644)
	if _, _, err := LoadOrCreateSealKey(p); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a key others can read: %v", err)
	}
	os.Chmod(p, 0o600)
	os.WriteFile(p, []byte("zz"), 0o600)
	if _, _, err := LoadOrCreateSealKey(p); err == nil {
		t.Fatal("a malformed key file was accepted")
	}
}
