package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"pilmon/scanner"
)

// BenchmarkRunPolicyScan is one whole scan of a generated policy file: inspection, assessment,
// upserts, marking and the record, with events, against the test redis-server.
func BenchmarkRunPolicyScan(b *testing.B) {
	r, dir := newRunnerB(b)
	p := filepath.Join(dir, "policy.txt")
	writeFileB(b, p, policyText)
	target := scanner.Target{ID: "bench", Kind: scanner.TargetApp, Name: "bench", Category: "ride_hailing",
		Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: p}}}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := r.Run(context.Background(), target, fmt.Sprint("s", i), nil); err != nil {
			b.Fatal(err)
		}
	}
}
