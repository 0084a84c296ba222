package traffic

import (
	"testing"

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
