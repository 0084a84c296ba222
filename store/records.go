package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the dashboard itself records, next to the findings:
//
//	web:audit                  stream, capped at ~1,000,000 entries: who did what, when, from where
//	web:notes:{fp}             list of JSON Note, append-only
//	web:checklist:{target}     hash: rule id -> JSON ChecklistEntry (the current result)
//	web:checklist-log:{target} list of JSON ChecklistEntry, every result ever recorded, append-only
//
// A target id may contain ':' (targets.idPattern), so no key may be another key plus a suffix:
// a log at "checklist:{target}:log" would be the checklist of target "{target}:log".
// Each kind of record has its own namespace and the target id is the key's last component, so
// the key determines the target. MigrateChecklistLogs moves logs written under the old layout.

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
	// Finding is the fingerprint of the finding a violation result became (empty otherwise).
	Finding string `json:"finding,omitempty"`
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
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.webKey("checklist", target), e.Rule, b)
	pipe.RPush(ctx, s.webKey("checklist-log", target), b)
	_, err = pipe.Exec(ctx)
	return err
}

// maxChecklistLogRead bounds the entries ChecklistLog returns.
const maxChecklistLogRead = 10_000

// ChecklistLog returns the first 10,000 results recorded on target's checklist, oldest first;
// entries that do not decode are skipped.
func (s *Store) ChecklistLog(ctx context.Context, target string) ([]ChecklistEntry, error) {
	raw, err := s.rdb.LRange(ctx, s.webKey("checklist-log", target), 0, maxChecklistLogRead-1).Result()
	if err != nil {
		return nil, fmt.Errorf("checklist log of %s: %w", target, err)
	}
	out := make([]ChecklistEntry, 0, len(raw))
	for _, r := range raw {
		var e ChecklistEntry
		if json.Unmarshal([]byte(r), &e) == nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// MigrateChecklistLogs moves checklist logs of the old layout, "checklist:{target}:log", to
// "checklist-log:{target}" and returns how many it moved. Only lists move: a hash under such a
// name is the checklist of a target whose id ends in ":log". A log already under the new name
// (written by a newer process before this ran) keeps its entries after the old ones.
func (s *Store) MigrateChecklistLogs(ctx context.Context) (int, error) {
	oldPrefix := s.webKey("checklist") + ":"
	moved := 0
	var cursor uint64
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, escapeGlob(oldPrefix)+"*:log", 1000).Result()
		if err != nil {
			return moved, fmt.Errorf("migrate checklist logs: %w", err)
		}
		for _, k := range keys {
			typ, err := s.rdb.Type(ctx, k).Result()
			if err != nil {
				return moved, fmt.Errorf("migrate checklist log %s: %w", k, err)
			}
			if typ != "list" {
				continue
			}
			target := strings.TrimSuffix(strings.TrimPrefix(k, oldPrefix), ":log")
			n, err := migrateLogScript.Run(ctx, s.rdb, []string{k, s.webKey("checklist-log", target)}).Int()
			if err != nil {
				return moved, fmt.Errorf("migrate checklist log %s: %w", k, err)
			}
			if n > 0 {
				moved++
			}
		}
		cursor = next
		if cursor == 0 {
			return moved, nil
		}
	}
}

// migrateLogScript prepends the old list to the new one and deletes the old, atomically, so that a
// process recording a result meanwhile neither loses it nor sees it twice.
var migrateLogScript = redis.NewScript(`
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then return 0 end
local old = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #old, 1, -1 do redis.call('LPUSH', KEYS[2], old[i]) end
redis.call('DEL', KEYS[1])
return #old
`)

// escapeGlob quotes the characters SCAN MATCH treats as a pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
