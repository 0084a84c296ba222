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
func scanJS(src []byte, wanted map[string]bool) jsScan {
	var r jsScan
	var module string
	// member-access state machine: obj . name | obj [ "name" ]
	var obj string
	var objLine, state int
	var prev, prev2 token
	hits := 0
	scopeAt, scopeLeft, scopePfx := -1, 0, ""
	lexJS(src, func(t token) bool {
		defer func() { prev2, prev = prev, t }()
		if scopeLeft > 0 {
			scopeLeft--
			if t.Kind == tokString && len(t.Text) < 64 && bytes.HasPrefix(t.Text, []byte(scopePfx)) && len(r.APIs[scopeAt].Scopes) < 16 {
				r.APIs[scopeAt].Scopes = append(r.APIs[scopeAt].Scopes, string(t.Text))
			}
		}
		switch state {
		case 1:
			state = 0
			if t.Kind == tokPunct && t.Text[0] == '.' {
				state = 2
				return true
			}
			if t.Kind == tokPunct && t.Text[0] == '[' {
				state = 3
				return true
			}
		case 2:
			state = 0
			if t.Kind == tokIdent {
				r.APIs = append(r.APIs, apiRef{Obj: obj, Name: string(t.Text), Line: objLine, Module: module})
				if p, ok := scopePrefix[obj+"."+string(t.Text)]; ok {
					scopeAt, scopeLeft, scopePfx = len(r.APIs)-1, scopeWindow, p
				}
				hits++
				return hits < maxHitsPerFile || r.truncate()
			}
		case 3:
			state = 0
			if t.Kind == tokString {
				r.APIs = append(r.APIs, apiRef{Obj: obj, Name: string(t.Text), Line: objLine, Module: module})
				if p, ok := scopePrefix[obj+"."+string(t.Text)]; ok {
					scopeAt, scopeLeft, scopePfx = len(r.APIs)-1, scopeWindow, p
				}
				hits++
			}
		}
		switch t.Kind {
		case tokIdent:
			if (len(t.Text) == 2 && (t.Text[0] == 'w' && t.Text[1] == 'x' || t.Text[0] == 'm' && t.Text[1] == 'y')) &&
				!(prev.Kind == tokPunct && prev.Text[0] == '.') {
				obj, objLine, state = string(t.Text), t.Line, 1
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
			hits += findURLs(t.Text, t.Line, module, &r.URLs)
		}
		return hits < maxHitsPerFile || r.truncate()
	})
	return r
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
