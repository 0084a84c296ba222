package sigblock

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"pilmon/internal/corpus"

	"pilmon/apkinspect/safezip"
	"pilmon/samplegen/apkbuild"
)

const minimalManifest = `<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.pilmon.sig" android:versionCode="1">
<uses-sdk android:minSdkVersion="15" android:targetSdkVersion="28"/><application/></manifest>`

// certsOf reads v1 and v2/v3 certificates the way the inspector does.
func certsOf(t *testing.T, p string) []Cert {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var v1 []Cert
	if a, err := safezip.Open(bytes.NewReader(b), int64(len(b)), filepath.Base(p), safezip.Limits{}); err == nil {
		for _, e := range a.Entries() {
			if !IsV1SignatureFile(e.Name) {
				continue
			}
			der, err := a.Read(e, 1<<20)
			if err != nil {
				continue
			}
			ders, err := PKCS7Certificates(der)
			f := e
			if err != nil {
				t.Logf("%s: %s: %v", filepath.Base(p), f.Name, err)
			}
			for _, d := range ders {
				v1 = append(v1, NewCert(d, "v1"))
			}
		}
	}
	var v23 []Cert
	pairs, err := FindBlock(bytes.NewReader(b), int64(len(b)))
	if err == nil {
		v23, err = BlockCertificates(pairs)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(p), err)
		}
	}
	return Merge(v1, v23)
}

var (
	reDigest = regexp.MustCompile(`(?m)^Signer #\d+ certificate SHA-256 digest: ([0-9a-f]+)$`)
	reDN     = regexp.MustCompile(`(?m)^Signer #\d+ certificate DN: (.*)$`)
)

func normDN(s string) string {
	parts := strings.Split(strings.ReplaceAll(s, ", ", ","), ",")
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func apksigner(t *testing.T, p string) (digests, dns []string, ok bool) {
	out, err := exec.Command("apksigner", "verify", "--print-certs", p).CombinedOutput()
	if err != nil {
		return nil, nil, false
	}
	for _, m := range reDigest.FindAllStringSubmatch(string(out), -1) {
		digests = append(digests, m[1])
	}
	for _, m := range reDN.FindAllStringSubmatch(string(out), -1) {
		dns = append(dns, normDN(m[1]))
	}
	return digests, dns, true
}

// built caches the APKs the tests sign, once per test binary: key generation and apksigner
// take seconds each.
var built struct {
	once sync.Once
	dir  string
	apks map[string]string // "v123", "v1", "unsigned"
	err  error
}

func builtAPK(t testing.TB, variant string) string {
	t.Helper()
	if err := apkbuild.Available(); err != nil {
		t.Skip(err)
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "sigblock-test-")
		if built.err != nil {
			return
		}
		key, err := apkbuild.NewKey(built.dir, "/C=CN/O=某某网络科技有限公司/CN=pilmon test")
		if err != nil {
			built.err = err
			return
		}
		built.apks = map[string]string{}
		for name, spec := range map[string]apkbuild.Spec{
			"v123":     {Manifest: minimalManifest, Sign: key},
			"v1":       {Manifest: minimalManifest, Sign: key, V1Only: true},
			"unsigned": {Manifest: minimalManifest},
		} {
			p, err := apkbuild.Build(built.dir, spec)
			if err != nil {
				built.err = err
				return
			}
			built.apks[name] = p
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.apks[variant]
}

// TestMain removes the APKs built for the whole test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

func TestSignedByApksigner(t *testing.T) {
	for _, v1only := range []bool{false, true} {
		p := builtAPK(t, map[bool]string{false: "v123", true: "v1"}[v1only])
		certs := certsOf(t, p)
		digests, dns, ok := apksigner(t, p)
		if !ok {
			t.Fatal("apksigner refuses the APK it signed")
		}
		if len(certs) != 1 || len(digests) != 1 || certs[0].SHA256 != digests[0] || normDN(certs[0].Subject) != dns[0] {
			t.Fatalf("v1only=%v: got %+v, apksigner %v %v", v1only, certs, digests, dns)
		}
		want := []string{"v1", "v2", "v3"}
		if v1only {
			want = want[:1]
		}
		if strings.Join(certs[0].Schemes, ",") != strings.Join(want, ",") {
			t.Errorf("schemes %v, want %v", certs[0].Schemes, want)
		}
		if !strings.Contains(certs[0].Subject, "某某网络科技有限公司") {
			t.Errorf("subject %q", certs[0].Subject)
		}
	}
	if c := certsOf(t, builtAPK(t, "unsigned")); len(c) != 0 {
		t.Errorf("unsigned APK has certificates %+v", c)
	}
}

func TestCorpusAgainstApksigner(t *testing.T) {
	if _, err := exec.LookPath("apksigner"); err != nil {
		t.Skip("apksigner not installed (Debian package apksigner)")
	}
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	if len(files) == 0 {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	// apksigner starts a JVM per file (about a second): a spread of six keeps the test short.
	if len(files) > 6 {
		sort.Strings(files)
		files = []string{files[0], files[3], files[4], files[9], files[13], files[16]}
	}
	compared := 0
	for _, f := range files {
		digests, _, ok := apksigner(t, f)
		if !ok {
			continue
		}
		compared++
		certs := certsOf(t, f)
		var got []string
		for _, c := range certs {
			got = append(got, c.SHA256)
		}
		sort.Strings(got)
		sort.Strings(digests)
		// apksigner prints the signer certificates; chains in v1 blocks may add more of ours.
		for _, d := range digests {
			if !contains(got, d) {
				t.Errorf("%s: apksigner cert %s not found in %v", filepath.Base(f), d, got)
			}
		}
	}
	t.Logf("%d corpus APKs compared with apksigner", compared)
}

func TestHostileBlocks(t *testing.T) {
	for _, b := range [][]byte{nil, {1, 2, 3}, bytes.Repeat([]byte{0xff}, 40)} {
		BlockCertificates(b)
		PKCS7Certificates(b)
	}
	// A pair claiming 2^63 bytes.
	p := make([]byte, 12)
	binary.LittleEndian.PutUint64(p, 1<<63)
	if _, err := BlockCertificates(p); err == nil {
		t.Error("huge pair accepted")
	}
	// A v2 value whose signers length runs past the end.
	v := make([]byte, 16)
	binary.LittleEndian.PutUint64(v, 8)
	binary.LittleEndian.PutUint32(v[8:], IDv2)
	binary.LittleEndian.PutUint32(v[12:], 0xfffffff0)
	if _, err := BlockCertificates(v); err == nil || !strings.Contains(err.Error(), "v2") {
		t.Errorf("overrun signers: %v", err)
	}
}

func FuzzSigningBlock(f *testing.F) {
	if err := apkbuild.Available(); err == nil {
		b, _ := os.ReadFile(builtAPK(f, "v123"))
		if pairs, err := FindBlock(bytes.NewReader(b), int64(len(b))); err == nil {
			f.Add(pairs)
		}
	}
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 0x1a, 0x87, 0x09, 0x71, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		certs, _ := BlockCertificates(b)
		if len(certs) > MaxCerts*8 {
			t.Fatalf("%d certificates", len(certs))
		}
		PKCS7Certificates(b)
		FindBlock(bytes.NewReader(b), int64(len(b)))
	})
}
