package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pilmon/internal/testlog"
	"pilmon/scanner"
	"pilmon/targets"
)

// TestNewKindIsOnePackageAndOneLine: an inspector of a kind the scanner core has never heard of
// (testlog) is added to the inspectors of this build in one line, and then its files are
// recognised by content, targets accept its sources with its declared path option and refuse
// an undeclared one, and a scan runs it through the core's frame. (The dashboard's upload form
// offering it from the same declaration is web's TestUploadFormOffersDeclaredKinds.)
func TestNewKindIsOnePackageAndOneLine(t *testing.T) {
	saved := registered
	t.Cleanup(func() { registered = saved })
	// The one line:
	registered = append(registered, func(build) scanner.Inspector { return testlog.New() })

	kinds := Kinds(nil)
	if _, ok := scanner.LookupKind(kinds, testlog.Kind); !ok {
		t.Fatalf("kinds of the build %v lack testlog", scanner.KindNames(kinds))
	}
	root := t.TempDir()
	write := func(name, text string) string {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Recognised by content (the name says .txt), before the text catch-all of policies, which
	// still takes plain text; the HAR rule is still asked before it.
	log := write("phone1.txt", "\ufeff"+`{"hook":"TelephonyManager.getDeviceId","arg":""}`+"\n"+`{"hook":"LocationManager.getLastKnownLocation","arg":"gps"}`+"\n")
	policy := write("policy.txt", "隐私政策\n我们收集您的设备信息。\n")
	har := write("capture.json", `{"log":{"version":"1.2","entries":[]}}`)
	write("map.yaml", "getDeviceId: imei\n")
	for p, want := range map[string]scanner.SourceKind{log: testlog.Kind, policy: scanner.SourcePolicyFile, har: scanner.SourceHAR} {
		if got, err := scanner.DetectKind(p, kinds); err != nil || got != want {
			t.Errorf("DetectKind(%s) = %q, %v; want %q", filepath.Base(p), got, err, want)
		}
	}
	if _, err := scanner.ParseKind("testlog", kinds); err != nil {
		t.Errorf("--kind testlog: %v", err)
	}

	// Targets: a declared path option is resolved inside the import folder; an undeclared option
	// is refused, naming the declared ones; a URL is no locator of a file kind.
	reg := targets.New(nil, targets.Options{ImportRoot: root, Kinds: kinds})
	tg := scanner.Target{ID: "app:hooked", Kind: scanner.TargetApp, Sources: []scanner.Source{
		{Kind: testlog.Kind, Locator: "phone1.txt", Options: map[string]string{"mapping": "map.yaml", "phone": "Pixel 7"}}}}
	v, err := reg.Validate(tg)
	if err != nil {
		t.Fatal(err)
	}
	if s := v.Sources[0]; s.Locator != log || s.Options["mapping"] != filepath.Join(root, "map.yaml") || s.Options["phone"] != "Pixel 7" {
		t.Errorf("validated source %+v", s)
	}
	bad := tg
	bad.Sources = []scanner.Source{{Kind: testlog.Kind, Locator: "phone1.txt", Options: map[string]string{"device_values": "map.yaml"}}}
	if _, err := reg.Validate(bad); err == nil || !strings.Contains(err.Error(), `option "device_values": a testlog source has only the options mapping, phone`) {
		t.Errorf("undeclared option: %v", err)
	}
	bad.Sources = []scanner.Source{{Kind: testlog.Kind, Locator: "phone1.txt", Options: map[string]string{"mapping": "../map.yaml"}}}
	if _, err := reg.Validate(bad); err == nil || !strings.Contains(err.Error(), "option mapping") {
		t.Errorf("path option outside the import folder: %v", err)
	}
	bad.Sources = []scanner.Source{{Kind: testlog.Kind, Locator: "https://example.com/log"}}
	if _, err := reg.Validate(bad); err == nil {
		t.Error("a URL accepted as the locator of a file kind")
	}

	// A scan through the pipeline: the core opens, limits and stores the log and hands it to
	// the testlog inspector, the only one declaring the kind.
	r, _ := newRunner(t)
	o, err := r.Execute(context.Background(), Request{Target: v})
	if err != nil {
		t.Fatal(err)
	}
	rep := o.Result.Reports[0]
	if rep.Inspector != "testlog" || rep.Status != scanner.StatusSucceeded || len(rep.Observations) != 2 || len(rep.Evidence) != 1 {
		t.Fatalf("report %+v", rep)
	}
	subjects := []string{rep.Observations[0].Subject, rep.Observations[1].Subject}
	if !slices.Contains(subjects, "TelephonyManager.getDeviceId") || rep.Observations[0].Attributes["phone"] != "Pixel 7" ||
		rep.Observations[0].EvidenceRefs[0] != rep.Evidence[0].SHA256 {
		t.Errorf("observations %+v", rep.Observations)
	}
	if !o.Record.Complete {
		t.Errorf("record %+v", o.Record)
	}
}
