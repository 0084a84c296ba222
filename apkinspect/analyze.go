package apkinspect

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"pilmon/apkinspect/callgraph"
	"pilmon/apkinspect/dex"
	"pilmon/apkinspect/manifest"
	"pilmon/apkinspect/safezip"
	"pilmon/apkinspect/sigblock"
	"pilmon/rules"
)

// App is everything read from one APK, before it becomes observations.
type App struct {
	Manifest *manifest.Manifest
	Certs    []sigblock.Cert
	// DexFiles are the dex entries indexed, Classes the class definitions over all of them.
	DexFiles []string
	Classes  int
	// APIs are sensitive-API references, one per API id and calling class.
	APIs []APIRef
	// SDKClasses counts classes per SDK id (class-prefix signatures, after the ownership rule),
	// SDKExamples keeps up to maxSDKExamples readable class names of each, sorted.
	SDKClasses  map[string]int
	SDKExamples map[string][]string
	// LibraryClasses counts classes per library id; AppClasses and UnidentifiedClasses count the
	// app's own classes and those of no one catalogued.
	LibraryClasses      map[string]int
	AppClasses          int
	UnidentifiedClasses int
	// NativeLibs and Assets are entry names under lib/ and assets/.
	NativeLibs []string
	Assets     []string
	// FileSignals are native libraries and assets that name an SDK (rules/data/sdk_signals.yaml), at most
	// maxSignalFiles per SDK and kind.
	FileSignals []FileSignal
	// Endpoints are hosts found in string constants, with the first URL seen.
	Endpoints []Endpoint
	// PolicyRefs are privacy-policy URLs and asset paths.
	PolicyRefs []string
	Packers    []Packer
	// Errors name the part that failed and why; the rest of App is still valid.
	Errors []string
	// Layers records which parts succeeded: "zip", "manifest", "signatures", "dex".
	Layers map[string]bool
	// own decides whose code each class is, from the manifest and the catalogue.
	own *ownership
	// Graph summarises the call graph: its size, whether it is complete and why not.
	Graph GraphStats
	// IntentURISites counts the reads of a provider-URI field not reported as the provider's
	// API because the value only becomes an Intent's data (intentData).
	IntentURISites int
}

// APIRef is one sensitive API referenced from one class.
type APIRef struct {
	API          rules.SensitiveAPI
	Descriptor   string
	CallerClass  string // Java dotted
	CallerMethod string
	// Argument is, for an API whose catalogue entry has strings, the constant that reaches the
	// call's key parameter (a string, or a static field's descriptor), ArgumentUnresolved when it
	// is not a constant of the calling method, and "" when the API takes no such argument.
	Argument string
	// ReachedFrom is the union over the class's calling methods of the entry points that reach
	// them (reach.go): "app_start", "launcher", "component:<class>", and "not_reached" or
	// "unknown" for a calling method none reaches. Sorted.
	ReachedFrom []string
	// Path is the shortest chain from an entry point to a calling method, of the strongest
	// entry point reached (app_start, then launcher, then a component); Steps the same with how
	// each step is reached.
	Path  []string
	Steps []callgraph.Step
	// Sites are the calling methods (at most maxSites) and the entry points of each.
	Sites []CallSite
	// sites are the calling methods (graph nodes), at most maxSites.
	sites []callgraph.Node
}

// ArgumentUnresolved is APIRef.Argument when the argument is not a constant of the method.
const ArgumentUnresolved = "unresolved"

// Endpoint is a host named by a string constant.
type Endpoint struct {
	Host      string
	URL       string
	Cleartext bool
}

// FileSignal is an APK entry that names an SDK.
type FileSignal struct {
	SDK   string
	Via   string // native_lib | asset_file
	Entry string
}

// Packer is a known packer or protector and what revealed it.
type Packer struct {
	Name   string
	Marker string
	// Shell is true for packers that hide the real dex (the dex index then sees only the stub).
	Shell bool
}

// packerSignature recognises a packer by native library / file base name prefixes and class prefixes.
type packerSignature struct {
	name    string
	files   []string // base-name prefixes of any entry (lib/…, assets/…)
	classes []string // Java class or package prefixes
	shell   bool
}

var packers = []packerSignature{
	{name: "360加固 (Qihoo 360 Jiagu)", files: []string{"libjiagu", "libprotectClass"}, classes: []string{"com.stub.StubApp", "com.qihoo.util.StubApp", "com.qihoo.util.QHClassLoader"}, shell: true},
	{name: "腾讯乐固 (Tencent Legu)", files: []string{"libshell-super.", "libshella-", "libshellx-", "libBugly-yaq", "liblegudb"}, classes: []string{"com.tencent.StubShell"}, shell: true},
	{name: "梆梆加固 (Bangcle/SecNeo)", files: []string{"libsecexe", "libsecmain", "libSecShell", "libDexHelper"}, classes: []string{"com.secneo.apkwrapper", "com.secshell.secData", "com.bangcle"}, shell: true},
	{name: "爱加密 (iJiami)", files: []string{"libexec.so", "libexecmain.so", "ijiami.dat", "ijiami.ajm", "libijm"}, classes: []string{"com.shell.SuperApplication", "com.shell.NativeApplication", "s.h.e.l.l"}, shell: true},
	{name: "百度加固 (Baidu)", files: []string{"libbaiduprotect"}, classes: []string{"com.baidu.protect"}, shell: true},
	{name: "阿里聚安全 (Alibaba)", files: []string{"libmobisec", "libdemolish", "libpreverify1.so"}, classes: []string{"com.ali.mobisecenhance"}, shell: true},
	{name: "网易易盾 (NetEase Yidun)", files: []string{"libnesec"}, classes: []string{"com.netease.nis.wrapper"}, shell: true},
	{name: "娜迦 (Nagapt)", files: []string{"libddog", "libfdog", "libchaosvmp"}, classes: []string{"com.edog.AppWrapper", "com.chaosvmp"}, shell: true},
	{name: "几维安全 (Kiwisec)", files: []string{"libkwscmm", "libkwscr", "libkwslinker"}, classes: []string{"com.kiwisec"}, shell: true},
	{name: "顶象 (Dingxiang)", files: []string{"libx3g"}, classes: []string{"com.dingxiang.mobile"}, shell: true},
	{name: "APKProtect", files: []string{"libAPKProtect"}, shell: true},
	{name: "DexGuard", files: []string{"libdexguard"}, classes: []string{"com.guardsquare.dexguard", "dexguard.util"}},
}

// Limits of the inspector beyond those of its parsers.
const (
	maxDexFiles    = 64
	maxSignalFiles = 4
	maxEndpoints   = 2000
	maxPolicyRefs  = 200
	maxURLLen      = 2048
)

var (
	reURL       = regexp.MustCompile(`(?i)\bhttps?://[a-z0-9\-._~%]+(?::\d+)?(?:[/?#][^\s"'<>\\]*)?`)
	rePolicyURL = regexp.MustCompile(`(?i)privacy|agreement|policy|protocol|terms|隐私|协议|政策|yinsi|xieyi`)
)

// notHostFirstLabels are package roots that look like hosts when written as strings ("java.net").
var notHostFirstLabels = map[string]bool{"java": true, "javax": true, "android": true, "androidx": true, "sun": true, "dalvik": true, "kotlin": true, "com": true, "org": true, "cn": true, "net": true}

type analyzer struct {
	cat        *rules.Catalogue
	apiClasses map[string]bool
	opts       Options
	app        *App
	apis       map[string]int // api id + "@" + caller -> index in app.APIs
	eps        map[string]int
	pols       map[string]bool
	pack       map[string]bool
	graph      *callgraph.Graph
	// dexIncomplete names why the dex index misses code (a failed or truncated file).
	dexIncomplete []string
}

// dexBufs hands the buffer one inspection read its dex files into to the next: a fresh buffer
// of several MiB is cleared by the allocator before it is filled, which costs a tenth of what
// inflating the dex files does. The pool drops it when the collector runs twice without a
// scan taking it.
var dexBufs sync.Pool // of *[]byte

// analyze reads the APK in r (size bytes); name is used in errors.
// apiClasses is apiClassSet(cat).
func analyze(ctx context.Context, cat *rules.Catalogue, apiClasses map[string]bool, opts Options, r io.ReaderAt, size int64, name string) *App {
	a := &analyzer{cat: cat, apiClasses: apiClasses, opts: opts,
		app:  &App{SDKClasses: map[string]int{}, SDKExamples: map[string][]string{}, LibraryClasses: map[string]int{}, Layers: map[string]bool{}},
		apis: map[string]int{}, eps: map[string]int{}, pols: map[string]bool{}, pack: map[string]bool{},
		graph: callgraph.New(opts.Graph)}
	app := a.app
	fail := func(format string, args ...any) {
		app.Errors = append(app.Errors, fmt.Sprintf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	zr, err := safezip.Open(r, size, name, opts.Zip)
	if err != nil {
		app.Errors = append(app.Errors, err.Error())
		return app
	}
	app.Layers["zip"] = true
	for _, p := range zr.Problems {
		fail("archive: %s", p)
	}

	// Manifest and resources.
	axml, err := zr.ReadFile("AndroidManifest.xml", manifest.MaxManifestSize)
	if err != nil {
		app.Errors = append(app.Errors, err.Error())
	} else {
		var arsc []byte
		if _, ok := zr.Lookup("resources.arsc"); ok {
			arsc, err = zr.ReadFile("resources.arsc", manifest.MaxTableSize)
			if err != nil {
				app.Errors = append(app.Errors, err.Error())
				arsc = nil
			}
		}
		m, err := manifest.Parse(axml, arsc)
		if err != nil {
			fail("%v", err)
		} else {
			app.Manifest = m
			app.Layers["manifest"] = true
			for _, p := range m.Problems {
				fail("manifest: %s", p)
			}
			if ref := m.NetworkSecurityConfig; ref != "" {
				a.networkSecurityConfig(zr, m, ref, name)
			}
		}
	}

	app.own = newOwnership(cat, app.Manifest)

	// Signing certificates.
	var v1 []sigblock.Cert
	sigErr := false
	for _, e := range zr.Entries() {
		if !sigblock.IsV1SignatureFile(e.Name) {
			continue
		}
		der, err := zr.Read(e, 4<<20)
		if err != nil {
			app.Errors = append(app.Errors, err.Error())
			sigErr = true
			continue
		}
		ders, err := sigblock.PKCS7Certificates(der)
		if err != nil {
			fail("%s: %v", e.Name, err)
			sigErr = true
		}
		for _, d := range ders {
			v1 = append(v1, sigblock.NewCert(d, "v1"))
		}
	}
	var v23 []sigblock.Cert
	if pairs, err := sigblock.FindBlock(r, size); err == nil {
		v23, err = sigblock.BlockCertificates(pairs)
		if err != nil {
			fail("%v", err)
			sigErr = true
		}
	} else if err != sigblock.ErrNoBlock {
		fail("%v", err)
		sigErr = true
	}
	app.Certs = sigblock.Merge(v1, v23)
	app.Layers["signatures"] = !sigErr

	// Entries: native libraries, assets, packer files.
	sigs, err := loadSDKSignals()
	if err != nil {
		fail("%v", err)
	}
	signalFiles := map[string]int{}
	var dexNames []string
	for _, e := range zr.Entries() {
		for _, s := range matchSignals(sigs, e.Name) {
			if k := s.SDK + " " + s.via(); signalFiles[k] < maxSignalFiles {
				signalFiles[k]++
				app.FileSignals = append(app.FileSignals, FileSignal{SDK: s.SDK, Via: s.via(), Entry: e.Name})
			}
		}
		base := path.Base(e.Name)
		switch {
		case strings.HasPrefix(e.Name, "lib/") && strings.HasSuffix(e.Name, ".so"):
			app.NativeLibs = append(app.NativeLibs, e.Name)
		case strings.HasPrefix(e.Name, "assets/"):
			app.Assets = append(app.Assets, e.Name)
			if rePolicyURL.MatchString(base) && (strings.HasSuffix(base, ".html") || strings.HasSuffix(base, ".htm") || strings.HasSuffix(base, ".txt")) {
				a.policy(e.Name)
			}
		case dex.IsDexName(e.Name):
			dexNames = append(dexNames, e.Name)
		}
		for _, p := range packers {
			for _, f := range p.files {
				if strings.HasPrefix(base, f) {
					a.packer(p, e.Name)
				}
			}
		}
	}
	if m := app.Manifest; m != nil {
		for _, c := range m.Components {
			a.packerClass(c.Name, "AndroidManifest.xml: "+c.Type+" ")
		}
	}

	// Dex index.
	sort.Slice(dexNames, func(i, j int) bool { return dexOrder(dexNames[i]) < dexOrder(dexNames[j]) })
	if len(dexNames) > maxDexFiles {
		fail("%d dex files, only the first %d indexed", len(dexNames), maxDexFiles)
		dexNames = dexNames[:maxDexFiles]
	}
	dexOK := len(dexNames) > 0
	if !dexOK {
		fail("no classes.dex")
	}
	// One buffer serves every dex file in turn: nothing keeps a file's bytes once it is indexed
	// (names, descriptors and constants are copied out as strings). It goes on to the next
	// inspection (dexBufs).
	var dexBytes int64
	for _, dn := range dexNames {
		if e, ok := zr.Lookup(dn); ok {
			// As ReadInto trusts a declared size: deflate does not inflate beyond 32×.
			n := min(e.UncompressedSize, opts.Dex.MaxSize)
			if e.Method != 0 {
				n = min(n, 32*e.CompressedSize+(1<<20))
			}
			dexBytes += n
		}
	}
	a.graph.ExpectDex(dexBytes)
	var dexBuf []byte
	if p, ok := dexBufs.Get().(*[]byte); ok {
		dexBuf = *p
	}
	for _, dn := range dexNames {
		if ctx.Err() != nil {
			fail("dex index stopped: %v", ctx.Err())
			dexOK = false
			break
		}
		var b []byte
		e, ok := zr.Lookup(dn)
		if ok {
			b, err = zr.ReadInto(e, opts.Dex.MaxSize, dexBuf)
		} else {
			_, err = zr.ReadFile(dn, opts.Dex.MaxSize)
		}
		if err != nil {
			app.Errors = append(app.Errors, err.Error())
			a.dexIncomplete = append(a.dexIncomplete, dn+" not read")
			dexOK = false
			continue
		}
		f, err := dex.Parse(ctx, name+"!"+dn, b, opts.Dex)
		if err != nil {
			app.Errors = append(app.Errors, err.Error())
			a.dexIncomplete = append(a.dexIncomplete, dn+" not fully indexed")
			dexOK = false
		}
		if f == nil {
			continue
		}
		app.DexFiles = append(app.DexFiles, dn)
		if len(f.Problems) > 0 {
			fail("%s: %d problems, first: %s", dn, len(f.Problems), f.Problems[0])
			a.dexIncomplete = append(a.dexIncomplete, dn+" has code that could not be read")
		}
		a.indexDex(f, a.graph.AddDex(f))
		dexBuf = b
	}
	if dexBuf != nil {
		dexBufs.Put(&dexBuf)
	}
	app.Layers["dex"] = dexOK
	for _, p := range app.Packers {
		if p.Shell {
			fail("code is packed by %s (%s): the dex index sees only the packer's stub", p.Name, p.Marker)
			app.Layers["dex"] = false
			a.dexIncomplete = append(a.dexIncomplete, "packed by "+p.Name)
			break
		}
	}
	if ctx.Err() == nil {
		a.reach(name)
	} else {
		for i := range app.APIs {
			app.APIs[i].ReachedFrom = []string{ReachUnknown}
		}
	}
	return app
}

// networkSecurityConfig reads the file the manifest's android:networkSecurityConfig names and
// applies its effect to the cleartext and user-CA flags; on failure the manifest's own values stay.
func (a *analyzer) networkSecurityConfig(zr *safezip.Archive, m *manifest.Manifest, ref, name string) {
	if !strings.HasPrefix(ref, "res/") {
		a.app.Errors = append(a.app.Errors, fmt.Sprintf("%s: AndroidManifest.xml: networkSecurityConfig %q does not resolve to a file in the APK", name, ref))
		return
	}
	b, err := zr.ReadFile(ref, manifest.MaxNetworkSecurityConfigSize)
	if err != nil {
		a.app.Errors = append(a.app.Errors, fmt.Sprintf("network security config: %v", err))
		return
	}
	n, err := manifest.ParseNetworkSecurityConfig(name+": "+ref, b)
	if err != nil {
		a.app.Errors = append(a.app.Errors, err.Error())
		return
	}
	for _, p := range n.Problems {
		a.app.Errors = append(a.app.Errors, fmt.Sprintf("%s: %s: %s", name, ref, p))
	}
	m.ApplyNetworkSecurityConfig(n)
}

// dexOrder sorts classes.dex, classes2.dex, … numerically.
func dexOrder(n string) int {
	mid := strings.TrimSuffix(strings.TrimPrefix(n, "classes"), ".dex")
	if mid == "" {
		return 1
	}
	v := 0
	for _, c := range mid {
		v = v*10 + int(c-'0')
	}
	return v
}

func (a *analyzer) packer(p packerSignature, marker string) {
	if a.pack[p.name] {
		return
	}
	a.pack[p.name] = true
	a.app.Packers = append(a.app.Packers, Packer{Name: p.name, Marker: marker, Shell: p.shell})
}

// packerClass records the packers class belongs to; the marker is where + class (built only
// on a match: it runs for every class of every dex file).
func (a *analyzer) packerClass(class, where string) {
	for _, p := range packers {
		for _, c := range p.classes {
			if strings.HasPrefix(class, c) && (len(class) == len(c) || class[len(c)] == '.' || strings.HasSuffix(c, ".")) {
				a.packer(p, where+class)
			}
		}
	}
}

// apiClassSet is the set of class descriptors ("Landroid/telephony/TelephonyManager;") on which
// the catalogue names sensitive APIs: a reference to any other class cannot match, so its
// descriptor is never rendered.
func apiClassSet(cat *rules.Catalogue) map[string]bool {
	set := map[string]bool{}
	if cat == nil {
		return set
	}
	for _, api := range cat.SensitiveAPIs() {
		for _, d := range api.Descriptors {
			if i := strings.Index(d, "->"); i > 0 {
				set[d[:i]] = true
			}
		}
	}
	return set
}

func (a *analyzer) indexDex(f *dex.File, x *callgraph.FileIndex) {
	// Per type: 0 not looked at yet, 1 a class with sensitive APIs, 2 any other type.
	classState := make([]uint8, f.TypeCount())
	apiClass := func(t uint32) bool {
		if int64(t) >= int64(len(classState)) {
			return false
		}
		if classState[t] == 0 {
			classState[t] = 2
			if a.apiClasses[f.TypeName(t)] {
				classState[t] = 1
			}
		}
		return classState[t] == 1
	}
	methodAPIs := map[uint32][]rules.SensitiveAPI{}
	fieldAPIs := map[uint32][]rules.SensitiveAPI{}
	seenStr := make([]uint64, f.StringCount()/64+1)
	where := f.Name + ": class "
	for _, c := range f.Classes {
		a.app.Classes++
		cls := dex.JavaName(f.TypeName(c.Type))
		a.packerClass(cls, where)
		a.countClass(cls)
		for _, r := range c.Refs {
			switch r.Kind {
			case dex.Invoke, dex.FieldRead:
				if a.cat == nil {
					continue
				}
				cache, owner, render := methodAPIs, f.MethodClassType(r.Target), f.MethodDescriptor
				if r.Kind == dex.FieldRead {
					cache, owner, render = fieldAPIs, f.FieldClassType(r.Target), f.FieldDescriptor
				}
				if !apiClass(owner) {
					continue
				}
				apis, ok := cache[r.Target]
				if !ok {
					apis = a.cat.APIsForDescriptor(render(r.Target))
					cache[r.Target] = apis
				}
				for _, api := range apis {
					if r.Kind == dex.FieldRead && api.Kind == "provider" && len(api.PI) > 0 && f.OnlyPassedTo(r, intentData(f)) {
						// The URI only becomes an Intent's data (ACTION_PICK, VIEW…): the app asks
						// another app to act on it and reads nothing from the provider here.
						a.app.IntentURISites++
						continue
					}
					arg := ""
					if len(api.Strings) > 0 && r.Kind == dex.Invoke {
						var match bool
						if arg, match = argument(f, r, api); !match {
							continue // a constant argument names something else
						}
					}
					key := api.ID + "@" + cls
					if i, dup := a.apis[key]; dup {
						prev := &a.app.APIs[i]
						// A resolved call site says more than an unresolved one of the same class.
						if prev.Argument == ArgumentUnresolved && arg != ArgumentUnresolved {
							prev.Argument, prev.Descriptor, prev.CallerMethod = arg, render(r.Target), f.MethodName(r.Caller)
						}
						prev.addSite(x.Node(r.Caller))
						continue
					}
					a.apis[key] = len(a.app.APIs)
					a.app.APIs = append(a.app.APIs, APIRef{API: api, Descriptor: render(r.Target), CallerClass: cls, CallerMethod: f.MethodName(r.Caller), Argument: arg})
					a.app.APIs[len(a.app.APIs)-1].addSite(x.Node(r.Caller))
				}
			case dex.StringConst:
				w, m := r.Target/64, uint64(1)<<(r.Target%64)
				if int(w) >= len(seenStr) || seenStr[w]&m != 0 {
					continue
				}
				seenStr[w] |= m
				a.str(f.String(r.Target))
			}
		}
	}
}

// intentData accepts the parameters through which a content URI becomes an Intent's data: the
// Uri parameter of an Intent constructor (Intent(String, Uri), Intent(String, Uri, Context,
// Class)) and of setData, setDataAndType, setDataAndNormalize and setDataAndTypeAndNormalize.
// The receiving activity reads the provider, under its own permissions, if the user picks.
func intentData(f *dex.File) func(method uint32, param int) bool {
	return func(m uint32, param int) bool {
		if param < 0 || f.MethodClass(m) != "Landroid/content/Intent;" {
			return false
		}
		switch f.MethodName(m) {
		case "<init>", "setData", "setDataAndType", "setDataAndNormalize", "setDataAndTypeAndNormalize":
		default:
			return false
		}
		params := f.MethodParams(m)
		return param < len(params) && params[param] == "Landroid/net/Uri;"
	}
}

// maxSDKExamples bounds the class names kept per SDK as evidence of its detection.
const maxSDKExamples = 5

// countClass adds one defined class to its party's count.
func (a *analyzer) countClass(cls string) {
	p := a.app.own.of(cls)
	switch {
	case p.SDK != "":
		a.app.SDKClasses[p.SDK]++
		if ex := a.app.SDKExamples[p.SDK]; len(ex) < maxSDKExamples && readableClass(cls) {
			a.app.SDKExamples[p.SDK] = append(ex, cls)
		}
	case p.Library != "":
		a.app.LibraryClasses[p.Library]++
	case p.Party == PartyApp:
		a.app.AppClasses++
	default:
		a.app.UnidentifiedClasses++
	}
}

// argument resolves the key parameter of a call to an API whose catalogue entry lists strings:
// the first String, Uri or String[] parameter (the Settings key, the property name, the command, the
// content URI). It returns the constant, ArgumentUnresolved, or "" when the method has no such
// parameter (the entry's strings then name something other than an argument, e.g. a class name
// used by reflection), and whether the call counts as the API: a constant that matches none of
// the entry's strings (a string containing one, or a static field the entry names) does not.
func argument(f *dex.File, r dex.Ref, api rules.SensitiveAPI) (string, bool) {
	param := -1
	for i, t := range f.MethodParams(r.Target) {
		if t == "Ljava/lang/String;" || t == "Landroid/net/Uri;" || t == "[Ljava/lang/String;" {
			param = i
			break
		}
	}
	if param < 0 {
		return "", true
	}
	v, ok := f.ConstArg(r, param)
	if !ok || !v.Resolved {
		return ArgumentUnresolved, true
	}
	if v.Field != "" {
		return v.Field, slices.Contains(api.Descriptors, v.Field)
	}
	for _, s := range api.Strings {
		if strings.Contains(v.String, s) {
			return v.String, true
		}
	}
	return v.String, false
}

// str looks at one string constant for endpoints and policy links.
func (a *analyzer) str(s string) {
	if len(s) < 4 || len(s) > 64<<10 {
		return
	}
	if strings.Contains(s, "://") {
		for _, u := range reURL.FindAllString(s, 16) {
			if len(u) > maxURLLen {
				continue
			}
			pu, err := url.Parse(u)
			if err != nil || pu.Hostname() == "" {
				continue
			}
			a.endpoint(strings.ToLower(pu.Hostname()), u, strings.EqualFold(pu.Scheme, "http"))
			if rePolicyURL.MatchString(pu.Path + "?" + pu.RawQuery + "#" + pu.Fragment) {
				a.policy(u)
			}
		}
		if strings.HasPrefix(s, "file:///android_asset/") && rePolicyURL.MatchString(s) {
			a.policy(s)
		}
		return
	}
	if isBareHost(s) {
		first := s[:strings.IndexByte(s, '.')]
		if !notHostFirstLabels[first] {
			a.endpoint(s, "", false)
		}
	}
}

// bareHostTLDs are the top-level domains a bare host string must end with to count as an
// endpoint (a dotted string with another ending is more likely a class or a key).
var bareHostTLDs = map[string]bool{"com": true, "cn": true, "net": true, "org": true, "io": true, "co": true, "me": true, "cc": true, "tv": true,
	"info": true, "biz": true, "xyz": true, "top": true, "vip": true, "link": true, "app": true, "mobi": true}

// isBareHost reports whether s is a lower-case host name (labels of [a-z0-9-], not starting or
// ending with "-", at most 63 bytes) with at least two labels and a TLD from bareHostTLDs. It runs
// on every string constant, so it is written by hand rather than as a regular expression.
func isBareHost(s string) bool {
	if len(s) > 253 {
		return false
	}
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 || !bareHostTLDs[s[dot+1:]] {
		return false
	}
	start := 0
	for i := 0; i <= dot; i++ {
		c := s[i]
		switch {
		case c == '.':
			if i == start || i-start > 63 || s[i-1] == '-' {
				return false
			}
			start = i + 1
		case c == '-':
			if i == start {
				return false
			}
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}

func (a *analyzer) endpoint(host, u string, cleartext bool) {
	if i, ok := a.eps[host]; ok {
		e := &a.app.Endpoints[i]
		if e.URL == "" {
			e.URL = u
		}
		e.Cleartext = e.Cleartext || cleartext
		return
	}
	if len(a.app.Endpoints) >= maxEndpoints {
		return
	}
	a.eps[host] = len(a.app.Endpoints)
	a.app.Endpoints = append(a.app.Endpoints, Endpoint{Host: host, URL: u, Cleartext: cleartext})
}

func (a *analyzer) policy(ref string) {
	if a.pols[ref] || len(a.app.PolicyRefs) >= maxPolicyRefs {
		return
	}
	a.pols[ref] = true
	a.app.PolicyRefs = append(a.app.PolicyRefs, ref)
}
