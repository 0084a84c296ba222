package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/accounts"
)

// loginFrom logs in with the given headers on the POST (the login page is read without them).
func (c *client) loginFrom(user, pw string, hdr map[string]string) *http.Response {
	c.get("/login")
	form := url.Values{"username": {user}, "password": {pw}, "_csrf": {c.csrf}}
	req, _ := http.NewRequest(http.MethodPost, c.base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, _ := c.do(req)
	return res
}

// TestConcurrentWrongLoginsReserved: 25 concurrent wrong guesses with a limit of 5 reach the
// password check at most 5 times, and the right password is then refused while locked.
func TestConcurrentWrongLoginsReserved(t *testing.T) {
	e := newEnv(t, envOptions{login: accounts.LoginLimits{PerUser: 5, PerIP: 1000, Window: time.Minute, LockFor: time.Minute}})
	acc := e.srv.Accounts()
	clients := make([]*client, 25)
	for i := range clients {
		clients[i] = e.anon()
		clients[i].get("/login")
	}
	before := acc.HashStats().Total
	var wg sync.WaitGroup
	codes := make([]int, len(clients))
	for i, c := range clients {
		wg.Go(func() {
			codes[i] = c.postForm("/login", url.Values{"username": {"vic"}, "password": {"wrong password!"}}).StatusCode
		})
	}
	wg.Wait()
	n := acc.HashStats().Total - before
	t.Logf("%d password checks for 25 concurrent guesses, limit 5 (statuses %v)", n, codes)
	if n > 5 || n < 1 {
		t.Fatalf("%d password checks for 25 concurrent guesses, limit 5", n)
	}
	for _, c := range codes {
		if c != http.StatusUnauthorized && c != http.StatusTooManyRequests {
			t.Errorf("status %d", c)
		}
	}
	before = acc.HashStats().Total
	if res := e.anon().loginAs("vic", testPassword); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password after 25 guesses: %d, want 429", res.StatusCode)
	}
	if acc.HashStats().Total != before {
		t.Fatal("a locked login reached the password check")
	}
}

// TestLoginHashingBounded: 40 concurrent logins never hash more than the bound at once; those that
// wait too long are refused with 503 and Retry-After.
func TestLoginHashingBounded(t *testing.T) {
	e := newEnv(t, envOptions{login: accounts.LoginLimits{PerUser: 100, PerIP: 1000, Window: time.Minute, LockFor: time.Minute}})
	acc := e.srv.Accounts()
	clients := make([]*client, 40)
	for i := range clients {
		clients[i] = e.anon()
		clients[i].get("/login")
	}
	before := acc.HashStats().Total
	var wg sync.WaitGroup
	res := make([]*http.Response, len(clients))
	for i, c := range clients {
		wg.Go(func() { res[i] = c.postForm("/login", url.Values{"username": {"vic"}, "password": {testPassword}}) })
	}
	wg.Wait()
	st := acc.HashStats()
	if st.Peak > int64(accounts.DefaultHashLimits.Concurrent) || st.Total-before > 40 {
		t.Fatalf("hash stats %+v (before %d): more than %d at once", st, before, accounts.DefaultHashLimits.Concurrent)
	}
	for _, r := range res {
		switch r.StatusCode {
		case http.StatusSeeOther:
		case http.StatusServiceUnavailable:
			if r.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		default:
			t.Errorf("status %d", r.StatusCode)
		}
	}
}

// TestLoginLimitsPerUserAndAddress: a user locked out from one address logs in from another, a
// per-address limit does not lock the user elsewhere, and X-Forwarded-For counts only from a
// trusted proxy.
func TestLoginLimitsPerUserAndAddress(t *testing.T) {
	lim := accounts.LoginLimits{PerUser: 3, PerIP: 8, Window: time.Minute, LockFor: time.Minute}
	// The test server's peer is 127.0.0.1: trusted here.
	e := newEnv(t, envOptions{login: lim, trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	a := map[string]string{"X-Forwarded-For": "198.51.100.1"}
	b := map[string]string{"X-Forwarded-For": "203.0.113.9, 198.51.100.2"}
	for range 3 {
		e.anon().loginFrom("alice", "wrong password!", a)
	}
	if res := e.anon().loginFrom("alice", testPassword, a); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("locked address, right password: %d", res.StatusCode)
	}
	if res := e.anon().loginFrom("alice", testPassword, b); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin locked out from every address by one guesser: %d", res.StatusCode)
	}
	// Address A now uses up its per-address attempts on other names; vic still logs in from B.
	for i := range 5 {
		e.anon().loginFrom("nobody"+string(rune('a'+i)), "wrong password!", a)
	}
	if res := e.anon().loginFrom("vic", testPassword, a); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("address over its limit: %d", res.StatusCode)
	}
	if res := e.anon().loginFrom("vic", testPassword, b); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("user locked from another address by a per-address limit: %d", res.StatusCode)
	}
	// The audit names the client address the proxy gave.
	es, _ := e.srv.AuditLog(context.Background(), "", 100)
	seen := false
	for _, x := range es {
		seen = seen || (x.Action == "login.locked" && x.Object == "alice" && x.IP == "198.51.100.1")
	}
	if !seen {
		t.Error("no login.locked entry for alice from 198.51.100.1")
	}

	// Without trusted proxies the header is the client's own word and is ignored: rotating it does
	// not escape the lock.
	e2 := newEnv(t, envOptions{login: lim})
	for i := range 3 {
		e2.anon().loginFrom("pat", "wrong password!", map[string]string{"X-Forwarded-For": "192.0.2." + string(rune('1'+i)), "X-Real-IP": "192.0.2.77"})
	}
	if res := e2.anon().loginFrom("pat", testPassword, map[string]string{"X-Forwarded-For": "192.0.2.99", "X-Real-IP": "192.0.2.99"}); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For escaped the lock: %d", res.StatusCode)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		peer, xff, xrip, want string
	}{
		{"192.0.2.1:5000", "198.51.100.7", "198.51.100.8", "192.0.2.1"},          // untrusted peer: headers ignored
		{"10.1.2.3:5000", "198.51.100.7", "", "198.51.100.7"},                    // trusted proxy
		{"10.1.2.3:5000", "6.6.6.6, 198.51.100.7, 10.9.9.9", "", "198.51.100.7"}, // rightmost untrusted hop
		{"10.1.2.3:5000", "", "198.51.100.8", "198.51.100.8"},                    // X-Real-IP
		{"10.1.2.3:5000", "not an address", "198.51.100.8", "10.1.2.3"},          // garbage: the peer
		{"10.1.2.3:5000", "", "", "10.1.2.3"},                                    // no header: the peer
		{"[::1]:5000", "2001:db8::1", "", "2001:db8::1"},
		{"[::ffff:10.1.2.3]:5000", "198.51.100.7", "", "198.51.100.7"}, // v4-mapped peer
	}
	f := clientIP(trusted)
	for _, c := range cases {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = c.peer
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.xrip != "" {
			r.Header.Set("X-Real-IP", c.xrip)
		}
		if got := f(r); got != c.want {
			t.Errorf("peer %s XFF %q X-Real-IP %q: %s, want %s", c.peer, c.xff, c.xrip, got, c.want)
		}
	}
}

var tokenRE = regexp.MustCompile(`<code class="token">(pmt_[A-Za-z0-9_-]+)</code>`)

// newToken creates a token on the account page as c's user and returns its secret.
func (c *client) newToken(label string) string {
	c.t.Helper()
	form := url.Values{"label": {label}, "days": {"30"}, "_csrf": {c.csrf}}
	req, _ := http.NewRequest(http.MethodPost, c.base+"/account/tokens", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body := c.do(req)
	m := tokenRE.FindStringSubmatch(body)
	if res.StatusCode != http.StatusOK || m == nil {
		c.t.Fatalf("create token: %d", res.StatusCode)
	}
	return m[1]
}

func (e *env) api(tok, method, path, body string) (int, string) {
	var req *http.Request
	if body == "" {
		req, _ = http.NewRequest(method, e.hs.URL+path, nil)
	} else {
		req, _ = http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	res, b := e.anon().do(req)
	return res.StatusCode, b
}

// TestTokensSelfService: users mint, list and revoke their own tokens on the account page;
// password resets (own or by an administrator), logging out everywhere, a forced log-out and
// disabling end them, and re-enabling revives none.
func TestTokensSelfService(t *testing.T) {
	e := newEnv(t)
	vic := e.login(accounts.RoleViewer)
	tok := vic.newToken("nightly export")
	if code, _ := e.api(tok, http.MethodGet, "/api/v1/counts", ""); code != http.StatusOK {
		t.Fatalf("new token: %d", code)
	}
	_, page := vic.get("/account")
	ts, _ := e.srv.Accounts().Tokens(context.Background(), "vic")
	if len(ts) != 1 || !strings.Contains(page, "nightly export") || !strings.Contains(page, ts[0].Short()) ||
		!strings.Contains(page, e.srv.langs.get(LangZH).Date(ts[0].Expires)) || ts[0].LastUsed.IsZero() ||
		ts[0].Expires.Sub(ts[0].Created) != 30*24*time.Hour {
		t.Fatalf("account page does not list the token %+v", ts)
	}
	if strings.Contains(page, tok) {
		t.Fatal("the secret is shown again")
	}
	// Revoke: the form posts the token id.
	if res := vic.postForm("/account/tokens/"+ts[0].ID+"/revoke", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", res.StatusCode)
	}
	if code, _ := e.api(tok, http.MethodGet, "/api/v1/counts", ""); code != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d", code)
	}
	// Another user's token cannot be revoked by id.
	pat := e.login(accounts.RoleProsecutor)
	pt := pat.newToken("p")
	pts, _ := e.srv.Accounts().Tokens(context.Background(), "pat")
	if res := vic.postForm("/account/tokens/"+pts[0].ID+"/revoke", url.Values{}); res.StatusCode != http.StatusNotFound {
		t.Fatalf("vic revoking pat's token: %d", res.StatusCode)
	}
	if code, _ := e.api(pt, http.MethodGet, "/api/v1/counts", ""); code != http.StatusOK {
		t.Fatalf("pat's token after vic's attempt: %d", code)
	}

	admin := e.login(accounts.RoleAdmin)
	ends := []struct {
		name string
		do   func(c *client) *http.Response
	}{
		{"own password change", func(c *client) *http.Response {
			return c.postForm("/account/password", url.Values{"current": {testPassword}, "new": {"a brand new passphrase"}, "confirm": {"a brand new passphrase"}})
		}},
		{"password reset by an administrator", func(*client) *http.Response {
			return admin.postForm("/users/vic/password", url.Values{"password": {testPassword}})
		}},
		{"log out everywhere", func(c *client) *http.Response { return c.postForm("/logout-all", url.Values{}) }},
		{"forced log-out", func(*client) *http.Response { return admin.postForm("/users/vic/logout", url.Values{}) }},
		{"disable", func(*client) *http.Response { return admin.postForm("/users/vic/disable", url.Values{}) }},
	}
	for _, x := range ends {
		c := e.anon()
		if res := c.loginAs("vic", testPassword); res.StatusCode != http.StatusSeeOther {
			// the own password change left "a brand new passphrase"; the admin reset restores it
			if res := c.loginAs("vic", "a brand new passphrase"); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: log in: %d", x.name, res.StatusCode)
			}
		}
		c.get("/account")
		tok := c.newToken(x.name)
		if res := x.do(c); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", x.name, res.StatusCode)
		}
		if code, _ := e.api(tok, http.MethodGet, "/api/v1/counts", ""); code == http.StatusOK {
			t.Errorf("token survived %s", x.name)
		}
	}
	if res := admin.postForm("/users/vic/enable", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %d", res.StatusCode)
	}
	if ts, _ := e.srv.Accounts().Tokens(context.Background(), "vic"); len(ts) != 0 {
		t.Fatalf("re-enabling revived %d tokens", len(ts))
	}
}

// TestTokenMintingAndAttribution: an administrator cannot mint a token in another user's name on
// the dashboard, and what a token does is recorded under the token and its holder.
func TestTokenMintingAndAttribution(t *testing.T) {
	e := newEnv(t)
	admin := e.login(accounts.RoleAdmin)
	if res := admin.postForm("/users/pat/token", url.Values{"label": {"act as pat"}}); res.StatusCode == http.StatusOK {
		t.Fatal("the administrator minted a token for pat")
	}
	// The account page's form mints only for the logged-in user, whatever the form says.
	form := url.Values{"label": {"x"}, "name": {"pat"}, "user": {"pat"}, "_csrf": {admin.csrf}}
	req, _ := http.NewRequest(http.MethodPost, admin.base+"/account/tokens?name=pat", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	admin.do(req)
	if ts, _ := e.srv.Accounts().Tokens(context.Background(), "pat"); len(ts) != 0 {
		t.Fatalf("pat has %d tokens nobody asked for", len(ts))
	}
	pat := e.login(accounts.RoleProsecutor)
	tok := pat.newToken("script")
	ts, _ := e.srv.Accounts().Tokens(context.Background(), "pat")
	want := "pat (token " + ts[0].Short() + ")"
	fp := e.fps[4]
	code, body := e.api(tok, http.MethodPost, "/api/v1/findings/"+fp+"/transition", `{"to":"in_review","note":"脚本"}`)
	if code != http.StatusOK {
		t.Fatalf("transition through the token: %d %s", code, body)
	}
	var tr struct {
		Actor string `json:"actor"`
	}
	if err := json.Unmarshal([]byte(body), &tr); err != nil || tr.Actor != want {
		t.Errorf("transition answer names %q (%v), want %q", tr.Actor, err, want)
	}
	h, err := e.st.History(context.Background(), fp)
	if err != nil || len(h) == 0 {
		t.Fatalf("history %v %v", h, err)
	}
	if got := h[len(h)-1].Actor; got != want {
		t.Errorf("history names %q, want %q", got, want)
	}
	es, _ := e.srv.AuditLog(context.Background(), "", 50)
	found := false
	for _, x := range es {
		found = found || (x.Action == "transition" && x.Object == fp && x.Actor == want)
	}
	if !found {
		t.Errorf("no audit entry by %q", want)
	}
	// In a browser session the actor is the user alone.
	if res := pat.postForm("/findings/"+e.fps[5]+"/transition", url.Values{"to": {"in_review"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("session transition: %d", res.StatusCode)
	}
	if h, _ := e.st.History(context.Background(), e.fps[5]); len(h) == 0 || h[len(h)-1].Actor != "pat" {
		t.Errorf("session history %+v", h)
	}
}

// TestNoStoreAndCSRFFromBody: authenticated responses, evidence included, are never cached, and a
// CSRF token in the query string does not count.
func TestNoStoreAndCSRFFromBody(t *testing.T) {
	e := newEnv(t)
	vic := e.login(accounts.RoleViewer)
	for _, p := range []string{"/", "/findings", "/findings/" + e.fps[2], "/targets", "/account", "/progress",
		"/evidence/" + e.shot, "/evidence/" + e.shot + "/raw", "/evidence/" + e.shot + "/image", "/evidence/" + e.page + "/frame",
		"/api/v1/findings", "/api/v1/findings/" + e.fps[2], "/api/v1/counts", "/api/v1/targets"} {
		res, _ := vic.get(p)
		if res.StatusCode != http.StatusOK || res.Header.Get("Cache-Control") != "no-store" &&
			res.Header.Get("Cache-Control") != "private, no-store" {
			t.Errorf("GET %s: %d Cache-Control %q", p, res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
	tok := vic.newToken("t")
	if code, _ := e.api(tok, http.MethodGet, "/api/v1/counts", ""); code != http.StatusOK {
		t.Fatal(code)
	}
	req, _ := http.NewRequest(http.MethodGet, e.hs.URL+"/api/v1/findings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, _ := e.anon().do(req); !strings.Contains(res.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("API with a token: Cache-Control %q", res.Header.Get("Cache-Control"))
	}

	pros := e.login(accounts.RoleProsecutor)
	fp := e.fps[6]
	req, _ = http.NewRequest(http.MethodPost, pros.base+"/findings/"+fp+"/transition?_csrf="+url.QueryEscape(pros.csrf),
		strings.NewReader(url.Values{"to": {"in_review"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, _ := pros.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("CSRF token in the query: %d, want 403", res.StatusCode)
	}
	if f, _ := e.st.Get(context.Background(), fp); f.State != "new" {
		t.Fatalf("state changed to %s", f.State)
	}
	// The login form's token likewise.
	c := e.anon()
	c.get("/login")
	req, _ = http.NewRequest(http.MethodPost, c.base+"/login?_csrf="+url.QueryEscape(c.csrf),
		strings.NewReader(url.Values{"username": {"vic"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, _ := c.do(req); res.StatusCode != http.StatusForbidden {
		t.Errorf("login with the CSRF token in the query: %d, want 403", res.StatusCode)
	}
}

// TestWeakPasswordsRefused: the dashboard refuses trivial passwords with the reason in the page's
// language, and accepts a good one.
func TestWeakPasswordsRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.login(accounts.RoleAdmin)
	zh := e.srv.langs.get(LangZH)
	for _, pw := range []string{"          ", "aaaaaaaaaa", "bobbybobby", "password123", "1234567890"} {
		req, _ := http.NewRequest(http.MethodPost, admin.base+"/users", strings.NewReader(url.Values{
			"name": {"bobby"}, "role": {"viewer"}, "password": {pw}, "_csrf": {admin.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, body := admin.do(req)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, zh.T("account.weak", "")) {
			t.Errorf("password %q: %d", pw, res.StatusCode)
		}
	}
	if _, err := e.srv.Accounts().Get(context.Background(), "bobby"); err != accounts.ErrNoUser {
		t.Fatalf("bobby was created: %v", err)
	}
	if res := admin.postForm("/users", url.Values{"name": {"bobby"}, "role": {"viewer"}, "password": {"plum orchard at dusk"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("good password: %d", res.StatusCode)
	}
	vic := e.login(accounts.RoleViewer)
	vic.get("/account")
	req, _ := http.NewRequest(http.MethodPost, vic.base+"/account/password", strings.NewReader(url.Values{
		"current": {testPassword}, "new": {"vicvicvicvic"}, "confirm": {"vicvicvicvic"}, "_csrf": {vic.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, _ := vic.do(req); res.StatusCode != http.StatusBadRequest {
		t.Errorf("own weak password: %d", res.StatusCode)
	}
}
