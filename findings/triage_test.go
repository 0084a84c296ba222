package findings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// pathTo is a legal route from new to every state, with the document each step needs.
var pathTo = map[State][]State{
	StateNew:                   {},
	StateInReview:              {StateInReview},
	StateDismissed:             {StateInReview, StateDismissed},
	StateEscalated:             {StateInReview, StateEscalated},
	StateCaseOpened:            {StateInReview, StateEscalated, StateCaseOpened},
	StateRecommendationIssued:  {StateInReview, StateEscalated, StateCaseOpened, StateRecommendationIssued},
	StateRectified:             {StateInReview, StateEscalated, StateCaseOpened, StateRecommendationIssued, StateRectified},
	StateNotRectified:          {StateInReview, StateEscalated, StateCaseOpened, StateRecommendationIssued, StateNotRectified},
	StateAnnouncementPublished: {StateInReview, StateEscalated, StateCaseOpened, StateAnnouncementPublished},
	StateSuitFiled:             {StateInReview, StateEscalated, StateCaseOpened, StateAnnouncementPublished, StateSuitFiled},
	StateClosed:                {StateInReview, StateEscalated, StateCaseOpened, StateClosed},
}

func inputFor(to State) TransitionInput {
	if documentRequired[to] {
		return TransitionInput{Note: "文书", DocumentNo: "京检民公建〔2025〕1号", DocumentDate: "2025-01-31"}
	}
	return TransitionInput{Note: "step"}
}

// findingIn creates a finding and walks it to state st.
func findingIn(t *testing.T, s *Store, st State, subject string) string {
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
	want := map[[2]State]bool{}
	for _, e := range [][2]State{
		{StateNew, StateInReview},
		{StateInReview, StateDismissed}, {StateInReview, StateEscalated},
		{StateDismissed, StateInReview},
		{StateEscalated, StateCaseOpened}, {StateEscalated, StateInReview},
		{StateCaseOpened, StateRecommendationIssued}, {StateCaseOpened, StateAnnouncementPublished}, {StateCaseOpened, StateClosed},
		{StateRecommendationIssued, StateRectified}, {StateRecommendationIssued, StateNotRectified},
		{StateNotRectified, StateSuitFiled},
		{StateAnnouncementPublished, StateSuitFiled}, {StateAnnouncementPublished, StateClosed},
		{StateRectified, StateClosed},
		{StateSuitFiled, StateClosed},
	} {
		want[e] = true
	}
	if len(pathTo) != len(AllStates) {
		t.Fatalf("pathTo covers %d states, AllStates has %d", len(pathTo), len(AllStates))
	}
	for _, from := range AllStates {
		fp := findingIn(t, s, from, "illegal-from-"+string(from))
		for _, to := range AllStates {
			if want[[2]State{from, to}] {
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
			var ite *IllegalTransitionError
			if !errors.As(err, &ite) {
				t.Errorf("%s → %s: err = %v, want IllegalTransitionError", from, to, err)
				continue
			}
			if ite.From != from || ite.To != to || !slices.Equal(ite.Allowed, AllowedNext(from)) {
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
	err := checkEdge(StateNew, StateClosed)
	want := "非法的状态变更 illegal transition new → closed; allowed from new: in_review"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
	if err := checkEdge(StateClosed, StateNew); err == nil || err.Error() != "非法的状态变更 illegal transition closed → new; allowed from closed: none (terminal state)" {
		t.Errorf("terminal: %v", err)
	}
}

func TestDocumentsAndDeadlines(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	rec := findingIn(t, s, StateCaseOpened, "admin-track")
	for _, in := range []TransitionInput{
		{},
		{DocumentNo: "京检行公建〔2025〕7号"},
		{DocumentDate: "2025-01-31"},
		{DocumentNo: "  ", DocumentDate: "2025-01-31"},
		{DocumentNo: "x", DocumentDate: "31/01/2025"},
		{DocumentNo: "a\nb", DocumentDate: "2025-01-31"},
	} {
		if _, err := s.Transition(ctx, rec, StateRecommendationIssued, "w", in); err == nil {
			t.Errorf("recommendation with %+v accepted", in)
		}
	}
	if _, err := s.Transition(ctx, rec, StateClosed, "w", TransitionInput{DocumentNo: "x", DocumentDate: "2025-01-01"}); err == nil {
		t.Error("a document on a transition that issues none was accepted")
	}
	tr, err := s.Transition(ctx, rec, StateRecommendationIssued, "w",
		TransitionInput{Note: "向市网信办发出检察建议", DocumentNo: "京检行公建〔2025〕7号", DocumentDate: "2024-12-31"})
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
	if _, err := s.Transition(ctx, rec, StateNotRectified, "w", TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Transition(ctx, rec, StateSuitFiled, "w", TransitionInput{}); err == nil {
		t.Error("suit filed without the 起诉书 number and date")
	}
	suit, err := s.Transition(ctx, rec, StateSuitFiled, "w", TransitionInput{DocumentNo: "京检行公诉〔2025〕2号", DocumentDate: "2025-03-10"})
	if err != nil || suit.Deadline != "" {
		t.Errorf("suit filed: %+v, %v; want no deadline", suit, err)
	}

	civil := findingIn(t, s, StateCaseOpened, "civil-track")
	ann, err := s.Transition(ctx, civil, StateAnnouncementPublished, "w", TransitionInput{DocumentNo: "公告〔2025〕3号", DocumentDate: "2025-02-01"})
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
		to         State
		date, want string
	}{
		{StateRecommendationIssued, "2025-01-15", "2025-03-15"},
		{StateRecommendationIssued, "2023-12-31", "2024-02-29"},
		{StateRecommendationIssued, "2025-12-31", "2026-02-28"},
		{StateRecommendationIssued, "2025-11-30", "2026-01-30"},
		{StateAnnouncementPublished, "2024-12-15", "2025-01-14"},
		{StateAnnouncementPublished, "2024-02-01", "2024-03-02"},
	} {
		if got := Deadline(c.to, d(c.date)).Format(time.DateOnly); got != c.want {
			t.Errorf("Deadline(%s, %s) = %s, want %s", c.to, c.date, got, c.want)
		}
	}
	if !Deadline(StateSuitFiled, d("2025-01-01")).IsZero() {
		t.Error("suit filed has a deadline")
	}
}

func TestConcurrentTransitionsFromOneState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for round := range 20 {
		fp := findingIn(t, s, StateInReview, fmt.Sprint("race-", round))
		var wg sync.WaitGroup
		results := make([]error, 8)
		for i := range 8 {
			to := []State{StateDismissed, StateEscalated}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = s.Transition(ctx, fp, to, fmt.Sprint("user-", i), TransitionInput{})
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
				var ite *IllegalTransitionError
				if !errors.As(err, &ite) { // read the state after the winner wrote it
					t.Errorf("unexpected error: %v", err)
				}
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d concurrent transitions from in_review succeeded, want 1", round, ok)
		}
		h, _ := s.History(ctx, fp)
		if len(h) != 3 || h[2].From != StateInReview {
			t.Fatalf("round %d: history %+v, want created, in_review and one decision", round, h)
		}
		final := mustGet(t, s, fp).State
		if h[2].To != final {
			t.Errorf("history says %s, state is %s", h[2].To, final)
		}
		for _, st := range AllStates {
			in, _ := testRedis.Client().ZScore(ctx, s.idxKey("state", string(st)), fp).Result()
			if (st == final) != (in != 0) {
				t.Errorf("round %d: finding in index %s = %v, final state %s", round, st, in != 0, final)
			}
		}
	}
}

func TestLabelsAndAllowedNext(t *testing.T) {
	for _, st := range AllStates {
		l := st.Label()
		if l.ZH == "" || l.EN == "" || l.ZH == string(st) {
			t.Errorf("state %s lacks labels: %+v", st, l)
		}
		for _, next := range AllowedNext(st) {
			if !next.Valid() {
				t.Errorf("%s → unknown %s", st, next)
			}
		}
	}
	a := AllowedNext(StateInReview)
	a[0] = StateClosed
	if AllowedNext(StateInReview)[0] != StateDismissed {
		t.Error("AllowedNext returns the table itself")
	}
	if State("bogus").Valid() {
		t.Error("bogus state is valid")
	}
	s := newTestStore(t)
	fp := findingIn(t, s, StateNew, "x")
	if _, err := s.Transition(context.Background(), fp, "bogus", "a", TransitionInput{}); err == nil {
		t.Error("transition to an unknown state accepted")
	}
	if _, err := s.Transition(context.Background(), fp, StateInReview, "", TransitionInput{}); err == nil {
		t.Error("transition without actor accepted")
	}
	if _, err := s.Transition(context.Background(), "missing", StateInReview, "a", TransitionInput{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("transition of a missing finding: %v", err)
	}
}

// The compare-and-set itself: a writer that read a state which has since changed is refused.
func TestTransitionScriptRefusesStaleState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	fp := findingIn(t, s, StateInReview, "cas")
	res, err := transitionScript.Run(ctx, s.rdb, []string{s.findingKey(fp), s.historyKey(fp)},
		s.prefix, fp, string(StateNew), string(StateInReview), `{}`, "", "").StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if res[0] != "conflict" || res[1] != string(StateInReview) {
		t.Errorf("stale compare-and-set returned %v, want conflict with in_review", res)
	}
	if h, _ := s.History(ctx, fp); len(h) != 2 {
		t.Errorf("refused compare-and-set appended history: %d entries", len(h))
	}
}
