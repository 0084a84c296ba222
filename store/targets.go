package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"

	"pilmon/scanner"
)

// The target registry's storage (package targets validates; this file only stores):
//
//	targets               hash: target id -> canonical JSON of the scanner.Target
//	targets:version       counter of changes to the hash: every write increments it in the same
//	                      transaction, so that a reader holding a copy knows when to read again
const (
	targetsKey        = "targets"
	targetsVersionKey = "targets:version"
)

// ErrTargetNotFound is returned (wrapped) for a target id the registry does not hold.
var ErrTargetNotFound = errors.New("target not found")

// CanonicalTarget returns the stored form of a target: JSON with the fields in declaration order,
// map keys sorted, no HTML escaping.
func CanonicalTarget(t scanner.Target) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(t); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// PutTargets stores ts (replacing targets with the same ids) in one transaction that also counts
// the change. The caller validates them.
func (s *Store) PutTargets(ctx context.Context, ts ...scanner.Target) error {
	if len(ts) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(ts))
	for _, t := range ts {
		b, err := CanonicalTarget(t)
		if err != nil {
			return fmt.Errorf("target %.80q: %w", t.ID, err)
		}
		args = append(args, t.ID, b)
	}
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, s.prefix+targetsKey, args...)
	pipe.Incr(ctx, s.prefix+targetsVersionKey)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store targets: %w", err)
	}
	return nil
}

// Target returns the stored target id, or an error wrapping ErrTargetNotFound.
func (s *Store) Target(ctx context.Context, id string) (scanner.Target, error) {
	raw, err := s.rdb.HGet(ctx, s.prefix+targetsKey, id).Bytes()
	if errors.Is(err, redis.Nil) {
		return scanner.Target{}, fmt.Errorf("target %.80q: %w", id, ErrTargetNotFound)
	}
	if err != nil {
		return scanner.Target{}, fmt.Errorf("read target %.80q: %w", id, err)
	}
	var t scanner.Target
	if err := json.Unmarshal(raw, &t); err != nil {
		return t, fmt.Errorf("target %.80q: stored JSON: %w", id, err)
	}
	return t, nil
}

// Targets returns every stored target sorted by id. Entries that do not decode are skipped and
// named in the returned error, with the rest still returned.
func (s *Store) Targets(ctx context.Context) ([]scanner.Target, error) {
	all, err := s.rdb.HGetAll(ctx, s.prefix+targetsKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	out := make([]scanner.Target, 0, len(all))
	var bad []string
	for id, raw := range all {
		var t scanner.Target
		if err := json.Unmarshal([]byte(raw), &t); err != nil {
			bad = append(bad, id)
			continue
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	if len(bad) > 0 {
		sort.Strings(bad)
		return out, fmt.Errorf("list targets: %d stored targets do not decode: %s", len(bad), strings.Join(bad, ", "))
	}
	return out, nil
}

// DeleteTarget removes a target (counting the change) and reports whether it existed.
func (s *Store) DeleteTarget(ctx context.Context, id string) (bool, error) {
	pipe := s.rdb.TxPipeline()
	del := pipe.HDel(ctx, s.prefix+targetsKey, id)
	pipe.Incr(ctx, s.prefix+targetsVersionKey)
	if _, err := pipe.Exec(ctx); err != nil {
		return false, fmt.Errorf("delete target %.80q: %w", id, err)
	}
	return del.Val() == 1, nil
}

// TargetsVersion returns the registry's change counter (0 when nothing was ever stored).
func (s *Store) TargetsVersion(ctx context.Context) (int64, error) {
	return parseTargetsVersion(s.rdb.Get(ctx, s.prefix+targetsVersionKey))
}

func parseTargetsVersion(cmd *redis.StringCmd) (int64, error) {
	v, err := cmd.Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("targets version: %w", err)
	}
	return v, nil
}

// Unprefixed returns a store on the same Redis without a key prefix. Earlier versions of pilmon
// serve kept their targets there; the CLI opens it once at start to adopt them into the shared
// registry, and nothing else uses it.
func (s *Store) Unprefixed() *Store {
	return &Store{rdb: s.rdb, prefix: "", now: s.now}
}
