package rules

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"pilmon/internal/corpus"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func importFixture(t *testing.T) (Overlay, ImportStats) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "exodus_small.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ov, st, err := ImportExodus(f, handWritten(t))
	if err != nil {
		t.Fatalf("ImportExodus: %v", err)
	}
	return ov, st
}

// handWritten is the catalogue without sdks_derived.yaml: the importer's mechanics are tested
// against it, because the derived file already covers the fixture's real trackers.
func handWritten(t testing.TB) *Catalogue {
	t.Helper()
	c, err := HandWritten()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handWrittenFS is the embedded data folder without sdks_derived.yaml.
func handWrittenFS() fs.FS { return withoutFile{embeddedData(), FileSDKsDerived} }

func TestImportExodusFixture(t *testing.T) {
	ov, st := importFixture(t)
	if st.Trackers != 9 {
		t.Errorf("trackers = %d, want 9", st.Trackers)
	}
	// 119 (Umeng) and 343 (JPush) are covered by the catalogue → extensions; 1, 5, 27 (one
	// uncovered prefix), 902 → new; 900 (no usable signature), 901 (wrong types), bad id → skipped.
	if st.NewSDKs != 4 || st.Extended != 2 || st.Skipped != 3 {
		t.Errorf("stats = %+v", st)
	}
	byID := map[string]SDK{}
	for _, d := range ov.SDKs {
		byID[d.ID] = d
		if d.Origin != OriginExodusOverlay || d.PISource != "exodus" || d.Verification == "" {
			t.Errorf("%s: origin/pi_source/verification = %q/%q/%q", d.ID, d.Origin, d.PISource, d.Verification)
		}
	}
	teemo := byID["exodus-1"]
	if strings.Join(teemo.ClassPrefixes, ",") != "com.databerries,com.geolocstation" || strings.Join(teemo.Domains, ",") != "databerries.com" || teemo.Kind != "analytics" {
		t.Errorf("teemo = %+v", teemo)
	}
	dc := byID["exodus-5"]
	if len(dc.ClassPrefixes) != 0 || strings.Join(dc.Domains, ",") != "2mdn.net,doubleclick.com" {
		t.Errorf("doubleclick = %+v", dc)
	}
	crash := byID["exodus-27"]
	if strings.Join(crash.ClassPrefixes, ",") != "com.example.notcovered.crash" || crash.Kind != "crash" {
		t.Errorf("crashlytics: only the uncovered prefix should be new: %+v", crash)
	}
	ads := byID["exodus-902"]
	if strings.Join(ads.ClassPrefixes, ",") != "com.adsinc.sdk" || strings.Join(ads.Domains, ",") != "ads-inc.example.net" || ads.Kind != "ads" {
		t.Errorf("ads inc = %+v", ads)
	}
	var umeng, jpush *SDKExtension
	for i := range ov.Extensions {
		switch ov.Extensions[i].SDK {
		case "umeng_analytics":
			umeng = &ov.Extensions[i]
		case "jpush":
			jpush = &ov.Extensions[i]
		}
	}
	if umeng == nil || strings.Join(umeng.Domains, ",") != "alog.umeng.com,uop.umeng.com" {
		t.Errorf("umeng extension = %+v (umeng.com is already in the catalogue)", umeng)
	}
	if jpush == nil || jpush.Exodus[0] != "JiGuang Aurora Mobile JPush" {
		t.Errorf("jpush extension = %+v", jpush)
	}
	if st.BadSignatures < 4 {
		t.Errorf("bad signatures = %d, want the regex alternatives counted", st.BadSignatures)
	}
}

func TestOverlayGoldenAndMerge(t *testing.T) {
	ov, _ := importFixture(t)
	ov.Source = "testdata/exodus_small.json"
	dir := t.TempDir()
	path := filepath.Join(dir, "overlay.yaml")
	if err := SaveOverlay(path, ov); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "exodus_small.overlay.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./rules -run Golden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("overlay differs from %s (go test ./rules -update to accept):\n%s", golden, got)
	}
	// saving again gives the same bytes
	if err := SaveOverlay(path, ov); err != nil {
		t.Fatal(err)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, got) {
		t.Error("SaveOverlay is not deterministic")
	}

	c, err := loadWithOverlays(handWrittenFS(), path)
	if err != nil {
		t.Fatalf("LoadWithOverlay: %v", err)
	}
	if s := c.Stats(); s.OverlaySDKs != 4 || s.Overlay != path {
		t.Errorf("stats = %+v", s)
	}
	if d, ok := c.SDKForClass("com.databerries.sdk.Tracker"); !ok || d.ID != "exodus-1" {
		t.Errorf("overlay prefix: %q %v", d.ID, ok)
	}
	if d, ok := c.SDKForClass("com.umeng.analytics.MobclickAgent"); !ok || d.ID != "umeng_analytics" || d.Origin != OriginCatalogue {
		t.Errorf("catalogue entry must stay: %+v", d)
	}
	if d, _ := c.SDK("umeng_analytics"); !strings.Contains(strings.Join(d.Domains, ","), "uop.umeng.com") {
		t.Errorf("extension domains not merged: %v", d.Domains)
	}
	if d, ok := c.SDKForHost("uop.umeng.com"); !ok || d.ID != "umeng_analytics" {
		t.Errorf("SDKForHost(uop.umeng.com) = %q %v", d.ID, ok)
	}
	if d, ok := c.SDKForHost("s0.2mdn.net"); !ok || d.ID != "exodus-5" {
		t.Errorf("SDKForHost(s0.2mdn.net) = %q %v", d.ID, ok)
	}
	// the cached default is untouched
	def := mustDefault(t)
	if _, ok := def.SDK("exodus-1"); ok {
		t.Error("LoadWithOverlay modified the Default catalogue")
	}
	if d, _ := def.SDK("umeng_analytics"); strings.Contains(strings.Join(d.Domains, ","), "uop.umeng.com") {
		t.Error("LoadWithOverlay modified a Default catalogue entry")
	}
	// On the shipped catalogue the derived entries own Teemo's and DoubleClick's signatures:
	// the overlay's copies of them are dropped, its entry of a fictitious tracker stays.
	full, err := LoadWithOverlay(path)
	if err != nil {
		t.Fatalf("LoadWithOverlay: %v", err)
	}
	if d, ok := full.SDKForClass("com.databerries.sdk.Tracker"); !ok || d.Origin != OriginDerived || !slices.Contains(d.Exodus, "Teemo") {
		t.Errorf("derived Teemo must win over the overlay: %q %q %v", d.ID, d.Origin, ok)
	}
	if d, ok := full.SDKForClass("com.adsinc.sdk.Banner"); !ok || d.ID != "exodus-902" {
		t.Errorf("overlay-only tracker: %q %v", d.ID, ok)
	}
	// missing overlay file → plain catalogue
	if c, err := LoadWithOverlay(filepath.Join(dir, "absent.yaml")); err != nil || c.Stats().OverlaySDKs != 0 {
		t.Errorf("absent overlay: %v", err)
	}
}

func TestOverlayErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"bad id", "version: 1\nsdks:\n  - id: flurry2\n    name: {zh: a, en: a}\n    kind: ads\n    class_prefixes: [com.x.y]\n    pi: []\n    pi_source: exodus\n    origin: exodus-overlay\n    verification: x\n",
			"overlay.yaml:3: overlay SDK id \"flurry2\" must start with \"exodus-\""},
		{"unknown PI", "version: 1\nsdks:\n  - id: exodus-x\n    name: {zh: a, en: a}\n    kind: ads\n    class_prefixes: [com.x.y]\n    pi: [nope]\n    pi_source: exodus\n    origin: exodus-overlay\n    verification: x\n",
			"overlay.yaml:7: SDK exodus-x names unknown PI category \"nope\""},
		{"unknown extension", "version: 1\nsdks: []\nextensions:\n  - sdk: no_such_sdk\n    domains: [a.example.com]\n",
			"overlay.yaml:4: extension names unknown catalogue SDK \"no_such_sdk\""},
		{"unknown field", "version: 1\nsdkz: []\n", "overlay.yaml:2: unknown field \"sdkz\""},
		{"not yaml", "version: [1\n", "overlay.yaml:"},
		{"wrong version", "version: 2\nsdks: []\n", "overlay.yaml:1: unsupported overlay version 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "overlay.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadWithOverlay(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestImportExodusHostile(t *testing.T) {
	c := mustDefault(t)
	cases := []struct {
		name, in, want string
	}{
		{"not json", "trackers", "not an Exodus tracker export"},
		{"array", "[]", "not an Exodus tracker export"},
		{"no trackers", `{"other": 1}`, `no "trackers" object`},
		{"deep", `{"trackers": {"1": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}}`, "nested deeper"},
		{"trackers not object", `{"trackers": [1,2]}`, "not an Exodus tracker export"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ImportExodus(strings.NewReader(tc.in), c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		r := &repeatReader{b: ' ', n: MaxExodusBytes + 10}
		_, _, err := ImportExodus(r, c)
		if err == nil || !strings.Contains(err.Error(), "larger than 32 MiB") {
			t.Fatalf("error = %v", err)
		}
	})
	t.Run("long signature is cut, not fatal", func(t *testing.T) {
		sig := strings.Repeat("com.a.b|", 5000)
		in := `{"trackers": {"7": {"name": "Long", "code_signature": "` + sig + `", "network_signature": ""}}}`
		ov, st, err := ImportExodus(strings.NewReader(in), c)
		if err != nil || len(ov.SDKs) != 1 || len(st.Warnings) == 0 {
			t.Fatalf("ov=%+v st=%+v err=%v", ov, st, err)
		}
	})
	t.Run("nil catalogue", func(t *testing.T) {
		ov, st, err := ImportExodus(strings.NewReader(`{"trackers": {"119": {"name": "Umeng Analytics", "code_signature": "com.umeng.analytics"}}}`), nil)
		if err != nil || st.NewSDKs != 1 || ov.SDKs[0].ID != "exodus-119" {
			t.Fatalf("ov=%+v st=%+v err=%v", ov, st, err)
		}
	})
}

type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, errors.New("EOF")
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

func TestImportExodusCorpus(t *testing.T) {
	path := filepath.Join(corpus.SharedDir(), "corpus", "trackers", "exodus_trackers_api.json")
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("Exodus corpus file not available (%v); set PILMON_SHARED to the shared folder", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	// Against the hand-written entries alone most trackers are new; against the shipped
	// catalogue, whose derived file was generated from this database, almost none are.
	_, hst, err := ImportExodus(bytes.NewReader(data), handWritten(t))
	if err != nil {
		t.Fatal(err)
	}
	if hst.Trackers != 432 || hst.NewSDKs < 300 || hst.Extended < 20 {
		t.Errorf("against sdks.yaml alone: stats = %+v", hst)
	}
	c := mustDefault(t)
	ov, st, err := ImportExodus(bytes.NewReader(data), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", ImportStats{Trackers: st.Trackers, NewSDKs: st.NewSDKs, Extended: st.Extended, Skipped: st.Skipped, PrefixesCovered: st.PrefixesCovered, BadSignatures: st.BadSignatures})
	if st.Trackers != 432 || st.NewSDKs > 20 || st.Extended < 400 {
		t.Errorf("stats = %+v", st)
	}
	out := filepath.Join(t.TempDir(), "overlay.yaml")
	if err := SaveOverlay(out, ov); err != nil {
		t.Fatal(err)
	}
	merged, err := LoadWithOverlay(out)
	if err != nil {
		t.Fatalf("LoadWithOverlay: %v", err)
	}
	if d, ok := merged.SDKForClass("com.krux.androidsdk.Krux"); !ok || d.Origin != OriginDerived || !slices.Contains(d.Exodus, "Audience Studio (Krux)") {
		t.Errorf("Krux (Exodus only, derived) = %+v %v", d.ID, ok)
	}
	for class, want := range map[string]string{"com.umeng.analytics.X": "umeng_analytics", "com.appsflyer.AppsFlyerLib": "appsflyer", "com.loc.x": "amap", "cn.jpush.android.api.JPushInterface": "jpush"} {
		if d, ok := merged.SDKForClass(class); !ok || d.ID != want {
			t.Errorf("SDKForClass(%s) = %q, want catalogue %q", class, d.ID, want)
		}
	}
	if _, ok := merged.SDKForClass("com.bytedance.Whatever"); ok {
		t.Error("an imported umbrella prefix (com.bytedance) claims classes")
	}
	if merged.Stats().SDKs < c.Stats().SDKs {
		t.Error("overlay removed entries")
	}
}

// The overlay loader and the catalogue loader agree on what a valid SDK is.
func TestOverlayRejectsDuplicateWithinOverlay(t *testing.T) {
	m := fstest.MapFS{}
	_ = m
	y := "version: 1\nsdks:\n" +
		"  - {id: exodus-a, name: {zh: a, en: a}, kind: ads, class_prefixes: [com.dup.x], pi: [], pi_source: exodus, origin: exodus-overlay, verification: x}\n" +
		"  - {id: exodus-b, name: {zh: b, en: b}, kind: ads, class_prefixes: [com.dup.x], pi: [], pi_source: exodus, origin: exodus-overlay, verification: x}\n"
	path := filepath.Join(t.TempDir(), "o.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadWithOverlay(path)
	if err == nil || !strings.Contains(err.Error(), "o.yaml:4: SDK exodus-b: class prefix \"com.dup.x\" already belongs to SDK exodus-a") {
		t.Fatalf("error = %v", err)
	}
}
