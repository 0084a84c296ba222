package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestScanHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.GetScan(ctx, "nope"); !errors.Is(err, ErrNoScanRecord) {
		t.Fatalf("missing record: %v, want ErrNoScanRecord", err)
	}
	recs := []ScanRecord{
		{ID: "a1", TargetID: "app", StartedAt: t0, FinishedAt: t0.Add(time.Second), Fingerprints: []string{"f1", "f2"}},
		{ID: "b1", TargetID: "other", StartedAt: t0.Add(time.Minute), Fingerprints: []string{"f9"}},
		{ID: "a2", TargetID: "app", StartedAt: t0.Add(2 * time.Minute), Fingerprints: []string{"f2", "f3"},
			Runs: []InspectorRun{{Inspector: "policies", Status: "succeeded", Observations: 3, Evidence: []string{"e1"}}}},
	}
	for _, r := range recs {
		if wrote, err := s.SaveScan(ctx, r); err != nil || !wrote {
			t.Fatalf("save %s: %v %v", r.ID, wrote, err)
		}
	}
	// First completion wins: a re-delivered job's record changes nothing.
	if wrote, err := s.SaveScan(ctx, ScanRecord{ID: "a1", TargetID: "app", Status: "failed"}); err != nil || wrote {
		t.Fatalf("second save of a1: %v %v", wrote, err)
	}
	got, err := s.GetScan(ctx, "a1")
	if err != nil || got.Status != "" || !slices.Equal(got.Fingerprints, []string{"f1", "f2"}) || got.Duration() != time.Second {
		t.Fatalf("a1 = %+v, %v", got, err)
	}
	page, total, err := s.ScansForTarget(ctx, "app", 0, 10)
	if err != nil || total != 2 || len(page) != 2 || page[0].ID != "a2" || page[1].ID != "a1" || page[0].Runs[0].Evidence[0] != "e1" {
		t.Fatalf("app history = %+v (%d), %v", page, total, err)
	}
	page, total, _ = s.ScansForTarget(ctx, "app", 1, 10)
	if total != 2 || len(page) != 1 || page[0].ID != "a1" {
		t.Fatalf("app history from 1 = %+v (%d)", page, total)
	}
	if page, total, _ := s.ScansForTarget(ctx, "none", 0, 10); total != 0 || page == nil || len(page) != 0 {
		t.Fatalf("history of a target never scanned = %#v (%d), want empty, not nil", page, total)
	}
	all, total, _ := s.RecentScans(ctx, 0, 2)
	if total != 3 || len(all) != 2 || all[0].ID != "a2" || all[1].ID != "b1" {
		t.Fatalf("recent = %+v (%d)", all, total)
	}
	want := ScanDiff{From: "a1", To: "a2", New: []string{"f3"}, Gone: []string{"f1"}, Still: []string{"f2"}}
	for _, ids := range [][2]string{{"a1", "a2"}, {"a2", "a1"}} { // ordered by start either way
		d, err := s.DiffScans(ctx, ids[0], ids[1])
		if err != nil || fmt.Sprint(d) != fmt.Sprint(want) {
			t.Errorf("DiffScans(%s, %s) = %+v, %v; want %+v", ids[0], ids[1], d, err, want)
		}
	}
	if d, ok, err := s.DiffLatestScans(ctx, "app"); err != nil || !ok || fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("DiffLatestScans = %+v %v %v", d, ok, err)
	}
	if _, ok, err := s.DiffLatestScans(ctx, "other"); err != nil || ok {
		t.Errorf("DiffLatestScans of a target with one scan: ok %v, %v", ok, err)
	}
	if _, err := s.DiffScans(ctx, "a1", "nope"); !errors.Is(err, ErrNoScanRecord) {
		t.Errorf("DiffScans with a missing scan: %v", err)
	}
	empty := DiffScanRecords(ScanRecord{}, ScanRecord{})
	if empty.New == nil || empty.Gone == nil || empty.Still == nil {
		t.Error("empty diff has nil lists (JSON null)")
	}
}

func TestScanHistoryTrim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for i := range MaxScanHistory + 3 {
		r := ScanRecord{ID: fmt.Sprintf("s%05d", i), TargetID: "t", StartedAt: t0.Add(time.Duration(i) * time.Minute)}
		if _, err := s.SaveScan(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SaveScan(ctx, ScanRecord{ID: "u", TargetID: "u", StartedAt: t0}); err != nil {
		t.Fatal(err)
	}
	recs, total, _ := s.ScansForTarget(ctx, "t", 0, 1)
	if total != MaxScanHistory || recs[0].ID != fmt.Sprintf("s%05d", MaxScanHistory+2) {
		t.Fatalf("total %d newest %+v", total, recs)
	}
	if _, err := s.GetScan(ctx, "s00002"); !errors.Is(err, ErrNoScanRecord) {
		t.Errorf("trimmed record: %v", err)
	}
	if _, err := s.GetScan(ctx, "s00003"); err != nil {
		t.Errorf("oldest kept record: %v", err)
	}
	// The trim removes the records from the all index too; another target's scans stay.
	if _, all, _ := s.RecentScans(ctx, 0, 1); all != MaxScanHistory+1 {
		t.Errorf("all index holds %d, want %d", all, MaxScanHistory+1)
	}
}
