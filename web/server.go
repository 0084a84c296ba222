// Package web is pilmon's dashboard and its small JSON API: an Echo (v5) server with login, roles,
// CSRF tokens, a strict Content-Security-Policy, zh-CN/en catalogues, the triage views, the
// evidence viewer, the per-target checklist and the audit history. Templates, styles, scripts and
// message catalogues are embedded: the dashboard works on a network with no Internet at all.
//
// Security model, in one place:
//   - every route names one permission (routes.go) and the role table (authz.go) decides; the
//     check runs before the handler, and path parameters are validated by name before that;
//   - sessions are random 256-bit cookie values (HttpOnly, SameSite=Strict, Secure and __Host- with
//     TLS) stored in Redis by their SHA-256, with idle and absolute expiry;
//   - every state-changing request carries the session's CSRF token (header, or form field of the
//     body; never the query string) and, when the browser says where it comes from, a same-origin
//     Origin / Sec-Fetch-Site;
//   - a login attempt is counted per (user, client address) before its password is hashed, and
//     hashing runs in a few slots (accounts.HashLimits); the client address is the socket peer
//     unless the peer is a configured trusted proxy;
//   - API tokens are the user's own (minted on the account page), expire, and die with a password
//     reset, a log-out everywhere, a forced log-out or disabling; what a token does is recorded as
//     "user (token t_…)";
//   - no authenticated response may be cached (Cache-Control: no-store);
//   - everything the party under investigation wrote (app names, policy text, URLs) is rendered by
//     html/template, escaped for its context; captured HTML is shown only in a sandboxed frame
//     served from its own path with CSP sandbox, never inline;
//   - evidence is addressed only by a validated SHA-256; no part of a request becomes a path.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v5"

	"pilmon/accounts"
	"pilmon/cases"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/listindex"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// TargetRegistry is what the dashboard needs of the target registry (*targets.Registry).
type TargetRegistry interface {
	Get(ctx context.Context, id string) (scanner.Target, error)
	List(ctx context.Context) ([]scanner.Target, error)
	Put(ctx context.Context, t scanner.Target) (scanner.Target, error)
}

// Exporter writes a case-file bundle (zip) of a target's findings and/or the listed fingerprints.
type Exporter interface {
	Export(ctx context.Context, w io.Writer, target string, fps []string, user string) error
}

// CaseExporter writes the case file and the draft 检察建议书 of one case; the Exporter given in
// Config may implement it (the case page then offers both).
type CaseExporter interface {
	ExportCase(ctx context.Context, w io.Writer, caseID, user string) error
	DraftRecommendation(ctx context.Context, w io.Writer, caseID, user string) error
}

// Config wires the server to its stores.
type Config struct {
	Store     *store.Store     // required
	Evidence  *evidence.Store  // required
	Catalogue *rules.Catalogue // required
	// Targets is the target registry; nil until one is configured (the views then derive targets
	// from the findings).
	Targets TargetRegistry
	Logger  *slog.Logger
	// TLS makes cookies Secure (and __Host- prefixed).
	TLS     bool
	Session accounts.SessionLimits // zero: 30 min idle, 12 h absolute
	Login   accounts.LoginLimits   // zero: accounts.DefaultLoginLimits
	// Hashing bounds concurrent argon2id computations (zero: accounts.DefaultHashLimits).
	Hashing accounts.HashLimits
	// TrustedProxies are the reverse proxies whose X-Forwarded-For / X-Real-IP name the client;
	// from any other peer those headers are ignored and the socket's address is the client's.
	TrustedProxies []netip.Prefix
	// MaxUpload bounds one uploaded file (zero: 1 GiB).
	MaxUpload int64
	// UploadQuota bounds the bytes one user may upload in total, counted in the store (zero: no
	// quota). Uploads past it are refused with 507 before anything is stored.
	UploadQuota int64
	// IndexInterval is how long the findings list index waits before retrying after an error
	// reading the store (zero: 2 s); it follows the store's change feed as changes happen.
	IndexInterval time.Duration
	// Export writes case-file bundles; nil hides the export buttons.
	Export Exporter
	// UploadDir is where uploaded sources are written (named by their SHA-256) so that the target
	// registry can scan them; it must be inside the registry's import folder. Empty disables uploads.
	UploadDir string
	// Version is shown in the footer.
	Version string
	// Kinds are the source kinds of this build as its inspectors declare them (pipeline.Kinds):
	// the upload form offers those with an Upload declaration, under their labels.
	Kinds []scanner.KindSpec
	// Deadlines are the periods of the case path (zero: cases.DefaultPolicy).
	Deadlines cases.Policy
}

// Server is the dashboard.
type Server struct {
	cfg    Config
	e      *echo.Echo
	acc    *accounts.Accounts
	st     *store.Store
	ev     *evidence.Store
	cat    *rules.Catalogue
	langs  langs
	pages  map[string]*template.Template
	static map[string]staticFile
	idx    *listindex.Index
	log    *slog.Logger
	routes []route

	dir targetDir

	ruleTextOnce sync.Once
	ruleText     [][3]string // id, lower-cased "id\x00English title", Chinese title (see rulesMatching)

	optsMu   sync.Mutex
	opts     filterOptions
	optsTime time.Time
	optsBusy bool
}

type staticFile struct {
	body  []byte
	ctype string
}

// New builds the server. Start the background index with Run.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Evidence == nil || cfg.Catalogue == nil {
		return nil, errors.New("web: Store, Evidence and Catalogue are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Session.Idle <= 0 {
		cfg.Session.Idle = 30 * time.Minute
	}
	if cfg.Session.Absolute <= 0 {
		cfg.Session.Absolute = 12 * time.Hour
	}
	if cfg.Login.PerUser <= 0 {
		cfg.Login = accounts.DefaultLoginLimits
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 1 << 30
	}
	if cfg.IndexInterval <= 0 {
		cfg.IndexInterval = 2 * time.Second
	}
	if cfg.Deadlines == (cases.Policy{}) {
		cfg.Deadlines = cases.DefaultPolicy
	}
	if err := cfg.Deadlines.Validate(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	ls, err := loadLangs()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, st: cfg.Store, ev: cfg.Evidence, cat: cfg.Catalogue, langs: ls, log: cfg.Logger,
		acc: accounts.New(cfg.Store), idx: listindex.New(cfg.Store, cfg.Logger),
	}
	s.idx.SetTerms(listindex.CatalogueTerms(cfg.Catalogue))
	s.acc.LimitHashing(cfg.Hashing)
	if err := s.loadTemplates(); err != nil {
		return nil, err
	}
	if err := s.loadStatic(); err != nil {
		return nil, err
	}
	s.e = echo.New()
	s.e.Logger = cfg.Logger
	s.e.HTTPErrorHandler = s.handleError
	s.e.IPExtractor = clientIP(cfg.TrustedProxies)
	s.e.Pre(refuseDotSegments)
	s.e.Use(s.recoverer, securityHeaders)
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.e.Add(rt.method, rt.path, s.wrap(rt))
	}
	s.e.GET("/static/:name", s.serveStatic)
	s.e.RouteNotFound("/*", func(c *echo.Context) error { return echo.ErrNotFound })
	return s, nil
}

// Accounts returns the account store (for the CLI's user commands and tests).
func (s *Server) Accounts() *accounts.Accounts { return s.acc }

// Handler returns the HTTP handler.
func (s *Server) Handler() http.Handler { return s.e }

// Run keeps the findings list index up to date until ctx ends.
func (s *Server) Run(ctx context.Context) {
	s.idx.Run(ctx, s.cfg.IndexInterval)
}

// SyncIndex brings the findings list index up to date once (tests, benchmarks; a list request
// does the same).
func (s *Server) SyncIndex(ctx context.Context) error { return s.idx.CatchUp(ctx) }

func (s *Server) loadTemplates() error {
	funcs := template.FuncMap{
		"add":   func(a, b int) int { return a + b },
		"sub":   func(a, b int) int { return a - b },
		"short": shortHash,
		"attr":  attrString,
		"isquote": func(k string) bool {
			return k == "quote" || k == "title"
		},
		"seq": func(n int) []int {
			out := make([]int, n)
			for i := range out {
				out[i] = i
			}
			return out
		},
		"citation":   func(c rules.Citation) string { return c.String() },
		"describe":   func(subject string) rules.Text { return findings.Describe(s.cat, subject) },
		"reason":     findings.ReasonLabel,
		"manualscan": func(scanID string) bool { return strings.HasPrefix(scanID, store.ManualScanPrefix) },
		"dur":        func(d time.Duration) string { return d.Round(time.Second).String() },
		"pct": func(a, b int64) float64 {
			if b == 0 {
				return 0
			}
			return float64(a) * 100 / float64(b)
		},
	}
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return fmt.Errorf("web: templates: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	s.pages = map[string]*template.Template{}
	for _, n := range names {
		b := path.Base(n)
		if b == "layout.html" || b == "partials.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", b, err)
		}
		s.pages[strings.TrimSuffix(b, ".html")] = t
	}
	return nil
}

func (s *Server) loadStatic() error {
	s.static = map[string]staticFile{}
	return fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		s.static[path.Base(p)] = staticFile{body: b, ctype: ct}
		return nil
	})
}

// serveStatic serves an embedded file by exact name: the name is a map key, never a path.
func (s *Server) serveStatic(c *echo.Context) error {
	f, ok := s.static[c.Param("name")]
	if !ok {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=3600")
	return c.Blob(http.StatusOK, f.ctype, f.body)
}

// page is what every template gets.
type page struct {
	L     *Lang
	User  *accounts.User
	CSRF  string
	Nav   string
	Title string // catalogue key
	Path  string // current request URI, for the language switch
	Flash string // an already translated message
	Error string
	Ver   string
	D     any
}

// Can reports whether the current user has a permission (templates hide what they may not use;
// the server checks again).
func (p page) Can(perm string) bool { return p.User != nil && can(p.User.Role, Perm(perm)) }

func (s *Server) lang(c *echo.Context) *Lang {
	if ck, err := c.Cookie("pilmon_lang"); err == nil {
		return s.langs.get(ck.Value)
	}
	return s.langs.get(LangZH)
}

func (s *Server) newPage(c *echo.Context, nav, title string, d any) page {
	p := page{L: s.lang(c), Nav: nav, Title: title, D: d, Path: c.Request().URL.RequestURI(), Ver: s.cfg.Version}
	if pr, ok := c.Get(principalKey).(*principal); ok {
		u := pr.user
		p.User = &u
		if pr.session != nil {
			p.CSRF = pr.session.CSRF
		}
	}
	if f := c.QueryParam("flash"); f != "" && p.L.Has("flash."+f) {
		p.Flash = p.L.T("flash." + f)
	}
	return p
}

// render executes a page template into a buffer first, so that a template error never sends half
// a page.
func (s *Server) render(c *echo.Context, code int, name string, p page) error {
	return s.renderContent(c, code, name, p, nil)
}

// renderContent is render with the page's content written by content, when not nil, instead of
// its "content" template (the findings list, see listrows.go): straight into the page buffer,
// between the layout's head and foot.
func (s *Server) renderContent(c *echo.Context, code int, name string, p page, content func(*bytes.Buffer)) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("web: no template %q", name)
	}
	buf := renderBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 1<<20 {
			renderBufs.Put(buf)
		}
	}()
	var err error
	if content == nil {
		err = t.ExecuteTemplate(buf, "layout", p)
	} else if err = t.ExecuteTemplate(buf, "head", p); err == nil {
		content(buf)
		err = t.ExecuteTemplate(buf, "foot", p)
	}
	if err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(code, buf.Bytes())
}

// renderBufs keeps page buffers between requests: a list page is about 60 KB, and allocating it
// afresh for every request made the garbage collector run far more often.
var renderBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// userError is an error whose message (a catalogue key plus arguments) is shown to the user.
type userError struct {
	code int
	key  string
	args []any
	err  error
}

func (e *userError) Error() string {
	if e.err != nil {
		return e.key + ": " + e.err.Error()
	}
	return e.key
}
func (e *userError) Unwrap() error   { return e.err }
func (e *userError) StatusCode() int { return e.code }

func uerr(code int, key string, args ...any) *userError {
	return &userError{code: code, key: key, args: args}
}

func (s *Server) handleError(c *echo.Context, err error) {
	if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
		return
	}
	if errors.Is(err, context.Canceled) && c.Request().Context().Err() != nil {
		// The client went away (closed the tab, the connection dropped): nobody reads an answer,
		// and it is not a server failure.
		c.Response().WriteHeader(499)
		return
	}
	code := echo.StatusCode(err)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	l := s.lang(c)
	key := fmt.Sprintf("error.%d", code)
	if !l.Has(key) {
		key = "error.500"
	}
	msg := l.T(key)
	var ue *userError
	if errors.As(err, &ue) {
		msg = l.T(ue.key, ue.args...)
		if ue.err != nil {
			msg += " (" + ue.err.Error() + ")"
		}
	}
	if code >= 500 {
		s.log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") {
		_ = c.JSON(code, map[string]any{"error": msg, "status": code})
		return
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(code)
		return
	}
	p := s.newPage(c, "", "title.error", map[string]any{"Code": code})
	p.Error = msg
	if rerr := s.render(c, code, "error", p); rerr != nil {
		_ = c.String(code, msg)
	}
}

// securityHeaders sets the headers every response carries. Handlers that serve evidence replace
// Content-Security-Policy with a stricter one (sandbox).
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer the browser sends "Origin: null" on every
		// form POST, which checkOrigin could not tell from a sandboxed or file:// attacker.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		if c.IsTLS() {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// pageCSP allows only this origin's script and style files (no inline script or style, no eval),
// images from this origin, frames only from this origin (the sandboxed evidence viewer), and no
// embedding of the dashboard anywhere.
const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"frame-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				s.log.Error("panic in handler", "path", c.Request().URL.Path, "panic", r)
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// refuseDotSegments refuses any request whose path, decoded or not, has a "." or ".." segment or
// a backslash, before routing: no route ever sees one.
func refuseDotSegments(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		for _, p := range []string{r.URL.Path, r.URL.RawPath, r.RequestURI} {
			if q := strings.IndexByte(p, '?'); q >= 0 {
				p = p[:q]
			}
			if badPath(p) {
				return uerr(http.StatusBadRequest, "error.badpath")
			}
		}
		return next(c)
	}
}

func badPath(p string) bool {
	if strings.ContainsAny(p, "\\\x00") {
		return true
	}
	lp := strings.ToLower(p)
	if strings.Contains(lp, "%2e") || strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") || strings.Contains(lp, "%00") {
		return true
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// safeNext returns next when it is a local path on this server, else "/".
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || badPath(u.Path) || badPath(strings.SplitN(next, "?", 2)[0]) {
		return "/"
	}
	return next
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// attrString renders an observation attribute value as text.
func attrString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = attrString(e)
		}
		return strings.Join(parts, ", ")
	case []string:
		return strings.Join(x, ", ")
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprintf("%d", int64(x))
		}
		return fmt.Sprintf("%g", x)
	default:
		return fmt.Sprint(x)
	}
}
