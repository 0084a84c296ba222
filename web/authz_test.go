package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pilmon/accounts"
)

// TestRouteRoleTable requests every route as every role (and anonymously) and checks that the
// route table's permission alone decides who is refused: a role without the permission gets the
// authorisation refusal, a role with it never does.
func TestRouteRoleTable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.srv.Accounts().Add(ctx, "temp", accounts.RoleViewer, testPassword); err != nil {
		t.Fatal(err)
	}
	manual := ""
	for _, v := range e.cat.Violations() {
		if v.Check.Mode == "manual" {
			manual = v.ID
			break
		}
	}
	params := strings.NewReplacer(":fp", e.fps[1], ":hash", e.shot, ":id", e.target, ":rule", manual, ":name", "temp", ":code", "en", ":tok", strings.Repeat("a", 64))
	clients := map[accounts.Role]*client{}
	for r := range roleUsers {
		clients[r] = e.login(r)
	}
	refusal := e.srv.langs.get(LangZH).T("error.403")
	var logoutRoutes []RouteInfo
	checked := 0
	for _, rt := range e.srv.Routes() {
		if rt.Perm == "" {
			continue
		}
		if rt.Path == "/logout" || rt.Path == "/logout-all" {
			logoutRoutes = append(logoutRoutes, rt)
			continue
		}
		path := params.Replace(rt.Path)
		for _, r := range accounts.Roles {
			c := clients[r]
			var res *http.Response
			var body string
			if rt.Method == http.MethodGet {
				res, body = c.get(path)
			} else {
				form := url.Values{"_csrf": {c.csrf}}
				req, _ := http.NewRequest(rt.Method, c.base+path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-CSRF-Token", c.csrf)
				res, body = c.do(req)
			}
			allowed := can(r, rt.Perm)
			refused := res.StatusCode == http.StatusForbidden && strings.Contains(body, refusal)
			if strings.HasPrefix(rt.Path, "/api/") {
				refused = res.StatusCode == http.StatusForbidden && strings.Contains(body, jsonEscape(refusal))
			}
			if allowed == refused {
				t.Errorf("%s %s as %s: status %d, allowed=%v refused=%v", rt.Method, rt.Path, r, res.StatusCode, allowed, refused)
			}
			if res.StatusCode == http.StatusUnauthorized || res.StatusCode >= 500 {
				t.Errorf("%s %s as %s: status %d", rt.Method, rt.Path, r, res.StatusCode)
			}
			checked++
		}
		// Anonymous: pages redirect to the login page, everything else is 401.
		anon := e.anon()
		req, _ := http.NewRequest(rt.Method, anon.base+path, nil)
		res, _ := anon.do(req)
		if rt.Method == http.MethodGet && !strings.HasPrefix(rt.Path, "/api/") {
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
				t.Errorf("anonymous GET %s: status %d location %q", rt.Path, res.StatusCode, res.Header.Get("Location"))
			}
		} else if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous %s %s: status %d, want 401", rt.Method, rt.Path, res.StatusCode)
		}
	}
	if checked < 150 {
		t.Fatalf("only %d route×role checks", checked)
	}
	for _, rt := range logoutRoutes {
		for _, r := range accounts.Roles {
			c := e.login(r)
			res := c.postForm(rt.Path, url.Values{})
			if res.StatusCode != http.StatusSeeOther {
				t.Errorf("%s as %s: status %d", rt.Path, r, res.StatusCode)
			}
			if res, _ := c.get("/"); res.StatusCode != http.StatusSeeOther {
				t.Errorf("after %s as %s the session still works (status %d)", rt.Path, r, res.StatusCode)
			}
		}
	}
}

func jsonEscape(s string) string {
	// encoding/json leaves CJK as is; the messages have no characters it would escape.
	return s
}

// TestTransitionRights checks the per-role triage table: an analyst may only take a new finding
// into review and propose escalation; a viewer and an admin may not move anything.
func TestTransitionRights(t *testing.T) {
	e := newEnv(t)
	fp := e.fps[2]
	move := func(c *client, to string) int {
		return c.postForm("/findings/"+fp+"/transition", url.Values{"to": {to}}).StatusCode
	}
	viewer, admin, analyst, pros := e.login(accounts.RoleViewer), e.login(accounts.RoleAdmin), e.login(accounts.RoleAnalyst), e.login(accounts.RoleProsecutor)
	if s := move(viewer, "in_review"); s != http.StatusForbidden {
		t.Errorf("viewer → in_review: %d", s)
	}
	if s := move(admin, "in_review"); s != http.StatusForbidden {
		t.Errorf("admin → in_review: %d", s)
	}
	if s := move(analyst, "in_review"); s != http.StatusSeeOther {
		t.Errorf("analyst → in_review: %d", s)
	}
	if s := move(analyst, "dismissed"); s != http.StatusForbidden {
		t.Errorf("analyst → dismissed: %d", s)
	}
	if s := move(analyst, "escalated"); s != http.StatusSeeOther {
		t.Errorf("analyst → escalated: %d", s)
	}
	if s := move(analyst, "case_opened"); s != http.StatusForbidden {
		t.Errorf("analyst → case_opened: %d", s)
	}
	if s := move(pros, "case_opened"); s != http.StatusSeeOther {
		t.Errorf("prosecutor → case_opened: %d", s)
	}
	// A document-issuing step needs the document number and date.
	if s := move(pros, "recommendation_issued"); s != http.StatusBadRequest {
		t.Errorf("recommendation without document: %d", s)
	}
	// An illegal edge is refused by the state machine.
	if s := move(pros, "new"); s != http.StatusConflict {
		t.Errorf("case_opened → new: %d", s)
	}
	h, err := e.st.History(context.Background(), fp)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 4 || h[1].Actor != "ana" || h[3].Actor != "pat" {
		t.Fatalf("history %+v", h)
	}
}
