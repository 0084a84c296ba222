package demo

import (
	"archive/zip"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"pilmon/rules"
	"pilmon/samplegen"
	"pilmon/scanner"
)

// Schedule of every demo target: the scheduler rescans them every hour while the demo runs (and
// once more on the next start when ticks were missed, as it would after an outage).
const Schedule = "@hourly"

// Target ids of the demo.
const (
	AppTargetID   = "demo:shilishop-app"
	H5TargetID    = "demo:shilishop-h5"
	MPTargetID    = "demo:shilishop-mp"
	CleanTargetID = "demo:shilishop-clean"
)

// Expectation is one record a demo target must show: its rule, subject and the tier its evidence
// supports (rules.TierFinding or rules.TierLead).
type Expectation struct {
	Rule, Subject, Tier string
	// NeedsAPK: only the generated APK shows it (left out when the APK tools are missing).
	NeedsAPK bool
	// Shows is text the finding's own page must show ("" for nothing in particular).
	Shows string
}

// Expected are the findings each demo target must show on the dashboard (at least these; the
// clean target must show none). They are what the generated inputs were made to violate.
var Expected = map[string][]Expectation{
	AppTargetID: {
		// APK (leads: code that can, a permission outside the necessary scope): Umeng's code can
		// read the IMEI, the app's own code can list installed apps, READ_CONTACTS in a shopping
		// app
		{"gbt41391-f-non-resettable-id", "pi:device_id_hw@sdk:umeng_analytics", rules.TierLead, true, ""},
		{"gbt41391-app-list-read", "pi:app_list@app", rules.TierLead, true, ""},
		{"rdff-4.1", "perm:android.permission.READ_CONTACTS", rules.TierLead, true, ""},
		// JPush's classes are in the package and the policy's SDK list does not name it: the
		// package and the operator's own text together establish the non-disclosure (not that
		// JPush received anything)
		{"rdff-2.1", "sdk:jpush", rules.TierFinding, true, ""},
		// policy (served on loopback): the operator's own text has no deletion channel
		{"pipl-47-no-deletion", "element:account_cancellation", rules.TierFinding, false, ""},
		// HAR with the test phone's values: the IMEI to Umeng before consent, and (the hook log of
		// the same session) the read that it was
		{"rdff-3.1", "pi:device_id_hw->ulogs.umeng.com", rules.TierFinding, false, "见挂钩日志第 3 行"},
		// …and its page shows the session's timeline inline, the read before the send
		{"rdff-3.1", "pi:device_id_hw->ulogs.umeng.com", rules.TierFinding, false, "会话时间线 / session timeline: demo-phone-1"},
		// hook log: Umeng reads the IMEI before consent, and the location in the background
		{"rdff-3.1", "runtime:device_id_hw@sdk:umeng_analytics", rules.TierFinding, false, "在测试机上调用 telephony.getDeviceId"},
		{"gbt41391-6.1-background-observed", "runtime:location_precise@sdk:umeng_analytics", rules.TierFinding, false, ""},
	},
	H5TargetID: {
		// live capture in Chromium: the IMEI to the tracker before 同意 is clicked
		{"rdff-3.1", "pi:device_id_hw->" + TrackerHost, rules.TierFinding, false, ""},
	},
	MPTargetID: {
		{"mp-undeclared-private-api", "mpapi:wx.getLocation", rules.TierLead, false, ""},
		{"mp-privacy-check-missing", "mpconfig:privacy_authorization_handler", rules.TierLead, false, ""},
	},
	CleanTargetID: nil,
}

// TargetIDs lists the demo targets in the order they are shown.
var TargetIDs = []string{AppTargetID, H5TargetID, MPTargetID, CleanTargetID}

// generated are the inputs written under the import folder.
type generated struct {
	violating, clean samplegen.Files
}

// generate writes the violating and the clean inputs under dir (inside the registry's import
// folder). The outputs are deterministic, so a second run writes the same bytes; the APKs, which
// take seconds to build, are kept when a previous run left a readable one.
func generate(dir string) (generated, error) {
	var g generated
	var wg sync.WaitGroup
	var errV, errC error
	wg.Add(2)
	go func() { defer wg.Done(); g.violating, errV = writeInputs(dir, samplegen.Violating()) }()
	go func() { defer wg.Done(); g.clean, errC = writeInputs(dir, samplegen.Clean()) }()
	wg.Wait()
	if errV != nil {
		return g, errV
	}
	return g, errC
}

func writeInputs(dir string, o samplegen.Options) (samplegen.Files, error) {
	var f samplegen.Files
	name := "violating"
	if o.Clean {
		name = "clean"
	}
	base := filepath.Join(dir, name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return f, err
	}
	write := func(rel string, data []byte) (string, error) {
		p := filepath.Join(base, rel)
		return p, writeIfChanged(p, data)
	}
	var err error
	if f.Policy, err = write("privacy-policy.html", samplegen.PolicyHTML(o)); err != nil {
		return f, err
	}
	if f.HAR, err = write("capture.har", samplegen.HAR(o)); err != nil {
		return f, err
	}
	if f.DeviceValues, err = write("device.yaml", samplegen.DeviceValuesYAML()); err != nil {
		return f, err
	}
	if f.HookLog, err = write("session.jsonl", samplegen.HookLog(o)); err != nil {
		return f, err
	}
	f.MPDir = filepath.Join(base, "miniprogram")
	if err := samplegen.WriteMiniProgramDir(f.MPDir, o); err != nil {
		return f, err
	}
	pkg, err := samplegen.Wxapkg(o)
	if err != nil {
		return f, err
	}
	if f.Wxapkg, err = write(samplegen.MPAppID+".wxapkg", pkg); err != nil {
		return f, err
	}
	apk := filepath.Join(base, samplegen.Package+"-"+name+".apk")
	if readableZip(apk) {
		f.APK = apk
	} else {
		f.APK, f.APKError = samplegen.BuildAPK(base, o)
	}
	return f, nil
}

// writeIfChanged leaves a file alone when it already holds data (its evidence hash is the same).
func writeIfChanged(p string, data []byte) error {
	if old, err := os.ReadFile(p); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// readableZip reports whether p is a complete zip (a build interrupted by Ctrl-C is rebuilt).
func readableZip(p string) bool {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return false
	}
	defer zr.Close()
	return len(zr.File) > 0
}

// demoTargets returns the demo targets over the generated inputs. Without the APK tools the app
// targets go without their APK (the report says so).
func demoTargets(g generated) []scanner.Target {
	label := "（示例/generated）"
	// The capture and the hook log were recorded together on one (generated) test phone: one
	// session, so what the hook log saw read is looked for in the capture.
	device := map[string]string{"device_values": g.violating.DeviceValues, scanner.SessionOption: "demo-phone-1"}
	app := scanner.Target{
		ID: AppTargetID, Kind: scanner.TargetApp, Name: samplegen.AppName + " App" + label,
		Operator: samplegen.Operator, Category: samplegen.Category, Schedule: Schedule,
		Sources: []scanner.Source{
			{Kind: scanner.SourcePolicyURL, Locator: PolicyURL},
			{Kind: scanner.SourceHAR, Locator: g.violating.HAR, Options: device},
			{Kind: "hooklog", Locator: g.violating.HookLog, Options: map[string]string{scanner.SessionOption: "demo-phone-1"}},
		},
	}
	if g.violating.APK != "" {
		// Fetched from the operator's download link (the demo site serves the generated APK), so
		// every scheduled scan checks for a new version.
		app.Sources = append([]scanner.Source{{Kind: "apk_url", Locator: DownloadURL}}, app.Sources...)
	}
	h5 := scanner.Target{
		ID: H5TargetID, Kind: scanner.TargetSite, Name: samplegen.AppName + " H5" + label,
		Operator: samplegen.Operator, Category: samplegen.Category, Schedule: Schedule,
		Sources: []scanner.Source{
			{Kind: scanner.SourceH5URL, Locator: H5URL, Options: map[string]string{"action": "agree", "device_values": g.violating.DeviceValues}},
		},
	}
	mp := scanner.Target{
		ID: MPTargetID, Kind: scanner.TargetMiniProgram, Name: samplegen.AppName + "小程序" + label,
		Operator: samplegen.Operator, Category: samplegen.Category, Schedule: Schedule,
		Sources: []scanner.Source{
			{Kind: scanner.SourceWxapkg, Locator: g.violating.Wxapkg},
			{Kind: scanner.SourcePolicyURL, Locator: PolicyURL},
		},
	}
	clean := scanner.Target{
		ID: CleanTargetID, Kind: scanner.TargetApp, Name: samplegen.AppName + "（合规对照）" + label,
		Operator: samplegen.Operator, Category: samplegen.Category, Schedule: Schedule,
		Sources: []scanner.Source{
			{Kind: scanner.SourcePolicyURL, Locator: CleanPolicyURL},
			{Kind: scanner.SourceHAR, Locator: g.clean.HAR, Options: map[string]string{"device_values": g.clean.DeviceValues}},
			{Kind: scanner.SourceWxapkg, Locator: g.clean.Wxapkg},
			{Kind: scanner.SourceH5URL, Locator: CleanH5URL, Options: map[string]string{"action": "agree", "device_values": g.clean.DeviceValues}},
		},
	}
	if g.clean.APK != "" {
		clean.Sources = append([]scanner.Source{{Kind: scanner.SourceAPK, Locator: g.clean.APK}}, clean.Sources...)
	}
	return []scanner.Target{app, h5, mp, clean}
}

// apkMissing says why the APKs were not built ("" when they were).
func (g generated) apkMissing() string {
	for _, e := range []error{g.violating.APKError, g.clean.APKError} {
		if e != nil {
			return fmt.Sprint(e)
		}
	}
	return ""
}
