package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing/fstest"
	"unicode"

	"gopkg.in/yaml.v3"
)

// The derived SDK catalogue (sdks_derived.yaml) is generated from three public lists kept in
// ../shared/corpus/trackers: camille's Chinese SDK list ({sdk_name, package_name}), the Exodus
// Privacy tracker database (name, code and network signatures, website, categories) and X-Ray's
// company list (owner names and their domains). Only facts are taken: names, package prefixes,
// plain domains and owner names; no description is copied. The hand-written sdks.yaml stays
// authoritative: a source entry whose packages it already owns adds its names (and the packages
// it lacks) to that entry instead of becoming a second one.

// Source file names in ../shared/corpus/trackers.
const (
	CamilleFile = "camille_sdk_list.json"
	ExodusFile  = "exodus_trackers_api.json"
	XRayFile    = "xray_company_domains.json"
)

// Source names recorded in SDK.Sources.
const (
	SourceCamille    = "camille"
	SourceExodus     = "exodus"
	SourceXRay       = "xray"
	SourceLibChecker = "libchecker"
)

// DeriveSource is one input file of the generator.
type DeriveSource struct {
	Name string // file name, as written in the generated header
	Data []byte
}

// DeriveInputs are the generator's input files.
type DeriveInputs struct {
	Camille, Exodus, XRay DeriveSource
}

// Derived is the content of sdks_derived.yaml.
type Derived struct {
	Version    int            `yaml:"version"`
	SDKs       []SDK          `yaml:"sdks"`
	Extensions []SDKExtension `yaml:"extensions"`
}

// DeriveReject is a source value the generator left out, with the reason.
type DeriveReject struct {
	Source string `json:"source"` // camille | exodus
	Entry  string `json:"entry"`  // camille sdk_name or "tracker <id> <name>"
	Value  string `json:"value"`  // the package name or domain
	Reason string `json:"reason"`
}

// DeriveReport is what the generator did, printed by rules/cmd/gensdks.
type DeriveReport struct {
	Rejected []DeriveReject `json:"rejected"`
	// Merged lists "source entry → hand-written SDK id" for entries folded into sdks.yaml entries.
	Merged  []string `json:"merged"`
	Derived int      `json:"derived"`
}

type camilleEntry struct {
	Name    string `json:"sdk_name"`
	Package string `json:"package_name"`
}

type xrayCompany struct {
	Owner   string   `json:"owner_name"`
	Parent  string   `json:"parent"`
	Domains []string `json:"doms"`
}

// Limits on the generator's inputs: they are reviewed lists, but a file of the wrong shape must
// fail with a message, not exhaust memory.
const (
	maxDeriveInput   = 16 << 20
	maxCamilleItems  = 20000
	maxXRayCompanies = 20000
)

// umbrellaLabels are second labels of vendor groups that publish many unrelated SDKs and
// libraries under one name (com.tencent.*, com.google.*): a two-label prefix ending in one names
// no SDK.
var umbrellaLabels = map[string]bool{
	"tencent": true, "baidu": true, "google": true, "alibaba": true, "alipay": true, "taobao": true,
	"huawei": true, "hihonor": true, "xiaomi": true, "microsoft": true, "facebook": true, "amazon": true,
	"samsung": true, "sina": true, "netease": true, "bytedance": true, "ss": true, "qq": true,
	"android": true, "apple": true, "jd": true, "jingdong": true, "meituan": true, "sohu": true,
	"sogou": true, "qihoo": true, "mi": true, "oppo": true, "vivo": true, "meizu": true,
	"heytap": true, "yahoo": true, "twitter": true, "adobe": true, "ibm": true, "oracle": true,
	"sun": true, "github": true, "example": true, "apache": true, "squareup": true, "iflytek": false,
}

// tldLike are first labels of reversed domain names.
var tldLike = setOf("com", "cn", "net", "org", "io", "me", "co", "de", "uk", "jp", "tv", "cc", "info", "biz")

// genericRoots are two-label names that are a registry's namespace, not an organisation's.
var genericRoots = map[string]bool{
	"cn.com": true, "com.cn": true, "net.cn": true, "org.cn": true, "gov.cn": true, "edu.cn": true,
	"co.uk": true, "co.jp": true, "co.kr": true, "com.tw": true, "com.hk": true, "com.br": true,
	"com.au": true, "io.github": true, "com.github": true, "org.apache": true, "com.example": true,
}

// platformRoots are namespaces of the platform and the language: no SDK lives directly in them.
var platformRoots = map[string]bool{"android": true, "androidx": true, "java": true, "javax": true, "kotlin": true, "kotlinx": true, "dalvik": true}

// frameworkPackages are packages outside android.* that the platform itself ships (android.jar):
// a class there is the operating system's, whoever else lists the name.
var frameworkPackages = setOf("org.json", "org.w3c", "org.xml", "org.xmlpull", "org.apache.http")

// androidFramework are android.* packages of the operating system itself.
var androidFramework = map[string]bool{
	"app": true, "content": true, "os": true, "speech": true, "telephony": true, "net": true,
	"provider": true, "webkit": true, "widget": true, "view": true, "media": true, "location": true,
	"util": true, "graphics": true, "hardware": true, "database": true, "text": true, "bluetooth": true,
	"accounts": true,
}

// umbrellaDomains are vendor-group domains that say nothing about which SDK sent a request.
var umbrellaDomains = map[string]bool{
	"qq.com": true, "taobao.com": true, "google.com": true, "facebook.com": true, "baidu.com": true,
	"tencent.com": true, "alibaba.com": true, "microsoft.com": true, "amazon.com": true, "apple.com": true,
	"huawei.com": true, "xiaomi.com": true, "yahoo.com": true, "twitter.com": true, "googleapis.com": true,
	"gstatic.com": true, "amazonaws.com": true, "cloudfront.net": true, "akamaihd.net": true,
	"azurewebsites.net": true, "firebaseio.com": true, "appspot.com": true, "herokuapp.com": true,
}

// camilleErrata are camille entries whose package belongs to another vendor than the name says;
// attributing the package to that name would put a wrong company into a case file.
var camilleErrata = map[[2]string]string{
	{"同盾科技 SDK", "com.iflytek."}: "camille lists iFlytek's package under Tongdun (Tongdun's own is cn.tongdun, catalogue entry tongdun)",
}

// camilleLibraries are the entries of camille's list that are open-source libraries (each a
// public repository): their kind is "library".
var camilleLibraries = setOf(
	"zip4j", "zBarLibary", "xmcontainer", "xUtils", "volley", "viewpagerindicator", "universalimageloader",
	"uCrop", "tray", "termux", "systembartint", "swipemenulistview", "stickygridheaders", "snappydb",
	"senab_photoview", "securepreferences", "scalablevideoview", "roundedimageview", "robobinding",
	"recyclerviewheader2", "rebound", "react-native异常处理库", "pulltorefresh", "picasso", "otto",
	"orhanobut_logger", "okhttp3", "okhttp", "nineoldandroids", "music player", "mikephil_charting",
	"materialdialogs", "materialdatetimepicker", "luck_picture", "loopj_android-async-http",
	"litepal_SQLite", "listviewanimations", "junit", "jobdispatcher", "joanzapata_pdfview",
	"jeremyfeinstein_slidingmenu", "javiersantos_PiracyChecker", "javapoet", "jackpal_androidterm",
	"innosystec_unrar", "imagezoom", "image management", "huewu_listview", "greenEventBus", "greenDAO",
	"facebook_crypto", "expandabletextview", "eventbus", "emojicon", "displaying animated GIF",
	"device_yearclass", "daimajia_numberprogressbar", "dagger", "condom", "cling", "bundletool",
	"bigkoo_convenientbanner", "auto-scroll circular parallax ListViews.", "androidannotations",
	"andexert", "achartengine", "ZXing", "XQRCode", "XCL-Charts", "WorkManager", "ViewPropertyAnimator",
	"Vitamio", "VirtualApp", "Ultra Pull to Refresh", "Type-safe REST client", "Transitions API",
	"TransitionPlayer", "SwipeToLoadLayout", "SwipeRefreshLayout", "Swipe Layout", "SwiFTP",
	"ShortcutBadger", "Shizuku", "Smack", "SQLCipher", "SDL", "RxJava", "Realm", "Rajawali",
	"Protocol Buffers", "PlaylistCore", "Pinyin4j", "Pinterest style ListView", "OkDownload", "ORMLite",
	"MultiImageChooser", "MessagePack", "Material design ProgressBar", "Lottie-Android", "LeakCanary",
	"LFilePicker", "Just Keep On Truckin", "Java MQTT Client", "ImagePicker", "Horizontal ListView",
	"Gson", "GiraffePlayer2", "GPUImage", "Foobnix", "Floating Action Button", "FloatWindow", "FirebaseUI",
	"FilePickerLibrary", "FileDownloader", "Facebook React", "Evernote推送", "EditText in Material Design",
	"EasyPermissions", "Disk-based LRU cache", "CustomActivityOnCrash", "Curzibn_Luban", "Cordova",
	"Circle button widget", "Chuck", "Chromium", "CheckVersionLib", "ByakuGallery", "Blankj",
	"图片选择 & 图片预览 & 图片加载相关", "仿iOS的PickerView控件", "开源弹幕引擎·烈焰弹幕使", "腾讯Tinker",
	"淘宝 Atlas", "EBookDroid", "谷歌 sample", "谷歌 Cardboard", "谷歌 VR",
)

func setOf(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, v := range s {
		m[v] = true
	}
	return m
}

// camilleKinds maps words of a camille name to a kind, first match wins.
var camilleKinds = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`(?i)(小米|华为|oppo|vivo|魅族|meizu|荣耀).*推送`), "push_vendor"},
	{regexp.MustCompile(`(?i)推送|push`), "push"},
	{regexp.MustCompile(`(?i)广告|推广|\bads?\b|vungle`), "ads"},
	{regexp.MustCompile(`(?i)统计|分析|analytics|数据|piwik|cobub|dataeye`), "analytics"},
	{regexp.MustCompile(`(?i)crash|bugly|崩溃|bugsnag|hockeyapp|bugtag`), "crash"},
	{regexp.MustCompile(`(?i)支付|钱包|pay|计费|iap|billing|应用内购`), "payment"},
	{regexp.MustCompile(`(?i)分享|share|社会化`), "login_share"},
	{regexp.MustCompile(`(?i)登录|账号|帐号|账户|passport|认证|auth|开放平台|sdklm|互联`), "login"},
	{regexp.MustCompile(`(?i)地图|定位|location|\bmaps?\b|高德|全景`), "map"},
	{regexp.MustCompile(`(?i)客服|\bim\b|通信|环信|融云|chat|kefu|美洽|easeui|smack`), "im"},
	{regexp.MustCompile(`(?i)语音|speech|tts|voice|讯飞|cortana`), "voice"},
	{regexp.MustCompile(`(?i)webview|浏览|x5|tbs|webkit|\bweb`), "webview"},
	{regexp.MustCompile(`(?i)验证码|风控|防劫持|captcha|人脸|身份验证|avl|安全|iprotect`), "risk_control"},
}

func camilleKind(name string) string {
	if camilleLibraries[name] {
		return "library"
	}
	for _, k := range camilleKinds {
		if k.re.MatchString(name) {
			return k.kind
		}
	}
	return "other"
}

// sourceGroup is one SDK as one source names it: a camille sdk_name with its packages, or an
// Exodus tracker.
type sourceGroup struct {
	source     string // camille | exodus
	key        string // camille name, or tracker id
	name       string
	prefixes   []string
	keys       []string // manifest meta-data names
	domains    []string
	categories []string
	website    string
}

func (g *sourceGroup) label() string {
	if g.source == SourceExodus {
		return "tracker " + g.key + " " + g.name
	}
	return g.name
}

// camilleValue is how the generator reads one camille package_name.
type camilleValue struct {
	prefix, key, reason string // exactly one is set
}

var (
	manifestKeyLabelRe = regexp.MustCompile(`(?i)^(api_?key|app_?key|appid)$`)
	manifestKeyRe      = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_-]*)+$`)
)

// classifyCamille decides what a camille package_name is: a package or class prefix, a manifest
// <meta-data> name, or nothing usable (with the reason). Too-broad prefixes are judged later, with
// every source in view.
func classifyCamille(raw string) camilleValue {
	v := strings.TrimSpace(raw)
	v = strings.TrimRight(v, ".")
	switch {
	case v == "":
		return camilleValue{reason: "empty"}
	case strings.HasPrefix(v, "."):
		return camilleValue{reason: "a relative component name (…" + v + "), not a package"}
	case strings.Contains(v, ".intent.action."):
		return camilleValue{reason: "an intent action, not a package"}
	}
	labels := strings.Split(v, ".")
	last := labels[len(labels)-1]
	if len(labels) >= 2 && (manifestKeyLabelRe.MatchString(last) || strings.Contains(last, "-")) && manifestKeyRe.MatchString(v) {
		return camilleValue{key: v}
	}
	if !javaPrefixRe.MatchString(v) {
		return camilleValue{reason: "not a Java package or class name"}
	}
	if len(labels) == 2 && startsUpper(last) {
		return camilleValue{reason: "a two-label class name (a suffix such as wxapi.WXEntryActivity or a <meta-data> name), ambiguous"}
	}
	return camilleValue{prefix: v}
}

func startsUpper(s string) bool {
	for _, r := range s {
		return unicode.IsUpper(r)
	}
	return false
}

// broadReason says why a prefix is too broad to name one SDK, or "" when it is not. others counts,
// per prefix, the distinct immediate sub-packages claimed by other SDKs (see umbrellaCounts).
func broadReason(p string, subBranches int) string {
	labels := strings.Split(p, ".")
	switch {
	case len(labels) == 1:
		return "one label: names a whole namespace"
	case platformRoots[labels[0]] && len(labels) == 2:
		return "a platform or language namespace"
	case frameworkPackages[strings.Join(labels[:2], ".")] || len(labels) >= 3 && frameworkPackages[strings.Join(labels[:3], ".")]:
		return "a package of the Android platform (android.jar), not an SDK"
	case labels[0] == "android" && androidFramework[labels[1]]:
		return "an Android framework package (part of the OS, not an SDK)"
	case len(labels) == 2 && genericRoots[p]:
		return "a registry's namespace (" + p + "), not an organisation"
	case len(labels) == 2 && umbrellaLabels[labels[1]] && tldLike[labels[0]]:
		return "a vendor group's umbrella namespace (" + p + ")"
	case subBranches >= 2:
		return fmt.Sprintf("parent of %d sub-packages other SDKs claim: a vendor's umbrella, not one SDK", subBranches)
	}
	return ""
}

// tooBroad says why an imported prefix is too broad to name one SDK ("" when it is not),
// counting as sub-packages the catalogue's own prefixes below it. A prefix the catalogue already
// lists is never too broad: the reviewed entry decided.
func (c *Catalogue) tooBroad(p string) string {
	if _, ok := c.sdkByPrefix[p]; ok {
		return ""
	}
	seen := map[string]bool{}
	for q := range c.sdkByPrefix {
		if rest, ok := strings.CutPrefix(q, p+"."); ok {
			if i := strings.IndexByte(rest, '.'); i >= 0 {
				rest = rest[:i]
			}
			seen[rest] = true
		}
	}
	return broadReason(p, len(seen))
}

// DeriveSDKs generates the derived catalogue. hand is the catalogue of the hand-written sdks.yaml
// alone (HandWritten). The result is deterministic for the same inputs.
func DeriveSDKs(hand *Catalogue, in DeriveInputs) (Derived, DeriveReport, error) {
	var rep DeriveReport
	reject := func(g *sourceGroup, value, reason string) {
		rep.Rejected = append(rep.Rejected, DeriveReject{Source: g.source, Entry: g.label(), Value: value, Reason: reason})
	}
	groups, err := readSourceGroups(in, reject)
	if err != nil {
		return Derived{}, rep, err
	}
	companies, err := readXRay(in.XRay)
	if err != nil {
		return Derived{}, rep, err
	}

	// Umbrella detection: for each candidate prefix, the immediate sub-packages that other
	// claimants (hand-written entries, other source groups) list below it.
	type claim struct{ owner, prefix string }
	var claims []claim
	for _, d := range hand.sdks {
		for _, p := range d.ClassPrefixes {
			claims = append(claims, claim{"sdk:" + d.ID, p})
		}
	}
	for _, g := range groups {
		for _, p := range g.prefixes {
			claims = append(claims, claim{g.source + ":" + g.key, p})
		}
	}
	subBranches := func(owner, p string) int {
		seen := map[string]bool{}
		for _, c := range claims {
			if c.owner == owner || !strings.HasPrefix(c.prefix, p+".") {
				continue
			}
			rest := c.prefix[len(p)+1:]
			if i := strings.IndexByte(rest, '.'); i >= 0 {
				rest = rest[:i]
			}
			seen[rest] = true
		}
		return len(seen)
	}

	// Each group's prefixes: rejected when too broad, else owned by a hand-written entry (the
	// prefix or a parent of it is listed there) or left for a derived entry.
	type placed struct {
		g       *sourceGroup
		owners  map[string]int // hand-written id → prefixes and keys it already owns
		fresh   []string       // prefixes no hand-written entry owns
		freshKy []string       // manifest keys no hand-written entry owns
		domains []string
	}
	var all []*placed
	for _, g := range groups {
		pl := &placed{g: g, owners: map[string]int{}}
		for _, p := range g.prefixes {
			if d, ok := hand.SDKForClass(p); ok {
				pl.owners[d.ID]++
				continue
			}
			if lib, ok := hand.LibraryForClass(probeClass(p)); ok {
				reject(g, p, "a library's package (libraries.yaml "+lib.ID+"): its classes are the library's, not a vendor SDK's")
				continue
			}
			owner := g.source + ":" + g.key
			if why := broadReason(p, subBranches(owner, p)); why != "" {
				reject(g, p, why)
				continue
			}
			pl.fresh = append(pl.fresh, p)
		}
		for _, k := range g.keys {
			if d, ok := hand.SDKForManifestKey(k); ok {
				pl.owners[d.ID]++
				continue
			}
			if d, ok := hand.SDKForClass(k); ok { // io.fabric.ApiKey under io.fabric
				pl.owners[d.ID]++
				pl.freshKy = append(pl.freshKy, k)
				continue
			}
			pl.freshKy = append(pl.freshKy, k)
		}
		for _, h := range g.domains {
			switch {
			case umbrellaDomains[h]:
				reject(g, h, "a vendor group's umbrella domain")
			default:
				if d, ok := hand.SDKForHost(h); ok {
					reject(g, h, "already attributed to hand-written SDK "+d.ID+" (hand-written domains are authoritative)")
					continue
				}
				pl.domains = append(pl.domains, h)
			}
		}
		all = append(all, pl)
	}

	// Groups that a hand-written entry already owns in part extend it: the owner with most of
	// the group's prefixes, then higher priority, then file order.
	handIdx := map[string]int{}
	for i, d := range hand.sdks {
		handIdx[d.ID] = i
	}
	ext := map[string]*SDKExtension{}
	var derivedGroups []*placed
	for _, pl := range all {
		if len(pl.owners) == 0 {
			if len(pl.fresh)+len(pl.freshKy) > 0 {
				derivedGroups = append(derivedGroups, pl)
			}
			continue
		}
		owner := ""
		for id, n := range pl.owners {
			if owner == "" {
				owner = id
				continue
			}
			a, b := hand.sdks[handIdx[id]], hand.sdks[handIdx[owner]]
			if n > pl.owners[owner] || n == pl.owners[owner] && (a.Priority > b.Priority || a.Priority == b.Priority && handIdx[id] < handIdx[owner]) {
				owner = id
			}
		}
		e := ext[owner]
		if e == nil {
			e = &SDKExtension{SDK: owner}
			ext[owner] = e
		}
		for id := range pl.owners {
			// every hand-written entry that owns part of the group is named by it
			x := ext[id]
			if x == nil {
				x = &SDKExtension{SDK: id}
				ext[id] = x
			}
			addGroupName(x, pl.g)
		}
		// A package the owner lacks joins it only when it shares a namespace with one of the
		// owner's packages that is not itself a vendor's umbrella (com.tencent.android is one:
		// TPNS and the vendor push bridges live there); the others make a derived entry that
		// carries the same name.
		var rest []string
		for _, p := range pl.fresh {
			if sharesNamespace(p, hand.sdks[handIdx[owner]].ClassPrefixes, func(l string) int { return subBranches("", l) }) {
				e.ClassPrefixes = appendNew(e.ClassPrefixes, p)
				continue
			}
			rest = append(rest, p)
		}
		e.ManifestKeys = appendAllNew(e.ManifestKeys, pl.freshKy)
		rep.Merged = append(rep.Merged, pl.g.source+" "+pl.g.label()+" → "+strings.Join(sortedKeys(pl.owners), ",")+joinedIf(" (joined: ", e.ClassPrefixes, pl.fresh))
		if len(rest) > 0 {
			derivedGroups = append(derivedGroups, &placed{g: pl.g, owners: map[string]int{}, fresh: rest})
		}
		if len(pl.domains) > 0 {
			for _, h := range pl.domains {
				reject(pl.g, h, "not added to hand-written SDK "+owner+" (hand-written domains are authoritative)")
			}
		}
	}

	// Derived entries: groups joined when they list the same prefix or manifest key.
	parent := make([]int, len(derivedGroups))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	firstBy := map[string]int{}
	for i, pl := range derivedGroups {
		for _, p := range append(slices.Clone(pl.fresh), pl.freshKy...) {
			if j, ok := firstBy[p]; ok {
				a, b := find(i), find(j)
				if a != b {
					parent[max(a, b)] = min(a, b)
				}
				continue
			}
			firstBy[p] = i
		}
	}
	members := map[int][]*placed{}
	var roots []int
	for i := range derivedGroups {
		r := find(i)
		if _, ok := members[r]; !ok {
			roots = append(roots, r)
		}
		members[r] = append(members[r], derivedGroups[i])
	}

	// Domains two derived entries claim name neither.
	domainOwners := map[string]map[int]bool{}
	for _, r := range roots {
		for _, pl := range members[r] {
			for _, h := range pl.domains {
				if domainOwners[h] == nil {
					domainOwners[h] = map[int]bool{}
				}
				domainOwners[h][r] = true
			}
		}
	}

	usedIDs := map[string]bool{}
	for _, d := range hand.sdks {
		usedIDs[d.ID] = true
	}
	var out Derived
	out.Version = 1
	for _, r := range roots {
		d := SDK{Origin: OriginDerived, PI: []string{}, PISource: "none", VendorSource: "none"}
		var cats []string
		var camilleNames, exodusNames, exodusIDs []string
		sources := []string{}
		for _, pl := range members[r] {
			g := pl.g
			sources = appendNew(sources, g.source)
			d.ClassPrefixes = appendAllNew(d.ClassPrefixes, pl.fresh)
			d.ManifestKeys = appendAllNew(d.ManifestKeys, pl.freshKy)
			for _, h := range pl.domains {
				if len(domainOwners[h]) > 1 {
					reject(g, h, "claimed by several derived SDKs: names none of them")
					continue
				}
				d.Domains = appendNew(d.Domains, h)
			}
			switch g.source {
			case SourceCamille:
				camilleNames = appendNew(camilleNames, g.name)
			case SourceExodus:
				exodusNames = appendNew(exodusNames, g.name)
				exodusIDs = append(exodusIDs, g.key)
				cats = appendAllNew(cats, g.categories)
				if d.Vendor == "" && g.website != "" {
					if host := websiteHost(g.website); host != "" {
						d.Vendor, d.VendorSource = host, "exodus-website"
						if co, ok := companyFor(companies, append([]string{host}, g.domains...)); ok {
							d.Vendor, d.VendorSource = co, SourceXRay
							sources = appendNew(sources, SourceXRay)
						}
					}
				}
			}
		}
		d.Camille, d.Exodus = camilleNames, exodusNames
		switch {
		case len(exodusNames) > 0:
			d.Name = Text{ZH: exodusNames[0], EN: exodusNames[0]}
			if len(camilleNames) > 0 {
				d.Name.ZH = camilleNames[0]
			}
			d.Kind = exodusKind(cats)
			if d.Kind == "other" && len(camilleNames) > 0 {
				d.Kind = camilleKind(camilleNames[0])
			}
		default:
			d.Name = Text{ZH: camilleNames[0], EN: camilleNames[0]}
			d.Kind = camilleKind(camilleNames[0])
		}
		slices.Sort(sources)
		d.Sources = sources
		d.ClassPrefixes = withoutNested(d.ClassPrefixes)
		d.ID = derivedID(d, usedIDs)
		usedIDs[d.ID] = true
		d.Verification = derivedVerification(in, camilleNames, exodusIDs, d.VendorSource)
		d.Examples = prefixExamples(d.ClassPrefixes, d.ManifestKeys, d.Domains)
		out.SDKs = append(out.SDKs, d)
	}
	for _, id := range sortedKeys(ext) {
		e := ext[id]
		e.Camille = sortedUnique(e.Camille)
		e.Exodus = sortedUnique(e.Exodus)
		e.Sources = sortedUnique(e.Sources)
		e.ClassPrefixes = withoutNested(e.ClassPrefixes)
		if len(e.ClassPrefixes)+len(e.ManifestKeys) > 0 {
			e.Examples = prefixExamples(e.ClassPrefixes, e.ManifestKeys, nil)
		}
		out.Extensions = append(out.Extensions, *e)
	}
	rep.Derived = len(out.SDKs)
	sort.SliceStable(rep.Rejected, func(i, j int) bool {
		a, b := rep.Rejected[i], rep.Rejected[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.Entry != b.Entry {
			return a.Entry < b.Entry
		}
		return a.Value < b.Value
	})
	return out, rep, nil
}

// sharesNamespace reports whether p and one of owned have a common package of at least two
// labels that is not too broad to name one SDK.
func sharesNamespace(p string, owned []string, branches func(string) int) bool {
	pl := strings.Split(p, ".")
	for _, q := range owned {
		ql := strings.Split(q, ".")
		n := 0
		for n < len(pl) && n < len(ql) && pl[n] == ql[n] {
			n++
		}
		if n < 2 {
			continue
		}
		common := strings.Join(pl[:n], ".")
		if broadReason(common, branches(common)) == "" {
			return true
		}
	}
	return false
}

// joinedIf lists the packages of fresh that were joined to the owner.
func joinedIf(prefix string, joined, fresh []string) string {
	var js []string
	for _, p := range fresh {
		if slices.Contains(joined, p) {
			js = append(js, p)
		}
	}
	if len(js) == 0 {
		return ""
	}
	return prefix + strings.Join(js, ", ") + ")"
}

func addGroupName(e *SDKExtension, g *sourceGroup) {
	e.Sources = appendNew(e.Sources, g.source)
	switch g.source {
	case SourceCamille:
		e.Camille = appendNew(e.Camille, g.name)
	case SourceExodus:
		e.Exodus = appendNew(e.Exodus, g.name)
	}
}

// readSourceGroups parses camille's list and the Exodus database into groups, in file order
// (camille) and tracker id order (Exodus).
func readSourceGroups(in DeriveInputs, reject func(*sourceGroup, string, string)) ([]*sourceGroup, error) {
	for _, s := range []DeriveSource{in.Camille, in.Exodus, in.XRay} {
		if len(s.Data) > maxDeriveInput {
			return nil, fmt.Errorf("%s: larger than %d MiB", s.Name, maxDeriveInput>>20)
		}
	}
	var cam []camilleEntry
	if err := json.Unmarshal(in.Camille.Data, &cam); err != nil {
		return nil, fmt.Errorf("%s: not camille's SDK list ([{sdk_name, package_name}]): %w", in.Camille.Name, err)
	}
	if len(cam) > maxCamilleItems {
		return nil, fmt.Errorf("%s: %d entries, more than %d", in.Camille.Name, len(cam), maxCamilleItems)
	}
	var groups []*sourceGroup
	byName := map[string]*sourceGroup{}
	for _, e := range cam {
		name := cleanText(e.Name, 200)
		if name == "" {
			continue
		}
		g := byName[name]
		if g == nil {
			g = &sourceGroup{source: SourceCamille, key: name, name: name}
			byName[name] = g
			groups = append(groups, g)
		}
		if why, bad := camilleErrata[[2]string{e.Name, e.Package}]; bad {
			reject(g, e.Package, why)
			continue
		}
		v := classifyCamille(e.Package)
		switch {
		case v.reason != "":
			reject(g, e.Package, v.reason)
		case v.key != "":
			g.keys = appendNew(g.keys, v.key)
		default:
			g.prefixes = appendNew(g.prefixes, v.prefix)
		}
	}
	if len(in.Exodus.Data) > 0 && checkJSONDepth(in.Exodus.Data, maxExodusDepth) != nil {
		return nil, fmt.Errorf("%s: nested too deep", in.Exodus.Name)
	}
	var top struct {
		Trackers map[string]exodusTracker `json:"trackers"`
	}
	if err := json.Unmarshal(in.Exodus.Data, &top); err != nil {
		return nil, fmt.Errorf("%s: not an Exodus tracker export: %w", in.Exodus.Name, err)
	}
	if len(top.Trackers) > maxExodusTrackers {
		return nil, fmt.Errorf("%s: %d trackers, more than %d", in.Exodus.Name, len(top.Trackers), maxExodusTrackers)
	}
	ids := make([]string, 0, len(top.Trackers))
	for id := range top.Trackers {
		ids = append(ids, id)
	}
	sortTrackerIDs(ids)
	for _, id := range ids {
		tr := top.Trackers[id]
		g := &sourceGroup{source: SourceExodus, key: id, name: cleanText(tr.Name, 200), categories: tr.Categories, website: tr.Website}
		if g.name == "" || !trackerIDRe.MatchString(id) {
			continue
		}
		g.prefixes, _ = splitSignature(tr.CodeSignature, derivePrefix, func(alt string) {
			reject(g, alt, "code signature is not a plain package name")
		})
		g.domains, _ = splitSignature(tr.NetworkSignature, plainDomain, func(alt string) {
			reject(g, alt, "network signature is a regex, not a plain domain")
		})
		groups = append(groups, g)
	}
	return groups, nil
}

// plainDomain accepts a network-signature alternative that is a domain with escaped dots (and
// an optional leading ".*\." or "\."): anything else is a pattern whose set of hosts is not one
// domain and its subdomains.
func plainDomain(alt string) (string, bool) {
	s := strings.TrimPrefix(alt, "^")
	s = strings.TrimPrefix(s, ".*")
	s = strings.TrimPrefix(s, `\.`)
	s = strings.TrimSuffix(s, "$")
	s = strings.ReplaceAll(s, `\.`, "\x00")
	if strings.ContainsAny(s, `.*+?()[]{}\|`) {
		return "", false // an unescaped dot or another regex operator
	}
	s = strings.ToLower(strings.ReplaceAll(s, "\x00", "."))
	if !strings.Contains(s, ".") || len(s) > 253 || !hostRe.MatchString(s) {
		return "", false
	}
	return s, true
}

func readXRay(src DeriveSource) ([]xrayCompany, error) {
	var cs []xrayCompany
	if err := json.Unmarshal(src.Data, &cs); err != nil {
		return nil, fmt.Errorf("%s: not X-Ray's company list ([{owner_name, doms}]): %w", src.Name, err)
	}
	if len(cs) > maxXRayCompanies {
		return nil, fmt.Errorf("%s: %d companies, more than %d", src.Name, len(cs), maxXRayCompanies)
	}
	return cs, nil
}

// companyFor returns the X-Ray owner of the first host that is one of a company's domains or a
// subdomain of one.
func companyFor(cs []xrayCompany, hosts []string) (string, bool) {
	for _, h := range hosts {
		for _, c := range cs {
			for _, d := range c.Domains {
				if h == d || strings.HasSuffix(h, "."+d) {
					if owner := cleanText(c.Owner, 200); owner != "" {
						return owner, true
					}
				}
			}
		}
	}
	return "", false
}

func websiteHost(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	h := strings.TrimPrefix(strings.ToLower(u.Hostname()), "www.")
	if !hostRe.MatchString(h) {
		return ""
	}
	return h
}

var idSlugRe = regexp.MustCompile(`[^a-z0-9]+`)

// derivedID is a stable id: the English name as a slug when it has one, else the first package.
func derivedID(d SDK, used map[string]bool) string {
	base := strings.Trim(idSlugRe.ReplaceAllString(strings.ToLower(d.Name.EN), "_"), "_")
	if base == "" || !isASCII(d.Name.EN) || len(base) > 40 {
		first := ""
		if len(d.ClassPrefixes) > 0 {
			first = d.ClassPrefixes[0]
		} else if len(d.ManifestKeys) > 0 {
			first = d.ManifestKeys[0]
		}
		base = strings.Trim(idSlugRe.ReplaceAllString(strings.ToLower(first), "_"), "_")
	}
	if base == "" || !idRe.MatchString(base) {
		base = "sdk"
	}
	if strings.HasPrefix(base, "exodus") || strings.HasPrefix(base, "libchecker") {
		base = "x_" + base
	}
	id := base
	for n := 2; used[id]; n++ {
		id = base + "_" + strconv.Itoa(n)
	}
	return id
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func derivedVerification(in DeriveInputs, camille, exodusIDs []string, vendorSource string) string {
	var parts []string
	if len(camille) > 0 {
		parts = append(parts, "class_prefixes/manifest_keys: "+in.Camille.Name+" ("+strings.Join(camille, "; ")+")")
	}
	if len(exodusIDs) > 0 {
		parts = append(parts, "class_prefixes: "+in.Exodus.Name+" code signatures of tracker "+strings.Join(exodusIDs, ", ")+"; domains: their network signatures (plain domains only)")
	}
	switch vendorSource {
	case SourceXRay:
		parts = append(parts, "vendor: "+in.XRay.Name+" owner name of the tracker's website or domain")
	case "exodus-website":
		parts = append(parts, "vendor: the tracker's website domain in "+in.Exodus.Name)
	}
	return "generated by rules/cmd/gensdks; " + strings.Join(parts, "; ") + "; kind and vendor not reviewed (UNVERIFIED)"
}

// siteOf approximates a host's registrable domain: its last two labels, or three under a
// country's generic second level (example.com.cn, example.co.uk).
func siteOf(h string) string {
	labels := strings.Split(h, ".")
	n := 2
	if len(labels) >= 3 && len(labels[len(labels)-1]) == 2 && genericSecondLevel[labels[len(labels)-2]] {
		n = 3
	}
	if len(labels) <= n {
		return h
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

var genericSecondLevel = setOf("com", "net", "org", "gov", "edu", "co", "ac", "ne", "or")

// withoutNested drops prefixes that another prefix of the list already covers
// (com.baidu.cesium.ver under com.baidu.cesium): they add nothing and their look-alikes would
// fall under the parent.
func withoutNested(ps []string) []string {
	var out []string
	for _, p := range ps {
		nested := false
		for _, q := range ps {
			nested = nested || strings.HasPrefix(p, q+".")
		}
		if !nested {
			out = append(out, p)
		}
	}
	return out
}

// prefixExamples builds an entry's examples mechanically: a class under each prefix (the prefix
// itself when it names a class) and each manifest key's package as a class, must match; a
// look-alike that shares the last label's start must not; manifest keys and hosts likewise.
func prefixExamples(prefixes, keys, domains []string) *SDKExamples {
	ex := &SDKExamples{}
	for _, p := range prefixes {
		ex.Positive.Classes = append(ex.Positive.Classes, probeClass(p))
		ex.Negative.Classes = append(ex.Negative.Classes, lookAlike(p, prefixes)+".a")
	}
	for _, k := range keys {
		ex.Positive.ManifestKeys = append(ex.Positive.ManifestKeys, k)
		ex.Negative.ManifestKeys = append(ex.Negative.ManifestKeys, k+"_X")
	}
	if len(domains) > 0 {
		ex.Positive.Hosts = append(ex.Positive.Hosts, "api."+domains[0])
		// the look-alike of the registrable domain: one of a subdomain ("notapi.vungle.com")
		// would fall under a parent that another list (the cross-border trackers) claims
		ex.Negative.Hosts = append(ex.Negative.Hosts, "not"+siteOf(domains[0]))
	}
	return ex
}

// probeClass is a class the prefix must claim: "p.a", or p itself when p names a class.
func probeClass(p string) string {
	last := p[strings.LastIndexByte(p, '.')+1:]
	if startsUpper(last) {
		return p
	}
	return p + ".a"
}

// lookAlike is a package that shares p's text but not its package boundary ("com.loc" →
// "com.locx"), and that no other prefix of the same entry covers.
func lookAlike(p string, all []string) string {
	for _, suffix := range []string{"x", "zz", "_q", "_lookalike"} {
		c := p + suffix
		covered := false
		for _, q := range all {
			covered = covered || c == q || strings.HasPrefix(c, q+".")
		}
		if !covered {
			return c
		}
	}
	return p + "_lookalike_" + strconv.Itoa(len(all))
}

// HandWritten returns the SDK entries of the embedded sdks.yaml alone, indexed: the input of the
// generator. It reads only that file, so that a stale or broken sdks_derived.yaml can always be
// regenerated; the entries are validated when the whole catalogue loads.
func HandWritten() (*Catalogue, error) {
	data, err := fs.ReadFile(embeddedData(), FileSDKs)
	if err != nil {
		return nil, err
	}
	l := &loader{nodes: map[string][]*yaml.Node{}}
	items := l.parseFile(FileSDKs, "sdks", data)
	sdks := decodeItems[SDK](l, FileSDKs, items)
	if len(l.problems) > 0 {
		return nil, &LoadError{Problems: l.problems}
	}
	for i := range sdks {
		if sdks[i].Origin == "" {
			sdks[i].Origin = OriginCatalogue
		}
	}
	// The library catalogue comes along: a package libraries.yaml lists is a library's, never a
	// derived SDK's (DeriveSDKs rejects it).
	ldata, err := fs.ReadFile(embeddedData(), FileLibraries)
	if err != nil {
		return nil, err
	}
	libs := decodeItems[Library](l, FileLibraries, l.parseFile(FileLibraries, "libraries", ldata))
	if len(l.problems) > 0 {
		return nil, &LoadError{Problems: l.problems}
	}
	c := &Catalogue{sdks: sdks, libraries: libs, files: []string{FileSDKs, FileLibraries}, derivedStart: len(sdks)}
	c.buildIndexes()
	c.buildLibraryIndex()
	return c, nil
}

// withoutFile hides one file of a file system.
type withoutFile struct {
	fs.FS
	hide string
}

func (w withoutFile) Open(name string) (fs.File, error) {
	if name == w.hide {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return w.FS.Open(name)
}

func (w withoutFile) ReadDir(name string) ([]fs.DirEntry, error) {
	es, err := fs.ReadDir(w.FS, name)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(es, func(e fs.DirEntry) bool { return name == "." && e.Name() == w.hide }), nil
}

// MarshalDerived writes sdks_derived.yaml: a header naming the generator and its inputs (file
// and the first 16 hex digits of its SHA-256), then the entries.
func MarshalDerived(d Derived, in DeriveInputs) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("# GENERATED FILE, do not edit: regenerate with `go run ./rules/cmd/gensdks` (reads\n")
	buf.WriteString("# ../shared/corpus/trackers; `go test ./rules/` fails when this file is stale).\n")
	buf.WriteString("# Inputs:\n")
	for _, s := range []DeriveSource{in.Camille, in.Exodus, in.XRay} {
		sum := sha256.Sum256(s.Data)
		fmt.Fprintf(&buf, "#   %s sha256:%s\n", s.Name, hex.EncodeToString(sum[:])[:16])
	}
	buf.WriteString("# sdks: SDKs no hand-written entry of sdks.yaml covers (origin: derived; names, package\n")
	buf.WriteString("# prefixes, plain domains and owner names only, no copied text; pi is empty, vendor unverified).\n")
	buf.WriteString("# extensions: names and packages the sources add to hand-written entries, which stay\n")
	buf.WriteString("# authoritative. Examples are generated: a class under each prefix, a look-alike that must not match.\n")
	var root yaml.Node
	if err := root.Encode(d); err != nil {
		return nil, err
	}
	compact(&root, false)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// compact writes lists of scalars and the small mappings inside an entry (name, examples) in
// flow style, so that an entry takes a few lines.
func compact(n *yaml.Node, inEntry bool) {
	switch n.Kind {
	case yaml.SequenceNode:
		if inEntry {
			n.Style = yaml.FlowStyle
		}
		for _, c := range n.Content {
			compact(c, true)
		}
		if !inEntry {
			for _, c := range n.Content {
				compact(c, false) // top-level lists hold entries
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.MappingNode && (k.Value == "name" || k.Value == "examples") {
				setFlow(v)
				continue
			}
			compact(v, v.Kind == yaml.SequenceNode && k.Value != "sdks" && k.Value != "extensions")
		}
	}
}

func setFlow(n *yaml.Node) {
	n.Style = yaml.FlowStyle
	for _, c := range n.Content {
		setFlow(c)
	}
}

// Coverage is how much of camille's list and of the Exodus trackers with a code signature the
// catalogue recognises (see MeasureCoverage).
type Coverage struct {
	CamilleEntries int `json:"camille_entries"`
	CamilleHits    int `json:"camille_hits"`
	ExodusTrackers int `json:"exodus_trackers"` // trackers with a code signature
	ExodusHits     int `json:"exodus_hits"`
	SDKs           int `json:"sdks"`
	// CamilleAttributed and ExodusAttributed count entries whose classes are attributed to some
	// SDK, whatever its name: the looser measure of coverage by prefixes alone.
	CamilleAttributed int `json:"camille_attributed"`
	// CamilleLibraries counts the camille entries recognised as a catalogued library (libraries.yaml
	// or an SDK entry of kind library): their classes are a library's, not a vendor SDK's.
	CamilleLibraries int      `json:"camille_libraries"`
	ExodusAttributed int      `json:"exodus_attributed"`
	CamilleMisses    []string `json:"camille_misses"`
	ExodusMisses     []string `json:"exodus_misses"`
}

// CamillePercent and ExodusPercent are the hit rates in percent.
func (c Coverage) CamillePercent() float64 { return pct(c.CamilleHits, c.CamilleEntries) }
func (c Coverage) ExodusPercent() float64  { return pct(c.ExodusHits, c.ExodusTrackers) }

func pct(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

// MeasureCoverage checks the catalogue against the source lists with its own matchers.
//
// A camille entry {sdk_name, package_name} is recognised when a class under its package (the
// package plus ".a", or the class itself when the entry names a class) is attributed by
// SDKForClass to an SDK whose name matches the entry, that is whose Camille list holds sdk_name;
// an entry naming a manifest <meta-data> key is recognised when SDKForManifestKey attributes the
// key so. Entries the generator rejects (relative names, intent actions, too-broad packages,
// errata) count as misses.
//
// An Exodus tracker with a code signature is recognised when its signature has at least one
// plain-package alternative and a class under every such alternative is attributed to an SDK
// whose Exodus list holds the tracker's name.
func MeasureCoverage(c *Catalogue, in DeriveInputs) (Coverage, error) {
	var cov Coverage
	cov.SDKs = len(c.sdks)
	var cam []camilleEntry
	if err := json.Unmarshal(in.Camille.Data, &cam); err != nil {
		return cov, fmt.Errorf("%s: %w", in.Camille.Name, err)
	}
	for _, e := range cam {
		cov.CamilleEntries++
		name := cleanText(e.Name, 200)
		miss := func(why string) {
			cov.CamilleMisses = append(cov.CamilleMisses, fmt.Sprintf("%s %s: %s", name, e.Package, why))
		}
		if why, bad := camilleErrata[[2]string{e.Name, e.Package}]; bad {
			miss(why)
			continue
		}
		v := classifyCamille(e.Package)
		var d SDK
		var ok bool
		switch {
		case v.reason != "":
			miss(v.reason)
			continue
		case v.key != "":
			d, ok = c.SDKForManifestKey(v.key)
		default:
			d, ok = c.SDKForClass(probeClass(v.prefix))
		}
		if ok {
			cov.CamilleAttributed++
		}
		if !ok && v.key == "" {
			// an open-source library camille lists among SDKs, recognised as that library
			if o := c.ClassOwner(probeClass(v.prefix)); o.Kind == "library" {
				cov.CamilleAttributed++
				cov.CamilleHits++
				cov.CamilleLibraries++
				continue
			}
		}
		switch {
		case !ok:
			miss("attributed to no SDK")
		case !slices.Contains(d.Camille, name):
			miss("attributed to " + d.ID + ", which does not carry the name")
		default:
			cov.CamilleHits++
		}
	}
	var top struct {
		Trackers map[string]exodusTracker `json:"trackers"`
	}
	if err := json.Unmarshal(in.Exodus.Data, &top); err != nil {
		return cov, fmt.Errorf("%s: %w", in.Exodus.Name, err)
	}
	ids := make([]string, 0, len(top.Trackers))
	for id := range top.Trackers {
		ids = append(ids, id)
	}
	sortTrackerIDs(ids)
	for _, id := range ids {
		tr := top.Trackers[id]
		if strings.TrimSpace(tr.CodeSignature) == "" {
			continue
		}
		cov.ExodusTrackers++
		name := cleanText(tr.Name, 200)
		var prefixes []string
		for _, alt := range strings.Split(tr.CodeSignature, "|") {
			if p, ok := derivePrefix(strings.TrimSpace(alt)); ok {
				prefixes = append(prefixes, p)
			}
		}
		anySDK := len(prefixes) > 0
		for _, p := range prefixes {
			_, ok := c.SDKForClass(probeClass(p))
			anySDK = anySDK && ok
		}
		if anySDK {
			cov.ExodusAttributed++
		}
		why := ""
		if len(prefixes) == 0 {
			why = "no plain-package alternative in " + tr.CodeSignature
		}
		for _, p := range prefixes {
			d, ok := c.SDKForClass(probeClass(p))
			switch {
			case !ok:
				why = p + " attributed to no SDK"
			case !slices.Contains(d.Exodus, name):
				why = p + " attributed to " + d.ID + ", which does not carry the name"
			default:
				continue
			}
			break
		}
		if why != "" {
			cov.ExodusMisses = append(cov.ExodusMisses, fmt.Sprintf("tracker %s %s: %s", id, name, why))
			continue
		}
		cov.ExodusHits++
	}
	return cov, nil
}

// ReadDeriveInputs reads the generator's inputs from a trackers folder
// (../shared/corpus/trackers).
func ReadDeriveInputs(dir string) (DeriveInputs, error) {
	var in DeriveInputs
	for _, x := range []struct {
		dst  *DeriveSource
		name string
	}{{&in.Camille, CamilleFile}, {&in.Exodus, ExodusFile}, {&in.XRay, XRayFile}} {
		f, err := os.Open(filepath.Join(dir, x.name))
		if err != nil {
			return in, err
		}
		data, err := io.ReadAll(io.LimitReader(f, maxDeriveInput+1))
		f.Close()
		if err != nil {
			return in, fmt.Errorf("%s: %w", x.name, err)
		}
		*x.dst = DeriveSource{Name: x.name, Data: data}
	}
	return in, nil
}

// LoadWithDerived loads the embedded catalogue with sdks_derived.yaml replaced by data: the
// generator checks its output with it before writing, the tests compare against it.
func LoadWithDerived(data []byte) (*Catalogue, error) {
	return Load(replacedFile{withoutFile{embeddedData(), FileSDKsDerived}, FileSDKsDerived, data})
}

// replacedFile serves one file from memory on top of a file system.
type replacedFile struct {
	withoutFile
	name string
	data []byte
}

func (r replacedFile) Open(name string) (fs.File, error) {
	if name == r.name {
		return fstest.MapFS{name: &fstest.MapFile{Data: r.data}}.Open(name)
	}
	return r.withoutFile.Open(name)
}

func (r replacedFile) ReadDir(name string) ([]fs.DirEntry, error) {
	return r.withoutFile.ReadDir(name) // the replaced file is a known catalogue file either way
}
