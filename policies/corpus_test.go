package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"pilmon/internal/corpus"
	"sort"
	"strings"
	"testing"

	"pilmon/rules"
)

func catalogue(t testing.TB) *rules.Catalogue {
	t.Helper()
	c, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var _ Catalogue = (*rules.Catalogue)(nil)

func TestCorpus(t *testing.T) {
	cat := catalogue(t)
	root := filepath.Join(corpus.SharedDir(), "corpus", "policies")
	for _, lang := range []string{"zh", "en"} {
		files, _ := filepath.Glob(filepath.Join(root, lang, "*"))
		if len(files) == 0 {
			t.Skipf("policies: corpus %s absent", filepath.Join(root, lang))
		}
		sort.Strings(files)
		var b strings.Builder
		fmt.Fprintf(&b, "%-44s %s\n", "file ("+lang+")", "lang pp  "+strings.Join(shortIDs(), " "))
		counts := map[string]int{}
		policies := 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Analyze(filepath.Base(f), data, "", cat)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			row := ""
			for _, id := range ElementIDs {
				if a.Elements[id].Present {
					counts[id]++
					row += "  x "
				} else {
					row += "  . "
				}
			}
			pp := "n"
			if a.IsPrivacyPolicy {
				pp = "y"
				policies++
			}
			name := filepath.Base(f)
			if len(name) > 44 {
				name = name[:44]
			}
			fmt.Fprintf(&b, "%-44s %-4s %-3s%s pi=%d sdk=%d\n", name, a.Language, pp, row, len(a.PIDeclared), len(a.SDKsDeclared))
			if a.Language != lang && !strings.Contains(name, "mozilla") {
				t.Errorf("%s: language %s, want %s", name, a.Language, lang)
			}
		}
		t.Logf("\n%s", b.String())
		n := len(files)
		if counts["pi_collected"] < n*9/10 || counts["contact"] < n*6/10 || counts["third_party_sharing"] < n*6/10 {
			t.Errorf("%s corpus: pi_collected %d, contact %d, third_party_sharing %d of %d", lang, counts["pi_collected"], counts["contact"], counts["third_party_sharing"], n)
		}
		if policies < n*6/10 {
			t.Errorf("%s corpus: only %d of %d recognised as privacy policies", lang, policies, n)
		}
	}
}

func shortIDs() []string {
	var out []string
	for _, id := range ElementIDs {
		out = append(out, id[:3])
	}
	return out
}
