package dex

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// intentURI accepts an Intent method's Uri parameter, as apkinspect's intentData does.
func intentURI(f *File) func(uint32, int) bool {
	return func(m uint32, p int) bool {
		params := f.MethodParams(m)
		return p >= 0 && p < len(params) && f.MethodClass(m) == "Landroid/content/Intent;" && params[p] == "Landroid/net/Uri;"
	}
}

// TestOnlyPassedTo: every static URI read of testdata/smali/Uris.smali is answered as its
// method's name says (only*: passed to an Intent's Uri parameters on every path, through copies,
// switches, loops and exception handlers; used*: reaching a field store, a return, a comparison,
// a receiver, a wide parameter's slot or a delete on some path).
func TestOnlyPassedTo(t *testing.T) {
	f := parseFile(t, assemble(t))
	accept := intentURI(f)
	seen := map[string]bool{}
	for _, c := range f.Classes {
		if f.TypeName(c.Type) != "Lorg/pilmon/test/Uris;" {
			continue
		}
		for _, r := range c.Refs {
			if r.Kind != FieldRead || !strings.HasSuffix(f.FieldDescriptor(r.Target), "EXTERNAL_CONTENT_URI:Landroid/net/Uri;") {
				continue
			}
			name := f.MethodName(r.Caller)
			seen[name] = true
			want := strings.HasPrefix(name, "only")
			if got := f.OnlyPassedTo(r, accept); got != want {
				t.Errorf("%s: OnlyPassedTo %v, want %v", name, got, want)
			}
			// Nothing accepted: only a value never used passes.
			if got := f.OnlyPassedTo(r, func(uint32, int) bool { return false }); got != (name == "onlyUnused") {
				t.Errorf("%s: OnlyPassedTo accepting nothing %v", name, got)
			}
		}
	}
	if len(seen) != 10 {
		t.Errorf("read sites in %d methods, want 10: %v", len(seen), seen)
	}
	// Not an sget-object: refused.
	for _, c := range f.Classes {
		for _, r := range c.Refs {
			if r.Kind == Invoke && f.OnlyPassedTo(r, accept) {
				t.Fatalf("%s: OnlyPassedTo accepted an invoke", f.MethodName(r.Caller))
			}
		}
	}
}

// FuzzOnlyPassedTo feeds OnlyPassedTo every field read of random dex files, and one forged
// reference per input (a read's position moved by shift code units), with an accept that
// approves what the input's flag bits say. Nothing may panic, loop or read outside the file,
// and accepting every call never turns a value passed only to accepted calls into a used one.
func FuzzOnlyPassedTo(f *testing.F) {
	for _, b := range argSeeds(f) {
		f.Add(b, uint8(0), int8(0))
		f.Add(b, uint8(0xff), int8(3))
	}
	if _, err := exec.LookPath("smali"); err == nil {
		b, _ := os.ReadFile(assemble(f))
		f.Add(b, uint8(1), int8(-2))
	}
	f.Fuzz(func(t *testing.T, b []byte, flags uint8, shift int8) {
		df, err := Parse(context.Background(), "fuzz.dex", b, Limits{MaxRefs: 1 << 14})
		if df == nil {
			if err == nil {
				t.Fatal("Parse returned neither a file nor an error")
			}
			return
		}
		some := func(m uint32, p int) bool { return (uint32(flags)>>((m+uint32(p+1))%8))&1 == 1 }
		all := func(uint32, int) bool { return true }
		var last Ref
		for _, c := range df.Classes {
			for _, r := range c.Refs {
				if r.Kind != FieldRead {
					continue
				}
				last = r
				if df.OnlyPassedTo(r, some) && !df.OnlyPassedTo(r, all) && df.useSteps <= maxFileUseSteps {
					t.Fatalf("%s: passed only to some calls, yet used when all are accepted", df.MethodName(r.Caller))
				}
			}
		}
		last.Kind, last.Op = FieldRead, 0x62
		last.Pos = uint32(int64(last.Pos) + 2*int64(shift))
		df.OnlyPassedTo(last, all)
	})
}
