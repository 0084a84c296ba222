package policies

import (
	"testing"

	"pilmon/scanner"
	"pilmon/scanner/scannertest"
)

// TestConformance runs the scanner core's contract on policy files (URLs need a browser and are
// covered by browser_test.go).
func TestConformance(t *testing.T) {
	scannertest.Conformance(t, New(fixedCatalogue{}, nil, Options{}), []scannertest.Input{
		{Source: scanner.Source{Kind: scanner.SourcePolicyFile, Locator: "testdata/zh_policy.html"}, Want: []string{"policy.document", "policy.element"}},
		{Source: scanner.Source{Kind: scanner.SourcePolicyFile, Locator: "testdata/en_policy.md"}, Want: []string{"policy.document"}},
	})
}
