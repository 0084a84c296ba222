package dex

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pilmon/internal/corpus"
)

const androguardExamples = "/usr/share/doc/androguard/examples"

// assemble builds testdata/smali into a dex file with Debian's smali, once per test binary.
func assemble(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("smali"); err != nil {
		t.Skip("smali not installed (Debian package smali)")
	}
	assembled.once.Do(func() {
		dir, err := os.MkdirTemp("", "dex-test-")
		if err != nil {
			assembled.err = err
			return
		}
		assembled.dir = dir
		out := filepath.Join(dir, "classes.dex")
		cmd := exec.Command("smali", "assemble", "-a", "26", "-j", "1", "-o", out, filepath.Join("testdata", "smali"))
		if b, err := cmd.CombinedOutput(); err != nil {
			assembled.err = fmt.Errorf("smali: %v\n%s", err, b)
			return
		}
		assembled.path = out
	})
	if assembled.err != nil {
		t.Fatal(assembled.err)
	}
	return assembled.path
}

var assembled struct {
	once      sync.Once
	dir, path string
	err       error
}

// TestMain removes the dex assembled for the whole test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if assembled.dir != "" {
		os.RemoveAll(assembled.dir)
	}
	os.Exit(code)
}

var (
	reDump = regexp.MustCompile(`\|[0-9a-f]{4}: (invoke-(?:virtual|super|direct|static|interface)(?:/range)?|[is]get(?:-wide|-object|-boolean|-byte|-char|-short)?|sput(?:-wide|-object|-boolean|-byte|-char|-short)?|new-instance|const-class) .* // (method|field|type)@([0-9a-f]+)$`)
	// A string constant may span lines (dexdump prints it raw): its reference ends the last one.
	reDumpString = regexp.MustCompile(`" // (string)@([0-9a-f]+)$`)
)

// dexdumpRefs lists the references `dexdump -d` prints, in order, as "kind@index".
func dexdumpRefs(t testing.TB, path string) ([]string, bool) {
	out, err := exec.Command("dexdump", "-d", path).Output()
	if err != nil || bytes.Contains(out, []byte("Failure to verify dex file")) {
		return nil, false
	}
	var refs []string
	for _, l := range strings.Split(string(out), "\n") {
		if m := reDump.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[3], 16, 32)
			refs = append(refs, fmt.Sprintf("%s@%d", m[2], n))
		} else if m := reDumpString.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[2], 16, 32)
			refs = append(refs, fmt.Sprintf("%s@%d", m[1], n))
		}
	}
	return refs, true
}

func ourRefs(f *File) []string {
	var refs []string
	names := map[RefKind]string{Invoke: "method", FieldRead: "field", StringConst: "string", NewInstance: "type", ConstClass: "type", StaticWrite: "field"}
	for _, c := range f.Classes {
		for _, r := range c.Refs {
			refs = append(refs, fmt.Sprintf("%s@%d", names[r.Kind], r.Target))
		}
	}
	return refs
}

func dexdumpClasses(t testing.TB, path string) []string {
	out, _ := exec.Command("dexdump", "-l", "plain", path).Output()
	var cls []string
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "Class descriptor  : '"); ok {
			cls = append(cls, strings.TrimSuffix(rest, "'"))
		}
	}
	return cls
}

func parseFile(t testing.TB, p string) *File {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(context.Background(), filepath.Base(p), b, Limits{})
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return f
}

func compare(t *testing.T, label, path string, f *File) bool {
	want, ok := dexdumpRefs(t, path)
	if !ok {
		return false
	}
	got := ourRefs(f)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("%s: %d refs vs dexdump %d; first difference at %d: got %v want %v", label, len(got), len(want), i,
			got[i:min(i+5, len(got))], want[i:min(i+5, len(want))])
	}
	cls := dexdumpClasses(t, path)
	var ours []string
	for _, c := range f.Classes {
		ours = append(ours, f.TypeName(c.Type))
	}
	if strings.Join(ours, ",") != strings.Join(cls, ",") {
		t.Errorf("%s: %d classes, dexdump %d", label, len(ours), len(cls))
	}
	return true
}

func TestSmaliAgainstDexdump(t *testing.T) {
	if _, err := exec.LookPath("dexdump"); err != nil {
		t.Skip("dexdump not installed (Debian package dexdump)")
	}
	p := assemble(t)
	f := parseFile(t, p)
	if !compare(t, "smali", p, f) {
		t.Fatal("dexdump refused the smali-built dex")
	}
	if !f.ChecksumOK || f.Version != "038" {
		t.Errorf("checksum ok %v version %s", f.ChecksumOK, f.Version)
	}
	// Descriptors, strings and the MUTF-8 decoding.
	var descs, strs []string
	for _, c := range f.Classes {
		for _, r := range c.Refs {
			switch r.Kind {
			case Invoke:
				descs = append(descs, f.MethodName(r.Caller)+" -> "+f.MethodDescriptor(r.Target))
			case FieldRead:
				descs = append(descs, f.MethodName(r.Caller)+" -> "+f.FieldDescriptor(r.Target))
			case StringConst:
				strs = append(strs, f.String(r.Target))
			}
		}
	}
	for _, want := range []string{
		"deviceId -> Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;",
		"apps -> Landroid/content/pm/PackageManager;->getInstalledPackages(I)Ljava/util/List;",
		"apps -> Landroid/os/Build;->SERIAL:Ljava/lang/String;",
		"switches -> Lorg/pilmon/test/Widths;->six(JJII)V",
		"switches -> Lorg/pilmon/test/Widths;->after()V",
		"handle -> Lorg/pilmon/test/Widths;->after()V",
	} {
		if !contains(descs, want) {
			t.Errorf("missing %q in\n%s", want, strings.Join(descs, "\n"))
		}
	}
	for _, want := range []string{"phone", "https://api.example.cn/v1/collect?imei=", "隐私政策 privacy \x00 nul 😀"} {
		if !contains(strs, want) {
			t.Errorf("missing string %q in %q", want, strs)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// TestRealDexAgainstDexdump runs the androguard example dex files and the dex files of the
// shared corpus APKs.
func TestRealDexAgainstDexdump(t *testing.T) {
	if _, err := exec.LookPath("dexdump"); err != nil {
		t.Skip("dexdump not installed (Debian package dexdump)")
	}
	var paths []string
	filepath.Walk(androguardExamples, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".dex") {
			paths = append(paths, p)
		}
		return nil
	})
	apks, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "*.apk"))
	tmp := t.TempDir()
	for _, a := range apks {
		zr, err := zip.OpenReader(a)
		if err != nil {
			continue
		}
		for _, zf := range zr.File {
			if !IsDexName(zf.Name) || zf.UncompressedSize64 > 16<<20 {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			p := filepath.Join(tmp, filepath.Base(a)+"!"+zf.Name)
			os.WriteFile(p, b, 0o644)
			paths = append(paths, p)
		}
		zr.Close()
	}
	if len(paths) == 0 {
		t.Skip("no androguard examples and no shared corpus")
	}
	sort.Strings(paths)
	// dexdump -d needs seconds on a multi-MiB dex: by default compare the files up to 512 KiB;
	// PILMON_ORACLE_ALL=1 compares every one.
	all := os.Getenv("PILMON_ORACLE_ALL") != ""
	compared, refused := 0, 0
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		if !all && len(b) > 512<<10 {
			continue
		}
		f, err := Parse(context.Background(), filepath.Base(p), b, Limits{})
		if err != nil {
			if _, ok := dexdumpRefs(t, p); ok {
				t.Errorf("%s: dexdump reads it, we fail: %v", filepath.Base(p), err)
			}
			refused++
			continue
		}
		if compare(t, filepath.Base(p), p, f) {
			compared++
		}
	}
	t.Logf("%d dex files agree with dexdump (%d refused by both)", compared, refused)
}

func TestHostile(t *testing.T) {
	p := assemble(t)
	good, _ := os.ReadFile(p)
	ctx := context.Background()
	// Every truncation: an error naming the file, never a panic.
	for n := 0; n < len(good); n += 3 {
		if _, err := Parse(ctx, "t.dex", good[:n], Limits{}); err == nil {
			t.Fatalf("truncated to %d accepted", n)
		} else if !strings.Contains(err.Error(), "t.dex") {
			t.Fatalf("error does not name the file: %v", err)
		}
	}
	// Tables claiming to run past the file, counts over the limits.
	for _, c := range []struct {
		off  int
		val  uint32
		want string
	}{
		{56, 1 << 30, "strings"}, {60, 0xfffffff0, "strings"}, {96, 1 << 20, "classes"},
		{40, 0x78563412, "endian"}, {32, 1 << 30, "truncated"},
	} {
		b := bytes.Clone(good)
		binary.LittleEndian.PutUint32(b[c.off:], c.val)
		if _, err := Parse(ctx, "t.dex", b, Limits{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("header[%d]=%#x: want %q, got %v", c.off, c.val, c.want, err)
		}
	}
	// Every class pointing at the same class_data: walked once.
	b := bytes.Clone(good)
	n := binary.LittleEndian.Uint32(b[96:])
	off := binary.LittleEndian.Uint32(b[100:])
	first := binary.LittleEndian.Uint32(b[off+24:])
	for i := uint32(0); i < n; i++ {
		binary.LittleEndian.PutUint32(b[off+32*i+24:], first)
	}
	f, err := Parse(ctx, "t.dex", b, Limits{})
	if err != nil || len(f.Problems) == 0 {
		t.Errorf("shared class_data: %v %v", err, f)
	}
	// A cancelled context stops the walk.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Parse(cctx, "t.dex", good, Limits{}); err == nil {
		t.Error("cancelled context ignored")
	}
	if _, err := Parse(ctx, "t.dex", good, Limits{MaxSize: 100}); err == nil {
		t.Error("size limit ignored")
	}
}

// TestLoopingTables points tables at themselves and at each other: every walk ends, reports the
// problem and decodes within its budget.
func TestLoopingTables(t *testing.T) {
	good, _ := os.ReadFile(assemble(t))
	ctx := context.Background()
	le := binary.LittleEndian
	nStr, strOff := le.Uint32(good[56:]), le.Uint32(good[60:])
	nCls, clsOff := le.Uint32(good[96:]), le.Uint32(good[100:])
	mutate := func(name string, f func(b []byte)) (*File, error) {
		b := bytes.Clone(good)
		f(b)
		file, err := Parse(ctx, name, b, Limits{})
		if err != nil && !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
		return file, err
	}
	// Every class's class_data is the class_defs table itself, then inside the header (0 means
	// "no class data").
	for _, target := range []uint32{clsOff, 8, 0x40} {
		name := fmt.Sprintf("self-%d.dex", target)
		f, err := mutate(name, func(b []byte) {
			for i := uint32(0); i < nCls; i++ {
				le.PutUint32(b[clsOff+32*i+24:], target)
			}
		})
		if err == nil && (f == nil || len(f.Problems) == 0) {
			t.Errorf("%s: no problem reported", name)
		}
	}
	// Every string id points at the string table: decoding all of them stays within the budget.
	f, err := mutate("strings.dex", func(b []byte) {
		for i := uint32(0); i < nStr; i++ {
			le.PutUint32(b[strOff+4*i:], strOff)
		}
	})
	if err == nil {
		for i := 0; i < 100*f.StringCount(); i++ {
			f.String(uint32(i % f.StringCount()))
		}
		if f.strBudget > 8*int64(len(good))+1<<20 {
			t.Errorf("budget grew: %d", f.strBudget)
		}
	}
	// A reference budget stops a dex whose code is all references.
	if _, err := Parse(ctx, "budget.dex", good, Limits{MaxRefs: 3}); err == nil || !strings.Contains(err.Error(), "reference budget") {
		t.Errorf("reference budget: %v", err)
	}
}

func TestMUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"abc\x00zzz":               "abc",
		"\xc0\x80x":                "\x00x",
		"\xe9\x9a\x90":             "隐",
		"\xed\xa0\xbd\xed\xb8\x80": "😀",
		"\xff":                     "\uFFFD",
		"":                         "",
		"\xe9\x9a":                 "\uFFFD\uFFFD",
	} {
		if got := DecodeMUTF8([]byte(in)); got != want {
			t.Errorf("%q: got %q want %q", in, got, want)
		}
	}
}

func FuzzDex(f *testing.F) {
	if _, err := exec.LookPath("smali"); err == nil {
		b, _ := os.ReadFile(assemble(f))
		f.Add(b)
	}
	for _, p := range []string{"tests/Test.dex", "tests/Switch.dex", "tests/FillArrays.dex", "tests/StringTests.dex"} {
		if b, err := os.ReadFile(filepath.Join(androguardExamples, p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		df, err := Parse(context.Background(), "fuzz.dex", b, Limits{MaxRefs: 1 << 16})
		if err != nil || df == nil {
			return
		}
		for _, c := range df.Classes {
			df.TypeName(c.Type)
			for _, r := range c.Refs {
				df.MethodDescriptor(r.Caller)
				df.MethodDescriptor(r.Target)
				df.FieldDescriptor(r.Target)
				df.String(r.Target)
			}
		}
	})
}
