package rules

import (
	"testing"
)

func fact(kind, subject string, attrs map[string]any) ExampleFact {
	return ExampleFact{Kind: kind, Subject: subject, Attributes: attrs}
}

func auto(triggers ...Trigger) Violation {
	return Violation{ID: "test", Check: Check{Mode: ModeAutomated, Triggers: triggers}}
}

func subjects(fs []Fact) []string {
	var s []string
	for _, f := range fs {
		v, _ := f.FactAttr("subject")
		s = append(s, v.(string))
	}
	return s
}

func TestFiresSemantics(t *testing.T) {
	c := mustDefault(t)
	contacts := fact("apk.permission", "android.permission.READ_CONTACTS", map[string]any{
		"permission": "android.permission.READ_CONTACTS", "pi": []any{"contacts"}, "protection": "runtime", "max_sdk": 0})
	fine := fact("apk.permission", "android.permission.ACCESS_FINE_LOCATION", map[string]any{
		"permission": "android.permission.ACCESS_FINE_LOCATION", "pi": []string{"location_precise"}, "protection": "runtime", "max_sdk": int64(0)})
	phone := fact("apk.permission", "android.permission.READ_PHONE_STATE", map[string]any{
		"permission": "android.permission.READ_PHONE_STATE", "pi": []string{"device_id_hw", "phone_number"}, "protection": "runtime"})
	noPI := fact("apk.permission", "android.permission.VIBRATE", map[string]any{"permission": "android.permission.VIBRATE", "pi": []string{}})
	declaredContacts := fact("policy.pi_declared", "contacts", map[string]any{"pi": []any{"contacts"}, "quote": "通讯录"})
	policyDoc := fact("policy.document", "https://x/privacy", map[string]any{"is_privacy_policy": true, "chars": 1200})
	all := []Fact{contacts, fine, phone, noPI}

	cases := []struct {
		name     string
		v        Violation
		category string
		facts    []Fact
		want     []string
	}{
		{"where scalar", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"permission": "android.permission.READ_CONTACTS"}}), "", all,
			[]string{"android.permission.READ_CONTACTS"}},
		{"where list is one-of", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"permission": []any{"android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION"}}}), "", all,
			[]string{"android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION"}},
		{"list attribute []any", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"pi": "contacts"}}), "", all,
			[]string{"android.permission.READ_CONTACTS"}},
		{"list attribute []string any item", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"pi": []any{"phone_number", "sms"}}}), "", all,
			[]string{"android.permission.READ_PHONE_STATE"}},
		{"int attribute vs int64 and float", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"max_sdk": 0}}), "", all,
			[]string{"android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION"}},
		{"missing attribute never matches", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"element": "x"}}), "", all, nil},
		{"subject key", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"subject": "android.permission.VIBRATE"}}), "", all,
			[]string{"android.permission.VIBRATE"}},
		{"kind must match", auto(Trigger{Kind: "apk.sdk"}), "", all, nil},
		{"outside scope: map app may have location", auto(Trigger{Kind: "apk.permission", OutsideNecessaryScope: true}), "map_navigation", all,
			[]string{"android.permission.READ_CONTACTS", "android.permission.READ_PHONE_STATE"}},
		{"outside scope: no category, no match", auto(Trigger{Kind: "apk.permission", OutsideNecessaryScope: true}), "", all, nil},
		{"outside scope: unknown category, no match", auto(Trigger{Kind: "apk.permission", OutsideNecessaryScope: true}), "no_such_category", all, nil},
		{"outside scope: no-PI category makes every PI outside", auto(Trigger{Kind: "apk.permission", OutsideNecessaryScope: true}), "news", all,
			[]string{"android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION", "android.permission.READ_PHONE_STATE"}},
		{"outside scope: one PI of several outside is enough", auto(Trigger{Kind: "apk.permission", OutsideNecessaryScope: true}), "online_community", []Fact{phone},
			[]string{"android.permission.READ_PHONE_STATE"}},
		{"sensitive only", auto(Trigger{Kind: "apk.permission", SensitiveOnly: true}), "", all,
			[]string{"android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION"}},
		{"requires present", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"pi": "contacts"}, Requires: []string{"policy.document"}}), "",
			[]Fact{contacts, policyDoc}, []string{"android.permission.READ_CONTACTS"}},
		{"requires absent", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"pi": "contacts"}, Requires: []string{"policy.document"}}), "",
			[]Fact{contacts}, nil},
		{"unless cancels on shared value", auto(Trigger{Kind: "apk.permission", SensitiveOnly: true, Unless: &Join{Kind: "policy.pi_declared", On: "pi"}}), "",
			[]Fact{contacts, fine, declaredContacts}, []string{"android.permission.ACCESS_FINE_LOCATION"}},
		{"unless without cancelling facts", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"pi": "contacts"}, Unless: &Join{Kind: "policy.pi_declared", On: "pi"}}), "",
			[]Fact{contacts}, []string{"android.permission.READ_CONTACTS"}},
		{"fact matching two triggers is returned once", auto(
			Trigger{Kind: "apk.permission", Where: map[string]any{"pi": "contacts"}},
			Trigger{Kind: "apk.permission", SensitiveOnly: true}), "", all,
			[]string{"android.permission.READ_CONTACTS", "android.permission.ACCESS_FINE_LOCATION"}},
		{"no triggers never fires", Violation{ID: "manual", Check: Check{Mode: ModeManual}}, "", all, nil},
		{"bool where", auto(Trigger{Kind: "policy.document", Where: map[string]any{"is_privacy_policy": false}}), "", []Fact{policyDoc}, nil},
		{"nil facts tolerated", auto(Trigger{Kind: "apk.permission", Where: map[string]any{"pi": "contacts"}}), "", []Fact{nil, (*ExampleFact)(nil), contacts},
			[]string{"android.permission.READ_CONTACTS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := subjects(c.Fires(tc.v, tc.category, tc.facts))
			if len(got) != len(tc.want) {
				t.Fatalf("fired on %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("fired on %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// Every automated violation's positive examples fire and its negative examples do not.
func TestViolationExamples(t *testing.T) {
	c := mustDefault(t)
	if len(c.Violations()) == 0 {
		t.Skip("violations.yaml not present yet")
	}
	n := 0
	for _, v := range c.Violations() {
		if v.Check.Mode != ModeAutomated {
			continue
		}
		t.Run(v.ID, func(t *testing.T) {
			for i, e := range v.Check.Examples.Positive {
				if got := c.Fires(v, e.Category, e.Facts()); len(got) == 0 {
					t.Errorf("positive example %d (%s) does not fire", i+1, e.Note)
				}
			}
			for i, e := range v.Check.Examples.Negative {
				if got := c.Fires(v, e.Category, e.Facts()); len(got) != 0 {
					t.Errorf("negative example %d (%s) fires on %v", i+1, e.Note, subjects(got))
				}
			}
		})
		n++
	}
	t.Logf("%d automated violations checked", n)
}

// BenchmarkSDKForClass measures the class matcher apkinspect runs for every class of every APK:
// one map lookup per package level, so the ~800 entries of the shipped catalogue cost what the 75
// hand-written ones do.
func BenchmarkSDKForClass(b *testing.B) {
	classes := []string{"com.umeng.analytics.pro.a.b.c", "com.example.app.ui.main.MainActivity", "androidx.core.app.NotificationCompat$Builder",
		"com.tencent.mm.opensdk.modelpay.PayReq", "a.b.c", "com.loc.bz", "com.krux.androidsdk.aggregator.Krux"}
	for _, tc := range []struct {
		name string
		cat  func() (*Catalogue, error)
	}{{"hand-written", HandWritten}, {"shipped", Default}} {
		c, err := tc.cat()
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				c.SDKForClass(classes[i%len(classes)])
			}
		})
	}
}

// rdff-2.1 asks a policy to disclose an embedded SDK, not an open-source library: a derived
// library entry (camille's okhttp) does not fire it, a derived service SDK does.
func TestLibrarySDKNeedsNoDisclosure(t *testing.T) {
	c := mustDefault(t)
	v, ok := c.Violation("rdff-2.1")
	if !ok {
		t.Fatal("rdff-2.1 missing")
	}
	lib, ok := c.SDKForClass("okhttp3.OkHttpClient")
	if ok && lib.Kind != "library" {
		t.Fatalf("okhttp3 attributed to %s of kind %s", lib.ID, lib.Kind)
	}
	// a derived library entry whose package libraries.yaml does not list (camille's "chuck")
	lib, ok = c.SDKForClass("com.readystatesoftware.chuck.ChuckInterceptor")
	if !ok || lib.Kind != "library" {
		t.Fatalf("com.readystatesoftware.chuck = %+v %v, want a library entry", lib.ID, ok)
	}
	if o := c.ClassOwner("com.readystatesoftware.chuck.ChuckInterceptor"); o.Kind != "library" || o.ID != lib.ID {
		t.Fatalf("ClassOwner(chuck) = %+v, want library:%s", o, lib.ID)
	}
	if l, ok := c.Library(lib.ID); !ok || l.Kind != "open_source" {
		t.Fatalf("Library(%s) = %+v %v, want the SDK entry seen as an open-source library", lib.ID, l, ok)
	}
	// one libraries.yaml lists is not a derived SDK at all
	if s, ok := c.SDKForClass("com.squareup.okhttp.OkHttpClient"); ok {
		t.Fatalf("com.squareup.okhttp attributed to SDK %s; libraries.yaml owns it", s.ID)
	}
	if o := c.ClassOwner("com.squareup.okhttp.OkHttpClient"); o.Kind != "library" {
		t.Fatalf("ClassOwner(com.squareup.okhttp) = %+v, want a library", o)
	}
	svc, ok := c.SDKForClass("com.umeng.fb.FeedbackAgent")
	if !ok || svc.Kind == "library" {
		t.Fatalf("com.umeng.fb = %+v %v, want a service SDK", svc.ID, ok)
	}
	doc := ExampleFact{Kind: "policy.document", Subject: "https://www.example.com/privacy.html", Attributes: map[string]any{"language": "zh", "is_privacy_policy": true}}
	for _, tc := range []struct {
		sdk  SDK
		fire bool
	}{{lib, false}, {svc, true}} {
		o := ExampleFact{Kind: "apk.sdk", Subject: tc.sdk.ID, Attributes: map[string]any{"sdk": tc.sdk.ID, "sdk_kind": tc.sdk.Kind, "via": []any{"class_prefix"}, "pi": []any{}, "classes": 40}}
		if got := len(c.Fires(v, "", []Fact{o, doc})) > 0; got != tc.fire {
			t.Errorf("%s (kind %s): fires = %v, want %v", tc.sdk.ID, tc.sdk.Kind, got, tc.fire)
		}
	}
}
