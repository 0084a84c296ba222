package traffic

import (
	"os"
	"path/filepath"
	"testing"

	"pilmon/scanner"
	"pilmon/scanner/scannertest"
)

// TestConformance runs the scanner core's contract on HAR files; the consent fixture has one
// malformed entry, so its report is partial and keeps what the other entries showed.
func TestConformance(t *testing.T) {
	clean := filepath.Join(t.TempDir(), "clean.har")
	har := `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[` +
		`{"startedDateTime":"2024-05-01T10:00:00Z","request":{"method":"GET","url":"https://x.example/?imei=358240051111110","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}}]}}`
	if err := os.WriteFile(clean, []byte(har), 0o644); err != nil {
		t.Fatal(err)
	}
	scannertest.Conformance(t, New(testCatalogue(t), Options{}), []scannertest.Input{
		{Source: scanner.Source{Kind: scanner.SourceHAR, Locator: clean}},
		{Source: scanner.Source{Kind: scanner.SourceHAR, Locator: "testdata/consent.har",
			Options: map[string]string{"device_values": "testdata/device_values.example.yaml"}}, Partial: true},
	})
}
