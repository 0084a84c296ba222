package rules

import (
	"encoding/json"
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func mustDefault(t testing.TB) *Catalogue {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return c
}

func TestDefaultLoads(t *testing.T) {
	c := mustDefault(t)
	s := c.Stats()
	t.Log(c.String())
	if s.PICategories != 45 {
		t.Errorf("PI categories = %d, want 45", s.PICategories)
	}
	if s.Permissions < 60 {
		t.Errorf("permissions = %d, want >= 60", s.Permissions)
	}
	if s.SensitiveAPIs < 40 {
		t.Errorf("sensitive APIs = %d, want >= 40", s.SensitiveAPIs)
	}
	if s.SDKs < 60 {
		t.Errorf("SDKs = %d, want >= 60", s.SDKs)
	}
	if s.AppCategories != 39 {
		t.Errorf("app categories = %d, want 39", s.AppCategories)
	}
	if s.ObservationKinds == 0 {
		t.Error("no observation kinds")
	}
	noPI := 0
	for _, a := range c.AppCategories() {
		if a.NoPIRequired {
			noPI++
		}
	}
	if noPI != 13 {
		t.Errorf("no-PI app categories = %d, want 13 (2021 scope)", noPI)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	var back struct {
		Stats Stats `json:"stats"`
		SDKs  []SDK `json:"sdks"`
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Stats.SDKs != s.SDKs || len(back.SDKs) != s.SDKs {
		t.Errorf("JSON round trip: err=%v stats=%+v sdks=%d", err, back.Stats, len(back.SDKs))
	}
}

// Every SDK of the reference's Chinese list and the named well-known ones is present.
func TestRequiredSDKs(t *testing.T) {
	c := mustDefault(t)
	for _, id := range []string{"umeng_analytics", "jpush", "getui_push", "bugly", "gdt", "pangle", "baidu_mobstat", "amap",
		"alipay_sdk", "wechat_opensdk", "sensors", "growingio", "talkingdata", "msa_oaid", "cmcc_auth", "cucc_auth", "ctcc_auth",
		"xiaomi_push", "huawei_push", "oppo_push", "vivo_push", "firebase_analytics", "google_admob", "facebook_sdk",
		"firebase_crashlytics", "appsflyer", "adjust", "huawei_hms_core", "tencent_mta", "tencent_tbs"} {
		if _, ok := c.SDK(id); !ok {
			t.Errorf("SDK %s missing", id)
		}
	}
}

func TestSDKForClass(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		class, want string
	}{
		{"com.loc.x.Y", "amap"},
		{"com.loc", "amap"},
		{"com.localytics.android.Localytics", "localytics"}, // derived from Exodus; not amap's com.loc
		{"com.localyticsx.Foo", ""},
		{"com.umeng.analytics.MobclickAgent", "umeng_analytics"},
		{"com.umeng.message.PushAgent", "umeng_push"},
		{"com.umeng", ""},
		{"com.tencent.mm.opensdk.openapi.WXAPIFactory", "wechat_opensdk"},
		{"com.tencent.mm.opensdk.modelpay.PayReq", "wechat_pay_tenpay"}, // longest prefix wins
		{"com.tencent.mm.opensdkx.Foo", ""},
		{"cn.jpush.android.api.JPushInterface", "jpush"},
		{"com.ta.utdid2.device.UTDevice", "alibaba_utdid"},
		{"com.google.android.gms.measurement.AppMeasurement", "firebase_analytics"},
		{"com.example.app.MainActivity", ""},
		{"", ""},
		{".", ""},
		{"com..loc", ""},
	}
	for _, tc := range cases {
		got, ok := c.SDKForClass(tc.class)
		if ok != (tc.want != "") || got.ID != tc.want {
			t.Errorf("SDKForClass(%q) = %q,%v want %q", tc.class, got.ID, ok, tc.want)
		}
	}
}

func TestSDKForHostAndKeys(t *testing.T) {
	c := mustDefault(t)
	cases := []struct{ host, want string }{
		{"alog.umeng.com", "umeng_analytics"}, // listed by several Umeng SDKs; U-App Analytics has priority
		{"gdt.qq.com", "gdt"},
		{"v.gdt.qq.com", "gdt"},
		{"qq.com", ""},     // shared by many Tencent SDKs
		{"www.qq.com", ""}, // parent ambiguous too
		{"APPSFLYER.COM.", "appsflyer"},
		{"t.appsflyer.com:443", "appsflyer"},
		{"notappsflyer.com", ""},
		{"adiu.amap.com", "amap"},
		{"example.org", ""},
	}
	for _, tc := range cases {
		got, ok := c.SDKForHost(tc.host)
		if ok != (tc.want != "") || got.ID != tc.want {
			t.Errorf("SDKForHost(%q) = %q,%v want %q", tc.host, got.ID, ok, tc.want)
		}
	}
	if all := c.SDKsForHost("alog.umeng.com"); len(all) < 2 {
		t.Errorf("SDKsForHost(alog.umeng.com) = %d candidates, want several", len(all))
	}
	for key, want := range map[string]string{"UMENG_APPKEY": "umeng_analytics", "JPUSH_APPKEY": "jpush", "com.amap.api.v2.apikey": "amap",
		"com.baidu.lbsapi.API_KEY": "baidu_map", "BUGLY_APPID": "bugly", "GETUI_APPID": "getui_push", "TencentMapSDK": "tencent_location",
		"com.huawei.hms.client.appid": "huawei_hms_core", "XIAOMI_APPKEY": "xiaomi_push"} {
		got, ok := c.SDKForManifestKey(key)
		if !ok || got.ID != want {
			t.Errorf("SDKForManifestKey(%q) = %q,%v want %q", key, got.ID, ok, want)
		}
	}
	if _, ok := c.SDKForManifestKey("umeng_appkey"); ok {
		t.Error("manifest keys are case-sensitive")
	}
}

func TestAccessors(t *testing.T) {
	c := mustDefault(t)
	p, ok := c.Permission("android.permission.READ_CONTACTS")
	if !ok || p.Kind != "runtime" || len(p.PI) == 0 || p.Description.ZH == "" || p.Description.EN == "" {
		t.Errorf("READ_CONTACTS = %+v, %v", p, ok)
	}
	if p, ok := c.Permission("android.permission.health.READ_HEART_RATE"); !ok || p.Name != "android.permission.health.*" {
		t.Errorf("health wildcard: %q %v", p.Name, ok)
	}
	if _, ok := c.Permission("android.permission.health."); ok {
		t.Error("the bare wildcard prefix must not match")
	}
	if _, ok := c.Permission("android.permission.VIBRATE"); ok {
		t.Error("VIBRATE is not PI-related and not in the catalogue")
	}
	apis := c.APIsForDescriptor("Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;")
	if len(apis) != 1 || apis[0].ID != "telephony.getDeviceId" {
		t.Errorf("getDeviceId descriptor → %v", ids(apis))
	}
	if apis := c.APIsForDescriptor("Landroid/telephony/TelephonyManager;->getNothing()V"); len(apis) != 0 {
		t.Errorf("unknown descriptor → %v", ids(apis))
	}
	// method-name-only entries match any overload
	var prefixDesc string
	for _, a := range c.SensitiveAPIs() {
		for _, d := range a.Descriptors {
			if memberBase(d) == d && prefixDesc == "" {
				prefixDesc = d
			}
		}
	}
	if prefixDesc == "" {
		t.Fatal("no method-name-only descriptor in the catalogue")
	}
	if apis := c.APIsForDescriptor(prefixDesc + "(Ljava/lang/Object;I)V"); len(apis) == 0 {
		t.Errorf("overload of %s not matched", prefixDesc)
	}
	if !c.IsSensitive("location_precise") || !c.IsSensitive("contacts") || c.IsSensitive("device_id_hw") || c.IsSensitive("nope") {
		t.Error("IsSensitive wrong")
	}
	a, ok := c.AppCategory("map_navigation")
	if !ok || a.ID != "01" || !c.IsNecessaryPI("map_navigation", "location_precise") || c.IsNecessaryPI("map_navigation", "contacts") {
		t.Errorf("map_navigation = %+v %v", a, ok)
	}
	if _, ok := c.ObservationKind("apk.permission"); !ok {
		t.Error("apk.permission kind missing")
	}
	// every sensitive API names a resolvable permission or none
	for _, api := range c.SensitiveAPIs() {
		if api.Permission != "" {
			if _, ok := c.Permission(api.Permission); !ok {
				t.Errorf("%s: permission %s unresolved", api.ID, api.Permission)
			}
		}
	}
}

func ids(apis []SensitiveAPI) []string {
	var s []string
	for _, a := range apis {
		s = append(s, a.ID)
	}
	return s
}

// copyFS copies the embedded data folder into a MapFS the test may break.
func copyFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	err := fs.WalkDir(EmbeddedFS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(EmbeddedFS(), p)
		if err != nil {
			return err
		}
		m[p] = &fstest.MapFile{Data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lineOf returns the 1-based line of the first occurrence of needle in the file.
func lineOf(t testing.TB, data []byte, needle string) int {
	t.Helper()
	i := strings.Index(string(data), needle)
	if i < 0 {
		t.Fatalf("%q not in file", needle)
	}
	return strings.Count(string(data[:i]), "\n") + 1
}

func replaceOnce(t testing.TB, m fstest.MapFS, file, old, new string) int {
	t.Helper()
	data := m[file].Data
	line := lineOf(t, data, old)
	m[file] = &fstest.MapFile{Data: []byte(strings.Replace(string(data), old, new, 1))}
	return line
}

func wantProblem(t *testing.T, err error, want string) {
	t.Helper()
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("Load error = %v, want *LoadError containing %q", err, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("Load error does not contain %q:\n%v", want, err)
	}
}

func TestBrokenReferencesNameFileAndLine(t *testing.T) {
	t.Run("unknown PI in app category", func(t *testing.T) {
		m := copyFS(t)
		line := replaceOnce(t, m, FileAppCategories, "pi: [location_precise, location_coarse]", "pi: [location_precis, location_coarse]")
		_, err := Load(m)
		wantProblem(t, err, "app_categories.yaml:"+itoa(line)+": app category map_navigation names unknown PI category \"location_precis\"")
	})
	t.Run("unknown permission justified", func(t *testing.T) {
		m := copyFS(t)
		line := replaceOnce(t, m, FileAppCategories, "android.permission.ACCESS_FINE_LOCATION", "android.permission.ACCESS_FINEST_LOCATION")
		_, err := Load(m)
		wantProblem(t, err, "app_categories.yaml:"+itoa(line)+": app category map_navigation names unknown permission")
	})
	t.Run("duplicate class prefix", func(t *testing.T) {
		m := copyFS(t)
		line := replaceOnce(t, m, FileSDKs, "class_prefixes: [com.umeng.socialize]", "class_prefixes: [com.umeng.message]")
		_, err := Load(m)
		wantProblem(t, err, "sdks.yaml:"+itoa(line)+": SDK umeng_share: class prefix \"com.umeng.message\" already belongs to SDK umeng_push")
	})
	t.Run("shared domain without priority", func(t *testing.T) {
		m := copyFS(t)
		replaceOnce(t, m, FileSDKs, "  priority: 1\n  examples:\n    positive: {classes: [com.umeng.analytics.a", "  examples:\n    positive: {classes: [com.umeng.analytics.a")
		_, err := Load(m)
		wantProblem(t, err, "SDK umeng_push: domain \"umeng.com\" is also listed by SDK umeng_analytics with the same priority")
	})
	t.Run("SDK without examples", func(t *testing.T) {
		m := copyFS(t)
		replaceOnce(t, m, FileSDKs, "    positive: {classes: [com.umeng.socialize.a]}\n", "")
		_, err := Load(m)
		wantProblem(t, err, "SDK umeng_share: needs examples with at least one positive and one negative")
	})
	t.Run("unknown family", func(t *testing.T) {
		m := copyFS(t)
		line := replaceOnce(t, m, FileViolations, "family: minors", "family: minor")
		_, err := Load(m)
		wantProblem(t, err, "violations.yaml:"+itoa(line)+": violation pipl-31-minors-rules-missing names unknown family \"minor\"")
	})
	t.Run("unknown summary placeholder", func(t *testing.T) {
		m := copyFS(t)
		replaceOnce(t, m, FileViolations, "{{list .Hosts}} 收到", "{{list .Host}} 收到")
		_, err := Load(m)
		wantProblem(t, err, "violation rdff-3.3 summary for traffic.pi_sent zh: placeholder .Host is not one of")
	})
	t.Run("confidence reason placeholder", func(t *testing.T) {
		m := copyFS(t)
		replaceOnce(t, m, FileObservationKinds, "的真实标识（{{.detector}}）", "的真实标识（{{.detectr}}）")
		_, err := Load(m)
		wantProblem(t, err, "kind traffic.pi_sent confidence 1 zh: placeholder .detectr is not one of")
	})
	t.Run("unknown field", func(t *testing.T) {
		m := copyFS(t)
		line := replaceOnce(t, m, FilePICategories, "  pipl_art28: 'yes'", "  pipl_art_28: 'yes'")
		_, err := Load(m)
		wantProblem(t, err, "pi_categories.yaml:"+itoa(line)+": unknown field \"pipl_art_28\"")
	})
	t.Run("missing en text", func(t *testing.T) {
		m := copyFS(t)
		line := replaceOnce(t, m, FilePermissions, "en: 'access fine location: precise location'", "en: ''")
		_, err := Load(m)
		wantProblem(t, err, "permissions.yaml:"+itoa(line)+": description: missing en text")
	})
	t.Run("syntax error", func(t *testing.T) {
		m := copyFS(t)
		m[FileSDKs] = &fstest.MapFile{Data: []byte("version: 1\nsdks:\n  - id: x\n   bad: [\n")}
		_, err := Load(m)
		wantProblem(t, err, "sdks.yaml:")
	})
	t.Run("unknown article in violation", func(t *testing.T) {
		m := copyFS(t)
		if m[FileViolations] == nil || m[FileInstruments] == nil {
			t.Skip("violations.yaml or legal_instruments.yaml not present yet")
		}
		c, err := Load(m)
		if err != nil {
			t.Fatal(err)
		}
		var v Violation
		for _, x := range c.Violations() {
			for _, cit := range x.LegalBasis {
				if cit.Instrument == "pipl" {
					v = x
					break
				}
			}
			if v.ID != "" {
				break
			}
		}
		if v.ID == "" {
			t.Skip("no violation cites pipl")
		}
		// break the first pipl citation of that violation
		data := string(m[FileViolations].Data)
		start := strings.Index(data, "id: "+v.ID+"\n")
		var old string
		for _, cit := range v.LegalBasis {
			if cit.Instrument == "pipl" {
				old = `"` + cit.String() + `"`
				break
			}
		}
		off := strings.Index(data[start:], old)
		if start < 0 || off < 0 {
			t.Skipf("citation of %s not written as %s", v.ID, old)
		}
		line := strings.Count(data[:start+off], "\n") + 1
		data = data[:start+off] + `"pipl:999"` + data[start+off+len(old):]
		m[FileViolations] = &fstest.MapFile{Data: []byte(data)}
		_, err = Load(m)
		wantProblem(t, err, "violations.yaml:"+itoa(line)+": violation "+v.ID+" cites unknown article pipl:999")
	})
	t.Run("unknown catalogue file", func(t *testing.T) {
		m := copyFS(t)
		m["sdk.yaml"] = &fstest.MapFile{Data: []byte("version: 1\n")}
		_, err := Load(m)
		wantProblem(t, err, "sdk.yaml: unknown catalogue file")
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

func BenchmarkLoad(b *testing.B) {
	for _, tc := range []struct {
		name string
		fsys fs.FS
	}{{"hand-written", withoutFile{embeddedData(), FileSDKsDerived}}, {"shipped", EmbeddedFS()}} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Load(tc.fsys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
