package store

import (
	"context"
	"fmt"
	"testing"

	"pilmon/findings"
)

// BenchmarkUpsert measures upserts of distinct findings against the test's real redis-server:
// one at a time, and pipelined in batches of 100 (go test ./findings -run '^$' -bench Upsert).
func BenchmarkUpsert(b *testing.B) {
	ctx := context.Background()
	b.Run("single", func(b *testing.B) {
		s := newTestStore(b)
		for i := 0; b.Loop(); i++ {
			if _, err := s.Upsert(ctx, sampleFinding("t", "r", fmt.Sprint(i)), "scan-1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("batch100", func(b *testing.B) {
		s := newTestStore(b)
		batch := make([]findings.Finding, 100)
		n := 0
		for b.Loop() {
			for j := range batch {
				batch[j] = sampleFinding("t", "r", fmt.Sprint(n))
				n++
			}
			if _, err := s.UpsertBatch(ctx, batch, "scan-1"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "upserts/s")
	})
}

// BenchmarkPrepareUpsert is the client-side share of an upsert: validation and canonical JSON.
func BenchmarkPrepareUpsert(b *testing.B) {
	s := NewStore(nil, "")
	f := sampleFinding("t", "r", "s")
	for b.Loop() {
		if _, err := s.prepareUpsert(f, "scan-1", t0); err != nil {
			b.Fatal(err)
		}
	}
}
