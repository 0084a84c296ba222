package policies

import (
	"os"
	"path/filepath"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
	"unicode"

	"gopkg.in/yaml.v3"
)

// condHolds derives pattern's literal condition and evaluates it on text.
func condHolds(pattern, text string) bool {
	lt := newLitTable()
	c := patternCond(lt, pattern)
	lt.index()
	set, _ := lt.scan(text)
	held := c.eval(set)
	if g := guard(regexp.MustCompile(pattern)); g.need.holds(func(id int) bool { return set.has(id) }) != held {
		panic("guard and scan disagree on " + pattern)
	}
	return held
}

// TestPatternCond: the condition rejects sentences without the literals a match needs, and never
// rejects one the pattern matches, through the constructs that make a literal optional or
// repeatable (a gap between two literals, ?, *, {0,n}, case folding).
func TestPatternCond(t *testing.T) {
	for _, c := range []struct {
		pattern, text string
		holds         bool
	}{
		{`(拒绝|不同意)[^。]{0,20}(无法|不能)使用`, "如您拒绝提供，将无法使用本产品", true},
		{`(拒绝|不同意)[^。]{0,20}(无法|不能)使用`, "如您拒绝提供，我们会通知您", false},
		{`(拒绝|不同意)[^。]{0,20}(无法|不能)使用`, "您可以随时使用本产品", false},
		// a gap between literals: the two must not be crossed into one literal
		{`(不同意|拒绝)[^。；;]{0,6}(请|应)(您|你)?(不要|勿|停止)使用`, "如您不同意，请不要使用本应用", true},
		{`A[^x]*B`, "A yy B", true},
		{`A(xy)*B`, "AB", true},
		{`A(xy)?B`, "AB", true},
		{`A(xy)?B`, "AxyB", true},
		{`A(xy)?B`, "AxB", false},
		{`继续(使用|访问)`, "继续访问", true},
		{`继续(使用|访问)`, "继续浏览", false},
		{`(?i)continue[sd]? to use`, "If you CONTINUE to Use the app", true},
		{`(?i)continue[sd]? to use`, "If you stop using the app", false},
		{`(?i)ſtop`, "STOP", true},
		{`(?i)(此|该)用途`, "该用途无法关闭", true},
		{`x+y{2,}`, "xxyy", true},
		{`x+yyz`, "xxyz", false},
		{`\bApp\b`, "本App", true},
		{`^(这|此)`, "此类信息", true},
		{`.*`, "", true},
		{`[^。]{0,3}`, "任何", true},
	} {
		re := regexp.MustCompile(c.pattern)
		if c.holds != condHolds(c.pattern, c.text) {
			t.Errorf("%s on %q: condition %v, want %v", c.pattern, c.text, !c.holds, c.holds)
		}
		if re.MatchString(c.text) && !condHolds(c.pattern, c.text) {
			t.Errorf("%s matches %q but its condition does not hold", c.pattern, c.text)
		}
	}
}

// TestClauseCondSound holds every clause pattern's condition to its regexp on every sentence the
// labelled sets and the rule examples hold: a condition that failed on a sentence the pattern
// matches would silently lose a clause.
func TestClauseCondSound(t *testing.T) {
	ds, err := loadClauses()
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string][]string{}
	for _, d := range ds {
		for lang, ss := range d.positive {
			texts[lang] = append(texts[lang], ss...)
		}
		for lang, ss := range d.negative {
			texts[lang] = append(texts[lang], ss...)
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "labelled-clauses", "*", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join("testdata", "labelled-clauses", "*.yaml"))
	for _, f := range append(files, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var l clauseLabels
		if err := yaml.Unmarshal(b, &l); err != nil || l.Text == "" {
			continue
		}
		for _, line := range strings.Split(l.Text, "\n") {
			texts[l.Language] = append(texts[l.Language], splitAtEnds(clauseEnds(line), line)...)
		}
	}
	eng := ds[0].eng
	matched := 0
	for lang, ss := range texts {
		lt := eng.lits[lang]
		for _, s := range ss {
			ct := eng.text(lang, s)
			for _, d := range ds {
				for _, sh := range d.shapes[lang] {
					for _, i := range sh.all {
						re := eng.res[i]
						if !re.MatchString(ct.s) {
							continue
						}
						matched++
						if c := patternCond(lt, re.String()); !c.eval(ct.set) {
							t.Errorf("%s (%s): %s matches %q but its condition does not hold", d.id, lang, re, s)
						}
					}
					all := true
					for _, i := range sh.all {
						all = all && eng.res[i].MatchString(ct.s)
					}
					if all && (!ct.cand[sh.sid] || !sh.need.eval(ct.set)) {
						t.Errorf("%s (%s): every pattern of a shape matches %q but the shape is not tried", d.id, lang, s)
					}
				}
			}
		}
	}
	if matched < 500 {
		t.Errorf("only %d pattern matches checked", matched)
	}
	t.Logf("%d pattern matches checked", matched)
}

// FuzzPatternCond: for any pattern and text, a match implies the condition.
func FuzzPatternCond(f *testing.F) {
	for _, s := range [][2]string{
		{`(拒绝|不同意)[^。]{0,20}(无法|不能)使用`, "如您拒绝提供，将无法使用本产品"},
		{`(?i)continue[sd]? to use`, "CONTINUE to USE"},
		{`A(xy)?B`, "AB"},
		{`a*b+c{0,2}d?`, "bd"},
		{`(?i)[ſs]top|K`, "ſTOP \u212a"},
		{`[a-c]{2}x`, "bcx"},
		{`(?:)|$`, ""},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		if len(pattern) > 200 || len(text) > 2000 {
			return
		}
		re, err := regexp.Compile(pattern)
		if err != nil {
			return
		}
		if re.MatchString(text) && !condHolds(re.String(), text) {
			t.Fatalf("%q matches %q but its condition does not hold", pattern, text)
		}
	})
}

// TestToSimplified: toSimplified is simplified.Replace, on sentences with and without traditional
// characters, and every key of the table starts with a rune its check looks at.
func TestToSimplified(t *testing.T) {
	for i := 0; i < len(simplifiedPairs); i += 2 {
		r := []rune(simplifiedPairs[i])[0]
		if r < 0x3400 || r >= 1<<16 {
			t.Errorf("key %q starts outside the checked range", simplifiedPairs[i])
		}
		if got := toSimplified("前" + simplifiedPairs[i] + "後"); got != simplified.Replace("前"+simplifiedPairs[i]+"後") {
			t.Errorf("%q: %q", simplifiedPairs[i], got)
		}
	}
	for _, s := range []string{"我们会收集您的个人信息", "繼續使用即視為同意", "", "abc", "個人資料"} {
		if got, want := toSimplified(s), simplified.Replace(s); got != want {
			t.Errorf("toSimplified(%q) = %q, want %q", s, got, want)
		}
	}
	if toSimplified("繼續") == "繼續" {
		t.Error("a traditional sentence was left as is")
	}
}

// TestAnaphorFirst: every opening anaphorOpens matches starts with a rune of anaphorFirst.
func TestAnaphorFirst(t *testing.T) {
	re, err := syntax.Parse(anaphorOpens.String(), syntax.Perl)
	if err != nil {
		t.Fatal(err)
	}
	re = re.Simplify()
	if re.Op != syntax.OpAlternate {
		t.Fatalf("anaphorOpens is not an alternation: %v", re.Op)
	}
	checked := 0
	for _, alt := range re.Sub {
		for _, s := range firstRunes(t, alt) {
			checked++
			if !strings.ContainsRune(anaphorFirst, s) {
				t.Errorf("an opening of %v starts with %q, not in anaphorFirst", alt, s)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d first runes listed", checked)
	}
	for _, c := range []struct {
		s    string
		want bool
	}{{"此类信息的收集是前提条件", true}, {"This processing is a condition", true}, {"我们收集此类信息", false}, {"您对此表示同意", true}} {
		if got := anaphorOpens.MatchString(c.s); got != c.want {
			t.Errorf("%q: %v", c.s, got)
		}
	}
}

// firstRunes lists the runes (both cases when folded) a match of re can start with, after the
// leading ^ of each alternative.
func firstRunes(t *testing.T, re *syntax.Regexp) []rune {
	switch re.Op {
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if sub.Op == syntax.OpBeginText || sub.Op == syntax.OpBeginLine {
				continue
			}
			if sub.Op == syntax.OpQuest || sub.Op == syntax.OpStar {
				// optional: its first runes and those of what follows
				rest := &syntax.Regexp{Op: syntax.OpConcat, Sub: re.Sub[1:]}
				for i := range re.Sub {
					if re.Sub[i] == sub {
						rest.Sub = re.Sub[i+1:]
					}
				}
				return append(firstRunes(t, sub.Sub[0]), firstRunes(t, rest)...)
			}
			return firstRunes(t, sub)
		}
	case syntax.OpCapture, syntax.OpPlus:
		return firstRunes(t, re.Sub[0])
	case syntax.OpAlternate:
		var out []rune
		for _, sub := range re.Sub {
			out = append(out, firstRunes(t, sub)...)
		}
		return out
	case syntax.OpLiteral:
		r := re.Rune[0]
		if re.Flags&syntax.FoldCase != 0 {
			return []rune{unicode.ToLower(r), unicode.ToUpper(r)}
		}
		return []rune{r}
	case syntax.OpCharClass:
		var out []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1] && len(out) < 64; r++ {
				out = append(out, r)
			}
		}
		return out
	}
	t.Fatalf("cannot list the first runes of %v (op %v)", re, re.Op)
	return nil
}
