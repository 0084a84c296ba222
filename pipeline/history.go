package pipeline

import (
	"context"
	"slices"
	"sort"

	"pilmon/store"
)

// The scan history is the store's (store/scans.go): the record types, their Redis layout and
// script, and the reads. These names keep the pipeline's callers as they were; new code calls
// store.Store's SaveScan, GetScan, ScansForTarget, RecentScans, DiffScans and DiffLatestScans.
type (
	// ScanRecord is store.ScanRecord, the history entry of one scan.
	ScanRecord = store.ScanRecord
	// InspectorRun is store.InspectorRun.
	InspectorRun = store.InspectorRun
	// ScanDiff is store.ScanDiff.
	ScanDiff = store.ScanDiff
)

// MaxHistory is how many scans a target keeps (store.MaxScanHistory).
const MaxHistory = store.MaxScanHistory

// ErrNoRecord is store.ErrNoScanRecord.
var ErrNoRecord = store.ErrNoScanRecord

// Diff compares an older scan a with a newer scan b (store.DiffScanRecords).
func Diff(a, b ScanRecord) ScanDiff { return store.DiffScanRecords(a, b) }

// History is the store's scan history under the method names the pipeline's callers use; each
// method is the store's.
type History struct{ st *store.Store }

// NewHistory returns the scan history kept beside the store's findings.
func NewHistory(st *store.Store) *History { return &History{st: st} }

// Save is store.Store.SaveScan.
func (h *History) Save(ctx context.Context, r ScanRecord) (bool, error) { return h.st.SaveScan(ctx, r) }

// Get is store.Store.GetScan.
func (h *History) Get(ctx context.Context, id string) (ScanRecord, error) {
	return h.st.GetScan(ctx, id)
}

// ForTarget is store.Store.ScansForTarget.
func (h *History) ForTarget(ctx context.Context, targetID string, offset, limit int) ([]ScanRecord, int64, error) {
	return h.st.ScansForTarget(ctx, targetID, offset, limit)
}

// Recent is store.Store.RecentScans.
func (h *History) Recent(ctx context.Context, offset, limit int) ([]ScanRecord, int64, error) {
	return h.st.RecentScans(ctx, offset, limit)
}

// DiffScans is store.Store.DiffScans.
func (h *History) DiffScans(ctx context.Context, aID, bID string) (ScanDiff, error) {
	return h.st.DiffScans(ctx, aID, bID)
}

// DiffLatest is store.Store.DiffLatestScans.
func (h *History) DiffLatest(ctx context.Context, targetID string) (ScanDiff, bool, error) {
	return h.st.DiffLatestScans(ctx, targetID)
}

func sortedUnique(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}
