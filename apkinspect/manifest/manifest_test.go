package manifest

import (
	"archive/zip"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

const androguardExamples = "/usr/share/doc/androguard/examples"

func readAPK(t testing.TB, p string) (axml, arsc []byte, ok bool) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, nil, false
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Name != "AndroidManifest.xml" && f.Name != "resources.arsc" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(rc, MaxTableSize+1))
		rc.Close()
		if f.Name == "resources.arsc" {
			arsc = b
		} else {
			axml = b
		}
	}
	return axml, arsc, axml != nil
}

type badging struct {
	pkg, code, name string
	perms           []string
}

var (
	reBadgePkg  = regexp.MustCompile(`^package: name='([^']*)' versionCode='([^']*)' versionName='([^']*)'`)
	reBadgePerm = regexp.MustCompile(`^uses-permission(?:-sdk-23)?: name='([^']*)'`)
)

func aaptBadging(p string) (*badging, bool) {
	out, err := exec.Command("aapt", "dump", "badging", p).Output()
	if err != nil {
		return nil, false
	}
	b := &badging{}
	set := map[string]bool{}
	for _, l := range strings.Split(string(out), "\n") {
		if m := reBadgePkg.FindStringSubmatch(l); m != nil {
			b.pkg, b.code, b.name = m[1], m[2], m[3]
		}
	}
	// badging adds implied permissions; `dump permissions` lists only the declared ones.
	out, err = exec.Command("aapt", "dump", "permissions", p).Output()
	if err != nil {
		return nil, false
	}
	for _, l := range strings.Split(string(out), "\n") {
		if m := reBadgePerm.FindStringSubmatch(l); m != nil && !set[m[1]] {
			set[m[1]] = true
			b.perms = append(b.perms, m[1])
		}
	}
	sort.Strings(b.perms)
	return b, b.pkg != ""
}

// TestOracleAapt compares package, version and permission set with `aapt dump badging` and the permission set with `aapt dump permissions` on the
// shared corpus and on the first androguard example APKs.
func TestOracleAapt(t *testing.T) {
	if _, err := exec.LookPath("aapt"); err != nil {
		t.Skip("aapt not installed (Debian package aapt)")
	}
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	more, _ := filepath.Glob(filepath.Join(androguardExamples, "*", "*.apk"))
	sort.Strings(more)
	if len(more) > 60 {
		more = more[:60]
	}
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("no corpus (../shared/corpus/apks) and no androguard examples")
	}
	compared := 0
	for _, f := range files {
		want, ok := aaptBadging(f)
		if !ok {
			continue
		}
		axml, arsc, ok := readAPK(t, f)
		if !ok {
			continue
		}
		m, err := Parse(axml, arsc)
		if err != nil {
			t.Errorf("%s: aapt reads it, we fail: %v", filepath.Base(f), err)
			continue
		}
		compared++
		set := map[string]bool{}
		var got []string
		for _, p := range m.Permissions {
			if !set[p.Name] {
				set[p.Name] = true
				got = append(got, p.Name)
			}
		}
		sort.Strings(got)
		if m.Package != want.pkg || m.VersionCode != want.code || m.VersionName != want.name {
			t.Errorf("%s: got %s/%s/%s, aapt %s/%s/%s", filepath.Base(f), m.Package, m.VersionCode, m.VersionName, want.pkg, want.code, want.name)
		}
		if strings.Join(got, ",") != strings.Join(want.perms, ",") {
			t.Errorf("%s: permissions\n got  %v\n aapt %v", filepath.Base(f), got, want.perms)
		}
	}
	if compared == 0 {
		t.Skip("no APK readable by aapt")
	}
	t.Logf("%d APKs agree with aapt", compared)
}

// TestCorpusDetails checks facts aapt does not print in the same form.
func TestCorpusDetails(t *testing.T) {
	p := filepath.Join(corpus.SharedDir(), "corpus", "apks", "jpush_jbox_app-release.apk")
	axml, arsc, ok := readAPK(t, p)
	if !ok {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	m, err := Parse(axml, arsc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Label != "极光宝盒" || m.MinSDK != 21 || m.TargetSDK != 23 {
		t.Errorf("label/sdk: %q %d %d", m.Label, m.MinSDK, m.TargetSDK)
	}
	if !m.CleartextTraffic || m.CleartextExplicit {
		t.Errorf("targetSdk 23 defaults to cleartext allowed")
	}
	var push *Component
	for i, c := range m.Components {
		if c.Name == "cn.jpush.android.service.PushService" {
			push = &m.Components[i]
		}
	}
	if push == nil || push.Exported || !push.Explicit || len(push.Actions) != 4 {
		t.Errorf("PushService: %+v", push)
	}
}

func TestShortNames(t *testing.T) {
	p := filepath.Join(corpus.SharedDir(), "corpus", "apks", "unusual_AndroidManifest_ShortName.apk")
	axml, arsc, ok := readAPK(t, p)
	if !ok {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	m, err := Parse(axml, arsc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Components {
		if !strings.HasPrefix(c.Name, m.Package+".") && strings.Count(c.Name, ".") < 1 {
			t.Errorf("component %q not expanded", c.Name)
		}
	}
}

// TestHostile runs every androguard AXML sample and every truncation of a real manifest: an error
// or a result, never a panic.
func TestHostile(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(androguardExamples, "axml", "*.xml"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		m, err := Parse(b, nil)
		if err == nil && m.Package == "" {
			t.Errorf("%s: no error and no package", filepath.Base(f))
		}
		if err != nil && !strings.Contains(err.Error(), "AndroidManifest.xml") {
			t.Errorf("%s: error does not name the file: %v", filepath.Base(f), err)
		}
	}
	axml, _, ok := readAPK(t, filepath.Join(corpus.SharedDir(), "corpus", "apks", "umeng_demo_yichou.apk"))
	if !ok {
		return
	}
	for n := 0; n < len(axml); n += 7 {
		Parse(axml[:n], nil)
	}
}

// TestHugeStringPool declares 2^31 strings in a 64-byte file.
func TestHugeStringPool(t *testing.T) {
	b := make([]byte, 8+28+8)
	binary.LittleEndian.PutUint16(b[0:], chunkXML)
	binary.LittleEndian.PutUint16(b[2:], 8)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	p := b[8:]
	binary.LittleEndian.PutUint16(p[0:], chunkStringPool)
	binary.LittleEndian.PutUint16(p[2:], 28)
	binary.LittleEndian.PutUint32(p[4:], 36)
	binary.LittleEndian.PutUint32(p[8:], 1<<31)
	_, err := Parse(b, nil)
	if err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Fatalf("want a refusal, got %v", err)
	}
	// A table with a zero-size chunk would loop forever inside androidbinary.
	tb := make([]byte, 12+8)
	binary.LittleEndian.PutUint16(tb[0:], chunkTable)
	binary.LittleEndian.PutUint16(tb[2:], 12)
	binary.LittleEndian.PutUint32(tb[4:], uint32(len(tb)))
	if _, err := loadResources(tb); err == nil {
		t.Fatal("zero-size chunk accepted")
	}
}

func FuzzManifest(f *testing.F) {
	for _, name := range []string{"umeng_demo_yichou.apk", "jpush_jbox_app-release.apk", "unusual_compact-entry.apk"} {
		if axml, arsc, ok := readAPK(f, filepath.Join(corpus.SharedDir(), "corpus", "apks", name)); ok {
			f.Add(axml, []byte(nil))
			if len(arsc) < 64<<10 {
				f.Add(axml, arsc)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(androguardExamples, "axml", "*.xml"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b, []byte(nil))
		}
	}
	f.Add([]byte("\x03\x00\x08\x00\x10\x00\x00\x00\x01\x00\x1c\x00"), []byte("\x02\x00\x0c\x00\x14\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, axml, arsc []byte) {
		Parse(axml, arsc)
		if n, err := ParseNetworkSecurityConfig("nsc.xml", axml); err == nil {
			n.Effective(30, true)
		}
		if arsc != nil {
			loadResources(arsc)
		}
	})
}
