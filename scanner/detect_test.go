package scanner_test

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"pilmon/pipeline"
	. "pilmon/scanner"
)

// kinds are the kinds of this build: the detection rules are their inspectors' declarations.
var kinds = pipeline.Kinds(nil)

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
	os.WriteFile(p("notmp/app.js"), []byte("App({})"), 0o644)
	for _, m := range []string{"app-config.json", "mini.project.json", "project.config.json"} {
		os.MkdirAll(p("mp-"+m), 0o755)
		os.WriteFile(p("mp-"+m+"/"+m), []byte(`{}`), 0o644)
	}
	os.MkdirAll(p("mp-dirmarker/app.json"), 0o755) // a folder named like the marker is no marker
	writeZip(t, p("nested.zip"), "lib/AndroidManifest.xml")
	os.WriteFile(p("emptyzip"), []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644)
	os.WriteFile(p("short-wx"), append([]byte{0xBE}, make([]byte, 12)...), 0o644) // 0xED would be at 13
	notWx := make([]byte, 32)
	notWx[0], notWx[13] = 0xBE, 0xEC
	os.WriteFile(p("not-wx"), notWx, 0o644)
	os.WriteFile(p("creator.har"), []byte(`{"log":{"creator":{"name":"Charles"}}}`), 0o644)
	os.WriteFile(p("log-second.json"), []byte(`{"pages":[], "log":{"entries":[]}}`), 0o644)
	os.WriteFile(p("log-only.json"), []byte(`{"log": {}}`), 0o644)
	os.WriteFile(p("latin1.txt"), []byte("caf\xe9 cr\xe8me \x01\x02\x03"), 0o644)

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
		// JSON is never a privacy policy (issue 19): a JSON file of no known kind, a cut or
		// corrupt HAR among them, is refused by content instead of being read as a policy.
		{"other.json", "", "no known kind"},
		{"policy.apk", SourcePolicyFile, ""},
		{"policy-gbk.txt", SourcePolicyFile, ""},
		{"random.bin", "", "binary file of unknown kind"},
		{"empty", "", "empty file"},
		{"mp", SourceMPDir, ""},
		{"notmp", "", "not a mini-program source"},
		{"missing", "", "no such file"},
		{"mp-app-config.json", SourceMPDir, ""},
		{"mp-mini.project.json", SourceMPDir, ""},
		{"mp-project.config.json", SourceMPDir, ""},
		{"mp-dirmarker", "", "not a mini-program source"},
		{"nested.zip", "", "without AndroidManifest.xml"},
		{"emptyzip", "", "without AndroidManifest.xml"},
		{"short-wx", "", "binary file of unknown kind"},
		{"not-wx", "", "binary file of unknown kind"},
		{"creator.har", SourceHAR, ""},
		{"log-second.json", "", "no known kind"},
		{"log-only.json", "", "no known kind"},
		{"latin1.txt", "", "use --kind to override"},
	}
	for _, c := range cases {
		got, err := DetectKind(p(c.file), kinds)
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
	if k, err := ParseKind("har", kinds); err != nil || k != SourceHAR {
		t.Fatalf("ParseKind(har) = %q, %v", k, err)
	}
	if _, err := ParseKind("ipa", kinds); err == nil || !strings.Contains(err.Error(), "apk") {
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
		if len(b) > MaxSniff {
			b = b[:MaxSniff]
		}
		k, err := Sniff(b, bytes.NewReader(b), int64(len(b)), kinds)
		if err == nil {
			if _, perr := ParseKind(string(k), kinds); perr != nil {
				t.Fatalf("sniff returned unknown kind %q", k)
			}
		}
	})
}

// TestDetectKindAppliesDeclarations: the core knows no kind; it applies what kinds declare, zip
// members and magics before text, a fallback's predicate only after every other kind's, and with
// no kinds it recognises nothing.
func TestDetectKindAppliesDeclarations(t *testing.T) {
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	os.WriteFile(p("log.jsonl"), []byte(`{"hook":"getDeviceId"}`+"\n"), 0o644)
	os.WriteFile(p("note.txt"), []byte("plain words"), 0o644)
	os.WriteFile(p("magic.bin"), []byte("XLOG\x00\x01"), 0o644)
	writeZip(t, p("book.xlsx"), "[Content_Types].xml", "xl/workbook.xml")
	os.MkdirAll(p("phone"), 0o755)
	os.WriteFile(p("phone/hooks.cfg"), []byte("x"), 0o644)

	ks := []KindSpec{
		{Kind: "catchall", Detect: &DetectSpec{Fallback: true, Text: func([]byte) bool { return true }}},
		{Kind: "jsonl", Detect: &DetectSpec{Text: func(h []byte) bool { return bytes.HasPrefix(TrimText(h), []byte(`{"hook"`)) }}},
		{Kind: "xlog", Detect: &DetectSpec{Magic: []Magic{Prefix("XLOG")}}},
		{Kind: "sheet", Label: Label{EN: "Spreadsheet"}, Detect: &DetectSpec{ZipMembers: []string{"xl/workbook.xml"}}},
		{Kind: "phonedir", Label: Label{EN: "Phone folder"}, Detect: &DetectSpec{FolderMarkers: []string{"hooks.cfg"}}},
		{Kind: "undetected"},
	}
	for file, want := range map[string]SourceKind{"log.jsonl": "jsonl", "note.txt": "catchall", "magic.bin": "xlog", "book.xlsx": "sheet", "phone": "phonedir"} {
		if got, err := DetectKind(p(file), ks); err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", file, got, err, want)
		}
	}
	for _, file := range []string{"log.jsonl", "magic.bin", "book.xlsx", "phone"} {
		if got, err := DetectKind(p(file), nil); err == nil || !strings.Contains(err.Error(), file) {
			t.Errorf("%s with no kinds: got %q, %v; want an error naming the file", file, got, err)
		}
	}
	writeZip(t, p("other.zip"), "a.txt")
	if _, err := DetectKind(p("other.zip"), ks); err == nil || !strings.Contains(err.Error(), "without xl/workbook.xml: not Spreadsheet (unpack an archived phone folder into a folder)") {
		t.Errorf("other.zip: %v", err)
	}
}
