package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"pilmon/findings"
)

// Every kind of write appears in the change feed with the fingerprints it changed, numbered without
// gaps; a write that changes nothing appears nowhere.
func TestChangeFeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	head, err := s.ChangesHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != 0 || head.ID != "0-0" {
		t.Fatalf("empty feed head = %+v", head)
	}
	a, b := sampleFinding("t1", "r", "a.example"), sampleFinding("t1", "r", "b.example")
	res, err := s.UpsertBatch(ctx, []findings.Finding{a, b}, "scan-1")
	if err != nil {
		t.Fatal(err)
	}
	fpA, fpB := res[0].Fingerprint, res[1].Fingerprint
	// A re-delivery of the same batch changes nothing.
	if _, err := s.UpsertBatch(ctx, []findings.Finding{a, b}, "scan-1"); err != nil {
		t.Fatal(err)
	}
	// A re-scan that sees only a, later.
	a2 := a
	a2.LastSeen = a.LastSeen.Add(time.Hour)
	if _, err := s.UpsertBatch(ctx, []findings.Finding{a2}, "scan-2"); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MarkNotReobserved(ctx, "t1", "scan-2", []string{fpA}); err != nil || n != 1 {
		t.Fatalf("mark: %d, %v", n, err)
	}
	if _, err := s.Transition(ctx, fpA, findings.StateInReview, "analyst-li", findings.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	// A refused transition writes nothing.
	if _, err := s.Transition(ctx, fpB, findings.StateClosed, "analyst-li", findings.TransitionInput{}); err == nil {
		t.Fatal("new → closed accepted")
	}
	got, err := s.ReadChanges(ctx, head.ID, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{fpA, fpB}, {fpA}, {fpB}, {fpA}}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d: %+v", len(got), len(want), got)
	}
	for i, c := range got {
		if c.Seq != int64(i+1) || !slices.Equal(c.Fingerprints, want[i]) {
			t.Errorf("change %d = seq %d %v, want seq %d %v", i, c.Seq, c.Fingerprints, i+1, want[i])
		}
	}
	head, err = s.ChangesHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head.Seq != 4 || head.ID != got[3].ID {
		t.Fatalf("head = %+v, want seq 4 at %s", head, got[3].ID)
	}
	// Reading after the head answers at once with nothing, or waits for the next change.
	if more, err := s.ReadChanges(ctx, head.ID, 100, 0); err != nil || len(more) != 0 {
		t.Fatalf("after head: %v, %v", more, err)
	}
	done := make(chan []Change, 1)
	go func() {
		c, err := s.ReadChanges(ctx, head.ID, 100, 5*time.Second)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := s.Transition(ctx, fpB, findings.StateInReview, "analyst-li", findings.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	if c := <-done; len(c) != 1 || c[0].Seq != 5 || !slices.Equal(c[0].Fingerprints, []string{fpB}) {
		t.Fatalf("blocked read got %+v", c)
	}
}
