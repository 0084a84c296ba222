package manifest

import (
	"encoding/binary"
	"os/exec"
	"path/filepath"
	"pilmon/internal/corpus"
	"runtime"
	"strings"
	"testing"
)

// checkSample asserts m is sampleManifest read right.
func checkSample(t *testing.T, what string, m *Manifest) {
	t.Helper()
	if m.Package != "org.pilmon.hardened" || m.VersionCode != "7" || m.VersionName != "1.2" || m.MinSDK != 21 || m.TargetSDK != 30 {
		t.Errorf("%s: identity %q %q %q %d %d", what, m.Package, m.VersionCode, m.VersionName, m.MinSDK, m.TargetSDK)
	}
	if got := permSet(m); got != "uses-permission:android.permission.ACCESS_FINE_LOCATION:0,uses-permission:android.permission.READ_PHONE_STATE:0" {
		t.Errorf("%s: permissions %s", what, got)
	}
	want := "activity:org.pilmon.hardened.Main:true:true::[android.intent.action.MAIN]," +
		"receiver:org.pilmon.hardened.Boot:true:false::[android.intent.action.BOOT_COMPLETED]," +
		"service:com.sdk.push.PushService:false:true::[]"
	if got := compSet(m); got != want {
		t.Errorf("%s: components\n got  %s\n want %s", what, got, want)
	}
	if m.AllowBackup {
		t.Errorf("%s: android:allowBackup=false not read", what)
	}
}

// TestGeneratedPlain: a plain generated manifest reads the same through both decoders and aapt,
// with no Problem; this also proves the generator writes what aapt reads.
func TestGeneratedPlain(t *testing.T) {
	b := genManifest(sampleManifest(), genTricks{})
	m, err := Parse(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, "Parse", m)
	if len(m.Problems) != 0 {
		t.Errorf("plain manifest has Problems: %v", m.Problems)
	}
	bm, err := parseAndroidbinary(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, "androidbinary", bm)
	if _, err := exec.LookPath("aapt"); err == nil {
		want, ok := aaptRead(zipManifest(t, b))
		if !ok {
			t.Fatal("aapt cannot read the generated manifest")
		}
		if d := compareAapt(m, want); d != "" {
			t.Errorf("generated manifest vs aapt: %s", d)
		}
	}
}

// TestHardenerTricks applies each trick to the generated manifest: Parse reads the right facts
// and says what it met; androidbinary fails or misreads where the trick targets it.
func TestHardenerTricks(t *testing.T) {
	cases := []struct {
		name string
		tr   genTricks
		// abFails: androidbinary returns an error; else, when abWrong, a wrong reading.
		abFails, abWrong bool
		problem          string // in Parse's Problems
	}{
		{"blank attribute names, undeclared namespace", genTricks{blankNames: true}, true, false, "invalid reference"},
		{"null file type", genTricks{nullFileType: true}, true, false, "not RES_XML_TYPE"},
		{"decoy string pool after the first element", genTricks{decoyPool: true}, false, true, "androidbinary reads AndroidManifest.xml differently"},
		{"unknown chunks", genTricks{junk: true}, false, false, "unknown type 0x0222"},
		{"large node headers and attribute strides", genTricks{bigHeaders: true}, false, false, ""},
		{"raw string other than the typed one", genTricks{rawDecoy: true}, false, true, `raw string "9.9-decoy" differs from the typed value "1.2"`},
		{"bytes appended", genTricks{appended: []byte("PK\x03\x04 trailing junk.")}, false, false, "after the declared document size"},
		{"all at once", genTricks{blankNames: true, nullFileType: true, junk: true, decoyPool: true, bigHeaders: true, appended: []byte{1, 2, 3}}, true, false, "androidbinary cannot read"},
	}
	aapt := true
	if _, err := exec.LookPath("aapt"); err != nil {
		aapt = false
	}
	for _, c := range cases {
		b := genManifest(sampleManifest(), c.tr)
		bm, berr := parseAndroidbinary(b, nil)
		switch {
		case c.abFails && berr == nil:
			t.Errorf("%s: androidbinary reads it; the trick no longer tests the fallback", c.name)
		case !c.abFails && berr != nil:
			t.Errorf("%s: androidbinary fails: %v", c.name, berr)
		case c.abWrong && disagreement(bm, mustTolerant(t, b)) == "":
			t.Errorf("%s: androidbinary reads it right; the trick no longer tests the cross-check", c.name)
		}
		m, err := Parse(b, nil)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		checkSample(t, c.name, m)
		all := strings.Join(m.Problems, "\n")
		if c.problem != "" && !strings.Contains(all, c.problem) {
			t.Errorf("%s: no Problem naming %q: %v", c.name, c.problem, m.Problems)
		}
		if c.problem == "" && len(m.Problems) != 0 {
			t.Errorf("%s: Problems on a file the device reads plainly: %v", c.name, m.Problems)
		}
		if aapt && c.tr.rawDecoy {
			// aapt prints the raw string, the framework reads the typed one: aapt is not the
			// oracle here; the Problem above says both.
			t.Logf("%s: not compared with aapt, which prints the raw string", c.name)
		} else if aapt {
			if want, ok := aaptRead(zipManifest(t, b)); !ok {
				t.Errorf("%s: aapt cannot read it; the trick would not install", c.name)
			} else if d := compareAapt(m, want); d != "" {
				t.Errorf("%s: vs aapt: %s", c.name, d)
			}
		}
	}
}

func mustTolerant(t *testing.T, b []byte) *Manifest {
	t.Helper()
	m, err := parseTolerant(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTolerantRefusals: what the device refuses, the decoder refuses with the reason; every
// truncation of a generated manifest is an error or a result, never a panic.
func TestTolerantRefusals(t *testing.T) {
	good := genManifest(sampleManifest(), genTricks{})
	misaligned := append([]byte(nil), good...)
	// The string pool's size, off by 2: validate_chunk wants 4-byte multiples.
	binary.LittleEndian.PutUint32(misaligned[12:], binary.LittleEndian.Uint32(misaligned[12:])+2)
	overrun := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(overrun[4:], uint32(len(good)+4))
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than a chunk header"},
		{"text XML", []byte(`<?xml version="1.0"?><manifest package="a.b"/>`), "does not fit"},
		{"garbage", []byte(strings.Repeat("\xff", 64)), "does not fit"},
		{"document size past the data", overrun, "does not fit"},
		{"misaligned chunk", misaligned, "not a multiple of 4"},
		{"header only", good[:8:8], "does not fit"},
	}
	for _, c := range cases {
		m, err := Parse(c.b, nil)
		if err == nil {
			t.Errorf("%s: accepted, package %q", c.name, m.Package)
			continue
		}
		if !strings.Contains(err.Error(), "AndroidManifest.xml") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not name %q", c.name, err, c.want)
		}
	}
	results := 0
	for n := 0; n < len(good); n++ {
		cut := append([]byte(nil), good[:n]...)
		if n >= 8 {
			binary.LittleEndian.PutUint32(cut[4:], uint32(n)) // a consistent header: only the tail is missing
		}
		if m, err := Parse(cut, nil); err == nil {
			results++
			if m.Package != "org.pilmon.hardened" {
				t.Errorf("cut at %d: package %q", n, m.Package)
			}
		}
	}
	if results == 0 {
		t.Error("no truncation yields the elements before the cut")
	}
}

// TestTolerantBounds: 1 MiB of the smallest chunks decodes with memory in proportion to the
// input, and a string pool claiming 2^31 strings is refused by its size.
func TestTolerantBounds(t *testing.T) {
	good := genManifest(sampleManifest(), genTricks{})
	pool := int(binary.LittleEndian.Uint32(good[12:]))
	head := good[:8+pool+8+4*int((binary.LittleEndian.Uint32(good[8+pool+4:])-8)/4)]
	body := good[len(head):]
	var b []byte
	b = append(b, head...)
	// Before the first element: 8-byte chunks of an unknown type.
	for len(b) < 512<<10 {
		b = le32(le16(le16(b, 0x0222), 8), 8)
	}
	b = append(b, body[:len(body)-24]...) // up to the end namespace
	// After it: 16-byte nodes of an unknown XML type, then the end namespace.
	for len(b) < 1<<20 {
		b = le32(le32(le32(le16(le16(b, 0x0177), 16), 16), 0), 0)
	}
	b = append(b, body[len(body)-24:]...)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	m, err := Parse(b, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	checkSample(t, "1 MiB of tiny chunks", m)
	if len(m.Problems) > 4*maxAXMLNotes {
		t.Errorf("%d Problems: notes are not bounded", len(m.Problems))
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(b)) {
		t.Errorf("%d bytes allocated for a %d-byte manifest", alloc, len(b))
	}
	t.Logf("%d chunks in %d bytes: %d bytes allocated", (len(b)-len(good))/12, len(b), after.TotalAlloc-before.TotalAlloc)

	huge := make([]byte, 8+28+8)
	binary.LittleEndian.PutUint16(huge[0:], chunkXML)
	binary.LittleEndian.PutUint16(huge[2:], 8)
	binary.LittleEndian.PutUint32(huge[4:], uint32(len(huge)))
	binary.LittleEndian.PutUint16(huge[8:], chunkStringPool)
	binary.LittleEndian.PutUint16(huge[10:], 28)
	binary.LittleEndian.PutUint32(huge[12:], 36)
	binary.LittleEndian.PutUint32(huge[16:], 1<<31)
	if _, err := decodeAXML(huge); err == nil || !strings.Contains(err.Error(), "do not fit") {
		t.Errorf("2^31 strings: %v", err)
	}
}

// FuzzTolerantAXML: any input is decoded or refused, never a panic, and the events are bounded
// by the input (each element costs at least a 16-byte node).
func FuzzTolerantAXML(f *testing.F) {
	for _, tr := range []genTricks{{}, {blankNames: true}, {nullFileType: true}, {decoyPool: true}, {junk: true}, {bigHeaders: true},
		{appended: []byte{0, 1}}} {
		b := genManifest(sampleManifest(), tr)
		f.Add(b)
		// Mutations: cut, a byte flipped in the pool offsets, in a node size, in an attribute.
		f.Add(b[:len(b)/2])
		for _, at := range []int{40, len(b) / 2, len(b) - 30} {
			c := append([]byte(nil), b...)
			c[at] ^= 0x80
			f.Add(c)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := decodeAXML(b)
		if err == nil && len(d.Events) > len(b)/16 {
			t.Fatalf("%d events from %d bytes", len(d.Events), len(b))
		}
		if m, err := Parse(b, nil); err == nil && m.Package == "" {
			t.Fatal("a manifest without package accepted")
		}
	})
}

// TestDexGuardSample: the DexGuard-obfuscated corpus app reads as aapt reads it, through both
// decoders, with no Problem from the decoders.
func TestDexGuardSample(t *testing.T) {
	p := filepath.Join(corpus.SharedDir(), "corpus", "apks", "cn_jianyu_taskmaster_dexguard_umeng.apk")
	axml, arsc, ok := readAPK(t, p)
	if !ok {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	m, err := Parse(axml, arsc)
	if err != nil {
		t.Fatal(err)
	}
	if m.Package != "cn.jianyu.taskmaster" || m.VersionCode != "120" || m.VersionName != "1.20" || m.MinSDK != 16 || m.TargetSDK != 19 || len(m.Permissions) != 14 {
		t.Errorf("%q %q %q %d %d %d permissions", m.Package, m.VersionCode, m.VersionName, m.MinSDK, m.TargetSDK, len(m.Permissions))
	}
	for _, pr := range m.Problems {
		if strings.Contains(pr, "androidbinary") || strings.Contains(pr, "tolerant") {
			t.Errorf("decoder Problem on a manifest both read: %s", pr)
		}
	}
	if _, err := exec.LookPath("aapt"); err == nil {
		want, ok := aaptRead(p)
		if !ok {
			t.Fatal("aapt cannot read the sample")
		}
		if d := compareAapt(m, want); d != "" {
			t.Errorf("vs aapt: %s", d)
		}
	}
}

func TestFormatTyped(t *testing.T) {
	for _, c := range []struct {
		typ  uint8
		data uint32
		want string
	}{
		{typeNull, 0, ""},
		{typeReference, 0x7f08000b, "@0x7F08000B"},
		{typeAttribute, 0x01010000, "?0x01010000"},
		{typeIntDec, 120, "120"},
		{typeIntDec, 0xffffffff, "-1"},
		{typeIntHex, 0x4a0, "0x000004A0"},
		{typeIntBool, 0xffffffff, "true"},
		{typeIntBool, 0, "false"},
		{typeFloat, 0x3fc00000, "1.5"},
		{0x1c, 0xff00ff00, "#FF00FF00"},
		{0x05, 0x00000301, "(type 0x05)0x00000301"},
		{0x7e, 1, "(type 0x7e)0x00000001"},
	} {
		if got := formatTyped(c.typ, c.data); got != c.want {
			t.Errorf("type 0x%02x data 0x%08x: %q, want %q", c.typ, c.data, got, c.want)
		}
	}
}
