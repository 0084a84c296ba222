package manifest

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

// sampleAPKs lists the shared corpus APKs and every APK under androguard's examples.
func sampleAPKs(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	filepath.WalkDir(androguardExamples, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".apk") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		t.Skip("no corpus (../shared/corpus/apks) and no androguard examples")
	}
	return files
}

// TestDecodersAgree is the evidence for making the tolerant decoder the primary one: wherever
// androidbinary reads a manifest, both readings are equal in every field.
func TestDecodersAgree(t *testing.T) {
	both, onlyTolerant := 0, 0
	for _, f := range sampleAPKs(t) {
		axml, arsc, ok := readAPK(t, f)
		if !ok {
			continue
		}
		var res *resources
		if arsc != nil {
			res, _ = loadResources(arsc)
		}
		tm, terr := parseTolerant(axml, res)
		bm, berr := parseAndroidbinary(axml, res)
		switch {
		case terr != nil && berr == nil:
			t.Errorf("%s: only androidbinary reads it; tolerant: %v", f, terr)
		case terr == nil && berr != nil:
			onlyTolerant++
			t.Logf("%s: only the tolerant decoder reads it; androidbinary: %v", filepath.Base(f), berr)
		case terr == nil:
			both++
			// The decoders share the reader, so the same Problems; the tolerant one adds the
			// oddities it met, and a manifest androidbinary reads has none.
			if !reflect.DeepEqual(tm, bm) {
				t.Errorf("%s: decoders disagree: %s\n tolerant %+v\n androidbinary %+v", filepath.Base(f), disagreement(tm, bm), tm, bm)
			}
		}
	}
	t.Logf("%d manifests read by both decoders, equal in every field; %d read only by the tolerant one", both, onlyTolerant)
	if both == 0 {
		t.Skip("no readable APK")
	}
}

var (
	reBadgeSDK    = regexp.MustCompile(`^sdkVersion:'([^']*)'`)
	reBadgeTarget = regexp.MustCompile(`^targetSdkVersion:'([^']*)'`)
)

// aaptFacts is what aapt reports for the fields both read: from `dump badging` (package, versions,
// SDK levels) and `dump permissions` (declared permissions only; badging adds implied ones).
type aaptFacts struct {
	pkg, code, name, minSDK, targetSDK string
	perms                              []string
}

// aaptRead runs aapt on p. aapt exits 1 on a manifest whose references it cannot resolve (no
// resources.arsc) after printing what it read, so the output counts, not the exit status.
func aaptRead(p string) (*aaptFacts, bool) {
	out, _ := exec.Command("aapt", "dump", "badging", p).Output()
	f := &aaptFacts{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := reBadgePkg.FindStringSubmatch(l); m != nil {
			f.pkg, f.code, f.name = m[1], m[2], m[3]
		} else if m := reBadgeSDK.FindStringSubmatch(l); m != nil {
			f.minSDK = m[1]
		} else if m := reBadgeTarget.FindStringSubmatch(l); m != nil {
			f.targetSDK = m[1]
		}
	}
	out, _ = exec.Command("aapt", "dump", "permissions", p).Output()
	seen := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := reBadgePerm.FindStringSubmatch(l); m != nil && !seen[m[1]] {
			seen[m[1]] = true
			f.perms = append(f.perms, m[1])
		}
	}
	sort.Strings(f.perms)
	return f, f.pkg != ""
}

var reTreeSDK = regexp.MustCompile(`\((0x0101020c|0x01010270)\)=\(type 0x10\)0x([0-9a-f]+)`)

// treeSDK fills the SDK levels badging did not print from `aapt dump xmltree`, by attribute id.
func treeSDK(apk string, f *aaptFacts) {
	out, _ := exec.Command("aapt", "dump", "xmltree", apk, "AndroidManifest.xml").Output()
	for _, m := range reTreeSDK.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.ParseInt(m[2], 16, 32)
		if m[1] == "0x0101020c" && f.minSDK == "" {
			f.minSDK = strconv.Itoa(int(n))
		} else if m[1] == "0x01010270" && f.targetSDK == "" {
			f.targetSDK = strconv.Itoa(int(n))
		}
	}
}

// compareAapt returns how m differs from aapt's reading, "" when it does not.
func compareAapt(m *Manifest, a *aaptFacts) string {
	var d []string
	sdk := func(n int) string {
		if n == 0 {
			return ""
		}
		return strconv.Itoa(n)
	}
	// aapt prints C strings: a value with a NUL in it ends there for aapt, not on the device.
	cut := func(s string) string { return strings.Split(s, "\x00")[0] }
	got := []string{m.Package, m.VersionCode, cut(m.VersionName), sdk(m.MinSDK), sdk(m.TargetSDK)}
	want := []string{a.pkg, a.code, a.name, a.minSDK, a.targetSDK}
	for i, what := range []string{"package", "versionCode", "versionName", "minSdk", "targetSdk"} {
		if got[i] != want[i] {
			d = append(d, fmt.Sprintf("%s %q, aapt %q", what, got[i], want[i]))
		}
	}
	seen := map[string]bool{}
	var perms []string
	for _, p := range m.Permissions {
		if !seen[p.Name] {
			seen[p.Name] = true
			perms = append(perms, p.Name)
		}
	}
	sort.Strings(perms)
	if strings.Join(perms, ",") != strings.Join(a.perms, ",") {
		d = append(d, fmt.Sprintf("permissions %v, aapt %v", perms, a.perms))
	}
	return strings.Join(d, "; ")
}

// TestOracleAaptAll compares Parse and the tolerant decoder alone with aapt on every sample APK.
func TestOracleAaptAll(t *testing.T) {
	if _, err := exec.LookPath("aapt"); err != nil {
		t.Skip("aapt not installed (Debian package aapt)")
	}
	compared, skipped := 0, 0
	for _, f := range sampleAPKs(t) {
		want, ok := aaptRead(f)
		if !ok {
			skipped++
			t.Logf("%s: aapt reads no package; not compared", filepath.Base(f))
			continue
		}
		axml, arsc, ok := readAPK(t, f)
		if !ok {
			t.Errorf("%s: aapt reads it, the zip reader does not", f)
			continue
		}
		var res *resources
		if arsc != nil {
			res, _ = loadResources(arsc)
		}
		compared++
		tm, err := parseTolerant(axml, res)
		if err != nil {
			t.Errorf("%s: tolerant decoder fails: %v", f, err)
		} else if d := compareAapt(tm, want); d != "" {
			t.Errorf("%s: tolerant decoder vs aapt: %s", f, d)
		}
		m, err := Parse(axml, arsc)
		if err != nil {
			t.Errorf("%s: Parse fails: %v", f, err)
		} else if d := compareAapt(m, want); d != "" {
			t.Errorf("%s: Parse vs aapt: %s", f, d)
		}
	}
	t.Logf("%d APKs compared with aapt, %d skipped (aapt reads no package)", compared, skipped)
	if compared == 0 {
		t.Skip("no APK readable by aapt")
	}
}

// zipManifest writes an APK holding only b as AndroidManifest.xml, for aapt to read.
func zipManifest(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.apk")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("AndroidManifest.xml")
	w.Write(b)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// TestHardenedSamples runs androguard's hand-made and packer manifests (blanked attribute names,
// namespaces pointing at undeclared strings, a wrong file chunk type, text chunks, …) through Parse
// and the tolerant decoder and compares them with aapt; where aapt refuses one, Parse must too.
func TestHardenedSamples(t *testing.T) {
	if _, err := exec.LookPath("aapt"); err != nil {
		t.Skip("aapt not installed (Debian package aapt)")
	}
	files, _ := filepath.Glob(filepath.Join(androguardExamples, "axml", "*.xml"))
	if len(files) == 0 {
		t.Skip("androguard examples absent")
	}
	abFails := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		apk := zipManifest(t, b)
		want, aaptOK := aaptRead(apk)
		if aaptOK {
			// Without resources.arsc, badging stops at the first reference it cannot resolve
			// (android:icon), which in these files comes before <uses-sdk>: xmltree has the values.
			treeSDK(apk, want)
		}
		m, err := Parse(b, nil)
		if _, berr := parseAndroidbinary(b, nil); berr != nil && aaptOK {
			abFails++
			t.Logf("%s: androidbinary fails (%v), aapt reads it", name, berr)
		}
		if !aaptOK {
			if err == nil {
				t.Errorf("%s: aapt reads no package, Parse reads %q", name, m.Package)
			} else {
				t.Logf("%s: aapt reads no package; Parse: %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: aapt reads it, Parse fails: %v", name, err)
			continue
		}
		if d := compareAapt(m, want); d != "" {
			t.Errorf("%s: Parse vs aapt: %s", name, d)
		}
		if tm, err := parseTolerant(b, nil); err != nil {
			t.Errorf("%s: tolerant decoder alone: %v", name, err)
		} else if d := compareAapt(tm, want); d != "" {
			t.Errorf("%s: tolerant decoder alone vs aapt: %s", name, d)
		}
	}
	if abFails == 0 {
		t.Error("no sample androidbinary fails on: the samples no longer test the fallback")
	}
}

// xmltreeComponent is one component as `aapt dump xmltree` prints it.
type xmltreeComponent struct {
	typ, name, exported string
}

var (
	reTreeElem = regexp.MustCompile(`^( *)E: ([^ ]+) `)
	reTreeAttr = regexp.MustCompile(`^ *A: (?:[^:(]*:)?([^:(=]*)\((0x[0-9a-f]{8})\)=(?:"([^"]*)"|\(type 0x12\)0x([0-9a-f]+)|(.*))`)
)

// aaptComponents reads the components under <application> from `aapt dump xmltree`.
func aaptComponents(p string) ([]xmltreeComponent, bool) {
	out, err := exec.Command("aapt", "dump", "xmltree", p, "AndroidManifest.xml").Output()
	if err != nil {
		return nil, false
	}
	var comps []xmltreeComponent
	var path []string
	cur := -1
	for _, l := range strings.Split(string(out), "\n") {
		if m := reTreeElem.FindStringSubmatch(l); m != nil {
			depth := (len(m[1]) - 2) / 2
			path = append(path[:min(depth, len(path))], m[2])
			cur = -1
			switch strings.Join(path, "/") {
			case "manifest/application/activity", "manifest/application/activity-alias", "manifest/application/service",
				"manifest/application/receiver", "manifest/application/provider":
				typ := strings.TrimSuffix(m[2], "-alias")
				comps = append(comps, xmltreeComponent{typ: typ})
				cur = len(comps) - 1
			}
			continue
		}
		if m := reTreeAttr.FindStringSubmatch(l); m != nil && cur >= 0 {
			switch m[2] {
			case "0x01010003":
				comps[cur].name = m[3]
			case "0x01010010":
				comps[cur].exported = strconv.FormatBool(m[4] != "" && m[4] != "0")
			}
		}
	}
	return comps, true
}

// TestComponentsAgainstXmltree compares component names, types and explicit exported values with
// `aapt dump xmltree` on the corpus APKs.
func TestComponentsAgainstXmltree(t *testing.T) {
	if _, err := exec.LookPath("aapt"); err != nil {
		t.Skip("aapt not installed (Debian package aapt)")
	}
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	if len(files) == 0 {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	compared, comps := 0, 0
	for _, f := range files {
		want, ok := aaptComponents(f)
		if !ok {
			t.Logf("%s: aapt dump xmltree fails; not compared", filepath.Base(f))
			continue
		}
		axml, arsc, _ := readAPK(t, f)
		m, err := Parse(axml, arsc)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		var w, g []string
		for _, c := range want {
			w = append(w, c.typ+" "+m.className(c.name)+" "+c.exported)
		}
		for _, c := range m.Components {
			ex := ""
			if c.Explicit {
				ex = strconv.FormatBool(c.Exported)
			}
			g = append(g, c.Type+" "+c.Name+" "+ex)
		}
		sort.Strings(w)
		sort.Strings(g)
		if !reflect.DeepEqual(w, g) {
			t.Errorf("%s: components\n got  %q\n aapt %q", filepath.Base(f), g, w)
		}
		compared++
		comps += len(w)
	}
	t.Logf("%d APKs, %d components compared with aapt dump xmltree", compared, comps)
}

// TestAttrIDsMatchAapt checks the resource ids the tolerant decoder identifies attributes by
// against the names aapt prints beside them, over every corpus manifest.
func TestAttrIDsMatchAapt(t *testing.T) {
	if _, err := exec.LookPath("aapt"); err != nil {
		t.Skip("aapt not installed (Debian package aapt)")
	}
	seen := map[uint32]bool{}
	re := regexp.MustCompile(`A: android:(\w+)\(0x([0-9a-f]{8})\)`)
	for _, f := range sampleAPKs(t) {
		out, err := exec.Command("aapt", "dump", "xmltree", f, "AndroidManifest.xml").Output()
		if err != nil {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(string(out), -1) {
			id, _ := strconv.ParseUint(m[2], 16, 32)
			if name, ok := androidAttrs[uint32(id)]; ok {
				seen[uint32(id)] = true
				if name != m[1] {
					t.Errorf("0x%08x: table says %s, aapt %s", id, name, m[1])
				}
			}
		}
		if len(seen) == len(androidAttrs) {
			break
		}
	}
	for id, name := range androidAttrs {
		if !seen[id] {
			t.Logf("android:%s (0x%08x) appears in no sample manifest; unchecked", name, id)
		}
	}
	if len(seen) == 0 {
		t.Skip("no manifest aapt reads")
	}
}

// BenchmarkDecoders times each decoder and Parse (both) on a generated manifest and, when the
// shared corpus is present, on a real one with a resource table.
func BenchmarkDecoders(b *testing.B) {
	inputs := map[string][2][]byte{"generated": {genManifest(sampleManifest(), genTricks{}), nil}}
	if axml, arsc, ok := readAPK(b, filepath.Join(corpus.SharedDir(), "corpus", "apks", "jpush_jbox_app-release.apk")); ok {
		inputs["jpush"] = [2][]byte{axml, arsc}
	}
	for name, in := range inputs {
		res, _ := loadResources(in[1])
		if in[1] == nil {
			res = nil
		}
		b.Run(name+"/tolerant", func(b *testing.B) {
			for b.Loop() {
				if _, err := parseTolerant(in[0], res); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/androidbinary", func(b *testing.B) {
			for b.Loop() {
				if _, err := parseAndroidbinary(in[0], res); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/Parse", func(b *testing.B) {
			for b.Loop() {
				if _, err := Parse(in[0], in[1]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
