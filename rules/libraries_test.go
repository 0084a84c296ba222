package rules

import (
	"strings"
	"testing"
	"testing/fstest"
)

// TestClassOwnerLongestPrefix: between an SDK prefix and a library prefix the longest one that
// contains the class names its owner, on package boundaries.
func TestClassOwnerLongestPrefix(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ class, want string }{
		{"com.google.android.gms.ads.identifier.AdvertisingIdClient", "library:play_services_ads_identifier"},
		{"com.google.android.gms.ads.AdView", "sdk:google_admob"},
		{"androidx.appcompat.app.TwilightManager", "library:androidx_appcompat"},
		{"androidx.viewpager2.widget.ViewPager2", "library:androidx_viewpager2"},
		{"androidx.unlisted.Foo", "library:androidx"},
		{"com.umeng.analytics.MobclickAgent", "sdk:umeng_analytics"},
		{"io.dcloud.common.DHInterface", "library:dcloud_runtime"},
		{"com.tencent.tinker.loader.app.TinkerApplication", "library:tinker"},
		{"com.example.shop.MainActivity", ""},
		{"androidxx.Foo", ""},
	} {
		if got := c.ClassOwner(tc.class).Party(); got != tc.want {
			t.Errorf("ClassOwner(%s) = %q, want %q", tc.class, got, tc.want)
		}
	}
	if l, ok := c.LibraryForClass("okhttp3.internal.Util"); !ok || l.ID != "okhttp" {
		t.Errorf("LibraryForClass(okhttp3.internal.Util) = %v, %v", l.ID, ok)
	}
	if _, ok := c.LibraryForClass("com.umeng.analytics.MobclickAgent"); ok {
		t.Error("LibraryForClass names a library for an Umeng class")
	}
}

// TestLibrariesValidation: a broken entry is reported with file, line and reason.
func TestLibrariesValidation(t *testing.T) {
	for _, tc := range []struct{ name, entry, want string }{
		{"sdk prefix", `{id: x, name: X, kind: platform, class_prefixes: [com.amap.api], source: s, verification: v, examples: {positive: [com.amap.api.A], negative: [b.B]}}`, "class prefix com.amap.api is also SDK amap's"},
		{"kind", `{id: x, name: X, kind: tracker, class_prefixes: [a.b], source: s, verification: v, examples: {positive: [a.b.C], negative: [b.B]}}`, `kind "tracker" is not one of`},
		{"bad prefix", `{id: x, name: X, kind: platform, class_prefixes: ["a..b"], source: s, verification: v, examples: {positive: [a.b.C], negative: [b.B]}}`, "is not a dotted Java name"},
		{"no source", `{id: x, name: X, kind: platform, class_prefixes: [a.b], verification: v, examples: {positive: [a.b.C], negative: [b.B]}}`, "name, source and verification are required"},
		{"no negative", `{id: x, name: X, kind: platform, class_prefixes: [a.b], source: s, verification: v, examples: {positive: [a.b.C]}}`, "needs examples"},
		{"wrong positive", `{id: x, name: X, kind: platform, class_prefixes: [a.b], source: s, verification: v, examples: {positive: [a.bc.C], negative: [b.B]}}`, `example class "a.bc.C" must be attributed to it`},
		{"steals sdk example", `{id: x, name: X, kind: platform, class_prefixes: [com.loc.a], source: s, verification: v, examples: {positive: [com.loc.a], negative: [b.B]}}`, ""},
	} {
		m := miniFS(t)
		m[FileLibraries] = &fstest.MapFile{Data: []byte("version: 1\nlibraries:\n  - " + tc.entry + "\n")}
		_, err := Load(m)
		if tc.want == "" {
			// The entry is valid; the SDK example it takes over is reported on sdks.yaml.
			if err == nil || !strings.Contains(err.Error(), `sdks.yaml:14: SDK amap: example class "com.loc.a" is library x's`) {
				t.Errorf("%s: error = %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "libraries.yaml:3: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want libraries.yaml:3: … %s", tc.name, err, tc.want)
		}
	}
	// The valid mini file loads, and its library inside an SDK namespace takes that sub-package.
	c, err := Load(miniFS(t))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.ClassOwner("com.amap.api.ui.Panel").Party(); got != "library:amap_search_ui" {
		t.Errorf("com.amap.api.ui.Panel owned by %q", got)
	}
	if got := c.ClassOwner("com.amap.api.maps.MapView").Party(); got != "sdk:amap" {
		t.Errorf("com.amap.api.maps.MapView owned by %q", got)
	}
}
