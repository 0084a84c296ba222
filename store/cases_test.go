package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"pilmon/cases"
)

const (
	caseFP1 = "0123456789abcdef0123456789abcdef"
	caseFP2 = "fedcba9876543210fedcba9876543210"
)

func newCase(t *testing.T, st *Store) cases.Case {
	t.Helper()
	f := cases.Fields{CaseNo: "京检行公建〔2026〕1号", Type: cases.Administrative, Handler: "王检察官",
		Operator: cases.Operator{Name: "某科技有限公司", USCC: "91440300708461136T"},
		Agency:   cases.Agency{Name: "某市通信管理局", DutyBasis: "个人信息保护法第六十条"}, TargetID: "app.demo"}
	c, evs, err := cases.New(f, []string{caseFP1}, "", "pat", t0)
	if err != nil {
		t.Fatal(err)
	}
	c, err = st.CreateCase(context.Background(), c, evs)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCaseStoreRoundTripAndHistory(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	c := newCase(t, st)
	if c.ID != "case-000001" || c.Version != 1 {
		t.Fatalf("created %s v%d", c.ID, c.Version)
	}
	c2 := newCase(t, st)
	if c2.ID == c.ID {
		t.Fatal("two cases share an id")
	}
	got, err := st.Case(ctx, c.ID)
	if err != nil || got.CaseNo != c.CaseNo || !got.HasFinding(caseFP1) {
		t.Fatalf("%v %+v", err, got)
	}
	if _, err := st.Case(ctx, "case-999999"); !errors.Is(err, ErrCaseNotFound) {
		t.Fatalf("missing case: %v", err)
	}
	now := t0.Add(time.Hour)
	up, err := st.UpdateCase(ctx, c.ID, func(c *cases.Case) ([]cases.Event, error) {
		j, err := c.Join(caseFP2, "同一运营者", "pat", now)
		if err != nil {
			return nil, err
		}
		l, err := c.Leave(caseFP1, "误报", "pat", now)
		return []cases.Event{j, l}, err
	})
	if err != nil || up.Version != 2 {
		t.Fatalf("%v v%d", err, up.Version)
	}
	in1, _ := st.CasesForFinding(ctx, caseFP1)
	in2, _ := st.CasesForFinding(ctx, caseFP2)
	if len(in1) != 1 || in1[0].ID != c2.ID || len(in2) != 1 || in2[0].ID != c.ID {
		t.Fatalf("finding index: fp1 in %+v, fp2 in %+v", in1, in2)
	}
	h, err := st.CaseHistory(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := []cases.EventKind{cases.EventCreated, cases.EventJoined, cases.EventJoined, cases.EventLeft}
	if len(h) != len(kinds) {
		t.Fatalf("history %+v", h)
	}
	for i, k := range kinds {
		if h[i].Kind != k {
			t.Errorf("history[%d] = %s, want %s", i, h[i].Kind, k)
		}
	}
	// A refused change writes nothing.
	if _, err := st.UpdateCase(ctx, c.ID, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.Move(cases.StateSuit, cases.MoveInput{}, "pat", cases.DefaultPolicy, now)
		return []cases.Event{ev}, err
	}); err == nil {
		t.Fatal("illegal move stored")
	}
	if h2, _ := st.CaseHistory(ctx, c.ID); len(h2) != len(h) {
		t.Fatalf("refused change appended history: %d entries", len(h2))
	}
	all, err := st.Cases(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("%v %d", err, len(all))
	}
}

// Concurrent changes to one case all land: each is re-applied to the record the other wrote.
func TestCaseStoreConcurrentJoins(t *testing.T) {
	ctx := context.Background()
	st := newTestStore(t)
	c := newCase(t, st)
	fps := []string{"00000000000000000000000000000001", "00000000000000000000000000000002"}
	var wg sync.WaitGroup
	errs := make([]error, len(fps))
	for i, fp := range fps {
		wg.Go(func() {
			_, errs[i] = st.UpdateCase(ctx, c.ID, func(c *cases.Case) ([]cases.Event, error) {
				ev, err := c.Join(fp, "r", "pat", t0)
				return []cases.Event{ev}, err
			})
		})
	}
	wg.Wait()
	got, _ := st.Case(ctx, c.ID)
	for i, fp := range fps {
		if errs[i] != nil && !errors.Is(errs[i], ErrConflict) {
			t.Fatal(errs[i])
		}
		if errs[i] == nil && !got.HasFinding(fp) {
			t.Errorf("%s reported joined but is not a member", fp)
		}
	}
	h, _ := st.CaseHistory(ctx, c.ID)
	if int64(len(h)) != 1+got.Version {
		// created + first join, then one entry per successful update
		t.Errorf("history has %d entries for version %d", len(h), got.Version)
	}
}
