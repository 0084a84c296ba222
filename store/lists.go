package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"pilmon/findings"
)

// What the dashboard reads to list and count findings, beside Get, List and Counts.

// AllFingerprints returns the fingerprint of every finding (idx:all, read by cursor so that the
// server is never busy long), without duplicates, in no particular order.
func (s *Store) AllFingerprints(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	var fps []string
	var cursor uint64
	for {
		kv, next, err := s.rdb.ZScan(ctx, s.idxKey("all"), cursor, "", 2000).Result()
		if err != nil {
			return nil, fmt.Errorf("all fingerprints: %w", err)
		}
		for i := 0; i < len(kv); i += 2 {
			if !seen[kv[i]] {
				seen[kv[i]] = true
				fps = append(fps, kv[i])
			}
		}
		if cursor = next; cursor == 0 {
			return fps, nil
		}
	}
}

// DropLegacyListKeys deletes the web:idx:* sets that the dashboard's first list index kept
// (derived data nothing reads now) and returns how many keys it deleted.
func (s *Store) DropLegacyListKeys(ctx context.Context) (int, error) {
	var cursor uint64
	n := 0
	for {
		keys, next, err := s.rdb.Scan(ctx, cursor, s.webKey("idx", "*"), 1000).Result()
		if err != nil {
			return n, err
		}
		if len(keys) > 0 {
			if err := s.rdb.Unlink(ctx, keys...).Err(); err != nil {
				return n, err
			}
			n += len(keys)
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// State returns the triage state of finding fp, or an error wrapping ErrNotFound.
func (s *Store) State(ctx context.Context, fp string) (findings.State, error) {
	st, err := s.rdb.HGet(ctx, s.findingKey(fp), "state").Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("finding %s: %w", fp, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", fp, err)
	}
	return findings.State(st), nil
}

// Exists reports whether finding fp exists.
func (s *Store) Exists(ctx context.Context, fp string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.findingKey(fp)).Result()
	return n == 1, err
}

// HasTargetFindings reports whether any finding belongs to target id.
func (s *Store) HasTargetFindings(ctx context.Context, id string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.idxKey("target", id)).Result()
	return n == 1, err
}

// KnownTargets returns the ids of the targets that have had findings, unordered.
func (s *Store) KnownTargets(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, s.idxKey("known", "target")).Result()
}

// TargetStateCounts returns how many findings of target id are in each state (zero counts
// omitted) and in all, in one round trip.
func (s *Store) TargetStateCounts(ctx context.Context, id string) (map[findings.State]int64, int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(findings.AllStates))
	for i, st := range findings.AllStates {
		cmds[i] = pipe.ZInterCard(ctx, 0, s.idxKey("target", id), s.idxKey("state", string(st)))
	}
	total := pipe.ZCard(ctx, s.idxKey("target", id))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, 0, fmt.Errorf("state counts of target %s: %w", id, err)
	}
	out := map[findings.State]int64{}
	for i, st := range findings.AllStates {
		if n := cmds[i].Val(); n > 0 {
			out[st] = n
		}
	}
	return out, total.Val(), nil
}

// TargetRuleCounts returns how many findings of target id each rule of ruleIDs has, in the order
// of ruleIDs, in one round trip.
func (s *Store) TargetRuleCounts(ctx context.Context, id string, ruleIDs []string) ([]int64, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(ruleIDs))
	for i, r := range ruleIDs {
		cmds[i] = pipe.ZInterCard(ctx, 0, s.idxKey("target", id), s.idxKey("rule", r))
	}
	if len(ruleIDs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("rule counts of target %s: %w", id, err)
		}
	}
	out := make([]int64, len(ruleIDs))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// PageState is what a dashboard page request reads before anything else, in one round trip: its
// session, the change feed after the position the caller's list index has applied, and the
// target registry's version.
type PageState struct {
	Session SessionRecord
	// Changes are the changes after the position asked for (none when none was asked for), and
	// ChangesErr the error reading them.
	Changes    []Change
	ChangesErr error
	// TargetsVersion is the registry's change counter (-1 when it could not be read).
	TargetsVersion int64
}

// PageState reads session sessionID, up to count changes of the feed after entry id changesAfter
// ("" reads none) and the targets version in one round trip. The error is about the session; the
// other two carry their own.
func (s *Store) PageState(ctx context.Context, sessionID, changesAfter string, count int64) (PageState, error) {
	pipe := s.rdb.Pipeline()
	sess := s.queueLoadSession(ctx, pipe, sessionID)
	var changes *redis.XStreamSliceCmd
	if changesAfter != "" {
		changes = s.QueueReadChanges(ctx, pipe, changesAfter, count, 0)
	}
	version := pipe.Get(ctx, s.prefix+targetsVersionKey)
	_, _ = pipe.Exec(ctx) // errors are per command
	v, err := sess.StringSlice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = s.runLoadSession(ctx, sessionID).StringSlice()
	}
	if err != nil {
		return PageState{}, fmt.Errorf("load session: %w", err)
	}
	ps := PageState{Session: decodeSession(sessionID, v)}
	if changes != nil {
		ps.Changes, ps.ChangesErr = ParseChanges(changes)
	}
	if ps.TargetsVersion, err = parseTargetsVersion(version); err != nil {
		ps.TargetsVersion = -1
	}
	return ps, nil
}

// DeadJobsLength returns the number of jobs in the dead-letter stream.
func (s *Store) DeadJobsLength(ctx context.Context) (int64, error) {
	return s.rdb.XLen(ctx, s.deadKey()).Result()
}

// RecentEvents returns up to n of the newest progress events, newest first.
func (s *Store) RecentEvents(ctx context.Context, n int64) ([]EventMessage, error) {
	msgs, err := s.rdb.XRevRangeN(ctx, s.eventKey(), "+", "-", n).Result()
	if err != nil {
		return nil, fmt.Errorf("recent events: %w", err)
	}
	return decodeEvents(msgs), nil
}
