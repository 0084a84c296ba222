package dexgen

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"pilmon/apkinspect/dex"
)

// dexdump runs Debian's dexdump -d, whose loader runs ART's dex file verifier (checksum, id
// ordering, map list, class_data, code items) before it prints anything.
func dexdump(t *testing.T, b []byte) string {
	t.Helper()
	if _, err := exec.LookPath("dexdump"); err != nil {
		t.Skip("dexdump not installed (Debian package dexdump)")
	}
	p := filepath.Join(t.TempDir(), "classes.dex")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dexdump", "-d", p).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("Failure to verify")) {
		t.Fatalf("dexdump rejects the generated dex: %v\n%s", err, firstLines(out, 5))
	}
	return string(out)
}

func firstLines(b []byte, n int) string {
	l := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(l[:min(n, len(l))], "\n")
}

var (
	reClass  = regexp.MustCompile(`(?m)^  Class descriptor  : '(L[^']+;)'$`)
	reInvoke = regexp.MustCompile(`(?m)\|[0-9a-f]{4}: invoke-`)
)

func TestDexdumpAcceptsGenerated(t *testing.T) {
	o := Options{Seed: 7, Classes: 40, DexFiles: 2, Depth: 3, Cyclic: true, SensitiveEvery: 2, Runnable: 5}
	dexes, st, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(dexes) != 2 || st.Classes != 40 || st.Sensitive == 0 {
		t.Fatalf("got %d dex files, stats %+v", len(dexes), st)
	}
	classes, invokes := 0, 0
	var dump strings.Builder
	for _, b := range dexes {
		out := dexdump(t, b)
		classes += len(reClass.FindAllString(out, -1))
		invokes += len(reInvoke.FindAllString(out, -1))
		dump.WriteString(out)
	}
	if classes != st.Classes || invokes != st.Invokes {
		t.Errorf("dexdump shows %d classes and %d invokes; Generate reports %d and %d", classes, invokes, st.Classes, st.Invokes)
	}
	all := dump.String()
	// Every sensitive call shape is there with its constant argument just before it.
	for _, sc := range SensitiveCalls {
		desc := JavaDump(sc.Method)
		if !strings.Contains(all, desc) {
			t.Errorf("no call to %s in the dump", desc)
		}
		if sc.Arg != "" && sc.Method.Params[len(sc.Method.Params)-1] == tString &&
			!regexp.MustCompile(`const-string v1, "`+regexp.QuoteMeta(sc.Arg)+`" // string@[0-9a-f]+\n[^\n]*`+regexp.QuoteMeta(desc)).MatchString(all) {
			t.Errorf("%s is not called with the constant %q right before", desc, sc.Arg)
		}
	}
	// The hierarchy: class 1 extends class 0, class 3 (a chain root) a framework class.
	for _, want := range []string{
		"Class descriptor  : 'Lcom/example/gen/p0000/C000001;'\n  Access flags      : 0x0001 (PUBLIC)\n  Superclass        : 'Lcom/example/gen/p0000/C000000;'",
		"Class descriptor  : 'Lcom/example/gen/p0000/C000003;'\n  Access flags      : 0x0001 (PUBLIC)\n  Superclass        : 'Ljava/lang/Object;'",
		"Class descriptor  : 'Lcom/example/gen/p0000/C000005;'\n  Access flags      : 0x0001 (PUBLIC)\n  Superclass        : 'Lcom/example/gen/p0000/C000004;'\n  Interfaces        -\n    #0              : 'Ljava/lang/Runnable;'",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("dump lacks\n%s", want)
		}
	}
	// FirstExtending names a class a manifest can declare as that component, and none for a
	// framework class no chain starts at.
	for _, root := range []string{"Landroid/app/Activity;", "Landroid/app/Application;"} {
		i := o.FirstExtending(root)
		if i < 0 || !strings.Contains(all, "Class descriptor  : '"+o.ClassName(i)+"'\n  Access flags      : 0x0001 (PUBLIC)\n  Superclass        : '"+root+"'") {
			t.Errorf("FirstExtending(%s) = %d, not a class extending it", root, i)
		}
	}
	if i := o.FirstExtending("Landroid/content/ContentProvider;"); i != -1 {
		t.Errorf("FirstExtending(ContentProvider) = %d", i)
	}
}

// JavaDump renders m the way dexdump prints a call target: "Lpkg/C;.name:(args)ret".
func JavaDump(m Method) string {
	return m.Class + "." + m.Name + ":(" + strings.Join(m.Params, "") + ")" + m.Return
}

// TestParserAgrees reads the generated files with pilmon's own dex index: every invoke, and the
// classes with their superclasses.
func TestParserAgrees(t *testing.T) {
	dexes, st, err := Generate(Options{Seed: 3, Classes: 300, DexFiles: 3, Depth: 4, SensitiveEvery: 5, Runnable: 7})
	if err != nil {
		t.Fatal(err)
	}
	classes, invokes := 0, 0
	for i, b := range dexes {
		f, err := dex.Parse(context.Background(), DexName(i), b, dex.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !f.ChecksumOK || len(f.Problems) > 0 {
			t.Errorf("%s: checksum ok %v, problems %v", DexName(i), f.ChecksumOK, f.Problems)
		}
		for _, c := range f.Classes {
			classes++
			name := f.TypeName(c.Type)
			if strings.HasSuffix(name, "C000002;") && f.TypeName(c.Super) != "Lcom/example/gen/p0000/C000001;" {
				t.Errorf("%s extends %s", name, f.TypeName(c.Super))
			}
			for _, r := range c.Refs {
				if r.Kind == dex.Invoke {
					invokes++
				}
			}
		}
	}
	if classes != st.Classes || invokes != st.Invokes {
		t.Errorf("parser reads %d classes, %d invokes; Generate reports %d, %d", classes, invokes, st.Classes, st.Invokes)
	}
}

func TestDeterministic(t *testing.T) {
	o := Options{Seed: 11, Classes: 50, Cyclic: true, SensitiveEvery: 3}
	a, _, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := Generate(o)
	if !bytes.Equal(a[0], b[0]) {
		t.Error("the same options gave different bytes")
	}
	o.Seed = 12
	c, _, _ := Generate(o)
	if bytes.Equal(a[0], c[0]) {
		t.Error("another seed gave the same bytes")
	}
}

// TestHostileShapes builds the shapes hostile-input tests need and checks that the verifier
// accepts them (they are valid dex; only their size or shape is hostile).
func TestHostileShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"deep hierarchy", Options{Classes: 3000, Depth: 3000, Methods: 1, Statics: -1, Calls: 1, Framework: -1, Strings: -1}},
		{"cyclic calls", Options{Classes: 200, Cyclic: true, Calls: 6}},
		{"no calls", Options{Classes: 20, Calls: -1, Framework: -1, Strings: -1, Methods: -1, Statics: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dexes, st, err := Generate(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			out := dexdump(t, dexes[0])
			if n := len(reClass.FindAllString(out, -1)); n != st.Classes {
				t.Errorf("dexdump shows %d classes, want %d", n, st.Classes)
			}
		})
	}
}

// TestMillionMethods: one dex file may define more methods than an invoke can name; the
// generator then calls only methods with small ids, and the file still parses. Building it takes
// about 1.4 GB and half a minute of CPU, so it runs only when DEXGEN_HUGE=1.
func TestMillionMethods(t *testing.T) {
	if os.Getenv("DEXGEN_HUGE") != "1" {
		t.Skip("builds a 1,000,000-method dex (1.4 GB); set DEXGEN_HUGE=1 to run")
	}
	o := Options{Package: "zz.gen", Classes: 10000, Methods: 98, Statics: -1, Calls: 1, Framework: -1, Strings: -1, Depth: 1}
	dexes, st, err := Generate(o)
	if err != nil {
		t.Fatal(err)
	}
	if st.Methods < 1_000_000 {
		t.Fatalf("%d methods", st.Methods)
	}
	f, err := dex.Parse(context.Background(), "classes.dex", dexes[0], dex.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f.MethodCount() < 1_000_000 || len(f.Classes) != o.Classes {
		t.Errorf("parsed %d method ids, %d classes", f.MethodCount(), len(f.Classes))
	}
	// The negative: a package that sorts before java/ is refused, not written wrong.
	o.Package = "com.example.gen"
	if _, _, err := Generate(o); err == nil || !strings.Contains(err.Error(), "sorts before") {
		t.Errorf("err %v", err)
	}
}

func TestBuilderRejects(t *testing.T) {
	obj := "Ljava/lang/Object;"
	ret := []Insn{{Op: OpReturnVoid}}
	for _, tc := range []struct {
		name    string
		classes []ClassDef
		want    string
	}{
		{"twice", []ClassDef{{Name: "La/A;", Super: obj}, {Name: "La/A;", Super: obj}}, "defined twice"},
		{"cycle", []ClassDef{{Name: "La/A;", Super: "La/B;"}, {Name: "La/B;", Super: "La/A;"}}, "own ancestor"},
		{"self", []ClassDef{{Name: "La/A;", Super: "La/A;"}}, "extends itself"},
		{"bad descriptor", []ClassDef{{Name: "a.A", Super: obj}}, "bad type descriptor"},
		{"no code", []ClassDef{{Name: "La/A;", Super: obj, Virtual: []MethodDef{{Name: "m", Return: "V", Access: AccPublic}}}}, "no code"},
		{"argument count", []ClassDef{{Name: "La/A;", Super: obj, Virtual: []MethodDef{{Name: "m", Return: "V", Access: AccPublic, Locals: 1,
			Code: append([]Insn{Invoke(OpInvokeStatic, Method{"La/A;", "m", nil, "V"}, 0)}, ret...)}}}}, "argument words"},
		{"label", []ClassDef{{Name: "La/A;", Super: obj, Virtual: []MethodDef{{Name: "m", Return: "V", Access: AccPublic, Locals: 1,
			Code: append([]Insn{{Op: OpGoto16, Label: "x"}}, ret...)}}}}, "undefined"},
		{"NUL", []ClassDef{{Name: "La/A;", Super: obj, Virtual: []MethodDef{{Name: "m", Return: "V", Access: AccPublic, Locals: 1,
			Code: append([]Insn{ConstString(0, "a\x00b")}, ret...)}}}}, "NUL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder()
			var err error
			for _, c := range tc.classes {
				if err = b.Add(c); err != nil {
					break
				}
			}
			if err == nil {
				_, err = b.Bytes()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want one saying %q", err, tc.want)
			}
		})
	}
	// The positive twin: a minimal class passes.
	b := NewBuilder()
	b.Add(ClassDef{Name: "La/A;", Super: obj, Direct: []MethodDef{{Name: "<init>", Return: "V", Access: AccPublic | AccConstructor,
		Code: []Insn{Invoke(OpInvokeDirect, Method{obj, "<init>", nil, "V"}, 0), {Op: OpReturnVoid}}}}})
	out, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	dexdump(t, out)
}

func TestInvokeIndexTooLarge(t *testing.T) {
	// 70,000 methods on one class, the last calling the first and the first calling the last:
	// the id of the last is past 65535, which no invoke can name.
	var ms []MethodDef
	for i := 0; i < 70000; i++ {
		ms = append(ms, MethodDef{Name: "m" + strings.Repeat("z", i/10000) + strconv.Itoa(i), Return: "V", Access: AccPublic | AccStatic, Code: []Insn{{Op: OpReturnVoid}}})
	}
	last := ms[len(ms)-1]
	ms[0].Code = []Insn{Invoke(OpInvokeStatic, Method{"La/A;", last.Name, nil, "V"}), {Op: OpReturnVoid}}
	b := NewBuilder()
	b.Add(ClassDef{Name: "La/A;", Super: "Ljava/lang/Object;", Direct: ms})
	if _, err := b.Bytes(); err == nil || !strings.Contains(err.Error(), "cannot be encoded") {
		t.Errorf("err %v", err)
	}
}
