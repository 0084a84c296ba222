package miniprogram

import "unicode/utf8"

// A light JavaScript lexer: enough of the grammar to tell code from string, template, regular
// expression and comment contents in minified bundles, with line numbers. It never fails: input
// that is not valid JavaScript is still tokenised left to right in linear time, resynchronising at
// line ends where a string or regex is left open.

type tokKind uint8

const (
	tokIdent tokKind = iota + 1
	tokPunct
	tokString // '…', "…" and each literal part of a template; Text is the raw content, unescaped
	tokNumber
	tokRegex
)

type token struct {
	Kind tokKind
	Text []byte // aliases the source
	Line int    // 1-based line of the token's first byte
}

var regexKeywords = map[string]bool{
	"return": true, "typeof": true, "instanceof": true, "in": true, "of": true, "new": true,
	"delete": true, "void": true, "throw": true, "case": true, "do": true, "else": true,
	"yield": true, "await": true,
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '$' || c == '\\' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// lexJS calls emit for every token of src. emit returning false stops the lexer.
func lexJS(src []byte, emit func(token) bool) {
	const (
		braceCode     = 0
		braceTemplate = 1
	)
	var braces []uint8 // open "{" and "${", so "}" knows whether it resumes a template
	line := 1
	i := 0
	n := len(src)
	var prev token // last significant token, for regex-vs-division
	regexOK := func() bool {
		switch prev.Kind {
		case 0:
			return true
		case tokIdent:
			return regexKeywords[string(prev.Text)]
		case tokNumber, tokString, tokRegex:
			return false
		case tokPunct:
			c := prev.Text[0]
			return c != ')' && c != ']'
		}
		return true
	}
	send := func(t token) bool {
		prev = t
		return emit(t)
	}
	// template scans a template body from i (just after "`" or "}") to its end or to "${".
	template := func() bool {
		start, startLine := i, line
		for i < n {
			c := src[i]
			switch {
			case c == '\\' && i+1 < n:
				if src[i+1] == '\n' {
					line++
				}
				i += 2
				continue
			case c == '`':
				t := token{tokString, src[start:i], startLine}
				i++
				return send(t)
			case c == '$' && i+1 < n && src[i+1] == '{':
				t := token{tokString, src[start:i], startLine}
				i += 2
				braces = append(braces, braceTemplate)
				if !send(t) {
					return false
				}
				prev = token{tokPunct, []byte{'{'}, line}
				return true
			case c == '\n':
				line++
			}
			i++
		}
		return send(token{tokString, src[start:i], startLine})
	}
	for i < n {
		c := src[i]
		switch {
		case c == '\n':
			line++
			i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f':
			i++
		case c == '/' && i+1 < n && src[i+1] == '/':
			for i < n && src[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && src[i+1] == '*':
			i += 2
			for i < n && !(src[i] == '*' && i+1 < n && src[i+1] == '/') {
				if src[i] == '\n' {
					line++
				}
				i++
			}
			i += 2
		case c == '"' || c == '\'':
			start, startLine := i+1, line
			i++
			for i < n && src[i] != c && src[i] != '\n' {
				if src[i] == '\\' && i+1 < n {
					if src[i+1] == '\n' {
						line++
					} else if src[i+1] == '\r' && i+2 < n && src[i+2] == '\n' {
						line++
						i++
					}
					i++
				}
				i++
			}
			end := min(i, n)
			if i < n && src[i] == c {
				i++
			}
			if !send(token{tokString, src[start:end], startLine}) {
				return
			}
		case c == '`':
			i++
			if !template() {
				return
			}
		case c == '/' && regexOK():
			start, startLine := i, line
			i++
			inClass := false
			for i < n && src[i] != '\n' {
				if src[i] == '\\' && i+1 < n && src[i+1] != '\n' {
					i += 2
					continue
				}
				if src[i] == '[' {
					inClass = true
				} else if src[i] == ']' {
					inClass = false
				} else if src[i] == '/' && !inClass {
					i++
					break
				}
				i++
			}
			for i < n && isIdentPart(src[i]) && src[i] < 0x80 {
				i++
			}
			if !send(token{tokRegex, src[start:i], startLine}) {
				return
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < n && src[i+1] >= '0' && src[i+1] <= '9':
			start := i
			for i < n {
				d := src[i]
				if isIdentPart(d) && d < 0x80 || d == '.' {
					i++
				} else if (d == '+' || d == '-') && (src[i-1] == 'e' || src[i-1] == 'E') && src[start] != '0' {
					i++
				} else {
					break
				}
			}
			if !send(token{tokNumber, src[start:i], line}) {
				return
			}
		case isIdentStart(c):
			start := i
			for i < n && isIdentPart(src[i]) {
				if src[i] >= 0x80 {
					r, size := utf8.DecodeRune(src[i:])
					if r == 0x2028 || r == 0x2029 || r == 0xA0 || r == 0xFEFF {
						break
					}
					i += size
					continue
				}
				if src[i] == '\\' { // \uXXXX escape inside an identifier
					i++
				}
				i++
			}
			if i == start { // a lone non-identifier rune such as U+00A0
				_, size := utf8.DecodeRune(src[i:])
				i += size
				continue
			}
			if !send(token{tokIdent, src[start:min(i, n)], line}) {
				return
			}
		default:
			switch c {
			case '{':
				braces = append(braces, braceCode)
			case '}':
				if len(braces) > 0 {
					top := braces[len(braces)-1]
					braces = braces[:len(braces)-1]
					if top == braceTemplate {
						i++
						if !template() {
							return
						}
						continue
					}
				}
			}
			if !send(token{tokPunct, src[i : i+1], line}) {
				return
			}
			i++
		}
	}
}
