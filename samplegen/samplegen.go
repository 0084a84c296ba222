// Package samplegen generates the inputs of one fictional target — a privacy policy, a HAR with
// the test phone's device values, a WeChat mini-program (folder and .wxapkg) and an APK — in a
// violating and a clean form, so that tests, benchmarks and the demo exercise every inspector and
// the assessment without anyone's real app. Everything it writes says it is generated (示例 /
// generated) and names the fictional operator 示例科技有限公司（虚构）.
//
// The outputs are deterministic: the same options give the same bytes (fixed timestamps in
// archives, a fixed signing key), so evidence hashes and golden findings are stable.
package samplegen

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pilmon/scanner"
)

// The fictional target.
const (
	Operator    = "示例科技有限公司（虚构）"
	AppName     = "示例商城"
	Package     = "cn.example.shilishop"
	MPAppID     = "wx00000000shilishop"
	FirstParty  = "api.shilishop.example.cn"
	TrackerHost = "ulogs.umeng.com" // Umeng's collection host: a catalogue SDK domain
	// Category is the app category an analyst would give the target (2021 necessary-PI scope).
	Category = "online_shopping"
)

// Options choose what the target gets wrong. The zero value is the violating target; Clean()
// is its lawful counterpart.
type Options struct {
	// Clean generates the lawful counterpart of every input.
	Clean bool
	// OmitDeletion leaves the account-deletion channel out of the policy (violating default: true
	// unless Clean).
	OmitDeletion bool
	// UndisclosedSDKs are SDK ids embedded in the APK but left out of the policy.
	UndisclosedSDKs []string
}

// Violating returns the options of the violating target: the policy has no deletion channel and
// does not disclose JPush; the HAR sends the IMEI to Umeng before consent; the mini-program calls
// wx.getLocation without requiredPrivateInfos; the APK embeds Umeng and JPush, reads the IMEI and
// the app list and requests READ_CONTACTS, which online shopping does not need.
func Violating() Options { return Options{OmitDeletion: true, UndisclosedSDKs: []string{"jpush"}} }

// Clean returns the options of the lawful counterpart.
func Clean() Options { return Options{Clean: true} }

func (o Options) undisclosed(id string) bool {
	for _, s := range o.UndisclosedSDKs {
		if s == id {
			return true
		}
	}
	return false
}

// Files names what WriteTarget wrote.
type Files struct {
	Policy       string
	HAR          string
	DeviceValues string
	// HookLog is the runtime hook log of the same session as HAR (written by the demo).
	HookLog  string
	MPDir    string
	Wxapkg   string
	APK      string // empty when the APK tools are missing (APKError says why)
	APKError error
}

// WriteTarget writes every input of the target under dir and returns the target (sources in a
// fixed order) and the paths. The APK needs Debian's aapt, smali, zipalign, apksigner and openssl;
// without them the APK is left out and Files.APKError says why.
func WriteTarget(dir string, o Options) (scanner.Target, Files, error) {
	var f Files
	name := "violating"
	if o.Clean {
		name = "clean"
	}
	base := filepath.Join(dir, name)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return scanner.Target{}, f, err
	}
	write := func(rel string, data []byte) (string, error) {
		p := filepath.Join(base, rel)
		return p, os.WriteFile(p, data, 0o644)
	}
	var err error
	if f.Policy, err = write("privacy-policy.html", PolicyHTML(o)); err != nil {
		return scanner.Target{}, f, err
	}
	if f.HAR, err = write("capture.har", HAR(o)); err != nil {
		return scanner.Target{}, f, err
	}
	if f.DeviceValues, err = write("device.yaml", DeviceValuesYAML()); err != nil {
		return scanner.Target{}, f, err
	}
	f.MPDir = filepath.Join(base, "miniprogram")
	if err := WriteMiniProgramDir(f.MPDir, o); err != nil {
		return scanner.Target{}, f, err
	}
	pkg, err := Wxapkg(o)
	if err != nil {
		return scanner.Target{}, f, err
	}
	if f.Wxapkg, err = write(MPAppID+".wxapkg", pkg); err != nil {
		return scanner.Target{}, f, err
	}
	f.APK, f.APKError = BuildAPK(base, o)
	t := scanner.Target{
		ID: "sample:" + name, Kind: scanner.TargetApp, Name: AppName + "（示例/generated）", Operator: Operator, Category: Category,
		Sources: []scanner.Source{
			{Kind: scanner.SourcePolicyFile, Locator: f.Policy},
			{Kind: scanner.SourceHAR, Locator: f.HAR, Options: map[string]string{"device_values": f.DeviceValues}},
			{Kind: scanner.SourceMPDir, Locator: f.MPDir},
			{Kind: scanner.SourceWxapkg, Locator: f.Wxapkg},
		},
	}
	if f.APK != "" {
		t.Sources = append([]scanner.Source{{Kind: scanner.SourceAPK, Locator: f.APK}}, t.Sources...)
	}
	return t, f, nil
}

// writeFiles writes name → content under dir in name order.
func writeFiles(dir string, files map[string]string) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.Contains(n, "..") {
			return fmt.Errorf("samplegen: bad name %q", n)
		}
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(files[n]), 0o644); err != nil {
			return err
		}
	}
	return nil
}
