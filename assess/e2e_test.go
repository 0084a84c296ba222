package assess

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/internal/testredis"
	"pilmon/store"

	"pilmon/apkinspect"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/miniprogram"
	"pilmon/policies"
	"pilmon/rules"
	"pilmon/samplegen"
	"pilmon/scanner"
	"pilmon/traffic"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// sampleTargets are generated once per test binary (building the APK takes seconds).
var (
	samplesOnce sync.Once
	samplesDir  string
	samples     map[string]scanner.Target
	samplesErr  error
	apkSkip     string
)

func sampleTarget(t *testing.T, name string) (scanner.Target, string) {
	t.Helper()
	samplesOnce.Do(func() {
		samplesDir, samplesErr = os.MkdirTemp("", "pilmon-assess-e2e-")
		if samplesErr != nil {
			return
		}
		samples = map[string]scanner.Target{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for name, o := range map[string]samplegen.Options{"violating": samplegen.Violating(), "clean": samplegen.Clean()} {
			wg.Add(1)
			go func() { // the two APK builds run side by side
				defer wg.Done()
				tg, files, err := samplegen.WriteTarget(samplesDir, o)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					samplesErr = err
					return
				}
				if files.APKError != nil {
					apkSkip = files.APKError.Error()
				}
				samples[name] = tg
			}()
		}
		wg.Wait()
	})
	if samplesErr != nil {
		t.Fatal(samplesErr)
	}
	if apkSkip != "" {
		t.Skipf("the golden end-to-end report needs the generated APK: %s", apkSkip)
	}
	return samples[name], samplesDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if samplesDir != "" {
		os.RemoveAll(samplesDir)
	}
	os.Exit(code)
}

var fixedNow = time.Date(2025, 1, 10, 9, 30, 0, 0, time.UTC)

// realInspectors are the inspectors of `pilmon scan` (policies without a browser: files only).
func realInspectors(cat *rules.Catalogue) []scanner.Inspector {
	return []scanner.Inspector{
		apkinspect.New(cat, apkinspect.Options{Tool: "pilmon test"}),
		miniprogram.New(cat, miniprogram.Options{Tool: "pilmon test"}),
		policies.New(cat, nil, policies.Options{Tool: "pilmon test"}),
		traffic.New(cat, traffic.Options{Tool: "pilmon test"}),
	}
}

// scanAndAssess runs the real inspectors into a real evidence store and assesses the result.
func scanAndAssess(t *testing.T, a *Assessor, tg scanner.Target, store *evidence.Store, scanID string) (*scanner.Result, []findings.Finding) {
	t.Helper()
	res := scanner.Scan(context.Background(), tg, realInspectors(a.Catalogue()), store, scanner.Options{ScanID: scanID, Now: func() time.Time { return fixedNow }})
	for _, r := range res.Reports {
		if r.Status != scanner.StatusSucceeded {
			t.Errorf("%s on %s: %s %v", r.Inspector, filepath.Base(r.Source.Locator), r.Status, r.Errors)
		}
	}
	return res, a.Assess(res.Target, res.ScanID, res.Observations(), fixedNow)
}

// goldenJSON is one canonical finding per line, with the temporary directory replaced. The
// observations keep kind, subject, evidence and inspector but not their attributes: the
// inspectors' own goldens pin those, and an attribute an inspector adds must not break this one
// (everything assess derives from attributes — subjects, summaries, severity, confidence — stays).
func goldenJSON(t *testing.T, fs []findings.Finding, tmp string) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("[\n")
	for i, f := range fs {
		f.Observations = slices.Clone(f.Observations)
		for k := range f.Observations {
			f.Observations[k].Attributes = nil
		}
		j, err := findings.MarshalCanonical(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(j)
		if i < len(fs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]\n")
	return bytes.ReplaceAll(b.Bytes(), []byte(tmp), []byte("$TMP"))
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./assess -run TestEndToEnd -update)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < max(len(gl), len(wl)); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d (rerun with -update and review the diff):\n got %.600s\nwant %.600s", path, i+1, g, w)
			}
		}
	}
}

func rulesOf(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.RuleID+" "+f.Subject)
	}
	return out
}

// TestEndToEndViolatingTarget: generated APK + policy + HAR + mini-program (folder and .wxapkg)
// of one fictional target → scanner.Scan with the real inspectors → Assess → the exact set of
// findings (golden), the ones the generator planted among them, and the same fingerprints on a
// second scan.
func TestEndToEndViolatingTarget(t *testing.T) {
	tg, tmp := sampleTarget(t, "violating")
	cat := mustCatalogue(t)
	a := New(cat)
	store, err := evidence.Open(filepath.Join(t.TempDir(), "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	_, fs := scanAndAssess(t, a, tg, store, "scan-e2e-1")
	compareGolden(t, "e2e_violating.golden.json", goldenJSON(t, fs, tmp))

	// Each planted violation at the tier its evidence supports: what traffic matched to the
	// test phone's values and the policy's own text establish are findings; what the package's
	// code or a comparison with the necessary-PI list shows are leads.
	planted := []struct{ rule, tier string }{
		{"rdff-4.1 perm:android.permission.READ_CONTACTS", rules.TierLead},                   // contacts outside online shopping's scope
		{"rdff-2.1 sdk:jpush", rules.TierFinding},                                            // JPush embedded (strong), not disclosed
		{"pipl-47-no-deletion element:account_cancellation", rules.TierFinding},              // deletion channel omitted
		{"rdff-3.1 pi:device_id_hw->" + samplegen.TrackerHost, rules.TierFinding},            // IMEI to Umeng before consent
		{"mp-undeclared-private-api mpapi:wx.getLocation", rules.TierLead},                   // no requiredPrivateInfos
		{"gbt41391-f-non-resettable-id pi:device_id_hw@sdk:umeng_analytics", rules.TierLead}, // Umeng's code can read the IMEI
		{"gbt41391-app-list-read pi:app_list@app", rules.TierLead},                           // own code can list installed apps
	}
	got := map[string]findings.Finding{}
	for _, f := range fs {
		got[f.RuleID+" "+f.Subject] = f
	}
	for _, p := range planted {
		f, ok := got[p.rule]
		switch {
		case !ok:
			t.Errorf("planted violation not found: %s\nfindings: %s", p.rule, strings.Join(rulesOf(fs), "\n  "))
		case f.Tier != p.tier:
			t.Errorf("%s: tier %s (grade %s), want %s", p.rule, f.Tier, f.Grade, p.tier)
		}
	}
	// The APK embeds two SDKs (Umeng, JPush) and the policy discloses Umeng only: exactly one
	// non-disclosure finding, naming the SDK and its vendor, and claiming nothing about PI.
	var undisclosed []findings.Finding
	for _, f := range fs {
		if f.RuleID == "rdff-2.1" && f.Tier == rules.TierFinding {
			undisclosed = append(undisclosed, f)
		}
	}
	if len(undisclosed) != 1 || undisclosed[0].Subject != "sdk:jpush" {
		t.Errorf("undisclosed-SDK findings: %v, want exactly sdk:jpush", rulesOf(undisclosed))
	} else if zh, en := undisclosed[0].Summary.ZH, undisclosed[0].Summary.EN; !strings.Contains(zh, "极光推送") || !strings.Contains(zh, "深圳市和讯华谷信息技术有限公司") ||
		!strings.Contains(en, "JPush") || !strings.Contains(en, "vendor: 深圳市和讯华谷信息技术有限公司") || overclaim.MatchString(zh) || overclaim.MatchString(en) {
		t.Errorf("the undisclosed-SDK finding does not name SDK and vendor, or claims collection: %s / %s", zh, en)
	}
	// findings come before leads
	for i := 1; i < len(fs); i++ {
		if rules.TierRank(fs[i].Tier) > rules.TierRank(fs[i-1].Tier) {
			t.Errorf("%s %s (a %s) after %s %s (a %s)", fs[i].RuleID, fs[i].Subject, fs[i].Tier, fs[i-1].RuleID, fs[i-1].Subject, fs[i-1].Tier)
		}
	}
	for _, f := range fs {
		v, _ := cat.Violation(f.RuleID)
		checkFinding(t, cat, v, f)
		if strings.Contains(f.Subject, tmp) {
			t.Errorf("%s: subject holds a path: %s", f.RuleID, f.Subject)
		}
	}

	// The same inputs scanned again: the same fingerprints, the same bytes.
	_, again := scanAndAssess(t, a, tg, store, "scan-e2e-2")
	if len(again) != len(fs) {
		t.Fatalf("second scan: %d findings, first %d", len(again), len(fs))
	}
	for i := range fs {
		if fs[i].Fingerprint != again[i].Fingerprint || fs[i].Summary != again[i].Summary || !slices.Equal(fs[i].EvidenceRefs, again[i].EvidenceRefs) {
			t.Errorf("finding %d differs between scans: %s/%s vs %s/%s", i, fs[i].RuleID, fs[i].Subject, again[i].RuleID, again[i].Subject)
		}
	}
}

// TestEndToEndCleanTarget: the lawful counterpart raises only the findings its golden justifies.
func TestEndToEndCleanTarget(t *testing.T) {
	tg, tmp := sampleTarget(t, "clean")
	a := New(mustCatalogue(t))
	store, err := evidence.Open(filepath.Join(t.TempDir(), "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	_, fs := scanAndAssess(t, a, tg, store, "scan-clean-1")
	compareGolden(t, "e2e_clean.golden.json", goldenJSON(t, fs, tmp))
	if len(fs) > 0 {
		t.Errorf("the clean target raised %d findings: %s", len(fs), strings.Join(rulesOf(fs), "; "))
	}
}

// TestEndToEndStore: two scans of the same inputs into a real Redis give one record per finding
// and keep the triage state; a complete scan of the rectified (clean) inputs under the same
// target marks every finding "not re-observed".
func TestEndToEndStore(t *testing.T) {
	dir := t.TempDir()
	srv := testredis.Start(t, dir)
	tg, _ := sampleTarget(t, "violating")
	clean, _ := sampleTarget(t, "clean")
	a := New(mustCatalogue(t))
	ctx := context.Background()
	st := store.NewStore(srv.Client(), "e2e:")
	ev, err := evidence.Open(filepath.Join(dir, "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	res1, fs1 := scanAndAssess(t, a, tg, ev, "scan-1")
	if _, err := st.UpsertBatch(ctx, fs1, res1.ScanID); err != nil {
		t.Fatal(err)
	}
	triaged := fs1[0].Fingerprint
	if _, err := st.Transition(ctx, triaged, findings.StateInReview, "analyst", findings.TransitionInput{Note: "e2e"}); err != nil {
		t.Fatal(err)
	}
	res2, fs2 := scanAndAssess(t, a, tg, ev, "scan-2")
	results, err := st.UpsertBatch(ctx, fs2, res2.ScanID)
	if err != nil {
		t.Fatal(err)
	}
	var raised []string
	for _, r := range results {
		if r.Created {
			t.Errorf("second scan created %s: fingerprints are not stable", r.Fingerprint)
		}
		raised = append(raised, r.Fingerprint)
	}
	if !res2.Complete() {
		t.Fatal("scan 2 is not complete")
	}
	if n, err := st.MarkNotReobserved(ctx, tg.ID, res2.ScanID, raised); err != nil || n != 0 {
		t.Errorf("mark after an identical scan: %d, %v", n, err)
	}
	list, total, err := st.List(ctx, store.Query{TargetID: tg.ID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if int(total) != len(fs1) || len(list) != len(fs1) {
		t.Errorf("store holds %d records for %d findings", total, len(fs1))
	}
	got, err := st.Get(ctx, triaged)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != findings.StateInReview || got.LastScanID != "scan-2" {
		t.Errorf("triaged finding after re-scan: state %s, last scan %s", got.State, got.LastScanID)
	}

	// The operator rectifies: the clean inputs scanned as the same target.
	clean.ID = tg.ID
	res3, fs3 := scanAndAssess(t, a, clean, ev, "scan-3")
	if len(fs3) != 0 || !res3.Complete() {
		t.Fatalf("rectified scan: %d findings, complete %v", len(fs3), res3.Complete())
	}
	n, err := st.MarkNotReobserved(ctx, tg.ID, res3.ScanID, nil)
	if err != nil || n != len(fs1) {
		t.Errorf("rectified scan marked %d of %d (%v)", n, len(fs1), err)
	}
	got, _ = st.Get(ctx, triaged)
	if got.NotReobservedSince != "scan-3" || got.State != findings.StateInReview {
		t.Errorf("after rectification: not re-observed since %q, state %s", got.NotReobservedSince, got.State)
	}
}
