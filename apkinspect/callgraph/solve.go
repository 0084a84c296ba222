package callgraph

import (
	"encoding/binary"
	"slices"
	"sort"

	"pilmon/apkinspect/dex"
)

// Root is an entry point: methods of a class Android calls by itself.
type Root struct {
	// Label names the root in results: "app_start", "launcher", "component:<class>".
	Label string
	// Class is the class's descriptor ("Lcom/example/App;").
	Class string
	// Methods are the names Android calls, looked up the superclass chain (every prototype of
	// each name). Empty means every method the class and its app superclasses define: a
	// component's lifecycle and callback methods cannot be told from its other methods without
	// the framework's class list, so all count.
	Methods []string
	// Skip are names left out when Methods is empty (those another root already starts from).
	Skip []string
}

// Group is the kind of root a label belongs to; a path is kept per group.
type Group int

const (
	AppStart  Group = iota // Application, AppComponentFactory and ContentProvider roots
	Launcher               // the launcher activity
	Component              // any other component
	nGroups
)

// GroupOf is the group of a label.
func GroupOf(label string) Group {
	switch label {
	case "app_start":
		return AppStart
	case "launcher":
		return Launcher
	}
	return Component
}

// Edge kinds in paths.
const (
	EdgeRoot    = "root"    // the entry point itself
	EdgeCall    = "call"    // invoke-direct/static/super, resolved
	EdgeVirtual = "virtual" // invoke-virtual/interface of Via, dispatched to an override
	EdgeInit    = "clinit"  // class initialisation
	EdgeBridge  = "bridge"  // the caller instantiates the callee's class, a Runnable/Handler/… callback
	EdgeReflect = "reflect" // reflection by constant name
)

// Step is one method of a path and how the previous step reaches it.
type Step struct {
	Method string // "com.example.Cls.method"
	// Descriptor is the method's full descriptor.
	Descriptor string
	Edge       string
	// Via is, for a virtual edge, the descriptor of the method the caller invokes.
	Via string
}

// Result is a solved graph.
type Result struct {
	g *Graph
	// Complete is false when something the graph cannot see may call any method (Problems say
	// what): an unreached method is then of unknown reachability, not unreached.
	Complete bool
	Problems []string
	// DynamicLoaders are reached methods that load code at run time; the graph is then
	// incomplete (loaded code may call any method) without a problem being reported.
	DynamicLoaders []string
	// Edges is the number of resolved edges.
	Edges int

	labels  []string
	masks   [][]uint64 // per chunk of 64 labels, per node
	parent  [nGroups][]int32
	pedge   [nGroups][]uint8
	via     []Node // dispatch node -> the invoked method
	nodes   int
	loaders []Node // methods that load code at run time
}

const (
	eCall uint8 = iota + 1
	eVirtual
	eInit
	eBridge
	eReflect
	eDispatch // caller -> dispatch node
)

var edgeNames = [...]string{eCall: EdgeCall, eVirtual: EdgeVirtual, eInit: EdgeInit, eBridge: EdgeBridge, eReflect: EdgeReflect}

// bridges are the framework types whose callbacks run after the object is handed over, and
// the names of those callbacks.
var bridges = map[string][]string{
	"Ljava/lang/Runnable;":                  {"run"},
	"Ljava/lang/Thread;":                    {"run"},
	"Ljava/util/TimerTask;":                 {"run"},
	"Ljava/util/concurrent/Callable;":       {"call"},
	"Landroid/os/Handler;":                  {"handleMessage", "dispatchMessage"},
	"Landroid/os/Handler$Callback;":         {"handleMessage"},
	"Landroid/os/AsyncTask;":                {"onPreExecute", "doInBackground", "onProgressUpdate", "onPostExecute"},
	"Ljava/util/concurrent/FutureTask;":     {"run", "done"},
	"Landroid/os/MessageQueue$IdleHandler;": {"queueIdle"},
}

type solver struct {
	g       *Graph
	work    int
	off     []int32
	dst     []int32
	kind    []uint8
	methods [][]Node // class id -> defined methods
	clinit  map[uint32]Node
	disp    map[Node]Node // invoked method -> dispatch node
	via     []Node
	sub     [][]uint32 // class id -> direct subclasses and implementors
	bridge  map[uint32][]Node
	broke   bool
	protoV  uint32 // "()V"
	// subtypes' visit marks (one stamp per walk) and stack, reused.
	visited []uint32
	stamp   uint32
	stack   []uint32
}

func (s *solver) spend(n int) bool {
	s.work += n
	if s.work > s.g.lim.MaxWork {
		if !s.broke {
			s.broke = true
			s.g.cut("resolution stopped after %d steps", s.g.lim.MaxWork)
		}
		return false
	}
	return true
}

// chain calls f for c and its superclasses defined in the APK, nearest first, until f returns
// false; it stops at MaxDepth (and on a cycle, which a hostile file can write).
func (s *solver) chain(c uint32, f func(uint32) bool) {
	g := s.g
	for d := 0; ; d++ {
		if d >= g.lim.MaxDepth {
			g.cut("class hierarchy deeper than %d above %s", g.lim.MaxDepth, dex.JavaName(g.classDesc[c]))
			return
		}
		if !s.spend(1) || !f(c) {
			return
		}
		ci := g.class[c]
		if !ci.defined || ci.super < 0 {
			return
		}
		c = uint32(ci.super)
	}
}

// resolve finds the method name+proto of class c or its nearest superclass that defines it.
func (s *solver) resolve(k mkey) Node {
	found := None
	s.chain(k.cls, func(c uint32) bool {
		if n, ok := s.g.lookup(mkey{c, k.name, k.proto}); ok && s.g.defined[n] {
			found = n
			return false
		}
		return true
	})
	return found
}

// byName lists the methods named name of c and its superclasses (nearest definition of each
// prototype first).
func (s *solver) byName(c, name uint32) []Node {
	var out []Node
	var protos []uint32
	s.chain(c, func(c uint32) bool {
		if int(c) < len(s.methods) {
			for _, n := range s.methods[c] {
				k := s.g.mkeys[n]
				if k.name == name && !slices.Contains(protos, k.proto) {
					protos = append(protos, k.proto)
					out = append(out, n)
				}
			}
		}
		return len(out) < 64
	})
	return out
}

// clinitOf is the nearest class initialiser at or above c.
func (s *solver) clinitOf(c uint32) Node {
	if n, ok := s.clinit[c]; ok {
		return n
	}
	found := None
	s.chain(c, func(c uint32) bool {
		if n, ok := s.g.lookup(mkey{c, s.g.idClinit, s.protoV}); ok && s.g.defined[n] {
			found = n
			return false
		}
		return true
	})
	s.clinit[c] = found
	return found
}

// subtypes calls f for every class and interface below c (not c), each once.
func (s *solver) subtypes(c uint32, f func(uint32)) {
	if int(c) >= len(s.sub) || len(s.sub[c]) == 0 {
		return
	}
	s.stamp++
	s.visited[c] = s.stamp
	stack := append(s.stack[:0], c)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, y := range s.sub[x] {
			if s.visited[y] != s.stamp && s.spend(1) {
				s.visited[y] = s.stamp
				f(y)
				stack = append(stack, y)
			}
		}
	}
	s.stack = stack
}

// dispatch is the node standing for a virtual call of m: its edges go to every method that
// can run.
func (s *solver) dispatch(m Node) Node {
	if d, ok := s.disp[m]; ok {
		return d
	}
	d := Node(len(s.g.mkeys) + len(s.via))
	s.disp[m] = d
	s.via = append(s.via, m)
	return d
}

// dispatchTargets lists what a virtual call of k can run.
func (s *solver) dispatchTargets(k mkey) []Node {
	g := s.g
	var out []Node
	addN := func(n Node) {
		if n != None && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	addN(s.resolve(k))
	s.subtypes(k.cls, func(c uint32) {
		ci := g.class[c]
		if n, ok := g.lookup(mkey{c, k.name, k.proto}); ok && g.defined[n] {
			addN(n)
		}
		// A class implementing an interface may inherit the method from a superclass outside
		// the interface's subtypes.
		if ci.defined && ci.super >= 0 && !s.isBelow(uint32(ci.super), k.cls) {
			addN(s.resolve(mkey{c, k.name, k.proto}))
		}
	})
	return out
}

// isBelow reports whether c is a subclass of (or is) top along the superclass chain.
func (s *solver) isBelow(c, top uint32) bool {
	found := false
	s.chain(c, func(x uint32) bool {
		if x == top {
			found = true
			return false
		}
		return true
	})
	return found
}

// bridged lists the callbacks of c that a framework hand-off type runs.
func (s *solver) bridged(c uint32) []Node {
	if b, ok := s.bridge[c]; ok {
		return b
	}
	g := s.g
	var out []Node
	seen := map[uint32]bool{}
	var visit func(x uint32, depth int)
	visit = func(x uint32, depth int) {
		if seen[x] || depth > 64 || !s.spend(1) {
			return
		}
		seen[x] = true
		if names, ok := bridges[g.classDesc[x]]; ok {
			for _, nm := range names {
				if id, ok := g.nameID[nm]; ok {
					for _, n := range s.byName(c, id) {
						if !slices.Contains(out, n) {
							out = append(out, n)
						}
					}
				}
			}
		}
		ci := g.class[x]
		if ci.super >= 0 {
			visit(uint32(ci.super), depth+1)
		}
		for _, i := range ci.ifaces {
			visit(i, depth+1)
		}
	}
	visit(c, 0)
	s.bridge[c] = out
	return out
}

// Solve resolves the edges and searches from roots. The graph must not change afterwards.
func (g *Graph) Solve(roots []Root) *Result {
	s := &solver{g: g, clinit: map[uint32]Node{}, disp: map[Node]Node{}, bridge: map[uint32][]Node{}}
	s.methods = make([][]Node, len(g.class))
	for n, k := range g.mkeys {
		if g.defined[n] {
			s.methods[k.cls] = append(s.methods[k.cls], Node(n))
		}
	}
	s.sub = make([][]uint32, len(g.class))
	s.visited = make([]uint32, len(g.class))
	s.protoV = g.internProto("()V")
	if v, ok := g.classID["V"]; ok {
		if id, ok := g.protoKey[string(binary.LittleEndian.AppendUint32(nil, v))]; ok {
			s.protoV = id
		}
	}
	for c, ci := range g.class {
		if !ci.defined {
			continue
		}
		if ci.super >= 0 {
			s.sub[ci.super] = append(s.sub[ci.super], uint32(c))
		}
		for _, i := range ci.ifaces {
			if i != uint32(c) {
				s.sub[i] = append(s.sub[i], uint32(c))
			}
		}
	}
	s.edges()
	// The sites are resolved: only the dynamic loaders among them are still needed.
	var loaders []Node
	for n := range g.mkeys {
		for _, st := range g.sites[g.siteStart[n]:g.siteEnd[n]] {
			if st.kind() == sDynLoad {
				loaders = append(loaders, Node(n))
				break
			}
		}
	}
	g.sites, g.nodeStamp, g.nodeBits, g.classStamp, g.classBits = nil, nil, nil, nil, nil
	r := &Result{g: g, Edges: len(s.dst), via: s.via, loaders: loaders}
	r.nodes = len(s.off) - 1
	r.search(s, roots)
	r.Complete = g.complete
	r.Problems = append([]string{}, g.Problems...)
	return r
}

// edges builds the adjacency of every method, then of every dispatch node created on the way.
func (s *solver) edges() {
	g := s.g
	s.off = make([]int32, 0, len(g.mkeys)+1)
	// Most sites are one edge each: room for them up front saves growing the largest slices.
	nEdges := min(len(g.sites), g.lim.MaxEdges)
	s.dst, s.kind = make([]int32, 0, nEdges), make([]uint8, 0, nEdges)
	var tmp []Node
	var tkind []uint8
	// mark[n] is the source+1 of the last edge emitted to n: an edge is emitted once per source
	// (the first kind found for it stays).
	mark := make([]int32, len(g.mkeys))
	src := int32(0)
	emit := func(n Node, k uint8) {
		if n == None {
			return
		}
		if int(n) >= len(mark) {
			// A dispatch node, created after mark was sized.
			mark = append(mark, make([]int32, int(n)+1-len(mark))...)
		}
		if mark[n] == src+1 {
			return
		}
		mark[n] = src + 1
		tmp = append(tmp, n)
		tkind = append(tkind, k)
	}
	flush := func() bool {
		if len(s.dst)+len(tmp) > g.lim.MaxEdges {
			g.cut("more than %d edges", g.lim.MaxEdges)
			tmp, tkind = tmp[:0], tkind[:0]
			return false
		}
		for i, t := range tmp {
			s.dst = append(s.dst, int32(t))
			s.kind = append(s.kind, tkind[i])
		}
		tmp, tkind = tmp[:0], tkind[:0]
		return true
	}
	ok := true
	resolved := make([]Node, len(g.mkeys)) // target -> resolution + 2 (0: not resolved yet)
	for n := range g.mkeys {
		s.off = append(s.off, int32(len(s.dst)))
		if !ok || !g.defined[n] {
			continue
		}
		src = int32(n)
		k := g.mkeys[n]
		if k.name == g.idClinit {
			// Initialising a class initialises its superclass first.
			if sup := g.class[k.cls].super; sup >= 0 {
				emit(s.clinitOf(uint32(sup)), eInit)
			}
		}
		var reflClasses, reflNames []uint32
		reflNew := false
		for _, st := range g.sites[g.siteStart[n]:g.siteEnd[n]] {
			if s.broke {
				break
			}
			switch st.kind() {
			case sCall:
				if resolved[st.target()] == 0 {
					resolved[st.target()] = s.resolve(g.mkeys[st.target()]) + 2
				}
				emit(resolved[st.target()]-2, eCall)
			case sVirtual:
				emit(s.dispatch(Node(st.target())), eDispatch)
			case sTouch:
				emit(s.clinitOf(st.target()), eInit)
			case sNew:
				emit(s.clinitOf(st.target()), eInit)
				for _, b := range s.bridged(st.target()) {
					emit(b, eBridge)
				}
			case sReflClass:
				if len(reflClasses) < 64 {
					reflClasses = append(reflClasses, st.target())
				}
			case sReflName:
				if len(reflNames) < 64 {
					reflNames = append(reflNames, st.target())
				}
			case sReflNew:
				reflNew = true
			}
		}
		for _, c := range reflClasses {
			for _, nm := range reflNames {
				for _, m := range s.byName(c, nm) {
					emit(m, eReflect)
				}
			}
			if reflNew {
				for _, m := range s.methods[c] {
					if g.mkeys[m].name == g.idInit {
						emit(m, eReflect)
					}
				}
			}
		}
		ok = flush()
	}
	// Dispatch nodes; expanding one never creates another.
	for i := 0; i < len(s.via); i++ {
		s.off = append(s.off, int32(len(s.dst)))
		if !ok || s.broke {
			continue
		}
		src = int32(len(g.mkeys) + i)
		for _, t := range s.dispatchTargets(g.mkeys[s.via[i]]) {
			emit(t, eVirtual)
		}
		ok = flush()
	}
	s.off = append(s.off, int32(len(s.dst)))
}

// search marks, per node, the labels whose roots reach it (one bit per label) and keeps one
// shortest path per group.
func (r *Result) search(s *solver, roots []Root) {
	g := r.g
	n := r.nodes
	type rootNode struct {
		node  Node
		label int
	}
	var starts []rootNode
	labelIdx := map[string]int{}
	for _, rt := range roots {
		li, ok := labelIdx[rt.Label]
		if !ok {
			if len(r.labels) >= g.lim.MaxLabels {
				g.cut("more than %d entry-point labels; %s not searched", g.lim.MaxLabels, rt.Label)
				continue
			}
			li = len(r.labels)
			labelIdx[rt.Label] = li
			r.labels = append(r.labels, rt.Label)
		}
		cid, ok := g.classID[rt.Class]
		if !ok || !g.class[cid].defined {
			continue
		}
		var nodes []Node
		if len(rt.Methods) == 0 {
			seen := map[uint64]bool{}
			s.chain(cid, func(c uint32) bool {
				for _, m := range s.methods[c] {
					k := g.mkeys[m]
					pk := uint64(k.name)<<32 | uint64(k.proto)
					if c != cid && (k.name == g.idInit || k.name == g.idClinit) {
						continue // a superclass's constructors run through the class's own
					}
					if slices.Contains(rt.Skip, g.names[k.name]) {
						continue
					}
					if !seen[pk] {
						seen[pk] = true
						nodes = append(nodes, m)
					}
				}
				return true
			})
		} else {
			for _, name := range rt.Methods {
				if id, ok := g.nameID[name]; ok {
					nodes = append(nodes, s.byName(cid, id)...)
				}
			}
		}
		// The class is initialised before any of its methods runs.
		if !slices.Contains(rt.Skip, "<clinit>") {
			nodes = append(nodes, s.clinitOf(cid))
		}
		for _, nd := range nodes {
			if nd != None {
				starts = append(starts, rootNode{nd, li})
			}
		}
	}
	// Label sets: propagate bit masks, 64 labels at a time, to a fixpoint.
	for base := 0; base < len(r.labels); base += 64 {
		mask := make([]uint64, n)
		inQ := make([]bool, n)
		var q []int32
		for _, st := range starts {
			if st.label >= base && st.label < base+64 {
				mask[st.node] |= 1 << (st.label - base)
				if !inQ[st.node] {
					inQ[st.node] = true
					q = append(q, int32(st.node))
				}
			}
		}
		for len(q) > 0 {
			v := q[0]
			q = q[1:]
			inQ[v] = false
			for e := s.off[v]; e < s.off[v+1]; e++ {
				w := s.dst[e]
				if mask[w]|mask[v] != mask[w] {
					mask[w] |= mask[v]
					if !inQ[w] {
						inQ[w] = true
						q = append(q, w)
					}
				}
			}
		}
		r.masks = append(r.masks, mask)
	}
	// Shortest paths: breadth-first per group from all its roots, roots and edges in a fixed
	// order, so the first parent found is the same on every run.
	for grp := Group(0); grp < nGroups; grp++ {
		parent := make([]int32, n)
		for i := range parent {
			parent[i] = -2 // unvisited
		}
		pedge := make([]uint8, n)
		var q []int32
		for _, st := range starts {
			if GroupOf(r.labels[st.label]) == grp && parent[st.node] == -2 {
				parent[st.node] = -1
				q = append(q, int32(st.node))
			}
		}
		if len(q) == 0 {
			continue
		}
		for len(q) > 0 {
			v := q[0]
			q = q[1:]
			for e := s.off[v]; e < s.off[v+1]; e++ {
				w := s.dst[e]
				if parent[w] == -2 {
					parent[w], pedge[w] = v, s.kind[e]
					q = append(q, w)
				}
			}
		}
		r.parent[grp], r.pedge[grp] = parent, pedge
	}
	// Dynamic code loading reached from an entry point hides callers.
	for _, m := range r.loaders {
		if r.reached(m) && !slices.Contains(r.DynamicLoaders, g.MethodName(m)) {
			r.DynamicLoaders = append(r.DynamicLoaders, g.MethodName(m))
		}
	}
	if len(r.DynamicLoaders) > 0 {
		// Not a problem of the graph: a fact of the app, which makes the graph incomplete.
		sort.Strings(r.DynamicLoaders)
		g.complete = false
	}
}

func (r *Result) reached(m Node) bool {
	for _, mask := range r.masks {
		if mask[m] != 0 {
			return true
		}
	}
	return false
}

// Labels are the labels of the roots that reach m, sorted (nil when none does).
func (r *Result) Labels(m Node) []string {
	if m < 0 || int(m) >= r.nodes {
		return nil
	}
	var out []string
	for c, mask := range r.masks {
		for b := 0; b < 64; b++ {
			if mask[m]&(1<<b) != 0 {
				out = append(out, r.labels[64*c+b])
			}
		}
	}
	sort.Strings(out)
	return out
}

// Path is a shortest chain from a root of group grp to m, root first (nil when none reaches m).
func (r *Result) Path(grp Group, m Node) []Step {
	if m < 0 || int(m) >= r.nodes || grp < 0 || grp >= nGroups || r.parent[grp] == nil || r.parent[grp][m] == -2 {
		return nil
	}
	g := r.g
	parent, pedge := r.parent[grp], r.pedge[grp]
	var rev []Step
	for v, hops := int32(m), 0; v >= 0 && hops <= r.nodes; hops++ {
		if int(v) >= len(g.mkeys) {
			// A dispatch node: the edge into the method after it was a virtual call of via.
			if len(rev) == 0 {
				return nil
			}
			rev[len(rev)-1].Via = g.Descriptor(r.via[int(v)-len(g.mkeys)])
			v = parent[v]
			continue
		}
		st := Step{Method: g.MethodName(Node(v)), Descriptor: g.Descriptor(Node(v)), Edge: EdgeRoot}
		if p := parent[v]; p >= 0 && int(pedge[v]) < len(edgeNames) {
			st.Edge = edgeNames[pedge[v]]
		}
		rev = append(rev, st)
		v = parent[v]
	}
	slices.Reverse(rev)
	return rev
}
