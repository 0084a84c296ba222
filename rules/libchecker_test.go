package rules

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

func importLibCheckerFixture(t *testing.T) (Overlay, LibCheckerStats) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "libchecker_small.json"))
	if err != nil {
		t.Fatal(err)
	}
	ov, st, err := ImportLibChecker(bytes.NewReader(data), mustDefault(t))
	if err != nil {
		t.Fatalf("ImportLibChecker: %v", err)
	}
	return ov, st
}

// Each rule of the importer with a positive and a negative case (testdata/libchecker_small.json).
func TestImportLibCheckerFixture(t *testing.T) {
	ov, st := importLibCheckerFixture(t)
	if st.Rules != 16 || st.Prefixes != 3 || st.PrefixesCovered != 1 || st.BroadPrefixes != 2 || st.NativeLibs != 4 || st.LibsCovered != 1 || st.OtherTypes != 1 || st.Skipped != 4 {
		t.Errorf("stats = %+v", st)
	}
	byName := map[string]SDK{}
	for _, d := range ov.SDKs {
		byName[d.Name.EN] = d
		if d.Origin != OriginLibCheckerOverlay || !strings.HasPrefix(d.ID, "libchecker-") || d.PISource != "none" || len(d.PI) != 0 || !slices.Equal(d.Sources, []string{SourceLibChecker}) {
			t.Errorf("%s: origin/id/pi = %q/%q/%v/%v", d.Name.EN, d.Origin, d.ID, d.PI, d.Sources)
		}
	}
	push := byName["Example Push"]
	if push.ID != "libchecker-example-push" || !slices.Equal(push.ClassPrefixes, []string{"com.example.pushkit", "com.example.pushkit.internal"}) || push.Kind != "push" {
		t.Errorf("Example Push = %+v", push)
	}
	if w := byName["Widgets"]; !slices.Equal(w.ClassPrefixes, []string{"org.widgets"}) || w.Kind != "library" {
		t.Errorf("a regex prefix rule and an unknown label's kind: %+v", w)
	}
	for _, label := range []string{"友盟统计", "支付宝 SDK", "Kotlin", "Bad", "wrong type"} {
		if _, ok := byName[label]; ok {
			t.Errorf("%s: covered, too broad or malformed rule became an SDK", label)
		}
	}
	native := byName["原生安全 SDK"]
	if native.ID == "" || len(native.ClassPrefixes) != 0 || native.Kind != "risk_control" {
		t.Errorf("a label with native libraries only: %+v", native)
	}
	sig := map[string]SDKSignal{}
	for _, s := range ov.Signals {
		sig[s.Glob] = s
	}
	want := map[string]string{
		"libexamplepush.so": push.ID,
		"libwidgetcore*.so": byName["Widgets"].ID,
		"liblocfixture*.so": "baidu_location", // the label is a camille name the catalogue's entry carries
		"libnativeonly.so":  native.ID,
	}
	for glob, id := range want {
		if s, ok := sig[glob]; !ok || s.SDK != id || s.Kind != "lib" {
			t.Errorf("signal %s = %+v, want sdk %s", glob, s, id)
		}
	}
	if _, ok := sig["libjcore*.so"]; ok {
		t.Error("a library the catalogue's signals match was imported again")
	}
	if len(ov.Signals) != len(want) {
		t.Errorf("signals = %+v", ov.Signals)
	}
}

// The overlay saves, loads beside the Exodus one, and never changes a catalogue entry.
func TestLibCheckerOverlayMerge(t *testing.T) {
	ov, _ := importLibCheckerFixture(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "rules-overlay-libchecker.yaml")
	if err := SaveOverlay(path, ov); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Contains(data, []byte("pilmon rules import-libchecker")) {
		t.Errorf("header does not name the command:\n%s", data[:120])
	}
	exodusPath := filepath.Join(dir, "rules-overlay.yaml")
	eov, _, err := ImportExodus(strings.NewReader(`{"trackers": {"999": {"name": "Example Push Tracker", "code_signature": "com.example.pushkit.", "network_signature": "push\\.example\\.net"}}}`), mustDefault(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := SaveOverlay(exodusPath, eov); err != nil {
		t.Fatal(err)
	}
	c, err := LoadWithOverlays(exodusPath, path)
	if err != nil {
		t.Fatalf("LoadWithOverlays: %v", err)
	}
	// the Exodus overlay, merged first, keeps the prefix both list
	if d, ok := c.SDKForClass("com.example.pushkit.Receiver"); !ok || d.ID != "exodus-999" {
		t.Errorf("com.example.pushkit = %q %v, want exodus-999", d.ID, ok)
	}
	if d, ok := c.SDKForClass("com.example.pushkit.internal.X"); !ok || d.ID != "libchecker-example-push" {
		t.Errorf("com.example.pushkit.internal = %q %v", d.ID, ok)
	}
	if d, ok := c.SDKForClass("org.widgets.Button"); !ok || d.Origin != OriginLibCheckerOverlay {
		t.Errorf("org.widgets = %q %v", d.ID, ok)
	}
	if d, ok := c.SDKForClass("org.widgetsx.Button"); ok {
		t.Errorf("look-alike org.widgetsx attributed to %s", d.ID)
	}
	if d, ok := c.SDKForClass("com.umeng.analytics.MobclickAgent"); !ok || d.ID != "umeng_analytics" || d.Origin != OriginCatalogue {
		t.Errorf("catalogue entry must stay: %+v", d.ID)
	}
	hits := 0
	for _, s := range c.SDKSignals() {
		if s.Glob == "liblocfixture*.so" && s.SDK == "baidu_location" || s.Glob == "libnativeonly.so" {
			hits++
		}
	}
	if hits != 2 {
		t.Errorf("overlay signals not merged: %d", hits)
	}
	if s := c.Stats(); s.OverlaySDKs < 4 || !strings.Contains(s.Overlay, "rules-overlay-libchecker.yaml") {
		t.Errorf("stats = %+v", s)
	}
	if def := mustDefault(t); slices.ContainsFunc(def.SDKSignals(), func(s SDKSignal) bool { return s.Glob == "libnativeonly.so" }) {
		t.Error("LoadWithOverlays changed the Default catalogue")
	}
}

func TestLibCheckerOverlayErrors(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"id prefix", "version: 1\nsdks:\n  - {id: foo, name: {zh: a, en: a}, kind: library, class_prefixes: [com.x.y], pi: [], pi_source: none, origin: libchecker-overlay, verification: x}\n", `must start with "libchecker-"`},
		{"unknown signal sdk", "version: 1\nsdks: []\nsignals:\n  - {sdk: libchecker-nope, kind: lib, glob: libx.so, example: lib/arm64-v8a/libx.so, source: x}\n", `names unknown SDK "libchecker-nope"`},
		{"example does not match", "version: 1\nsdks: []\nsignals:\n  - {sdk: jpush, kind: lib, glob: libx.so, example: lib/arm64-v8a/liby.so, source: x}\n", "does not match"},
		{"signal kind", "version: 1\nsdks: []\nsignals:\n  - {sdk: jpush, kind: dex, glob: libx.so, example: lib/arm64-v8a/libx.so, source: x}\n", `kind "dex" is not lib or asset`},
		{"no signature", "version: 1\nsdks:\n  - {id: libchecker-a, name: {zh: a, en: a}, kind: library, class_prefixes: [], pi: [], pi_source: none, origin: libchecker-overlay, verification: x}\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "o.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := LoadWithOverlays(path)
			if tc.want == "" {
				// an entry with nothing left and no signal is dropped, not an error
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := c.SDK("libchecker-a"); ok {
					t.Error("an overlay entry without any signature was kept")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "o.yaml") {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestImportLibCheckerHostile(t *testing.T) {
	c := mustDefault(t)
	for name, in := range map[string]string{
		"sqlite":     "SQLite format 3\x00rest",
		"not a list": `{"rules": []}`,
		"deep":       strings.Repeat("[", 100) + strings.Repeat("]", 100),
		"not json":   "nope",
		"truncated":  `[{"name": "com.a.b", "label": "x", "type": 5`,
	} {
		if _, _, err := ImportLibChecker(strings.NewReader(in), c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, _, err := ImportLibChecker(&repeatReader{b: ' ', n: MaxLibCheckerBytes + 10}, c); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized input: %v", err)
	}
	for name, tc := range map[string]struct {
		name  string
		regex bool
		ok    bool
	}{
		"plain": {"libfoo.so", false, true}, "regex": {`libfoo(.*)\.so`, true, true}, "unescaped dot": {`libfoo(.*).so`, true, false},
		"class": {`lib[ab]\.so`, true, false}, "star only": {`(.*)\.so`, true, false}, "star in plain": {"lib*.so", false, false}, "path": {"../libx.so", false, false},
	} {
		if _, ok := libCheckerGlob(tc.name, tc.regex); ok != tc.ok {
			t.Errorf("libCheckerGlob %s (%q): ok = %v", name, tc.name, ok)
		}
	}
	for in, want := range map[[2]string]string{{"okhttp3.(.*)", "1"}: "okhttp3", {`com\.a\.b\.(.*)`, "1"}: "com.a.b", {"com.a.b", "0"}: "com.a.b", {"com.a.b(.*)", "1"}: ""} {
		got, ok := libCheckerPrefix(in[0], in[1] == "1")
		if (want == "") == ok || ok && got != want {
			t.Errorf("libCheckerPrefix(%q) = %q,%v want %q", in[0], got, ok, want)
		}
	}
}

// The real LibChecker export: the import keeps only what no built-in entry has, rejects the broad
// prefixes, and its overlay loads.
func TestImportLibCheckerCorpus(t *testing.T) {
	p := corpus.Path(t, "corpus", "trackers", "libchecker_rules_v3.json")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	c := mustDefault(t)
	ov, st, err := ImportLibChecker(bytes.NewReader(data), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", LibCheckerStats{Rules: st.Rules, NewSDKs: st.NewSDKs, Prefixes: st.Prefixes, PrefixesCovered: st.PrefixesCovered, BroadPrefixes: st.BroadPrefixes, NativeLibs: st.NativeLibs, LibsCovered: st.LibsCovered, OtherTypes: st.OtherTypes, Skipped: st.Skipped})
	if st.Rules != 1789 || st.NativeLibs < 500 || st.BroadPrefixes < 10 || st.NewSDKs < 100 {
		t.Errorf("stats = %+v", st)
	}
	out := filepath.Join(t.TempDir(), "rules-overlay-libchecker.yaml")
	if err := SaveOverlay(out, ov); err != nil {
		t.Fatal(err)
	}
	merged, err := LoadWithOverlays(out)
	if err != nil {
		t.Fatalf("overlay does not load: %v", err)
	}
	for _, class := range []string{"kotlin.collections.ArraysKt", "okhttp3.OkHttpClient", "com.alipay.sdk.app.PayTask", "androidx.appcompat.app.AppCompatActivity", "com.google.android.gms.common.api.Api"} {
		if d, ok := merged.SDKForClass(class); ok && d.Origin == OriginLibCheckerOverlay {
			t.Errorf("%s attributed to the imported %s (%v): a too-broad prefix was imported", class, d.ID, d.ClassPrefixes)
		}
	}
	if d, ok := merged.SDKForClass("com.umeng.analytics.MobclickAgent"); !ok || d.ID != "umeng_analytics" {
		t.Errorf("built-in entry overridden: %q", d.ID)
	}
	if merged.Stats().SDKs <= c.Stats().SDKs {
		t.Error("the import added nothing")
	}
}
