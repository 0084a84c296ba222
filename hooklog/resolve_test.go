package hooklog

import (
	"testing"

	"pilmon/apkinspect"
	"pilmon/rules"
)

func TestFrameMember(t *testing.T) {
	for in, want := range map[string][2]string{
		"   android.telephony.TelephonyManager.getDeviceId(Native Method)\r": {"android.telephony.TelephonyManager", "getDeviceId"},
		"at com.x.A$B.run(A.java:12)":                                        {"com.x.A$B", "run"},
		"com.shop.app.MainActivity.onCreate() 44 <- ":                        {"com.shop.app.MainActivity", "onCreate"},
		"   ⭐ io.flutter.plugins.DeviceInfo.onMethodCall(Unknown)":           {"io.flutter.plugins.DeviceInfo", "onMethodCall"},
	} {
		cls, m, ok := frameMember(in)
		if !ok || cls != want[0] || m != want[1] {
			t.Errorf("%q: %q %q %v, want %v", in, cls, m, ok, want)
		}
	}
	for _, in := range []string{"java.lang.Exception", "", "(x)", "noclass(x)", "a b.c(x)", "com.x.(y)"} {
		if cls, m, ok := frameMember(in); ok {
			t.Errorf("%q read as %q.%q", in, cls, m)
		}
	}
}

func resolved(t *testing.T, cat *rules.Catalogue, app string, e Event) Event {
	t.Helper()
	l := &Log{Events: []Event{e}}
	newResolver(cat, app).resolve(l)
	return l.Events[0]
}

// TestParty: each rule of the party with a case it decides and one it does not.
func TestParty(t *testing.T) {
	cat := testCatalogue(t)
	imei := "android.telephony.TelephonyManager.getDeviceId(Native Method)"
	cases := []struct {
		name        string
		app         string
		stack       []string
		party       string
		basis       string
		callerParty string
	}{
		{"sdk frame", appPkg, []string{imei, "cn.jpush.android.d.a(Unknown)", "com.shop.app.A.b(A.java:1)"}, "sdk:jpush", PartyBasisFrame, ""},
		{"app frame", appPkg, []string{imei, "com.shop.app.A.b(A.java:1)"}, "app", PartyBasisFrame, ""},
		{"app frame without the app package", "", []string{imei, "com.shop.app.A.b(A.java:1)"}, "unidentified", PartyBasisFrame, ""},
		{"uncatalogued third party", appPkg, []string{imei, "com.vendor.x.Y.z(Y.java:1)", "com.shop.app.A.b(A.java:1)"}, "unidentified", PartyBasisFrame, ""},
		// Xposed and the platform sit between the API and the caller: skipped.
		{"hook and platform frames skipped", appPkg, []string{imei, "de.robv.android.xposed.XposedBridge.handleHookedMethod(XposedBridge.java:1)",
			"LSPHooker_.getDeviceId(Unknown)", "java.lang.reflect.Method.invoke(Native Method)",
			"com.umeng.commonsdk.a.b(Unknown)", "kotlinx.coroutines.DispatchedTask.run(Unknown)"}, umeng, PartyBasisFrame, ""},
		// A library's frame is the party as in apkinspect; the code that asked it is kept beside.
		{"library and its caller", appPkg, []string{imei, "androidx.core.telephony.TelephonyManagerCompat.getImei(Unknown)",
			"com.shop.app.A.b(A.java:1)"}, "library:androidx_core", PartyBasisFrame, "app"},
		{"only platform frames", appPkg, []string{imei, "android.app.ActivityThread.main(ActivityThread.java:1)"}, "unidentified", PartyBasisNoAppCode, ""},
		{"no stack", appPkg, nil, "unidentified", PartyBasisNoStack, ""},
	}
	for _, c := range cases {
		e := resolved(t, cat, c.app, Event{Stack: c.stack, Args: []string{}})
		if e.Party != c.party || e.PartyBasis != c.basis || e.CallerParty != c.callerParty {
			t.Errorf("%s: party %q basis %q caller %q; want %q %q %q", c.name, e.Party, e.PartyBasis, e.CallerParty, c.party, c.basis, c.callerParty)
		}
		if c.stack != nil && e.API != "telephony.getDeviceId" {
			t.Errorf("%s: api %q", c.name, e.API)
		}
	}
	// The API's own frame is not its caller: an SDK API (AMap's location client) called by the app
	// is the app's call, not AMap's.
	amap := []string{"com.amap.api.location.AMapLocationClient.startLocation(Unknown)", "com.shop.app.Map.go(Map.java:3)"}
	if e := resolved(t, cat, appPkg, Event{Stack: amap}); e.API == "" || e.Party != "app" {
		t.Errorf("SDK API called by the app: api %q party %q", e.API, e.Party)
	}
	// Without a catalogue nothing maps and no SDK is named.
	if e := resolved(t, nil, appPkg, Event{Stack: []string{imei, "cn.jpush.android.d.a(Unknown)"}}); e.API != "" || e.Party != "unidentified" {
		t.Errorf("nil catalogue: api %q party %q", e.API, e.Party)
	}
}

// TestLabelMapping: a label maps only when exactly one catalogue id fits it.
func TestLabelMapping(t *testing.T) {
	cat := testCatalogue(t)
	for label, want := range map[string]string{
		"getDeviceId":       "telephony.getDeviceId", // PrivacySentry 函数名, one entry
		"telephony.getImei": "telephony.getImei",     // pilmon's own id
		"android.telephony.TelephonyManager.getSubscriberId": "telephony.getSubscriberId",
		"getString": "", // Settings$Secure and Settings$System
		"获取IMEI":    "", // a description, not a name
		"getFoo":    "",
	} {
		if e := resolved(t, cat, "", Event{ToolAPI: label}); e.API != want {
			t.Errorf("label %q: api %q, want %q", label, e.API, want)
		}
	}
	// Arguments narrow the label too: getString with "android_id" is still two entries (Secure and
	// System), so only the stack decides.
	if e := resolved(t, cat, "", Event{ToolAPI: "getString", Args: []string{"android_id"}}); e.API != "" {
		t.Errorf("getString(android_id) by label: %q", e.API)
	}
}

// TestClassOwnership pins the exported apkinspect rule hooklog relies on.
func TestClassOwnership(t *testing.T) {
	own := apkinspect.ClassOwnership(testCatalogue(t), appPkg)
	for cls, want := range map[string]string{
		"com.shop.app.ui.Main":                     "app",
		"com.shop.other.X":                         "unidentified",
		"com.umeng.commonsdk.UMConfigure":          umeng,
		"android.support.v4.content.ContextCompat": "library:android_support_v4",
	} {
		if got := own.Of(cls).Party; got != want {
			t.Errorf("%s: %q, want %q", cls, got, want)
		}
	}
	if got := apkinspect.ClassOwnership(testCatalogue(t), "").Of("com.shop.app.ui.Main").Party; got != "unidentified" {
		t.Errorf("no app package: %q", got)
	}
}

func TestClockJumps(t *testing.T) {
	l := &Log{Events: []Event{{Row: 1, ms: 10_000, hasMs: true}, {Row: 2, ms: 9_500, hasMs: true}, {Row: 3, ms: 5_000, hasMs: true}, {Row: 4, hasMs: false}, {Row: 5, ms: 6_000, hasMs: true}}}
	newResolver(nil, "").resolve(l)
	if len(l.ClockJumps) != 1 || l.ClockJumps[0].Row != 3 || l.ClockJumps[0].BackMs != 4500 {
		t.Errorf("jumps %+v (0.5 s back is no jump, 4.5 s is)", l.ClockJumps)
	}
}
