package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
)

// Evidence is addressed only by its SHA-256 (validated as 64 lowercase hex digits before the
// handler runs, and again by the evidence store); reads go through the store's verifying reader,
// so bytes that no longer match their hash are never shown as evidence.

// inMemoryLimit: artifacts up to this size are read and verified completely before the first byte
// is sent; larger ones stream and the connection is aborted if the hash does not match at the end.
const inMemoryLimit = 32 << 20

type evidencePageData struct {
	V        evidenceView
	Verified bool
	VerifyEr string
	// Findings are the findings that cite the artifact (up to maxCiting), for the way back.
	Findings []citingFinding
	More     bool
}

type citingFinding struct {
	F     findings.Finding
	Title rules.Text
}

const maxCiting = 50

func (s *Server) evidencePage(c *echo.Context) error {
	h := c.Param("hash")
	v := s.evidenceView(h)
	if v.Err == "evidence.missing" {
		return echo.ErrNotFound
	}
	d := evidencePageData{V: v}
	if err := s.idx.EnsureFresh(c.Request().Context()); err == nil {
		es := s.idx.Snapshot().Citing(h, maxCiting+1)
		d.More = len(es) > maxCiting
		for _, e := range es[:min(len(es), maxCiting)] {
			r := e.Row()
			cf := citingFinding{F: r, Title: rules.Text{ZH: r.RuleID, EN: r.RuleID}}
			if v, ok := s.cat.Violation(r.RuleID); ok {
				cf.Title = v.TitleFor(r.Tier)
			}
			d.Findings = append(d.Findings, cf)
		}
		slices.SortFunc(d.Findings, func(a, b citingFinding) int { return strings.Compare(a.F.Fingerprint, b.F.Fingerprint) })
	}
	if v.Err == "" && v.Record.Ref.Size <= inMemoryLimit {
		if err := s.ev.Verify(h); err != nil {
			d.VerifyEr = err.Error()
		} else {
			d.Verified = true
		}
	}
	return s.render(c, http.StatusOK, "evidence", s.newPage(c, "findings", "title.evidence", d))
}

// readVerified returns the artifact's bytes after checking its hash, or an error.
func (s *Server) readVerified(h string, limit int64) ([]byte, evidence.Ref, error) {
	rc, ref, err := s.ev.Get(h)
	if err != nil {
		return nil, ref, err
	}
	defer rc.Close()
	if ref.Size > limit {
		return nil, ref, errTooLarge
	}
	var buf bytes.Buffer
	buf.Grow(int(ref.Size))
	if _, err := io.Copy(&buf, rc); err != nil {
		return nil, ref, err
	}
	return buf.Bytes(), ref, nil
}

var errTooLarge = errors.New("artifact too large to show inline")

func evidenceError(err error) error {
	switch {
	case errors.Is(err, evidence.ErrNotFound):
		return echo.ErrNotFound
	case errors.Is(err, evidence.ErrInvalidHash):
		return uerr(http.StatusBadRequest, "error.badhash")
	case errors.Is(err, evidence.ErrTampered):
		return &userError{code: http.StatusConflict, key: "evidence.tampered", err: err}
	case errors.Is(err, errTooLarge):
		return uerr(http.StatusRequestEntityTooLarge, "evidence.toolarge")
	}
	return err
}

// evidenceRaw downloads an artifact, always as an attachment of type application/octet-stream:
// nothing captured from the party under investigation is ever rendered by the browser from here.
func (s *Server) evidenceRaw(c *echo.Context) error {
	h := c.Param("hash")
	rec, err := s.ev.Stat(h)
	if err != nil {
		return evidenceError(err)
	}
	hdr := c.Response().Header()
	hdr.Set("Content-Disposition", `attachment; filename="sha256-`+h+`.bin"`)
	hdr.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hdr.Set("Cache-Control", "private, no-store")
	if rec.Ref.Size <= inMemoryLimit {
		b, _, err := s.readVerified(h, inMemoryLimit)
		if err != nil {
			hdr.Del("Content-Disposition")
			return evidenceError(err)
		}
		return c.Blob(http.StatusOK, "application/octet-stream", b)
	}
	rc, _, err := s.ev.Get(h)
	if err != nil {
		hdr.Del("Content-Disposition")
		return evidenceError(err)
	}
	defer rc.Close()
	c.Response().Header().Set("Content-Type", "application/octet-stream")
	c.Response().WriteHeader(http.StatusOK)
	if _, err := io.Copy(c.Response(), rc); err != nil {
		s.log.Error("evidence stream failed", "hash", h, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// evidenceImage shows a screenshot inline, only when its bytes are a raster image (sniffed, not
// taken from the metadata): SVG and anything else is refused here.
func (s *Server) evidenceImage(c *echo.Context) error {
	h := c.Param("hash")
	b, _, err := s.readVerified(h, inMemoryLimit)
	if err != nil {
		return evidenceError(err)
	}
	ct := http.DetectContentType(b)
	if !isImageType(ct) {
		return uerr(http.StatusUnsupportedMediaType, "evidence.notimage")
	}
	hdr := c.Response().Header()
	hdr.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	hdr.Set("Content-Disposition", `inline; filename="sha256-`+h+extOf(ct)+`"`)
	hdr.Set("Cache-Control", "private, no-store")
	return c.Blob(http.StatusOK, ct, b)
}

func extOf(ct string) string {
	switch ct {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/webp":
		return ".webp"
	}
	return ".bin"
}

// frameCSP: the captured page runs nothing (sandbox without allow-scripts, no script source),
// loads nothing from anywhere (only inline styles and data: images it carries itself), and may
// be framed only by the dashboard.
const frameCSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'"

// evidenceFrame serves captured HTML for the sandboxed frame of the evidence page, from its own
// path, with Content-Disposition and a CSP sandbox: the page cannot run script, reach the network,
// read the dashboard's cookies or navigate the dashboard.
func (s *Server) evidenceFrame(c *echo.Context) error {
	h := c.Param("hash")
	rec, err := s.ev.Stat(h)
	if err != nil {
		return evidenceError(err)
	}
	if !isHTMLType(rec.First().MediaType) {
		return uerr(http.StatusUnsupportedMediaType, "evidence.nothtml")
	}
	b, _, err := s.readVerified(h, inMemoryLimit)
	if err != nil {
		return evidenceError(err)
	}
	hdr := c.Response().Header()
	hdr.Set("Content-Security-Policy", frameCSP)
	hdr.Set("X-Frame-Options", "SAMEORIGIN")
	hdr.Set("Content-Disposition", `inline; filename="sha256-`+h+`.html"`)
	hdr.Set("Cache-Control", "private, no-store")
	ct := "text/html"
	if cs := charsetOf(rec.First().MediaType); cs != "" {
		ct += "; charset=" + cs
	}
	return c.Blob(http.StatusOK, ct, b)
}

// charsetOf keeps a charset parameter only when it is a plain token.
func charsetOf(mt string) string {
	for p := range strings.SplitSeq(mt, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
		if ok && strings.EqualFold(k, "charset") {
			v = strings.Trim(v, `"`)
			if len(v) <= 32 && strings.IndexFunc(v, func(r rune) bool {
				return !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
			}) < 0 {
				return v
			}
		}
	}
	return ""
}
