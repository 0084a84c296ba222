package store

import (
	"context"
	"testing"
	"time"
)

func TestEnqueueScheduledJobOncePerTick(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if c, err := s.ScheduleCursors(ctx); err != nil || len(c) != 0 {
		t.Fatalf("cursors before any tick: %v, %v", c, err)
	}
	tick := t0.Add(time.Hour).Truncate(time.Second) // the cursor keeps milliseconds
	j := Job{ID: "tick-1", TargetID: "app", RequestedBy: "scheduler", At: tick}
	id, err := s.EnqueueScheduledJob(ctx, j, tick, time.Hour)
	if err != nil || id == "" {
		t.Fatalf("first enqueue: %q, %v", id, err)
	}
	// A second scheduler asking for the same tick (a lease handover) enqueues nothing.
	if again, err := NewStore(s.rdb, s.prefix).EnqueueScheduledJob(ctx, j, tick, time.Hour); err != nil || again != "" {
		t.Fatalf("second enqueue of the tick: %q, %v", again, err)
	}
	// The job is visible to the consumer group although no worker created it.
	got, err := s.ReadJobs(ctx, "w", 10, -1)
	if err != nil || len(got) != 1 || got[0].StreamID != id || got[0].Job.ID != "tick-1" || !got[0].Job.At.Equal(tick) {
		t.Fatalf("read %+v, %v", got, err)
	}
	c, err := s.ScheduleCursors(ctx)
	if err != nil || !c["app"].Equal(tick) {
		t.Fatalf("cursor = %v, %v; want %v", c, err, tick)
	}
	// An older tick (late) is enqueued once but does not move the cursor back.
	old := tick.Add(-time.Minute)
	if id, err := s.EnqueueScheduledJob(ctx, Job{ID: "tick-0", TargetID: "app", At: old}, old, time.Hour); err != nil || id == "" {
		t.Fatalf("older tick: %q, %v", id, err)
	}
	if c, _ := s.ScheduleCursors(ctx); !c["app"].Equal(tick) {
		t.Errorf("cursor moved back to %v", c["app"])
	}
	if n, _ := s.JobCount(ctx); n != 2 {
		t.Errorf("%d jobs, want 2", n)
	}
	if _, err := s.EnqueueScheduledJob(ctx, Job{TargetID: "app"}, tick, time.Hour); err == nil {
		t.Error("job without id accepted")
	}
}
