package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"strings"

	"github.com/labstack/echo/v5"

	"pilmon/accounts"
	"pilmon/evidence"
	"pilmon/listindex"
)

// route is one entry of the route table: every route names the permission it needs ("" only for
// the login page and health check). The table is the single place that says who may do what.
type route struct {
	method string
	path   string
	perm   Perm
	h      func(*Server, *echo.Context) error
	// multipart routes check the CSRF token themselves, from the first part of the body, so that
	// a file is never read before the token is verified.
	multipart bool
}

func (s *Server) routeTable() []route {
	G, P := http.MethodGet, http.MethodPost
	return []route{
		{G, "/healthz", "", (*Server).healthz, false},
		{G, "/login", "", (*Server).loginPage, false},
		{P, "/login", "", (*Server).loginSubmit, false},
		{G, "/lang/:code", "", (*Server).setLang, false},

		{P, "/logout", PermSelf, (*Server).logout, false},
		{P, "/logout-all", PermSelf, (*Server).logoutAll, false},
		{G, "/account", PermSelf, (*Server).accountPage, false},
		{P, "/account/password", PermSelf, (*Server).accountPassword, false},
		{P, "/account/tokens", PermSelf, (*Server).tokenCreate, false},
		{P, "/account/tokens/:tok/revoke", PermSelf, (*Server).tokenRevoke, false},

		{G, "/", PermRead, (*Server).overview, false},
		{G, "/findings", PermRead, (*Server).findingsList, false},
		{P, "/findings/bulk", PermTriage, (*Server).bulkTransition, false},
		{G, "/findings/:fp", PermRead, (*Server).findingPage, false},
		{P, "/findings/:fp/transition", PermTriage, (*Server).transition, false},
		{P, "/findings/:fp/notes", PermNote, (*Server).addNote, false},
		{P, "/findings/export", PermExport, (*Server).exportFindings, false},

		{G, "/evidence/:hash", PermRead, (*Server).evidencePage, false},
		{G, "/evidence/:hash/raw", PermRead, (*Server).evidenceRaw, false},
		{G, "/evidence/:hash/image", PermRead, (*Server).evidenceImage, false},
		{G, "/evidence/:hash/frame", PermRead, (*Server).evidenceFrame, false},
		{G, "/evidence/:hash/har", PermRead, (*Server).evidenceHAR, false},

		{G, "/targets", PermRead, (*Server).targetsPage, false},
		{P, "/targets", PermTargets, (*Server).targetAdd, true},
		{G, "/targets/:id", PermRead, (*Server).targetPage, false},
		{P, "/targets/:id/scan", PermScan, (*Server).targetScan, false},
		{P, "/targets/:id/schedule", PermTargets, (*Server).targetSchedule, false},
		{P, "/targets/:id/upload", PermTargets, (*Server).targetUpload, true},
		{G, "/targets/:id/checklist", PermRead, (*Server).checklistPage, false},
		{P, "/targets/:id/checklist/:rule", PermChecklist, (*Server).checklistRecord, true},

		{G, "/cases", PermRead, (*Server).casesPage, false},
		{G, "/cases/new", PermCases, (*Server).newCasePage, false},
		{P, "/cases", PermCases, (*Server).caseCreate, false},
		{G, "/cases/:id", PermRead, (*Server).casePage, false},
		{P, "/cases/:id/move", PermCases, (*Server).caseMove, true},
		{P, "/cases/:id/findings", PermCases, (*Server).caseJoin, false},
		{P, "/cases/:id/findings/:fp/leave", PermCases, (*Server).caseLeave, false},
		{P, "/cases/:id/recheck", PermCases, (*Server).caseRecheck, false},
		{P, "/cases/:id/edit", PermCases, (*Server).caseEdit, false},
		{P, "/cases/:id/export", PermExport, (*Server).caseExport, false},
		{P, "/cases/:id/draft", PermExport, (*Server).caseDraft, false},
		{G, "/policy/diff", PermRead, (*Server).policyDiffPage, false},

		{G, "/progress", PermRead, (*Server).progressPage, false},
		{G, "/progress/events", PermRead, (*Server).progressEvents, false},
		{G, "/dead", PermOps, (*Server).deadPage, false},
		{G, "/audit", PermAudit, (*Server).auditPage, false},

		{G, "/users", PermUsers, (*Server).usersPage, false},
		{P, "/users", PermUsers, (*Server).userAdd, false},
		{P, "/users/:name/disable", PermUsers, (*Server).userDisable, false},
		{P, "/users/:name/enable", PermUsers, (*Server).userEnable, false},
		{P, "/users/:name/password", PermUsers, (*Server).userPassword, false},
		{P, "/users/:name/role", PermUsers, (*Server).userRole, false},
		{P, "/users/:name/unlock", PermUsers, (*Server).userUnlock, false},
		{P, "/users/:name/logout", PermUsers, (*Server).userLogout, false},

		{G, "/api/v1/findings", PermRead, (*Server).apiFindings, false},
		{G, "/api/v1/findings/:fp", PermRead, (*Server).apiFinding, false},
		{P, "/api/v1/findings/:fp/transition", PermTriage, (*Server).apiTransition, false},
		{G, "/api/v1/counts", PermRead, (*Server).apiCounts, false},
		{G, "/api/v1/targets", PermRead, (*Server).apiTargets, false},
		{P, "/api/v1/targets/:id/scan", PermScan, (*Server).apiScan, false},
		{G, "/api/v1/cases", PermRead, (*Server).apiCases, false},
		{P, "/api/v1/cases", PermCases, (*Server).apiCaseCreate, false},
		{G, "/api/v1/cases/:id", PermRead, (*Server).apiCase, false},
		{P, "/api/v1/cases/:id/move", PermCases, (*Server).apiCaseMove, false},
		{P, "/api/v1/cases/:id/findings", PermCases, (*Server).apiCaseFindings, false},
		{P, "/api/v1/cases/:id/edit", PermCases, (*Server).apiCaseEdit, false},
		{G, "/api/v1/events", PermRead, (*Server).apiEvents, false},
	}
}

// RouteInfo describes a route for tests and documentation.
type RouteInfo struct {
	Method, Path string
	Perm         Perm
}

// Routes lists every route with the permission it requires.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, r := range s.routes {
		out[i] = RouteInfo{r.method, r.path, r.perm}
	}
	return out
}

// Path parameters are validated by name before anything else sees them.
var (
	fpRE     = regexp.MustCompile(`^[0-9a-f]{32}$`)
	tokRE    = regexp.MustCompile(`^[0-9a-f]{64}$`)
	idRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
	ruleRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	scanIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)
)

func checkParam(name, v string) bool {
	if strings.Contains(v, "..") && name != "id" {
		return false
	}
	switch name {
	case "fp":
		return fpRE.MatchString(v)
	case "hash":
		return evidence.CheckHash(v) == nil
	case "id":
		return idRE.MatchString(v) && v != "." && v != ".." && !strings.HasPrefix(v, "..")
	case "rule":
		return ruleRE.MatchString(v)
	case "tok":
		return tokRE.MatchString(v)
	case "name":
		return accounts.CheckUserName(v) == nil
	case "code":
		return v == LangZH || v == LangEN
	case "name*", "*":
		return false
	case "a", "b", "scan":
		return scanIDRE.MatchString(v)
	}
	return false
}

func checkParams(c *echo.Context) error {
	for _, pv := range c.PathValues() {
		if !checkParam(pv.Name, pv.Value) {
			return uerr(http.StatusBadRequest, "error.badparam")
		}
	}
	return nil
}

// principal is who is making a request and how they proved it.
type principal struct {
	user    accounts.User
	session *accounts.Session // nil for API tokens
	token   *accounts.Token   // the API token, when the request came with one
}

// actor names who acted in audit entries and history: the user, and the token when the request
// came with one ("alice (token t_0123456789ab)"), so that an action taken by a script can be told
// from one taken in a browser and traced to the token.
func (pr *principal) actor() string {
	if pr.token != nil {
		return pr.user.Name + " (token " + pr.token.Short() + ")"
	}
	return pr.user.Name
}

const principalKey = "pilmon.principal"

func (s *Server) sessionCookieName() string {
	if s.cfg.TLS {
		return "__Host-pilmon_session"
	}
	return "pilmon_session"
}

// authenticate finds the principal: an API token (Authorization: Bearer) or the session cookie.
func (s *Server) authenticate(c *echo.Context) (*principal, error) {
	ctx := c.Request().Context()
	if h := c.Request().Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return nil, accounts.ErrBadCredentials
		}
		u, t, err := s.acc.TokenUser(ctx, strings.TrimSpace(tok))
		if err != nil {
			return nil, err
		}
		return &principal{user: u, token: &t}, nil
	}
	ck, err := c.Cookie(s.sessionCookieName())
	if err != nil {
		return nil, accounts.ErrNoSession
	}
	if c.Request().Method != http.MethodGet || !listsFindings[c.Path()] {
		sess, err := s.acc.LoadSession(ctx, ck.Value, s.cfg.Session)
		if err != nil {
			return nil, err
		}
		return &principal{user: sess.User, session: &sess}, nil
	}
	// The pages that list findings read, in the same round trip as the session, the findings
	// change feed after the list index's position (see listindex.Index.Prefetch) and the target
	// registry's version (see targetDir).
	id, ok := accounts.SessionID(ck.Value)
	if !ok {
		return nil, accounts.ErrNoSession
	}
	after, applyFeed := s.idx.Prefetch()
	ps, err := s.st.PageState(ctx, id, after, listindex.ChangesPerRead)
	if err != nil {
		return nil, err
	}
	sess, err := s.acc.Accept(ctx, ps.Session, s.cfg.Session)
	if err != nil {
		return nil, err
	}
	if err := applyFeed(ctx, ps.Changes, ps.ChangesErr); err != nil {
		return nil, err
	}
	ctx = listindex.MarkFresh(ctx)
	if _, ok := s.cfg.Targets.(versionedRegistry); ok && ps.TargetsVersion >= 0 {
		ctx = context.WithValue(ctx, targetsVersionKey{}, ps.TargetsVersion)
	}
	c.SetRequest(c.Request().WithContext(ctx))
	return &principal{user: sess.User, session: &sess}, nil
}

// listsFindings are the routes whose pages are answered from the findings list index.
var listsFindings = map[string]bool{"/": true, "/findings": true}

func isUnsafe(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// wrap applies, in order: path-parameter validation, authentication, the route's permission,
// and, for state changes made with a session, the same-origin and CSRF checks.
func (s *Server) wrap(rt route) echo.HandlerFunc {
	api := strings.HasPrefix(rt.path, "/api/")
	return func(c *echo.Context) error {
		if err := checkParams(c); err != nil {
			return err
		}
		if rt.perm == "" {
			return rt.h(s, c)
		}
		pr, err := s.authenticate(c)
		if err != nil {
			if !api && c.Request().Method == http.MethodGet {
				return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			if errors.Is(err, accounts.ErrDisabled) {
				return uerr(http.StatusForbidden, "error.disabled")
			}
			return uerr(http.StatusUnauthorized, "error.401")
		}
		if !api && pr.session == nil {
			// Tokens are for the JSON API only; pages need a browser session.
			return uerr(http.StatusUnauthorized, "error.401")
		}
		if !can(pr.user.Role, rt.perm) {
			s.audit(c, pr.actor(), "denied", c.Request().Method+" "+c.Request().URL.Path, nil)
			return uerr(http.StatusForbidden, "error.403")
		}
		c.Set(principalKey, pr)
		// Everything behind a login shows or serves personal data or evidence: no cache may keep
		// it (a handler may only make this stricter).
		c.Response().Header().Set("Cache-Control", "no-store")
		if isUnsafe(c.Request().Method) && pr.session != nil {
			if err := checkOrigin(c); err != nil {
				return err
			}
			if !rt.multipart {
				if err := checkCSRF(c, pr.session.CSRF, ""); err != nil {
					return err
				}
			}
		}
		return rt.h(s, c)
	}
}

// checkOrigin refuses a state change that the browser says comes from another site.
func checkOrigin(c *echo.Context) error {
	r := c.Request()
	if sfs := r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" && sfs != "none" {
		return uerr(http.StatusForbidden, "error.csrf")
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return uerr(http.StatusForbidden, "error.csrf")
		}
	} else if o == "null" {
		return uerr(http.StatusForbidden, "error.csrf")
	}
	return nil
}

// checkCSRF compares the request's token (header X-CSRF-Token, else form field _csrf of the
// body, else got) with the session's in constant time. A token in the query string is never
// read: URLs end up in logs, history and Referer headers.
func checkCSRF(c *echo.Context, want, got string) error {
	if got == "" {
		got = c.Request().Header.Get("X-CSRF-Token")
	}
	if got == "" {
		got = postForm(c, "_csrf")
	}
	if want == "" || len(got) != len(want) || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return uerr(http.StatusForbidden, "error.csrf")
	}
	return nil
}

func current(c *echo.Context) *principal {
	pr, _ := c.Get(principalKey).(*principal)
	return pr
}

// postForm returns a field of a url-encoded or multipart request body, never of the query string.
func postForm(c *echo.Context, name string) string {
	r := c.Request()
	if r.PostForm == nil {
		_ = r.ParseMultipartForm(32 << 20)
	}
	return r.PostFormValue(name)
}

// clientIP returns the IP extractor for the trusted proxies: the socket peer, unless the peer is a
// trusted proxy; then the address the proxies recorded (X-Forwarded-For read from the right,
// skipping trusted proxies, else X-Real-IP). A client that is not a trusted proxy cannot choose
// its address by sending the headers itself.
func clientIP(trusted []netip.Prefix) echo.IPExtractor {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a.Unmap()) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		peer := r.RemoteAddr
		if ap, err := netip.ParseAddrPort(peer); err == nil {
			peer = ap.Addr().Unmap().String()
		} else if h, _, err := net.SplitHostPort(peer); err == nil {
			peer = h
		}
		pa, err := netip.ParseAddr(peer)
		if err != nil || !isTrusted(pa) {
			return peer
		}
		hops := r.Header.Values("X-Forwarded-For")
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					return peer
				}
				if !isTrusted(a) {
					return a.Unmap().String()
				}
			}
		}
		if a, err := netip.ParseAddr(strings.TrimSpace(r.Header.Get("X-Real-IP"))); err == nil {
			return a.Unmap().String()
		}
		return peer
	}
}
