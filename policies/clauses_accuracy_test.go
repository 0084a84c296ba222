package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"pilmon/internal/corpus"
	"pilmon/rules"
)

type clauseLabels struct {
	Corpus   string              `yaml:"corpus"`
	Language string              `yaml:"language"`
	Text     string              `yaml:"text"`
	Clauses  map[string][]string `yaml:"clauses"`
}

// TestClauseAccuracy scores the clause detectors on the labelled sets they are tuned on
// (testdata/labelled-clauses, and heldout3 to heldout9 since their one blind scoring),
// each on its own, as production reports them (Clauses: every distinct clause, up to its bound per
// family): per family, a document is a true positive when one of its reported quotes contains a
// labelled fragment, and a false positive when one of its reported quotes contains none (a document
// can be both: the clause found and a near-miss taken for it too). Every family must reach F1 0.92
// and precision 0.95 on each (a clause that is itself the violation becomes a finding).
func TestClauseAccuracy(t *testing.T) {
	for set, glob := range map[string]string{
		"main":     filepath.Join("testdata", "labelled-clauses", "*.yaml"),
		"heldout3": filepath.Join("testdata", "labelled-clauses", "heldout3", "*.yaml"),
		"heldout4": filepath.Join("testdata", "labelled-clauses", "heldout4", "*.yaml"),
		"heldout5": filepath.Join("testdata", "labelled-clauses", "heldout5", "*.yaml"),
		"heldout6": filepath.Join("testdata", "labelled-clauses", "heldout6", "*.yaml"),
		"heldout7": filepath.Join("testdata", "labelled-clauses", "heldout7", "*.yaml"),
		"heldout8": filepath.Join("testdata", "labelled-clauses", "heldout8", "*.yaml"),
		"heldout9": filepath.Join("testdata", "labelled-clauses", "heldout9", "*.yaml"),
	} {
		t.Run(set, func(t *testing.T) { scoreClauseSet(t, glob, true, clauseShortOf[set]) })
	}
}

// clauseShortOf holds, per gated set, the families known to fall short of F1 0.92, at the F1 they are
// held to instead (precision stays gated at 0.95), each with the reason it cannot be reached.
var clauseShortOf = map[string]map[string]float64{
	// heldout9 zh_20 states an R&D provision in one sentence and the refusal of "此项提供" that ends
	// the membership in the next. The two are now read together (此项提供 refers back), but the
	// purpose is a third party's research (提供予合作藥廠作研究之用), which the purpose cues do not
	// take for an R&D or improvement purpose of the operator, and the compulsion is the membership
	// ended on refusal, which the forced-purpose shapes do not read as compulsion.
	"heldout9": {"forced_purpose": 0.90},
}

// TestClauseHeldout scores the sets that are not tuned on: heldout2, written before the detectors
// were generalised by their author, and heldout10, written blind by another engineer and scored once
// by the lead after a tuning round (absent from a checkout until then: it is skipped, not failed).
// Their figures are reported, not gated (a handful of documents, each a family's only chance to be
// missed). Tuning runs -run 'TestClauseAccuracy$' so that a held-out set stays unseen until it is
// scored.
func TestClauseHeldout(t *testing.T) {
	for _, set := range []string{"heldout2", "heldout10"} {
		t.Run(set, func(t *testing.T) {
			dir := filepath.Join("testdata", "labelled-clauses", set)
			if _, err := os.Stat(dir); set == "heldout10" && os.IsNotExist(err) {
				t.Skipf("%s absent: the blind set is scored once it is merged", dir)
			}
			scoreClauseSet(t, filepath.Join(dir, "*.yaml"), false, nil)
		})
	}
}

func scoreClauseSet(t *testing.T, glob string, gate bool, shortOf map[string]float64) {
	files, err := filepath.Glob(glob)
	if err != nil || len(files) == 0 {
		t.Fatalf("no labelled documents in %s: %v", glob, err)
	}
	t.Logf("%s", glob)
	scoreClauses(t, files, gate, shortOf)
}

type clauseScore struct{ tp, fp, fn, support int }

func scoreClauses(t *testing.T, files []string, gate bool, shortOf map[string]float64) {
	root := filepath.Join(corpus.SharedDir(), "corpus", "policies")
	scores := map[string]*clauseScore{}
	for _, id := range rules.ClauseIDs {
		scores[id] = &clauseScore{}
	}
	docs, skipped := 0, 0
	var misses []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var l clauseLabels
		if err := yaml.Unmarshal(b, &l); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for fam := range l.Clauses {
			if scores[fam] == nil {
				t.Fatalf("%s: unknown clause family %q", f, fam)
			}
		}
		var a *Analysis
		switch {
		case l.Corpus != "":
			data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(l.Corpus)))
			if err != nil {
				skipped++ // the shared corpus is absent here
				continue
			}
			a, err = Analyze(l.Corpus, data, "", nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		default:
			a, err = Analyze(filepath.Base(f)+".md", []byte(l.Text), "text/markdown", nil)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if a.Language != l.Language {
				t.Fatalf("%s: language %s, labelled %s", f, a.Language, l.Language)
			}
		}
		docs++
		cs, err := Clauses(a)
		if err != nil {
			t.Fatal(err)
		}
		// every reported quote is scored, not one per family: a document holding a family's clause
		// and its near-miss is right only when the clause is found and the near-miss is not
		quotes := map[string][]string{}
		for _, c := range cs {
			quotes[c.Clause] = append(quotes[c.Clause], c.Quote)
		}
		for _, fam := range rules.ClauseIDs {
			s, frags := scores[fam], l.Clauses[fam]
			if len(frags) > 0 {
				s.support++
			}
			hit, wrong := false, false
			for _, q := range quotes[fam] {
				ok := false
				for _, fr := range frags {
					ok = ok || strings.Contains(q, fr)
				}
				switch {
				case ok:
					hit = true
				case len(frags) > 0:
					wrong = true
					misses = append(misses, fmt.Sprintf("%s %s: wrong quote %q", filepath.Base(f), fam, q))
				default:
					wrong = true
					misses = append(misses, fmt.Sprintf("%s %s: false %q", filepath.Base(f), fam, q))
				}
			}
			if wrong {
				s.fp++
			}
			switch {
			case hit:
				s.tp++
			case len(frags) > 0:
				s.fn++
				misses = append(misses, fmt.Sprintf("%s %s: missed", filepath.Base(f), fam))
			}
		}
	}
	if skipped > 0 {
		t.Logf("%d corpus documents skipped: shared corpus absent", skipped)
	}
	sort.Strings(misses)
	for _, m := range misses {
		t.Log(m)
	}
	for _, fam := range rules.ClauseIDs {
		s := scores[fam]
		p, r := clauseRatio(s.tp, s.tp+s.fp), clauseRatio(s.tp, s.tp+s.fn)
		f1 := 0.0
		if p+r > 0 {
			f1 = 2 * p * r / (p + r)
		}
		t.Logf("%-18s docs %d  support %2d  tp %2d fp %2d fn %2d  P %.2f R %.2f F1 %.2f", fam, docs, s.support, s.tp, s.fp, s.fn, p, r, f1)
		if !gate {
			continue
		}
		if s.support == 0 {
			t.Errorf("%s: no labelled positive", fam)
			continue
		}
		minF1 := 0.92
		if f, ok := shortOf[fam]; ok {
			minF1 = f
		}
		if f1 < minF1 || p < 0.95 {
			t.Errorf("%s: F1 %.2f (want ≥ %.2f), precision %.2f (want ≥ 0.95)", fam, f1, minF1, p)
		}
	}
}

// clauseRatio is 1 for 0/0 (its own copy: accuracy_test.go belongs to the element scorer).
func clauseRatio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
