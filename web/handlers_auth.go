package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
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
	form := postForm(c, "_csrf")
	if err := checkOrigin(c); err != nil {
		return err
	}
	if err != nil || ck.Value == "" || len(form) != len(ck.Value) || subtle.ConstantTimeCompare([]byte(form), []byte(ck.Value)) != 1 {
		return uerr(http.StatusForbidden, "error.csrf")
	}
	// Credentials only from the body: a password in the query string ends up in logs.
	name, pw := postForm(c, "username"), postForm(c, "password")
	next := safeNext(postForm(c, "next"))
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
	// The attempt is counted before the password is checked: concurrent guesses cannot all pass.
	if err := s.acc.ReserveLogin(ctx, bucket, ip, s.cfg.Login); err != nil {
		s.audit(c, bucket, "login.refused", bucket, map[string]string{"reason": err.Error()})
		if errors.Is(err, accounts.ErrLocked) {
			return fail("login.locked", http.StatusTooManyRequests)
		}
		return fail("login.toomany", http.StatusTooManyRequests)
	}
	u, err := s.acc.Verify(ctx, name, pw)
	if errors.Is(err, accounts.ErrBusy) || errors.Is(err, context.Canceled) {
		s.acc.ReleaseLogin(ctx, bucket, ip)
		c.Response().Header().Set("Retry-After", "5")
		return fail("login.busy", http.StatusServiceUnavailable)
	}
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
	s.acc.LoginSucceeded(ctx, bucket, ip)
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
	s.audit(c, pr.actor(), "logout", pr.user.Name, nil)
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

func (s *Server) logoutAll(c *echo.Context) error {
	pr := current(c)
	if err := s.acc.LogoutEverywhere(c.Request().Context(), pr.user.Name); err != nil {
		return err
	}
	s.audit(c, pr.actor(), "logout.all", pr.user.Name, nil)
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

type accountData struct {
	Sessions int
	Tokens   []accounts.Token
	New      string // a new token's secret, shown once
	Days     int    // the default lifetime offered for a new token
}

func (s *Server) accountPage(c *echo.Context) error {
	return s.renderAccount(c, http.StatusOK, "")
}

func (s *Server) renderAccount(c *echo.Context, code int, newToken string) error {
	ctx := c.Request().Context()
	pr := current(c)
	n, _ := s.acc.SessionCount(ctx, pr.user.Name)
	ts, err := s.acc.Tokens(ctx, pr.user.Name)
	if err != nil {
		return err
	}
	d := accountData{Sessions: n, Tokens: ts, New: newToken, Days: int(accounts.DefaultTokenTTL.Hours() / 24)}
	return s.render(c, code, "account", s.newPage(c, "account", "title.account", d))
}

// weakPassword shows why a password was refused, in the page's language.
func weakPassword(c *echo.Context, s *Server, err error) error {
	var pe *accounts.PasswordError
	if !errors.As(err, &pe) {
		return &userError{code: http.StatusBadRequest, key: "users.invalid", err: err}
	}
	reason := pe.EN
	if s.lang(c).Code == LangZH {
		reason = pe.ZH
	}
	return uerr(http.StatusBadRequest, "account.weak", reason)
}

func (s *Server) accountPassword(c *echo.Context) error {
	ctx := c.Request().Context()
	pr := current(c)
	ip := c.RealIP()
	// Checking the current password is a login: the same limits, counted the same way.
	if err := s.acc.ReserveLogin(ctx, pr.user.Name, ip, s.cfg.Login); err != nil {
		return uerr(http.StatusTooManyRequests, "login.toomany")
	}
	if _, err := s.acc.Verify(ctx, pr.user.Name, postForm(c, "current")); err != nil {
		if errors.Is(err, accounts.ErrBusy) {
			s.acc.ReleaseLogin(ctx, pr.user.Name, ip)
			c.Response().Header().Set("Retry-After", "5")
			return uerr(http.StatusServiceUnavailable, "login.busy")
		}
		s.acc.LoginFailed(ctx, pr.user.Name, ip, s.cfg.Login)
		return uerr(http.StatusForbidden, "account.badcurrent")
	}
	s.acc.LoginSucceeded(ctx, pr.user.Name, ip)
	pw := postForm(c, "new")
	if pw != postForm(c, "confirm") {
		return uerr(http.StatusBadRequest, "account.mismatch")
	}
	if err := accounts.CheckPassword(pr.user.Name, pw); err != nil {
		return weakPassword(c, s, err)
	}
	if err := s.acc.SetPassword(ctx, pr.user.Name, pw); err != nil {
		if errors.Is(err, accounts.ErrBusy) {
			c.Response().Header().Set("Retry-After", "5")
			return uerr(http.StatusServiceUnavailable, "login.busy")
		}
		return err
	}
	s.audit(c, pr.actor(), "password.changed", pr.user.Name, nil)
	s.clearSession(c)
	return c.Redirect(http.StatusSeeOther, "/login")
}

// tokenCreate issues an API token to the logged-in user, for the user only: nobody, not even an
// administrator, mints a token in another user's name on the dashboard (the CLI's pilmon user
// token, run by whoever holds the data dir, still can).
func (s *Server) tokenCreate(c *echo.Context) error {
	pr := current(c)
	days := accounts.DefaultTokenTTL
	if v := postForm(c, "days"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || time.Duration(n)*24*time.Hour > accounts.MaxTokenTTL {
			return uerr(http.StatusBadRequest, "tokens.baddays", int(accounts.MaxTokenTTL.Hours()/24))
		}
		days = time.Duration(n) * 24 * time.Hour
	}
	secret, t, err := s.acc.NewToken(c.Request().Context(), pr.user.Name, strings.TrimSpace(postForm(c, "label")), days)
	if err != nil {
		return &userError{code: http.StatusBadRequest, key: "users.invalid", err: err}
	}
	s.audit(c, pr.actor(), "token.create", pr.user.Name, map[string]string{"token": t.Short(), "label": t.Label,
		"expires": t.Expires.Format(time.RFC3339)})
	return s.renderAccount(c, http.StatusOK, secret)
}

func (s *Server) tokenRevoke(c *echo.Context) error {
	pr := current(c)
	id := c.Param("tok")
	if err := s.acc.RevokeToken(c.Request().Context(), pr.user.Name, id); err != nil {
		if errors.Is(err, accounts.ErrNoToken) {
			return echo.ErrNotFound
		}
		return err
	}
	s.audit(c, pr.actor(), "token.revoke", pr.user.Name, map[string]string{"token": accounts.Token{ID: id}.Short()})
	return c.Redirect(http.StatusSeeOther, "/account?flash=saved")
}
