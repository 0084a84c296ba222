package policies

import (
	"errors"
	"strings"
	"testing"
)

// FuzzDiff: any two documents compare without panicking, and a document compared with itself
// shows no change.
func FuzzDiff(f *testing.F) {
	f.Add(policyV1, policyV2)
	f.Add("# A\nx\n# a {: #m }\ny", "<h1>A</h1><p>y</p>")
	f.Add("", "\x00\xff")
	f.Fuzz(func(t *testing.T, a, b string) {
		oa, err := Analyze("a.html", []byte(a), "", fixedCatalogue{})
		if errors.Is(err, ErrNotText) {
			return // refused by content: nothing to compare
		} else if err != nil {
			t.Fatal(err)
		}
		ob, err := Analyze("b.html", []byte(b), "", fixedCatalogue{})
		if errors.Is(err, ErrNotText) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		d := DiffVersions(&Loaded{Analysis: oa}, &Loaded{Analysis: ob})
		for _, s := range d.Sections {
			LineChanges(s.Old, s.New)
		}
		if same := Diff(oa, oa); len(same.Sections)+len(same.Elements)+len(same.PIAdded)+len(same.PIGone) != 0 {
			t.Fatalf("a document differs from itself: %+v", same)
		}
		if r, ad := LineChanges(a, a); len(r)+len(ad) != 0 && strings.TrimSpace(a) != "" {
			t.Fatalf("LineChanges(a, a) = %v, %v", r, ad)
		}
	})
}
