package web

import (
	"context"
	"strings"
	"sync"

	"pilmon/scanner"
)

// versionedRegistry is a target registry that counts its changes in the store's targets version
// (targets.Registry does), so that the server can keep a copy of the targets and read them again
// only after a change; list pages read that version with the session (store.PageState).
type versionedRegistry interface {
	Version(ctx context.Context) (int64, error)
}

// targetDir is that copy: the list filters by app category and searches target names and
// operators on every request, and decoding every target's JSON each time cost milliseconds with a
// few hundred targets.
type targetDir struct {
	mu      sync.Mutex
	loaded  bool
	version int64
	ts      []scanner.Target
	low     []string // lower-cased "name\x00operator" of ts[i]
}

func lowerTarget(t scanner.Target) string {
	return strings.ToLower(t.Name) + "\x00" + strings.ToLower(t.Operator)
}

// targetsVersionKey carries, in a request context, the registry version read with the session.
type targetsVersionKey struct{}

// targets returns every target (nil without a registry), from the copy when the registry has not
// changed since it was read.
func (s *Server) targets(ctx context.Context) ([]scanner.Target, error) {
	v, err := s.targetsView(ctx)
	return v.ts, err
}

// dirView is the targets, their lower-cased "name\x00operator" and the registry version they are
// of (-1 when unknown).
type dirView struct {
	ts  []scanner.Target
	low []string
	ver int64
}

func (s *Server) targetsView(ctx context.Context) (dirView, error) {
	reg := s.cfg.Targets
	if reg == nil {
		return dirView{ver: -1}, nil
	}
	vr, ok := reg.(versionedRegistry)
	if !ok {
		ts, err := reg.List(ctx)
		low := make([]string, len(ts))
		for i, t := range ts {
			low[i] = lowerTarget(t)
		}
		return dirView{ts, low, -1}, err
	}
	ver, ok := ctx.Value(targetsVersionKey{}).(int64)
	if !ok {
		var err error
		if ver, err = vr.Version(ctx); err != nil {
			return dirView{ver: -1}, err
		}
	}
	s.dir.mu.Lock()
	defer s.dir.mu.Unlock()
	if s.dir.loaded && s.dir.version == ver {
		return dirView{s.dir.ts, s.dir.low, ver}, nil
	}
	// A change between the version read and this List makes the copy newer than its version
	// says; the next request then reads again, which is only wasted work.
	ts, err := reg.List(ctx)
	if err != nil {
		return dirView{ver: -1}, err
	}
	low := make([]string, len(ts))
	for i, t := range ts {
		low[i] = lowerTarget(t)
	}
	s.dir.loaded, s.dir.version, s.dir.ts, s.dir.low = true, ver, ts, low
	// The copy may be newer than ver (see above), never older: whatever is keyed by ver holds
	// targets at least as new as ver.
	return dirView{ts, low, ver}, nil
}
