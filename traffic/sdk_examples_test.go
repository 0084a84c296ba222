package traffic

import (
	"testing"

	"pilmon/rules"
)

// TestSDKExamplesThroughHostMatcher runs every SDK entry's example hosts through the attribution
// traffic observations get: positives must name the entry, negatives must not.
func TestSDKExamplesThroughHostMatcher(t *testing.T) {
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	a := newAttributor(cat, nil, nil)
	n := 0
	for _, s := range cat.SDKs() {
		if s.Examples == nil {
			t.Errorf("SDK %s has no examples", s.ID)
			continue
		}
		check := func(host string, want bool) {
			n++
			if got := a.raw(host).SDK; (got == s.ID) != want {
				t.Errorf("SDK %s: host %s attributed to %q, want it attributed to %s: %v", s.ID, host, got, s.ID, want)
			}
		}
		for _, h := range s.Examples.Positive.Hosts {
			check(h, true)
		}
		for _, h := range s.Examples.Negative.Hosts {
			check(h, false)
		}
	}
	if n == 0 {
		t.Fatal("no host examples")
	}
}
