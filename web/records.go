package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v5"
	"github.com/redis/go-redis/v9"
)

// What the dashboard itself records, next to the findings store:
//
//	web:audit                 stream, capped at ~1,000,000 entries: who did what, when, from where
//	web:notes:{fp}            list of JSON Note, append-only
//	web:checklist:{target}    hash: rule id -> JSON ChecklistEntry (the current result)
//	web:checklist:{target}:log list of JSON ChecklistEntry, every result ever recorded, append-only

// AuditEntry is one line of the audit history.
type AuditEntry struct {
	ID     string            `json:"id"`
	At     time.Time         `json:"at"`
	Actor  string            `json:"actor"`
	Action string            `json:"action"`
	Object string            `json:"object"`
	IP     string            `json:"ip"`
	Detail map[string]string `json:"detail,omitempty"`
}

const auditMaxLen = 1_000_000

func (s *Server) audit(c *echo.Context, actor, action, object string, detail map[string]string) {
	ip := ""
	if c != nil {
		ip = c.RealIP()
	}
	b, _ := json.Marshal(AuditEntry{At: time.Now().UTC(), Actor: actor, Action: action, Object: object, IP: ip, Detail: detail})
	ctx := context.Background()
	if c != nil {
		ctx = c.Request().Context()
	}
	if err := s.st.Client().XAdd(ctx, &redis.XAddArgs{Stream: s.prefix + "audit", MaxLen: auditMaxLen, Approx: true,
		Values: []any{"e", b}}).Err(); err != nil {
		s.log.Error("audit write failed", "action", action, "object", object, "err", err)
	}
}

// AuditLog returns up to n audit entries older than before (a stream id, "" = newest), newest first.
func (s *Server) AuditLog(ctx context.Context, before string, n int64) ([]AuditEntry, error) {
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := s.st.Client().XRevRangeN(ctx, s.prefix+"audit", end, "-", n).Result()
	if err != nil {
		return nil, err
	}
	out := make([]AuditEntry, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["e"].(string)
		var e AuditEntry
		if json.Unmarshal([]byte(raw), &e) != nil {
			continue
		}
		e.ID = m.ID
		out = append(out, e)
	}
	return out, nil
}

// Note is an analyst's or prosecutor's note on a finding.
type Note struct {
	At     time.Time `json:"at"`
	Author string    `json:"author"`
	Text   string    `json:"text"`
}

const maxNoteBytes = 16 << 10

func (s *Server) notesKey(fp string) string { return s.prefix + "notes:" + fp }

func (s *Server) appendNote(ctx context.Context, fp string, n Note) error {
	n.Text = strings.TrimSpace(n.Text)
	if n.Text == "" || len(n.Text) > maxNoteBytes || !utf8.ValidString(n.Text) {
		return uerr(400, "error.note", maxNoteBytes)
	}
	b, _ := json.Marshal(n)
	return s.st.Client().RPush(ctx, s.notesKey(fp), b).Err()
}

func (s *Server) notes(ctx context.Context, fp string) ([]Note, error) {
	raw, err := s.st.Client().LRange(ctx, s.notesKey(fp), 0, 999).Result()
	if err != nil {
		return nil, err
	}
	out := make([]Note, 0, len(raw))
	for _, r := range raw {
		var n Note
		if json.Unmarshal([]byte(r), &n) == nil {
			out = append(out, n)
		}
	}
	return out, nil
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

// ChecklistEntry is the recorded result of one checklist item of one target.
type ChecklistEntry struct {
	Rule     string    `json:"rule"`
	Result   string    `json:"result"`
	Note     string    `json:"note,omitempty"`
	Evidence []string  `json:"evidence,omitempty"` // SHA-256 of uploaded screenshots and recordings
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

func (s *Server) checklistKey(target string) string { return s.prefix + "checklist:" + target }

func (s *Server) checklist(ctx context.Context, target string) (map[string]ChecklistEntry, error) {
	raw, err := s.st.Client().HGetAll(ctx, s.checklistKey(target)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]ChecklistEntry, len(raw))
	for k, v := range raw {
		var e ChecklistEntry
		if json.Unmarshal([]byte(v), &e) == nil {
			out[k] = e
		}
	}
	return out, nil
}

// recordChecklist stores a result; evidence already recorded for the item is kept (uploads add).
func (s *Server) recordChecklist(ctx context.Context, target string, e ChecklistEntry) (ChecklistEntry, error) {
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
	prev, err := s.checklist(ctx, target)
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
	b, _ := json.Marshal(e)
	pipe := s.st.Client().TxPipeline()
	pipe.HSet(ctx, s.checklistKey(target), e.Rule, b)
	pipe.RPush(ctx, s.checklistKey(target)+":log", b)
	_, err = pipe.Exec(ctx)
	return e, err
}
