package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestChecklistKeysDoNotCollide: a target id may contain ':' (targets.idPattern), so target "a:log"
// must not share a key with target "a"'s checklist log. Both orders of first use are tried, since
// whichever key exists first decides which Redis command fails with WRONGTYPE.
func TestChecklistKeysDoNotCollide(t *testing.T) {
	ctx := context.Background()
	for _, order := range [][]string{{"a", "a:log"}, {"b:log", "b"}} {
		s := newTestStore(t)
		for i, target := range order {
			e := ChecklistEntry{Rule: "R-" + target, Result: "violation", By: "ana", At: t0.Add(time.Duration(i) * time.Second)}
			if err := s.RecordChecklist(ctx, target, e); err != nil {
				t.Fatalf("record %s after %v: %v", target, order[:i], err)
			}
		}
		for _, target := range order {
			got, err := s.Checklist(ctx, target)
			if err != nil {
				t.Fatalf("checklist of %s: %v", target, err)
			}
			if len(got) != 1 || got["R-"+target].Result != "violation" {
				t.Errorf("checklist of %s = %+v, want only its own item R-%s", target, got, target)
			}
			log, err := s.ChecklistLog(ctx, target)
			if err != nil {
				t.Fatalf("checklist log of %s: %v", target, err)
			}
			if len(log) != 1 || log[0].Rule != "R-"+target {
				t.Errorf("checklist log of %s = %+v, want only its own entry", target, log)
			}
		}
	}
}

// TestMigrateChecklistLogs: logs written under the old layout ({target}:log beside the hash) move
// to their own namespace; a hash that only looks like an old log (the checklist of a target whose
// id ends in ":log") stays where it is.
func TestMigrateChecklistLogs(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	old := s.webKey("checklist", "t1") + ":log"
	if err := s.rdb.RPush(ctx, old, `{"rule":"R1","result":"violation","by":"ana","at":"2024-01-01T00:00:00Z"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.HSet(ctx, s.webKey("checklist", "t2:log"), "R2", `{"rule":"R2","result":"compliant","by":"ana","at":"2024-01-01T00:00:00Z"}`).Err(); err != nil {
		t.Fatal(err)
	}
	n, err := s.MigrateChecklistLogs(ctx)
	if err != nil || n != 1 {
		t.Fatalf("migrate: %d moved, %v; want 1", n, err)
	}
	log, err := s.ChecklistLog(ctx, "t1")
	if err != nil || len(log) != 1 || log[0].Rule != "R1" {
		t.Fatalf("t1 log after migration: %+v %v", log, err)
	}
	if c, err := s.Checklist(ctx, "t2:log"); err != nil || c["R2"].Result != "compliant" {
		t.Fatalf("checklist of t2:log after migration: %+v %v", c, err)
	}
	if n, err := s.MigrateChecklistLogs(ctx); err != nil || n != 0 {
		t.Fatalf("second migration: %d moved, %v; want 0", n, err)
	}
}

// TestUploadQuota: reservations stop at the quota, a partial reservation gets what is left, and
// released bytes can be reserved again.
func TestUploadQuota(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	if got, err := s.ReserveUpload(ctx, "ana", 60, 100); err != nil || got != 60 {
		t.Fatalf("first reservation: %d %v", got, err)
	}
	if got, err := s.ReserveUpload(ctx, "ana", 60, 100); err != nil || got != 40 {
		t.Fatalf("second reservation: %d %v, want the 40 left", got, err)
	}
	if _, err := s.ReserveUpload(ctx, "ana", 1, 100); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("reservation past the quota: %v, want ErrQuotaExceeded", err)
	}
	if got, err := s.ReserveUpload(ctx, "bob", 100, 100); err != nil || got != 100 {
		t.Fatalf("another user's reservation: %d %v", got, err)
	}
	if err := s.ReleaseUpload(ctx, "ana", 30); err != nil {
		t.Fatal(err)
	}
	if n, err := s.UploadBytes(ctx, "ana"); err != nil || n != 70 {
		t.Fatalf("after release: %d %v, want 70", n, err)
	}
	if got, err := s.ReserveUpload(ctx, "ana", 50, 100); err != nil || got != 30 {
		t.Fatalf("after release: reserved %d %v, want 30", got, err)
	}
}
