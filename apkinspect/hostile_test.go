package apkinspect

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"pilmon/scanner"
)

// androguardExamples holds the real APK/DEX/AXML samples of Debian's androguard package,
// malformed ones included.
const androguardExamples = "/usr/share/doc/androguard/examples"

func inspectQuiet(t testing.TB, p string) scanner.Report {
	in := New(catalogue(t), Options{})
	return scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceAPK, Locator: p}, hashOnlySink{})
}

// writeZip writes entries (name → data, deflated) to dir/name and returns the path.
func writeZip(t testing.TB, dir, name string, entries map[string][]byte, raw ...rawEntry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, d := range entries {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(d)
	}
	for _, r := range raw {
		w, err := zw.CreateRaw(&r.hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type rawEntry struct {
	hdr  zip.FileHeader
	data []byte
}

func deflate(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestHostileArchives: each hostile input named by the issue gives a report whose errors name the
// APK, the part and the reason; none panics, and the allocation stays bounded.
func TestHostileArchives(t *testing.T) {
	dir := t.TempDir()

	// 100,000 entries: refused from the end-of-central-directory count, before archive/zip
	// allocates a record per entry.
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 100000; i++ {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("assets/%05d", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	zw.Close()
	many := filepath.Join(dir, "many.apk")
	os.WriteFile(many, buf.Bytes(), 0o644)
	// The first inspection in a process also pays for one-time set-up (the built-in catalogues are
	// parsed on first use); that is not the archive's doing, so it is paid before measuring.
	inspectQuiet(t, many)
	var rep scanner.Report
	n := allocated(func() { rep = inspectQuiet(t, many) })
	wantErr(t, rep, "many.apk", "too many entries: 100000 > 65536")
	if rep.Status != scanner.StatusFailed {
		t.Errorf("many.apk: status %s", rep.Status)
	}
	if n > 16<<20 {
		t.Errorf("many.apk: %d bytes allocated for a refused archive of %d bytes", n, buf.Len())
	}

	// A manifest whose string pool declares 2^31 strings in 44 bytes.
	huge := make([]byte, 8+28+8)
	binary.LittleEndian.PutUint16(huge[0:], 0x0003)
	binary.LittleEndian.PutUint16(huge[2:], 8)
	binary.LittleEndian.PutUint32(huge[4:], uint32(len(huge)))
	binary.LittleEndian.PutUint16(huge[8:], 0x0001)
	binary.LittleEndian.PutUint16(huge[10:], 28)
	binary.LittleEndian.PutUint32(huge[12:], 36)
	binary.LittleEndian.PutUint32(huge[16:], 1<<31)
	p := writeZip(t, dir, "pool.apk", map[string][]byte{"AndroidManifest.xml": huge})
	n = allocated(func() { rep = inspectQuiet(t, p) })
	wantErr(t, rep, "pool.apk", "AndroidManifest.xml: malformed binary XML")
	if n > 16<<20 {
		t.Errorf("pool.apk: %d bytes allocated", n)
	}

	// A dex header that claims a megabyte it does not have, and one whose string table runs past
	// its end.
	hdr := func(fileSize uint32, strings, stringsOff uint32) []byte {
		b := make([]byte, 0x70)
		copy(b, "dex\n035\x00")
		binary.LittleEndian.PutUint32(b[32:], fileSize)
		binary.LittleEndian.PutUint32(b[36:], 0x70)
		binary.LittleEndian.PutUint32(b[40:], 0x12345678)
		binary.LittleEndian.PutUint32(b[56:], strings)
		binary.LittleEndian.PutUint32(b[60:], stringsOff)
		return b
	}
	p = writeZip(t, dir, "dex.apk", map[string][]byte{"classes.dex": hdr(1<<20, 0, 0), "classes2.dex": hdr(0x70, 1000, 0x60)})
	rep = inspectQuiet(t, p)
	wantErr(t, rep, "dex.apk!classes.dex", "truncated")
	wantErr(t, rep, "dex.apk!classes2.dex", "strings table (1000 × 4 bytes at 96) runs past the end")

	// Zip bombs: a dex declaring 1 GiB, and 64 MiB of zeros in 64 KiB (ratio over 1000).
	zeros := deflate(t, make([]byte, 64<<20))
	lie := deflate(t, []byte("dex\n035\x00"))
	p = writeZip(t, dir, "bomb.apk", nil,
		rawEntry{zip.FileHeader{Name: "classes.dex", Method: zip.Deflate, CompressedSize64: uint64(len(lie)), UncompressedSize64: 1 << 30, CRC32: 1}, lie},
		rawEntry{zip.FileHeader{Name: "AndroidManifest.xml", Method: zip.Deflate, CompressedSize64: uint64(len(zeros)), UncompressedSize64: 64 << 20, CRC32: crc32.ChecksumIEEE(make([]byte, 64<<20))}, zeros})
	n = allocated(func() { rep = inspectQuiet(t, p) })
	wantErr(t, rep, "bomb.apk: classes.dex", "declared 1073741824 bytes > limit")
	wantErr(t, rep, "bomb.apk: AndroidManifest.xml", "compression ratio or inflated size over limit")
	if n > 16<<20 {
		t.Errorf("bomb.apk: %d bytes allocated", n)
	}

}

// TestHostileNetworkSecurityConfig: a referenced config that is not binary XML is an error naming
// it; the manifest's own flags stay.
func TestHostileNetworkSecurityConfig(t *testing.T) {
	p := buildFixture(t, "", nil, map[string][]byte{"res/xml/nsc_open.xml": []byte("<network-security-config/>")})
	rep := inspectQuiet(t, p)
	wantErr(t, rep, "app.apk: res/xml/nsc_open.xml", "malformed binary XML")
	for flag, want := range map[string]bool{"cleartext_traffic": true, "user_ca_trusted": false} {
		if o := find(rep, "apk.manifest_flag", flag); o == nil || o.Attributes["value"] != want {
			t.Errorf("%s: %+v", flag, o)
		}
	}
	if rep.Status != scanner.StatusPartial {
		t.Errorf("status %s", rep.Status)
	}
}

// wantErr fails unless one of rep's errors contains both where and why.
func wantErr(t *testing.T, rep scanner.Report, where, why string) {
	t.Helper()
	for _, fe := range rep.Errors {
		e := fe.Error()
		if strings.Contains(e, where) && strings.Contains(e, why) {
			return
		}
	}
	t.Errorf("no error naming %q with %q in %q", where, why, rep.Errors)
}

// TestAndroguardSamples inspects every APK shipped by Debian's androguard package (apksig's
// malformed signing and zip samples among them) and every AXML sample as the manifest of an
// APK: no panic, every error names the file, and a failed report says why.
func TestAndroguardSamples(t *testing.T) {
	if _, err := os.Stat(androguardExamples); err != nil {
		t.Skip("androguard examples absent (Debian package androguard)")
	}
	var apks []string
	filepath.Walk(androguardExamples, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && strings.HasSuffix(p, ".apk") {
			apks = append(apks, p)
		}
		return nil
	})
	dir := t.TempDir()
	axmls, _ := filepath.Glob(filepath.Join(androguardExamples, "axml", "*.xml"))
	for _, x := range axmls {
		b, _ := os.ReadFile(x)
		apks = append(apks, writeZip(t, dir, "axml-"+strings.TrimSuffix(filepath.Base(x), ".xml")+".apk", map[string][]byte{"AndroidManifest.xml": b}))
	}
	status := map[scanner.Status]int{}
	for _, p := range apks {
		rep := inspectQuiet(t, p)
		status[rep.Status]++
		base := filepath.Base(p)
		if rep.Status == scanner.StatusFailed && len(rep.Errors) == 0 {
			t.Errorf("%s: failed without an error", base)
		}
		for _, fe := range rep.Errors {
			e := fe.Error()
			if strings.Contains(e, "panicked") || !strings.Contains(e, base) {
				t.Errorf("%s: %s", base, e)
			}
		}
	}
	t.Logf("%d samples: %v", len(apks), status)
}
