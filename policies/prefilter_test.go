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
	checked, exact := 0, 0
	for _, ep := range ps.elements {
		for _, lang := range []string{"zh", "en"} {
			for i, re := range ep.res[lang] {
				pre := ep.pre[lang][i]
				for _, s := range sentences {
					m, may := re.MatchString(s), pre.mayMatch(s, foldLower(s))
					if m && !may {
						t.Errorf("%s/%s %s: prefilter %v hides a match in %q", ep.id, lang, re, pre.lits, s)
					}
					if pre.exact && may != m {
						t.Errorf("%s/%s %s: exact prefilter %v says %v, the regexp %v on %q", ep.id, lang, re, pre.lits, may, m, s)
					}
					exact += b2i(pre.exact)
					checked++
				}
			}
		}
	}
	t.Logf("%d pattern × sentence pairs checked, %d with an exact prefilter", checked, exact)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// An exact prefilter is one whose literals are the whole pattern: its answer is the regexp's, on
// a match and on a miss; any other pattern keeps running its regexp.
func TestPrefilterExact(t *testing.T) {
	for expr, want := range map[string]bool{
		`(收集|获取|采集|读取)`: true, `收集`: true, `((收集)|使用)`: true,
		`(?i)keep|store`: false, `收集.*信息`: false, `(收集|获取)?`: false, `获(取|得)`: false, `\b(collect)\b`: false, `[收集]`: false,
	} {
		if got := newPrefilter(expr).exact; got != want {
			t.Errorf("%s: exact %v, want %v", expr, got, want)
		}
	}
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	sentences := []string{"我们会收集您的手机号码", "我们不会出售您的信息", "获得您的授权后", "您可以开启或关闭", "We collect your email", "", "收", "集"}
	for lang, f := range ps.collectF {
		for _, s := range sentences {
			sent := sentence{orig: s, text: s, lower: foldLower(s)}
			sent.setSigs()
			if got, want := f.matchSent(&sent), f.re.MatchString(s); got != want {
				t.Errorf("collect.%s on %q: %v, the regexp %v", lang, s, got, want)
			}
		}
	}
}
