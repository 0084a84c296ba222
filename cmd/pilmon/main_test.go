package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pilmon/internal/testredis"
	"pilmon/store"

	"pilmon/samplegen"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageAndExitCodes(t *testing.T) {
	if code, out, _ := runCLI(t); code != exitUsage || !strings.Contains(out, "scan") {
		t.Errorf("no args: code %d, usage %q", code, out)
	}
	if code, _, errs := runCLI(t, "frobnicate"); code != exitUsage || !strings.Contains(errs, "frobnicate") {
		t.Errorf("unknown command: code %d stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, "export"); code != exitUsage || !strings.Contains(errs, "--target") {
		t.Errorf("export: code %d stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, "scan", "--data-dir", t.TempDir()); code != exitUsage || !strings.Contains(errs, "INPUT") {
		t.Errorf("scan without inputs: code %d stderr %q", code, errs)
	}
	if code, _, errs := runCLI(t, "scan", "--kind", "ipa", "--data-dir", t.TempDir(), "x"); code != exitUsage || !strings.Contains(errs, "unknown source kind") {
		t.Errorf("scan --kind ipa: code %d stderr %q", code, errs)
	}
	if code, out, _ := runCLI(t, "version"); code != exitOK || !strings.HasPrefix(out, "pilmon ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestScanUnreadableInputNamesTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "mystery.bin")
	os.WriteFile(bad, []byte{0x7f, 'E', 'L', 'F', 0, 1}, 0o644)
	code, _, errs := runCLI(t, "scan", "--data-dir", dir, bad)
	if code != exitError || !strings.Contains(errs, "mystery.bin") || !strings.Contains(errs, "unknown kind") {
		t.Errorf("code %d stderr %q", code, errs)
	}
}

func TestRulesCommands(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runCLI(t, "rules", "validate", "--data-dir", dir, "--json")
	if code != exitOK {
		t.Fatalf("rules validate: %d %s", code, errs)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("validate --json is not JSON: %v\n%s", err, out)
	}
	code, out, _ = runCLI(t, "rules", "list", "--section", "permissions", "--data-dir", dir)
	if code != exitOK || !strings.Contains(out, "android.permission.READ_CONTACTS") {
		t.Errorf("rules list permissions: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "rules", "list", "--section", "categories", "--data-dir", dir)
	if code != exitOK || !strings.Contains(out, "ride_hailing") {
		t.Errorf("rules list categories: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "rules", "show", "android.permission.READ_CONTACTS", "--json", "--data-dir", dir)
	if code != exitOK || !strings.Contains(out, "contacts") {
		t.Errorf("rules show permission: %d\n%s", code, out)
	}
	if code, _, errs := runCLI(t, "rules", "show", "no-such-rule", "--data-dir", dir); code != exitError || !strings.Contains(errs, "no-such-rule") {
		t.Errorf("rules show unknown: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "rules", "list", "--section", "nope", "--data-dir", dir); code != exitUsage {
		t.Errorf("rules list unknown section: %d", code)
	}
}

func TestImportExodusOverlay(t *testing.T) {
	dir := t.TempDir()
	exodus := filepath.Join(dir, "trackers.json")
	os.WriteFile(exodus, []byte(`{"trackers": {"999": {"id": 999, "name": "Example Tracker", "code_signature": "com\\.example\\.tracker\\.|com\\.exampletrack\\.", "network_signature": "tracker\\.example\\.com|exampletrack\\.net", "website": "https://tracker.example.com", "categories": ["Analytics"]}}}`), 0o644)
	code, out, errs := runCLI(t, "rules", "import-exodus", "--data-dir", dir, exodus)
	if code != exitOK {
		t.Fatalf("import-exodus: %d %s", code, errs)
	}
	if !strings.Contains(out, "rules-overlay.yaml") {
		t.Errorf("import output should name the overlay: %s", out)
	}
	code, out, _ = runCLI(t, "rules", "list", "--section", "sdks", "--data-dir", dir)
	if code != exitOK || !strings.Contains(out, "com.example.tracker") {
		t.Errorf("overlay SDK not listed after import: %d\n%s", code, out)
	}
}

func TestImportLibCheckerOverlay(t *testing.T) {
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "libchecker.json")
	os.WriteFile(rulesFile, []byte(`[{"id": 1, "name": "com.examplelc.pushkit", "label": "Example LC Push", "type": 5, "isRegexRule": 0},
		{"id": 2, "name": "libexamplelc(.*)\\.so", "label": "Example LC Push", "type": 0, "isRegexRule": 1},
		{"id": 3, "name": "kotlin.(.*)", "label": "Kotlin", "type": 5, "isRegexRule": 1}]`), 0o644)
	// an Exodus import first: the LibChecker one must not replace it
	exodus := filepath.Join(dir, "trackers.json")
	os.WriteFile(exodus, []byte(`{"trackers": {"999": {"id": 999, "name": "Example Tracker", "code_signature": "com\\.example\\.tracker\\.", "network_signature": "tracker\\.example\\.com", "categories": ["Analytics"]}}}`), 0o644)
	if code, _, errs := runCLI(t, "rules", "import-exodus", "--data-dir", dir, exodus); code != exitOK {
		t.Fatalf("import-exodus: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "rules", "import-libchecker", "--data-dir", dir, rulesFile)
	if code != exitOK {
		t.Fatalf("import-libchecker: %d %s", code, errs)
	}
	if !strings.Contains(out, "rules-overlay-libchecker.yaml") || !strings.Contains(errs, "kotlin rejected") {
		t.Errorf("import output should name the overlay and the rejected prefix: %s / %s", out, errs)
	}
	code, out, _ = runCLI(t, "rules", "list", "--section", "sdks", "--data-dir", dir)
	if code != exitOK || !strings.Contains(out, "com.examplelc.pushkit") || !strings.Contains(out, "libchecker-overlay") || !strings.Contains(out, "com.example.tracker") {
		t.Errorf("both overlays should be listed after the imports: %d\n%s", code, out)
	}
	// the SQLite database is refused with a message saying what to do
	db := filepath.Join(dir, "rules.db")
	os.WriteFile(db, []byte("SQLite format 3\x00..."), 0o644)
	if code, _, errs := runCLI(t, "rules", "import-libchecker", "--data-dir", dir, db); code == exitOK || !strings.Contains(errs, "export its rules_table as JSON") {
		t.Errorf("SQLite input: %d %s", code, errs)
	}
	if code, _, _ := runCLI(t, "rules", "import-libchecker", "--data-dir", dir); code != exitUsage {
		t.Errorf("no file: %d", code)
	}
}

// writeSampleInputs writes the generated target's policy, HAR, device values and mini-program
// folder (no APK: the assess end-to-end test covers it) and returns the scan arguments.
func writeSampleInputs(t *testing.T, o samplegen.Options) []string {
	t.Helper()
	dir := t.TempDir()
	pol, har, dev, mp := filepath.Join(dir, "privacy.html"), filepath.Join(dir, "capture.har"), filepath.Join(dir, "device.yaml"), filepath.Join(dir, "miniprogram")
	for p, b := range map[string][]byte{pol: samplegen.PolicyHTML(o), har: samplegen.HAR(o), dev: samplegen.DeviceValuesYAML()} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := samplegen.WriteMiniProgramDir(mp, o); err != nil {
		t.Fatal(err)
	}
	return []string{"--device", dev, "--operator", samplegen.Operator, pol, har, mp}
}

func TestScanPrintsFindings(t *testing.T) {
	data := t.TempDir()
	args := append([]string{"scan", "--data-dir", data, "--target-id", "sample:cli", "--category", "online_shopping"}, writeSampleInputs(t, samplegen.Violating())...)
	code, out, errs := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("scan: %d %s", code, errs)
	}
	for _, want := range []string{"发现 / findings:", "rdff-3.1", "pi:device_id_hw->" + samplegen.TrackerHost, "mp-undeclared-private-api",
		"类别 / category: online_shopping", "严重程度 / severity"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = runCLI(t, append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("scan --json: %d %s", code, errs)
	}
	var res struct {
		Result      struct{ Target struct{ Operator string } }
		Category    struct{ Key string }
		Findings    []map[string]any
		NotAssessed []struct {
			RuleID string `json:"rule_id"`
		} `json:"not_assessed"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json output: %v", err)
	}
	if len(res.Findings) == 0 || res.Category.Key != "online_shopping" || res.Result.Target.Operator != samplegen.Operator {
		t.Errorf("--json: %d findings, category %q, operator %q", len(res.Findings), res.Category.Key, res.Result.Target.Operator)
	}
	if len(res.Findings) > 0 && (res.Findings[0]["tier"] != "finding" || res.Findings[0]["grade"] == nil) {
		t.Errorf("--json: the first record is not a finding with a grade: %v %v", res.Findings[0]["tier"], res.Findings[0]["grade"])
	}
	if !strings.Contains(out, `"not_assessed":`) {
		t.Error("--json has no not_assessed")
	}
	// the mini-program alone: no policy, no traffic, so the policy and traffic rules are listed
	// as not assessed rather than judged
	inputs := writeSampleInputs(t, samplegen.Violating())
	code, out, errs = runCLI(t, "scan", "--data-dir", t.TempDir(), "--target-id", "sample:mp", "--json", inputs[len(inputs)-1])
	if code != exitOK {
		t.Fatalf("scan of the mini-program alone: %d %s", code, errs)
	}
	res.NotAssessed = nil
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var na []string
	for _, n := range res.NotAssessed {
		na = append(na, n.RuleID)
	}
	if !slices.Contains(na, "rdff-1.1") || !slices.Contains(na, "rdff-3.1") || slices.Contains(na, "mp-undeclared-private-api") {
		t.Errorf("mini-program alone: not assessed %v", na)
	}
	for _, f := range res.Findings {
		if f["fingerprint"] == "" || f["confidence"] == nil || f["summary"] == nil {
			t.Errorf("finding without fingerprint, confidence or summary: %v", f)
		}
	}
	if code, _, errs := runCLI(t, "scan", "--data-dir", data, "--category", "no_such_category", args[len(args)-1]); code != exitUsage || !strings.Contains(errs, "no_such_category") {
		t.Errorf("unknown category: %d %s", code, errs)
	}
}

// --store keeps the findings in the embedded Redis of the data dir: a second scan of the same
// inputs creates nothing, and a complete scan of the rectified inputs marks them not re-observed.
func TestScanStoresFindings(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (Debian package redis-server)")
	}
	t.Setenv("PILMON_REDIS", "")
	data := t.TempDir()
	base := []string{"scan", "--data-dir", data, "--store", "--json", "--target-id", "sample:store", "--category", "online_shopping"}
	stored := func(o samplegen.Options) map[string]any {
		code, out, errs := runCLI(t, append(base, writeSampleInputs(t, o)...)...)
		if code != exitOK {
			t.Fatalf("scan --store: %d %s", code, errs)
		}
		var res struct {
			Findings []any
			Stored   map[string]any
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Stored == nil {
			t.Fatalf("no stored summary: %v\n%.400s", err, out)
		}
		res.Stored["n"] = float64(len(res.Findings))
		return res.Stored
	}
	first := stored(samplegen.Violating())
	if first["created"] != first["n"] || first["n"] == float64(0) {
		t.Errorf("first scan: %v", first)
	}
	if second := stored(samplegen.Violating()); second["created"] != float64(0) || second["not_reobserved"] != float64(0) {
		t.Errorf("second scan of the same inputs: %v", second)
	}
	if clean := stored(samplegen.Clean()); clean["n"] != float64(0) || clean["not_reobserved"] != first["n"] {
		t.Errorf("rectified scan: %v (first %v)", clean, first)
	}
	// Each stored scan is in the target's history, so the dashboard can diff the rectified scan
	// against the first one.
	srv := testredis.Start(t, data)
	hist := store.NewStore(srv.Client(), "")
	recs, total, err := hist.ScansForTarget(context.Background(), "sample:store", 0, 10)
	if err != nil || total != 3 {
		t.Fatalf("scan history: %d records, %v", total, err)
	}
	d, ok, err := hist.DiffLatestScans(context.Background(), "sample:store")
	if err != nil || !ok || len(d.Gone) != int(first["n"].(float64)) || len(d.New) != 0 {
		t.Errorf("diff of the rectified scan against the one before: %+v %v %v (records %d)", d, ok, err, len(recs))
	}
}

// --bundle writes the scan as a signed evidence bundle an analyst can hand over without a
// server; pilmon verify accepts it and names a tampered member.
func TestScanWritesVerifiableBundle(t *testing.T) {
	data := t.TempDir()
	bundle := filepath.Join(t.TempDir(), "case.zip")
	args := append([]string{"scan", "--data-dir", data, "--target-id", "sample:bundle", "--category", "online_shopping",
		"--bundle", bundle, "--no-pdf"}, writeSampleInputs(t, samplegen.Violating())...)
	if code, _, errs := runCLI(t, args...); code != exitOK {
		t.Fatalf("scan --bundle: %d %s", code, errs)
	}
	code, out, errs := runCLI(t, "verify", bundle)
	if code != exitOK {
		t.Fatalf("verify of a fresh bundle: %d\n%s\n%s", code, out, errs)
	}
	// Rewrite the bundle with one byte of findings.json changed: verify must fail naming it.
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	bad := filepath.Join(t.TempDir(), "tampered.zip")
	out2, err := os.Create(bad)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(out2)
	for _, m := range zr.File {
		rc, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if m.Name == "findings.json" {
			b[len(b)/2] ^= 0x01
		}
		w, err := zw.Create(m.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	zw.Close()
	out2.Close()
	code, out, errs = runCLI(t, "verify", bad)
	if code == exitOK || !strings.Contains(out+errs, "findings.json") {
		t.Errorf("verify of a tampered bundle: %d\n%s\n%s", code, out, errs)
	}
}

// A relative --data-dir (make demo passes ".pilmon-demo") is resolved once, so paths under it
// stay valid for child processes with other working directories and for import-folder checks.
func TestRelativeDataDirIsMadeAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	var c config
	fs := newFlagSet(&cliEnv{stderr: io.Discard}, "x", "")
	c.register(fs)
	if err := fs.Parse([]string{"--data-dir", ".pilmon-demo"}); err != nil {
		t.Fatal(err)
	}
	c.apply(&cliEnv{stderr: io.Discard})
	wd, _ := os.Getwd()
	if c.dataDir != filepath.Join(wd, ".pilmon-demo") {
		t.Fatalf("data dir %q, want it under %q", c.dataDir, wd)
	}
}
