package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"pilmon/internal/corpus"
)

// labelled is one file of testdata/labelled (see its README.md for the format and for how the
// labels were kept apart from tuning).
type labelled struct {
	Document struct {
		Corpus    string `yaml:"corpus"`
		SHA256    string `yaml:"sha256"`
		File      string `yaml:"file"`
		WrittenBy string `yaml:"written_by"`
	} `yaml:"document"`
	Language      string                   `yaml:"language"`
	DocType       DocType                  `yaml:"doc_type"`
	EffectiveDate string                   `yaml:"effective_date"`
	Elements      map[string]labelledTruth `yaml:"elements"`
	PIDeclared    []string                 `yaml:"pi_declared"`
	PINotDeclared []string                 `yaml:"pi_not_declared"`
	SDKsDeclared  []string                 `yaml:"sdks_declared"`
	Clauses       map[string]labelledTruth `yaml:"clauses"`
	Notes         []string                 `yaml:"notes"`
}

type labelledTruth struct {
	Present bool      `yaml:"present"`
	Quote   quoteAlts `yaml:"quote"`
}

// quoteAlts are the fragments that state an element: a policy often states it in more than one
// place, so a label lists every place and a reader's quote containing any one of them is right.
// YAML gives either one string or a list of strings.
type quoteAlts []string

func (q *quoteAlts) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*q = quoteAlts{n.Value}
		return nil
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		*q = l
		return nil
	}
	return fmt.Errorf("line %d: quote is a string or a list of strings", n.Line)
}

// matchedBy reports whether a reader's quote contains one of the fragments, whitespace runs
// compared as one space (fragments were copied from the text as it reads, whitespace normalised).
func (q quoteAlts) matchedBy(got string) bool {
	g := collapseSpace(got)
	for _, f := range q {
		if f = collapseSpace(f); f != "" && (quoteInText(f, g) || strings.Contains(g, f)) {
			return true
		}
	}
	return false
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// Inline tags join the words on either side; any other tag ends a block (a Markdown link reads
// as its text: mdLink, as the reader reads it).
var (
	inlineTag = regexp.MustCompile(`(?i)</?(a|strong|em|b|i|span|code)\b[^>]*>`)
	htmlTag   = regexp.MustCompile(`<[^>]*>`)
)

// ClauseFamilies are the clause families a label may carry (issue contract: policy.clause).
var clauseFamilies = []string{"deemed_consent", "bundled_consent", "no_notice_change", "refuse_then_deny", "forced_purpose", "publish_sensitive"}

// elementF1Floor: every element must reach it on the labelled set.
const elementF1Floor = 0.92

const labelledDir = "testdata/labelled"

func loadLabelled(t testing.TB) map[string]labelled {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(labelledDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no labels (%v)", labelledDir, err)
	}
	out := map[string]labelled{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var l labelled
		dec := yaml.NewDecoder(strings.NewReader(string(data)))
		dec.KnownFields(true)
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = l
	}
	return out
}

// TestLabelledWellFormed checks every label file: one source, a known type, every element
// labelled on a policy, quotes taken from the text, known PI and clause ids.
func TestLabelledWellFormed(t *testing.T) {
	cat := catalogue(t)
	zh, en := 0, 0
	for name, l := range loadLabelled(t) {
		if (l.Document.Corpus == "") == (l.Document.File == "") {
			t.Errorf("%s: document needs exactly one of corpus and file", name)
		}
		if l.Document.Corpus != "" && len(l.Document.SHA256) != 64 {
			t.Errorf("%s: a corpus document needs its sha256", name)
		}
		if l.Document.File != "" && l.Document.WrittenBy == "" {
			t.Errorf("%s: a written text says who wrote it", name)
		}
		switch l.Language {
		case "zh":
			zh++
		case "en":
			en++
		default:
			t.Errorf("%s: language %q", name, l.Language)
		}
		switch l.DocType {
		case DocPrivacyPolicy, DocChildrenPolicy, DocSDKList, DocPermissionList, DocTermsOfService, DocOther:
		default:
			t.Errorf("%s: doc_type %q", name, l.DocType)
		}
		if l.DocType.IsPolicy() {
			for _, id := range ElementIDs {
				if _, ok := l.Elements[id]; !ok {
					t.Errorf("%s: element %s not labelled", name, id)
				}
			}
		}
		for id, e := range l.Elements {
			if !isElement(id) {
				t.Errorf("%s: unknown element %s", name, id)
			}
			if !e.Present && len(e.Quote) > 0 {
				t.Errorf("%s: %s is absent but has a quote", name, id)
			}
		}
		for id := range l.Clauses {
			if !isClauseFamily(id) {
				t.Errorf("%s: unknown clause family %s", name, id)
			}
		}
		for _, p := range append(append([]string{}, l.PIDeclared...), l.PINotDeclared...) {
			if _, ok := cat.PICategory(p); !ok {
				t.Errorf("%s: unknown PI category %s", name, p)
			}
		}
		for _, s := range l.SDKsDeclared {
			if _, ok := cat.SDK(s); !ok {
				t.Errorf("%s: unknown SDK %s", name, s)
			}
		}
		if l.Document.File != "" {
			text, err := os.ReadFile(filepath.Join(labelledDir, l.Document.File))
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			for id, e := range l.Elements {
				for _, q := range e.Quote {
					if !quoteInText(q, string(text)) {
						t.Errorf("%s: %s: quote %q is not in the text", name, id, q)
					}
				}
			}
		}
	}
	if zh < 40 || en < 10 {
		t.Errorf("labelled set: %d Chinese and %d English documents, want at least 40 and 10", zh, en)
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

func isClauseFamily(id string) bool {
	for _, c := range clauseFamilies {
		if c == id {
			return true
		}
	}
	return false
}

// quoteInText: a label quote from a table row is written with " | " between cells.
func quoteInText(q, text string) bool {
	flat := strings.NewReplacer("</td><td>", "", "</th><th>", "", "<td>", "", "<th>", "").Replace(text)
	return strings.Contains(text, q) || strings.Contains(flat, strings.ReplaceAll(q, " | ", ""))
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

func (c *confusion) add(want, got bool) {
	switch {
	case want && got:
		c.tp++
	case !want && got:
		c.fp++
	case want && !got:
		c.fn++
	default:
		c.tn++
	}
}

// ratio is 1 for 0/0: an element never labelled and never found is not an error.
func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

// readLabelled returns the bytes a label is about; ok is false when a corpus file is absent.
func readLabelled(t *testing.T, l labelled) (string, []byte, bool) {
	if l.Document.File != "" {
		data, err := os.ReadFile(filepath.Join(labelledDir, l.Document.File))
		if err != nil {
			t.Fatal(err)
		}
		return filepath.Base(l.Document.File), data, true
	}
	p := filepath.Join(corpus.SharedDir(), "corpus", "policies", filepath.FromSlash(l.Document.Corpus))
	data, err := os.ReadFile(p)
	if err != nil {
		return "", nil, false
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != l.Document.SHA256 {
		t.Errorf("%s: SHA-256 differs from the label's: the labels are about other bytes", l.Document.Corpus)
	}
	return filepath.Base(p), data, true
}

// TestLabelledAccuracy scores the reader on the labelled set: the document type, each element
// (present true against the label; an "unclear" element counts as not shown) with its quote, PI
// declared and not declared, the dates, and each clause family (from the policy.clause
// observations), printing precision, recall and F1 (go test -run TestLabelledAccuracy -v
// ./policies). Every element must reach F1 0.92.
func TestLabelledAccuracy(t *testing.T) {
	labels := loadLabelled(t)
	cat := catalogue(t)
	names := make([]string, 0, len(labels))
	for n := range labels {
		names = append(names, n)
	}
	sort.Strings(names)
	scores := map[string]*confusion{}
	clauses := map[string]*confusion{}
	// quoted counts, per element, the corpus documents where the reader and the label both say
	// present and the label has fragments (n), and those where the reader's quote contains one (ok).
	quoted := map[string]*struct{ ok, n int }{}
	for _, id := range ElementIDs {
		scores[id] = &confusion{}
		quoted[id] = &struct{ ok, n int }{}
	}
	for _, id := range clauseFamilies {
		clauses[id] = &confusion{}
	}
	var misses []string
	docs, typeOK, quotes, quoteOK, skipped := 0, 0, 0, 0, 0
	for _, name := range names {
		l := labels[name]
		file, data, ok := readLabelled(t, l)
		if !ok {
			skipped++
			continue
		}
		a, err := Analyze(file, data, "", cat)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		docs++
		if l.Document.Corpus != "" {
			// Fragments are copied from the text as it reads: tags and link targets out,
			// whitespace normalised.
			text := mdLink.ReplaceAllString(string(data), "$1")
			text = collapseSpace(htmlTag.ReplaceAllString(inlineTag.ReplaceAllString(text, ""), " "))
			for id, e := range l.Elements {
				for _, q := range e.Quote {
					if !quoteInText(collapseSpace(q), text) {
						t.Errorf("%s: %s: quote %q is not in %s", name, id, q, l.Document.Corpus)
					}
				}
			}
		}
		if a.DocType == l.DocType {
			typeOK++
		} else {
			misses = append(misses, fmt.Sprintf("TYPE %-50s want %s got %s (%s)", name, l.DocType, a.DocType, a.DocTypeReason))
			if l.DocType.IsPolicy() != a.DocType.IsPolicy() {
				t.Errorf("%s: doc_type %s, want %s (%s)", name, a.DocType, l.DocType, a.DocTypeReason)
			}
		}
		if l.DocType.IsPolicy() {
			for _, id := range ElementIDs {
				want, got := l.Elements[id], a.Elements[id]
				scores[id].add(want.Present, got.Present)
				switch {
				case want.Present && !got.Present:
					misses = append(misses, fmt.Sprintf("FN %-22s %-50s unclear=%v %q", id, name, got.Unclear, got.Quote))
				case !want.Present && got.Present:
					misses = append(misses, fmt.Sprintf("FP %-22s %-50s %q", id, name, got.Quote))
				case want.Present && got.Present && len(want.Quote) > 0:
					quotes++
					corpusDoc := l.Document.Corpus != ""
					if corpusDoc {
						quoted[id].n++
					}
					if want.Quote.matchedBy(got.Quote) {
						quoteOK++
						if corpusDoc {
							quoted[id].ok++
						}
					} else {
						misses = append(misses, fmt.Sprintf("QUOTE %-19s %-50s want %q got %q", id, name, []string(want.Quote), got.Quote))
					}
				}
			}
		}
		declared := map[string]bool{}
		for _, p := range a.PIDeclared {
			declared[p.PI] = true
		}
		for _, p := range l.PINotDeclared {
			if declared[p] {
				q := ""
				for _, d := range a.PIDeclared {
					if d.PI == p {
						q = d.Quote
					}
				}
				t.Errorf("%s: %s declared from %q; the label says the text does not declare it", name, p, q)
			}
		}
		for _, p := range l.PIDeclared {
			if !declared[p] {
				t.Errorf("%s: %s not read as declared", name, p)
			}
		}
		sdks := map[string]bool{}
		for _, s := range a.SDKsDeclared {
			sdks[s.SDK] = true
		}
		for _, s := range l.SDKsDeclared {
			if !sdks[s] {
				t.Errorf("%s: SDK %s not read as declared", name, s)
			}
		}
		if l.EffectiveDate != "" {
			got := a.UpdatedDate
			if got == "" || a.EffectiveDate > got {
				got = a.EffectiveDate
			}
			if got != l.EffectiveDate {
				t.Errorf("%s: date %q (effective %q, updated %q), want %s", name, got, a.EffectiveDate, a.UpdatedDate, l.EffectiveDate)
			}
		}
		if len(l.Clauses) > 0 {
			found := map[string]bool{}
			for _, o := range Observations(a, file, nil, "policies", "test") {
				if o.Kind == "policy.clause" {
					if c, ok := o.Attributes["clause"].(string); ok {
						found[c] = true
					}
				}
			}
			for _, id := range clauseFamilies {
				if want, ok := l.Clauses[id]; ok {
					clauses[id].add(want.Present, found[id])
				}
			}
		}
	}
	if docs == 0 {
		t.Skip("no labelled document readable")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d documents (%d corpus files absent); doc_type %d/%d; quotes %d/%d agree\n", docs, skipped, typeOK, docs, quoteOK, quotes)
	// quote: of the corpus documents where reader and label agree the element is present and the
	// label has fragments, how many reader quotes contain one (reported, not gated).
	fmt.Fprintf(&b, "%-22s %4s %4s %4s %4s %6s %6s %6s %9s %6s\n", "element", "tp", "fp", "fn", "tn", "prec", "recall", "f1", "c-quote", "c-qacc")
	for _, id := range ElementIDs {
		c, q := scores[id], quoted[id]
		fmt.Fprintf(&b, "%-22s %4d %4d %4d %4d %6.3f %6.3f %6.3f %9s %6.3f\n", id, c.tp, c.fp, c.fn, c.tn, c.precision(), c.recall(), c.f1(), fmt.Sprintf("%d/%d", q.ok, q.n), ratio(q.ok, q.n))
	}
	for _, id := range clauseFamilies {
		c := clauses[id]
		if c.tp+c.fp+c.fn+c.tn > 0 {
			fmt.Fprintf(&b, "clause %-15s %4d %4d %4d %4d %6.3f %6.3f %6.3f\n", id, c.tp, c.fp, c.fn, c.tn, c.precision(), c.recall(), c.f1())
		}
	}
	t.Logf("\n%s", b.String())
	if testing.Verbose() {
		sort.Strings(misses)
		t.Logf("mismatches:\n%s", strings.Join(misses, "\n"))
	}
	for _, id := range ElementIDs {
		if f := scores[id].f1(); f < elementF1Floor {
			t.Errorf("%s: F1 %.3f below %.2f", id, f, elementF1Floor)
		}
	}
}

// TestQuoteAlts: a label's quote is one string or a list; the reader's quote is right when it
// contains any one fragment, whitespace compared as single spaces.
func TestQuoteAlts(t *testing.T) {
	var one, many struct {
		Q quoteAlts `yaml:"quote"`
	}
	if err := yaml.Unmarshal([]byte(`quote: "保存期限"`), &one); err != nil || len(one.Q) != 1 || one.Q[0] != "保存期限" {
		t.Fatalf("string quote: %v %q", err, one.Q)
	}
	if err := yaml.Unmarshal([]byte(`quote: ["we retain", "kept for 30 days"]`), &many); err != nil || len(many.Q) != 2 {
		t.Fatalf("list quote: %v %q", err, many.Q)
	}
	var bad struct {
		Q quoteAlts `yaml:"quote"`
	}
	if err := yaml.Unmarshal([]byte("quote: {a: b}"), &bad); err == nil {
		t.Error("a mapping was accepted as a quote")
	}
	if err := yaml.Unmarshal([]byte("quote: [[a]]"), &bad); err == nil {
		t.Error("a nested list was accepted as a quote")
	}
	if !many.Q.matchedBy("Logs are kept for\n  30 days, then deleted.") {
		t.Error("second fragment across a line break not matched")
	}
	if many.Q.matchedBy("We keep logs for thirty days.") {
		t.Error("a quote with neither fragment matched")
	}
	if !(quoteAlts{"SDK名称 | 用途"}).matchedBy("<td>SDK名称</td><td>用途</td>") {
		t.Error("table-row fragment not matched against cells")
	}
	if (quoteAlts{""}).matchedBy("anything") {
		t.Error("an empty fragment matched")
	}
}
