package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	if code, _, errs := runCLI(t, "export"); code != exitUnavailable || !strings.Contains(errs, "not yet available") {
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
