package dexgen_test

import (
	"fmt"

	"pilmon/samplegen/dexgen"
)

// A hostile shape for a call-graph test: one chain of 2,000 classes, each overriding its
// superclass's single method and calling methods of any other class, so the graph has cycles
// and a virtual call has up to 2,000 targets.
func ExampleGenerate() {
	dexes, st, err := dexgen.Generate(dexgen.Options{Seed: 1, Classes: 2000, Depth: 2000, Methods: 1, Statics: -1,
		Calls: 2, Cyclic: true, Framework: -1, Strings: -1})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(dexes), "dex file;", st.Classes, "classes,", st.Methods, "methods")
	fmt.Println("class 1999 extends", dexgen.Options{Depth: 2000}.SuperName(1999))
	// Output:
	// 1 dex file; 2000 classes, 6000 methods
	// class 1999 extends Lcom/example/gen/p0019/C001998;
}

// Builder writes hand-made code: here a method that reads the Android ID with a constant key.
func ExampleBuilder() {
	str := "Ljava/lang/String;"
	getString := dexgen.Method{Class: "Landroid/provider/Settings$Secure;", Name: "getString",
		Params: []string{"Landroid/content/ContentResolver;", str}, Return: str}
	b := dexgen.NewBuilder()
	err := b.Add(dexgen.ClassDef{Name: "Lcom/example/app/Ids;", Super: "Ljava/lang/Object;", Access: dexgen.AccPublic,
		Direct: []dexgen.MethodDef{{Name: "id", Params: []string{"Landroid/content/ContentResolver;"}, Return: str,
			Access: dexgen.AccPublic | dexgen.AccStatic, Locals: 1, Code: []dexgen.Insn{
				dexgen.ConstString(0, "android_id"),
				dexgen.Invoke(dexgen.OpInvokeStatic, getString, 1, 0), // p0 is v1: the resolver
				{Op: dexgen.OpMoveResultObject, A: 0},
				{Op: dexgen.OpReturnObject, A: 0},
			}}}})
	if err != nil {
		panic(err)
	}
	dx, err := b.Bytes()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%q, %d bytes\n", dx[:8], len(dx))
	// Output:
	// "dex\n035\x00", 604 bytes
}
