package web

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v5"

	"pilmon/store"
)

// What the dashboard itself records, next to the findings, is kept by the store
// (store/records.go): the audit history, notes on findings and per-target checklist results.

func (s *Server) audit(c *echo.Context, actor, action, object string, detail map[string]string) {
	ip := ""
	ctx := context.Background()
	if c != nil {
		ip = c.RealIP()
		ctx = c.Request().Context()
	}
	e := store.AuditEntry{At: time.Now().UTC(), Actor: actor, Action: action, Object: object, IP: ip, Detail: detail}
	if err := s.st.Audit(ctx, e); err != nil {
		s.log.Error("audit write failed", "action", action, "object", object, "err", err)
	}
}

// AuditLog returns up to n audit entries older than before (a stream id, "" = newest), newest first.
func (s *Server) AuditLog(ctx context.Context, before string, n int64) ([]store.AuditEntry, error) {
	return s.st.AuditLog(ctx, before, n)
}

const maxNoteBytes = 16 << 10

func (s *Server) appendNote(ctx context.Context, fp string, n store.Note) error {
	n.Text = strings.TrimSpace(n.Text)
	if n.Text == "" || len(n.Text) > maxNoteBytes || !utf8.ValidString(n.Text) {
		return uerr(400, "error.note", maxNoteBytes)
	}
	return s.st.AppendNote(ctx, fp, n)
}

// Checklist results an analyst can record for an item.
const (
	ResultUntested   = "untested"
	ResultViolation  = "violation"
	ResultCompliant  = "compliant"
	ResultNotApplies = "not_applicable"
)

// ChecklistResults lists the results in the order the form offers them.
var ChecklistResults = []string{ResultViolation, ResultCompliant, ResultNotApplies, ResultUntested}

// checkChecklist validates a result and adds the evidence already recorded for the item (uploads
// add); the caller stores it with RecordChecklist.
func (s *Server) checkChecklist(ctx context.Context, target string, e store.ChecklistEntry) (store.ChecklistEntry, error) {
	valid := false
	for _, r := range ChecklistResults {
		valid = valid || r == e.Result
	}
	if !valid {
		return e, errors.New("bad result")
	}
	if len(e.Note) > maxNoteBytes || !utf8.ValidString(e.Note) {
		return e, fmt.Errorf("note longer than %d bytes", maxNoteBytes)
	}
	prev, err := s.st.Checklist(ctx, target)
	if err != nil {
		return e, err
	}
	seen := map[string]bool{}
	var ev []string
	for _, h := range append(prev[e.Rule].Evidence, e.Evidence...) {
		if !seen[h] {
			seen[h] = true
			ev = append(ev, h)
		}
	}
	e.Evidence = ev
	return e, nil
}
