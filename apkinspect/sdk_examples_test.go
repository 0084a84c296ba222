package apkinspect

import (
	"strings"
	"testing"
)

// TestSDKExamplesThroughClassMatcher runs every SDK entry's example class names through the
// matcher dex classes go through: positives must name the entry, negatives (look-alike packages)
// must not.
func TestSDKExamplesThroughClassMatcher(t *testing.T) {
	cat := catalogue(t)
	n := 0
	for _, s := range cat.SDKs() {
		if s.Examples == nil {
			t.Errorf("SDK %s has no examples", s.ID)
			continue
		}
		check := func(cls string, want bool) {
			n++
			desc := "L" + strings.ReplaceAll(cls, ".", "/") + ";"
			got, ok := classSDK(cat, desc, "")
			if (ok && got.ID == s.ID) != want {
				t.Errorf("SDK %s: class %s (%s) attributed to %q, want it attributed to %s: %v", s.ID, cls, desc, got.ID, s.ID, want)
			}
		}
		for _, c := range s.Examples.Positive.Classes {
			check(c, true)
		}
		for _, c := range s.Examples.Negative.Classes {
			check(c, false)
		}
	}
	if n == 0 {
		t.Fatal("no class examples")
	}
}
