package dexgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Options shape a generated program. The zero value of a count means its default.
type Options struct {
	// Seed makes the output deterministic: the same Options give the same bytes.
	Seed uint64
	// Package is the Java package of the generated classes (default "com.example.gen"); classes
	// go into sub-packages of 100 classes each, named p0000…, classes C000000….
	Package string
	// Classes is the number of classes (default 100).
	Classes int
	// Methods is the number of virtual methods per class besides the constructor (default 6);
	// Statics the number of static methods per class (default 2). A subclass overrides its
	// superclass's virtual methods (they share names), so virtual calls have several targets.
	Methods, Statics int
	// Depth is the length of the generated superclass chains: class i extends class i-1 unless
	// i is a multiple of Depth (then it extends a framework class). Default 3; 1 for none.
	Depth int
	// Calls is the number of calls each method makes to methods of other generated classes
	// (default 2; -1 for none). With Cyclic the callee is any class, so the call graph has
	// cycles; otherwise only a class with a greater index, so it is acyclic.
	Calls  int
	Cyclic bool
	// Framework is the number of framework calls per method (Log, String, StringBuilder,
	// TextUtils; default 3; -1 for none).
	Framework int
	// Strings is the number of distinct string constants per method (default 2; -1 for none).
	Strings int
	// SensitiveEvery puts one sensitive-API call (from the catalogue rules/data/sensitive_apis.yaml,
	// each with its constant argument where it takes one) in every SensitiveEvery-th method;
	// 0 for none.
	SensitiveEvery int
	// Runnable makes every Runnable-th class implement java.lang.Runnable (run() calls the
	// first virtual method); 0 for none.
	Runnable int
	// DexFiles splits the classes over this many dex files (default 1). Calls stay inside their
	// dex file but for every 20th, which goes to the next dex file, as in a real multidex app.
	DexFiles int
}

// Stats describes what Generate built.
type Stats struct {
	DexFiles, Classes, Methods int
	Invokes                    int // invoke instructions
	Sensitive                  int // sensitive-API call sites
	Bytes                      int64
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		} else if *v < 0 {
			*v = 0
		}
	}
	if o.Package == "" {
		o.Package = "com.example.gen"
	}
	def(&o.Classes, 100)
	def(&o.Methods, 6)
	def(&o.Statics, 2)
	def(&o.Depth, 3)
	o.Depth = max(o.Depth, 1)
	def(&o.Calls, 2)
	def(&o.Framework, 3)
	def(&o.Strings, 2)
	def(&o.DexFiles, 1)
}

// SensitiveCall is a sensitive API Generate calls, with the constant it passes (when the API
// takes a key argument).
type SensitiveCall struct {
	Method Method
	Static bool
	Arg    string // "" when the call takes no string argument
}

const (
	tString   = "Ljava/lang/String;"
	tObject   = "Ljava/lang/Object;"
	tRunnable = "Ljava/lang/Runnable;"
)

// SensitiveCalls are the sensitive-API call shapes Generate uses, in rotation. Entries with an
// argument come in pairs: one constant the catalogue names (the PI read) and one it does not.
var SensitiveCalls = []SensitiveCall{
	{Method{"Landroid/telephony/TelephonyManager;", "getDeviceId", nil, tString}, false, ""},
	{Method{"Landroid/provider/Settings$Secure;", "getString", []string{"Landroid/content/ContentResolver;", tString}, tString}, true, "android_id"},
	{Method{"Landroid/provider/Settings$Secure;", "getString", []string{"Landroid/content/ContentResolver;", tString}, tString}, true, "enabled_notification_listeners"},
	{Method{"Landroid/os/SystemProperties;", "get", []string{tString}, tString}, true, "ro.serialno"},
	{Method{"Landroid/os/SystemProperties;", "get", []string{tString}, tString}, true, "ro.build.version.sdk"},
	{Method{"Landroid/net/wifi/WifiInfo;", "getMacAddress", nil, tString}, false, ""},
	{Method{"Landroid/location/LocationManager;", "getLastKnownLocation", []string{tString}, "Landroid/location/Location;"}, false, "gps"},
	{Method{"Landroid/content/ClipboardManager;", "getPrimaryClip", nil, "Landroid/content/ClipData;"}, false, ""},
	{Method{"Landroid/content/pm/PackageManager;", "getInstalledPackages", []string{"I"}, "Ljava/util/List;"}, false, ""},
}

var (
	mLogD       = Method{"Landroid/util/Log;", "d", []string{tString, tString}, "I"}
	mLength     = Method{tString, "length", nil, "I"}
	mIsEmpty    = Method{"Landroid/text/TextUtils;", "isEmpty", []string{"Ljava/lang/CharSequence;"}, "Z"}
	mSBInit     = Method{"Ljava/lang/StringBuilder;", "<init>", nil, "V"}
	mSBAppend   = Method{"Ljava/lang/StringBuilder;", "append", []string{tString}, "Ljava/lang/StringBuilder;"}
	mSBToString = Method{"Ljava/lang/StringBuilder;", "toString", nil, tString}
	// Roots of the generated chains extend these in turn (all have a public no-argument
	// constructor), so that a manifest can name generated components.
	roots = []string{tObject, tObject, tObject, "Landroid/app/Activity;", "Landroid/app/Service;",
		"Landroid/content/BroadcastReceiver;", "Landroid/app/Application;"}
)

// words are the vocabulary of generated string constants.
var words = strings.Fields("user device config privacy policy token session upload report sdk init push " +
	"location account login share cache http https api v1 v2 json key id name event 用户 隐私 设备 配置")

// ClassName is the descriptor of generated class i ("Lcom/example/gen/p0000/C000000;").
func (o Options) ClassName(i int) string {
	o.defaults()
	return fmt.Sprintf("L%s/p%04d/C%06d;", strings.ReplaceAll(o.Package, ".", "/"), i/100, i)
}

// SuperName is the descriptor of the superclass of class i: class i-1 inside a chain, else a
// framework class (java.lang.Object, Activity, Service, BroadcastReceiver or Application, in
// turn from one chain to the next).
func (o Options) SuperName(i int) string {
	o.defaults()
	if o.Depth > 1 && i%o.Depth != 0 {
		return o.ClassName(i - 1)
	}
	return roots[(i/o.Depth)%len(roots)]
}

// FirstExtending is the first generated class whose chain starts at the framework class root
// (a descriptor such as "Landroid/app/Activity;"), or -1: the class a manifest names as that
// component.
func (o Options) FirstExtending(root string) int {
	o.defaults()
	for i := 0; i < o.Classes; i += o.Depth {
		if o.SuperName(i) == root {
			return i
		}
	}
	return -1
}

// Components names, as a manifest does (Java class names), the first generated class extending
// each component's framework class: "application", "activity", "service" and "receiver". A
// program with too few classes to have one of them is an error.
func (o Options) Components() (map[string]string, error) {
	comp := map[string]string{}
	for tag, root := range map[string]string{"application": "Landroid/app/Application;", "activity": "Landroid/app/Activity;",
		"service": "Landroid/app/Service;", "receiver": "Landroid/content/BroadcastReceiver;"} {
		i := o.FirstExtending(root)
		if i < 0 {
			return nil, fmt.Errorf("no generated class extends %s (too few classes)", root)
		}
		d := o.ClassName(i)
		comp[tag] = strings.ReplaceAll(d[1:len(d)-1], "/", ".")
	}
	return comp, nil
}

// Generate builds the program Options describe, one []byte per dex file (classes.dex first).
func Generate(o Options) ([][]byte, Stats, error) {
	var out [][]byte
	st, err := Each(o, func(_ string, dx []byte) error {
		out = append(out, dx)
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	return out, st, nil
}

// Each builds the program Options describe one dex file at a time and hands each to emit with
// its APK entry name, so that only one dex file is in memory at once.
func Each(o Options, emit func(name string, dex []byte) error) (Stats, error) {
	o.defaults()
	if o.DexFiles > o.Classes {
		return Stats{}, fmt.Errorf("dexgen: %d dex files for %d classes", o.DexFiles, o.Classes)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x70696c6d6f6e))
	pkg := strings.ReplaceAll(o.Package, ".", "/")
	name := o.ClassName
	per := (o.Classes + o.DexFiles - 1) / o.DexFiles
	st := Stats{DexFiles: o.DexFiles, Classes: o.Classes}
	// An invoke names a method id in 16 bits: when a dex file defines more methods than that,
	// calls go only to the classes whose methods sort into the first 65536 ids (class names
	// sort in index order; a reserve covers the framework methods, which must then sort before
	// them) and never to another dex file.
	perClass := o.Methods + o.Statics + 2
	callable := max(1, (0xffff-4096)/perClass)
	huge := per*perClass > 0xffff-4096
	if huge && "L"+pkg+"/" < "Ljava/~" {
		return Stats{}, fmt.Errorf("dexgen: %d methods per dex file need a package that sorts after java/ (such as zz.gen), "+
			"so that the framework methods keep ids an invoke can name; %q sorts before", per*perClass, o.Package)
	}
	superOf := o.SuperName
	// pick chooses a callee class for class i in dex d.
	pick := func(i, d int) int {
		lo, hi := d*per, min((d+1)*per, o.Classes)
		if rng.IntN(20) == 0 && hi < o.Classes && !huge {
			lo, hi = hi, min(hi+per, o.Classes) // the next dex file
		} else {
			hi = min(hi, lo+callable)
		}
		if !o.Cyclic {
			lo = max(lo, i+1)
		}
		if lo >= hi {
			return -1
		}
		return lo + rng.IntN(hi-lo)
	}
	strN := 0
	str := func() string {
		strN++
		return fmt.Sprintf("%s_%s_%d", words[rng.IntN(len(words))], words[rng.IntN(len(words))], strN)
	}
	virt := func(c string, k int) Method { return Method{c, fmt.Sprintf("m%d", k), []string{tString}, tString} }
	stat := func(c string, k int) Method { return Method{c, fmt.Sprintf("s%d", k), []string{tString}, "V"} }
	sensN := 0
	for d := 0; d < o.DexFiles; d++ {
		b := NewBuilder()
		for i := d * per; i < min((d+1)*per, o.Classes); i++ {
			c := name(i)
			sup := superOf(i)
			tag := Field{c, "TAG", tString}
			cd := ClassDef{Name: c, Super: sup, Access: AccPublic, Source: fmt.Sprintf("C%06d.java", i),
				Static:   []FieldDef{{Name: "TAG", Type: tString, Access: AccPublic | AccStatic | AccFinal}},
				Instance: []FieldDef{{Name: "name", Type: tString, Access: AccPrivate}}}
			cd.Direct = append(cd.Direct,
				MethodDef{Name: "<clinit>", Return: "V", Access: AccStatic | AccConstructor, Locals: 1,
					Code: []Insn{ConstString(0, str()), {Op: OpSputObject, A: 0, Field: &tag}, {Op: OpReturnVoid}}},
				MethodDef{Name: "<init>", Return: "V", Access: AccPublic | AccConstructor, Locals: 0,
					Code: []Insn{Invoke(OpInvokeDirect, Method{sup, "<init>", nil, "V"}, 0), {Op: OpReturnVoid}}})
			// body writes one method's code: registers v0..v4 are locals, v5 is this (or the first
			// parameter of a static method), v6 the String parameter of a virtual one.
			body := func(static bool) []Insn {
				var code []Insn
				self, arg := 5, 6
				if static {
					arg = 5
				}
				code = append(code, Insn{Op: OpMoveObject, A: 0, B: arg})
				for k := 0; k < o.Strings; k++ {
					code = append(code, ConstString(1, str()))
					if k == 0 {
						code = append(code, Insn{Op: OpSgetObject, A: 2, Field: &tag}, Invoke(OpInvokeStatic, mLogD, 2, 1))
						st.Invokes++
					}
				}
				for k := 0; k < o.Framework; k++ {
					switch (i + k) % 3 {
					case 0:
						code = append(code, Invoke(OpInvokeVirtual, mLength, 0), Insn{Op: OpMoveResult, A: 2})
					case 1:
						code = append(code, Invoke(OpInvokeStatic, mIsEmpty, 0), Insn{Op: OpMoveResult, A: 2},
							Insn{Op: OpIfNez, A: 2, Label: fmt.Sprintf("f%d", k)}, Insn{Op: OpAddIntLit8, A: 2, B: 2, Lit: 1},
							Label(fmt.Sprintf("f%d", k)))
					default:
						code = append(code, Insn{Op: OpNewInstance, A: 3, Type: "Ljava/lang/StringBuilder;"},
							Invoke(OpInvokeDirect, mSBInit, 3), Invoke(OpInvokeVirtual, mSBAppend, 3, 0),
							Invoke(OpInvokeVirtual, mSBToString, 3), Insn{Op: OpMoveResultObject, A: 0})
						st.Invokes += 2
					}
					st.Invokes++
				}
				for k := 0; k < o.Calls; k++ {
					t := pick(i, d)
					if t < 0 {
						continue
					}
					tc := name(t)
					if rng.IntN(3) == 0 && o.Statics > 0 {
						code = append(code, Invoke(OpInvokeStatic, stat(tc, rng.IntN(o.Statics)), 0))
						st.Invokes++
						continue
					}
					if o.Methods == 0 {
						continue
					}
					code = append(code, Insn{Op: OpNewInstance, A: 3, Type: tc},
						Invoke(OpInvokeDirect, Method{tc, "<init>", nil, "V"}, 3),
						Invoke(OpInvokeVirtual, virt(tc, rng.IntN(o.Methods)), 3, 0), Insn{Op: OpMoveResultObject, A: 0})
					st.Invokes += 2
				}
				if !static && o.Methods > 1 && (!huge || i-d*per < callable) {
					// A call on this: dispatches to an override in a subclass too.
					code = append(code, Invoke(OpInvokeVirtual, virt(c, rng.IntN(o.Methods)), self, 0), Insn{Op: OpMoveResultObject, A: 0})
					st.Invokes++
				}
				if o.SensitiveEvery > 0 && st.Methods%o.SensitiveEvery == 0 {
					sc := SensitiveCalls[sensN%len(SensitiveCalls)]
					sensN++
					code = append(code, Insn{Op: OpConst4, A: 4, Lit: 0})
					var regs []int
					if !sc.Static {
						regs = append(regs, 4) // a null receiver: the shape of the call is what counts
					}
					for _, t := range sc.Method.Params {
						switch {
						case t == tString && sc.Arg != "":
							code = append(code, ConstString(1, sc.Arg))
							regs = append(regs, 1)
						case t == "I":
							code = append(code, Insn{Op: OpConst4, A: 2, Lit: 0})
							regs = append(regs, 2)
						default:
							regs = append(regs, 4)
						}
					}
					code = append(code, Invoke(map[bool]Op{true: OpInvokeStatic, false: OpInvokeVirtual}[sc.Static], sc.Method, regs...))
					st.Invokes++
					st.Sensitive++
				}
				st.Methods++
				if static {
					return append(code, Insn{Op: OpReturnVoid})
				}
				return append(code, Insn{Op: OpReturnObject, A: 0})
			}
			for k := 0; k < o.Statics; k++ {
				m := stat(c, k)
				cd.Direct = append(cd.Direct, MethodDef{Name: m.Name, Params: m.Params, Return: m.Return,
					Access: AccPublic | AccStatic, Locals: 5, Code: body(true)})
			}
			for k := 0; k < o.Methods; k++ {
				m := virt(c, k)
				cd.Virtual = append(cd.Virtual, MethodDef{Name: m.Name, Params: m.Params, Return: m.Return,
					Access: AccPublic, Locals: 5, Code: body(false)})
			}
			if o.Runnable > 0 && i%o.Runnable == 0 && o.Methods > 0 {
				cd.Interfaces = []string{tRunnable}
				cd.Virtual = append(cd.Virtual, MethodDef{Name: "run", Return: "V", Access: AccPublic, Locals: 1,
					Code: []Insn{ConstString(0, str()), Invoke(OpInvokeVirtual, virt(c, 0), 1, 0),
						Insn{Op: OpMoveResultObject, A: 0}, {Op: OpReturnVoid}}})
				st.Methods++
				st.Invokes++
			}
			st.Methods += 2
			st.Invokes++
			if err := b.Add(cd); err != nil {
				return st, err
			}
		}
		dx, err := b.Bytes()
		if err != nil {
			return st, fmt.Errorf("dex file %d: %w", d+1, err)
		}
		st.Bytes += int64(len(dx))
		if err := emit(DexName(d), dx); err != nil {
			return st, err
		}
	}
	return st, nil
}

// DexName is the APK entry name of the i-th (0-based) dex file: classes.dex, classes2.dex, …
func DexName(i int) string {
	if i == 0 {
		return "classes.dex"
	}
	return fmt.Sprintf("classes%d.dex", i+1)
}
