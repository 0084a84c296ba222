package miniprogram

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// catalogue is the part of *rules.Catalogue the analysis uses.
type catalogue interface {
	SDKForHost(host string) (rules.SDK, bool)
	SDKs() []rules.SDK
}

// Platforms.
const (
	PlatformWeChat = "wechat"
	PlatformAlipay = "alipay"
)

// maxScanBytesPerFile bounds the JavaScript/markup scanned per file; the rest is skipped and reported.
const maxScanBytesPerFile = 64 << 20

// sdkHint recognises an SDK from a file or module name (base name, lower case) or from a string in
// its code. These are pilmon's own heuristics, read off real packages (ald-stat.js, uma.js,
// xmadx_sdk.min.js in ../shared/corpus/miniprograms) or recalled (marked); the catalogue's
// miniprogram_markers add to them.
type sdkHint struct {
	ID       string
	Exact    []string // base name equals
	Contains []string // base name contains
	Markers  []string // code contains
}

var sdkHints = []sdkHint{
	{ID: "aladdin_stat", Contains: []string{"ald-stat", "ald-game", "ald_stat"}, Markers: []string{"aldstat_uuid", "aldwx.com"}},
	{ID: "umeng_analytics", Exact: []string{"uma.js", "uma.min.js"}, Contains: []string{"umtrack"}, Markers: []string{"[UMENG] -- ", "umini.shujupie.com"}},
	{ID: "tencent_mta", Contains: []string{"mta_analysis", "mta-wechat", "mta-analysis"}, Markers: []string{"pingtas.qq.com"}}, // recall
	{ID: "growingio", Contains: []string{"gio-minp", "gio-wechat", "gio-alip", "growingio"}, Markers: []string{"growingio.com"}},
	{ID: "sensors", Contains: []string{"sensorsdata"}, Markers: []string{"sensorsdata2015", "sensorsdata.cn"}},
	{ID: "talkingdata", Contains: []string{"tdweapp", "talkingdata"}, Markers: []string{"tdweapp", "talkingdata.com"}},
	{ID: "baidu_mobstat", Contains: []string{"mtj-wx-sdk", "mtj-alipay-sdk"}, Markers: []string{"hmma.baidu.com"}}, // recall
	{ID: "thinkingdata", Contains: []string{"thinkingdata"}, Markers: []string{"thinkingdata.cn"}},
	{ID: "zhuge", Contains: []string{"zhuge"}, Markers: []string{"zhugeio.com"}},
	{ID: "amap", Contains: []string{"amap-wx"}},
	{ID: "tencent_location", Contains: []string{"qqmap-wx-jssdk"}},
	{ID: "xmadx", Contains: []string{"xmadx_sdk", "xmadx-sdk"}, Markers: []string{"xmadx.net"}},
}

// identity says what is being inspected, for mp.identity.
type identity struct {
	AppID string
	Name  string // folder or file name when there is no app id
}

// analysis holds the state of one inspection.
type analysis struct {
	cat     catalogue
	catSDKs map[string]rules.SDK
	// catMarkers are the catalogue's miniprogram_markers as (sdk id, marker), sorted by id.
	catMarkers [][2]string
	refs       []string
	platform   string
	config     *appConfig
	errs       []error

	apis     map[string]*apiHit // key api + "\x00" + file
	domains  map[string]*domainHit
	sdks     map[string]string // id -> first file
	handlers map[string]bool
}

type apiHit struct {
	api, file, sdk string
	line           int
	pi             []string
	obj, name      string
	scopes         []string
}

// domainHit is what was seen of one host: its strongest URL context and whether an http:// or
// ws:// URL of it sits in that context (a cleartext string elsewhere says nothing about requests).
type domainHit struct {
	sdk       string
	context   string
	cleartext bool
}

// analyze turns a mini-program's files into observations. It never panics on content; problems
// are returned with the file named, and everything else found is kept.
func analyze(ctx context.Context, files []File, id identity, cat catalogue, refs []string) ([]scanner.Observation, []error) {
	a := &analysis{
		cat: cat, refs: refs,
		apis: map[string]*apiHit{}, domains: map[string]*domainHit{}, sdks: map[string]string{}, handlers: map[string]bool{},
		catSDKs: map[string]rules.SDK{},
	}
	if cat != nil {
		for _, s := range cat.SDKs() {
			a.catSDKs[s.ID] = s
			for _, m := range s.MiniProgramMarkers {
				if m != "" {
					a.catMarkers = append(a.catMarkers, [2]string{s.ID, m})
				}
			}
		}
		sort.Slice(a.catMarkers, func(i, j int) bool { return a.catMarkers[i][0] < a.catMarkers[j][0] })
	}
	a.platform = detectPlatform(files)
	a.readConfigs(files)
	for _, f := range files {
		if ctx.Err() != nil {
			a.errs = append(a.errs, fmt.Errorf("stopped before %s: %w", f.Name, ctx.Err()))
			break
		}
		a.file(f)
	}
	return a.observations(id), a.errs
}

func detectPlatform(files []File) string {
	for _, f := range files {
		switch strings.ToLower(path.Ext(f.Name)) {
		case ".axml", ".acss", ".sjs":
			return PlatformAlipay
		}
		if path.Base(innerPath(f.Name)) == "mini.project.json" {
			return PlatformAlipay
		}
	}
	return PlatformWeChat
}

// readConfigs reads the shallowest app.json and app-config.json (a project folder may keep the
// program under miniprogramRoot, e.g. "miniprogram/app.json").
func (a *analysis) readConfigs(files []File) {
	best := map[string]File{}
	depth := func(n string) int { return strings.Count(innerPath(n), "/") }
	for _, f := range files {
		b := path.Base(innerPath(f.Name))
		if b != "app.json" && b != "app-config.json" {
			continue
		}
		if cur, ok := best[b]; !ok || depth(f.Name) < depth(cur.Name) || depth(f.Name) == depth(cur.Name) && f.Name < cur.Name {
			best[b] = f
		}
	}
	for _, b := range []string{"app.json", "app-config.json"} {
		f, ok := best[b]
		if !ok {
			continue
		}
		c, errs := parseAppConfig(f.Data)
		for _, e := range errs {
			a.errs = append(a.errs, fmt.Errorf("%s: %w", f.Name, e))
		}
		if c == nil {
			continue
		}
		if a.config == nil {
			a.config = c
		} else {
			a.config.merge(c)
		}
		for _, s := range c.Strings {
			var urls []urlRef
			findURLs([]byte(s.Value), 1, "", &urls)
			for _, u := range urls {
				u.Context = URLContextString
				if s.Domain {
					u.Context = URLContextConfig
				} else if isAssetURL(u.URL) {
					u.Context = URLContextAsset
				}
				a.addDomain(u, f.Name, "")
			}
		}
	}
}

var markupScope = regexp.MustCompile(`(?i)\bscope\s*=\s*["']?([A-Za-z]+)`)

func (a *analysis) file(f File) {
	ext := strings.ToLower(path.Ext(f.Name))
	switch ext {
	case ".js", ".wxs", ".sjs", ".mjs", ".html", ".wxml", ".axml", ".swan", ".qml", ".ttml":
	default:
		return
	}
	data := f.Data
	if len(data) > maxScanBytesPerFile {
		a.errs = append(a.errs, fmt.Errorf("%s: %d bytes, only the first %d scanned", f.Name, len(data), maxScanBytesPerFile))
		data = data[:maxScanBytesPerFile]
	}
	fileSDK := a.sdkFor(f.Name)
	if fileSDK != "" {
		a.addSDK(fileSDK, f.Name)
	}
	a.markers(f.Name, data)
	switch ext {
	case ".js", ".wxs", ".sjs", ".mjs":
		a.js(f.Name, data, fileSDK)
	default:
		a.markup(f.Name, data, ext == ".html")
	}
}

func (a *analysis) markers(name string, data []byte) {
	for _, h := range sdkHints {
		for _, m := range h.Markers {
			if bytes.Contains(data, []byte(m)) {
				a.addSDK(h.ID, name)
				break
			}
		}
	}
	for _, m := range a.catMarkers {
		if bytes.Contains(data, []byte(m[1])) {
			a.addSDK(m[0], name)
		}
	}
}

func (a *analysis) js(name string, data []byte, fileSDK string) {
	var wanted map[string]bool
	if bytes.Contains(data, []byte("openType")) || bytes.Contains(data, []byte("open-type")) {
		wanted = map[string]bool{}
		for k := range buttonOpenTypes {
			wanted[k] = true
		}
	}
	r := scanJS(data, wanted)
	if r.Truncated {
		a.errs = append(a.errs, fmt.Errorf("%s: more than %d hits, the rest of the file was not scanned", name, maxHitsPerFile))
	}
	for _, m := range r.Modules {
		if id := a.sdkFor(m); id != "" {
			a.addSDK(id, name+"#"+m)
		}
	}
	for _, c := range r.APIs {
		if c.Obj == "wx" && privacyHandlerAPIs[c.Name] {
			a.handlers[c.Name] = true
		}
		info, ok := lookupAPI(c.Obj, c.Name)
		if !ok {
			continue
		}
		sdk := fileSDK
		if c.Module != "" {
			sdk = a.sdkFor(c.Module)
		}
		pi := info.PI
		for _, sc := range c.Scopes {
			pi = append(slices.Clip(pi), authScopePI[sc]...)
		}
		a.addAPI(c.Obj, c.Name, c.Obj+"."+c.Name, name, c.Line, sdk, pi, c.Scopes...)
	}
	for _, s := range r.Strings {
		a.addAPI("button", s.Value, "button:"+s.Value, name, s.Line, fileSDK, buttonOpenTypes[s.Value])
	}
	for _, u := range r.URLs {
		sdk := fileSDK
		if u.Module != "" {
			sdk = a.sdkFor(u.Module)
		}
		a.addDomain(u, name, sdk)
	}
}

// markup scans WXML/AXML (and a compiled page-frame.html) for privacy buttons and URLs.
func (a *analysis) markup(name string, data []byte, compiled bool) {
	lineAt := newLineIndex(data)
	for _, m := range openTypeAttrs(data) {
		v := string(data[m[2]:m[3]])
		pi, ok := buttonOpenTypes[v]
		if !ok {
			continue
		}
		var scopes []string
		if v == "getAuthorize" { // Alipay: the scope attribute of the same tag says what is asked
			tagEnd := bytes.IndexByte(data[m[1]:], '>')
			tagStart := bytes.LastIndexByte(data[:m[0]], '<')
			if tagEnd >= 0 && tagStart >= 0 {
				if s := markupScope.FindSubmatch(data[tagStart : m[1]+tagEnd]); s != nil {
					scopes = []string{string(s[1])}
					if strings.EqualFold(string(s[1]), "phoneNumber") {
						pi = []string{"phone_number"}
					}
				}
			}
		}
		a.addAPI("button", v, "button:"+v, name, lineAt(m[0]), "", pi, scopes...)
	}
	if compiled && (bytes.Contains(data, []byte("openType")) || bytes.Contains(data, []byte("open-type"))) {
		for v, pi := range buttonOpenTypes {
			for off := 0; ; {
				k := bytes.Index(data[off:], []byte(v))
				if k < 0 {
					break
				}
				at := off + k
				off = at + len(v)
				if at > 0 && off < len(data) && (data[at-1] == '\'' || data[at-1] == '"') && data[off] == data[at-1] {
					a.addAPI("button", v, "button:"+v, name, lineAt(at-1), "", pi)
				}
			}
		}
	}
	// Markup only shows and links: its URLs are assets or strings, never requests.
	var urls []urlRef
	findURLs(data, 1, "", &urls)
	for _, u := range urls {
		u.Context = URLContextString
		if isAssetURL(u.URL) {
			u.Context = URLContextAsset
		}
		a.addDomain(u, name, "")
	}
}

// openTypeAttrs finds open-type="X" / openType="X" attributes: [start, end, valueStart, valueEnd].
func openTypeAttrs(data []byte) [][4]int {
	var out [][4]int
	for _, attr := range []string{"open-type", "openType", "opentype", "OpenType"} {
		for off := 0; len(out) < maxHitsPerFile; {
			k := bytes.Index(data[off:], []byte(attr))
			if k < 0 {
				break
			}
			start := off + k
			i := start + len(attr)
			off = i
			for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
				i++
			}
			if i >= len(data) || data[i] != '=' {
				continue
			}
			i++
			for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r' || data[i] == '"' || data[i] == '\'') {
				i++
			}
			vs := i
			for i < len(data) && (data[i]|0x20) >= 'a' && (data[i]|0x20) <= 'z' {
				i++
			}
			if i > vs {
				out = append(out, [4]int{start, i, vs, i})
			}
		}
	}
	return out
}

func newLineIndex(data []byte) func(off int) int {
	var starts []int
	for i, c := range data {
		if c == '\n' {
			starts = append(starts, i)
		}
	}
	return func(off int) int { return sort.SearchInts(starts, off) + 1 }
}

func (a *analysis) addAPI(obj, fname, api, file string, line int, sdk string, pi []string, scopes ...string) {
	key := api + "\x00" + file
	if h, ok := a.apis[key]; ok {
		if line < h.line {
			h.line = line
		}
		if len(scopes) > 0 && len(h.scopes) < 32 {
			h.scopes = uniqueSorted(append(h.scopes, scopes...))
			h.pi = uniqueSorted(append(h.pi, pi...))
		}
		return
	}
	a.apis[key] = &apiHit{api: api, file: file, sdk: sdk, line: line, pi: append([]string{}, pi...), obj: obj, name: fname, scopes: uniqueSorted(slices.Clone(scopes))}
}

func (a *analysis) addSDK(id, file string) {
	if cur, ok := a.sdks[id]; !ok || file < cur {
		a.sdks[id] = file
	}
}

func (a *analysis) addDomain(u urlRef, file, sdk string) {
	d, ok := a.domains[u.Host]
	if !ok {
		d = &domainHit{}
		a.domains[u.Host] = d
		embedded := false
		if a.cat != nil {
			if s, ok := a.cat.SDKForHost(u.Host); ok {
				d.sdk = s.ID
				// A host names its vendor; it reveals an SDK embedded in the program only when the
				// vendor ships one for mini-programs. An app-native SDK's host (weixin.qq.com of
				// the WeChat Open SDK) is the platform or a web service the program talks to.
				embedded = len(s.MiniProgramMarkers) > 0
			}
		}
		if d.sdk == "" {
			d.sdk = sdkForHostHint(u.Host)
			embedded = d.sdk != ""
		}
		if embedded {
			a.addSDK(d.sdk, file)
		}
	}
	clear := u.Scheme == "http" || u.Scheme == "ws"
	switch r, cur := urlContextRank(u.Context), urlContextRank(d.context); {
	case r > cur:
		d.context, d.cleartext = u.Context, clear
	case r == cur:
		d.cleartext = d.cleartext || clear
	}
}

// sdkForHostHint covers SDK hosts the catalogue may lack (the mini-program-only analytics vendors).
func sdkForHostHint(host string) string {
	for _, h := range []struct{ dom, id string }{
		{"aldwx.com", "aladdin_stat"}, {"shujupie.com", "umeng_analytics"}, {"umeng.com", "umeng_analytics"},
		{"growingio.com", "growingio"}, {"xmadx.net", "xmadx"}, {"talkingdata.com", "talkingdata"},
		{"sensorsdata.cn", "sensors"},
	} {
		if host == h.dom || strings.HasSuffix(host, "."+h.dom) {
			return h.id
		}
	}
	return ""
}

// innerPath strips the "<package>.wxapkg!" prefix of files read from a folder of packages.
func innerPath(n string) string {
	if i := strings.LastIndex(n, ".wxapkg!"); i >= 0 {
		return n[i+len(".wxapkg!"):]
	}
	return n
}

// sdkFor recognises an SDK file or module from its name, by pilmon's hints and then by the
// catalogue's miniprogram_markers.
func (a *analysis) sdkFor(name string) string {
	if id := sdkForName(name); id != "" {
		return id
	}
	b := strings.ToLower(path.Base(innerPath(name)))
	for _, m := range a.catMarkers {
		if strings.Contains(b, strings.ToLower(m[1])) {
			return m[0]
		}
	}
	return ""
}

// sdkForName recognises an SDK file or module from its name.
func sdkForName(name string) string {
	b := strings.ToLower(path.Base(innerPath(name)))
	for _, h := range sdkHints {
		for _, e := range h.Exact {
			if b == e {
				return h.ID
			}
		}
		for _, c := range h.Contains {
			if strings.Contains(b, c) {
				return h.ID
			}
		}
	}
	return ""
}

// declaration is what app.json says of a WeChat API that needs a declaration: those the platform
// requires in requiredPrivateInfos (getLocation & co.; the wechat_mp platform rule). The use is
// declared when requiredPrivateInfos lists the API or its permission scope states a reason (desc):
// a location use explained in permission.scope.userLocation is declared, whatever
// requiredPrivateInfos says. ok is false when the API needs no declaration, or when no app config
// was read (a sub-package alone): then nothing is known either way.
type declaration struct {
	declared bool
	listed   bool   // in requiredPrivateInfos
	scope    string // the permission scope whose desc states a reason, "" if none
}

func (a *analysis) declared(h *apiHit) (d declaration, ok bool) {
	if a.platform != PlatformWeChat || h.obj != "wx" || a.config == nil {
		return d, false
	}
	info := wxAPIs[h.name]
	if !info.PrivateInfo {
		return d, false
	}
	d.listed = contains(a.config.RequiredPrivateInfos, h.name)
	for _, sc := range declaringScopes(info) {
		if a.config.Permissions[sc] != "" {
			d.scope = sc
			break
		}
	}
	d.declared = d.listed || d.scope != ""
	return d, true
}

// declaringScopes are the permission scopes whose stated reason declares a use of the API: its own
// scope, and for a foreground location API the location scope (the reason given for using the
// user's location covers chooseLocation and onLocationChange as much as getLocation). Background
// location is a use of its own: only its own scope declares it.
func declaringScopes(info piAPI) []string {
	var out []string
	if info.Scope != "" {
		out = append(out, info.Scope)
	}
	if slices.Contains(info.PI, "location_background") {
		return append(out, "scope.userLocationBackground")
	}
	if slices.Contains(info.PI, "location_precise") {
		out = append(out, "scope.userLocation")
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (a *analysis) obs(kind, subject string, attrs map[string]any) scanner.Observation {
	return scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs, EvidenceRefs: a.refs, Inspector: Name, InspectorVersion: Version}
}

func (a *analysis) observations(id identity) []scanner.Observation {
	var out []scanner.Observation
	subject := id.AppID
	if subject == "" {
		subject = id.Name
	}
	pages := 0
	if a.config != nil {
		pages = len(a.config.Pages)
	}
	out = append(out, a.obs("mp.identity", subject, map[string]any{"platform": a.platform, "appid": id.AppID, "pages": pages}))

	if a.config != nil {
		for _, v := range a.config.RequiredPrivateInfos {
			out = append(out, a.obs("mp.privacy_config", "requiredPrivateInfos:"+v, map[string]any{"setting": "requiredPrivateInfos", "value": v, "present": true}))
		}
		for scope, desc := range a.config.Permissions {
			out = append(out, a.obs("mp.privacy_config", "permission:"+scope, map[string]any{"setting": "permission", "value": scope, "reason": desc, "present": desc != ""}))
		}
		if a.config.HasPrivacyCheck {
			out = append(out, a.obs("mp.privacy_config", "__usePrivacyCheck__", map[string]any{"setting": "__usePrivacyCheck__", "value": fmt.Sprint(a.config.UsePrivacyCheck), "present": true}))
		}
	}
	// A sub-package alone has no app config; whether the program handles the privacy flow is only
	// known from the main package, so the setting is reported only when a config was read.
	if a.platform == PlatformWeChat && a.config != nil {
		var hs []string
		for h := range a.handlers {
			hs = append(hs, "wx."+h)
		}
		sort.Strings(hs)
		out = append(out, a.obs("mp.privacy_config", "privacy_authorization_handler", map[string]any{"setting": "privacy_authorization_handler", "value": strings.Join(hs, ","), "present": len(hs) > 0}))
	}
	for _, h := range a.apis {
		attrs := map[string]any{"api": h.api, "pi": h.pi, "file": h.file, "line": h.line, "sdk": h.sdk}
		if d, ok := a.declared(h); ok {
			attrs["declared"] = d.declared
			attrs["in_required_private_infos"] = d.listed
			attrs["permission_scope"] = d.scope
		}
		if len(h.scopes) > 0 {
			attrs["scopes"] = h.scopes
		}
		out = append(out, a.obs("mp.api_call", h.api, attrs))
	}
	for host, d := range a.domains {
		out = append(out, a.obs("mp.domain", host, map[string]any{"host": host, "sdk": d.sdk, "cleartext": d.cleartext, "context": d.context}))
	}
	for id, file := range a.sdks {
		pi := []string{}
		if s, ok := a.catSDKs[id]; ok && s.PI != nil {
			pi = s.PI
		}
		out = append(out, a.obs("mp.sdk", id, map[string]any{"sdk": id, "file": file, "pi": pi}))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		if out[i].Subject != out[j].Subject {
			return out[i].Subject < out[j].Subject
		}
		fi, _ := out[i].Attributes["file"].(string)
		fj, _ := out[j].Attributes["file"].(string)
		return fi < fj
	})
	return out
}
