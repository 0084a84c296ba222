package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"pilmon/cases"
)

// Cases (package cases decides what a case is and how it moves; this file only stores):
//
//	case:{id}            string, JSON cases.Case (the current record; Version counts its changes)
//	case:{id}:history    list of JSON cases.Event, append-only
//	cases:all            sorted set of case ids, score = creation time (Unix ms)
//	cases:seq            counter the ids are drawn from
//	cases:finding:{fp}   set of the ids of the cases finding fp is a member of
//
// Every change is one script that compares the stored version with the one the change was made
// from, writes the record, appends the history and updates the finding index: two prosecutors
// moving the same case at once cannot both win.

// ErrCaseNotFound is returned (wrapped) for a case id the store does not hold.
var ErrCaseNotFound = errors.New("case not found")

// MaxCases bounds how many cases one listing reads.
const MaxCases = 10000

func (s *Store) caseKey(id string) string        { return s.prefix + "case:" + id }
func (s *Store) caseHistoryKey(id string) string { return s.prefix + "case:" + id + ":history" }
func (s *Store) casesAllKey() string             { return s.prefix + "cases:all" }
func (s *Store) caseFindingPrefix() string       { return s.prefix + "cases:finding:" }

// writeCaseScript: KEYS = record, history, cases:all. ARGV = expected version (-1: must not
// exist), record JSON, creation score, case id, finding-index prefix, number of events, the
// events, number of joined fingerprints, those, then the left ones.
var writeCaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local want = tonumber(ARGV[1])
if want < 0 then
  if cur then return {'exists'} end
else
  if not cur then return {'missing'} end
  local v = cjson.decode(cur)['version'] or 0
  if v ~= want then return {'conflict', tostring(v)} end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
local i = 6
local n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do redis.call('RPUSH', KEYS[2], ARGV[i]); i = i + 1 end
n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do redis.call('SADD', ARGV[5] .. ARGV[i], ARGV[4]); i = i + 1 end
n = tonumber(ARGV[i]); i = i + 1
for j = 1, n do redis.call('SREM', ARGV[5] .. ARGV[i], ARGV[4]); i = i + 1 end
return {'ok'}
`)

func (s *Store) writeCase(ctx context.Context, expect int64, c cases.Case, evs []cases.Event) (string, string, error) {
	rec, err := json.Marshal(c)
	if err != nil {
		return "", "", err
	}
	var joined, left []string
	args := []any{expect, rec, c.CreatedAt.UnixMilli(), c.ID, s.caseFindingPrefix(), len(evs)}
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return "", "", err
		}
		args = append(args, b)
		switch ev.Kind {
		case cases.EventJoined:
			joined = append(joined, ev.Finding)
		case cases.EventLeft:
			left = append(left, ev.Finding)
		}
	}
	args = append(args, len(joined))
	for _, fp := range joined {
		args = append(args, fp)
	}
	args = append(args, len(left))
	for _, fp := range left {
		args = append(args, fp)
	}
	res, err := writeCaseScript.Run(ctx, s.rdb, []string{s.caseKey(c.ID), s.caseHistoryKey(c.ID), s.casesAllKey()}, args...).StringSlice()
	if err != nil {
		return "", "", err
	}
	if len(res) == 2 {
		return res[0], res[1], nil
	}
	return res[0], "", nil
}

// CreateCase stores a new case made by cases.New with its first history entries; the store
// draws its id ("case-000001", …) and returns the stored case.
func (s *Store) CreateCase(ctx context.Context, c cases.Case, evs []cases.Event) (cases.Case, error) {
	n, err := s.rdb.Incr(ctx, s.prefix+"cases:seq").Result()
	if err != nil {
		return cases.Case{}, fmt.Errorf("create case: %w", err)
	}
	c.ID, c.Version = fmt.Sprintf("case-%06d", n), 1
	res, _, err := s.writeCase(ctx, -1, c, evs)
	if err != nil {
		return cases.Case{}, fmt.Errorf("create case %s: %w", c.ID, err)
	}
	if res != "ok" {
		return cases.Case{}, fmt.Errorf("create case %s: %w (id already taken)", c.ID, ErrConflict)
	}
	return c, nil
}

// Case returns the stored case id, or an error wrapping ErrCaseNotFound.
func (s *Store) Case(ctx context.Context, id string) (cases.Case, error) {
	raw, err := s.rdb.Get(ctx, s.caseKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return cases.Case{}, fmt.Errorf("case %.80q: %w", id, ErrCaseNotFound)
	}
	if err != nil {
		return cases.Case{}, fmt.Errorf("read case %.80q: %w", id, err)
	}
	var c cases.Case
	if err := json.Unmarshal(raw, &c); err != nil {
		return cases.Case{}, fmt.Errorf("case %.80q: stored JSON: %w", id, err)
	}
	return c, nil
}

// Cases returns every case (up to MaxCases), newest first. Records that do not decode are
// skipped and named in the returned error, with the rest still returned.
func (s *Store) Cases(ctx context.Context) ([]cases.Case, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.casesAllKey(), 0, MaxCases-1).Result()
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return s.casesByID(ctx, ids)
}

func (s *Store) casesByID(ctx context.Context, ids []string) ([]cases.Case, error) {
	out := make([]cases.Case, 0, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.caseKey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	var bad []string
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		var c cases.Case
		if json.Unmarshal([]byte(str), &c) != nil {
			bad = append(bad, ids[i])
			continue
		}
		out = append(out, c)
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("list cases: %d stored cases do not decode: %s", len(bad), strings.Join(bad, ", "))
	}
	return out, nil
}

// CasesForFinding returns the cases finding fp is a member of, by id.
func (s *Store) CasesForFinding(ctx context.Context, fp string) ([]cases.Case, error) {
	ids, err := s.rdb.SMembers(ctx, s.caseFindingPrefix()+fp).Result()
	if err != nil {
		return nil, fmt.Errorf("cases of finding %s: %w", fp, err)
	}
	sort.Strings(ids)
	return s.casesByID(ctx, ids)
}

// CaseHistory returns the case's history, oldest first.
func (s *Store) CaseHistory(ctx context.Context, id string) ([]cases.Event, error) {
	raws, err := s.rdb.LRange(ctx, s.caseHistoryKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("case %.80q history: %w", id, err)
	}
	out := make([]cases.Event, 0, len(raws))
	for i, r := range raws {
		var ev cases.Event
		if err := json.Unmarshal([]byte(r), &ev); err != nil {
			return out, fmt.Errorf("case %.80q history entry %d: %w", id, i, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

// caseRetries is how often UpdateCase re-reads and re-applies a change another writer overtook.
const caseRetries = 3

// UpdateCase applies change to the stored case and writes the result with the events change
// returns, atomically: when another writer changed the case in between, the change is applied
// again to the fresh record (it is a pure function of the record), up to caseRetries times, and
// then fails with an error wrapping ErrConflict. An error from change is returned as is.
func (s *Store) UpdateCase(ctx context.Context, id string, change func(*cases.Case) ([]cases.Event, error)) (cases.Case, error) {
	for range caseRetries {
		c, err := s.Case(ctx, id)
		if err != nil {
			return cases.Case{}, err
		}
		from := c.Version
		evs, err := change(&c)
		if err != nil {
			return cases.Case{}, err
		}
		c.ID, c.Version = id, from+1
		res, _, err := s.writeCase(ctx, from, c, evs)
		if err != nil {
			return cases.Case{}, fmt.Errorf("update case %s: %w", id, err)
		}
		switch res {
		case "ok":
			return c, nil
		case "missing":
			return cases.Case{}, fmt.Errorf("case %.80q: %w", id, ErrCaseNotFound)
		}
		// overtaken by another writer: read again
	}
	return cases.Case{}, fmt.Errorf("update case %s: %w after %d tries; reload and retry", id, ErrConflict, caseRetries)
}
