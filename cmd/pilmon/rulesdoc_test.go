package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/rules"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/{zh,en}/rules.md from the catalogue")

// moduleRoot walks up from the test's working directory to go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// TestRulesDocUpToDate fails when the committed rule reference of the user guide no longer
// matches the catalogue. Regenerate with:
//
//	go run ./cmd/pilmon rules doc --lang zh > docs/zh/rules.md
//	go run ./cmd/pilmon rules doc --lang en > docs/en/rules.md
//
// or go test ./cmd/pilmon -run TestRulesDocUpToDate -update-docs.
func TestRulesDocUpToDate(t *testing.T) {
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	root := moduleRoot(t)
	for _, lang := range []string{"zh", "en"} {
		var want bytes.Buffer
		if err := writeRulesDoc(&want, cat, lang); err != nil {
			t.Fatal(err)
		}
		// every violation appears with its legal basis
		for _, v := range cat.Violations() {
			if !strings.Contains(want.String(), "## "+v.ID+"\n") {
				t.Errorf("%s: violation %s missing", lang, v.ID)
			}
		}
		path := filepath.Join(root, "docs", lang, "rules.md")
		if *updateDocs {
			if err := os.WriteFile(path, want.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (generate it: pilmon rules doc --lang %s > docs/%s/rules.md)", err, lang, lang)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("docs/%s/rules.md is stale: regenerate with `go run ./cmd/pilmon rules doc --lang %s > docs/%s/rules.md`", lang, lang, lang)
		}
	}
}

// The command writes exactly what the test compares against.
func TestRulesDocCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"rules", "doc", "--lang", "en"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "# Rule reference\n") || !strings.Contains(out.String(), "Art. 13") {
		t.Errorf("unexpected output: %.200s", out.String())
	}
	if code := run(context.Background(), []string{"rules", "doc", "--lang", "fr"}, strings.NewReader(""), &out, &errb); code != exitUsage {
		t.Errorf("--lang fr: exit %d, want %d", code, exitUsage)
	}
}
