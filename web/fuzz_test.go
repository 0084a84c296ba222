package web

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"unicode/utf8"

	"pilmon/accounts"
)

// FuzzRequestInputs feeds hostile strings to every function that interprets request input
// without Redis: redirect targets, path checks, parameter checks, PHC hashes, charsets and
// uploaded file names. None may panic, and each keeps its promise.
func FuzzRequestInputs(f *testing.F) {
	for _, s := range []string{"/", "//evil.example", "/\\evil", "/findings?x=1", "https://evil.example/", "/a/../b",
		"/%2e%2e/x", "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$a2V5", "text/html; charset=gbk", "text/html; charset=\"x<y\"",
		"../../etc/passwd", "a\x00b", "C:\\Windows\\x.png", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := safeNext(s)
		if !strings.HasPrefix(n, "/") || strings.HasPrefix(n, "//") || strings.ContainsAny(n, "\\\r\n") || badPath(strings.SplitN(n, "?", 2)[0]) {
			t.Fatalf("safeNext(%q) = %q", s, n)
		}
		if !badPath(s) {
			for _, seg := range strings.Split(s, "/") {
				if seg == ".." || seg == "." {
					t.Fatalf("badPath missed %q", s)
				}
			}
		}
		for _, name := range []string{"fp", "hash", "id", "rule", "name", "code", "a", "tok"} {
			if checkParam(name, s) && (strings.ContainsAny(s, "/\\\x00") || (name != "id" && strings.Contains(s, ".."))) {
				t.Fatalf("checkParam(%s, %q) accepted", name, s)
			}
		}
		if len(s) < 200 {
			accounts.VerifyPassword("pw", s)
		}
		// A client address from forwarding headers is an IP address or the peer, never header text.
		r := &http.Request{RemoteAddr: "10.0.0.1:4000", Header: http.Header{"X-Forwarded-For": {s}, "X-Real-Ip": {s}}}
		if ip := fuzzClientIP(r); ip != "10.0.0.1" {
			if _, err := netip.ParseAddr(ip); err != nil {
				t.Fatalf("clientIP from %q = %q", s, ip)
			}
		}
		if cs := charsetOf(s); strings.ContainsAny(cs, "\"<>; ") {
			t.Fatalf("charsetOf(%q) = %q", s, cs)
		}
		if fn := cleanFileName(s); strings.ContainsAny(fn, "/\x00\n") || len(fn) > 200 || !utf8.ValidString(fn) {
			t.Fatalf("cleanFileName(%q) = %q", s, fn)
		}
	})
}

var fuzzClientIP = clientIP([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
