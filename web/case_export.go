package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
)

// caseExport streams the case file (zip) of one case: its findings only, with the case's cover,
// register and deadlines.
func (s *Server) caseExport(c *echo.Context) error {
	return s.caseDownload(c, "case-export", ".zip", "application/zip", func(ctx context.Context, x CaseExporter, w io.Writer, id, user string) error {
		return x.ExportCase(ctx, w, id, user)
	})
}

// caseDraft sends the case's draft 检察建议书 (DOCX) for the prosecutor to edit.
func (s *Server) caseDraft(c *echo.Context) error {
	return s.caseDownload(c, "case-draft", "-检察建议书草稿.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		func(ctx context.Context, x CaseExporter, w io.Writer, id, user string) error {
			return x.DraftRecommendation(ctx, w, id, user)
		})
}

func (s *Server) caseDownload(c *echo.Context, action, suffix, mediaType string, write func(context.Context, CaseExporter, io.Writer, string, string) error) error {
	x, ok := s.cfg.Export.(CaseExporter)
	if !ok {
		return uerr(http.StatusServiceUnavailable, "export.unavailable")
	}
	ctx := c.Request().Context()
	cs, err := s.loadCase(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	pr := current(c)
	s.audit(c, pr.actor(), action, fmt.Sprintf("case=%s", cs.ID), nil)
	// The case number names the file (it is what the prosecutor files it under); characters a
	// file name cannot hold become "_".
	base := strings.Map(func(r rune) rune {
		if strings.ContainsRune(`/\:*?"<>|`, r) || r < 0x20 {
			return '_'
		}
		return r
	}, cs.CaseNo)
	if base == "" {
		base = cs.ID
	}
	name := base + "-" + time.Now().In(Shanghai).Format("20060102-150405") + suffix
	h := c.Response().Header()
	h.Set("Content-Type", mediaType)
	h.Set("Content-Disposition", "attachment; filename=\"case"+suffixASCII(suffix)+"\"; filename*=UTF-8''"+url.PathEscape(name))
	h.Set("Cache-Control", "no-store")
	// As for the findings export: an error after the first byte can only abort the connection.
	w := &lazyWriter{c: c}
	if err := write(ctx, x, w, cs.ID, pr.user.Name); err != nil {
		if !w.started {
			h.Del("Content-Disposition")
			return &userError{code: http.StatusBadRequest, key: "export.failed", err: err}
		}
		s.log.Error("case export failed mid-stream", "case", cs.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !w.started {
		c.Response().WriteHeader(http.StatusOK)
	}
	return nil
}

// suffixASCII is the extension of a suffix, for the plain filename= fallback.
func suffixASCII(suffix string) string {
	if i := strings.LastIndexByte(suffix, '.'); i >= 0 {
		return suffix[i:]
	}
	return ""
}
