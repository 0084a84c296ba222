package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"pilmon/findings"
	"pilmon/store"
)

// The JSON API under /api/v1 uses the same route table, permissions and audit as the pages. A
// script authenticates with "Authorization: Bearer pmt_…" (pilmon user token NAME); a browser
// session works too and then needs the X-CSRF-Token header for POST.

type apiList struct {
	Total    int64              `json:"total"`
	Page     int                `json:"page"`
	Per      int                `json:"per"`
	Findings []findings.Finding `json:"findings"`
}

func (s *Server) apiFindings(c *echo.Context) error {
	f := parseFilter(c)
	ctx := c.Request().Context()
	r, err := s.list(ctx, s.lang(c), f)
	if err != nil {
		return err
	}
	// The list index holds what a list row shows; the API answers with whole findings
	// (observations, evidence, texts), read in one round trip and decoded as GET
	// /api/v1/findings/:fp decodes its finding (store.GetMany and store.Get share the decoder).
	fps := make([]string, len(r.Items))
	for i, it := range r.Items {
		fps[i] = it.Fingerprint
	}
	full, err := s.st.GetMany(ctx, fps)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiList{Total: r.Total, Page: f.Page, Per: f.Per, Findings: full})
}

type apiFindingDoc struct {
	Finding findings.Finding      `json:"finding"`
	History []findings.Transition `json:"history"`
	Notes   []store.Note          `json:"notes"`
}

func (s *Server) apiFinding(c *echo.Context) error {
	ctx := c.Request().Context()
	fp := c.Param("fp")
	f, err := s.st.Get(ctx, fp)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return echo.ErrNotFound
		}
		return err
	}
	h, err := s.st.History(ctx, fp)
	if err != nil {
		return err
	}
	n, err := s.st.Notes(ctx, fp)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apiFindingDoc{Finding: f, History: h, Notes: n})
}

type apiTransitionReq struct {
	To           findings.State `json:"to"`
	Note         string         `json:"note"`
	DocumentNo   string         `json:"document_no"`
	DocumentDate string         `json:"document_date"`
	// Reason and ConfirmHigh are a dismissal's structured reason (findings.DismissReasons) and
	// the confirmation a high or critical one needs.
	Reason      string `json:"reason,omitempty"`
	ConfirmHigh bool   `json:"confirm_high,omitempty"`
}

func (s *Server) apiTransition(c *echo.Context) error {
	var req apiTransitionReq
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return uerr(http.StatusBadRequest, "error.400")
	}
	tr, err := s.applyTransition(c, c.Param("fp"), transitionRequest{To: req.To, ConfirmHigh: req.ConfirmHigh,
		In: findings.TransitionInput{Reason: req.Reason, Note: strings.TrimSpace(req.Note), DocumentNo: req.DocumentNo, DocumentDate: req.DocumentDate}})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tr)
}

func (s *Server) apiCounts(c *echo.Context) error {
	cn, err := s.st.Counts(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cn)
}

func (s *Server) apiTargets(c *echo.Context) error {
	rows, err := s.targetRows(c.Request().Context())
	if err != nil {
		return err
	}
	type row struct {
		Target     any   `json:"target"`
		Registered bool  `json:"registered"`
		Findings   int64 `json:"findings"`
	}
	out := make([]row, 0, len(rows))
	for _, r := range rows {
		out = append(out, row{r.T, r.Known, r.Findings})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiScan(c *echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if _, _, err := s.loadTarget(ctx, id); err != nil {
		return err
	}
	scanID, err := s.enqueueScan(ctx, id, current(c).actor())
	if err != nil {
		return err
	}
	s.audit(c, current(c).actor(), "scan.requested", id, map[string]string{"scan": scanID})
	return c.JSON(http.StatusAccepted, map[string]string{"scan_id": scanID, "target_id": id})
}

func (s *Server) apiEvents(c *echo.Context) error { return s.progressEvents(c) }
