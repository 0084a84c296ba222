package findings

import (
	"testing"
	"time"
)

// TestDismissReason: a reason is recorded with a dismissal; an unknown one, one with another
// move, and "other" without a note are refused.
func TestDismissReason(t *testing.T) {
	now := time.Now()
	tr, err := NewTransition("fp", StateInReview, StateDismissed, "ana", TransitionInput{Reason: ReasonNecessary}, now)
	if err != nil || tr.Reason != ReasonNecessary {
		t.Fatalf("dismissal with reason: %+v %v", tr, err)
	}
	if tr, err := NewTransition("fp", StateInReview, StateDismissed, "ana", TransitionInput{}, now); err != nil || tr.Reason != "" {
		t.Errorf("dismissal without reason (the caller's policy): %+v %v", tr, err)
	}
	for _, c := range []struct {
		to State
		in TransitionInput
	}{
		{StateDismissed, TransitionInput{Reason: "because"}},
		{StateEscalated, TransitionInput{Reason: ReasonDuplicate}},
		{StateDismissed, TransitionInput{Reason: ReasonOther, Note: "  "}},
	} {
		if _, err := NewTransition("fp", StateInReview, c.to, "ana", c.in, now); err == nil {
			t.Errorf("%s with %+v accepted", c.to, c.in)
		}
	}
	if _, err := NewTransition("fp", StateInReview, StateDismissed, "ana", TransitionInput{Reason: ReasonOther, Note: "测试机不符"}, now); err != nil {
		t.Errorf("other with a note: %v", err)
	}
	for _, r := range DismissReasons {
		if l := ReasonLabel(r); l.ZH == r || l.EN == "" {
			t.Errorf("reason %s has no label", r)
		}
	}
}
