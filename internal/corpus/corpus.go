// Package corpus locates ../shared, the reference data and real-world samples that sit beside
// a checkout in CI and on developers' machines but are never part of the project. Tests that use
// them skip with a clear message when they are absent.
package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns $PILMON_SHARED, else the "shared" folder beside the module root (found by
// walking up from the working directory to go.mod), or "" when there is none.
func SharedDir() string {
	if d := os.Getenv("PILMON_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(d), "shared")
			if st, err := os.Stat(s); err == nil && st.IsDir() {
				return s
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// Path returns SharedDir joined with parts, or skips the test naming what is missing.
func Path(t testing.TB, parts ...string) string {
	t.Helper()
	s := SharedDir()
	if s == "" {
		t.Skip("../shared is absent (set PILMON_SHARED to the reference/corpus folder to run this test)")
	}
	p := filepath.Join(append([]string{s}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is absent in ../shared: %v", filepath.Join(parts...), err)
	}
	return p
}
