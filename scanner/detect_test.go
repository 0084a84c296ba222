package scanner

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"
)

func writeZip(t *testing.T, path string, names ...string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("x"))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDetectKind(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }

	// Names deliberately lie about the content: recognition is by content.
	writeZip(t, p("app.txt"), "AndroidManifest.xml", "classes.dex")
	writeZip(t, p("plain.apk"), "readme.md")
	wx := make([]byte, 32)
	wx[0], wx[13] = 0xBE, 0xED
	os.WriteFile(p("pkg.bin"), wx, 0o644)
	os.WriteFile(p("enc.dat"), append([]byte("V1MMWX"), make([]byte, 64)...), 0o644)
	os.WriteFile(p("capture.json"), []byte("\xef\xbb\xbf {\n \"log\": {\"version\": \"1.2\", \"entries\": []}}"), 0o644)
	os.WriteFile(p("other.json"), []byte(`{"name": "x", "log": 1}`), 0o644)
	os.WriteFile(p("policy.apk"), []byte("<html><body><h1>隐私政策</h1></body></html>"), 0o644)
	gbk, _ := simplifiedchinese.GBK.NewEncoder().Bytes([]byte("隐私政策\n我们收集您的设备信息、位置信息和通讯录。\n"))
	os.WriteFile(p("policy-gbk.txt"), gbk, 0o644)
	os.WriteFile(p("random.bin"), []byte{0x7f, 'E', 'L', 'F', 0, 0, 1, 2}, 0o644)
	os.WriteFile(p("empty"), nil, 0o644)
	os.MkdirAll(p("mp"), 0o755)
	os.WriteFile(p("mp/app.json"), []byte(`{"pages":[]}`), 0o644)
	os.MkdirAll(p("notmp"), 0o755)

	cases := []struct {
		file    string
		want    SourceKind
		errPart string
	}{
		{"app.txt", SourceAPK, ""},
		{"plain.apk", "", "without AndroidManifest.xml"},
		{"pkg.bin", SourceWxapkg, ""},
		{"enc.dat", SourceWxapkg, ""},
		{"capture.json", SourceHAR, ""},
		{"other.json", SourcePolicyFile, ""},
		{"policy.apk", SourcePolicyFile, ""},
		{"policy-gbk.txt", SourcePolicyFile, ""},
		{"random.bin", "", "binary file of unknown kind"},
		{"empty", "", "empty file"},
		{"mp", SourceMPDir, ""},
		{"notmp", "", "not a mini-program source"},
		{"missing", "", "no such file"},
	}
	for _, c := range cases {
		got, err := DetectKind(p(c.file))
		if c.errPart != "" {
			if err == nil || !strings.Contains(err.Error(), c.errPart) || !strings.Contains(err.Error(), c.file) {
				t.Errorf("%s: want error naming the file and containing %q, got kind %q err %v", c.file, c.errPart, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %q, %v; want %q", c.file, got, err, c.want)
		}
	}
}

func TestParseKind(t *testing.T) {
	if k, err := ParseKind("har"); err != nil || k != SourceHAR {
		t.Fatalf("ParseKind(har) = %q, %v", k, err)
	}
	if _, err := ParseKind("ipa"); err == nil || !strings.Contains(err.Error(), "apk") {
		t.Fatalf("ParseKind(ipa) should fail listing the kinds, got %v", err)
	}
}

// FuzzSniff: arbitrary bytes never panic the content detector, and a result is either a known
// kind or an error.
func FuzzSniff(f *testing.F) {
	f.Add([]byte("PK\x03\x04garbage"))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte(`{"log":{"entries":[]}}`))
	f.Add([]byte("V1MMWX"))
	f.Add([]byte{0xBE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xED})
	f.Add([]byte("<html>隐私政策</html>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxSniff {
			b = b[:maxSniff]
		}
		k, err := sniff(b, bytes.NewReader(b), int64(len(b)))
		if err == nil {
			if _, perr := ParseKind(string(k)); perr != nil {
				t.Fatalf("sniff returned unknown kind %q", k)
			}
		}
	})
}
