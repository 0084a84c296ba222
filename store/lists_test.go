package store

import (
	"context"
	"testing"
	"time"

	"pilmon/scanner"
)

// PageState reads a session with its account, the change feed after a position and the targets
// version in one call, also when the server's script cache was emptied.
func TestPageState(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	now := time.UnixMilli(time.Now().UnixMilli())
	if ok, err := s.AddUser(ctx, "ana", "analyst", "$argon2id$x", now); err != nil || !ok {
		t.Fatalf("add user: %v %v", ok, err)
	}
	if err := s.CreateSession(ctx, "sid", "ana", "tok", now, time.Minute); err != nil {
		t.Fatal(err)
	}
	head, err := s.ChangesHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Upsert(ctx, sampleFinding("t1", "pi.collect.before_consent", "a.example"), "scan-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.PutTargets(ctx, scanner.Target{ID: "t1", Kind: scanner.TargetApp, Name: "t1"}); err != nil {
		t.Fatal(err)
	}
	// Not parallel: SCRIPT FLUSH affects the shared server.
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	ps, err := s.PageState(ctx, "sid", head.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Session.User != "ana" || ps.Session.CSRF != "tok" || !ps.Session.Created.Equal(now) ||
		ps.Session.Account.Role != "analyst" || ps.Session.Account.Name != "ana" {
		t.Errorf("session %+v", ps.Session)
	}
	if ps.ChangesErr != nil || len(ps.Changes) != 1 || ps.Changes[0].Seq != head.Seq+1 {
		t.Errorf("changes %+v, %v", ps.Changes, ps.ChangesErr)
	}
	if ps.TargetsVersion != 1 {
		t.Errorf("targets version %d, want 1", ps.TargetsVersion)
	}
	// No session, no feed read asked for.
	ps, err = s.PageState(ctx, "nosuch", "", 100)
	if err != nil || ps.Session.User != "" || ps.Changes != nil {
		t.Errorf("without a session: %+v, %v", ps, err)
	}
}
