package miniprogram

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPackParseRoundTrip(t *testing.T) {
	files := fixtureFiles()
	data, err := Pack(files)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := Parse(data, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Problems) != 0 {
		t.Fatalf("problems: %v", pkg.Problems)
	}
	if len(pkg.Files) != len(files) {
		t.Fatalf("got %d files, want %d", len(pkg.Files), len(files))
	}
	for i, f := range pkg.Files {
		if f.Name != files[i].Name || !bytes.Equal(f.Data, files[i].Data) {
			t.Errorf("file %d: got %q (%d bytes), want %q (%d bytes)", i, f.Name, len(f.Data), files[i].Name, len(files[i].Data))
		}
	}
	// The header fields agree with what WeChat writes: index length reaches the first data byte,
	// body length covers the rest.
	indexLen := binary.BigEndian.Uint32(data[5:9])
	bodyLen := binary.BigEndian.Uint32(data[9:13])
	if int(14+indexLen+bodyLen) != len(data) {
		t.Errorf("header lengths %d+%d do not add up to %d", indexLen, bodyLen, len(data))
	}
}

func TestEncryptDecryptPC(t *testing.T) {
	plain, err := Pack(fixtureFiles())
	if err != nil {
		t.Fatal(err)
	}
	for _, appid := range []string{"wx0123456789abcdef", "x"} {
		enc, err := EncryptPC(plain, appid)
		if err != nil {
			t.Fatal(err)
		}
		if !IsEncrypted(enc) || len(enc) != len(plain)+7 {
			t.Fatalf("%s: encrypted form: magic %v, %d bytes for %d plain", appid, IsEncrypted(enc), len(enc), len(plain))
		}
		if len(appid) < 2 && enc[len(enc)-1] != plain[len(plain)-1]^0x66 {
			t.Errorf("short app id must XOR with 0x66")
		}
		got, err := DecryptPC(enc, appid)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("%s: decrypt(encrypt(p)) != p", appid)
		}
	}
	enc, _ := EncryptPC(plain, "wx0123456789abcdef")
	if _, err := DecryptPC(enc, "wx1111111111111111"); err == nil || !strings.Contains(err.Error(), "wrong app id") {
		t.Errorf("wrong app id: got %v", err)
	}
	if _, err := DecryptPC(enc, ""); err == nil {
		t.Error("empty app id accepted")
	}
	if _, err := DecryptPC(enc[:500], "wx0123456789abcdef"); err == nil {
		t.Error("truncated encrypted package accepted")
	}
	if _, err := Parse(enc, Limits{}); err == nil || !strings.Contains(err.Error(), "V1MMWX") {
		t.Errorf("Parse of an encrypted package: %v", err)
	}
}

// The real PC-cache package must decrypt to exactly its published plain twin.
func TestDecryptCorpusPackage(t *testing.T) {
	dir := corpusDir(t, "wxapkg")
	enc, err := os.ReadFile(filepath.Join(dir, "encrypted_pc_wx0c2d8160744bc7c3.wxapkg"))
	if err != nil {
		t.Skipf("encrypted sample absent: %v", err)
	}
	plain, err := os.ReadFile(filepath.Join(dir, "wx0c2d8160744bc7c3.wxapkg"))
	if err != nil {
		t.Skipf("plain twin absent: %v", err)
	}
	appid := AppIDFromPath(filepath.Join(dir, "encrypted_pc_wx0c2d8160744bc7c3.wxapkg"))
	if appid != "wx0c2d8160744bc7c3" {
		t.Fatalf("app id from path: %q", appid)
	}
	got, err := DecryptPC(enc, appid)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, plain) {
		t.Fatalf("decrypted %d bytes differ from the %d-byte plain twin", len(got), len(plain))
	}
	// And our encryptor reproduces the original bytes.
	re, err := EncryptPC(plain, appid)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(re, enc) {
		t.Error("EncryptPC(plain twin) differs from the real encrypted package")
	}
}

func TestAppIDFromPath(t *testing.T) {
	for in, want := range map[string]string{
		"/home/u/WeChat Files/Applet/wx0c2d8160744bc7c3/17/__APP__.wxapkg": "wx0c2d8160744bc7c3",
		"encrypted_pc_wx0c2d8160744bc7c3.wxapkg":                           "wx0c2d8160744bc7c3",
		`C:\Users\a\Applet\wx00ba1a412528f39b\3\__APP__.wxapkg`:            "wx00ba1a412528f39b",
		"/tmp/__APP__.wxapkg": "",
		"/tmp/wxZZ/x.wxapkg":  "",
	} {
		if got := AppIDFromPath(filepath.FromSlash(strings.ReplaceAll(in, `\`, "/"))); got != want {
			t.Errorf("%s: got %q want %q", in, got, want)
		}
	}
}

// rawPackage writes a package with arbitrary index entries (name, offset, size) and data.
func rawPackage(count uint32, entries []rawEntry, data []byte, indexPad int) []byte {
	var idx bytes.Buffer
	var u [4]byte
	put := func(v uint32) { binary.BigEndian.PutUint32(u[:], v); idx.Write(u[:]) }
	put(count)
	ds := dataStart(entries) + uint32(indexPad)
	for _, e := range entries {
		put(uint32(len(e.name)))
		idx.WriteString(e.name)
		if e.abs {
			put(e.off)
		} else {
			put(ds + e.off)
		}
		put(e.size)
	}
	idx.Write(make([]byte, indexPad))
	var out bytes.Buffer
	out.WriteByte(0xBE)
	binary.Write(&out, binary.BigEndian, uint32(0))
	binary.Write(&out, binary.BigEndian, uint32(idx.Len()))
	binary.Write(&out, binary.BigEndian, uint32(len(data)))
	out.WriteByte(0xED)
	out.Write(idx.Bytes())
	out.Write(data)
	return out.Bytes()
}

// rawEntry offsets are relative to the first data byte unless abs is set.
type rawEntry struct {
	name      string
	off, size uint32
	abs       bool
}

// dataStart is where file data begins for the given entries (no padding).
func dataStart(entries []rawEntry) uint32 {
	n := 14 + 4
	for _, e := range entries {
		n += 12 + len(e.name)
	}
	return uint32(n)
}

func TestParseHostile(t *testing.T) {
	body := []byte("0123456789abcdefghij")
	base := []rawEntry{{"/a.js", 0, 5, false}, {"/b.js", 5, 5, false}}
	cases := []struct {
		name      string
		pkg       []byte
		fatal     string   // substring of the error, "" for none
		problems  []string // substrings expected among Problems
		keptFiles int
	}{
		{"index past end", func() []byte { p := rawPackage(2, base, body, 0); binary.BigEndian.PutUint32(p[5:9], 1<<30); return p }(), "past the end", nil, 0},
		{"data past end", rawPackage(2, []rawEntry{{"/a.js", 0, 5, false}, {"/b.js", 18, 5, false}}, body, 0), "", []string{"outside the data area"}, 1},
		{"offset inside index", rawPackage(2, []rawEntry{{"/a.js", 3, 5, true}, {"/b.js", 0, 5, false}}, body, 0), "", []string{"outside the data area"}, 1},
		{"bomb-sized length", rawPackage(2, []rawEntry{{"/a.js", 0, 0xFFFFFFFF, false}, {"/b.js", 0, 5, false}}, body, 0), "", []string{"outside the data area"}, 1},
		{"overlap", rawPackage(2, []rawEntry{{"/a.js", 0, 10, false}, {"/b.js", 5, 10, false}}, body, 0), "", []string{"overlaps"}, 1},
		{"dotdot", rawPackage(2, []rawEntry{{"/../../etc/passwd", 0, 5, false}, {"/b.js", 5, 5, false}}, body, 0), "", []string{`".." segment`}, 1},
		{"absolute", rawPackage(2, []rawEntry{{"//etc/passwd", 0, 5, false}, {"/b.js", 5, 5, false}}, body, 0), "", []string{"absolute"}, 1},
		{"backslash", rawPackage(2, []rawEntry{{`/..\..\x`, 0, 5, false}, {"/b.js", 5, 5, false}}, body, 0), "", []string{"backslash"}, 1},
		{"nul", rawPackage(2, []rawEntry{{"/a\x00.js", 0, 5, false}, {"/b.js", 5, 5, false}}, body, 0), "", []string{"control byte"}, 1},
		{"drive", rawPackage(2, []rawEntry{{"/C:/x", 0, 5, false}, {"/b.js", 5, 5, false}}, body, 0), "", []string{"drive letter"}, 1},
		{"duplicate", rawPackage(2, []rawEntry{{"/a.js", 0, 5, false}, {"/a.js", 5, 5, false}}, body, 0), "", []string{"duplicate"}, 1},
		{"100,000 entries", rawPackage(100_000, nil, body, 0), "exceeds the limit", nil, 0},
		{"count larger than index", rawPackage(1000, base, body, 0), "cannot fit", nil, 0},
		{"long name", rawPackage(1, []rawEntry{{"/" + strings.Repeat("a", 5000), 0, 0, false}}, body, 0), "name length", nil, 0},
		{"truncated index", rawPackage(3, []rawEntry{{"/a.js", 0, 5, false}, {"/b.js", 5, 5, false}}, body, 6), "", nil, 2},
		{"not a package", []byte("PK\x03\x04 this is a zip"), "not a .wxapkg", nil, 0},
		{"empty", nil, "not a .wxapkg", nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pkg, err := Parse(c.pkg, Limits{})
			if c.fatal != "" {
				if err == nil || !strings.Contains(err.Error(), c.fatal) {
					t.Fatalf("error %v, want one containing %q", err, c.fatal)
				}
				return
			}
			if c.name == "truncated index" {
				if err == nil || !strings.Contains(err.Error(), "truncated") {
					t.Fatalf("error %v, want truncated index", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			for _, want := range c.problems {
				found := false
				for _, p := range pkg.Problems {
					found = found || strings.Contains(p.Error(), want)
				}
				if !found {
					t.Errorf("no problem containing %q in %v", want, pkg.Problems)
				}
			}
			if len(pkg.Files) != c.keptFiles {
				t.Errorf("kept %d files, want %d (%v)", len(pkg.Files), c.keptFiles, pkg.Problems)
			}
		})
	}
}

func TestUnpackStaysInside(t *testing.T) {
	parent := t.TempDir()
	target := filepath.Join(parent, "out")
	outside := filepath.Join(parent, "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		t.Fatal(err)
	}
	// A symlink already inside the target must not be followed out of it.
	if err := os.Symlink(outside, filepath.Join(target, "link")); err != nil {
		t.Fatal(err)
	}
	pkg := &Package{Files: []File{
		{Name: "ok/a.js", Data: []byte("a")},
		{Name: "/ok/b.js", Data: []byte("b")},
		{Name: "../escape.js", Data: []byte("x")},
		{Name: "ok/../../escape2.js", Data: []byte("x")},
		{Name: "/" + outside + "/abs.js", Data: []byte("x")},
		{Name: `..\win.js`, Data: []byte("x")},
		{Name: "nul\x00.js", Data: []byte("x")},
		{Name: "link/through-symlink.js", Data: []byte("x")},
		{Name: "ok/a.js", Data: []byte("overwrite")},
	}}
	written, err := Unpack(pkg, target)
	if len(written) != 2 || written[0] != "ok/a.js" || written[1] != "ok/b.js" {
		t.Errorf("written %v", written)
	}
	if err == nil {
		t.Fatal("no error for hostile names")
	}
	if n := strings.Count(err.Error(), "refused"); n != 7 {
		t.Errorf("%d refusals, want 7:\n%v", n, err)
	}
	entries, _ := os.ReadDir(outside)
	if len(entries) != 0 {
		t.Errorf("files written outside the target: %v", entries)
	}
	if _, err := os.Stat(filepath.Join(parent, "escape.js")); err == nil {
		t.Error("escape.js written outside")
	}
	if b, _ := os.ReadFile(filepath.Join(target, "ok", "a.js")); string(b) != "a" {
		t.Errorf("ok/a.js = %q", b)
	}
}
