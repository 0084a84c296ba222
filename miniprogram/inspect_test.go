package miniprogram

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"pilmon/rules"
	"pilmon/scanner"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func catalogueForTest(t testing.TB) *rules.Catalogue {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatalf("rules.Default: %v", err)
	}
	return cat
}

func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func inspectPackage(t testing.TB, in *Inspector, name string, data []byte, opts map[string]string) (scanner.Report, *memSink) {
	t.Helper()
	sink := newMemSink()
	p := writeTemp(t, name, data)
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: p, Options: opts}, sink)
	return rep, sink
}

// find returns the observations of kind whose subject is subject.
func find(rep scanner.Report, kind, subject string) []scanner.Observation {
	var out []scanner.Observation
	for _, o := range rep.Observations {
		if o.Kind == kind && o.Subject == subject {
			out = append(out, o)
		}
	}
	return out
}

func TestInspectGeneratedPackage(t *testing.T) {
	in := New(catalogueForTest(t), Options{})
	data, err := Pack(fixtureFiles())
	if err != nil {
		t.Fatal(err)
	}
	rep, sink := inspectPackage(t, in, "wx0123456789abcdef.wxapkg", data, nil)
	if rep.Status != scanner.StatusSucceeded {
		t.Fatalf("status %s: %v", rep.Status, rep.Errors)
	}
	if len(rep.Evidence) != 1 || len(sink.blobs) != 1 {
		t.Fatalf("evidence %v", rep.Evidence)
	}
	for _, o := range rep.Observations {
		if !slices.Equal(o.EvidenceRefs, []string{rep.Evidence[0].SHA256}) {
			t.Fatalf("%s %s: evidence refs %v", o.Kind, o.Subject, o.EvidenceRefs)
		}
	}

	// Positives, with the line they sit on.
	wantCalls := map[string]int{
		"wx.getLocation": 11, "wx.chooseAddress": 12, "wx.getFuzzyLocation": 14, "wx.getUserProfile": 10,
		"wx.getSystemInfo": 4, "wx.login": 21, "wx.startRecord": 21, "wx.faceVerifyForPay": 21,
		"wx.startLocationUpdateBackground": 21, "button:getPhoneNumber": 2, "wx.authorize": 21,
	}
	for api, line := range wantCalls {
		obs := find(rep, "mp.api_call", api)
		if len(obs) != 1 {
			t.Errorf("%s: %d observations", api, len(obs))
			continue
		}
		if got := obs[0].Attributes["line"]; got != line {
			t.Errorf("%s: line %v, want %d", api, got, line)
		}
	}
	// Negatives: names in strings, comments, regexes, template text, and foo.wx.X.
	for _, api := range []string{"wx.getClipboardData", "wx.startSoterAuthentication", "wx.getWeRunData", "wx.addPhoneContact", "wx.chooseImage", "button:share"} {
		if obs := find(rep, "mp.api_call", api); len(obs) != 0 {
			t.Errorf("%s reported from a string/comment/regex: %+v", api, obs[0])
		}
	}
	// Declarations: getLocation is in requiredPrivateInfos with a reason; getFuzzyLocation is not
	// listed and its scope has no reason; chooseAddress is not listed.
	for api, want := range map[string]bool{"wx.getLocation": true, "wx.getFuzzyLocation": false, "wx.chooseAddress": false, "wx.startLocationUpdateBackground": false} {
		if obs := find(rep, "mp.api_call", api); len(obs) == 1 && obs[0].Attributes["declared"] != want {
			t.Errorf("%s declared=%v, want %v", api, obs[0].Attributes["declared"], want)
		}
	}
	if obs := find(rep, "mp.api_call", "wx.login"); len(obs) == 1 {
		if _, ok := obs[0].Attributes["declared"]; ok {
			t.Error("wx.login needs no declaration but carries declared")
		}
	}
	if obs := find(rep, "mp.api_call", "wx.authorize"); len(obs) == 1 {
		if !slices.Equal(obs[0].Attributes["scopes"].([]string), []string{"scope.record"}) || !slices.Equal(obs[0].Attributes["pi"].([]string), []string{"microphone"}) {
			t.Errorf("wx.authorize: %+v", obs[0].Attributes)
		}
	}
	// SDK attribution from define("utils/ald-stat.js").
	if obs := find(rep, "mp.api_call", "wx.getSystemInfo"); len(obs) == 1 && obs[0].Attributes["sdk"] != "aladdin_stat" {
		t.Errorf("getSystemInfo inside ald-stat: sdk %v", obs[0].Attributes["sdk"])
	}
	if obs := find(rep, "mp.sdk", "aladdin_stat"); len(obs) != 1 {
		t.Error("aladdin_stat not found")
	}
	// Domains.
	for host, clear := range map[string]bool{"api.shop.cn": false, "upload.shop.cn": true, "tpl.shop.cn": false, "img.shop.cn": false, "log.aldwx.com": false, "cdn.example-cdn.cn": true} {
		obs := find(rep, "mp.domain", host)
		if len(obs) != 1 {
			t.Errorf("domain %s: %d observations", host, len(obs))
			continue
		}
		if obs[0].Attributes["cleartext"] != clear {
			t.Errorf("domain %s cleartext %v", host, obs[0].Attributes["cleartext"])
		}
	}
	// Privacy configuration.
	if obs := find(rep, "mp.privacy_config", "permission:scope.userFuzzyLocation"); len(obs) != 1 || obs[0].Attributes["present"] != false {
		t.Errorf("scope without reason: %+v", obs)
	}
	if obs := find(rep, "mp.privacy_config", "privacy_authorization_handler"); len(obs) != 1 || obs[0].Attributes["present"] != true {
		t.Errorf("privacy handler: %+v", obs)
	}
	if obs := find(rep, "mp.identity", "wx0123456789abcdef"); len(obs) != 1 || obs[0].Attributes["pages"] != 3 {
		t.Errorf("identity: %+v", obs)
	}

	checkVocabulary(t, rep.Observations)
	golden(t, "testdata/generated_package.golden.json", rep.Observations)
}

func TestInspectAlipayFolder(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"app.json":                `{"pages":["pages/index/index"]}`,
		"pages/index/index.axml":  "<view>\n<button open-type=\"getAuthorize\" scope=\"phoneNumber\" onGetAuthorize=\"onGet\">手机号</button>\n</view>",
		"pages/index/index.js":    "Page({onLoad() {\n  my.getAuthCode({scopes: ['auth_user'], success: (r) => {}});\n  my.getLocation({}); my.getClipboard({});\n  my.request({url: 'http://api.ali-shop.cn/x'});\n  wx.getLocation();\n}});",
		"pages/index/index.json":  `{}`,
		"node_modules/x/index.js": "my.getPhoneNumber()",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(body), 0o644)
	}
	in := New(catalogueForTest(t), Options{})
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceMPDir, Locator: dir}, newMemSink())
	if rep.Status != scanner.StatusSucceeded {
		t.Fatalf("%s %v", rep.Status, rep.Errors)
	}
	checkVocabulary(t, rep.Observations)
	want := map[string]int{"my.getAuthCode": 2, "my.getLocation": 3, "my.getClipboard": 3, "button:getAuthorize": 2, "wx.getLocation": 5}
	for api, line := range want {
		obs := find(rep, "mp.api_call", api)
		if len(obs) != 1 || obs[0].Attributes["line"] != line {
			t.Errorf("%s: %+v", api, obs)
			continue
		}
		if _, ok := obs[0].Attributes["declared"]; ok {
			t.Errorf("%s: Alipay calls carry no declaration", api)
		}
	}
	if obs := find(rep, "mp.api_call", "my.getAuthCode"); len(obs) == 1 && !slices.Equal(obs[0].Attributes["scopes"].([]string), []string{"auth_user"}) {
		t.Errorf("getAuthCode scopes %v", obs[0].Attributes["scopes"])
	}
	if obs := find(rep, "mp.api_call", "button:getAuthorize"); len(obs) == 1 && !slices.Equal(obs[0].Attributes["pi"].([]string), []string{"phone_number"}) {
		t.Errorf("getAuthorize phoneNumber pi %v", obs[0].Attributes["pi"])
	}
	if len(find(rep, "mp.api_call", "my.getPhoneNumber")) != 0 {
		t.Error("node_modules was scanned")
	}
	if obs := find(rep, "mp.domain", "api.ali-shop.cn"); len(obs) != 1 || obs[0].Attributes["cleartext"] != true {
		t.Errorf("domain: %+v", obs)
	}
	if len(find(rep, "mp.privacy_config", "privacy_authorization_handler")) != 0 {
		t.Error("WeChat privacy handler reported for Alipay")
	}
	for _, o := range rep.Observations {
		if o.Kind == "mp.identity" && o.Attributes["platform"] != PlatformAlipay {
			t.Errorf("platform %v", o.Attributes["platform"])
		}
	}
}

// The same program as an encrypted PC package (app id from the path) and as an unpacked folder
// gives the same observations.
func TestInspectEncryptedAndFolderAgree(t *testing.T) {
	in := New(catalogueForTest(t), Options{})
	plain, _ := Pack(fixtureFiles())
	want, _ := inspectPackage(t, in, "wx0123456789abcdef.wxapkg", plain, nil)

	enc, err := EncryptPC(plain, "wx0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	p := writeTemp(t, filepath.Join("Applet", "wx0123456789abcdef", "17", "__APP__.wxapkg"), enc)
	sink := newMemSink()
	got := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: p}, sink)
	if got.Status != scanner.StatusSucceeded || len(got.Evidence) != 2 {
		t.Fatalf("encrypted: %s %v, evidence %d", got.Status, got.Errors, len(got.Evidence))
	}
	if m := sink.metas[got.Evidence[1].SHA256]; m.Method != "derived" || !strings.Contains(m.Source, got.Evidence[0].SHA256) {
		t.Errorf("decrypted artifact meta %+v", m)
	}
	if a, b := stripRefs(want.Observations), stripRefs(got.Observations); a != b {
		t.Errorf("encrypted package observations differ:\n%s\n---\n%s", a, b)
	}

	// Wrong app id from Options: clear failure, input still stored.
	got = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: p, Options: map[string]string{"appid": "wx1111111111111111"}}, newMemSink())
	if got.Status != scanner.StatusFailed || len(got.Evidence) != 1 || !strings.Contains(scanner.JoinErrors(got.Errors, "\n"), "wrong app id") {
		t.Errorf("wrong app id: %s %v", got.Status, got.Errors)
	}

	dir := t.TempDir()
	pkg, _ := Parse(plain, Limits{})
	if _, err := Unpack(pkg, dir); err != nil {
		t.Fatal(err)
	}
	got = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceMPDir, Locator: dir, Options: map[string]string{"appid": "wx0123456789abcdef"}}, newMemSink())
	if got.Status != scanner.StatusSucceeded {
		t.Fatalf("folder: %s %v", got.Status, got.Errors)
	}
	if a, b := stripRefs(want.Observations), stripRefs(got.Observations); a != b {
		t.Errorf("folder observations differ:\n%s\n---\n%s", a, b)
	}
	// The folder's archive is deterministic.
	again := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceMPDir, Locator: dir}, newMemSink())
	if again.Evidence[0].SHA256 != got.Evidence[0].SHA256 {
		t.Error("folder archive is not deterministic")
	}
}

func stripRefs(obs []scanner.Observation) string {
	var b strings.Builder
	for _, o := range obs {
		o.EvidenceRefs = nil
		j, _ := json.Marshal(o)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestInspectFailures(t *testing.T) {
	in := New(nil, Options{})
	ctx := context.Background()
	rep := scanner.InspectSource(ctx, in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: filepath.Join(t.TempDir(), "missing.wxapkg")}, newMemSink())
	if rep.Status != scanner.StatusFailed || len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0].Error(), "missing.wxapkg") {
		t.Errorf("missing file: %+v", rep)
	}
	rep, _ = inspectPackage(t, in, "x.wxapkg", []byte("garbage garbage garbage"), nil)
	if rep.Status != scanner.StatusFailed || !strings.Contains(scanner.JoinErrors(rep.Errors, " "), "not a .wxapkg") || len(rep.Evidence) != 1 {
		t.Errorf("garbage: %+v", rep)
	}
	// Encrypted without any app id.
	plain, _ := Pack(fixtureFiles())
	enc, _ := EncryptPC(plain, "wx0123456789abcdef")
	rep, _ = inspectPackage(t, in, "__APP__.wxapkg", enc, nil)
	if rep.Status != scanner.StatusFailed || !strings.Contains(scanner.JoinErrors(rep.Errors, " "), "needs the app id") {
		t.Errorf("no app id: %+v", rep.Errors)
	}
}

// checkVocabulary checks every observation against rules/data/observation_kinds.yaml (kind,
// attribute names and types) and every pi value against rules/data/pi_categories.yaml.
func checkVocabulary(t *testing.T, obs []scanner.Observation) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "rules", "data", "observation_kinds.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Kinds []rules.ObservationKind `yaml:"kinds"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[string]string{}
	for _, k := range doc.Kinds {
		kinds[k.Kind] = map[string]string{}
		for _, a := range k.Attributes {
			kinds[k.Kind][a.Name] = a.Type
		}
	}
	cat := catalogueForTest(t)
	for _, o := range obs {
		attrs, ok := kinds[o.Kind]
		if !ok || !strings.HasPrefix(o.Kind, "mp.") {
			t.Errorf("undeclared kind %q", o.Kind)
			continue
		}
		if o.Inspector != Name || o.InspectorVersion != Version {
			t.Errorf("%s: inspector %s/%s", o.Kind, o.Inspector, o.InspectorVersion)
		}
		for name, v := range o.Attributes {
			typ, ok := attrs[name]
			if !ok {
				t.Errorf("%s: undeclared attribute %q", o.Kind, name)
				continue
			}
			okType := false
			switch v.(type) {
			case string:
				okType = typ == "string"
			case bool:
				okType = typ == "bool"
			case int:
				okType = typ == "int"
			case []string:
				okType = typ == "[]string"
			}
			if !okType {
				t.Errorf("%s.%s: %T for declared %s", o.Kind, name, v, typ)
			}
		}
		if pis, ok := o.Attributes["pi"].([]string); ok {
			for _, p := range pis {
				if _, ok := cat.PICategory(p); !ok {
					t.Errorf("%s %s: unknown pi %q", o.Kind, o.Subject, p)
				}
			}
		}
	}
}

func golden(t *testing.T, path string, obs []scanner.Observation) {
	t.Helper()
	var clean []scanner.Observation
	for _, o := range obs {
		o.EvidenceRefs = []string{"<input>"}
		clean = append(clean, o)
	}
	got, err := json.MarshalIndent(clean, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (rerun with -update and review the diff):\n%s", path, got)
	}
}

// Every PI id in the API tables exists in the catalogue.
func TestAPITablePI(t *testing.T) {
	cat := catalogueForTest(t)
	var all [][]string
	for _, a := range wxAPIs {
		all = append(all, a.PI)
	}
	for _, a := range myAPIs {
		all = append(all, a.PI)
	}
	for _, pi := range buttonOpenTypes {
		all = append(all, pi)
	}
	var bad []string
	for _, pis := range all {
		for _, p := range pis {
			if _, ok := cat.PICategory(p); !ok {
				bad = append(bad, p)
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("unknown PI ids: %v", slices.Compact(bad))
	}
}

// A PC WeChat version folder (main package + sub-package, both encrypted) is one program.
func TestInspectPackageFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Applet", "wx0123456789abcdef", "17")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mainPkg, _ := Pack(fixtureFiles())
	subPkg, _ := Pack([]File{
		{Name: "sub/pages/x.js", Data: []byte("Page({});\nwx.getWeRunData({});")},
		{Name: "sub/pad.bin", Data: make([]byte, 2000)},
	})
	for name, plain := range map[string][]byte{"__APP__.wxapkg": mainPkg, "_sub_.wxapkg": subPkg} {
		enc, err := EncryptPC(plain, "wx0123456789abcdef")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), enc, 0o644)
	}
	in := New(catalogueForTest(t), Options{})
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: dir}, newMemSink())
	if rep.Status != scanner.StatusSucceeded || len(rep.Evidence) != 4 {
		t.Fatalf("%s %v, %d artifacts", rep.Status, rep.Errors, len(rep.Evidence))
	}
	checkVocabulary(t, rep.Observations)
	if obs := find(rep, "mp.api_call", "wx.getWeRunData"); len(obs) != 1 || obs[0].Attributes["file"] != "_sub_.wxapkg!sub/pages/x.js" || obs[0].Attributes["line"] != 2 {
		t.Errorf("sub-package call: %+v", obs)
	}
	if obs := find(rep, "mp.identity", "wx0123456789abcdef"); len(obs) != 1 || obs[0].Attributes["pages"] != 3 {
		t.Errorf("identity: %+v", obs)
	}
	if obs := find(rep, "mp.privacy_config", "privacy_authorization_handler"); len(obs) != 1 || obs[0].Attributes["present"] != true {
		t.Errorf("handler: %+v", obs)
	}

	// The sub-package alone says nothing about the privacy flow.
	rep = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: filepath.Join(dir, "_sub_.wxapkg")}, newMemSink())
	if rep.Status != scanner.StatusSucceeded || len(find(rep, "mp.privacy_config", "privacy_authorization_handler")) != 0 || len(find(rep, "mp.api_call", "wx.getWeRunData")) != 1 {
		t.Errorf("sub-package alone: %s %v %s", rep.Status, rep.Errors, summary(rep))
	}

	// A folder with one good and one corrupt package is partial; with none, failed.
	os.WriteFile(filepath.Join(dir, "_bad_.wxapkg"), []byte("garbage"), 0o644)
	rep = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: dir}, newMemSink())
	if rep.Status != scanner.StatusPartial || !strings.Contains(scanner.JoinErrors(rep.Errors, "\n"), "_bad_.wxapkg") {
		t.Errorf("one corrupt package: %s %v", rep.Status, rep.Errors)
	}
	rep = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: t.TempDir()}, newMemSink())
	if rep.Status != scanner.StatusFailed || !strings.Contains(scanner.JoinErrors(rep.Errors, "\n"), "no .wxapkg") {
		t.Errorf("empty folder: %s %v", rep.Status, rep.Errors)
	}
}
