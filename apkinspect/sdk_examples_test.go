package apkinspect

import (
	"strings"
	"testing"

	"pilmon/apkinspect/dex"
	"pilmon/rules"
)

// throughMatcher names the party of an example class the way a dex class is named: from its type
// descriptor, through the ownership rule of an APK whose own packages are none of the examples'.
func throughMatcher(own *ownership, cls string) ClassParty {
	return own.of(dex.JavaName("L" + strings.ReplaceAll(cls, ".", "/") + ";"))
}

// TestSDKExamplesThroughClassMatcher runs every SDK entry's example class names through the
// matcher dex classes go through: positives must name the entry, negatives (look-alike packages)
// must not.
func TestSDKExamplesThroughClassMatcher(t *testing.T) {
	cat := catalogue(t)
	own := newOwnership(cat, nil)
	n := 0
	for _, s := range cat.SDKs() {
		if s.Examples == nil {
			t.Errorf("SDK %s has no examples", s.ID)
			continue
		}
		// an entry of kind library (an open-source library a derived list files among SDKs)
		// owns its classes as a library
		check := func(cls string, want bool) {
			n++
			got := throughMatcher(own, cls)
			if s.Kind == rules.SDKKindLibrary {
				if (got.Library == s.ID && got.Party == "library:"+s.ID && got.SDK == "") != want {
					t.Errorf("library-kind SDK entry %s: class %s is %+v, want it attributed to library:%s: %v", s.ID, cls, got, s.ID, want)
				}
				return
			}
			if (got.SDK == s.ID) != want {
				t.Errorf("SDK %s: class %s attributed to %q, want it attributed to %s: %v", s.ID, cls, got.Party, s.ID, want)
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

// TestLibraryExamplesThroughClassMatcher does the same for every libraries.yaml entry: positives
// are party library:<id>, negatives are not.
func TestLibraryExamplesThroughClassMatcher(t *testing.T) {
	cat := catalogue(t)
	own := newOwnership(cat, nil)
	libs := cat.Libraries()
	prefixes := 0
	for _, l := range libs {
		prefixes += len(l.ClassPrefixes)
		if l.Examples == nil || len(l.Examples.Positive) == 0 || len(l.Examples.Negative) == 0 {
			t.Errorf("library %s needs positive and negative examples", l.ID)
			continue
		}
		for _, c := range l.Examples.Positive {
			if got := throughMatcher(own, c); got.Party != "library:"+l.ID || got.Library != l.ID || got.SDK != "" {
				t.Errorf("library %s: class %s is %+v, want party library:%s", l.ID, c, got, l.ID)
			}
		}
		for _, c := range l.Examples.Negative {
			if got := throughMatcher(own, c); got.Library == l.ID {
				t.Errorf("library %s: look-alike %s attributed to it", l.ID, c)
			}
		}
	}
	if prefixes < 200 {
		t.Errorf("libraries.yaml has %d class prefixes, want at least 200", prefixes)
	}
}
