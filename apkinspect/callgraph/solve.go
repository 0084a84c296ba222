package callgraph

import (
	"cmp"
	"encoding/binary"
	"math/bits"
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
	EdgeBridge  = "bridge"  // the caller instantiates the callee's class, a Runnable/Handler/listener callback
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

	labels []string
	masks  [][]uint64 // per chunk of 64 labels, per node
	// One breadth-first search per group, run only as far as the paths asked for need (see
	// advance): parent and pedge are its tree, queue its queue (each node once), head the next
	// node to expand.
	bfs      bfsGraph
	bfsRoots [nGroups][]int32 // the group's root nodes, in the order of the roots
	parent   [nGroups][]int32
	pedge    [nGroups][]uint8
	queue    [nGroups][]int32
	head     [nGroups]int
	via      []Node // dispatch node -> the invoked method
	nodes    int
	loaders  []Node // methods that load code at run time
}

// nodeMask takes the node out of an edge of solver.dst.
const nodeMask = 1<<28 - 1

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
// the names of those callbacks: asynchronous hand-offs (a thread, a handler, an executor) and
// listeners the framework calls on an event (a click, a broadcast, a page load, a location).
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

	"Landroid/view/View$OnClickListener;":                          {"onClick"},
	"Landroid/view/View$OnLongClickListener;":                      {"onLongClick"},
	"Landroid/view/View$OnTouchListener;":                          {"onTouch"},
	"Landroid/view/View$OnFocusChangeListener;":                    {"onFocusChange"},
	"Landroid/view/View$OnKeyListener;":                            {"onKey"},
	"Landroid/view/View$OnAttachStateChangeListener;":              {"onViewAttachedToWindow", "onViewDetachedFromWindow"},
	"Landroid/view/View$OnLayoutChangeListener;":                   {"onLayoutChange"},
	"Landroid/view/View$OnScrollChangeListener;":                   {"onScrollChange"},
	"Landroid/view/View$OnCreateContextMenuListener;":              {"onCreateContextMenu"},
	"Landroid/view/View$OnDragListener;":                           {"onDrag"},
	"Landroid/view/View$OnGenericMotionListener;":                  {"onGenericMotion"},
	"Landroid/view/View$OnHoverListener;":                          {"onHover"},
	"Landroid/view/View$OnContextClickListener;":                   {"onContextClick"},
	"Landroid/view/View$OnApplyWindowInsetsListener;":              {"onApplyWindowInsets"},
	"Landroid/view/View$OnSystemUiVisibilityChangeListener;":       {"onSystemUiVisibilityChange"},
	"Landroid/view/View$OnCapturedPointerListener;":                {"onCapturedPointer"},
	"Landroid/content/DialogInterface$OnClickListener;":            {"onClick"},
	"Landroid/content/DialogInterface$OnMultiChoiceClickListener;": {"onClick"},
	"Landroid/content/DialogInterface$OnCancelListener;":           {"onCancel"},
	"Landroid/content/DialogInterface$OnDismissListener;":          {"onDismiss"},
	"Landroid/content/DialogInterface$OnShowListener;":             {"onShow"},
	"Landroid/content/DialogInterface$OnKeyListener;":              {"onKey"},
	"Landroid/widget/AdapterView$OnItemClickListener;":             {"onItemClick"},
	"Landroid/widget/AdapterView$OnItemLongClickListener;":         {"onItemLongClick"},
	"Landroid/widget/AdapterView$OnItemSelectedListener;":          {"onItemSelected", "onNothingSelected"},
	"Landroid/widget/CompoundButton$OnCheckedChangeListener;":      {"onCheckedChanged"},
	"Landroid/widget/TextView$OnEditorActionListener;":             {"onEditorAction"},
	"Landroid/widget/SeekBar$OnSeekBarChangeListener;":             {"onProgressChanged", "onStartTrackingTouch", "onStopTrackingTouch"},
	"Landroid/text/TextWatcher;":                                   {"beforeTextChanged", "onTextChanged", "afterTextChanged"},
	"Landroid/location/LocationListener;":                          {"onLocationChanged", "onStatusChanged", "onProviderEnabled", "onProviderDisabled", "onFlushComplete"},
	"Landroid/hardware/SensorEventListener;":                       {"onSensorChanged", "onAccuracyChanged"},
	// A receiver the manifest declares is a component root; one registered with
	// registerReceiver is only instantiated by the code that registers it.
	"Landroid/content/BroadcastReceiver;": {"onReceive"},
	"Landroid/content/ServiceConnection;": {"onServiceConnected", "onServiceDisconnected", "onBindingDied", "onNullBinding"},
	"Landroid/database/ContentObserver;":  {"onChange"},
	"Landroid/webkit/WebViewClient;": {"shouldOverrideUrlLoading", "onPageStarted", "onPageFinished", "onPageCommitVisible",
		"onLoadResource", "shouldInterceptRequest", "onReceivedError", "onReceivedHttpError", "onReceivedSslError",
		"onReceivedHttpAuthRequest", "onReceivedClientCertRequest", "onReceivedLoginRequest", "onFormResubmission",
		"doUpdateVisitedHistory", "onRenderProcessGone", "onSafeBrowsingHit", "onScaleChanged", "onTooManyRedirects",
		"shouldOverrideKeyEvent", "onUnhandledKeyEvent"},
	"Landroid/webkit/WebChromeClient;": {"onProgressChanged", "onReceivedTitle", "onReceivedIcon", "onReceivedTouchIconUrl",
		"onJsAlert", "onJsConfirm", "onJsPrompt", "onJsBeforeUnload", "onJsTimeout", "onConsoleMessage",
		"onGeolocationPermissionsShowPrompt", "onGeolocationPermissionsHidePrompt", "onPermissionRequest",
		"onPermissionRequestCanceled", "onShowFileChooser", "onCreateWindow", "onCloseWindow", "onRequestFocus",
		"onShowCustomView", "onHideCustomView", "getDefaultVideoPoster", "getVideoLoadingProgressView",
		"getVisitedHistory", "onExceededDatabaseQuota"},
	"Landroid/app/Application$ActivityLifecycleCallbacks;": {"onActivityPreCreated", "onActivityCreated", "onActivityPostCreated",
		"onActivityPreStarted", "onActivityStarted", "onActivityPostStarted", "onActivityPreResumed", "onActivityResumed",
		"onActivityPostResumed", "onActivityPrePaused", "onActivityPaused", "onActivityPostPaused", "onActivityPreStopped",
		"onActivityStopped", "onActivityPostStopped", "onActivityPreSaveInstanceState", "onActivitySaveInstanceState",
		"onActivityPostSaveInstanceState", "onActivityPreDestroyed", "onActivityDestroyed", "onActivityPostDestroyed"},
}

type solver struct {
	g    *Graph
	work int
	off  []int32
	// dst is each edge's target node in the low bits and its kind (eCall…) in the top 4
	// (nodes stay below 1<<28, see internMethod): one array for both halves the memory the
	// search walks.
	dst []uint32
	// The methods each class defines: mNode[mOff[c]:mOff[c+1]] in node order (the order
	// results list them in), and the same sorted by name and prototype (mKey, mSorted) to find
	// one in a few probes: the graph's method table is gone by then (see Solve).
	mOff     []int32
	mNode    []Node
	mKey     []uint64
	mSorted  []Node
	clinit   []Node // class id -> nearest initialiser + 2 (0: not looked up yet)
	disp     []Node // invoked method -> dispatch node + 1 (0: none yet)
	via      []Node
	sub      [][]uint32 // class id -> direct subclasses and implementors
	bridge   [][]Node   // class id -> bridged callbacks, once bridgeOK
	bridgeOK []bool
	// bridgeNames are, per class of the table bridges the APK names, the ids of its callbacks'
	// names the APK has (a name it lacks no method has).
	bridgeNames map[uint32][]uint32
	broke       bool
	// Rapid type analysis. dispStart is the first edge of a dispatch node; cond[e-dispStart] is
	// the class that must have an instance (of it or a subtype) for edge e to be taken, -1 none.
	dispStart int32
	cond      []int32
	// newOff/newCls list, per method, the classes it instantiates (new-instance, or a class it
	// names by constant, which reflection or a deserialiser may instantiate).
	newOff []int32
	newCls []uint32
	// created marks the classes with an instance somewhere in the app's code or from the
	// framework (a root's class), or a subtype with one (see instantiable).
	created []bool
	protoV  uint32 // "()V"
	// subtypes' visit marks (one stamp per walk) and stack, reused.
	visited []uint32
	stamp   uint32
	stack   []uint32
	up      []uint32 // instantiable's stack, reused
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
		if n := s.find(c, k.name, k.proto); n != None {
			found = n
			return false
		}
		return true
	})
	return found
}

// methodsOf lists the methods class c defines, in node order.
func (s *solver) methodsOf(c uint32) []Node {
	if int(c)+1 >= len(s.mOff) {
		return nil
	}
	return s.mNode[s.mOff[c]:s.mOff[c+1]]
}

// find is the method name+proto that class c itself defines, None when it defines none.
func (s *solver) find(c, name, proto uint32) Node {
	if int(c)+1 >= len(s.mOff) {
		return None
	}
	lo, hi := int(s.mOff[c]), int(s.mOff[c+1])
	key := uint64(name)<<32 | uint64(proto)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if s.mKey[m] < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < int(s.mOff[c+1]) && s.mKey[lo] == key {
		return s.mSorted[lo]
	}
	return None
}

// indexMethods fills mOff, mNode, mKey and mSorted from the graph's defined methods.
func (s *solver) indexMethods() {
	g := s.g
	s.mOff = make([]int32, len(g.class)+1)
	for n, k := range g.mkeys {
		if g.defined[n] {
			s.mOff[k.cls+1]++
		}
	}
	for c := 1; c < len(s.mOff); c++ {
		s.mOff[c] += s.mOff[c-1]
	}
	total := s.mOff[len(s.mOff)-1]
	s.mNode, s.mKey, s.mSorted = make([]Node, total), make([]uint64, total), make([]Node, total)
	next := append([]int32(nil), s.mOff[:len(s.mOff)-1]...)
	for n, k := range g.mkeys {
		if g.defined[n] {
			s.mNode[next[k.cls]] = Node(n)
			next[k.cls]++
		}
	}
	copy(s.mSorted, s.mNode)
	for c := 0; c+1 < len(s.mOff); c++ {
		lo, hi := s.mOff[c], s.mOff[c+1]
		if hi-lo > 1 {
			slices.SortFunc(s.mSorted[lo:hi], func(a, b Node) int {
				ka, kb := g.mkeys[a], g.mkeys[b]
				return cmp.Compare(uint64(ka.name)<<32|uint64(ka.proto), uint64(kb.name)<<32|uint64(kb.proto))
			})
		}
		for i := lo; i < hi; i++ {
			k := g.mkeys[s.mSorted[i]]
			s.mKey[i] = uint64(k.name)<<32 | uint64(k.proto)
		}
	}
}

// byName lists the methods named name of c and its superclasses (nearest definition of each
// prototype first).
func (s *solver) byName(c, name uint32) []Node {
	var out []Node
	var protos []uint32
	s.chain(c, func(c uint32) bool {
		for _, n := range s.methodsOf(c) {
			k := s.g.mkeys[n]
			if k.name == name && !slices.Contains(protos, k.proto) {
				protos = append(protos, k.proto)
				out = append(out, n)
			}
		}
		return len(out) < 64
	})
	return out
}

// clinitOf is the nearest class initialiser at or above c.
func (s *solver) clinitOf(c uint32) Node {
	if int(c) < len(s.clinit) && s.clinit[c] != 0 {
		return s.clinit[c] - 2
	}
	found := None
	s.chain(c, func(c uint32) bool {
		if n := s.find(c, s.g.idClinit, s.protoV); n != None {
			found = n
			return false
		}
		return true
	})
	if int(c) < len(s.clinit) {
		s.clinit[c] = found + 2
	}
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
	if s.disp[m] != 0 {
		return s.disp[m] - 1
	}
	d := Node(len(s.g.mkeys) + len(s.via))
	s.disp[m] = d + 1
	s.via = append(s.via, m)
	return d
}

// target is a method a virtual call can run, when class cond (or a subtype of it) has an
// instance.
type target struct {
	n    Node
	cond uint32
}

// dispatchTargets lists what a virtual call of k can run: the method each subtype of k's class
// defines, taken when an instance of that subtype (or one below it) exists. A subtype that
// overrides it again still lets the overridden method count (an over-approximation).
func (s *solver) dispatchTargets(k mkey) []target {
	g := s.g
	var out []target
	if n := s.resolve(k); n != None {
		out = append(out, target{n, k.cls})
	}
	s.subtypes(k.cls, func(c uint32) {
		ci := g.class[c]
		if n := s.find(c, k.name, k.proto); n != None {
			out = append(out, target{n, c})
		}
		// A class implementing an interface may inherit the method from a superclass outside
		// the interface's subtypes.
		if ci.defined && ci.super >= 0 && !s.isBelow(uint32(ci.super), k.cls) {
			if n := s.resolve(mkey{c, k.name, k.proto}); n != None {
				out = append(out, target{n, c})
			}
		}
	})
	return out
}

// instantiable marks c and every class and interface above it as having an instance, calling
// f for each newly marked; live is the mark per class.
func (s *solver) instantiable(c uint32, live func(uint32) bool, f func(uint32)) {
	g := s.g
	if int(c) >= len(g.class) || live(c) {
		return
	}
	f(c)
	stack := append(s.up[:0], c)
	for len(stack) > 0 {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		ci := g.class[x]
		if y := ci.super; y >= 0 && !live(uint32(y)) {
			f(uint32(y))
			stack = append(stack, uint32(y))
		}
		for _, y := range ci.ifaces {
			if !live(y) {
				f(y)
				stack = append(stack, y)
			}
		}
	}
	s.up = stack
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
	if s.bridgeOK[c] {
		return s.bridge[c]
	}
	var out []Node
	// The walk's marks are subtypes' (neither runs inside the other): a map per class built,
	// tens of thousands on a large APK, costs more than the walk.
	s.stamp++
	var visit func(x uint32, depth int)
	visit = func(x uint32, depth int) {
		if s.visited[x] == s.stamp || depth > 64 || !s.spend(1) {
			return
		}
		s.visited[x] = s.stamp
		for _, id := range s.bridgeNames[x] {
			for _, n := range s.byName(c, id) {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
		ci := s.g.class[x]
		if ci.super >= 0 {
			visit(uint32(ci.super), depth+1)
		}
		for _, i := range ci.ifaces {
			visit(i, depth+1)
		}
	}
	visit(c, 0)
	s.bridge[c], s.bridgeOK[c] = out, true
	return out
}

// Solve resolves the edges and searches from roots. The graph must not change afterwards.
func (g *Graph) Solve(roots []Root) *Result {
	g.solved = true
	s := &solver{g: g, clinit: make([]Node, len(g.class)), disp: make([]Node, len(g.mkeys)),
		bridge: make([][]Node, len(g.class)), bridgeOK: make([]bool, len(g.class))}
	s.indexMethods()
	// Interning is over: the method table and the per-target marks of AddDex go before the
	// edges take their room (on an APK of 600,000 methods the table alone is about 16 MiB).
	g.method, g.nodeStamp, g.nodeBits, g.classStamp, g.classBits = methodTable{}, nil, nil, nil, nil
	s.sub = make([][]uint32, len(g.class))
	s.visited = make([]uint32, len(g.class))
	s.bridgeNames = map[uint32][]uint32{}
	for desc, names := range bridges {
		if c, ok := g.classID[desc]; ok {
			for _, nm := range names {
				if id, ok := g.nameID[nm]; ok {
					s.bridgeNames[c] = append(s.bridgeNames[c], id)
				}
			}
		}
	}
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
	var rootClasses []uint32
	for _, rt := range roots {
		if id, ok := g.classID[rt.Class]; ok {
			rootClasses = append(rootClasses, id)
		}
	}
	// Of the sites, the search needs only the dynamic loaders: edges drops the rest once
	// resolved.
	var loaders []Node
	for n := range g.mkeys {
		for _, st := range g.sitesOf(Node(n)) {
			if st.kind() == sDynLoad {
				loaders = append(loaders, Node(n))
				break
			}
		}
	}
	s.edges(rootClasses)
	r := &Result{g: g, Edges: len(s.dst), via: s.via, loaders: loaders}
	r.nodes = len(s.off) - 1
	r.search(s, roots)
	r.Complete = g.complete
	r.Problems = append([]string{}, g.Problems...)
	return r
}

// edges builds the adjacency of every method, then of every dispatch node created on the way.
func (s *solver) edges(rootClasses []uint32) {
	g := s.g
	s.off = make([]int32, 0, len(g.mkeys)+1)
	s.newOff = make([]int32, 0, len(g.mkeys)+1)
	// Most sites are one edge each: room for them up front saves growing the largest slices.
	nEdges := min(g.siteBase, g.lim.MaxEdges)
	s.dst = make([]uint32, 0, nEdges)
	// The edges of one source go straight into dst (and, for a dispatch node, their
	// conditions into cond); flush takes them back out when they would pass MaxEdges.
	start, condStart, over := 0, 0, false
	push := func(n Node, k uint8) bool {
		if len(s.dst) >= g.lim.MaxEdges {
			over = true
			return false
		}
		s.dst = append(s.dst, uint32(k)<<28|uint32(n))
		return true
	}
	// mark[n] is the source+1 of the last edge emitted to n: an edge is emitted once per source
	// (the first kind found for it stays).
	mark := make([]int32, len(g.mkeys))
	src := int32(0)
	emit := func(n Node, k uint8) bool {
		if n == None {
			return false
		}
		if int(n) >= len(mark) {
			// A dispatch node, created after mark was sized.
			mark = append(mark, make([]int32, int(n)+1-len(mark))...)
		}
		if mark[n] == src+1 {
			return false
		}
		mark[n] = src + 1
		return push(n, k)
	}
	flush := func() bool {
		if over {
			g.cut("more than %d edges", g.lim.MaxEdges)
			s.dst, s.cond = s.dst[:start], s.cond[:condStart]
			return false
		}
		start, condStart = len(s.dst), len(s.cond)
		return true
	}
	ok := true
	resolved := make([]Node, len(g.mkeys)) // target -> resolution + 2 (0: not resolved yet)
	for n := range g.mkeys {
		s.off = append(s.off, int32(len(s.dst)))
		s.newOff = append(s.newOff, int32(len(s.newCls)))
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
		for _, st := range g.sitesOf(Node(n)) {
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
				s.newCls = append(s.newCls, st.target())
				emit(s.clinitOf(st.target()), eInit)
				for _, b := range s.bridged(st.target()) {
					emit(b, eBridge)
				}
			case sReflClass:
				s.newCls = append(s.newCls, st.target())
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
				for _, m := range s.methodsOf(c) {
					if g.mkeys[m].name == g.idInit {
						emit(m, eReflect)
					}
				}
			}
		}
		ok = flush()
	}
	s.newOff = append(s.newOff, int32(len(s.newCls)))
	// Every site is resolved: the dispatch nodes below need none.
	g.chunks, g.chunkStart, g.siteStart, g.siteEnd = nil, nil, nil, nil
	// A class with no instance anywhere in the app's code, nor below it, is created where the
	// graph cannot see (a view inflated from a layout, a fragment or a deserialised object
	// named in data, native code): calls on it dispatch by class hierarchy alone.
	s.created = make([]bool, len(g.class))
	live := func(c uint32) bool { return s.created[c] }
	create := func(c uint32) { s.created[c] = true }
	for _, c := range append(rootClasses, s.newCls...) {
		s.instantiable(c, live, create)
	}
	// Dispatch nodes; expanding one never creates another.
	s.dispStart = int32(len(s.dst))
	for i := 0; i < len(s.via); i++ {
		s.off = append(s.off, int32(len(s.dst)))
		if !ok || s.broke {
			continue
		}
		src = int32(len(g.mkeys) + i)
		k := g.mkeys[s.via[i]]
		for _, t := range s.dispatchTargets(k) {
			if !s.created[k.cls] {
				if emit(t.n, eVirtual) {
					s.cond = append(s.cond, -1)
				}
				continue
			}
			if push(t.n, eVirtual) {
				s.cond = append(s.cond, int32(t.cond))
			}
		}
		ok = flush()
	}
	s.off = append(s.off, int32(len(s.dst)))
}

// search marks, per node, the labels whose roots reach it (one bit per label) and readies the
// shortest-path search of each group (run by Path).
func (r *Result) search(s *solver, roots []Root) {
	g := r.g
	n := r.nodes
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
				for _, m := range s.methodsOf(c) {
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
				starts = append(starts, rootNode{nd, li, cid})
			}
		}
	}
	// Resolution is done: what only it needed goes before the searches allocate their tables
	// (on an APK of a million methods these are tens of MiB). Results render names from mkeys,
	// classDesc, names and protos, which stay.
	g.classID, g.nameID, g.protoID, g.protoKey = nil, nil, nil, nil
	s.mOff, s.mNode, s.mKey, s.mSorted, s.sub, s.visited, s.disp, s.bridge, s.bridgeOK, s.bridgeNames, s.clinit = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
	level := r.rta(s, starts)
	// Label sets: propagate bit masks, 64 labels at a time, to a fixpoint.
	var cur, next []uint64 // nodes to visit in this round and in the next, one bit each
	for base := 0; base < len(r.labels); base += 64 {
		// allowed[l] are the labels of this chunk that may take an edge whose class has an
		// instance from group l on.
		var allowed [nGroups + 1]uint64
		for i := base; i < len(r.labels) && i < base+64; i++ {
			for l := Group(0); l <= GroupOf(r.labels[i]); l++ {
				allowed[l] |= 1 << (i - base)
			}
		}
		mask := make([]uint64, n)
		if cur == nil {
			cur, next = make([]uint64, (n+63)/64), make([]uint64, (n+63)/64)
		}
		for _, st := range starts {
			if st.label >= base && st.label < base+64 {
				mask[st.node] |= 1 << (st.label - base)
				cur[st.node>>6] |= 1 << (st.node & 63)
			}
		}
		// Rounds: the nodes whose mask grew are visited in the next round, or later in this one
		// when still ahead. The fixpoint does not depend on the order; visiting in node order
		// walks the tables mostly forward, which a queue's order does not.
		for more := true; more; {
			more = false
			for wi := range cur {
				word := cur[wi]
				if word == 0 {
					continue
				}
				cur[wi] = 0
				for word != 0 {
					v := int32(wi<<6 + bits.TrailingZeros64(word))
					word &= word - 1
					mv := mask[v]
					for e := s.off[v]; e < s.off[v+1]; e++ {
						w := int32(s.dst[e] & nodeMask)
						m := mv
						if e >= s.dispStart && int(e-s.dispStart) < len(s.cond) {
							if c := s.cond[e-s.dispStart]; c >= 0 {
								m &= allowed[level[c]]
							}
						}
						if mask[w]|m == mask[w] {
							continue
						}
						mask[w] |= m
						// Pending in this round: a later bit of this word or a later word.
						bit := uint64(1) << (w & 63)
						if w > v && (int(w>>6) == wi && word&bit != 0 || int(w>>6) > wi && cur[w>>6]&bit != 0) {
							continue
						}
						next[w>>6] |= bit
						more = true
					}
				}
			}
			cur, next = next, cur
		}
		r.masks = append(r.masks, mask)
	}
	// Shortest paths are searched when a result asks for one (Path): most reported calls are
	// reached from app start, and the other groups' searches are then never run.
	r.bfs = bfsGraph{off: s.off, dst: s.dst, cond: s.cond, dispStart: s.dispStart, level: level}
	for _, st := range starts {
		grp := GroupOf(r.labels[st.label])
		r.bfsRoots[grp] = append(r.bfsRoots[grp], int32(st.node))
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

type rootNode struct {
	node  Node
	label int
	class uint32
}

// rta runs rapid type analysis per group, in the order the groups run (app start, then the
// launcher, then any component): the code a group reaches and the classes it instantiates grow
// together to a fixed point, a virtual call taking an edge only when the edge's class has an
// instance. A group inherits the instances of the groups before it (an object built at start
// lives on). The result is, per class, the first group with an instance (nGroups: none). When
// the work budget runs out, every class counts as instantiated from the start (class hierarchy
// analysis, as without this step) and the graph is cut.
func (r *Result) rta(s *solver, starts []rootNode) []uint8 {
	g := r.g
	level := make([]uint8, len(g.class))
	for i := range level {
		level[i] = uint8(nGroups)
	}
	if s.dispStart >= int32(len(s.dst)) {
		return level // no conditional edge
	}
	reached := make([]bool, r.nodes)
	work, budget := 0, g.lim.MaxWork
	q := make([]int32, 0, r.nodes) // each node is pushed once per group
	for grp := Group(0); grp < nGroups && work <= budget; grp++ {
		clear(reached)
		waiting := map[uint32][]int32{} // class -> edges waiting for an instance of it
		visit := func(v int32) {
			if !reached[v] {
				reached[v] = true
				q = append(q, v)
			}
		}
		live := func(c uint32) bool { return Group(level[c]) <= grp }
		mark := func(c uint32) {
			work++
			level[c] = uint8(grp)
			for _, e := range waiting[c] {
				visit(int32(s.dst[e] & nodeMask))
			}
			delete(waiting, c)
		}
		for _, st := range starts {
			if GroupOf(r.labels[st.label]) == grp {
				s.instantiable(st.class, live, mark)
				visit(int32(st.node))
			}
		}
		for len(q) > 0 && work <= budget {
			v := q[len(q)-1]
			q = q[:len(q)-1]
			if int(v) < len(g.mkeys) {
				for _, c := range s.newCls[s.newOff[v]:s.newOff[v+1]] {
					s.instantiable(c, live, mark)
				}
			}
			for e := s.off[v]; e < s.off[v+1]; e++ {
				work++
				if e >= s.dispStart && int(e-s.dispStart) < len(s.cond) {
					if c := s.cond[e-s.dispStart]; c >= 0 && !live(uint32(c)) {
						waiting[uint32(c)] = append(waiting[uint32(c)], e)
						continue
					}
				}
				visit(int32(s.dst[e] & nodeMask))
			}
		}
		q = q[:0]
	}
	if work > budget {
		g.cut("rapid type analysis stopped after %d steps; virtual calls dispatch by class hierarchy", budget)
		clear(level)
	}
	return level
}

// bfsGraph is what the path searches read of the solver: the edges, their conditions and the
// group from which each condition's class has an instance.
type bfsGraph struct {
	off       []int32
	dst       []uint32
	cond      []int32
	dispStart int32
	level     []uint8
}

// reachedIn reports whether a root of group grp reaches m: the label sets hold the answer, so
// no search runs for a method no root of the group reaches.
func (r *Result) reachedIn(grp Group, m Node) bool {
	for c, mask := range r.masks {
		for w := mask[m]; w != 0; w &= w - 1 {
			if GroupOf(r.labels[64*c+bits.TrailingZeros64(w)]) == grp {
				return true
			}
		}
	}
	return false
}

// advance runs group grp's breadth-first search from all its roots until it finds m (or ends),
// and reports whether it found it. Roots and edges are taken in a fixed order, so the first
// parent found is the same on every run and however far earlier calls ran the search: a node's
// parent, and so its whole path, is fixed once the node is found.
func (r *Result) advance(grp Group, m Node) bool {
	b := &r.bfs
	parent := r.parent[grp]
	if parent == nil {
		parent = make([]int32, r.nodes)
		for i := range parent {
			parent[i] = -2 // unvisited
		}
		r.pedge[grp] = make([]uint8, r.nodes)
		q := make([]int32, 0, r.nodes) // each node once
		for _, v := range r.bfsRoots[grp] {
			if parent[v] == -2 {
				parent[v] = -1
				q = append(q, v)
			}
		}
		r.parent[grp], r.queue[grp] = parent, q
	}
	pedge, q := r.pedge[grp], r.queue[grp]
	i := r.head[grp]
	for ; parent[m] == -2 && i < len(q); i++ {
		v := q[i]
		for e := b.off[v]; e < b.off[v+1]; e++ {
			w := int32(b.dst[e] & nodeMask)
			if parent[w] != -2 {
				continue
			}
			if e >= b.dispStart && int(e-b.dispStart) < len(b.cond) {
				if c := b.cond[e-b.dispStart]; c >= 0 && Group(b.level[c]) > grp {
					continue
				}
			}
			parent[w], pedge[w] = v, uint8(b.dst[e]>>28)
			q = append(q, w)
		}
	}
	r.head[grp], r.queue[grp] = i, q
	if i == len(q) {
		// Every node the group reaches is found: the search's tables are all a path needs.
		r.queue[grp] = nil
	}
	return parent[m] != -2
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
// A Result is not safe for concurrent use: Path runs the group's search as far as m.
func (r *Result) Path(grp Group, m Node) []Step {
	if m < 0 || int(m) >= r.nodes || grp < 0 || grp >= nGroups || !r.reachedIn(grp, m) || !r.advance(grp, m) {
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
