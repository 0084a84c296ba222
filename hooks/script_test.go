package hooks

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pilmon/hooklog"
	"pilmon/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/pilmon-hooks.golden.js")

func catalogue(t *testing.T) *rules.Catalogue {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// The script is pinned: a change of the catalogue or the template shows as a diff of the golden
// file, reviewed like code.
func TestScriptGolden(t *testing.T) {
	got, _, err := Script(catalogue(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "pilmon-hooks.golden.js")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./hooks -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("generated script differs from %s; if the change is intended, run go test ./hooks -update and review the diff", golden)
	}
}

// Every catalogue API with a Java method to hook is covered; what is not hooked is a field read
// or an interface, and says so.
func TestPlanCoversEveryMethodAPI(t *testing.T) {
	cat := catalogue(t)
	plan, err := BuildPlan(cat)
	if err != nil {
		t.Fatal(err)
	}
	covered := plan.Covered()
	for _, api := range cat.SensitiveAPIs() {
		if covered[api.ID] {
			continue
		}
		var reasons []string
		for _, s := range plan.Skipped {
			if s.API == api.ID {
				reasons = append(reasons, s.Reason)
			}
		}
		if len(reasons) != len(api.Descriptors) {
			t.Errorf("%s (%s): not hooked, and only %d of its %d descriptors are skipped with a reason", api.ID, api.Kind, len(reasons), len(api.Descriptors))
		}
		if api.Kind != "field" {
			for _, r := range reasons {
				if !strings.HasPrefix(r, "interface") {
					t.Errorf("%s (%s) is not hooked: %s", api.ID, api.Kind, r)
				}
			}
		}
	}
	// Positive and negative: a method API is hooked with its overload, the field read is not.
	if !covered["telephony.getDeviceId"] {
		t.Error("telephony.getDeviceId is not hooked")
	}
	if covered["build.SERIAL"] {
		t.Error("build.SERIAL is a field read and cannot be hooked, but the plan claims it")
	}
	for _, h := range plan.Hooks {
		for _, e := range h.Entries {
			if e.API == "telephony.getDeviceId" && h.Method == "getDeviceId" && h.Overload != nil && len(h.Overload) == 1 && h.Overload[0] != "int" {
				t.Errorf("getDeviceId(I) overload is %v, want [int]", h.Overload)
			}
		}
	}
}

// An abstract framework method is hooked on the class that runs it; filtered entries come before
// an unfiltered one on the same method.
func TestPlanHooksImplementations(t *testing.T) {
	plan, err := BuildPlan(catalogue(t))
	if err != nil {
		t.Fatal(err)
	}
	find := func(class, method string) *Hook {
		for i := range plan.Hooks {
			if plan.Hooks[i].Class == class && plan.Hooks[i].Method == method {
				return &plan.Hooks[i]
			}
		}
		return nil
	}
	if find("android.content.pm.PackageManager", "getInstalledPackages") != nil {
		t.Error("PackageManager.getInstalledPackages is abstract: hooking it records nothing")
	}
	if find("android.app.ApplicationPackageManager", "getInstalledPackages") == nil {
		t.Error("ApplicationPackageManager.getInstalledPackages, where the call runs, is not hooked")
	}
	if find("android.app.Activity", "startActivity") == nil || find("android.app.ContextImpl", "startActivity") == nil {
		t.Error("startActivity must be hooked on ContextImpl and on Activity, which overrides it")
	}
	q := find("android.content.ContentResolver", "query")
	if q == nil {
		t.Fatal("ContentResolver.query is not hooked")
	}
	if len(q.Entries) < 5 {
		t.Errorf("ContentResolver.query maps to %d provider APIs, want one per provider entry", len(q.Entries))
	}
	for _, e := range q.Entries {
		if len(e.ArgContains) == 0 || !e.Prefix {
			t.Errorf("ContentResolver.query entry %s has no URI prefix filter: every query would be reported as it", e.API)
		}
	}
	s := find("android.provider.Settings$Secure", "getString")
	if s == nil || len(s.Entries) != 1 || !slices.Contains(s.Entries[0].ArgContains, "android_id") {
		t.Errorf("Settings$Secure.getString must report only android_id reads: %+v", s)
	}
}

func TestJavaParams(t *testing.T) {
	for in, want := range map[string][]string{
		"":  nil,
		"I": {"int"},
		"Landroid/content/ContentResolver;Ljava/lang/String;": {"android.content.ContentResolver", "java.lang.String"},
		"[B[[Ljava/lang/String;J":                             {"[B", "[[Ljava.lang.String;", "long"},
	} {
		got, err := javaParams(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("javaParams(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"[", "Ljava/lang/String", "Q"} {
		if _, err := javaParams(bad); err == nil {
			t.Errorf("javaParams(%q) accepted", bad)
		}
	}
}

func TestScriptOptionsRefused(t *testing.T) {
	cat := catalogue(t)
	for _, o := range []Options{
		{ConsentWords: []string{""}},
		{RefusalWords: []string{"不 同意"}},
		{ConsentWords: []string{strings.Repeat("同", maxLabel+1)}},
		{FileName: "../x.jsonl"},
	} {
		if _, _, err := Script(cat, o); err == nil {
			t.Errorf("Script accepted %+v", o)
		}
	}
}

func TestScriptPassesNodeCheck(t *testing.T) {
	node := nodePath(t)
	for _, o := range []Options{{}, {Redact: true, Console: true}} {
		src, _, err := Script(catalogue(t), o)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "pilmon-hooks.js")
		if err := os.WriteFile(f, src, 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(node, "--check", f).CombinedOutput(); err != nil {
			t.Fatalf("node --check: %v\n%s", err, out)
		}
	}
}

func nodePath(t *testing.T) string {
	t.Helper()
	for _, n := range []string{"node", "nodejs"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Skip("node not installed (Debian: nodejs)")
	return ""
}

type line struct {
	V           int      `json:"v"`
	Type        string   `json:"type"`
	T           int64    `json:"t"`
	API         string   `json:"api"`
	Args        []string `json:"args"`
	Ret         *string  `json:"ret"`
	RetRedacted bool     `json:"ret_redacted"`
	Stack       []string `json:"stack"`
	FG          *bool    `json:"fg"`
	Text        string   `json:"text"`
	State       string   `json:"state"`
	Package     string   `json:"package"`
	Script      string   `json:"script"`
	Classes     []string `json:"classes"`
}

// runSession runs the generated script under the fake bridge through one scripted session and
// returns the lines it wrote on the "device".
func runSession(t *testing.T, o Options) []line {
	lines, _ := runSessionFile(t, o)
	return lines
}

// runSessionFile is runSession that also returns the log file's path.
func runSessionFile(t *testing.T, o Options) ([]line, string) {
	t.Helper()
	node := nodePath(t)
	src, _, err := Script(catalogue(t), o)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "pilmon-hooks.js")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "files")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command(node, filepath.Join("testdata", "fakebridge.js"), script, out).CombinedOutput(); err != nil {
		t.Fatalf("fake session: %v\n%s", err, b)
	}
	logPath := filepath.Join(out, "pilmon-hooks.jsonl")
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.V != 1 {
			t.Fatalf("line without v=1: %q", sc.Text())
		}
		lines = append(lines, l)
	}
	return lines, logPath
}

func TestScriptSessionUnderFakeBridge(t *testing.T) {
	lines := runSession(t, Options{})
	var kinds []string
	for _, l := range lines {
		k := l.Type
		if l.API != "" {
			k += ":" + l.API
		}
		kinds = append(kinds, k)
	}
	want := []string{
		"session",
		"call:telephony.getDeviceId", // buffered at start-up, flushed when the app is bound
		"hooks_missing",              // SDK classes the app does not contain
		"lifecycle",
		"call:settings.androidId", // the enabled_notification_listeners read is not one
		"consent",                 // the paragraph containing 同意 is not a button
		"call:provider.contacts",  // the app's own provider URI is not contacts
		"call:pm.probePackage",    // com.tencent.mm; the app's own package info is not probing
		"refusal",
		"lifecycle",
		"call:location.lastKnown",
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("session lines:\n got %v\nwant %v", kinds, want)
	}
	s := lines[0]
	if s.Package != "com.example.shop" || !strings.HasPrefix(s.Script, "pilmon-hooks "+Version+" plan-sha256:") {
		t.Errorf("session line: %+v", s)
	}
	imei := lines[1]
	if imei.Ret == nil || *imei.Ret != "867530912345678" || imei.FG != nil {
		t.Errorf("start-up IMEI read: ret %v fg %v (want the value, and fg unknown at start-up)", imei.Ret, imei.FG)
	}
	if len(imei.Stack) != 3 || !strings.HasPrefix(imei.Stack[1], "com.umeng.") {
		t.Errorf("stack not kept frame by frame: %q", imei.Stack)
	}
	if !slices.Contains(lines[2].Classes, "com.amap.api.location.AMapLocationClient") {
		t.Errorf("hooks_missing does not list the absent AMap class: %v", lines[2].Classes)
	}
	if lines[3].State != "foreground" || lines[9].State != "background" {
		t.Errorf("lifecycle states %q, %q", lines[3].State, lines[8].State)
	}
	if fg := lines[4].FG; fg == nil || !*fg {
		t.Error("read while an activity is started is not marked foreground")
	}
	if lines[5].Text != "同意" || lines[8].Text != "不同意" {
		t.Errorf("consent %q refusal %q", lines[5].Text, lines[8].Text)
	}
	if len(lines[7].Args) == 0 || lines[7].Args[0] != "com.tencent.mm" {
		t.Errorf("package probe args %q", lines[7].Args)
	}
	if fg := lines[10].FG; fg == nil || *fg {
		t.Error("read after the last activity stopped is not marked background")
	}
	for i := 1; i < len(lines); i++ {
		if lines[i].T < lines[i-1].T {
			t.Errorf("line %d goes back in time", i)
		}
	}
}

func TestScriptRedacts(t *testing.T) {
	lines := runSession(t, Options{Redact: true})
	sum := sha256.Sum256([]byte("867530912345678"))
	want := "sha256:" + hex.EncodeToString(sum[:])
	for _, l := range lines {
		if l.API == "telephony.getDeviceId" {
			if l.Ret == nil || *l.Ret != want || !l.RetRedacted {
				t.Fatalf("redacted IMEI = %v (redacted %v), want %s", l.Ret, l.RetRedacted, want)
			}
			return
		}
	}
	t.Fatal("no IMEI call in the redacted session")
}

// What the script writes is what hooklog reads as the pilmon format: the same API ids, the phase
// from the device-side consent and refusal, the party from the stack, the background read.
func TestScriptOutputReadByHooklog(t *testing.T) {
	cat := catalogue(t)
	_, path := runSessionFile(t, Options{})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	l, err := hooklog.Read(f, st.Size(), path, cat, hooklog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Format != hooklog.FormatPilmon || l.Package != "com.example.shop" {
		t.Fatalf("format %q package %q", l.Format, l.Package)
	}
	type key struct{ api, party, phase, fg string }
	var got []key
	for _, e := range l.Events {
		got = append(got, key{e.API, e.Party, e.Phase, e.Foreground})
	}
	want := []key{
		{"telephony.getDeviceId", "sdk:umeng_analytics", hooklog.PhaseBeforeConsent, "unknown"},
		{"settings.androidId", "app", hooklog.PhaseBeforeConsent, "foreground"},
		{"provider.contacts", "app", hooklog.PhaseAfterConsent, "foreground"},
		{"pm.probePackage", "app", hooklog.PhaseAfterConsent, "foreground"},
		{"location.lastKnown", "sdk:baidu_location", hooklog.PhaseAfterRefusal, "background"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("hooklog read the script's session as\n%v\nwant\n%v", got, want)
	}
	if !slices.ContainsFunc(l.Notes, func(n string) bool { return strings.Contains(n, "com.amap.api.location.AMapLocationClient") }) {
		t.Errorf("the classes the script could not hook are not in the log's notes: %q", l.Notes)
	}
}
