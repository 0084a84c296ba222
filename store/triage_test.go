package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"pilmon/findings"
)

// pathTo is a legal route from new to every state, with the document each step needs.
var pathTo = map[findings.State][]findings.State{
	findings.StateNew:                   {},
	findings.StateInReview:              {findings.StateInReview},
	findings.StateDismissed:             {findings.StateInReview, findings.StateDismissed},
	findings.StateEscalated:             {findings.StateInReview, findings.StateEscalated},
	findings.StateCaseOpened:            {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened},
	findings.StateRecommendationIssued:  {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened, findings.StateRecommendationIssued},
	findings.StateRectified:             {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened, findings.StateRecommendationIssued, findings.StateRectified},
	findings.StateNotRectified:          {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened, findings.StateRecommendationIssued, findings.StateNotRectified},
	findings.StateAnnouncementPublished: {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened, findings.StateAnnouncementPublished},
	findings.StateSuitFiled:             {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened, findings.StateAnnouncementPublished, findings.StateSuitFiled},
	findings.StateClosed:                {findings.StateInReview, findings.StateEscalated, findings.StateCaseOpened, findings.StateClosed},
}

func inputFor(to findings.State) findings.TransitionInput {
	if to.RequiresDocument() {
		return findings.TransitionInput{Note: "文书", DocumentNo: "京检民公建〔2025〕1号", DocumentDate: "2025-01-31"}
	}
	return findings.TransitionInput{Note: "step"}
}

// findingIn creates a finding and walks it to state st.
func findingIn(t *testing.T, s *Store, st findings.State, subject string) string {
	t.Helper()
	fp := mustUpsert(t, s, sampleFinding("t", "r", subject), "scan-1").Fingerprint
	for _, to := range pathTo[st] {
		if _, err := s.Transition(context.Background(), fp, to, "prosecutor-wang", inputFor(to)); err != nil {
			t.Fatalf("walking to %s: %v", st, err)
		}
	}
	return fp
}

// The whole table: every (from, to) pair is accepted exactly when the state machine has the edge.
func TestTransitionTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	want := map[[2]findings.State]bool{}
	for _, e := range [][2]findings.State{
		{findings.StateNew, findings.StateInReview},
		{findings.StateInReview, findings.StateDismissed}, {findings.StateInReview, findings.StateEscalated},
		{findings.StateDismissed, findings.StateInReview},
		{findings.StateEscalated, findings.StateCaseOpened}, {findings.StateEscalated, findings.StateInReview},
		{findings.StateCaseOpened, findings.StateRecommendationIssued}, {findings.StateCaseOpened, findings.StateAnnouncementPublished}, {findings.StateCaseOpened, findings.StateClosed},
		{findings.StateRecommendationIssued, findings.StateRectified}, {findings.StateRecommendationIssued, findings.StateNotRectified},
		{findings.StateNotRectified, findings.StateSuitFiled},
		{findings.StateAnnouncementPublished, findings.StateSuitFiled}, {findings.StateAnnouncementPublished, findings.StateClosed},
		{findings.StateRectified, findings.StateClosed},
		{findings.StateSuitFiled, findings.StateClosed},
	} {
		want[e] = true
	}
	if len(pathTo) != len(findings.AllStates) {
		t.Fatalf("pathTo covers %d states, findings.AllStates has %d", len(pathTo), len(findings.AllStates))
	}
	for _, from := range findings.AllStates {
		fp := findingIn(t, s, from, "illegal-from-"+string(from))
		for _, to := range findings.AllStates {
			if want[[2]findings.State{from, to}] {
				legal := findingIn(t, s, from, fmt.Sprintf("legal-%s-%s", from, to))
				tr, err := s.Transition(ctx, legal, to, "prosecutor-wang", inputFor(to))
				if err != nil {
					t.Errorf("%s → %s refused: %v", from, to, err)
					continue
				}
				if tr.From != from || tr.To != to || tr.Actor != "prosecutor-wang" || tr.At.IsZero() {
					t.Errorf("%s → %s recorded %+v", from, to, tr)
				}
				if got := mustGet(t, s, legal).State; got != to {
					t.Errorf("%s → %s left state %s", from, to, got)
				}
				continue
			}
			_, err := s.Transition(ctx, fp, to, "prosecutor-wang", inputFor(to))
			var ite *findings.IllegalTransitionError
			if !errors.As(err, &ite) {
				t.Errorf("%s → %s: err = %v, want IllegalTransitionError", from, to, err)
				continue
			}
			if ite.From != from || ite.To != to || !slices.Equal(ite.Allowed, findings.AllowedNext(from)) {
				t.Errorf("%s → %s: error names %s → %s allowed %v", from, to, ite.From, ite.To, ite.Allowed)
			}
		}
		// Refusals leave no trace.
		if got := mustGet(t, s, fp).State; got != from {
			t.Errorf("refused transitions moved %s to %s", from, got)
		}
		if h, _ := s.History(ctx, fp); len(h) != 1+len(pathTo[from]) {
			t.Errorf("history of a finding in %s has %d entries, want %d", from, len(h), 1+len(pathTo[from]))
		}
	}
	// Every finding sits in exactly the index of its state.
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, n := range c.ByState {
		sum += n
	}
	if sum != c.Total {
		t.Errorf("state indexes hold %d findings, total %d", sum, c.Total)
	}
}

func TestIllegalTransitionMessage(t *testing.T) {
	err := findings.CheckEdge(findings.StateNew, findings.StateClosed)
	want := "非法的状态变更 illegal transition new → closed; allowed from new: in_review"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	if err := findings.CheckEdge(findings.StateClosed, findings.StateNew); err == nil || err.Error() != "非法的状态变更 illegal transition closed → new; allowed from closed: none (terminal state)" {
		t.Errorf("terminal: %v", err)
	}
}

func TestDocumentsAndDeadlines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	rec := findingIn(t, s, findings.StateCaseOpened, "admin-track")
	for _, in := range []findings.TransitionInput{
		{},
		{DocumentNo: "京检行公建〔2025〕7号"},
		{DocumentDate: "2025-01-31"},
		{DocumentNo: "  ", DocumentDate: "2025-01-31"},
		{DocumentNo: "x", DocumentDate: "31/01/2025"},
		{DocumentNo: "a\nb", DocumentDate: "2025-01-31"},
	} {
		if _, err := s.Transition(ctx, rec, findings.StateRecommendationIssued, "w", in); err == nil {
			t.Errorf("recommendation with %+v accepted", in)
		}
	}
	if _, err := s.Transition(ctx, rec, findings.StateClosed, "w", findings.TransitionInput{DocumentNo: "x", DocumentDate: "2025-01-01"}); err == nil {
		t.Error("a document on a transition that issues none was accepted")
	}
	tr, err := s.Transition(ctx, rec, findings.StateRecommendationIssued, "w",
		findings.TransitionInput{Note: "向市网信办发出检察建议", DocumentNo: "京检行公建〔2025〕7号", DocumentDate: "2024-12-31"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Deadline != "2025-02-28" || tr.DocumentNo != "京检行公建〔2025〕7号" || tr.DocumentDate != "2024-12-31" {
		t.Errorf("recommendation recorded %+v, want deadline 2025-02-28", tr)
	}
	h, _ := s.History(ctx, rec)
	if last := h[len(h)-1]; last != tr {
		t.Errorf("history ends with %+v, want %+v", last, tr)
	}
	if dl, _ := testRedis.Client().HGet(ctx, s.findingKey(rec), "deadline").Result(); dl != "2025-02-28" {
		t.Errorf("hash deadline = %q", dl)
	}
	if _, err := s.Transition(ctx, rec, findings.StateNotRectified, "w", findings.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, rec, findings.StateSuitFiled, "w", findings.TransitionInput{}); err == nil {
		t.Error("suit filed without the 起诉书 number and date")
	}
	suit, err := s.Transition(ctx, rec, findings.StateSuitFiled, "w", findings.TransitionInput{DocumentNo: "京检行公诉〔2025〕2号", DocumentDate: "2025-03-10"})
	if err != nil || suit.Deadline != "" {
		t.Errorf("suit filed: %+v, %v; want no deadline", suit, err)
	}

	civil := findingIn(t, s, findings.StateCaseOpened, "civil-track")
	ann, err := s.Transition(ctx, civil, findings.StateAnnouncementPublished, "w", findings.TransitionInput{DocumentNo: "公告〔2025〕3号", DocumentDate: "2025-02-01"})
	if err != nil {
		t.Fatal(err)
	}
	if ann.Deadline != "2025-03-03" {
		t.Errorf("announcement deadline = %s, want 2025-03-03 (30 days)", ann.Deadline)
	}
}

func TestDeadline(t *testing.T) {
	d := func(s string) time.Time { v, _ := time.Parse(time.DateOnly, s); return v }
	for _, c := range []struct {
		to         findings.State
		date, want string
	}{
		{findings.StateRecommendationIssued, "2025-01-15", "2025-03-15"},
		{findings.StateRecommendationIssued, "2023-12-31", "2024-02-29"},
		{findings.StateRecommendationIssued, "2025-12-31", "2026-02-28"},
		{findings.StateRecommendationIssued, "2025-11-30", "2026-01-30"},
		{findings.StateAnnouncementPublished, "2024-12-15", "2025-01-14"},
		{findings.StateAnnouncementPublished, "2024-02-01", "2024-03-02"},
	} {
		if got := findings.Deadline(c.to, d(c.date)).Format(time.DateOnly); got != c.want {
			t.Errorf("Deadline(%s, %s) = %s, want %s", c.to, c.date, got, c.want)
		}
	}
	if !findings.Deadline(findings.StateSuitFiled, d("2025-01-01")).IsZero() {
		t.Error("suit filed has a deadline")
	}
}

func TestConcurrentTransitionsFromOneState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for round := range 20 {
		fp := findingIn(t, s, findings.StateInReview, fmt.Sprint("race-", round))
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range 8 {
			to := []findings.State{findings.StateDismissed, findings.StateEscalated}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = s.Transition(ctx, fp, to, fmt.Sprint("user-", i), findings.TransitionInput{})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, ErrConflict):
			default:
				var ite *findings.IllegalTransitionError
				if !errors.As(err, &ite) { // read the state after the winner wrote it
					t.Errorf("unexpected error: %v", err)
				}
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d concurrent transitions from in_review succeeded, want 1", round, ok)
		}
		h, _ := s.History(ctx, fp)
		if len(h) != 3 || h[2].From != findings.StateInReview {
			t.Fatalf("round %d: history %+v, want created, in_review and one decision", round, h)
		}
		final := mustGet(t, s, fp).State
		if h[2].To != final {
			t.Errorf("history says %s, state is %s", h[2].To, final)
		}
		for _, st := range findings.AllStates {
			in, _ := testRedis.Client().ZScore(ctx, s.idxKey("state", string(st)), fp).Result()
			if (st == final) != (in != 0) {
				t.Errorf("round %d: finding in index %s = %v, final state %s", round, st, in != 0, final)
			}
		}
	}
}

func TestLabelsAndAllowedNext(t *testing.T) {
	for _, st := range findings.AllStates {
		l := st.Label()
		if l.ZH == "" || l.EN == "" || l.ZH == string(st) {
			t.Errorf("state %s lacks labels: %+v", st, l)
		}
		for _, next := range findings.AllowedNext(st) {
			if !next.Valid() {
				t.Errorf("%s → unknown %s", st, next)
			}
		}
	}
	a := findings.AllowedNext(findings.StateInReview)
	a[0] = findings.StateClosed
	if findings.AllowedNext(findings.StateInReview)[0] != findings.StateDismissed {
		t.Error("AllowedNext returns the table itself")
	}
	if findings.State("bogus").Valid() {
		t.Error("bogus state is valid")
	}
	s := newTestStore(t)
	fp := findingIn(t, s, findings.StateNew, "x")
	if _, err := s.Transition(context.Background(), fp, "bogus", "a", findings.TransitionInput{}); err == nil {
		t.Error("transition to an unknown state accepted")
	}
	if _, err := s.Transition(context.Background(), fp, findings.StateInReview, "", findings.TransitionInput{}); err == nil {
		t.Error("transition without actor accepted")
	}
	if _, err := s.Transition(context.Background(), "missing", findings.StateInReview, "a", findings.TransitionInput{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("transition of a missing finding: %v", err)
	}
}

// The compare-and-set itself: a writer that read a state which has since changed is refused.
func TestTransitionScriptRefusesStaleState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	fp := findingIn(t, s, findings.StateInReview, "cas")
	res, err := transitionScript.Run(ctx, s.rdb, []string{s.findingKey(fp), s.historyKey(fp)},
		s.prefix, fp, string(findings.StateNew), string(findings.StateInReview), `{}`, "", "").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != "conflict" || res[1] != string(findings.StateInReview) {
		t.Errorf("stale compare-and-set returned %v, want conflict with in_review", res)
	}
	if h, _ := s.History(ctx, fp); len(h) != 2 {
		t.Errorf("refused compare-and-set appended history: %d entries", len(h))
	}
}
