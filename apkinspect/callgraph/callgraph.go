// Package callgraph answers, for a method of an APK's code, whether the code the manifest makes
// Android run can call it, from which entry point, and along which chain of calls.
//
// The graph spans every dex file of the APK: a method is one node however many dex files
// reference it (interned by class, name and prototype), and a class defined in several dex files
// is the first file's, as the class loader takes it. The graph is built while each dex file is
// indexed (AddDex) and keeps only interned ids, so the dex bytes can go; Solve then resolves the
// calls and searches from the entry points.
//
// Edges, and why each is sound:
//   - invoke-direct, invoke-static and invoke-super go to the method the named class or its
//     nearest superclass defines, as the VM resolves them;
//   - invoke-virtual and invoke-interface go to every method that can run for a receiver of the
//     named type that exists (rapid type analysis): the named class's resolution and every
//     override in an app subclass or implementor (framework classes are not in the APK, so they
//     end a chain), each only when its class, or a class below it, has an instance. A class
//     has an instance in an entry point's group (see Group) when code that group reaches
//     instantiates it (new-instance, or names it by constant: X.class, Class.forName, which
//     reflection and deserialisers instantiate; a <clinit> that builds an instance counts once
//     the class is initialised), when it is the class of one of the group's roots (the
//     framework builds components, the Application and the AppComponentFactory), or when a
//     group that runs before has one (app start, then the launcher, then other components:
//     an object built at start lives on). The reached code and the instantiated classes grow
//     together to a fixed point per group, within the work budget; past it, every class
//     counts as instantiated (class hierarchy analysis) and the graph is cut. A call on a class
//     that nothing in the app's code instantiates, at or below it, goes to every override
//     regardless: its objects are built where the graph cannot see (a view inflated from a
//     layout, a fragment named in XML, native code);
//   - a class is initialised (its <clinit>, and its superclasses' first) when code instantiates
//     it, calls a static method of it, reads or writes a static field of it, or loads it with
//     Class.forName;
//   - hand-offs and listeners (the table bridges): when code instantiates a class that extends
//     or implements Runnable, Thread, Callable, TimerTask, Handler, Handler.Callback or
//     AsyncTask, or a framework listener (View's and DialogInterface's On…Listeners,
//     AdapterView's, TextWatcher, LocationListener, SensorEventListener, BroadcastReceiver,
//     ServiceConnection, ContentObserver, WebViewClient, WebChromeClient,
//     ActivityLifecycleCallbacks), the callbacks that framework type runs (run, handleMessage,
//     doInBackground, onClick, onReceive, onLocationChanged, onPageFinished…) become callees
//     of that code. This covers Thread.start, Handler.post, Executor.execute,
//     View.setOnClickListener, registerReceiver, bindService, requestLocationUpdates and the
//     like, whoever hands the object over, at the price of counting a callback as reached
//     when the object is built and never handed over. A listener built by the launcher is
//     reached from the launcher (the user acts on that screen), not from app start;
//   - reflection by constant: a method that names a class by a constant (Class.forName("…"),
//     ClassLoader.loadClass("…") or X.class) and looks a method up by a constant name
//     (getMethod/getDeclaredMethod("…")) calls every method of that name of the class; with
//     Class.newInstance or getConstructor/getDeclaredConstructor, its constructors.
//
// What the graph cannot see makes it incomplete (Result.Complete false, Result.Problems says
// why): a limit reached, a class hierarchy deeper than the limit, and dynamic code loading
// (DexClassLoader, InMemoryDexClassLoader, PathClassLoader, DexFile.loadDex/loadClass) reachable from an
// entry point, since loaded code may call any method. A caller of the package must then not
// call an unreached method "not reached". Reflection by a non-constant name, native code calling
// into Java and framework callbacks other than the bridges above are not followed; component
// roots (see Root) take every method of a component class for that reason.
package callgraph

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"

	"pilmon/apkinspect/dex"
)

// Limits bound the graph of one APK.
type Limits struct {
	MaxMethods int // interned methods (defined and referenced)
	MaxClasses int // interned classes
	MaxSites   int // recorded call and initialisation sites
	MaxDepth   int // superclass chain length followed
	// MaxWork bounds the steps of resolution and dispatch expansion in Solve (a hostile
	// hierarchy makes class hierarchy analysis quadratic).
	MaxWork int
	// MaxEdges bounds the resolved edges.
	MaxEdges int
	// MaxLabels bounds the distinct root labels searched.
	MaxLabels int
}

// DefaultLimits hold the largest real apps (a few hundred thousand methods over a dozen dex
// files) with room to spare.
func DefaultLimits() Limits {
	return Limits{MaxMethods: 1 << 21, MaxClasses: 1 << 19, MaxSites: 1 << 24, MaxDepth: 512,
		MaxWork: 1 << 27, MaxEdges: 1 << 25, MaxLabels: 1024}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, p := range []struct{ v, d *int }{{&l.MaxMethods, &d.MaxMethods}, {&l.MaxClasses, &d.MaxClasses},
		{&l.MaxSites, &d.MaxSites}, {&l.MaxDepth, &d.MaxDepth}, {&l.MaxWork, &d.MaxWork},
		{&l.MaxEdges, &d.MaxEdges}, {&l.MaxLabels, &d.MaxLabels}} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	return l
}

// Node is a method of the graph; None is no method.
type Node int32

// None is the Node of a method the graph does not hold.
const None Node = -1

type mkey struct{ cls, name, proto uint32 }

// Bits of a packed method key: the method table is keyed by one uint64 (a struct key hashes
// several times slower). Limits keep every id within its bits.
const (
	clsBits   = 20
	nameBits  = 22
	protoBits = 22
)

func (k mkey) pack() uint64 {
	return uint64(k.cls)<<(nameBits+protoBits) | uint64(k.name)<<protoBits | uint64(k.proto)
}

// site kinds
const (
	sCall      uint8 = iota + 1 // invoke-direct/static/super: target is a method
	sVirtual                    // invoke-virtual/interface: target is a method
	sTouch                      // class initialised: target is a class
	sNew                        // new-instance: target is a class (initialised, callbacks bridged)
	sReflClass                  // class named by constant for reflection: target is a class
	sReflName                   // method looked up by constant name: target is a name
	sReflNew                    // constructor looked up or Class.newInstance
	sDynLoad                    // dynamic code loading
)

// site is one call or initialisation site: its kind in the top 4 bits, its target (a method,
// class or name id, all below 1<<28) in the rest. The caller is implied: a method's sites are
// contiguous (siteStart, siteEnd).
type site uint32

func (s site) kind() uint8    { return uint8(s >> 28) }
func (s site) target() uint32 { return uint32(s) & (1<<28 - 1) }

// Graph is built dex file by dex file (AddDex), then solved once.
type Graph struct {
	lim      Limits
	Problems []string
	complete bool

	classID   map[string]uint32
	classDesc []string
	class     []classInfo
	nameID    map[string]uint32
	names     []string
	protoID   map[string]uint32
	protos    []string
	// protoKey interns prototypes by the class ids of their types (4 bytes each, the return
	// type first); protoTypes keeps that key per prototype until it is rendered.
	protoKey   map[string]uint32
	protoTypes [][]byte
	method     methodTable
	mkeys      []mkey
	defined    []bool
	// The sites, one chunk per dex file, each of its exact size (one slice for all would be
	// copied and held at up to twice its size as it grows); sites is the chunk being filled.
	chunks     [][]site
	chunkStart []int32 // global position of each chunk's first site
	sites      []site
	siteBase   int // global position of sites[0]: the sites of the chunks before
	// siteStart and siteEnd delimit each node's sites by global position (a method's code is
	// walked once, so its sites are contiguous, in one chunk).
	siteStart, siteEnd []int32
	// Per-target marks that keep a method's sites unique (see AddDex).
	nodeStamp, classStamp []int32
	nodeBits, classBits   []uint8

	dexBytes int64 // see ExpectDex
	solved   bool  // Solve has run: nothing more is interned

	// well-known ids
	idClinit, idInit uint32
	wk               map[uint32]uint8 // class id -> role for reflection and loading
}

// roles of framework classes (wellKnown)
const (
	roleNone uint8 = iota
	roleClass
	roleLoader
	roleDynload
	roleDexfile
)

type classInfo struct {
	defined bool
	super   int32 // class id, -1 none
	ifaces  []uint32
}

// New returns an empty graph.
func New(lim Limits) *Graph {
	g := &Graph{lim: lim.withDefaults(), complete: true, classID: map[string]uint32{}, nameID: map[string]uint32{},
		protoID: map[string]uint32{}, protoKey: map[string]uint32{}, wk: map[uint32]uint8{}}
	g.idClinit, g.idInit = g.internName("<clinit>"), g.internName("<init>")
	for desc, role := range wellKnown {
		if id, ok := g.internClass(desc); ok {
			g.wk[id] = role
		}
	}
	return g
}

// roles of framework classes the builder looks at
var wellKnown = map[string]uint8{
	"Ljava/lang/Class;":                       roleClass,
	"Ljava/lang/ClassLoader;":                 roleLoader,
	"Ldalvik/system/DexClassLoader;":          roleDynload,
	"Ldalvik/system/InMemoryDexClassLoader;":  roleDynload,
	"Ldalvik/system/PathClassLoader;":         roleDynload,
	"Ldalvik/system/BaseDexClassLoader;":      roleDynload,
	"Ldalvik/system/DelegateLastClassLoader;": roleDynload,
	"Ldalvik/system/DexFile;":                 roleDexfile,
}

// cut records that the graph is incomplete and why (once per reason).
func (g *Graph) cut(format string, a ...any) {
	g.complete = false
	msg := "call graph cut: " + fmt.Sprintf(format, a...)
	for _, p := range g.Problems {
		if p == msg {
			return
		}
	}
	if len(g.Problems) < 64 {
		g.Problems = append(g.Problems, msg)
	}
}

// Incomplete marks the graph incomplete for a reason found outside it (a dex file that failed,
// a packer that hides the code); the caller reports the reason itself.
func (g *Graph) Incomplete() { g.complete = false }

func (g *Graph) internClass(desc string) (uint32, bool) {
	if id, ok := g.classID[desc]; ok {
		return id, true
	}
	if len(g.classDesc) >= min(g.lim.MaxClasses, 1<<clsBits) {
		g.cut("more than %d classes", g.lim.MaxClasses)
		return 0, false
	}
	id := uint32(len(g.classDesc))
	g.classID[desc] = id
	g.classDesc = append(g.classDesc, desc)
	g.class = append(g.class, classInfo{super: -1})
	return id, true
}

func (g *Graph) internName(s string) uint32 {
	if id, ok := g.nameID[s]; ok {
		return id
	}
	if len(g.names) >= 1<<nameBits {
		g.cut("more than %d method names", 1<<nameBits)
		return 0
	}
	id := uint32(len(g.names))
	g.nameID[s] = id
	g.names = append(g.names, s)
	return id
}

func (g *Graph) internProto(s string) uint32 {
	if id, ok := g.protoID[s]; ok {
		return id
	}
	if len(g.protos) >= 1<<protoBits {
		g.cut("more than %d method prototypes", 1<<protoBits)
		return 0
	}
	id := uint32(len(g.protos))
	g.protoID[s] = id
	g.protos = append(g.protos, s)
	g.protoTypes = append(g.protoTypes, nil)
	return id
}

func (g *Graph) internMethod(k mkey) Node {
	slot := g.method.find(k.pack())
	if n := g.method.vals[slot]; n != None {
		return n
	}
	// Methods and their dispatch nodes stay below 1<<28 (solver.dst keeps an edge's kind above).
	if len(g.mkeys) >= min(g.lim.MaxMethods, 1<<27) {
		g.cut("more than %d methods", g.lim.MaxMethods)
		return None
	}
	n := Node(len(g.mkeys))
	g.method.put(slot, k.pack(), n)
	g.mkeys = append(g.mkeys, k)
	g.defined = append(g.defined, false)
	g.siteStart = append(g.siteStart, 0)
	g.siteEnd = append(g.siteEnd, 0)
	return n
}

// methodTable interns methods by packed key: open addressing with linear probing, at most 3/4
// full. Every dex file looks up each of its method_ids once, a million and more on a large
// APK, and a table of two flat arrays does so several times faster than a map. A random seed
// per graph keeps a crafted file from choosing colliding keys.
type methodTable struct {
	keys  []uint64
	vals  []Node // None: empty slot
	n     int
	shift uint8
	seed  uint64
}

// init makes room for about n keys.
func (t *methodTable) init(n int) {
	size, n := 16, max(n, t.n)
	for size*3/4 < n {
		size *= 2
	}
	if t.seed == 0 {
		t.seed = rand.Uint64() | 1
	}
	old := *t
	t.keys, t.vals, t.n, t.shift = make([]uint64, size), make([]Node, size), 0, uint8(64-bits.TrailingZeros(uint(size)))
	for i := range t.vals {
		t.vals[i] = None
	}
	for i, v := range old.vals {
		if v != None {
			t.put(t.find(old.keys[i]), old.keys[i], v)
		}
	}
}

// find is the slot of key, or the empty slot where it goes.
func (t *methodTable) find(key uint64) int {
	if t.keys == nil {
		t.init(16)
	}
	h := key ^ t.seed
	h ^= h >> 31
	h *= 0x9e3779b97f4a7c15
	mask := len(t.keys) - 1
	for i := int(h >> t.shift); ; i = (i + 1) & mask {
		if t.vals[i] == None || t.keys[i] == key {
			return i
		}
	}
}

// put stores key at its empty slot (from find), growing the table when 3/4 full.
func (t *methodTable) put(slot int, key uint64, n Node) {
	t.keys[slot], t.vals[slot] = key, n
	t.n++
	if t.n > len(t.keys)*3/4 {
		t.init(2 * t.n)
	}
}

// FileIndex maps one dex file's ids to the graph's; it lives as long as the file is indexed.
type FileIndex struct {
	g       *Graph
	f       *dex.File
	classes []int64  // type_ids -> class id + 1 (0: not interned yet, -1: failed)
	names   []uint32 // string_ids -> name id + 1 (0: not interned yet)
	protos  []uint32 // proto_ids -> proto id + 1
	methods []Node   // method_ids -> node + 2 (0: not looked up, 1: None)
	// mcls and mrole are, per method_ids entry that has a node, its class id and that class's
	// role (wellKnown): the sites loop reads them for every call, and a file-sized array
	// stays in cache where the graph's mkeys and the role map do not.
	mcls  []uint32
	mrole []uint8
	tbuf  []uint32
	kbuf  []byte
}

// Class is the class id of type_ids[t] in f, false when the graph is full.
func (x *FileIndex) class(t uint32) (uint32, bool) {
	if int64(t) >= int64(len(x.classes)) {
		return 0, false
	}
	switch v := x.classes[t]; {
	case v > 0:
		return uint32(v - 1), true
	case v < 0:
		return 0, false
	}
	id, ok := x.g.internClass(x.f.TypeName(t))
	if !ok {
		x.classes[t] = -1
		return 0, false
	}
	x.classes[t] = int64(id) + 1
	return id, true
}

// Node is the graph node of method_ids[i] of the file (None when the graph is full, or when
// the graph is solved and nothing had looked the method up before).
func (x *FileIndex) Node(i uint32) Node {
	if int64(i) >= int64(len(x.methods)) {
		return None
	}
	if v := x.methods[i]; v != 0 {
		return v - 2
	}
	if x.g.solved {
		// A method no code of the file named while it was added is in no path; the graph's
		// intern tables are gone once solved, and it must not change.
		return None
	}
	n := None
	ct, proto, name, ok := x.f.MethodID(i)
	if ok {
		if c, ok := x.class(ct); ok {
			var nm, pr uint32
			if int64(name) < int64(len(x.names)) {
				if x.names[name] == 0 {
					x.names[name] = x.g.internNameData(x.f.StringData(name)) + 1
				}
				nm = x.names[name] - 1
			} else {
				nm = x.g.internName("")
			}
			if int(proto) >= len(x.protos) {
				pr = x.proto(proto) // beyond proto_ids: malformed, not worth a cache
			} else {
				if x.protos[proto] == 0 {
					x.protos[proto] = x.proto(proto) + 1
				}
				pr = x.protos[proto] - 1
			}
			n = x.g.internMethod(mkey{c, nm, pr})
			x.mcls[i], x.mrole[i] = c, x.g.wk[c]
		}
	}
	x.methods[i] = n + 2
	return n
}

// internNameData interns a name given as MUTF-8 bytes: ASCII and most other names are the same
// bytes in UTF-8, so the lookup needs no decoding; the table is keyed by the decoded name.
func (g *Graph) internNameData(b []byte) uint32 {
	if id, ok := g.nameID[string(b)]; ok {
		return id
	}
	name := dex.DecodeMUTF8(b)
	id := g.internName(name)
	if name != string(b) {
		g.nameID[string(b)] = id
	}
	return id
}

// proto interns proto_ids[p] of the file by the graph's ids of its types (rendering the
// prototype only the first time the graph sees it).
func (x *FileIndex) proto(p uint32) uint32 {
	g := x.g
	types, ok := x.f.ProtoTypes(p, x.tbuf[:0])
	x.tbuf = types
	if !ok {
		return g.internProto(x.f.Proto(p))
	}
	key := x.kbuf[:0]
	for _, t := range types {
		id, ok := x.class(t)
		if !ok {
			return g.internProto(x.f.Proto(p))
		}
		key = binary.LittleEndian.AppendUint32(key, id)
	}
	x.kbuf = key
	if id, ok := g.protoKey[string(key)]; ok {
		return id
	}
	if len(g.protos) >= 1<<protoBits {
		g.cut("more than %d method prototypes", 1<<protoBits)
		return 0
	}
	// Rendered when a result names the method (protoString).
	id := uint32(len(g.protos))
	g.protos = append(g.protos, "")
	g.protoTypes = append(g.protoTypes, []byte(string(key)))
	g.protoKey[string(key)] = id
	return id
}

// protoString renders prototype id as "(args)ret".
func (g *Graph) protoString(id uint32) string {
	if int(id) >= len(g.protos) {
		return ""
	}
	if s := g.protos[id]; s != "" || int(id) >= len(g.protoTypes) || g.protoTypes[id] == nil {
		return s
	}
	key := g.protoTypes[id]
	var b strings.Builder
	b.WriteByte('(')
	for k := 4; k+4 <= len(key); k += 4 {
		b.WriteString(g.classDesc[binary.LittleEndian.Uint32(key[k:])])
	}
	b.WriteByte(')')
	if len(key) >= 4 {
		b.WriteString(g.classDesc[binary.LittleEndian.Uint32(key)])
	}
	g.protos[id] = b.String()
	return g.protos[id]
}

// sized returns m's entries in a map with room for n.
func sized[V any](m map[string]V, n int) map[string]V {
	out := make(map[string]V, max(n, len(m)))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// maxReflect bounds the reflective calls whose constant arguments are resolved per dex file
// (each resolution reads the calling method again).
const maxReflect = 1 << 14

// maxScale bounds how many times the first dex file's tables ExpectDex may make room for.
const maxScale = 16

// ExpectDex says how many dex bytes the APK holds in all (the files AddDex will be given), so
// that the first AddDex sizes the graph's tables for all of them.
func (g *Graph) ExpectDex(bytes int64) { g.dexBytes = bytes }

// AddDex adds the classes of f not defined by an earlier file, with their methods and sites.
// The returned index maps f's method ids to nodes while f is alive.
func (g *Graph) AddDex(f *dex.File) *FileIndex {
	// proto_ids indices are 16 bits in method_ids.
	x := &FileIndex{g: g, f: f, classes: make([]int64, f.TypeCount()), names: make([]uint32, f.StringCount()),
		protos: make([]uint32, min(f.ProtoCount(), 1<<16)), methods: make([]Node, f.MethodCount()),
		mcls: make([]uint32, f.MethodCount()), mrole: make([]uint8, f.MethodCount())}
	if len(g.mkeys) == 0 {
		// Size the tables once rather than grow them: for the first file's methods and types,
		// scaled by the dex bytes the APK holds in all (ExpectDex) to the first file's, since
		// growing them a file at a time copies each several times over (and rehashes the
		// method table). Each id table is bounded by the file, whose own tables take 4 to 12
		// bytes an entry; the scale is bounded too.
		nm, nt := f.MethodCount(), f.TypeCount()
		if g.dexBytes > int64(f.Size()) && f.Size() > 0 {
			scale := min(float64(g.dexBytes)/float64(f.Size()), maxScale)
			nm = min(int(float64(nm)*scale), g.lim.MaxMethods)
			nt = min(int(float64(nt)*scale), g.lim.MaxClasses)
		}
		g.method.init(nm)
		g.mkeys = make([]mkey, 0, nm)
		g.defined = make([]bool, 0, nm)
		g.siteStart, g.siteEnd = make([]int32, 0, nm), make([]int32, 0, nm)
		g.classID = sized(g.classID, nt)
		g.classDesc, g.class = append(make([]string, 0, nt), g.classDesc...), append(make([]classInfo, 0, nt), g.class...)
		g.protoKey = sized(g.protoKey, f.ProtoCount())
	}
	// Room for one site per reference (most references are one site, those made twice by one
	// method none); closeChunk trims what is left over.
	refs := 0
	for _, c := range f.Classes {
		refs += len(c.Refs)
	}
	g.sites = make([]site, 0, max(min(refs, g.lim.MaxSites-g.siteBase), 0))
	defer g.closeChunk()
	reflected := 0
	for _, c := range f.Classes {
		id, ok := x.class(c.Type)
		if !ok || g.class[id].defined {
			continue // the first dex file's definition is the one that runs
		}
		ci := &g.class[id]
		ci.defined = true
		if c.Super != dex.NoIndex {
			if s, ok := x.class(c.Super); ok && s != id {
				ci.super = int32(s)
			}
		}
		for _, t := range c.Interfaces {
			if s, ok := x.class(t); ok && len(ci.ifaces) < 1<<10 {
				ci.ifaces = append(ci.ifaces, s)
			}
		}
		for _, list := range [][]uint32{c.Direct, c.Virtual} {
			for _, m := range list {
				// A method_ids entry of another class in this class's data is malformed; it
				// is not taken as this class's.
				if ct, _, _, ok := f.MethodID(m); !ok || ct != c.Type {
					continue
				}
				if n := x.Node(m); n != None {
					g.defined[n] = true
				}
			}
		}
		caller, start := None, int32(0)
		flush := func() {
			if caller != None && g.siteEnd[caller] == 0 && g.siteStart[caller] == 0 {
				g.siteStart[caller], g.siteEnd[caller] = start, int32(g.siteBase+len(g.sites))
			}
		}
		for _, r := range c.Refs {
			n := x.Node(r.Caller)
			if n != caller {
				flush()
				caller, start = n, int32(g.siteBase+len(g.sites))
				if n != None && g.siteEnd[n] != 0 {
					caller = None // a second code item for the same method: keep the first
				}
			}
			if caller == None {
				continue
			}
			if g.siteBase+len(g.sites) >= g.lim.MaxSites {
				g.cut("more than %d call sites", g.lim.MaxSites)
				break
			}
			// A site is recorded once per method (a method calls the same few methods many
			// times). Most methods have a few sites, found again by a scan of the method's own
			// (in cache); a method with more uses stamps per target, which say which method last
			// recorded it and with which kinds (two arrays of the graph's size, read at random).
			add := func(kind uint8, target uint32) {
				st := site(uint32(kind)<<28 | target&(1<<28-1))
				mine := g.sites[int(start)-g.siteBase:]
				if len(mine) < maxScanSites {
					if slices.Contains(mine, st) {
						return
					}
					g.sites = append(g.sites, st)
					if len(mine)+1 == maxScanSites {
						for _, s := range g.sites[int(start)-g.siteBase:] {
							g.stampSite(caller, s)
						}
					}
					return
				}
				if g.stampSite(caller, st) {
					g.sites = append(g.sites, st)
				}
			}
			switch r.Kind {
			case dex.Invoke:
				t := x.Node(r.Target)
				if t == None {
					continue
				}
				switch r.InvokeKind() {
				case dex.Virtual, dex.Interface:
					add(sVirtual, uint32(t))
				case dex.Static:
					add(sCall, uint32(t))
					add(sTouch, x.mcls[r.Target])
				default:
					add(sCall, uint32(t))
				}
				switch x.mrole[r.Target] {
				case roleNone:
				case roleClass, roleLoader:
					k := g.mkeys[t]
					if reflected < maxReflect {
						reflected++
						g.reflect(f, x, r, k, add)
					} else if reflected == maxReflect {
						reflected++
						g.cut("%s: more than %d reflective calls; the rest not resolved", f.Name, maxReflect)
					}
				case roleDexfile:
					// Opening a DexFile to list its classes (ActiveAndroid, ARouter) runs
					// nothing; loadDex and loadClass load code.
					if nm := g.names[g.mkeys[t].name]; nm == "loadDex" || nm == "loadClass" {
						add(sDynLoad, 0)
					}
				}
			case dex.NewInstance:
				if id, ok := x.class(r.Target); ok {
					add(sNew, id)
					if g.wk[id] == roleDynload {
						add(sDynLoad, 0)
					}
				}
			case dex.ConstClass:
				if id, ok := x.class(r.Target); ok {
					add(sReflClass, id)
				}
			case dex.FieldRead, dex.StaticWrite:
				if r.StaticField() {
					if id, ok := x.class(f.FieldClassType(r.Target)); ok {
						add(sTouch, id)
					}
				}
			}
		}
		flush()
	}
	return x
}

// maxScanSites is the number of sites up to which a method's sites are kept unique by a scan
// of them (see AddDex).
const maxScanSites = 24

// stampSite marks site s of caller in the per-target stamps and reports whether it is new for
// the caller. The stamps grow to the largest target seen (a method or class id, both bounded
// by the limits).
func (g *Graph) stampSite(caller Node, s site) bool {
	kind, target := s.kind(), s.target()
	stamp, bits := &g.nodeStamp, &g.nodeBits
	if kind != sCall && kind != sVirtual {
		stamp, bits = &g.classStamp, &g.classBits
	}
	if int(target) >= len(*stamp) {
		grow := max(int(target)+1, 2*len(*stamp))
		*stamp = append(*stamp, make([]int32, grow-len(*stamp))...)
		*bits = append(*bits, make([]uint8, grow-len(*bits))...)
	}
	if (*stamp)[target] != int32(caller)+1 {
		(*stamp)[target], (*bits)[target] = int32(caller)+1, 0
	}
	bit := uint8(1) << (kind - 1) // kinds are 1 to 8
	if (*bits)[target]&bit != 0 {
		return false
	}
	(*bits)[target] |= bit
	return true
}

// closeChunk ends the chunk of sites AddDex filled, trimmed to its size when much is unused.
func (g *Graph) closeChunk() {
	if len(g.sites) > 0 {
		c := g.sites
		if cap(c)-len(c) > len(c)/8 {
			c = append(make([]site, 0, len(c)), c...)
		}
		g.chunks = append(g.chunks, c)
		g.chunkStart = append(g.chunkStart, int32(g.siteBase))
		g.siteBase += len(c)
	}
	g.sites = nil
}

// sitesOf is n's sites.
func (g *Graph) sitesOf(n Node) []site {
	start, end := g.siteStart[n], g.siteEnd[n]
	if start >= end {
		return nil
	}
	i, _ := slices.BinarySearch(g.chunkStart, start+1) // the first chunk starting after start
	if i == 0 {
		return nil
	}
	c, base := g.chunks[i-1], g.chunkStart[i-1]
	if int(end-base) > len(c) {
		return nil
	}
	return c[start-base : end-base]
}

// reflect records what a call on java.lang.Class or ClassLoader names by constant.
func (g *Graph) reflect(f *dex.File, x *FileIndex, r dex.Ref, k mkey, add func(uint8, uint32)) {
	name := g.names[k.name]
	switch name {
	case "newInstance", "getConstructor", "getDeclaredConstructor":
		add(sReflNew, 0)
		return
	case "forName", "loadClass", "getMethod", "getDeclaredMethod":
	default:
		return
	}
	a, ok := f.ConstArg(r, 0)
	if !ok || !a.Resolved || a.String == "" || len(a.String) > 1024 {
		return
	}
	if name == "getMethod" || name == "getDeclaredMethod" {
		add(sReflName, g.internName(a.String))
		return
	}
	desc := "L" + strings.ReplaceAll(a.String, ".", "/") + ";"
	if id, ok := g.internClass(desc); ok {
		add(sReflClass, id)
		if name == "forName" {
			add(sTouch, id)
		}
	}
}

// MethodName renders n as "com.example.Cls.method".
func (g *Graph) MethodName(n Node) string {
	if n < 0 || int(n) >= len(g.mkeys) {
		return ""
	}
	k := g.mkeys[n]
	return dex.JavaName(g.classDesc[k.cls]) + "." + g.names[k.name]
}

// Descriptor renders n as "Lpkg/Cls;->name(args)ret".
func (g *Graph) Descriptor(n Node) string {
	if n < 0 || int(n) >= len(g.mkeys) {
		return ""
	}
	k := g.mkeys[n]
	return g.classDesc[k.cls] + "->" + g.names[k.name] + g.protoString(k.proto)
}

// Methods is the number of methods interned, Defined those some dex file defines.
func (g *Graph) Methods() int { return len(g.mkeys) }
