package cases

import (
	"encoding/json"
	"testing"
)

// FuzzCase feeds hostile case JSON (as an API client or a damaged store record supplies it)
// through validation, the path and the deadlines: nothing may panic, and whatever validation
// accepts keeps its bounds.
func FuzzCase(f *testing.F) {
	good, _ := json.Marshal(adminFields())
	f.Add(good, "recommendation_issued", "2026-03-02", "9144030070846113")
	f.Add([]byte(`{"type":"civil","case_no":"x","handler":"h","operator":{"name":"n","uscc":"91440300708461136T"}}`), "announcement_published", "2026-02-30", "91440300708461136T")
	f.Add([]byte(`{"type":"administrative","scale":{"users":-5}}`), "suit_filed", "", "")
	f.Fuzz(func(t *testing.T, raw []byte, to, date, uscc string) {
		_ = CheckUSCC(uscc)
		var fl Fields
		if json.Unmarshal(raw, &fl) != nil {
			return
		}
		c, _, err := New(fl, []string{fp1}, "", "fuzz", bj("2026-03-01 10:00"))
		if err != nil {
			return
		}
		if len(c.CaseNo) > maxField || c.Scale.Users < 0 {
			t.Fatalf("accepted out of bounds: %+v", c)
		}
		if _, err := c.Move(State(to), MoveInput{Number: "n", Date: date, Reason: "r", Confirm: true}, "fuzz", DefaultPolicy, bj("2026-04-01 10:00")); err == nil {
			if !c.State.Valid() || len(c.Documents) > 1 {
				t.Fatalf("moved to %q: %+v", c.State, c)
			}
		}
		for _, d := range c.Deadlines(DefaultPolicy, bj("2026-04-01 10:00")) {
			_ = d.DaysLeft(bj("2026-04-01 10:00"))
		}
	})
}
