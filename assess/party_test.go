package assess

import (
	"strings"
	"testing"

	"pilmon/rules"
	"pilmon/scanner"
)

// TestPartyWording: a lead says "App 自有代码" only for calls of party app; calls of unidentified
// third-party code are worded as such, in a lead of their own; library code raises nothing.
func TestPartyWording(t *testing.T) {
	a := New(mustCatalogue(t))
	tg := scanner.Target{ID: "apk", Category: "online_shopping"}
	api := func(caller, party, sdk, lib string) scanner.Observation {
		return obs("apk.sensitive_api", "telephony.getDeviceId @ "+caller, map[string]any{"api": "telephony.getDeviceId", "caller_class": caller, "caller_method": "id",
			"party": party, "sdk": sdk, "library": lib, "pi": []string{"device_id_hw"}})
	}
	perm := obs("apk.permission", "android.permission.READ_PHONE_STATE", map[string]any{"permission": "android.permission.READ_PHONE_STATE", "pi": []string{"device_id_hw"}, "protection": "runtime"})
	in := []scanner.Observation{inventory(true, false, false), apkIdentity(), perm,
		api("cn.example.shop.Main", "app", "", ""),
		api("com.vendor.kit.DeviceHelper", "unidentified", "", ""),
		api("androidx.core.telephony.TelephonyManagerCompat", "library:androidx_core", "", "androidx_core"),
		api("com.umeng.a.ImeiTracker", "sdk:umeng_analytics", "umeng_analytics", "")}
	fs := raised(a.Assess(tg, "s", in, t0), "gbt41391-f-non-resettable-id")
	by := map[string]string{}
	for _, f := range fs {
		by[f.Subject] = f.Summary.ZH + " | " + f.Summary.EN
	}
	for subject, c := range map[string]struct{ want, not []string }{
		"pi:device_id_hw@app":                 {[]string{"App 自有代码", "The app's own code", "cn.example.shop.Main"}, []string{"未识别", "Unidentified"}},
		"pi:device_id_hw@unidentified":        {[]string{"归属未识别的代码", "Code of unidentified ownership", "com.vendor.kit.DeviceHelper"}, []string{"App 自有代码", "own code"}},
		"pi:device_id_hw@sdk:umeng_analytics": {[]string{"com.umeng.a.ImeiTracker"}, []string{"App 自有代码", "未识别"}},
	} {
		s, ok := by[subject]
		if !ok {
			t.Errorf("no lead %s (leads: %v)", subject, ruleIDs(fs))
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: summary lacks %q: %s", subject, w, s)
			}
		}
		for _, w := range c.not {
			if strings.Contains(s, w) {
				t.Errorf("%s: summary says %q: %s", subject, w, s)
			}
		}
	}
	if len(fs) != 3 {
		t.Errorf("want 3 leads (app, unidentified, Umeng; none for AndroidX), got %d: %v", len(fs), by)
	}
}

// TestWeakSDKWording: a summary naming an SDK whose detection is weak says so; a strong one does not.
func TestWeakSDKWording(t *testing.T) {
	a := New(mustCatalogue(t))
	tg := scanner.Target{ID: "apk", Category: "online_shopping"}
	sdk := func(strength string) scanner.Observation {
		return obs("apk.sdk", "getui_push", map[string]any{"sdk": "getui_push", "sdk_kind": "push", "via": []string{"manifest_key"}, "pi": []string{"device_id_hw", "app_list"},
			"classes": 0, "strength": strength, "signals": []string{"classes: 0", "manifest_key: GETUI_APPID"}})
	}
	for _, c := range []struct {
		strength string
		weak     bool
	}{{"weak", true}, {"strong", false}} {
		fs := raised(a.Assess(tg, "s", []scanner.Observation{inventory(true, false, false), apkIdentity(), sdk(c.strength)}, t0), "gbt41391-6.6-sdk-collects-persistent-ids")
		if len(fs) != 1 {
			t.Fatalf("%s: %d findings", c.strength, len(fs))
		}
		s := fs[0].Summary
		if got := strings.Contains(s.ZH, "弱识别") && strings.Contains(s.EN, "weak detection"); got != c.weak {
			t.Errorf("%s detection: summary says weak = %v: %s | %s", c.strength, got, s.ZH, s.EN)
		}
		if fs[0].Tier != rules.TierLead {
			t.Errorf("%s: tier %s", c.strength, fs[0].Tier)
		}
	}
}
