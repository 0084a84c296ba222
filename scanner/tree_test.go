package scanner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A source folder is read without following symlinks, with per-file and file-count bounds.
func TestFolderWalkBounds(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.js"), []byte("wx.getLocation()"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.json"), []byte(`{"pages":["a"]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "big.js"), make([]byte, 2000), 0o644)
	for i := range 5 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.js", i)), []byte("wx.login()"), 0o644)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.js"), filepath.Join(dir, "s.js")); err != nil {
		t.Fatal(err)
	}
	files, problems, err := ReadTree(context.Background(), dir, TreeSpec{MaxFileBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	joined := fmt.Sprint(problems)
	for _, want := range []string{"big.js", "link: symlink not followed", "s.js: symlink not followed"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no problem mentioning %q: %v", want, problems)
		}
	}
	for _, f := range files {
		if strings.Contains(f.Name, "secret") || strings.HasPrefix(f.Name, "link") || f.Name == "s.js" {
			t.Errorf("read through a symlink: %s", f.Name)
		}
	}
	if len(files) != 6 {
		t.Errorf("%d files read, want 6", len(files))
	}
	files, problems, _ = ReadTree(context.Background(), dir, TreeSpec{MaxFiles: 4})
	if len(files) != 4 || !strings.Contains(fmt.Sprint(problems), "more than 4 files") {
		t.Errorf("file bound: %d files, %v", len(files), problems)
	}
}
