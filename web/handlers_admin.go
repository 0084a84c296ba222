package web

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/labstack/echo/v5"

	"pilmon/accounts"
	"pilmon/store"
)

type progressData struct {
	Events []store.EventMessage
	Last   string
	Queued int64
}

func (s *Server) progressPage(c *echo.Context) error {
	ctx := c.Request().Context()
	evs, err := s.st.RecentEvents(ctx, 100)
	if err != nil {
		return err
	}
	d := progressData{Events: evs}
	if len(evs) > 0 {
		d.Last = evs[0].StreamID
	}
	d.Queued, _ = s.st.JobCount(ctx)
	return s.render(c, http.StatusOK, "progress", s.newPage(c, "progress", "title.progress", d))
}

var streamIDRE = regexp.MustCompile(`^[0-9]{1,20}-[0-9]{1,20}$`)

// eventJSON is what the progress page's script receives; it sets text, never HTML.
type eventJSON struct {
	ID      string         `json:"id"`
	Kind    string         `json:"kind"`
	Scan    string         `json:"scan"`
	Target  string         `json:"target"`
	Message string         `json:"message"`
	At      string         `json:"at"`
	Data    map[string]any `json:"data,omitempty"`
}

// progressEvents returns the events after a stream id (polled by static/app.js every 2 s).
func (s *Server) progressEvents(c *echo.Context) error {
	after := c.QueryParam("after")
	if after == "" {
		after = "0-0"
	}
	if !streamIDRE.MatchString(after) {
		return uerr(http.StatusBadRequest, "error.badparam")
	}
	evs, err := s.st.ReadEvents(c.Request().Context(), after, 200, -1)
	if err != nil {
		return err
	}
	l := s.lang(c)
	out := make([]eventJSON, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventJSON{ID: e.StreamID, Kind: e.Event.Kind, Scan: e.Event.ScanID, Target: e.Event.TargetID,
			Message: e.Event.Message, At: l.Date(e.Event.At), Data: e.Event.Data})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, out)
}

func (s *Server) deadPage(c *echo.Context) error {
	dead, err := s.st.DeadJobs(c.Request().Context(), 500)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "dead", s.newPage(c, "dead", "title.dead", dead))
}

type auditData struct {
	Entries []store.AuditEntry
	Next    string
}

func (s *Server) auditPage(c *echo.Context) error {
	before := c.QueryParam("before")
	if before != "" && !streamIDRE.MatchString(before) {
		return uerr(http.StatusBadRequest, "error.badparam")
	}
	es, err := s.AuditLog(c.Request().Context(), before, 200)
	if err != nil {
		return err
	}
	d := auditData{Entries: es}
	if len(es) == 200 {
		d.Next = es[len(es)-1].ID
	}
	return s.render(c, http.StatusOK, "audit", s.newPage(c, "audit", "title.audit", d))
}

type usersData struct {
	Users []accounts.User
	Roles []accounts.Role
}

func (s *Server) usersPage(c *echo.Context) error {
	us, err := s.acc.List(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "users", s.newPage(c, "users", "title.users", usersData{Users: us, Roles: accounts.Roles}))
}

func (s *Server) userAdd(c *echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	role := accounts.Role(c.FormValue("role"))
	if err := s.acc.Add(c.Request().Context(), name, role, postForm(c, "password")); err != nil {
		if errors.Is(err, accounts.ErrUserExists) {
			return uerr(http.StatusConflict, "users.exists")
		}
		var pe *accounts.PasswordError
		if errors.As(err, &pe) {
			return weakPassword(c, s, err)
		}
		return &userError{code: http.StatusBadRequest, key: "users.invalid", err: err}
	}
	s.audit(c, current(c).actor(), "user.add", name, map[string]string{"role": string(role)})
	return c.Redirect(http.StatusSeeOther, "/users?flash=saved")
}

func (s *Server) userAction(c *echo.Context, action string, fn func(name string) error) error {
	name := c.Param("name")
	if err := fn(name); err != nil {
		if errors.Is(err, accounts.ErrNoUser) {
			return echo.ErrNotFound
		}
		var pe *accounts.PasswordError
		if errors.As(err, &pe) {
			return weakPassword(c, s, err)
		}
		return &userError{code: http.StatusBadRequest, key: "users.invalid", err: err}
	}
	s.audit(c, current(c).actor(), action, name, nil)
	return c.Redirect(http.StatusSeeOther, "/users?flash=saved")
}

func (s *Server) userDisable(c *echo.Context) error {
	if c.Param("name") == current(c).user.Name {
		return uerr(http.StatusBadRequest, "users.self")
	}
	return s.userAction(c, "user.disable", func(n string) error { return s.acc.SetDisabled(c.Request().Context(), n, true) })
}

func (s *Server) userEnable(c *echo.Context) error {
	return s.userAction(c, "user.enable", func(n string) error { return s.acc.SetDisabled(c.Request().Context(), n, false) })
}

func (s *Server) userPassword(c *echo.Context) error {
	return s.userAction(c, "user.password", func(n string) error {
		return s.acc.SetPassword(c.Request().Context(), n, postForm(c, "password"))
	})
}

func (s *Server) userRole(c *echo.Context) error {
	if c.Param("name") == current(c).user.Name {
		return uerr(http.StatusBadRequest, "users.self")
	}
	return s.userAction(c, "user.role", func(n string) error {
		return s.acc.SetRole(c.Request().Context(), n, accounts.Role(c.FormValue("role")))
	})
}

func (s *Server) userUnlock(c *echo.Context) error {
	return s.userAction(c, "user.unlock", func(n string) error { return s.acc.Unlock(c.Request().Context(), n) })
}

func (s *Server) userLogout(c *echo.Context) error {
	// A forced log-out ends the user's API tokens too: it is what an administrator does when an
	// account may be in the wrong hands.
	return s.userAction(c, "user.logout", func(n string) error { return s.acc.LogoutEverywhere(c.Request().Context(), n) })
}
