package assess

import (
	"strings"
	"testing"

	"pilmon/scanner"
)

// A static lead whose API the same party was seen calling in the scan's runtime log says so; a
// runtime call by another party does not count for it.
func TestStaticLeadNamesItsRuntimeCall(t *testing.T) {
	a := New(mustCatalogue(t))
	tg := scanner.Target{ID: "apk", Category: "online_shopping"}
	api := func(caller, party, sdk string) scanner.Observation {
		return obs("apk.sensitive_api", "telephony.getDeviceId @ "+caller, map[string]any{"api": "telephony.getDeviceId", "caller_class": caller, "caller_method": "id",
			"party": party, "sdk": sdk, "library": "", "pi": []string{"device_id_hw"}})
	}
	run := obs("runtime.api_call", "telephony.getDeviceId by sdk:umeng_analytics after_consent foreground", map[string]any{
		"api": "telephony.getDeviceId", "pi": []string{"device_id_hw"}, "party": "sdk:umeng_analytics", "party_kind": "sdk", "sdk": "umeng_analytics",
		"library": "", "phase": "after_consent", "phase_source": "device_event", "foreground": "foreground", "format": "pilmon", "count": 2, "rows": []string{"4"}})
	perm := obs("apk.permission", "android.permission.READ_PHONE_STATE", map[string]any{"permission": "android.permission.READ_PHONE_STATE", "pi": []string{"device_id_hw"}, "protection": "runtime"})
	in := []scanner.Observation{inventory(true, false, false), apkIdentity(), perm,
		api("cn.example.shop.Main", "app", ""), api("com.umeng.a.ImeiTracker", "sdk:umeng_analytics", "umeng_analytics"), run}
	by := map[string]string{}
	for _, f := range raised(a.Assess(tg, "s", in, t0), "gbt41391-f-non-resettable-id") {
		by[f.Subject] = f.Summary.ZH + " | " + f.Summary.EN
	}
	if s := by["pi:device_id_hw@sdk:umeng_analytics"]; !strings.Contains(s, "运行时记录已观察到 telephony.getDeviceId") || !strings.Contains(s, "runtime log from the test phone shows telephony.getDeviceId") {
		t.Errorf("Umeng's static lead does not name the runtime call: %q", s)
	}
	if s, ok := by["pi:device_id_hw@app"]; !ok || strings.Contains(s, "运行时记录已观察到") {
		t.Errorf("the app's own static lead names Umeng's runtime call (or is missing): %q", s)
	}
}
