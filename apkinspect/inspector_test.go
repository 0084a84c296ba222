package apkinspect

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"pilmon/internal/corpus"

	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/samplegen/apkbuild"
	"pilmon/scanner"
	"pilmon/scanner/scannertest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

type memSink struct {
	mu    sync.Mutex
	metas []evidence.Meta
	blobs [][]byte
}

func (s *memSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	sum := sha256.Sum256(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.metas = append(s.metas, meta)
	s.blobs = append(s.blobs, b)
	return evidence.Ref{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}, nil
}

func catalogue(t testing.TB) *rules.Catalogue {
	c, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readDir(t testing.TB, dir string) map[string]string {
	out := map[string]string{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			b, _ := os.ReadFile(p)
			out[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	return out
}

// fixture is one APK to build: empty fields take testdata/app's manifest and smali; Res adds
// to (or replaces files of) testdata/app/res.
type fixture struct {
	Manifest string
	Smali    map[string]string
	Files    map[string][]byte
	Res      map[string]string
}

var (
	fixtureMu    sync.Mutex
	fixtureDir   string
	fixtureCache = map[[32]byte]*fixtureBuild{}
)

type fixtureBuild struct {
	once sync.Once
	path string
	err  error
}

// TestMain removes the APKs built for the whole test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// buildFixture builds testdata/app (manifest, res/, smali/) plus extra entries, signed with the
// committed test key. Each distinct APK is built once per test binary (aapt, smali, zipalign
// and apksigner take a second or more each).
func buildFixture(t testing.TB, manifest string, smali map[string]string, files map[string][]byte) string {
	t.Helper()
	return buildSpec(t, fixture{Manifest: manifest, Smali: smali, Files: files})
}

func buildSpec(t testing.TB, f fixture) string {
	t.Helper()
	if err := apkbuild.Available(); err != nil {
		t.Skip(err)
	}
	key, _ := json.Marshal(f)
	sum := sha256.Sum256(key)
	fixtureMu.Lock()
	if fixtureDir == "" {
		d, err := os.MkdirTemp("", "apkinspect-fixtures-")
		if err != nil {
			fixtureMu.Unlock()
			t.Fatal(err)
		}
		fixtureDir = d
	}
	b := fixtureCache[sum]
	if b == nil {
		b = &fixtureBuild{}
		fixtureCache[sum] = b
	}
	dir := fixtureDir
	fixtureMu.Unlock()
	b.once.Do(func() { b.path, b.err = build(t, dir, f) })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func build(t testing.TB, parent string, f fixture) (string, error) {
	dir, err := os.MkdirTemp(parent, "apk")
	if err != nil {
		return "", err
	}
	key, err := apkbuild.KeyFromPEM(dir, mustAbs(t, filepath.Join("testdata", "testkey.pem")), mustAbs(t, filepath.Join("testdata", "testcert.pem")))
	if err != nil {
		return "", err
	}
	key.PK8 = mustAbs(t, key.PK8)
	res := readDir(t, filepath.Join("testdata", "app", "res"))
	for k, v := range f.Res {
		res[k] = v
	}
	manifest := f.Manifest
	if manifest == "" {
		b, _ := os.ReadFile(filepath.Join("testdata", "app", "AndroidManifest.xml"))
		manifest = string(b)
	}
	smali := f.Smali
	if smali == nil {
		smali = readDir(t, filepath.Join("testdata", "app", "smali"))
	}
	return apkbuild.Build(dir, apkbuild.Spec{Manifest: manifest, Res: res, Smali: smali, Files: f.Files, Sign: key})
}

func mustAbs(t testing.TB, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func inspect(t testing.TB, p string) (scanner.Report, *memSink) {
	sink := &memSink{}
	in := New(catalogue(t), Options{})
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceAPK, Locator: p}, sink)
	return rep, sink
}

func find(rep scanner.Report, kind, subject string) *scanner.Observation {
	for i, o := range rep.Observations {
		if o.Kind == kind && (subject == "" || o.Subject == subject) {
			return &rep.Observations[i]
		}
	}
	return nil
}

func count(rep scanner.Report, kind string) int {
	n := 0
	for _, o := range rep.Observations {
		if o.Kind == kind {
			n++
		}
	}
	return n
}

func TestFixtureGolden(t *testing.T) {
	p := buildFixture(t, "", nil, map[string][]byte{"lib/arm64-v8a/libjpush400.so": []byte("\x7fELF not really"), "assets/supplierconfig.json": []byte(`{"supplier":{}}`)})
	rep, sink := inspect(t, p)
	if rep.Status != scanner.StatusSucceeded {
		t.Errorf("status %s, errors %v", rep.Status, rep.Errors)
	}
	// Evidence first, with the metadata the store needs.
	if len(sink.metas) != 1 || sink.metas[0].Method != "file_import" || sink.metas[0].MediaType != MediaType || len(rep.Evidence) != 1 {
		t.Fatalf("evidence: %+v %+v", sink.metas, rep.Evidence)
	}
	sha := rep.Evidence[0].SHA256
	for _, o := range rep.Observations {
		if len(o.EvidenceRefs) != 1 || o.EvidenceRefs[0] != sha || o.Inspector != Name || o.InspectorVersion != Version {
			t.Fatalf("observation %s/%s refs %v", o.Kind, o.Subject, o.EvidenceRefs)
		}
	}
	// The detectors, positive side.
	id := find(rep, "apk.identity", "com.example.app")
	if id == nil || id.Attributes["label"] != "示例商城" || id.Attributes["target_sdk"] != 30 || id.Attributes["version_code"] != "7" {
		t.Errorf("identity %+v", id)
	}
	if o := find(rep, "apk.sensitive_api", "telephony.getDeviceId @ com.umeng.commonsdk.statistics.idtracking.ImeiTracker"); o == nil || o.Attributes["sdk"] != "umeng_analytics" || o.Attributes["caller_method"] != "imei" {
		t.Errorf("getDeviceId from umeng: %+v", o)
	}
	if o := find(rep, "apk.sensitive_api", "pm.getInstalledPackages @ com.example.app.Main"); o == nil || o.Attributes["sdk"] != "" {
		t.Errorf("getInstalledPackages from the app: %+v", o)
	}
	if n := count(rep, "apk.sensitive_api"); n != 2 {
		t.Errorf("%d sensitive_api observations, want 2 (deduplicated)", n)
	}
	if o := find(rep, "apk.sdk", "umeng_analytics"); o == nil || !strings.Contains(strings.Join(o.Attributes["via"].([]string), ","), "class_prefix") {
		t.Errorf("umeng sdk: %+v", o)
	}
	if o := find(rep, "apk.sdk", "jpush"); o == nil || o.Attributes["via"].([]string)[0] != "native_lib" {
		t.Errorf("jpush via native lib: %+v", o)
	}
	if o := find(rep, "apk.endpoint", "api.example.cn"); o == nil || o.Attributes["cleartext"] != true {
		t.Errorf("endpoint: %+v", o)
	}
	if o := find(rep, "apk.policy_reference", "https://www.example.cn/h5/privacy.html"); o == nil {
		t.Error("policy reference missing")
	}
	if o := find(rep, "apk.certificate", ""); o == nil || !strings.Contains(o.Attributes["subject_dn"].(string), "示例网络科技有限公司") {
		t.Errorf("certificate %+v", o)
	}
	if o := find(rep, "apk.component", "com.example.app.Files"); o != nil {
		t.Error("provider without exported at targetSdk 30 must be unexported")
	}
	if o := find(rep, "apk.component", "com.umeng.message.NotificationProxyBroadcastReceiver"); o == nil || o.Attributes["sdk"] != "umeng_push" {
		t.Errorf("umeng receiver: %+v", o)
	}
	// nsc_open: cleartext and user CAs for one nested domain-config only.
	for flag, want := range map[string]bool{"cleartext_traffic": true, "user_ca_trusted": true, "network_security_config": true} {
		if o := find(rep, "apk.manifest_flag", flag); o == nil || o.Attributes["value"] != want {
			t.Errorf("%s: %+v", flag, o)
		}
	}
	if o := find(rep, "apk.sdk", "msa_oaid"); o == nil || strings.Join(o.Attributes["via"].([]string), ",") != "asset_file" ||
		strings.Join(o.Attributes["markers"].([]string), ",") != "asset_file: assets/supplierconfig.json" {
		t.Errorf("msa_oaid via its asset: %+v", o)
	}
	if o := find(rep, "apk.sdk", "umeng_analytics"); o == nil || !slices.Contains(o.Attributes["markers"].([]string), "manifest_key: UMENG_APPKEY") {
		t.Errorf("umeng markers: %+v", o)
	}
	checkVocabulary(t, rep.Observations)
	if count(rep, "apk.packer") != 0 {
		t.Error("packer on an unpacked APK")
	}
	golden(t, filepath.Join("testdata", "fixture.golden.json"), rep.Observations, sha)
}

// checkVocabulary checks every observation's kind and attribute names against
// rules/data/observation_kinds.yaml.
func checkVocabulary(t *testing.T, obs []scanner.Observation) {
	t.Helper()
	c := catalogue(t)
	for _, o := range obs {
		k, ok := c.ObservationKind(o.Kind)
		if !ok || k.Producer != Name {
			t.Errorf("kind %q not in the vocabulary for %s", o.Kind, Name)
			continue
		}
		for a := range o.Attributes {
			if !slices.ContainsFunc(k.Attributes, func(s rules.AttributeSpec) bool { return s.Name == a }) {
				t.Errorf("%s: attribute %q not in the vocabulary", o.Kind, a)
			}
		}
	}
}

// golden compares observations as JSON with the APK hash replaced (zip timestamps change it).
func golden(t *testing.T, path string, obs []scanner.Observation, sha string) {
	b, err := json.MarshalIndent(obs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(string(b), sha, "<apk-sha256>") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("observations differ from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// TestNegative: an app with no SDK, no sensitive call, no cleartext, no backup.
func TestNegative(t *testing.T) {
	man := `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.example.clean" android:versionCode="1" android:versionName="1">
<uses-sdk android:minSdkVersion="24" android:targetSdkVersion="33"/>
<application android:label="Clean" android:allowBackup="false" android:usesCleartextTraffic="true" android:networkSecurityConfig="@xml/nsc_strict">
<activity android:name=".A" android:exported="true"><intent-filter><action android:name="android.intent.action.MAIN"/></intent-filter></activity>
<service android:name=".S"><intent-filter><action android:name="x.Y"/></intent-filter></service>
</application></manifest>`
	smali := map[string]string{"A.smali": `.class public Lorg/example/clean/A;
.super Ljava/lang/Object;
.method public static f()Ljava/lang/String;
    .registers 1
    const-string v0, "hello"
    return-object v0
.end method
`}
	// Near misses: names that contain a packer's or an SDK's marker but are not it.
	smali["Stubborn.smali"] = ".class public Lcom/stubborn/StubApp;\n.super Ljava/lang/Object;\n"
	files := map[string][]byte{"lib/arm64-v8a/libmyjiagu.so": []byte("\x7fELF"), "assets/sub/supplierconfig.json": []byte("{}"), "assets/gdt.json": []byte("{}")}
	rep, _ := inspect(t, buildFixture(t, man, smali, files))
	for _, k := range []string{"apk.sdk", "apk.sensitive_api", "apk.endpoint", "apk.packer", "apk.policy_reference", "apk.permission"} {
		if n := count(rep, k); n != 0 {
			t.Errorf("%d %s observations on a clean APK", n, k)
		}
	}
	// The network security config overrides usesCleartextTraffic="true"; its user CAs are for
	// debug builds only.
	for flag, want := range map[string]bool{"allow_backup": false, "cleartext_traffic": false, "debuggable": false, "network_security_config": true, "user_ca_trusted": false} {
		if o := find(rep, "apk.manifest_flag", flag); o == nil || o.Attributes["value"] != want {
			t.Errorf("%s: %+v", flag, o)
		}
	}
	// The service has an intent-filter but no android:exported at targetSdk 33: reported, unexported.
	if find(rep, "apk.component", "org.example.clean.S") != nil || rep.Status != scanner.StatusPartial {
		t.Errorf("service S: status %s errors %v", rep.Status, rep.Errors)
	}
}

// TestPacked: a packed APK is partial, says by whom and from which marker, and keeps the manifest.
func TestPacked(t *testing.T) {
	for _, tc := range []struct {
		name, app, packer, marker string
		smali                     map[string]string
		files                     map[string][]byte
	}{
		{name: "360 lib and stub class", app: "com.stub.StubApp", packer: "360加固", marker: "lib/armeabi-v7a/libjiagu.so",
			smali: map[string]string{"Stub.smali": ".class public Lcom/stub/StubApp;\n.super Landroid/app/Application;\n"},
			files: map[string][]byte{"lib/armeabi-v7a/libjiagu.so": []byte("\x7fELF")}},
		{name: "Legu lib only", app: "com.example.packed.App", packer: "腾讯乐固", marker: "lib/arm64-v8a/libshella-2.10.3.0.so",
			smali: map[string]string{"App.smali": ".class public Lcom/example/packed/App;\n.super Landroid/app/Application;\n"},
			files: map[string][]byte{"lib/arm64-v8a/libshella-2.10.3.0.so": []byte("\x7fELF")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			man := `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.example.packed">
<uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
<uses-permission android:name="android.permission.READ_CONTACTS"/>
<application android:name="` + tc.app + `" android:allowBackup="false"/></manifest>`
			rep, _ := inspect(t, buildFixture(t, man, tc.smali, tc.files))
			if rep.Status != scanner.StatusPartial {
				t.Errorf("status %s, want partial", rep.Status)
			}
			o := find(rep, "apk.packer", "")
			if o == nil || !strings.Contains(o.Subject, tc.packer) || count(rep, "apk.packer") != 1 {
				t.Fatalf("packer: %+v", rep.Observations)
			}
			if o.Attributes["marker"] != tc.marker {
				t.Errorf("marker %v, want %s", o.Attributes["marker"], tc.marker)
			}
			if find(rep, "apk.permission", "android.permission.READ_CONTACTS") == nil || find(rep, "apk.identity", "com.example.packed") == nil {
				t.Error("manifest facts lost on a packed APK")
			}
			if f := find(rep, "apk.manifest_flag", "allow_backup"); f == nil || f.Attributes["value"] != false {
				t.Errorf("allow_backup on a packed APK: %+v", f)
			}
			if errs := scanner.JoinErrors(rep.Errors, "\n"); !strings.Contains(errs, "code is packed by "+tc.packer) || !strings.Contains(errs, tc.marker) {
				t.Errorf("errors: %v", rep.Errors)
			}
		})
	}
}

// TestConformance runs the scanner core's contract: a good APK succeeds, a packed one keeps its
// manifest facts in a partial report, hostile files give FileErrors naming them.
func TestConformance(t *testing.T) {
	packed := buildFixture(t, `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.example.packed">
<uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
<uses-permission android:name="android.permission.READ_CONTACTS"/>
<application android:name="com.example.packed.App" android:allowBackup="false"/></manifest>`,
		map[string]string{"App.smali": ".class public Lcom/example/packed/App;\n.super Landroid/app/Application;\n"},
		map[string][]byte{"lib/arm64-v8a/libshella-2.10.3.0.so": []byte("\x7fELF")})
	scannertest.Conformance(t, New(catalogue(t), Options{}), []scannertest.Input{
		{Source: scanner.Source{Kind: scanner.SourceAPK, Locator: buildFixture(t, "", nil, nil)}, Want: []string{"apk.identity", "apk.permission"}},
		{Source: scanner.Source{Kind: scanner.SourceAPK, Locator: packed}, Partial: true, Want: []string{"apk.identity", "apk.permission", "apk.packer"}},
	})
}

// TestCorpus inspects every shared corpus APK: never failed when aapt reads it, SDKs logged.
func TestCorpus(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	if len(files) == 0 {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	for _, f := range files {
		rep, _ := inspect(t, f)
		base := filepath.Base(f)
		var sdks []string
		for _, o := range rep.Observations {
			if o.Kind == "apk.sdk" {
				sdks = append(sdks, o.Subject+"("+strings.Join(o.Attributes["via"].([]string), "+")+")")
			}
		}
		t.Logf("%s: %s, %d observations, SDKs %v, errors %d", base, rep.Status, len(rep.Observations), sdks, len(rep.Errors))
		if strings.HasPrefix(base, "malformed_") {
			continue
		}
		if rep.Status == scanner.StatusFailed {
			t.Errorf("%s failed: %v", base, rep.Errors)
		}
	}
}
