package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the dashboard itself records, next to the findings:
//
//	web:audit                  stream, capped at ~1,000,000 entries: who did what, when, from where
//	web:notes:{fp}             list of JSON Note, append-only
//	web:checklist:{target}     hash: rule id -> JSON ChecklistEntry (the current result)
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

// Audit appends e to the audit history (its ID is assigned by the stream).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	e.ID = ""
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.webKey("audit"), MaxLen: auditMaxLen, Approx: true,
		Values: []any{"e", b}}).Err()
}

// AuditLog returns up to n audit entries older than before (an entry ID, "" = newest), newest
// first. Entries that do not decode are skipped.
func (s *Store) AuditLog(ctx context.Context, before string, n int64) ([]AuditEntry, error) {
	end := "+"
	if before != "" {
		end = "(" + before
	}
	msgs, err := s.rdb.XRevRangeN(ctx, s.webKey("audit"), end, "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
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

// maxNotesRead bounds the notes Notes returns.
const maxNotesRead = 1000

// AppendNote appends n to finding fp's notes.
func (s *Store) AppendNote(ctx context.Context, fp string, n Note) error {
	b, err := json.Marshal(n)
	if err != nil {
		return err
	}
	return s.rdb.RPush(ctx, s.webKey("notes", fp), b).Err()
}

// Notes returns the first 1,000 notes of finding fp, oldest first; notes that do not decode are
// skipped.
func (s *Store) Notes(ctx context.Context, fp string) ([]Note, error) {
	raw, err := s.rdb.LRange(ctx, s.webKey("notes", fp), 0, maxNotesRead-1).Result()
	if err != nil {
		return nil, fmt.Errorf("notes of %s: %w", fp, err)
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

// ChecklistEntry is the recorded result of one checklist item of one target.
type ChecklistEntry struct {
	Rule     string    `json:"rule"`
	Result   string    `json:"result"`
	Note     string    `json:"note,omitempty"`
	Evidence []string  `json:"evidence,omitempty"` // SHA-256 of uploaded screenshots and recordings
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// Checklist returns the current result of each recorded item of target's checklist, by rule id.
func (s *Store) Checklist(ctx context.Context, target string) (map[string]ChecklistEntry, error) {
	raw, err := s.rdb.HGetAll(ctx, s.webKey("checklist", target)).Result()
	if err != nil {
		return nil, fmt.Errorf("checklist of %s: %w", target, err)
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

// RecordChecklist makes e the current result of its item of target's checklist and appends it to
// the checklist's log, in one transaction.
func (s *Store) RecordChecklist(ctx context.Context, target string, e ChecklistEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	key := s.webKey("checklist", target)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, e.Rule, b)
	pipe.RPush(ctx, key+":log", b)
	_, err = pipe.Exec(ctx)
	return err
}
