package store

import (
	"context"
	"testing"
	"time"
)

func TestLease(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if h, err := s.LeaseHolder(ctx, "scheduler"); err != nil || h != "" {
		t.Fatalf("holder of a free lease = %q, %v", h, err)
	}
	if ok, err := s.AcquireLease(ctx, "scheduler", "a", time.Minute); err != nil || !ok {
		t.Fatalf("a acquires: %v %v", ok, err)
	}
	if ok, err := s.AcquireLease(ctx, "scheduler", "b", time.Minute); err != nil || ok {
		t.Fatalf("b acquired a held lease: %v %v", ok, err)
	}
	if ok, err := s.RenewLease(ctx, "scheduler", "b", time.Minute); err != nil || ok {
		t.Fatalf("b renewed a's lease: %v %v", ok, err)
	}
	if ok, err := s.RenewLease(ctx, "scheduler", "a", 50*time.Millisecond); err != nil || !ok {
		t.Fatalf("a renews: %v %v", ok, err)
	}
	// The key is the one the scheduler has always used, so processes of either version agree.
	if ttl := s.rdb.PTTL(ctx, s.prefix+"scheduler:lease").Val(); ttl <= 0 || ttl > 50*time.Millisecond {
		t.Errorf("lease TTL after renewal = %v, want <= 50ms", ttl)
	}
	if err := s.ReleaseLease(ctx, "scheduler", "b"); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.LeaseHolder(ctx, "scheduler"); h != "a" {
		t.Fatalf("b released a's lease: holder %q", h)
	}
	time.Sleep(80 * time.Millisecond) // a pauses past its TTL
	if ok, err := s.RenewLease(ctx, "scheduler", "a", time.Minute); err != nil || ok {
		t.Fatalf("a renewed an expired lease: %v %v", ok, err)
	}
	if ok, _ := s.AcquireLease(ctx, "scheduler", "b", time.Minute); !ok {
		t.Fatal("b could not take the expired lease")
	}
	if err := s.ReleaseLease(ctx, "scheduler", "b"); err != nil {
		t.Fatal(err)
	}
	if h, _ := s.LeaseHolder(ctx, "scheduler"); h != "" {
		t.Fatalf("holder after release = %q", h)
	}
	if _, err := s.AcquireLease(ctx, "", "a", time.Minute); err == nil {
		t.Error("empty lease name accepted")
	}
}
