package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/hooks"
	"pilmon/rules"
)

// The CLI writes the script the hooks package generates for the catalogue, with the options given.
func TestHooksScriptCommand(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "pilmon-hooks.js")
	code, _, errs := runCLI(t, "hooks", "script", "--data-dir", dir, "-o", out, "--consent-words", "好的,同意", "--redact")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := hooks.Script(cat, hooks.Options{ConsentWords: []string{"好的", "同意"}, Redact: true})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("pilmon hooks script wrote something else than hooks.Script with the same options")
	}
	code, stdout, _ := runCLI(t, "hooks", "plan", "--data-dir", dir)
	if code != 0 || !strings.Contains(stdout, "android.telephony.TelephonyManager.getDeviceId()") || !strings.Contains(stdout, "build.SERIAL") {
		t.Errorf("hooks plan: exit %d, output lacks the IMEI hook or the unhookable field: %s", code, stdout)
	}
	if code, _, _ := runCLI(t, "hooks", "script", "--data-dir", dir, "--consent-words", "同 意"); code == 0 {
		t.Error("a consent word with a space was accepted")
	}
}
