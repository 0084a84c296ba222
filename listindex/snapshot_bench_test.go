package listindex

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkSnapshotApply measures the next snapshot after a triage step, and after a re-scan of
// 1, 100 or 1,000 findings (new last-seen
// times: each moves in the default and last-seen orders) among 100,000, against building all
// 100,000 at once (what every change cost before snapshots were made incrementally).
func BenchmarkSnapshotApply(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	entries := randomEntries(r, 100000)
	all := map[string]*Entry{}
	for _, e := range entries {
		all[e.fp] = e
	}
	b.Run("build 100000", func(b *testing.B) {
		for b.Loop() {
			(&Snapshot{}).apply(all, newSlotTable())
		}
	})
	slots := newSlotTable()
	sn := (&Snapshot{}).apply(all, slots)
	b.Run("apply 1 state change", func(b *testing.B) {
		for b.Loop() {
			c := *entries[r.IntN(len(entries))]
			c.state = "in_review"
			sn = sn.apply(map[string]*Entry{c.fp: &c}, slots)
		}
	})
	for _, size := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("apply %d changes", size), func(b *testing.B) {
			for b.Loop() {
				batch := map[string]*Entry{}
				for range size {
					c := *entries[r.IntN(len(entries))]
					c.last += 86_400_000
					c.score += 86_400_000
					batch[c.fp] = &c
				}
				sn = sn.apply(batch, slots)
			}
		})
	}
}
