package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"pilmon/accounts"
)

func (s *Server) healthz(c *echo.Context) error {
	if err := s.st.Ping(c.Request().Context()); err != nil {
		return c.String(http.StatusServiceUnavailable, "redis unavailable")
	}
	return c.String(http.StatusOK, "ok")
}

const preLoginCookie = "pilmon_prelogin"

// loginPage shows the form with a pre-session CSRF token (double submit: a cookie and the same
// value in the form), so that the login request itself cannot be forged by another site.
func (s *Server) loginPage(c *echo.Context) error {
	tok := accounts.RandomSecret(24)
	c.SetCookie(&http.Cookie{Name: preLoginCookie, Value: tok, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS, MaxAge: 3600})
	p := s.newPage(c, "login", "title.login", map[string]string{"Next": safeNext(c.QueryParam("next"))})
	p.CSRF = tok
	return s.render(c, http.StatusOK, "login", p)
}

func (s *Server) loginSubmit(c *echo.Context) error {
	ctx := c.Request().Context()
	ck, err := c.Cookie(preLoginCookie)
	form := c.FormValue("_csrf")
	if err := checkOrigin(c); err != nil {
		return err
	}
	if err != nil || ck.Value == "" || len(form) != len(ck.Value) || subtle.ConstantTimeCompare([]byte(form), []byte(ck.Value)) != 1 {
		return uerr(http.StatusForbidden, "error.csrf")
	}
	name, pw := c.FormValue("username"), c.FormValue("password")
	next := safeNext(c.FormValue("next"))
	bucket := name
	if accounts.CheckUserName(name) != nil {
		bucket = "-invalid-"
	}
	ip := c.RealIP()
	fail := func(key string, code int) error {
		p := s.newPage(c, "login", "title.login", map[string]string{"Next": next})
		tok := accounts.RandomSecret(24)
		c.SetCookie(&http.Cookie{Name: preLoginCookie, Value: tok, Path: "/login", HttpOnly: true,
			SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS, MaxAge: 3600})
		p.CSRF = tok
		p.Error = p.L.T(key)
		return s.render(c, code, "login", p)
	}
	if err := s.acc.CheckLoginAllowed(ctx, bucket, ip, s.cfg.Login); err != nil {
		s.audit(c, bucket, "login.refused", bucket, map[string]string{"reason": err.Error()})
		if errors.Is(err, accounts.ErrLocked) {
			return fail("login.locked", http.StatusTooManyRequests)
		}
		return fail("login.toomany", http.StatusTooManyRequests)
	}
	u, err := s.acc.Verify(ctx, name, pw)
	if err != nil {
		locked := s.acc.LoginFailed(ctx, bucket, ip, s.cfg.Login)
		s.audit(c, bucket, "login.failed", bucket, nil)
		if locked {
			s.audit(c, bucket, "login.locked", bucket, nil)
			return fail("login.locked", http.StatusTooManyRequests)
		}
		if errors.Is(err, accounts.ErrDisabled) {
			return fail("login.disabled", http.StatusForbidden)
		}
		return fail("login.bad", http.StatusUnauthorized)
	}
	s.acc.LoginSucceeded(ctx, u.Name)
	secret, _, err := s.acc.CreateSession(ctx, u, s.cfg.Session)
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{Name: s.sessionCookieName(), Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS})
	c.SetCookie(&http.Cookie{Name: preLoginCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS})
	s.audit(c, u.Name, "login", u.Name, nil)
	return c.Redirect(http.StatusSeeOther, next)
}

// setLang switches the language (a cookie only; no server state changes).
func (s *Server) setLang(c *echo.Context) error {
	c.SetCookie(&http.Cookie{Name: "pilmon_lang", Value: c.Param("code"), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS, MaxAge: 365 * 24 * 3600})
	return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
}

func (s *Server) clearSession(c *echo.Context) {
	c.SetCookie(&http.Cookie{Name: s.sessionCookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.cfg.TLS, Expires: time.Unix(1, 0)})
}

func (s *Server) logout(c *echo.Context) error {
	pr := current(c)
	if err := s.acc.DeleteSession(c.Request().Context(), *pr.session); err != nil {
		return err
	}
	s.audit(c, pr.user.Name, "logout", pr.user.Name, nil)
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) logoutAll(c *echo.Context) error {
	pr := current(c)
	if err := s.acc.RevokeSessions(c.Request().Context(), pr.user.Name); err != nil {
		return err
	}
	s.audit(c, pr.user.Name, "logout.all", pr.user.Name, nil)
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) accountPage(c *echo.Context) error {
	pr := current(c)
	n, _ := s.acc.SessionCount(c.Request().Context(), pr.user.Name)
	return s.render(c, http.StatusOK, "account", s.newPage(c, "account", "title.account", map[string]any{"Sessions": n}))
}

func (s *Server) accountPassword(c *echo.Context) error {
	ctx := c.Request().Context()
	pr := current(c)
	if _, err := s.acc.Verify(ctx, pr.user.Name, c.FormValue("current")); err != nil {
		s.acc.LoginFailed(ctx, pr.user.Name, c.RealIP(), s.cfg.Login)
		return uerr(http.StatusForbidden, "account.badcurrent")
	}
	pw := c.FormValue("new")
	if pw != c.FormValue("confirm") {
		return uerr(http.StatusBadRequest, "account.mismatch")
	}
	if err := accounts.CheckPassword(pw); err != nil {
		return uerr(http.StatusBadRequest, "account.weak", accounts.MinPasswordLen)
	}
	if err := s.acc.SetPassword(ctx, pr.user.Name, pw); err != nil {
		return err
	}
	s.audit(c, pr.user.Name, "password.changed", pr.user.Name, nil)
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}
