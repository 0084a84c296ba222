package traffic

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"pilmon/internal/corpus"

	"pilmon/rules"
)

func testCatalogue(t testing.TB) *rules.Catalogue {
	t.Helper()
	c, err := rules.Default()
	if err != nil {
		t.Fatalf("rules.Default: %v", err)
	}
	return c
}

func newTestAnalyzer(t testing.TB, opts Options) *Analyzer {
	return NewAnalyzer(testCatalogue(t), opts)
}

// corpusHARs lists the shared corpus HAR files (none when the corpus is absent).
func corpusHARs(t testing.TB) []string {
	s := corpus.SharedDir()
	if s == "" {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(s, "corpus", "har", "*.har"))
	return m
}

// readFile streams a HAR file into an analyzer.
func readFile(t testing.TB, path string, a *Analyzer) (*Info, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return ReadHAR(f, Limits{}, func(e *Entry) error { a.Add(e); return nil })
}

func writeFile(t testing.TB, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustRegexp(s string) *regexp.Regexp { return regexp.MustCompile(s) }
