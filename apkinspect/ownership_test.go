package apkinspect

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"pilmon/apkinspect/manifest"
)

// callClass is a class whose one method calls code (a sensitive API) with p0 as its receiver.
func callClass(desc, param, code string) string {
	return fmt.Sprintf(`.class public %s
.super Ljava/lang/Object;

.method public static run(%s)V
    .registers 4
    %s
    return-void
.end method
`, desc, param, code)
}

const (
	lastKnown = `const-string v0, "gps"
    invoke-virtual {p0, v0}, Landroid/location/LocationManager;->getLastKnownLocation(Ljava/lang/String;)Landroid/location/Location;`
	clipRead = `invoke-virtual {p0}, Landroid/content/ClipboardManager;->getPrimaryClip()Landroid/content/ClipData;`
	imeiRead = `invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;`
	locMgr   = "Landroid/location/LocationManager;"
	clipMgr  = "Landroid/content/ClipboardManager;"
	telMgr   = "Landroid/telephony/TelephonyManager;"
)

const partyManifest = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="com.shop.flavor" android:versionCode="1" android:versionName="1.0">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
    <application android:name="com.shop.core.ShopApp" android:label="Shop">
        <activity android:name="com.shop.ui.Main"/>
        <service android:name="com.vendor.kit.PushService"/>
    </application>
</manifest>
`

// TestPartyOfEveryClass: the same API called from AndroidX, from the app's own packages (the
// manifest package, the Application's package, an own component's package) and from a third
// party nobody catalogued names three different parties; only the own packages are "app".
func TestPartyOfEveryClass(t *testing.T) {
	smali := map[string]string{
		"Twilight.smali": callClass("Landroidx/appcompat/app/TwilightManager;", locMgr, lastKnown),
		"Paste.smali":    callClass("Landroidx/appcompat/widget/AppCompatReceiveContentHelper;", clipMgr, clipRead),
		"Where.smali":    callClass("Lcom/shop/flavor/Where;", locMgr, lastKnown),
		"Paste2.smali":   callClass("Lcom/shop/flavor/Paste;", clipMgr, clipRead),
		"App.smali":      callClass("Lcom/shop/core/ShopApp;", telMgr, imeiRead),
		"Util.smali":     callClass("Lcom/shop/core/util/Device;", telMgr, imeiRead),
		"Ui.smali":       callClass("Lcom/shop/ui/Main;", telMgr, imeiRead),
		"Push.smali":     callClass("Lcom/vendor/kit/PushService;", telMgr, imeiRead),
		"Kit.smali":      callClass("Lcom/vendor/kit/DeviceHelper;", telMgr, imeiRead),
		"Obf.smali":      callClass("La/b/c;", telMgr, imeiRead),
		"Ok.smali":       callClass("Lokhttp3/internal/Util;", telMgr, imeiRead),
	}
	rep, _ := inspect(t, buildSpec(t, fixture{Manifest: partyManifest, Smali: smali}))
	for _, c := range []struct{ subject, party, sdk, library string }{
		{"location.lastKnown @ androidx.appcompat.app.TwilightManager", "library:androidx_appcompat", "", "androidx_appcompat"},
		{"clipboard.read @ androidx.appcompat.widget.AppCompatReceiveContentHelper", "library:androidx_appcompat", "", "androidx_appcompat"},
		{"location.lastKnown @ com.shop.flavor.Where", "app", "", ""},
		{"clipboard.read @ com.shop.flavor.Paste", "app", "", ""},
		{"telephony.getDeviceId @ com.shop.core.ShopApp", "app", "", ""},
		{"telephony.getDeviceId @ com.shop.core.util.Device", "app", "", ""},
		{"telephony.getDeviceId @ com.shop.ui.Main", "app", "", ""},
		// A component the build merged in from an uncatalogued library is no evidence of the
		// operator's packages.
		{"telephony.getDeviceId @ com.vendor.kit.PushService", "unidentified", "", ""},
		{"telephony.getDeviceId @ com.vendor.kit.DeviceHelper", "unidentified", "", ""},
		{"telephony.getDeviceId @ a.b.c", "unidentified", "", ""},
		{"telephony.getDeviceId @ okhttp3.internal.Util", "library:okhttp", "", "okhttp"},
	} {
		o := find(rep, "apk.sensitive_api", c.subject)
		if o == nil {
			t.Errorf("%s not reported", c.subject)
			continue
		}
		if o.Attributes["party"] != c.party || o.Attributes["sdk"] != c.sdk || o.Attributes["library"] != c.library {
			t.Errorf("%s: party %v sdk %q library %q, want %s %q %q", c.subject, o.Attributes["party"], o.Attributes["sdk"], o.Attributes["library"], c.party, c.sdk, c.library)
		}
	}
	for _, o := range rep.Observations {
		if o.Kind == "apk.sensitive_api" && o.Attributes["party"] == nil {
			t.Errorf("%s has no party", o.Subject)
		}
	}
}

// TestOwnershipPackages: the app's packages come from the manifest package, the Application
// class and the components under the operator's domain, minus catalogued code.
func TestOwnershipPackages(t *testing.T) {
	cat := catalogue(t)
	for _, c := range []struct {
		name string
		m    *manifest.Manifest
		want []string
	}{
		{"manifest only", &manifest.Manifest{Package: "com.shop.app"}, []string{"com.shop.app"}},
		{"application elsewhere", &manifest.Manifest{Package: "cn.gov.city", Application: "com.dev.app.App"}, []string{"cn.gov.city", "com.dev.app"}},
		{"catalogued application", &manifest.Manifest{Package: "com.shop.app", Application: "com.tencent.tinker.loader.app.TinkerApplication"}, []string{"com.shop.app"}},
		{"dcloud application", &manifest.Manifest{Package: "uni.app.demo", Application: "io.dcloud.application.DCloudApplication",
			Components: []manifest.Component{{Name: "io.dcloud.PandoraEntry"}}}, []string{"uni.app.demo"}},
		{"components", &manifest.Manifest{Package: "com.shop.app", Components: []manifest.Component{
			{Name: "com.shop.core.ui.Main"}, {Name: "com.vendor.sdk.Push"}, {Name: "androidx.core.content.FileProvider"}, {Name: "a.B"}}},
			[]string{"com.shop.core.ui", "com.shop.app"}},
	} {
		if got := newOwnership(cat, c.m).appPkgs; !slices.Equal(got, c.want) {
			t.Errorf("%s: app packages %v, want %v", c.name, got, c.want)
		}
	}
	if got := newOwnership(cat, nil).of("com.shop.app.Main").Party; got != PartyUnidentified {
		t.Errorf("without a manifest a class is %q, want unidentified", got)
	}
}

// TestSDKStrength: a manifest key alone or a few classes alone are weak detections; classes with
// a manifest key, or many classes, are strong. signals say what fired.
func TestSDKStrength(t *testing.T) {
	keyOnly := strings.Replace(ownPkgManifest, `<application android:label="@string/app_name">`,
		`<application android:label="@string/app_name"><meta-data android:name="UMENG_APPKEY" android:value="5f00"/>`, 1)
	umeng := func(n int) map[string]string {
		m := map[string]string{"Main.smali": plainClass("Lcn/jiguang/demo/MainActivity;")}
		for i := range n {
			m[fmt.Sprintf("U%d.smali", i)] = plainClass(fmt.Sprintf("Lcom/umeng/analytics/pro/Part%d;", i))
		}
		return m
	}
	for _, c := range []struct {
		name, manifest string
		classes        int
		want           string // "" no apk.sdk
	}{
		{"no signal", ownPkgManifest, 0, ""},
		{"manifest key only", keyOnly, 0, "weak"},
		{"few classes only", ownPkgManifest, 3, "weak"},
		{"one class and the key", keyOnly, 1, "strong"},
		{"many classes", ownPkgManifest, strongClasses, "strong"},
	} {
		rep, _ := inspect(t, buildSpec(t, fixture{Manifest: c.manifest, Smali: umeng(c.classes)}))
		o := find(rep, "apk.sdk", "umeng_analytics")
		switch {
		case c.want == "" && o != nil:
			t.Errorf("%s: umeng_analytics reported: %v", c.name, o.Attributes)
		case c.want == "":
		case o == nil:
			t.Errorf("%s: umeng_analytics not reported", c.name)
		case o.Attributes["strength"] != c.want:
			t.Errorf("%s: strength %v, want %s (signals %v)", c.name, o.Attributes["strength"], c.want, o.Attributes["signals"])
		default:
			sig, _ := o.Attributes["signals"].([]string)
			if len(sig) == 0 || sig[0] != fmt.Sprintf("classes: %d", c.classes) {
				t.Errorf("%s: signals %v do not start with the class count %d", c.name, sig, c.classes)
			}
			if c.classes > 0 && !slices.Contains(sig, "class: com.umeng.analytics.pro.Part0") {
				t.Errorf("%s: signals %v name no example class", c.name, sig)
			}
			if strings.Contains(c.manifest, "UMENG_APPKEY") && !slices.Contains(sig, "manifest_key: UMENG_APPKEY") {
				t.Errorf("%s: signals %v miss the manifest key", c.name, sig)
			}
		}
	}
}

// TestSharedSubPackageIsNoSDK: the advertising-ID client com.google.android.gms.ads.identifier
// lies under AdMob's prefix but is the Play services library every ad and analytics SDK shares;
// its classes alone are no AdMob, AdMob's own classes are.
func TestSharedSubPackageIsNoSDK(t *testing.T) {
	adid := map[string]string{"Main.smali": plainClass("Lcn/jiguang/demo/MainActivity;")}
	for _, c := range []string{"AdvertisingIdClient", "AdvertisingIdClient$Info", "AdvertisingIdClient$a", "a", "b"} {
		adid[c+".smali"] = plainClass("Lcom/google/android/gms/ads/identifier/" + c + ";")
	}
	rep, _ := inspect(t, buildSpec(t, fixture{Manifest: ownPkgManifest, Smali: adid}))
	if o := find(rep, "apk.sdk", "google_admob"); o != nil {
		t.Errorf("the advertising-ID client alone is reported as AdMob: %v", o.Attributes)
	}
	with := map[string]string{}
	for k, v := range adid {
		with[k] = v
	}
	for i, c := range []string{"AdView", "AdRequest", "AdActivity", "MobileAds", "InterstitialAd", "AdListener", "AdSize", "RequestConfiguration"} {
		with[fmt.Sprintf("Ad%d.smali", i)] = plainClass("Lcom/google/android/gms/ads/" + c + ";")
	}
	rep, _ = inspect(t, buildSpec(t, fixture{Manifest: ownPkgManifest, Smali: with}))
	o := find(rep, "apk.sdk", "google_admob")
	if o == nil {
		t.Fatal("AdMob's own classes not recognised")
	}
	if o.Attributes["classes"] != 8 || o.Attributes["strength"] != "strong" {
		t.Errorf("AdMob: classes %v strength %v, want 8 strong (the identifier classes are the library's)", o.Attributes["classes"], o.Attributes["strength"])
	}
}

// FuzzOwnership: manifest names and class names come from the APK under investigation; the
// ownership rule never panics, names one well-formed party, and the app's packages only ever
// come from the manifest.
func FuzzOwnership(f *testing.F) {
	f.Add("com.shop.app", "com.shop.core.App", "com.shop.ui.Main", "com.shop.app.a.B")
	f.Add("cn.jiguang.demo", "", "cn.jiguang.demo.Main", "cn.jiguang.internal.Core")
	f.Add("uni.app.demo", "io.dcloud.application.DCloudApplication", "io.dcloud.PandoraEntry", "io.dcloud.common.A")
	f.Add("a", ".", "..", "com.google.android.gms.ads.identifier.AdvertisingIdClient")
	f.Add("com.x", "com.x.", ".com.x.Y", "com.x..Y")
	cat := catalogue(f)
	f.Fuzz(func(t *testing.T, pkg, application, component, cls string) {
		m := &manifest.Manifest{Package: pkg, Application: application}
		for _, c := range strings.Split(component, ";") {
			m.Components = append(m.Components, manifest.Component{Name: c})
		}
		own := newOwnership(cat, m)
		for _, p := range own.appPkgs {
			if p != pkg && p != javaPackage(application) && !strings.Contains(component, p) {
				t.Fatalf("app package %q comes from nowhere in the manifest", p)
			}
		}
		p := own.of(cls)
		switch {
		case p.Party == PartyApp || p.Party == PartyUnidentified:
			if p.SDK != "" || p.Library != "" {
				t.Fatalf("%q: party %s with sdk %q library %q", cls, p.Party, p.SDK, p.Library)
			}
		case p.SDK != "" && p.Library == "" && p.Party == "sdk:"+p.SDK:
		case p.Library != "" && p.SDK == "" && p.Party == "library:"+p.Library:
		default:
			t.Fatalf("%q: malformed party %+v", cls, p)
		}
	})
}
