package miniprogram

import (
	"bytes"
	"strings"
)

// apiRef is one wx.X / my.X member access in code (not in a string or comment).
type apiRef struct {
	Obj    string // "wx" or "my"
	Name   string
	Line   int
	Module string // define("module", …) the access sits in, in a compiled app-service.js
	// Scopes are the scope strings found in the call's first arguments (see scopePrefix).
	Scopes []string
}

// scopePrefix names the APIs whose requested scopes are read from the string literals of the
// next scopeWindow tokens: wx.authorize({scope: "scope.record"}), my.getAuthCode({scopes: ["auth_user"]}).
var scopePrefix = map[string]string{"wx.authorize": "scope.", "my.getAuthCode": "auth_"}

const scopeWindow = 40

// urlRef is one http(s)/ws(s) URL found inside a string literal.
type urlRef struct {
	URL    string
	Host   string
	Scheme string
	Line   int
	Module string
	// Context says where the URL sits (URLContext*): only a request-making position shows that the
	// program talks to the host.
	Context string
}

// Where a URL was found, strongest first. A URL is a request only where the code or configuration
// hands it to the network: an argument of a request API, a domain list in the configuration, or
// (a judgement call, kept because wrappers around wx.request almost always take their base URL
// from such a variable) a bare URL assigned to a variable or property named like a request URL
// ("baseUrl", "apiHost", "serverDomain"; names of media such as "imgUrl" excluded). Everything else
// is a string in the code: warning and error texts of libraries ("see http://… for details"),
// links in markup, data. Image and static-resource paths are assets. Comments are never read.
const (
	URLContextRequest     = "request"
	URLContextConfig      = "config"
	URLContextURLVariable = "url_variable"
	URLContextString      = "string_literal"
	URLContextAsset       = "asset"
)

// urlContextRank orders contexts: a host's strongest context is what its observation reports.
func urlContextRank(c string) int {
	switch c {
	case URLContextRequest, URLContextConfig:
		return 4
	case URLContextURLVariable:
		return 3
	case URLContextString:
		return 2
	case URLContextAsset:
		return 1
	}
	return 0
}

// requestAPIs are the APIs whose url argument is a network request.
var requestAPIs = map[string]bool{
	"wx.request": true, "wx.uploadFile": true, "wx.downloadFile": true, "wx.connectSocket": true,
	"my.request": true, "my.httpRequest": true, "my.uploadFile": true, "my.downloadFile": true, "my.connectSocket": true,
}

// assetExts are the extensions of static resources; a URL whose last path segment carries one
// (qiniu's "x.jpg-CONminb" and "x.png!thumb" styles included) is an asset, not a request.
var assetExts = []string{".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".bmp", ".css", ".woff", ".woff2",
	".ttf", ".otf", ".eot", ".mp3", ".mp4", ".m4a", ".wav", ".aac", ".ogg", ".webm", ".mov", ".avi", ".flv", ".m3u8"}

// isAssetURL reports whether u points at an image or another static resource.
func isAssetURL(u string) bool {
	u = strings.ToLower(u)
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return false
	}
	path := rest[slash:]
	for _, dir := range []string{"/static/", "/images/", "/image/", "/img/", "/imgs/", "/icons/", "/assets/", "/fonts/"} {
		if strings.Contains(path, dir) && !strings.HasSuffix(path, "/") {
			return true
		}
	}
	seg := path[strings.LastIndexByte(path, '/')+1:]
	for _, ext := range assetExts {
		k := strings.Index(seg, ext)
		if k < 0 {
			continue
		}
		end := k + len(ext)
		if end == len(seg) || !isIdentPart(seg[end]) {
			return true
		}
	}
	return false
}

// urlName says a variable or property name holds a request URL ("baseUrl", "API_HOST",
// "serverDomain"), not a media one ("imgUrl", "avatarUrl").
func urlName(name string) bool {
	n := strings.ToLower(name)
	for _, m := range []string{"img", "image", "pic", "icon", "avatar", "cover", "logo", "banner", "video", "audio", "music", "photo", "thumb", "poster", "bg", "background", "font", "link", "href", "page", "share", "doc", "help", "agreement", "policy"} {
		if strings.Contains(n, m) {
			return false
		}
	}
	for _, m := range []string{"url", "uri", "host", "domain", "api", "server", "endpoint", "base", "gateway", "socket"} {
		if strings.Contains(n, m) {
			return true
		}
	}
	return false
}

// bareURL reports whether the string literal s is one URL (possibly the head of a concatenation:
// "http://host/api/" + path), not a sentence or markup that mentions one.
func bareURL(s []byte) bool {
	s = bytes.TrimSpace(s)
	for i := 0; i < len(s) && i < 6; i++ {
		if s[i] == ':' {
			return i >= 2 && (bytes.HasPrefix(s[i:], []byte("://")) || bytes.HasPrefix(s[i:], []byte(`:\/\/`))) &&
				bytes.IndexAny(s, " \t\n\r<>\"'") < 0
		}
		if (s[i]|0x20) < 'a' || (s[i]|0x20) > 'z' {
			return false
		}
	}
	return false
}

// strRef is a string literal equal to one of the values the caller asked for.
type strRef struct {
	Value string
	Line  int
}

// jsScan is what scanJS found in one file.
type jsScan struct {
	APIs    []apiRef
	URLs    []urlRef
	Strings []strRef
	// Modules are the define("…") module names of a compiled bundle, in order.
	Modules []string
	// Truncated says a per-file bound was reached and the rest of the file was not scanned.
	Truncated bool
}

// maxHitsPerFile bounds what one file can add, whatever its size.
const maxHitsPerFile = 200_000

// scanJS finds wx.*/my.* member accesses, URLs in strings and, when wanted is not nil, string
// literals equal to one of wanted's keys.
//
// Minified code reaches the API objects through aliases too, and those count as accesses:
// `var e=wx;e.getLocation(…)` (and `e["getLocation"]`), `const {getLocation:t,chooseImage}=wx`
// (each destructured key), as well as the plain `wx["getLocation"](…)`. Aliases are scoped by
// braces: an alias holds in the block it is bound in and the blocks inside it, unless a function
// parameter, catch binding or var/let/const of the same name shadows it there or it is assigned
// something else.
func scanJS(src []byte, wanted map[string]bool) jsScan {
	var r jsScan
	var module string
	// member-access state machine: obj . name | obj [ "name" ]
	var obj string
	var objLine, state int
	var prev, prev2, prev3 token
	hits := 0
	scopeAt, scopeLeft, scopePfx := -1, 0, ""
	var al aliases
	al.scopes = []jsScope{{}}
	al.off = !mayAlias(src)
	idx := 0
	// A request API's call: reqAt is the index of its name token, reqDepth the bracket depth inside
	// its argument list (0 outside one).
	reqAt, reqDepth := -1, 0
	emit := func(o, name string, line int) {
		r.APIs = append(r.APIs, apiRef{Obj: o, Name: name, Line: line, Module: module})
		if p, ok := scopePrefix[o+"."+name]; ok {
			scopeAt, scopeLeft, scopePfx = len(r.APIs)-1, scopeWindow, p
		}
		if requestAPIs[o+"."+name] {
			reqAt = idx
		}
		hits++
	}
	lexJS(src, func(t token) bool {
		idx++
		defer func() { prev3, prev2, prev = prev2, prev, t }()
		if t.Kind == tokPunct {
			switch t.Text[0] {
			case '(':
				if reqDepth > 0 {
					reqDepth++
				} else if reqAt == idx-1 || reqAt == idx-2 && prev.Kind == tokPunct && prev.Text[0] == ']' { // wx.request(  wx["request"](
					reqDepth = 1
				}
			case '[', '{':
				if reqDepth > 0 {
					reqDepth++
				}
			case ')', ']', '}':
				if reqDepth > 0 {
					reqDepth--
				}
			}
		}
		if scopeLeft > 0 {
			scopeLeft--
			if t.Kind == tokString && len(t.Text) < 64 && bytes.HasPrefix(t.Text, []byte(scopePfx)) && len(r.APIs[scopeAt].Scopes) < 16 {
				r.APIs[scopeAt].Scopes = append(r.APIs[scopeAt].Scopes, string(t.Text))
			}
		}
		al.before(t, idx)
		switch state {
		case 1:
			state = 0
			member := t.Kind == tokPunct && (t.Text[0] == '.' || t.Text[0] == '[')
			if al.bind != nil {
				b := al.bind
				al.bind = nil
				switch {
				case b.keys != nil && !member:
					for _, k := range b.keys {
						emit(obj, k.name, k.line)
					}
				case b.name != "" && !member:
					al.set(b.name, obj, b.declared)
				case b.name != "":
					al.set(b.name, "", b.declared)
				}
			}
			if member {
				state = 2
				if t.Text[0] == '[' {
					state = 3
				}
				al.after(t, prev, prev2, prev3, idx)
				return true
			}
		case 2:
			state = 0
			if t.Kind == tokIdent {
				emit(obj, string(t.Text), objLine)
				al.after(t, prev, prev2, prev3, idx)
				return hits < maxHitsPerFile || r.truncate()
			}
		case 3:
			state = 0
			if t.Kind == tokString {
				emit(obj, string(t.Text), objLine)
			}
		}
		switch t.Kind {
		case tokIdent:
			afterDot := prev.Kind == tokPunct && prev.Text[0] == '.'
			if !afterDot {
				o := ""
				if len(t.Text) == 2 && (t.Text[0] == 'w' && t.Text[1] == 'x' || t.Text[0] == 'm' && t.Text[1] == 'y') {
					o = string(t.Text)
					// X = wx   and   {…} = wx: decided by the next token (a member access is no alias)
					if prev.Kind == tokPunct && prev.Text[0] == '=' {
						if prev2.Kind == tokIdent && !(prev3.Kind == tokPunct && prev3.Text[0] == '.') && !isKeyword(prev2.Text) {
							al.bind = &pendingBind{name: string(prev2.Text), declared: al.lastDecl == idx-2}
						} else if prev2.Kind == tokPunct && prev2.Text[0] == '}' && al.keysClosedAt == idx-2 {
							al.bind = &pendingBind{keys: append([]destructKey{}, al.lastKeys...)}
						}
					}
				} else {
					o = al.resolve(string(t.Text))
				}
				if o != "" {
					obj, objLine, state = o, t.Line, 1
				}
			}
		case tokString:
			if prev.Kind == tokPunct && prev.Text[0] == '(' && prev2.Kind == tokIdent && string(prev2.Text) == "define" {
				module = string(t.Text)
				r.Modules = append(r.Modules, module)
			}
			if wanted != nil && len(t.Text) < 64 && wanted[string(t.Text)] {
				r.Strings = append(r.Strings, strRef{string(t.Text), t.Line})
				hits++
			}
			n := findURLs(t.Text, t.Line, module, &r.URLs)
			if n > 0 {
				ctx := stringURLContext(t.Text, n, reqDepth, prev, prev2)
				for i := len(r.URLs) - n; i < len(r.URLs); i++ {
					r.URLs[i].Context = ctx
					if isAssetURL(r.URLs[i].URL) {
						r.URLs[i].Context = URLContextAsset
					}
				}
			}
			hits += n
		}
		al.after(t, prev, prev2, prev3, idx)
		return hits < maxHitsPerFile || r.truncate()
	})
	if state == 1 && al.bind != nil && al.bind.keys != nil { // "const {getLocation}=wx" at the very end
		for _, k := range al.bind.keys {
			emit(obj, k.name, k.line)
		}
	}
	return r
}

// stringURLContext is the context of the n URLs of string literal s: a request when it is the url of
// a request API's call (its first argument, or the "url" of the options object, reqDepth 1 or 2),
// a URL variable when it is assigned to a name like a request URL, a plain string otherwise (and
// always when s is more than one URL).
func stringURLContext(s []byte, n, reqDepth int, prev, prev2 token) string {
	if n != 1 || !bareURL(s) {
		return URLContextString
	}
	key := ""
	if prev.Kind == tokPunct && (prev.Text[0] == ':' || prev.Text[0] == '=' && len(prev.Text) == 1) &&
		(prev2.Kind == tokIdent || prev2.Kind == tokString && identLike(prev2.Text)) {
		key = string(prev2.Text)
	}
	switch {
	case reqDepth == 1 && prev.Kind == tokPunct && prev.Text[0] == '(':
		return URLContextRequest
	case reqDepth == 2 && prev.Kind == tokPunct && prev.Text[0] == ':' && strings.EqualFold(key, "url"):
		return URLContextRequest
	case key != "" && urlName(key):
		return URLContextURLVariable
	}
	return URLContextString
}

// identLike reports whether a quoted key could be a name ("baseUrl"), not a value before ":" (the
// other branch of a ternary).
func identLike(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !isIdentPart(c) || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------- aliases of wx / my

// jsScope is a block ("{…}") or the expression body of an arrow function. names maps a name
// bound in it to the API object it aliases ("wx", "my") or "" when it shadows an alias.
type jsScope struct {
	nest  int
	expr  bool
	names map[string]string
}

type destructKey struct {
	name string
	line int
}

type pendingBind struct {
	name     string        // X = wx
	declared bool          // var/let/const X
	keys     []destructKey // {a, b: c} = wx
}

// parenFrame collects the simple identifiers of a parenthesised list: parameters when it turns
// out to be one.
type parenFrame struct {
	params   []string
	funcLike bool // the "(" follows an identifier that is no control keyword (function, name, catch)
}

// aliases tracks bindings of wx/my to other names across a token stream, with bounded memory.
type aliases struct {
	off    bool // the source binds no wx/my anywhere (mayAlias): nothing to track
	scopes []jsScope
	nest   int
	parens []parenFrame
	braces [][]destructKey

	lastParams     []string
	lastParamsFunc bool
	paramsClosedAt int
	lastKeys       []destructKey
	keysClosedAt   int
	arrowParams    []string
	arrowAt        int
	inDecl         bool
	declNest       int
	lastDecl       int // token index of the last identifier bound by var/let/const
	bind           *pendingBind
	any            bool // an alias was bound
}

// mayAlias reports whether src has "= wx" or "= my" (any spacing) outside a member access, the
// only way an alias is bound: files without it skip the alias bookkeeping.
func mayAlias(src []byte) bool {
	for _, name := range [...]string{"wx", "my"} {
		for i := 0; ; {
			k := bytes.Index(src[i:], []byte(name))
			if k < 0 {
				break
			}
			at := i + k
			i = at + 2
			if i < len(src) && isIdentPart(src[i]) || at > 0 && isIdentPart(src[at-1]) {
				continue
			}
			j := at - 1
			for j >= 0 && (src[j] == ' ' || src[j] == '\t' || src[j] == '\n' || src[j] == '\r') {
				j--
			}
			if j >= 0 && src[j] == '=' {
				return true
			}
		}
	}
	return false
}

const (
	maxAliasScopes = 4096
	maxParams      = 32
	maxKeys        = 64
	maxNamesPerSc  = 256
)

var controlKeywords = map[string]bool{"if": true, "for": true, "while": true, "switch": true, "with": true, "return": true,
	"typeof": true, "void": true, "delete": true, "new": true, "in": true, "of": true, "instanceof": true, "await": true,
	"yield": true, "case": true, "do": true, "else": true, "throw": true}

func isKeyword(b []byte) bool {
	switch string(b) {
	case "var", "let", "const", "this", "true", "false", "null", "undefined", "function", "class", "import", "export", "default":
		return true
	}
	return controlKeywords[string(b)]
}

func (a *aliases) push(s jsScope) {
	if len(a.scopes) < maxAliasScopes {
		a.scopes = append(a.scopes, s)
	}
}

// resolve returns the API object name is an alias of in the current scope, "" if none.
func (a *aliases) resolve(name string) string {
	if a.off || !a.any {
		return ""
	}
	for i := len(a.scopes) - 1; i >= 0; i-- {
		if o, ok := a.scopes[i].names[name]; ok {
			return o
		}
	}
	return ""
}

// set binds name to obj ("" = not an alias): in the innermost scope when declared there,
// else in the nearest scope that has the name, else globally.
func (a *aliases) set(name, obj string, declared bool) {
	at := len(a.scopes) - 1
	if !declared {
		at = 0
		for i := len(a.scopes) - 1; i >= 0; i-- {
			if _, ok := a.scopes[i].names[name]; ok {
				at = i
				break
			}
		}
		if obj == "" && a.resolve(name) == "" {
			return // assigning a non-alias to a non-alias changes nothing
		}
	}
	if obj != "" {
		a.any = true
	}
	sc := &a.scopes[at]
	if sc.names == nil {
		sc.names = map[string]string{}
	}
	if _, ok := sc.names[name]; ok || len(sc.names) < maxNamesPerSc {
		sc.names[name] = obj
	}
}

func (a *aliases) declareParams(params []string) {
	for _, p := range params {
		a.set(p, "", true)
	}
}

// before runs ahead of the member-access logic: it opens the scope of an arrow function's
// expression body.
func (a *aliases) before(t token, idx int) {
	if a.off {
		return
	}
	if a.arrowParams != nil && a.arrowAt == idx-1 {
		params := a.arrowParams
		a.arrowParams = nil
		if !(t.Kind == tokPunct && t.Text[0] == '{') {
			a.push(jsScope{nest: a.nest, expr: true})
			a.declareParams(params)
		} else {
			a.lastParams, a.lastParamsFunc, a.paramsClosedAt = params, true, idx-1
		}
	}
}

// after updates nesting, scopes, parameter lists and declarations with token t.
func (a *aliases) after(t token, prev, prev2, prev3 token, idx int) {
	if a.off {
		return
	}
	// X = <anything but wx/my>: X is no alias any more (X = wx is handled by scanJS)
	if prev.Kind == tokPunct && prev.Text[0] == '=' && prev2.Kind == tokIdent && !isKeyword(prev2.Text) &&
		!(prev3.Kind == tokPunct && prev3.Text[0] == '.') {
		op := t.Kind == tokPunct && (t.Text[0] == '=' || t.Text[0] == '>')
		api := t.Kind == tokIdent && (string(t.Text) == "wx" || string(t.Text) == "my")
		if !op && !api {
			a.set(string(prev2.Text), "", a.lastDecl == idx-2)
		}
	}
	switch t.Kind {
	case tokIdent:
		switch string(t.Text) {
		case "var", "let", "const":
			a.inDecl, a.declNest = true, a.nest
			return
		}
		afterDot := prev.Kind == tokPunct && prev.Text[0] == '.'
		if afterDot || isKeyword(t.Text) {
			return
		}
		if prev.Kind == tokIdent && (string(prev.Text) == "var" || string(prev.Text) == "let" || string(prev.Text) == "const") ||
			a.inDecl && a.nest == a.declNest && prev.Kind == tokPunct && prev.Text[0] == ',' {
			a.set(string(t.Text), "", true)
			a.lastDecl = idx
		}
		if n := len(a.parens); n > 0 && prev.Kind == tokPunct && (prev.Text[0] == '(' || prev.Text[0] == ',') && len(a.parens[n-1].params) < maxParams {
			a.parens[n-1].params = append(a.parens[n-1].params, string(t.Text))
		}
		if n := len(a.braces); n > 0 && prev.Kind == tokPunct && (prev.Text[0] == '{' || prev.Text[0] == ',') && len(a.braces[n-1]) < maxKeys {
			a.braces[n-1] = append(a.braces[n-1], destructKey{string(t.Text), t.Line})
		}
		return
	case tokString:
		if n := len(a.braces); n > 0 && prev.Kind == tokPunct && (prev.Text[0] == '{' || prev.Text[0] == ',') && len(a.braces[n-1]) < maxKeys && len(t.Text) < 64 {
			a.braces[n-1] = append(a.braces[n-1], destructKey{string(t.Text), t.Line})
		}
		return
	case tokPunct:
	default:
		return
	}
	switch c := t.Text[0]; c {
	case '=':
		return
	case '>':
		// arrow: (a, b) => …   or   a => …
		if prev.Kind == tokPunct && prev.Text[0] == '=' {
			if prev2.Kind == tokPunct && prev2.Text[0] == ')' && a.paramsClosedAt == idx-2 {
				a.arrowParams, a.arrowAt = append([]string{}, a.lastParams...), idx
			} else if prev2.Kind == tokIdent && !isKeyword(prev2.Text) && !(prev3.Kind == tokPunct && prev3.Text[0] == '.') {
				a.arrowParams, a.arrowAt = []string{string(prev2.Text)}, idx
			}
		}
	case '(':
		a.nest++
		fl := prev.Kind == tokIdent && !controlKeywords[string(prev.Text)]
		if len(a.parens) < maxAliasScopes {
			a.parens = append(a.parens, parenFrame{funcLike: fl})
		}
	case '[':
		a.nest++
		if len(a.parens) < maxAliasScopes {
			a.parens = append(a.parens, parenFrame{})
		}
	case '{':
		a.nest++
		a.push(jsScope{nest: a.nest})
		if a.paramsClosedAt == idx-1 && a.lastParamsFunc { // function (…) {   m(…) {   catch (e) {   (…) => {
			a.declareParams(a.lastParams)
		}
		if len(a.braces) < maxAliasScopes {
			a.braces = append(a.braces, nil)
		}
	case ')', ']', '}':
		a.closeScopes(a.nest)
		if a.nest > 0 {
			a.nest--
		}
		if a.inDecl && a.nest < a.declNest {
			a.inDecl = false
		}
		switch c {
		case '}':
			if n := len(a.braces); n > 0 {
				a.lastKeys, a.keysClosedAt = a.braces[n-1], idx
				a.braces = a.braces[:n-1]
			}
		default:
			if n := len(a.parens); n > 0 {
				if c == ')' {
					a.lastParams, a.lastParamsFunc, a.paramsClosedAt = a.parens[n-1].params, a.parens[n-1].funcLike, idx
				}
				a.parens = a.parens[:n-1]
			}
		}
	case ',', ';':
		// the end of an arrow's expression body at its own level
		for len(a.scopes) > 1 && a.scopes[len(a.scopes)-1].expr && a.scopes[len(a.scopes)-1].nest == a.nest {
			a.scopes = a.scopes[:len(a.scopes)-1]
		}
		if c == ';' && a.nest <= a.declNest {
			a.inDecl = false
		}
	}
}

// closeScopes ends every scope opened at nesting level n or deeper (a closing bracket at level n).
func (a *aliases) closeScopes(n int) {
	for len(a.scopes) > 1 && a.scopes[len(a.scopes)-1].nest >= n {
		a.scopes = a.scopes[:len(a.scopes)-1]
	}
}

func (r *jsScan) truncate() bool { r.Truncated = true; return false }

// findURLs appends the http(s)/ws(s) URLs in s (which starts on line) and returns how many it
// added. It is a hand-written scan (index of "://" or the JSON-escaped ":\/\/", then scheme back,
// host forward): regexes over megabytes of bundle were the inspector's main cost.
func findURLs(s []byte, line int, module string, out *[]urlRef) int {
	added := 0
	lineAt, lineOff := line, 0
	for i := 0; i < len(s) && added < 64; {
		k := bytes.IndexByte(s[i:], ':')
		if k < 0 {
			break
		}
		c := i + k // the colon
		i = c + 1
		var hostStart int
		switch {
		case bytes.HasPrefix(s[c:], []byte("://")):
			hostStart = c + 3
		case bytes.HasPrefix(s[c:], []byte(`:\/\/`)):
			hostStart = c + 5
		default:
			continue
		}
		b := c
		for b > 0 && b > c-5 && (s[b-1]|0x20) >= 'a' && (s[b-1]|0x20) <= 'z' {
			b--
		}
		scheme := strings.ToLower(string(s[b:c]))
		if scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss" {
			continue
		}
		if b > 0 && isIdentPart(s[b-1]) && s[b-1] < 0x80 {
			continue
		}
		h := hostStart
		for h < len(s) && h-hostStart < 253 && (isHostByte(s[h])) {
			h++
		}
		host := strings.ToLower(strings.TrimRight(string(s[hostStart:h]), ".-_"))
		e := h
		for e < len(s) && e-b < 512 && s[e] > ' ' && s[e] != '"' && s[e] != '\'' && s[e] != '<' && s[e] != '>' && s[e] != '`' {
			e++
		}
		i = e
		if !plausibleHost(host) {
			continue
		}
		lineAt += bytes.Count(s[lineOff:b], []byte{'\n'})
		lineOff = b
		u := strings.ReplaceAll(string(s[b:e]), `\/`, "/")
		*out = append(*out, urlRef{URL: u, Host: host, Scheme: scheme, Line: lineAt, Module: module})
		added++
	}
	return added
}

func isHostByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_'
}

// plausibleHost keeps names with a dot and a letter TLD, or IPv4 literals; it drops the XML
// namespaces and placeholders that every bundle carries.
func plausibleHost(h string) bool {
	if h == "" || !strings.Contains(h, ".") || strings.Contains(h, "..") || strings.Contains(h, "_") {
		return false
	}
	switch h {
	case "www.w3.org", "w3.org", "example.com", "www.example.com", "example.org", "localhost", "127.0.0.1", "0.0.0.0", "json-schema.org", "ns.adobe.com", "purl.org":
		return false
	}
	tld := h[strings.LastIndexByte(h, '.')+1:]
	if tld == "" {
		return false
	}
	allDigits, allLetters := true, true
	for _, c := range tld {
		if c < '0' || c > '9' {
			allDigits = false
		}
		if c < 'a' || c > 'z' {
			allLetters = false
		}
	}
	if allDigits {
		return strings.Count(h, ".") == 3
	}
	return allLetters && len(tld) >= 2
}
