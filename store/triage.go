package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"pilmon/findings"
)

// Transition moves finding fp to state to on behalf of actor and appends the change to its history.
// findings.NewTransition decides whether the move is legal and what it records; the check and the
// write are one atomic compare-and-set here: when two transitions from the same state race, one
// wins and the other gets an error wrapping ErrConflict.
func (s *Store) Transition(ctx context.Context, fp string, to findings.State, actor string, in findings.TransitionInput) (findings.Transition, error) {
	from, err := s.rdb.HGet(ctx, s.findingKey(fp), "state").Result()
	if err != nil {
		if errors.Is(err, redis.Nil) {
			return findings.Transition{}, fmt.Errorf("transition %s: %w", fp, ErrNotFound)
		}
		return findings.Transition{}, fmt.Errorf("transition %s: %w", fp, err)
	}
	tr, err := findings.NewTransition(fp, findings.State(from), to, actor, in, s.now())
	if err != nil {
		return findings.Transition{}, err
	}
	entry, err := json.Marshal(tr)
	if err != nil {
		return findings.Transition{}, err
	}
	res, err := transitionScript.Run(ctx, s.rdb, []string{s.findingKey(fp), s.historyKey(fp)},
		s.prefix, fp, from, string(to), entry, tr.Deadline, tr.DocumentNo).StringSlice()
	if err != nil {
		return findings.Transition{}, fmt.Errorf("transition %s: %w", fp, err)
	}
	switch res[0] {
	case "ok":
		return tr, nil
	case "missing":
		return findings.Transition{}, fmt.Errorf("transition %s: %w", fp, ErrNotFound)
	default:
		return findings.Transition{}, fmt.Errorf("transition %s %s → %s: %w (now %s); reload and retry",
			fp, from, to, ErrConflict, res[1])
	}
}
