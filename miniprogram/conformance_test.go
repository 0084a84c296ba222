package miniprogram

import (
	"os"
	"path/filepath"
	"testing"

	"pilmon/scanner"
	"pilmon/scanner/scannertest"
)

// TestConformance runs the scanner core's contract on a package, a folder of packages with one
// corrupt member (partial: the good package is still read) and an unpacked source folder.
func TestConformance(t *testing.T) {
	plain, err := Pack(fixtureFiles())
	if err != nil {
		t.Fatal(err)
	}
	pkg := writeTemp(t, "__APP__.wxapkg", plain)
	pkgs := t.TempDir()
	os.WriteFile(filepath.Join(pkgs, "__APP__.wxapkg"), plain, 0o644)
	os.WriteFile(filepath.Join(pkgs, "_bad_.wxapkg"), []byte("not a package"), 0o644)
	src := t.TempDir()
	for _, f := range fixtureFiles() {
		p := filepath.Join(src, filepath.FromSlash(f.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, f.Data, 0o644)
	}
	scannertest.Conformance(t, New(catalogueForTest(t), Options{}), []scannertest.Input{
		{Source: scanner.Source{Kind: scanner.SourceWxapkg, Locator: pkg}, Want: []string{"mp.api_call"}},
		{Source: scanner.Source{Kind: scanner.SourceWxapkg, Locator: pkgs}, Partial: true, Want: []string{"mp.api_call"}},
		{Source: scanner.Source{Kind: scanner.SourceMPDir, Locator: src}, Want: []string{"mp.api_call"}},
	})
}
