package policies

import (
	"os"
	"path/filepath"
	"pilmon/internal/corpus"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestPrefilterLiterals(t *testing.T) {
	lits := func(expr string) []string {
		var out []string
		for _, l := range newPrefilter(expr).lits {
			out = append(out, l.s)
		}
		sort.Strings(out)
		return out
	}
	for expr, want := range map[string][]string{
		`注销.{0,6}(账号|账户)`:               {"注销"},
		`(查阅|访问|查询).{0,40}(更正|删除)`:      {"查询", "查阅", "访问"},
		`(?i)\bwithin\b.{0,20}days`:     {"within"},
		`(?i)\b(opt[- ]out|turn off)\b`: {"opt", "turn off"},
		`[A-Za-z0-9._%+-]+@[a-z]+`:      {"@"},
		`\d{4}年`:                        {"年"},
		`.*`:                            nil,
		`(a|.)b?`:                       nil,
		`(?i)keep|Store`:                {"keep", "store"},
	} {
		if got := lits(expr); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: literals %q, want %q", expr, got, want)
		}
	}
	// (?i)s also matches the long s and (?i)k the Kelvin sign.
	for _, s := range []string{"ſtore", "\u212Aeep"} {
		if !newPrefilter(`(?i)keep|store`).mayMatch(s, foldLower(s)) {
			t.Errorf("%q hidden by the prefilter", s)
		}
	}
}

// The prefilter may only skip sentences the regexp would not match: checked on every example
// sentence and, when ../shared is present, on every 8th sentence of the corpus (all of them take
// seconds: running every regexp on every sentence is exactly what the prefilter avoids).
func TestPrefilterNeverHidesAMatch(t *testing.T) {
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	var sentences []string
	for _, ep := range ps.elements {
		for _, lang := range []string{"zh", "en"} {
			sentences = append(sentences, ep.positive[lang]...)
			sentences = append(sentences, ep.negative[lang]...)
		}
	}
	root := filepath.Join(corpus.SharedDir(), "corpus", "policies")
	files, _ := filepath.Glob(filepath.Join(root, "*", "*"))
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		format := DetectFormat(f, "", data)
		text, _ := DecodeCharset(data, "", format)
		for _, line := range strings.Split(Extract(text, format).Text(), "\n") {
			for _, s := range splitSentences(line) {
				if n++; n%8 == 0 {
					sentences = append(sentences, s)
				}
			}
		}
	}
	checked := 0
	for _, ep := range ps.elements {
		for _, lang := range []string{"zh", "en"} {
			for i, re := range ep.res[lang] {
				pre := ep.pre[lang][i]
				for _, s := range sentences {
					if re.MatchString(s) && !pre.mayMatch(s, foldLower(s)) {
						t.Errorf("%s/%s %s: prefilter %v hides a match in %q", ep.id, lang, re, pre.lits, s)
					}
					checked++
				}
			}
		}
	}
	t.Logf("%d pattern × sentence pairs checked", checked)
}
