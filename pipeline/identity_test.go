package pipeline

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"pilmon/samplegen"
	"pilmon/scanner"
)

// TestScanRecordKeepsIdentity: an APK scan's record keeps the package, version and signing
// certificate the inspector read; a policy-only scan's record keeps none.
func TestScanRecordKeepsIdentity(t *testing.T) {
	ctx := context.Background()
	r, dir := newRunner(t)
	apk, err := samplegen.BuildAPK(dir, samplegen.Violating())
	if err != nil {
		t.Skip(err)
	}
	rec, err := r.Run(ctx, scanner.Target{ID: "app-id", Kind: scanner.TargetApp, Sources: []scanner.Source{{Kind: scanner.SourceAPK, Locator: apk}}}, "scan-id-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, o := range rec.Identity {
		kinds[o.Kind]++
		if o.Kind == "apk.identity" && (o.Attributes["package"] == "" || o.Attributes["version_name"] == nil) {
			t.Errorf("identity %+v", o)
		}
	}
	if kinds["apk.identity"] != 1 || kinds["apk.certificate"] < 1 {
		t.Errorf("identity kinds %v", kinds)
	}
	stored, err := r.Store.GetScan(ctx, "scan-id-1")
	if err != nil || len(stored.Identity) != len(rec.Identity) {
		t.Errorf("stored record has %d identity observations (%v)", len(stored.Identity), err)
	}
	p := writeFile(t, filepath.Join(dir, "policy.txt"), policyText)
	rec, err = r.Run(ctx, scanner.Target{ID: "app-pol", Kind: scanner.TargetApp, Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: p}}}, "scan-id-2", nil)
	if err != nil || slices.ContainsFunc(rec.Identity, func(o scanner.Observation) bool { return o.Kind != "scan.inventory" }) {
		t.Errorf("a policy scan's record names an app: %+v (%v)", rec.Identity, err)
	}
}
