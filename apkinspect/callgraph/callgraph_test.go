package callgraph

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"pilmon/apkinspect/dex"
)

func build(t testing.TB, lim Limits, files ...[]byte) *Graph {
	t.Helper()
	g := New(lim)
	for i, b := range files {
		f, err := dex.Parse(context.Background(), fmt.Sprintf("classes%d.dex", i+1), b, dex.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		g.AddDex(f)
	}
	return g
}

func node(t testing.TB, g *Graph, desc string) Node {
	t.Helper()
	for n := range g.mkeys {
		if g.Descriptor(Node(n)) == desc {
			return Node(n)
		}
	}
	t.Fatalf("no node %s", desc)
	return None
}

func methods(steps []Step) []string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Method)
	}
	return out
}

// TestAcrossDexFiles: a method referenced from two dex files is one node; a class defined twice
// is the first file's; a cyclic call chain and a cyclic class hierarchy terminate.
func TestAcrossDexFiles(t *testing.T) {
	var d1, d2 tDex
	// classes.dex: A.entry -> B.a (defined in classes2.dex) ; A.dup is the one that runs.
	entry := d1.method("La/A;", "entry", "V")
	ba1 := d1.method("La/B;", "a", "V")
	dup1 := d1.method("La/D;", "dup", "V")
	d1.classes = []tClass{
		{typ: d1.typ("La/A;"), super: -1, direct: []tDef{{method: entry, code: code(invokeStatic(ba1))}}},
		{typ: d1.typ("La/D;"), super: -1, direct: []tDef{{method: dup1, code: code()}}},
	}
	// classes2.dex: B.a -> B.b -> B.a (a cycle), B.b -> D.dup; D again, calling Dead.
	ba := d2.method("La/B;", "a", "V")
	bb := d2.method("La/B;", "b", "V")
	dup2 := d2.method("La/D;", "dup", "V")
	dead := d2.method("La/Dead;", "x", "V")
	// X and Y extend each other (malformed); a virtual call on X terminates.
	xw := d2.method("La/X;", "w", "V")
	yw := d2.method("La/Y;", "w", "V")
	d2.classes = []tClass{
		{typ: d2.typ("La/B;"), super: -1, direct: []tDef{{method: ba, code: code(invokeStatic(bb))}, {method: bb, code: code(invokeStatic(ba), invokeStatic(dup2), invokeVirtual(xw))}}},
		{typ: d2.typ("La/D;"), super: -1, direct: []tDef{{method: dup2, code: code(invokeStatic(dead))}}},
		{typ: d2.typ("La/Dead;"), super: -1, direct: []tDef{{method: dead, code: code()}}},
		{typ: d2.typ("La/X;"), super: d2.typ("La/Y;"), virtual: []tDef{{method: xw, code: code()}}},
		{typ: d2.typ("La/Y;"), super: d2.typ("La/X;"), virtual: []tDef{{method: yw, code: code()}}},
	}
	g := build(t, Limits{}, d1.bytes(), d2.bytes())
	r := g.Solve([]Root{{Label: "app_start", Class: "La/A;", Methods: []string{"entry"}}})
	for desc, want := range map[string]string{
		"La/B;->a()V": "app_start", "La/B;->b()V": "app_start", "La/D;->dup()V": "app_start",
		"La/Dead;->x()V": "", // D.dup of classes2.dex never runs: classes.dex defines D
		"La/X;->w()V":    "app_start", "La/Y;->w()V": "app_start",
	} {
		if got := strings.Join(r.Labels(node(t, g, desc)), ","); got != want {
			t.Errorf("%s: labels %q, want %q", desc, got, want)
		}
	}
	if p := methods(r.Path(AppStart, node(t, g, "La/D;->dup()V"))); !slices.Equal(p, []string{"a.A.entry", "a.B.a", "a.B.b", "a.D.dup"}) {
		t.Errorf("path %v", p)
	}
	if r.Path(Launcher, node(t, g, "La/B;->a()V")) != nil {
		t.Error("a launcher path with no launcher root")
	}
}

// TestMillionMethods: a dex file with 1,000,000 methods whose calls form one long cycle is
// indexed and searched within bounded memory; with a lower method limit the graph says it was
// cut and is incomplete.
func TestMillionMethods(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 30 MB dex")
	}
	const classes, per = 1000, 1000
	var d tDex
	for c := 0; c < classes; c++ {
		d.typ(fmt.Sprintf("Lm/C%04d;", c))
	}
	for c := 0; c < classes; c++ {
		for k := 0; k < per; k++ {
			d.methods = append(d.methods, tMethod{class: c, name: fmt.Sprintf("m%03d", k), ret: "V"})
		}
	}
	for c := 0; c < classes; c++ {
		cl := tClass{typ: c, super: -1}
		for k := 0; k < per; k++ {
			m := c*per + k
			if m < 1<<16 {
				// The first 65536 methods (all an invoke can name) call the next, the last the first.
				cl.direct = append(cl.direct, tDef{method: m, code: code(invokeStatic((m + 1) % (1 << 16)))})
			} else {
				cl.direct = append(cl.direct, tDef{method: m, code: code(invokeStatic(0)), share: 1})
			}
		}
		d.classes = append(d.classes, cl)
	}
	b := d.bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g := build(t, Limits{}, b)
	r := g.Solve([]Root{{Label: "app_start", Class: "Lm/C0000;", Methods: []string{"m000"}}})
	runtime.GC()
	runtime.ReadMemStats(&after)
	if g.Methods() != classes*per || !r.Complete {
		t.Fatalf("%d methods, complete %v %v", g.Methods(), r.Complete, r.Problems)
	}
	last := node(t, g, "Lm/C0065;->m535()V") // method 65535
	if got := r.Labels(last); !slices.Equal(got, []string{"app_start"}) {
		t.Errorf("method 65535: %v", got)
	}
	if p := r.Path(AppStart, last); len(p) != 1<<16 || p[0].Method != "m.C0000.m000" {
		t.Errorf("path of %d steps from %v", len(p), p[:min(1, len(p))])
	}
	if got := r.Labels(node(t, g, "Lm/C0999;->m999()V")); got != nil {
		t.Errorf("an uncalled method: %v", got)
	}
	// The graph's own memory: the dex bytes (about 30 MB) are still held here.
	if held := int64(after.HeapAlloc) - int64(before.HeapAlloc); held > 400<<20 {
		t.Errorf("graph and dex hold %d MiB", held>>20)
	}
	t.Logf("dex %d MiB, %d methods, %d edges, heap held %d MiB", len(b)>>20, g.Methods(), r.Edges, (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>20)

	g = build(t, Limits{MaxMethods: 500000}, b)
	r = g.Solve([]Root{{Label: "app_start", Class: "Lm/C0000;", Methods: []string{"m000"}}})
	if r.Complete || len(r.Problems) == 0 || !strings.Contains(r.Problems[0], "call graph cut: more than 500000 methods") {
		t.Errorf("limit: complete %v, problems %v", r.Complete, r.Problems)
	}
}

// TestDeepHierarchy: a chain of 10,000 subclasses, each overriding work(): a virtual call on the
// root class reaches every override, and following the chain upwards stops at MaxDepth with a
// problem that makes the result incomplete.
func TestDeepHierarchy(t *testing.T) {
	const depth = 10000
	var d tDex
	for i := 0; i < depth; i++ {
		d.method(fmt.Sprintf("Lh/C%05d;", i), "work", "V")
	}
	entry := d.method("Lh/Main;", "entry", "V")
	for i := 0; i < depth; i++ {
		super := -1
		if i > 0 {
			super = d.typ(fmt.Sprintf("Lh/C%05d;", i-1))
		}
		d.classes = append(d.classes, tClass{typ: d.typ(fmt.Sprintf("Lh/C%05d;", i)), super: super, virtual: []tDef{{method: i, code: code()}}})
	}
	d.classes = append(d.classes, tClass{typ: d.typ("Lh/Main;"), super: -1, direct: []tDef{{method: entry,
		code: code(newInstance(d.typ(fmt.Sprintf("Lh/C%05d;", depth-1))), invokeVirtual(0))}}})
	g := build(t, Limits{}, d.bytes())
	r := g.Solve([]Root{{Label: "launcher", Class: "Lh/Main;", Methods: []string{"entry"}}})
	deepest := node(t, g, fmt.Sprintf("Lh/C%05d;->work()V", depth-1))
	if got := r.Labels(deepest); !slices.Equal(got, []string{"launcher"}) {
		t.Errorf("deepest override: %v", got)
	}
	if p := r.Path(Launcher, deepest); len(p) != 2 || p[1].Edge != EdgeVirtual || p[1].Via != "Lh/C00000;->work()V" {
		t.Errorf("path %+v", p)
	}
	if r.Complete || !strings.Contains(strings.Join(r.Problems, "\n"), "class hierarchy deeper than 512") {
		t.Errorf("complete %v, problems %v", r.Complete, r.Problems)
	}
	// A work budget stops class hierarchy analysis on a hostile hierarchy and says so.
	g = build(t, Limits{MaxWork: 1000}, d.bytes())
	r = g.Solve([]Root{{Label: "launcher", Class: "Lh/Main;", Methods: []string{"entry"}}})
	if r.Complete || !strings.Contains(strings.Join(r.Problems, "\n"), "resolution stopped after 1000 steps") {
		t.Errorf("budget: complete %v, problems %v", r.Complete, r.Problems)
	}
}

// TestBridgesAndRoots: an instantiated Runnable's run is a callee of the instantiating method,
// one not instantiated is not; an all-methods root skips the names it is told to.
func TestBridgesAndRoots(t *testing.T) {
	var d tDex
	entry := d.method("Lb/Main;", "entry", "V")
	other := d.method("Lb/Main;", "other", "V")
	run := d.method("Lb/Task;", "run", "V")
	init := d.method("Lb/Task;", "<init>", "V")
	idle := d.method("Lb/Idle;", "run", "V")
	runnable := d.typ("Ljava/lang/Runnable;")
	d.classes = []tClass{
		{typ: d.typ("Lb/Main;"), super: -1, direct: []tDef{{method: entry, code: code(newInstance(d.typ("Lb/Task;")), invokeDirect(init))}, {method: other, code: code()}}},
		{typ: d.typ("Lb/Task;"), super: -1, ifaces: []int{runnable}, direct: []tDef{{method: init, code: code()}}, virtual: []tDef{{method: run, code: code()}}},
		{typ: d.typ("Lb/Idle;"), super: -1, ifaces: []int{runnable}, virtual: []tDef{{method: idle, code: code()}}},
	}
	g := build(t, Limits{}, d.bytes())
	r := g.Solve([]Root{{Label: "component:b.Main", Class: "Lb/Main;", Skip: []string{"other"}}})
	if p := r.Path(Component, node(t, g, "Lb/Task;->run()V")); len(p) != 2 || p[1].Edge != EdgeBridge {
		t.Errorf("bridge path %+v", p)
	}
	for desc, want := range map[string]bool{"Lb/Idle;->run()V": false, "Lb/Main;->other()V": false, "Lb/Task;-><init>()V": true} {
		if got := r.Labels(node(t, g, desc)) != nil; got != want {
			t.Errorf("%s reached %v, want %v", desc, got, want)
		}
	}
}

// FuzzCallGraph: any bytes that index as dex build and solve a graph without panicking, and the
// results stay within the graph.
func FuzzCallGraph(f *testing.F) {
	var d tDex
	a := d.method("Lf/A;", "a", "V")
	b := d.method("Lf/B;", "b", "V")
	d.classes = []tClass{
		{typ: d.typ("Lf/A;"), super: -1, ifaces: []int{d.typ("Ljava/lang/Runnable;")}, direct: []tDef{{method: a, code: code(invokeStatic(b), newInstance(0), invokeVirtual(a))}}},
		{typ: d.typ("Lf/B;"), super: d.typ("Lf/A;"), virtual: []tDef{{method: b, code: code(invokeStatic(a))}}},
	}
	f.Add(d.bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		df, _ := dex.Parse(context.Background(), "fuzz.dex", in, dex.Limits{MaxRefs: 1 << 16})
		if df == nil {
			return
		}
		g := New(Limits{MaxWork: 1 << 20})
		x := g.AddDex(df)
		var roots []Root
		for i, c := range df.Classes {
			if i >= 4 {
				break
			}
			roots = append(roots, Root{Label: fmt.Sprintf("component:%d", i), Class: df.TypeName(c.Type)})
		}
		r := g.Solve(roots)
		var order []Node
		for i := 0; i < df.MethodCount() && i < 256; i++ {
			n := x.Node(uint32(i))
			order = append(order, n)
			for _, l := range r.Labels(n) {
				if !strings.HasPrefix(l, "component:") {
					t.Fatalf("label %q", l)
				}
			}
			for grp := AppStart; grp < nGroups; grp++ {
				if p := r.Path(grp, n); p != nil && p[len(p)-1].Descriptor != g.Descriptor(n) {
					t.Fatalf("path to %s ends at %s", g.Descriptor(n), p[len(p)-1].Descriptor)
				}
			}
		}
		// The paths do not depend on the order they are asked in (the searches run lazily).
		g2 := New(Limits{MaxWork: 1 << 20})
		g2.AddDex(df)
		r2 := g2.Solve(roots)
		slices.Reverse(order)
		for _, n := range order {
			for grp := AppStart; grp < nGroups; grp++ {
				if p2 := r2.Path(grp, n); !slices.Equal(p2, r.Path(grp, n)) {
					t.Fatalf("%s: path %v asked last, %v asked first", g.Descriptor(n), methods(r.Path(grp, n)), methods(p2))
				}
			}
		}
	})
}

// TestRapidTypes: a virtual call reaches the override of a class the group instantiates and
// not that of a class only a later group instantiates; a later group sees the earlier one's
// objects. When the analysis runs out of budget, dispatch falls back to the class hierarchy
// and the graph says it is cut.
func TestRapidTypes(t *testing.T) {
	var d tDex
	start := d.method("Lr/Main;", "start", "V")
	click := d.method("Lr/Main;", "click", "V")
	baseM := d.method("Lr/Base;", "m", "V")
	aM := d.method("Lr/A;", "m", "V")
	bM := d.method("Lr/B;", "m", "V")
	base := d.typ("Lr/Base;")
	// Many reached edges to few targets: more work for the analysis than for resolution.
	var helpers, calls [][]uint16
	var defs []tDef
	for i := 0; i < 5; i++ {
		h := d.method("Lr/Main;", fmt.Sprintf("h%d", i), "V")
		defs = append(defs, tDef{method: h, code: code()})
		helpers = append(helpers, invokeStatic(h))
	}
	for i := 0; i < 30; i++ {
		m := d.method("Lr/Main;", fmt.Sprintf("m%02d", i), "V")
		defs = append(defs, tDef{method: m, code: code(helpers...)})
		calls = append(calls, invokeStatic(m))
	}
	d.classes = []tClass{
		{typ: d.typ("Lr/Main;"), super: -1, direct: append([]tDef{ // in method_ids order
			{method: start, code: code(append(calls, newInstance(d.typ("Lr/A;")), invokeVirtual(baseM))...)},
			{method: click, code: code(newInstance(d.typ("Lr/B;")), invokeVirtual(baseM))}}, defs...)},
		{typ: base, super: -1},
		{typ: d.typ("Lr/A;"), super: base, virtual: []tDef{{method: aM, code: code()}}},
		{typ: d.typ("Lr/B;"), super: base, virtual: []tDef{{method: bM, code: code()}}},
	}
	roots := []Root{{Label: "app_start", Class: "Lr/Main;", Methods: []string{"start"}},
		{Label: "launcher", Class: "Lr/Main;", Methods: []string{"click"}}}
	g := build(t, Limits{}, d.bytes())
	r := g.Solve(roots)
	if !r.Complete {
		t.Fatalf("incomplete: %v", r.Problems)
	}
	for desc, want := range map[string][]string{"Lr/A;->m()V": {"app_start", "launcher"}, "Lr/B;->m()V": {"launcher"}} {
		if got := r.Labels(node(t, g, desc)); !slices.Equal(got, want) {
			t.Errorf("%s: labels %v, want %v", desc, got, want)
		}
	}
	if p := r.Path(AppStart, node(t, g, "Lr/B;->m()V")); p != nil {
		t.Errorf("app_start path to B.m: %+v", p)
	}
	// The smallest budget that stops the analysis (and not resolution) reaches B.m from
	// start as class hierarchy analysis does.
	cut := false
	for w := 1; w < 1000 && !cut; w++ {
		g := build(t, Limits{MaxWork: w}, d.bytes())
		r := g.Solve(roots)
		problems := strings.Join(r.Problems, "\n")
		if !strings.Contains(problems, "rapid type analysis stopped") || strings.Contains(problems, "resolution stopped") {
			continue
		}
		cut = true
		if r.Complete || !slices.Equal(r.Labels(node(t, g, "Lr/B;->m()V")), []string{"app_start", "launcher"}) {
			t.Errorf("budget %d: complete %v, B.m %v", w, r.Complete, r.Labels(node(t, g, "Lr/B;->m()V")))
		}
	}
	if !cut {
		t.Error("no budget stops the analysis alone")
	}
}

// TestRefsAcrossChunks: dex.Parse keeps references in chunks and moves a class that fills one
// to the next; every class's references still come out whole and in order (six classes of
// 5,400 calls fill several chunks of this file, and one of 10,800 more than a chunk by
// itself), and the graph resolves each call from its caller.
func TestRefsAcrossChunks(t *testing.T) {
	const callers, per = 6, 900
	var d tDex
	entry := d.method("Lk/Main;", "entry", "V")
	ms := make([]int, callers)
	for i := range ms {
		ms[i] = d.method(fmt.Sprintf("Lk/C%d;", i), "m", "V")
	}
	targets := make([]int, callers*per)
	var defs []tDef
	for i := range targets {
		targets[i] = d.method("Lk/T;", fmt.Sprintf("t%04d", i), "V")
		defs = append(defs, tDef{method: targets[i], code: code()})
	}
	var calls [][]uint16
	for _, m := range ms {
		calls = append(calls, invokeStatic(m))
	}
	d.classes = []tClass{{typ: d.typ("Lk/Main;"), super: -1, direct: []tDef{{method: entry, code: code(calls...)}}}}
	reps := func(i int) int { return 6 + 6*max(0, 1-i) } // 12 for the first class
	total := 0
	for i, m := range ms {
		var body [][]uint16
		for range reps(i) {
			for _, tg := range targets[i*per : (i+1)*per] {
				body = append(body, invokeStatic(tg))
			}
		}
		total += len(body)
		d.classes = append(d.classes, tClass{typ: d.typ(fmt.Sprintf("Lk/C%d;", i)), super: -1, direct: []tDef{{method: m, code: code(body...)}}})
	}
	d.classes = append(d.classes, tClass{typ: d.typ("Lk/T;"), super: -1, direct: defs})
	b := d.bytes()
	if chunk := max(len(b)/64, 1024); total <= len(b)/32+2*chunk || reps(0)*per <= chunk {
		t.Fatalf("%d references fit in the first three chunks (%d bytes of dex), or the first class in one: the test proves nothing", total, len(b))
	}
	f, err := dex.Parse(context.Background(), "classes.dex", b, dex.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range f.Classes[1 : 1+callers] {
		if len(c.Refs) != reps(i)*per {
			t.Fatalf("class %d: %d references, want %d", i, len(c.Refs), reps(i)*per)
		}
		for j, r := range c.Refs {
			if want := targets[i*per+j%per]; r.Kind != dex.Invoke || r.Caller != uint32(ms[i]) || r.Target != uint32(want) {
				t.Fatalf("class %d reference %d: %+v, want a call of method %d from %d", i, j, r, want, ms[i])
			}
		}
	}
	g := New(Limits{})
	g.AddDex(f)
	r := g.Solve([]Root{{Label: "app_start", Class: "Lk/Main;", Methods: []string{"entry"}}})
	for _, k := range []int{0, per - 1, per, 3*per + 17, callers*per - 1} {
		p := r.Path(AppStart, node(t, g, fmt.Sprintf("Lk/T;->t%04d()V", k)))
		if want := []string{"k.Main.entry", fmt.Sprintf("k.C%d.m", k/per), fmt.Sprintf("k.T.t%04d", k)}; !slices.Equal(methods(p), want) {
			t.Errorf("target %d: path %v, want %v", k, methods(p), want)
		}
	}
}

// allPaths asks r for the path of every method of g to every group, in the order given, and
// checks that a path exists exactly when a label of the group reaches the method.
func allPaths(t testing.TB, g *Graph, r *Result, order []Node) map[[2]int][]Step {
	t.Helper()
	out := map[[2]int][]Step{}
	for _, n := range order {
		for grp := AppStart; grp < nGroups; grp++ {
			p := r.Path(grp, n)
			labelled := slices.ContainsFunc(r.Labels(n), func(l string) bool { return GroupOf(l) == grp })
			if (p != nil) != labelled {
				t.Fatalf("%s, group %d: path %v, labels %v", g.Descriptor(n), grp, methods(p), r.Labels(n))
			}
			out[[2]int{int(n), int(grp)}] = p
		}
	}
	return out
}

// TestPathQueryOrder: the path searches run only as far as the paths asked for; a path is the
// same whatever was asked before it. Ties go to the root listed first, then to the callee a
// method calls first: T is reached from R1 (listed before R2) through X1 (called before X2).
func TestPathQueryOrder(t *testing.T) {
	var d tDex
	r1 := d.method("Lq/R1;", "start", "V")
	r2 := d.method("Lq/R2;", "start", "V")
	x1 := d.method("Lq/X;", "one", "V")
	x2 := d.method("Lq/X;", "two", "V")
	tt := d.method("Lq/T;", "t", "V")
	u := d.method("Lq/T;", "u", "V")
	lo := d.method("Lq/L;", "click", "V")
	d.classes = []tClass{
		{typ: d.typ("Lq/R1;"), super: -1, direct: []tDef{{method: r1, code: code(invokeStatic(x1), invokeStatic(x2))}}},
		{typ: d.typ("Lq/R2;"), super: -1, direct: []tDef{{method: r2, code: code(invokeStatic(x2), invokeStatic(x1))}}},
		{typ: d.typ("Lq/X;"), super: -1, direct: []tDef{{method: x1, code: code(invokeStatic(tt))}, {method: x2, code: code(invokeStatic(tt), invokeStatic(u))}}},
		{typ: d.typ("Lq/T;"), super: -1, direct: []tDef{{method: tt, code: code(invokeStatic(x1))}, {method: u, code: code()}}},
		{typ: d.typ("Lq/L;"), super: -1, direct: []tDef{{method: lo, code: code(invokeStatic(u))}}},
	}
	roots := []Root{{Label: "app_start", Class: "Lq/R1;", Methods: []string{"start"}},
		{Label: "app_start", Class: "Lq/R2;", Methods: []string{"start"}},
		{Label: "launcher", Class: "Lq/L;", Methods: []string{"click"}}}
	solve := func() (*Graph, *Result) {
		g := build(t, Limits{}, d.bytes())
		return g, g.Solve(roots)
	}
	g1, res1 := solve()
	// In this order: X.one asked first, R1's search has found X.one, and must go on to find X.two
	// from R1 too.
	for _, c := range []struct {
		group  Group
		method string
		want   []string // nil: no path
	}{
		{AppStart, "Lq/X;->one()V", []string{"q.R1.start", "q.X.one"}},
		{AppStart, "Lq/X;->two()V", []string{"q.R1.start", "q.X.two"}},
		{AppStart, "Lq/T;->t()V", []string{"q.R1.start", "q.X.one", "q.T.t"}},
		{Launcher, "Lq/T;->u()V", []string{"q.L.click", "q.T.u"}},
		{Launcher, "Lq/T;->t()V", nil},
	} {
		p := res1.Path(c.group, node(t, g1, c.method))
		if c.want == nil && p != nil || c.want != nil && !slices.Equal(methods(p), c.want) {
			t.Errorf("%s from group %d: path %v, want %v", c.method, c.group, methods(p), c.want)
		}
	}
	var order []Node
	for n := range g1.mkeys {
		order = append(order, Node(n))
	}
	forward := allPaths(t, g1, res1, order)
	g2, res2 := solve()
	slices.Reverse(order)
	backward := allPaths(t, g2, res2, order)
	for k, p := range forward {
		if !slices.Equal(p, backward[k]) {
			t.Errorf("%s, group %d: path %v asked first, %v asked last", g1.Descriptor(Node(k[0])), k[1], methods(backward[k]), methods(p))
		}
	}
}

// TestMaxEdges: a method's edges are kept whole or not at all; past the limit the graph says it
// was cut, and the methods only the dropped edges reach are unreached.
func TestMaxEdges(t *testing.T) {
	var d tDex
	root := d.method("Le/R;", "start", "V")
	a := d.method("Le/A;", "a", "V")
	b := d.method("Le/A;", "b", "V")
	c := d.method("Le/C;", "c", "V")
	e := d.method("Le/C;", "e", "V")
	d.classes = []tClass{
		{typ: d.typ("Le/R;"), super: -1, direct: []tDef{{method: root, code: code(invokeStatic(a), invokeStatic(b))}}},
		{typ: d.typ("Le/A;"), super: -1, direct: []tDef{{method: a, code: code(invokeStatic(c), invokeVirtual(e))}, {method: b, code: code()}}},
		{typ: d.typ("Le/C;"), super: -1, direct: []tDef{{method: c, code: code()}}, virtual: []tDef{{method: e, code: code()}}},
	}
	roots := []Root{{Label: "app_start", Class: "Le/R;", Methods: []string{"start"}}}
	for _, tc := range []struct {
		max, edges int
		complete   bool
		reached    string // the labels of C.c
	}{
		// R: A.a, A.b; A.a: C.c, the dispatch node of C.e; that node: C.e.
		{max: 5, edges: 5, complete: true, reached: "app_start"},
		{max: 4, edges: 4, complete: false, reached: "app_start"}, // the dispatch node's edge dropped
		{max: 3, edges: 2, complete: false, reached: ""},          // A.a's two edges dropped whole
	} {
		g := build(t, Limits{MaxEdges: tc.max}, d.bytes())
		r := g.Solve(roots)
		cut := slices.Contains(r.Problems, fmt.Sprintf("call graph cut: more than %d edges", tc.max))
		if r.Edges != tc.edges || r.Complete != tc.complete || cut == tc.complete {
			t.Errorf("MaxEdges %d: %d edges, complete %v, problems %q", tc.max, r.Edges, r.Complete, r.Problems)
		}
		if got := strings.Join(r.Labels(node(t, g, "Le/C;->c()V")), ","); got != tc.reached {
			t.Errorf("MaxEdges %d: C.c labels %q, want %q", tc.max, got, tc.reached)
		}
	}
}
