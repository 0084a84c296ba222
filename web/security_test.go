package web

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
)

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	pros := e.login(accounts.RoleProsecutor)
	fp := e.fps[3]
	state := func() string {
		f, err := e.st.Get(context.Background(), fp)
		if err != nil {
			t.Fatal(err)
		}
		return string(f.State)
	}
	post := func(form url.Values, hdr map[string]string) int {
		req, _ := http.NewRequest(http.MethodPost, pros.base+"/findings/"+fp+"/transition", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, _ := pros.do(req)
		return res.StatusCode
	}
	cases := []struct {
		name string
		form url.Values
		hdr  map[string]string
	}{
		{"no token", url.Values{"to": {"in_review"}}, nil},
		{"wrong token", url.Values{"to": {"in_review"}, "_csrf": {strings.Repeat("A", len(pros.csrf))}}, nil},
		{"token of another session", url.Values{"to": {"in_review"}, "_csrf": {e.login(accounts.RoleProsecutor).csrf}}, nil},
		{"foreign origin", url.Values{"to": {"in_review"}, "_csrf": {pros.csrf}}, map[string]string{"Origin": "https://evil.example"}},
		{"null origin", url.Values{"to": {"in_review"}, "_csrf": {pros.csrf}}, map[string]string{"Origin": "null"}},
		{"cross-site fetch", url.Values{"to": {"in_review"}, "_csrf": {pros.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
	for _, c := range cases {
		if s := post(c.form, c.hdr); s != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", c.name, s)
		}
		if st := state(); st != "new" {
			t.Fatalf("%s: state changed to %s", c.name, st)
		}
	}
	if s := post(url.Values{"to": {"in_review"}, "_csrf": {pros.csrf}}, map[string]string{"Origin": pros.base, "Sec-Fetch-Site": "same-origin"}); s != http.StatusSeeOther {
		t.Fatalf("valid token: status %d", s)
	}
	if st := state(); st != "in_review" {
		t.Fatalf("state %s after a valid request", st)
	}
	// Login itself needs the pre-login token.
	anon := e.anon()
	res := anon.postForm("/login", url.Values{"username": {"pat"}, "password": {testPassword}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("login without token: %d", res.StatusCode)
	}
	// The JSON API with a session cookie needs the header; with a bearer token it does not.
	req, _ := http.NewRequest(http.MethodPost, pros.base+"/api/v1/findings/"+fp+"/transition", strings.NewReader(`{"to":"escalated"}`))
	req.Header.Set("Content-Type", "application/json")
	if res, _ := pros.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("API with session, no CSRF header: %d", res.StatusCode)
	}
	tok, _, err := e.srv.Accounts().NewToken(context.Background(), "pat", "test", 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ = http.NewRequest(http.MethodPost, e.hs.URL+"/api/v1/findings/"+fp+"/transition", strings.NewReader(`{"to":"escalated","note":"脚本"}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if res, body := e.anon().do(req); res.StatusCode != http.StatusOK || !strings.Contains(body, `"to":"escalated"`) {
		t.Errorf("API with token: %d %s", res.StatusCode, body)
	}
	// A token does not open the pages.
	req, _ = http.NewRequest(http.MethodGet, e.hs.URL+"/findings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, _ := e.anon().do(req); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("page with a token: %d", res.StatusCode)
	}
	// A multipart upload whose first part is not the token is refused before the file is read.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("evidence", "shot.png")
	fw.Write(pngBytes(t))
	mw.WriteField("_csrf", pros.csrf)
	mw.WriteField("result", "violation")
	mw.Close()
	rule := manualRule(e)
	req, _ = http.NewRequest(http.MethodPost, pros.base+"/targets/"+e.target+"/checklist/"+rule, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res, _ := pros.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("multipart with the token not first: %d", res.StatusCode)
	}
}

func manualRule(e *env) string {
	for _, v := range e.cat.Violations() {
		if v.Check.Mode == "manual" {
			return v.ID
		}
	}
	e.t.Fatal("no manual rule")
	return ""
}

// rawRequest sends a request line exactly as given (no client-side path cleaning).
func rawRequest(t *testing.T, base, method, target string, hdr map[string]string) int {
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: 0\r\n", method, target, u.Host)
	for k, v := range hdr {
		fmt.Fprintf(conn, "%s: %s\r\n", k, v)
	}
	fmt.Fprint(conn, "\r\n")
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestDotDotRefused(t *testing.T) {
	e := newEnv(t)
	c := e.login(accounts.RoleAdmin)
	var cookie string
	u, _ := url.Parse(e.hs.URL)
	for _, ck := range c.hc.Jar.Cookies(u) {
		cookie += ck.Name + "=" + ck.Value + "; "
	}
	hdr := map[string]string{"Cookie": cookie, "X-CSRF-Token": c.csrf}
	gets := []string{
		"/findings/../../etc/passwd", "/findings/..%2F..%2Fetc%2Fpasswd", "/findings/%2e%2e",
		"/evidence/../../../etc/passwd", "/evidence/%2e%2e%2fetc%2fpasswd/raw", "/evidence/" + e.shot + "/..%2f..%2f..%2fetc%2fpasswd",
		"/evidence/..%5c..%5cwindows/raw", "/targets/..%2Fx/checklist", "/targets/../targets", "/targets/./x",
		"/static/..%2fapp.js", "/static/../web/server.go", "/lang/..%2f..%2fen", "/api/v1/findings/..%2f",
		"/targets/" + e.target + "/../../users",
	}
	for _, p := range gets {
		if s := rawRequest(t, e.hs.URL, "GET", p, hdr); s != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", p, s)
		}
	}
	posts := []string{"/users/..%2fadmin/disable", "/users/../alice/disable", "/findings/..%2f..%2f/transition",
		"/targets/..%2F/scan", "/targets/" + e.target + "/checklist/..%2f..%2fx"}
	for _, p := range posts {
		if s := rawRequest(t, e.hs.URL, "POST", p, hdr); s != http.StatusBadRequest {
			t.Errorf("POST %s: %d, want 400", p, s)
		}
	}
	// Parameters that are not what their name says are refused too.
	for _, p := range []string{"/findings/ZZ", "/evidence/" + strings.ToUpper(e.shot), "/evidence/abc/raw", "/targets/a%20b", "/lang/fr"} {
		if s := rawRequest(t, e.hs.URL, "GET", p, hdr); s != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", p, s)
		}
	}
	if u, err := e.srv.Accounts().Get(context.Background(), "alice"); err != nil || u.Disabled {
		t.Fatalf("alice: %+v %v", u, err)
	}
}

func TestSecurityHeadersAndCookies(t *testing.T) {
	e := newEnv(t)
	c := e.anon()
	res, _ := c.get("/login")
	h := res.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows inline code: %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("headers %v", h)
	}
	res = c.loginAs("vic", testPassword)
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "pilmon_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || len(session.Value) < 40 {
		t.Fatalf("session cookie %+v", session)
	}
	// With TLS the cookie is Secure and __Host- prefixed.
	e.srv.cfg.TLS = true
	ts := httptest.NewTLSServer(e.srv.Handler())
	defer ts.Close()
	tc := e.anon()
	tc.base = ts.URL
	tc.hc.Transport = ts.Client().Transport
	res = tc.loginAs("vic", testPassword)
	found := false
	for _, ck := range res.Cookies() {
		if ck.Name == "__Host-pilmon_session" {
			found = ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteStrictMode && ck.Path == "/"
		}
	}
	if !found {
		t.Errorf("TLS login cookies %v", res.Cookies())
	}
}

func TestEvidenceServing(t *testing.T) {
	e := newEnv(t)
	c := e.login(accounts.RoleViewer)
	res, body := c.get("/evidence/" + e.shot + "/raw")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("raw: %d %v", res.StatusCode, res.Header)
	}
	// Captured HTML downloads as an inert attachment: not HTML, not named .html, sandboxed.
	res, body = c.get("/evidence/" + e.page + "/raw")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/octet-stream" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") || strings.Contains(res.Header.Get("Content-Disposition"), ".htm") ||
		!strings.HasPrefix(res.Header.Get("Content-Security-Policy"), "sandbox") || !strings.Contains(body, "<script>") {
		t.Errorf("raw HTML: %d %v", res.StatusCode, res.Header)
	}
	res, _ = c.get("/evidence/" + e.shot + "/image")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("image: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := c.get("/evidence/" + e.page + "/image"); res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("HTML as image: %d", res.StatusCode)
	}
	res, body = c.get("/evidence/" + e.page + "/frame")
	csp := res.Header.Get("Content-Security-Policy")
	if res.StatusCode != 200 || !strings.HasPrefix(csp, "sandbox") || strings.Contains(csp, "script-src") ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), "inline; filename=") || !strings.Contains(body, "<script>") {
		t.Errorf("frame: %d %v", res.StatusCode, res.Header)
	}
	if res, _ := c.get("/evidence/" + e.shot + "/frame"); res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("PNG as frame: %d", res.StatusCode)
	}
	if res, _ := c.get("/evidence/" + strings.Repeat("0", 64)); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown hash: %d", res.StatusCode)
	}
	// Bytes that no longer match their hash are not served as evidence.
	p, err := e.ev.Path(e.shot)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if res, _ := c.get("/evidence/" + e.shot + "/raw"); res.StatusCode != http.StatusConflict {
		t.Errorf("tampered raw: %d", res.StatusCode)
	}
	if res, body := c.get("/evidence/" + e.shot); res.StatusCode != 200 || !strings.Contains(body, e.srv.langs.get(LangZH).T("evidence.tampered")) {
		t.Errorf("tampered page: %d", res.StatusCode)
	}
}

func TestLoginRateLimitAndLockout(t *testing.T) {
	e := newEnv(t, envOptions{login: accounts.LoginLimits{PerUser: 3, PerIP: 8, Window: time.Minute, LockFor: time.Minute}})
	c := e.anon()
	for i := 1; i <= 3; i++ {
		res := c.loginAs("vic", "wrong password!")
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if res.StatusCode != want {
			t.Fatalf("attempt %d: %d, want %d", i, res.StatusCode, want)
		}
	}
	if res := c.loginAs("vic", testPassword); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked account with the right password: %d", res.StatusCode)
	}
	es, err := e.srv.AuditLog(context.Background(), "", 50)
	if err != nil {
		t.Fatal(err)
	}
	locked := false
	for _, a := range es {
		locked = locked || (a.Action == "login.locked" && a.Object == "vic")
	}
	if !locked {
		t.Error("no login.locked audit entry")
	}
	// An administrator lifts the lock.
	admin := e.login(accounts.RoleAdmin)
	if res := admin.postForm("/users/vic/unlock", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlock: %d", res.StatusCode)
	}
	if res := e.anon().loginAs("vic", testPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("after unlock: %d", res.StatusCode)
	}
	// Failures on any names from one address add up: at 8 the address is refused, even for a
	// correct password.
	for i := range 5 {
		e.anon().loginAs(fmt.Sprintf("nobody%d", i), "wrong password!")
	}
	if res := e.anon().loginAs("pat", testPassword); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("address over its limit: %d", res.StatusCode)
	}
}
