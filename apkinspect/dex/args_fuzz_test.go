package dex

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"pilmon/samplegen/dexgen"
)

// argSeeds are dex files whose code exercises every path of ConstArg: constant strings (and
// const-string/jumbo, by a string pool past 65536), register copies, static fields, Uri.parse
// results, branches that join before the call, and calls of every invoke kind with and without
// the receiver, generated with dexgen so that the fuzzer starts from valid files.
func argSeeds(t testing.TB) [][]byte {
	t.Helper()
	var seeds [][]byte
	for _, o := range []dexgen.Options{
		{Seed: 1, Classes: 3, Methods: 2, Statics: 1, SensitiveEvery: 1, Runnable: 2},
		{Seed: 2, Classes: 4, Methods: 1, Statics: 1, Calls: 3, Cyclic: true, Depth: 4, SensitiveEvery: 2},
	} {
		dexes, _, err := dexgen.Generate(o)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, dexes...)
	}
	b, err := argShapes()
	if err != nil {
		t.Fatal(err)
	}
	return append(seeds, b)
}

// argShapes is one class whose methods hold the shapes ConstArg distinguishes, and URIs that
// OnlyPassedTo follows into an Intent only (intent) or also into a field store (intentBranch).
func argShapes() ([]byte, error) {
	const (
		str = "Ljava/lang/String;"
		uri = "Landroid/net/Uri;"
		cr  = "Landroid/content/ContentResolver;"
	)
	getString := dexgen.Method{Class: "Landroid/provider/Settings$Secure;", Name: "getString", Params: []string{cr, str}, Return: str}
	parse := dexgen.Method{Class: uri, Name: "parse", Params: []string{str}, Return: uri}
	insert := dexgen.Method{Class: cr, Name: "insert", Params: []string{uri, "Landroid/content/ContentValues;"}, Return: uri}
	exec := dexgen.Method{Class: "Ljava/lang/Runtime;", Name: "exec", Params: []string{str}, Return: "Ljava/lang/Process;"}
	wide := dexgen.Method{Class: "La/W;", Name: "w", Params: []string{"J", str}, Return: "V"}
	field := dexgen.Field{Class: "Landroid/provider/ContactsContract$Contacts;", Name: "CONTENT_URI", Type: uri}
	media := dexgen.Field{Class: "Landroid/provider/MediaStore$Images$Media;", Name: "EXTERNAL_CONTENT_URI", Type: uri}
	setData := dexgen.Method{Class: "Landroid/content/Intent;", Name: "setData", Params: []string{uri}, Return: "Landroid/content/Intent;"}
	newIntent := dexgen.Insn{Op: dexgen.OpNewInstance, A: 0, Type: "Landroid/content/Intent;"}
	ret := dexgen.Insn{Op: dexgen.OpReturnVoid}
	// Registers: locals v0…v(locals-1), then the ContentResolver and String parameters.
	m := func(name string, locals int, code ...dexgen.Insn) dexgen.MethodDef {
		return dexgen.MethodDef{Name: name, Params: []string{cr, str}, Return: "V", Access: dexgen.AccPublic | dexgen.AccStatic,
			Locals: locals, Code: append(code, ret)}
	}
	b := dexgen.NewBuilder()
	err := b.Add(dexgen.ClassDef{Name: "La/Args;", Super: "Ljava/lang/Object;", Access: dexgen.AccPublic, Direct: []dexgen.MethodDef{
		m("constant", 4, dexgen.ConstString(0, "android_id"), dexgen.Invoke(dexgen.OpInvokeStatic, getString, 4, 0)),
		m("copied", 4, dexgen.ConstString(1, "android_id"), dexgen.Insn{Op: dexgen.OpMoveObject, A: 0, B: 1},
			dexgen.Invoke(dexgen.OpInvokeStatic, getString, 4, 0)),
		m("param", 4, dexgen.Insn{Op: dexgen.OpMoveObject, A: 0, B: 1}, dexgen.Invoke(dexgen.OpInvokeStatic, getString, 4, 5)),
		m("joined", 4, dexgen.ConstString(0, "enabled_notification_listeners"), dexgen.Insn{Op: dexgen.OpIfEqz, A: 5, Label: "a"},
			dexgen.ConstString(0, "android_id"), dexgen.Label("a"), dexgen.Invoke(dexgen.OpInvokeStatic, getString, 4, 0)),
		m("uri", 4, dexgen.ConstString(0, "content://sms/inbox"), dexgen.Invoke(dexgen.OpInvokeStatic, parse, 0),
			dexgen.Insn{Op: dexgen.OpMoveResultObject, A: 1}, dexgen.Insn{Op: dexgen.OpConst4, A: 2},
			dexgen.Invoke(dexgen.OpInvokeVirtual, insert, 4, 1, 2)),
		m("field", 4, dexgen.Insn{Op: dexgen.OpSgetObject, A: 1, Field: &field}, dexgen.Insn{Op: dexgen.OpConst4, A: 2},
			dexgen.Invoke(dexgen.OpInvokeVirtual, insert, 4, 1, 2)),
		m("intent", 4, newIntent, dexgen.Insn{Op: dexgen.OpSgetObject, A: 1, Field: &media},
			dexgen.Invoke(dexgen.OpInvokeVirtual, setData, 0, 1)),
		m("intentBranch", 4, newIntent, dexgen.Insn{Op: dexgen.OpSgetObject, A: 1, Field: &media}, dexgen.Insn{Op: dexgen.OpIfEqz, A: 5, Label: "a"},
			dexgen.Invoke(dexgen.OpInvokeVirtual, setData, 0, 1), dexgen.Label("a"), dexgen.Insn{Op: dexgen.OpSputObject, A: 1, Field: &media}),
		m("range", 18, dexgen.ConstString(17, "android_id"), dexgen.Insn{Op: dexgen.OpMoveObject, A: 15, B: 0},
			dexgen.Invoke(dexgen.OpInvokeStatic, getString, 16, 17)),
		m("exec", 4, dexgen.Insn{Op: dexgen.OpConst4, A: 1}, dexgen.ConstString(0, "cat /sys/class/net/wlan0/address"),
			dexgen.Invoke(dexgen.OpInvokeVirtual, exec, 1, 0), dexgen.Insn{Op: dexgen.OpAddIntLit8, A: 0, B: 0, Lit: 1}),
		m("wide", 8, dexgen.Insn{Op: dexgen.OpConst4, A: 2}, dexgen.ConstString(4, "x"),
			dexgen.Invoke(dexgen.OpInvokeStatic, wide, 2, 3, 4), dexgen.Insn{Op: dexgen.OpGoto16, Label: "end"},
			dexgen.Invoke(dexgen.OpInvokeStatic, getString, 8, 4), dexgen.Label("end")),
	}})
	if err != nil {
		return nil, err
	}
	return b.Bytes()
}

// TestArgShapesSeed: the hand-made seed means what argSeeds says, so the fuzzer starts from
// every path (a positive and a negative each: resolved constants and unresolved parameters).
func TestArgShapesSeed(t *testing.T) {
	b, err := argShapes()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(context.Background(), "shapes.dex", b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Arg{}
	for _, c := range f.Classes {
		for _, r := range c.Refs {
			if r.Kind != Invoke {
				continue
			}
			params := f.MethodParams(r.Target)
			for k, p := range params {
				if p != "Ljava/lang/String;" && p != "Landroid/net/Uri;" {
					continue
				}
				a, ok := f.ConstArg(r, k)
				if !ok {
					t.Errorf("%s: ConstArg refused param %d", f.MethodName(r.Caller), k)
				}
				got[f.MethodName(r.Caller)+"/"+f.MethodName(r.Target)] = a
				break
			}
		}
	}
	want := map[string]Arg{
		"constant/getString":   {Resolved: true, String: "android_id"},
		"copied/getString":     {Resolved: true, String: "android_id"},
		"param/getString":      {},
		"joined/getString":     {},
		"uri/parse":            {Resolved: true, String: "content://sms/inbox"},
		"uri/insert":           {Resolved: true, String: "content://sms/inbox"},
		"field/insert":         {Resolved: true, Field: "Landroid/provider/ContactsContract$Contacts;->CONTENT_URI:Landroid/net/Uri;"},
		"range/getString":      {Resolved: true, String: "android_id"},
		"intent/setData":       {Resolved: true, Field: "Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;"},
		"intentBranch/setData": {Resolved: true, Field: "Landroid/provider/MediaStore$Images$Media;->EXTERNAL_CONTENT_URI:Landroid/net/Uri;"},
		"exec/exec":            {Resolved: true, String: "cat /sys/class/net/wlan0/address"},
		"wide/w":               {Resolved: true, String: "x"},
		"wide/getString":       {Resolved: true, String: "x"}, // dead code after a goto is still read in order
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("%s: got %+v (found %v), want %+v", k, g, ok, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("call sites %v, want %d", got, len(want))
	}
	only := map[string]bool{}
	for _, c := range f.Classes {
		for _, r := range c.Refs {
			if r.Kind == FieldRead && strings.HasPrefix(f.MethodName(r.Caller), "intent") {
				only[f.MethodName(r.Caller)] = f.OnlyPassedTo(r, func(m uint32, p int) bool { return f.MethodName(m) == "setData" && p == 0 })
			}
		}
	}
	if !only["intent"] || only["intentBranch"] || len(only) != 2 {
		t.Errorf("OnlyPassedTo %v, want intent only, intentBranch used", only)
	}
}

// FuzzConstArg feeds ConstArg and MethodParams every invoke of random dex files, OnlyPassedTo
// every field read, and one
// forged reference per input (a real call site's caller with a position moved by shift code
// units and another target), as a caller holding a stale or foreign Ref would. Nothing may
// panic out of Parse, ConstArg, OnlyPassedTo or MethodParams, loop, or read outside the file.
func FuzzConstArg(f *testing.F) {
	for _, b := range argSeeds(f) {
		f.Add(b, uint16(0), int8(0))
		f.Add(b, uint16(7), int8(-3))
	}
	if _, err := exec.LookPath("smali"); err == nil {
		b, _ := os.ReadFile(assemble(f))
		f.Add(b, uint16(1), int8(2))
	}
	f.Fuzz(func(t *testing.T, b []byte, pick uint16, shift int8) {
		df, err := Parse(context.Background(), "fuzz.dex", b, Limits{MaxRefs: 1 << 14})
		if df == nil {
			if err == nil {
				t.Fatal("Parse returned neither a file nor an error")
			}
			return
		}
		var invokes []Ref
		for _, c := range df.Classes {
			for _, r := range c.Refs {
				if r.Kind == Invoke {
					invokes = append(invokes, r)
				}
			}
		}
		for _, r := range invokes {
			params := df.MethodParams(r.Target)
			if len(params) > 255 {
				t.Fatalf("%d parameters", len(params))
			}
			for k := -1; k <= len(params); k++ {
				a, ok := df.ConstArg(r, k)
				if (k < 0 || k >= len(params)) && ok {
					t.Fatalf("ConstArg accepted parameter %d of %d", k, len(params))
				}
				if !a.Resolved && (a.String != "" || a.Field != "") {
					t.Fatalf("unresolved argument with a value: %+v", a)
				}
			}
		}
		// OnlyPassedTo on every field read: accepting more uses never turns a used value into
		// one passed only to accepted calls.
		all, none := func(uint32, int) bool { return true }, func(uint32, int) bool { return false }
		for _, c := range df.Classes {
			for _, r := range c.Refs {
				if r.Kind == FieldRead && df.OnlyPassedTo(r, none) && !df.OnlyPassedTo(r, all) && df.useSteps <= maxFileUseSteps {
					t.Fatalf("%s: a value passed nowhere is used when every call accepts it", df.MethodName(r.Caller))
				}
			}
		}
		if len(invokes) == 0 {
			return
		}
		r := invokes[int(pick)%len(invokes)]
		r.Pos = uint32(int64(r.Pos) + 2*int64(shift))
		r.Target = invokes[(int(pick)/7)%len(invokes)].Target
		for k := -1; k <= 5; k++ {
			df.ConstArg(r, k)
		}
		r.Kind = FieldRead
		if _, ok := df.ConstArg(r, 0); ok {
			t.Fatal("ConstArg accepted a field read")
		}
		r.Op = 0x62
		df.OnlyPassedTo(r, func(uint32, int) bool { return true })
	})
}
