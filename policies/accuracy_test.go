package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"pilmon/internal/corpus"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// labelFile is testdata/labels.yaml: hand labels of the corpus policies, keyed "zh/<file>".
type labelFile struct {
	Version  int `yaml:"version"`
	Policies map[string]struct {
		Elements map[string]bool `yaml:"elements"`
		Notes    []string        `yaml:"notes"`
	} `yaml:"policies"`
}

// f1Floor is the F1 per element the analyser reached when the floor was last raised, minus 0.02.
// A change to rules/data/policy_patterns.yaml that lowers an element below its floor fails the test; raise the
// floor when an improvement lands.
var f1Floor = map[string]float64{
	"operator_identity":    0.98,
	"contact":              0.97,
	"effective_date":       0.98,
	"purposes_by_function": 0.97,
	"pi_collected":         0.96,
	"sensitive_pi_marked":  0.98,
	"third_party_sharing":  0.98,
	"sdk_list":             0.98,
	"retention_period":     0.98,
	"storage_location":     0.98,
	"user_rights":          0.98,
	"account_cancellation": 0.98,
	"withdraw_consent":     0.98,
	"complaint_channel":    0.94,
	"response_time":        0.98,
	"minors":               0.98,
	"change_notification":  0.98,
	"separate_consent":     0.98,
}

type confusion struct{ tp, fp, fn, tn int }

func (c confusion) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c confusion) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c confusion) f1() float64 {
	p, r := c.precision(), c.recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// ratio is 1 for 0/0: an element never labelled and never found is not an error.
func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func loadLabels(t testing.TB) labelFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "labels.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var lf labelFile
	if err := yaml.Unmarshal(data, &lf); err != nil {
		t.Fatalf("testdata/labels.yaml: %v", err)
	}
	return lf
}

func TestLabelsWellFormed(t *testing.T) {
	lf := loadLabels(t)
	if len(lf.Policies) == 0 {
		t.Fatal("testdata/labels.yaml: no policies")
	}
	for key, p := range lf.Policies {
		if !strings.HasPrefix(key, "zh/") && !strings.HasPrefix(key, "en/") {
			t.Errorf("%s: key must start with zh/ or en/", key)
		}
		for _, id := range ElementIDs {
			if _, ok := p.Elements[id]; !ok {
				t.Errorf("%s: element %s not labelled", key, id)
			}
		}
		for id := range p.Elements {
			if !isElement(id) {
				t.Errorf("%s: unknown element %s", key, id)
			}
		}
	}
}

func isElement(id string) bool {
	for _, e := range ElementIDs {
		if e == id {
			return true
		}
	}
	return false
}

// TestAccuracy scores Analyze against the hand labels and prints precision, recall and F1 per
// element (go test -run TestAccuracy -v ./policies). Mismatches are listed with -v.
func TestAccuracy(t *testing.T) {
	lf := loadLabels(t)
	root := filepath.Join(corpus.SharedDir(), "corpus", "policies")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("policies: corpus %s absent", root)
	}
	cat := catalogue(t)
	keys := make([]string, 0, len(lf.Policies))
	for k := range lf.Policies {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	scores := map[string]*confusion{}
	for _, id := range ElementIDs {
		scores[id] = &confusion{}
	}
	var misses []string
	for _, key := range keys {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
		if err != nil {
			t.Errorf("%s: %v (labelled but missing from the corpus)", key, err)
			continue
		}
		a, err := Analyze(filepath.Base(key), data, "", cat)
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		for _, id := range ElementIDs {
			want, got := lf.Policies[key].Elements[id], a.Elements[id].Present
			c := scores[id]
			switch {
			case want && got:
				c.tp++
			case !want && got:
				c.fp++
				misses = append(misses, fmt.Sprintf("FP %-22s %-50s %q", id, key, a.Elements[id].Quote))
			case want && !got:
				c.fn++
				misses = append(misses, fmt.Sprintf("FN %-22s %s", id, key))
			default:
				c.tn++
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d policies\n%-22s %4s %4s %4s %4s %6s %6s %6s\n", len(keys), "element", "tp", "fp", "fn", "tn", "prec", "recall", "f1")
	for _, id := range ElementIDs {
		c := scores[id]
		fmt.Fprintf(&b, "%-22s %4d %4d %4d %4d %6.3f %6.3f %6.3f\n", id, c.tp, c.fp, c.fn, c.tn, c.precision(), c.recall(), c.f1())
	}
	t.Logf("\n%s", b.String())
	if testing.Verbose() {
		sort.Strings(misses)
		t.Logf("mismatches:\n%s", strings.Join(misses, "\n"))
	}
	for _, id := range ElementIDs {
		if f := scores[id].f1(); f < f1Floor[id] {
			t.Errorf("%s: F1 %.3f below the recorded floor %.2f", id, f, f1Floor[id])
		}
	}
}
