package evidence

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModesAfterCapture: after two captures (a new blob, then a second capture of it, which
// rewrites the sidecar) nothing in the store is readable, writable or listable by group or others:
// directories 0700, blobs and sidecars 0400, lock files 0600.
func TestModesAfterCapture(t *testing.T) {
	s := newStore(t, Options{})
	for range 2 {
		if _, err := s.Put(strings.NewReader("个人信息 evidence"), Meta{Method: "file_import", Source: "a.txt"}); err != nil {
			t.Fatal(err)
		}
	}
	checkModes(t, s.Dir())
}

func checkModes(t *testing.T, root string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		n++
		var want fs.FileMode
		switch rel, _ := filepath.Rel(root, p); {
		case fi.IsDir():
			want = 0o700
		case strings.HasPrefix(rel, "locks"+string(filepath.Separator)):
			want = 0o600
		default:
			want = 0o400
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 7 { // root, sha256, its prefix dir, blob, sidecar, tmp, locks
		t.Fatalf("walked only %d entries", n)
	}
}
