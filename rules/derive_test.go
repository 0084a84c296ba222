package rules

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

func deriveInputs(t *testing.T) DeriveInputs {
	t.Helper()
	dir := corpus.Path(t, "corpus", "trackers")
	in, err := ReadDeriveInputs(dir)
	if err != nil {
		t.Skipf("tracker lists incomplete in %s: %v", dir, err)
	}
	return in
}

// The committed sdks_derived.yaml is what the generator makes of the current inputs and the
// current sdks.yaml: regenerate with `go run ./rules/cmd/gensdks` when this fails.
func TestDerivedFileIsFresh(t *testing.T) {
	in := deriveInputs(t)
	d, _, err := DeriveSDKs(handWritten(t), in)
	if err != nil {
		t.Fatal(err)
	}
	want, err := MarshalDerived(d, in)
	if err != nil {
		t.Fatal(err)
	}
	have, err := fs.ReadFile(EmbeddedFS(), FileSDKsDerived)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("rules/data/%s is stale (inputs or sdks.yaml changed): run go run ./rules/cmd/gensdks", FileSDKsDerived)
	}
	again, _ := MarshalDerived(d, in)
	if !bytes.Equal(again, want) {
		t.Fatal("MarshalDerived is not deterministic")
	}
}

// The goals of the built-in catalogue: ≥ 80 % of camille's entries, ≥ 90 % of the Exodus trackers
// with a code signature, ≥ 400 SDKs, measured with the catalogue's own matchers (MeasureCoverage
// defines "recognised").
func TestSDKCoverageGoals(t *testing.T) {
	in := deriveInputs(t)
	c := mustDefault(t)
	cov, err := MeasureCoverage(c, in)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("camille %d/%d (%.1f%%; attributed to any SDK: %d), exodus %d/%d (%.1f%%; any SDK: %d), SDKs %d", cov.CamilleHits, cov.CamilleEntries, cov.CamillePercent(), cov.CamilleAttributed, cov.ExodusHits, cov.ExodusTrackers, cov.ExodusPercent(), cov.ExodusAttributed, cov.SDKs)
	for _, m := range cov.CamilleMisses {
		t.Logf("camille miss: %s", m)
	}
	for _, m := range cov.ExodusMisses {
		t.Logf("exodus miss: %s", m)
	}
	if cov.CamilleEntries != 563 || cov.ExodusTrackers != 428 {
		t.Errorf("inputs changed: %d camille entries, %d trackers with a code signature", cov.CamilleEntries, cov.ExodusTrackers)
	}
	if cov.CamillePercent() < 80 || cov.ExodusPercent() < 90 || cov.SDKs < 400 {
		t.Errorf("below the goals (camille ≥ 80%%, Exodus ≥ 90%%, ≥ 400 SDKs)")
	}
	// The hand-written catalogue alone is the baseline the derived file improves on.
	base, err := MeasureCoverage(handWritten(t), in)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("baseline (sdks.yaml alone): camille %d/%d (attributed to any SDK: %d), exodus %d/%d (any SDK: %d), SDKs %d", base.CamilleHits, base.CamilleEntries, base.CamilleAttributed, base.ExodusHits, base.ExodusTrackers, base.ExodusAttributed, base.SDKs)
	if base.CamilleHits >= cov.CamilleHits || base.ExodusHits >= cov.ExodusHits {
		t.Error("the derived file adds no coverage")
	}
}

// A camille name on an entry rests on a package: for every name an SDK carries, one of camille's
// entries of that name has a package the SDK is attributed for. Names are never attached by
// similarity alone.
func TestCamilleNamesRestOnPackages(t *testing.T) {
	in := deriveInputs(t)
	c := mustDefault(t)
	var cam []camilleEntry
	if err := json.Unmarshal(in.Camille.Data, &cam); err != nil {
		t.Fatal(err)
	}
	for _, d := range c.SDKs() {
		for _, name := range d.Camille {
			ok := false
			for _, e := range cam {
				if cleanText(e.Name, 200) != name {
					continue
				}
				v := classifyCamille(e.Package)
				var got SDK
				var hit bool
				switch {
				case v.prefix != "":
					got, hit = c.SDKForClass(probeClass(v.prefix))
				case v.key != "":
					got, hit = c.SDKForManifestKey(v.key)
				}
				ok = ok || hit && got.ID == d.ID
			}
			if !ok {
				t.Errorf("SDK %s carries camille name %q but owns none of its packages", d.ID, name)
			}
		}
	}
	// the errata entry is not attributed to the name it wrongly carries
	if d, _ := c.SDKForClass("com.iflytek.cloud.SpeechUtility"); slices.Contains(d.Camille, "同盾科技 SDK") {
		t.Errorf("%s carries the camille name of an erratum", d.ID)
	}
}

// Every derived entry states only facts a source gives: no PI without a source, an unverified
// vendor, its sources named, no prefix too broad to name one SDK, and no prose.
func TestDerivedEntriesAreFacts(t *testing.T) {
	c := mustDefault(t)
	n := 0
	for _, d := range c.SDKs() {
		switch d.Origin {
		case OriginDerived:
			n++
			if len(d.PI) != 0 || d.PISource != "none" || d.VendorVerified || len(d.Sources) == 0 || d.Notes != "" || len(d.DocumentedPI) != 0 {
				t.Errorf("%s: pi=%v pi_source=%s vendor_verified=%v sources=%v notes=%q", d.ID, d.PI, d.PISource, d.VendorVerified, d.Sources, d.Notes)
			}
			if d.Vendor != "" && d.VendorSource != SourceXRay && d.VendorSource != "exodus-website" {
				t.Errorf("%s: vendor %q without a source", d.ID, d.Vendor)
			}
			if !strings.Contains(d.Verification, "UNVERIFIED") {
				t.Errorf("%s: verification must say the entry is not reviewed: %q", d.ID, d.Verification)
			}
			for _, p := range d.ClassPrefixes {
				if why := broadReason(p, 0); why != "" {
					t.Errorf("%s: prefix %s is too broad: %s", d.ID, p, why)
				}
			}
		case OriginCatalogue:
			if d.VendorVerified && strings.Contains(d.Vendor, "recall") {
				t.Errorf("%s: vendor from recall marked verified", d.ID)
			}
		}
	}
	if n < 300 {
		t.Errorf("%d derived SDKs", n)
	}
	for _, p := range []string{"com.tencent", "com.baidu", "com.google", "cn.com", "com.google.android.gms", "com.huawei.hms", "com.bytedance", "okhttp3"} {
		if d, ok := c.SDKForClass(p + ".Foo"); ok && slices.Contains(d.ClassPrefixes, p) {
			t.Errorf("too-broad prefix %s belongs to %s", p, d.ID)
		}
	}
}

func TestClassifyCamille(t *testing.T) {
	cases := []struct{ in, prefix, key, reason string }{
		{"com.xunlei.download.", "com.xunlei.download", "", ""},
		{"com.mob.MobProvider", "com.mob.MobProvider", "", ""},
		{"master.flame.danmaku", "master.flame.danmaku", "", ""},
		{".wxapi.WXPayEntryActivity", "", "", "relative"},
		{"com.huawei.intent.action.PUSH", "", "", "intent action"},
		{"com.kakao.sdk.AppKey", "", "com.kakao.sdk.AppKey", ""},
		{"com.google.android.geo.API_KEY", "", "com.google.android.geo.API_KEY", ""},
		{"unity.build-id", "", "unity.build-id", ""},
		{"wxapi.WXEntryActivity", "", "", "two-label class"},
		{"com.foo bar", "", "", "not a Java"},
		{"  ", "", "", "empty"},
	}
	for _, tc := range cases {
		v := classifyCamille(tc.in)
		if v.prefix != tc.prefix || v.key != tc.key || (tc.reason == "") != (v.reason == "") || !strings.Contains(v.reason, tc.reason) {
			t.Errorf("classifyCamille(%q) = %+v, want prefix %q key %q reason ~%q", tc.in, v, tc.prefix, tc.key, tc.reason)
		}
	}
}

func TestBroadReason(t *testing.T) {
	cases := []struct {
		p        string
		branches int
		broad    bool
	}{
		{"com.tencent", 0, true}, {"com.baidu", 0, true}, {"com.google", 0, true}, {"cn.com", 0, true},
		{"okhttp3", 0, true}, {"android.speech.tts", 0, true}, {"kotlin.io", 0, true},
		{"com.google.android.gms", 3, true}, {"com.google.android.gms", 1, false},
		{"com.appsflyer", 0, false}, {"com.tencent.bugly", 0, false}, {"rx.android", 0, false},
		{"cn.com.chinatelecom.account", 0, false}, {"android.support.transition", 0, false},
		{"org.json", 0, true}, {"org.apache.http.client", 0, true}, {"org.jsonx", 0, false}, {"org.apache.cordova", 0, false},
	}
	for _, tc := range cases {
		if got := broadReason(tc.p, tc.branches); (got != "") != tc.broad {
			t.Errorf("broadReason(%q, %d) = %q, want broad=%v", tc.p, tc.branches, got, tc.broad)
		}
	}
}

func TestPlainDomain(t *testing.T) {
	for in, want := range map[string]string{
		`databerries\.com`: "databerries.com", `.*\.jiguang\.cn`: "jiguang.cn", `\.facebook\.com`: "facebook.com",
		`fidzup`: "", `ads.*\.example\.com`: "", `a.b.com`: "", `(x|y)\.com`: "", `UMENG\.COM`: "umeng.com",
	} {
		got, ok := plainDomain(in)
		if got != want || ok != (want != "") {
			t.Errorf("plainDomain(%q) = %q,%v want %q", in, got, ok, want)
		}
	}
}

// DeriveSDKs on small inputs: each rule of the generator with a positive and a negative case.
func TestDeriveSDKsRules(t *testing.T) {
	in := DeriveInputs{
		Camille: DeriveSource{Name: "c.json", Data: []byte(`[
			{"sdk_name": "友盟反馈", "package_name": "com.umeng.fb"},
			{"sdk_name": "友盟统计分析平台", "package_name": "com.umeng.analytics"},
			{"sdk_name": "示例推送", "package_name": "com.example2.push."},
			{"sdk_name": "示例推送", "package_name": "com.example2.push.Receiver"},
			{"sdk_name": "腾讯全家桶", "package_name": "com.tencent"},
			{"sdk_name": "相对名", "package_name": ".wxapi.WXEntryActivity"},
			{"sdk_name": "同盾科技 SDK", "package_name": "com.iflytek."},
			{"sdk_name": "Kakao Talk", "package_name": "com.kakao.sdk.AppKey"}]`)},
		Exodus: DeriveSource{Name: "e.json", Data: []byte(`{"trackers": {
			"1": {"name": "Example Push", "code_signature": "com.example2.push.", "network_signature": "push\\.example2\\.net|shared\\.example\\.org", "website": "https://www.example2.net", "categories": ["Analytics"]},
			"2": {"name": "Other", "code_signature": "com.other3.sdk.", "network_signature": "shared\\.example\\.org|.*regex", "categories": ["Advertisement"]},
			"3": {"name": "Umeng Analytics", "code_signature": "com.umeng.analytics.", "network_signature": "umeng\\.com"}}}`)},
		XRay: DeriveSource{Name: "x.json", Data: []byte(`[{"owner_name": "Example2 Ltd", "doms": ["example2.net"]}]`)},
	}
	hand := handWritten(t)
	d, rep, err := DeriveSDKs(hand, in)
	if err != nil {
		t.Fatal(err)
	}
	byCamille := map[string]SDK{}
	for _, s := range d.SDKs {
		for _, n := range s.Camille {
			byCamille[n] = s
		}
		for _, n := range s.Exodus {
			byCamille[n] = s
		}
	}
	push, ok := byCamille["示例推送"]
	if !ok || !slices.Equal(push.ClassPrefixes, []string{"com.example2.push"}) || !slices.Contains(push.Exodus, "Example Push") {
		t.Errorf("camille and Exodus entries of one package must merge, nested class dropped: %+v", push)
	}
	if push.Vendor != "Example2 Ltd" || push.VendorSource != SourceXRay || push.VendorVerified || push.Kind != "analytics" {
		t.Errorf("vendor/kind: %+v", push)
	}
	if !slices.Equal(push.Domains, []string{"push.example2.net"}) {
		t.Errorf("a domain two derived entries claim names neither: %v", push.Domains)
	}
	if other := byCamille["Other"]; other.Vendor != "" || other.VendorSource != "none" || other.Kind != "ads" {
		t.Errorf("no website: no vendor: %+v", other)
	}
	if k, ok := byCamille["Kakao Talk"]; !ok || !slices.Equal(k.ManifestKeys, []string{"com.kakao.sdk.AppKey"}) || len(k.ClassPrefixes) != 0 {
		t.Errorf("manifest key entry: %+v", k)
	}
	if _, ok := byCamille["腾讯全家桶"]; ok {
		t.Error("com.tencent became an SDK prefix")
	}
	var umeng *SDKExtension
	for i := range d.Extensions {
		if d.Extensions[i].SDK == "umeng_analytics" {
			umeng = &d.Extensions[i]
		}
	}
	if umeng == nil || !slices.Contains(umeng.Camille, "友盟统计分析平台") || !slices.Contains(umeng.Exodus, "Umeng Analytics") || len(umeng.ClassPrefixes) != 0 {
		t.Errorf("entries a hand-written SDK owns extend it: %+v", umeng)
	}
	if fb := byCamille["友盟反馈"]; !slices.Equal(fb.ClassPrefixes, []string{"com.umeng.fb"}) {
		t.Errorf("com.umeng.fb (no hand-written owner) must be a derived entry: %+v", fb)
	}
	rejected := map[string]string{}
	for _, r := range rep.Rejected {
		rejected[r.Value] = r.Reason
	}
	for _, v := range []string{"com.tencent", ".wxapi.WXEntryActivity", "com.iflytek.", ".*regex", "umeng.com"} {
		if rejected[v] == "" {
			t.Errorf("%s not reported as rejected: %v", v, rejected)
		}
	}
	if _, ok := rejected["com.example2.push"]; ok {
		t.Error("a good prefix was rejected")
	}
	// The output loads beside the hand-written catalogue and its examples hold.
	data, err := MarshalDerived(d, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(withDerivedData(data)); err != nil {
		t.Fatalf("generated file does not load: %v", err)
	}
}

func withDerivedData(data []byte) fs.FS {
	return replacedFile{withoutFile{embeddedData(), FileSDKsDerived}, FileSDKsDerived, data}
}

// Load rejects a derived file that breaks the rules the generator follows.
func TestDerivedFileErrors(t *testing.T) {
	entry := func(id, origin, prefix string) string {
		return "  - {id: " + id + ", name: {zh: a, en: a}, kind: other, class_prefixes: [" + prefix + "], pi: [], pi_source: none, origin: " + origin +
			", verification: x, examples: {positive: {classes: [" + prefix + ".a]}, negative: {classes: [" + prefix + "x.a]}}}\n"
	}
	cases := []struct{ name, yaml, want string }{
		{"origin", "version: 1\nsdks:\n" + entry("d1", "catalogue", "com.derived1.sdk") + "extensions: []\n", `origin in sdks_derived.yaml must be "derived"`},
		{"prefix of a hand-written entry", "version: 1\nsdks:\n" + entry("d1", "derived", "com.umeng.analytics") + "extensions: []\n", `class prefix "com.umeng.analytics" already belongs to SDK umeng_analytics`},
		{"unknown extension", "version: 1\nsdks: []\nextensions:\n  - {sdk: nope, camille: [x]}\n", `extension names SDK "nope", which is not in sdks.yaml`},
		{"extension of a derived entry", "version: 1\nsdks:\n" + entry("d1", "derived", "com.derived1.sdk") + "extensions:\n  - {sdk: d1, camille: [x]}\n", `extension names SDK "d1"`},
		{"extension prefix without examples", "version: 1\nsdks: []\nextensions:\n  - {sdk: jpush, class_prefixes: [cn.jpush.extra]}\n", "without examples"},
		{"missing list", "version: 1\nsdks: []\n", `missing "extensions" list`},
		{"vendor verified", "version: 1\nsdks:\n" + strings.Replace(entry("d1", "derived", "com.derived1.sdk"), "verification: x", "verification: x, vendor_verified: true", 1) + "extensions: []\n", "only a hand-written entry can have a verified vendor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(withDerivedData([]byte(tc.yaml)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), FileSDKsDerived) && !strings.Contains(err.Error(), FileSDKs) {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
	// the good case of the same shape loads
	good := "version: 1\nsdks:\n" + entry("d1", "derived", "com.derived1.sdk") + "extensions:\n  - {sdk: jpush, camille: [极光推送], class_prefixes: [cn.jpush.extra], examples: {positive: {classes: [cn.jpush.extra.a]}, negative: {classes: [cn.jpush.extrax.a]}}}\n"
	c, err := Load(withDerivedData([]byte(good)))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := c.SDKForClass("cn.jpush.extra.Foo"); !ok || d.ID != "jpush" || !slices.Contains(d.Camille, "极光推送") || !slices.Contains(d.Sources, "catalogue") {
		t.Errorf("extension not merged: %+v", d)
	}
	if s := c.Stats(); s.DerivedSDKs != 1 {
		t.Errorf("stats = %+v", s)
	}
	// the hand-written catalogue alone has no derived entries
	if s := handWritten(t).Stats(); s.DerivedSDKs != 0 || slices.Contains(s.Files, FileSDKsDerived) {
		t.Errorf("HandWritten stats = %+v", s)
	}
}
