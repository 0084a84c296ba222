package policies

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzExtract(f *testing.F) {
	if d, err := os.ReadFile("testdata/zh_policy.html"); err == nil {
		f.Add(string(d))
	}
	for _, s := range []string{"<h1>一、总则</h1><p>（一）x</p><table><tr><td>a<td>b</table>", "<pre>1\\.\n我们\n==========\n</pre>", "<div><div><p>x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fm := range []Format{FormatHTML, FormatMarkdown, FormatText} {
			doc := Extract(s, fm)
			for _, sec := range doc.Sections {
				if !utf8.ValidString(sec.Heading) && utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 heading from valid input")
				}
			}
		}
	})
}

func FuzzAnalyze(f *testing.F) {
	if d, err := os.ReadFile("testdata/en_policy.md"); err == nil {
		f.Add(d, "en_policy.md")
	}
	f.Add([]byte("我们会收集您的手机号码。联系我们：a@b.cn"), "x.txt")
	f.Add([]byte("<meta charset=gbk><p>\xce\xd2\xc3\xc7</p>"), "x.html")
	f.Add([]byte(`{"log": {"entries": [`), "x.har")
	f.Add([]byte("生效时间：2021年【10】月【8】日 ｜ 更新于２０２２．３．１"), "d.txt")
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		a, err := Analyze(name, data, "", fixedCatalogue{})
		if errors.Is(err, ErrNotText) {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("refusal does not name the input: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{a.EffectiveDate, a.UpdatedDate} {
			if d != "" && len(d) != len("2006-01-02") {
				t.Fatalf("date %q not YYYY-MM-DD", d)
			}
		}
		if _, err := a.JSON(); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzDecodeCharset(f *testing.F) {
	f.Add([]byte("<meta charset=\"gbk\">\xc4\xe3\xba\xc3"), "")
	f.Add([]byte("\xff\xfeh\x00i\x00"), "text/plain; charset=utf-16")
	f.Add([]byte("\xa7\x41\xa6\x6e"), "")
	f.Fuzz(func(t *testing.T, data []byte, ct string) {
		for _, fm := range []Format{FormatHTML, FormatText} {
			out, cs := DecodeCharset(data, ct, fm)
			if !utf8.ValidString(out) || cs == "" {
				t.Fatalf("invalid output or no charset name: %q", cs)
			}
		}
	})
}

// FuzzClassify: any text classifies to a known type with a reason, from any format.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"# 用户服务协议\n本协议", "<h1>儿童个人信息保护规则</h1>", "| SDK名称 | 公司 |\n|---|---|\n| a | b |", "本隐私权政策 本政策", "", "<title>x.txt</title><p>Terms of Service</p>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fm := range []Format{FormatHTML, FormatMarkdown, FormatText} {
			a, err := AnalyzeDocument(Extract(s, fm), fixedCatalogue{})
			if err != nil {
				t.Fatal(err)
			}
			switch a.DocType {
			case DocPrivacyPolicy, DocChildrenPolicy, DocSDKList, DocPermissionList, DocTermsOfService, DocOther:
			default:
				t.Fatalf("unknown doc type %q", a.DocType)
			}
			if a.DocTypeReason == "" || a.IsPrivacyPolicy != a.DocType.IsPolicy() {
				t.Fatalf("type %s reason %q is_privacy_policy %v", a.DocType, a.DocTypeReason, a.IsPrivacyPolicy)
			}
		}
	})
}

// FuzzSentenceEnds holds the hand-written sentence and clause splitters to the regexps they replace.
func FuzzSentenceEnds(f *testing.F) {
	for _, s := range []string{"", ".", "a.", "a. b", "e.g. x", "一。二！！三？；", "a.b", "x.\t\n y", "。.", "..", ". .",
		"\xe3\x80", "a\xff.", "末尾.", "v1.2.3", "!?;", "一；二。三", "a;b!c", "a.\v", "。\x00.", "Inc. Ltd. Co.", "a.\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []struct {
			name string
			got  [][]int
			re   *regexp.Regexp
		}{{"sentenceEnds", sentenceEnds(s), sentenceEnd}, {"clauseEnds", clauseEnds(s), clauseEnd}} {
			got, want := c.got, c.re.FindAllStringIndex(s, -1)
			if len(got) != len(want) {
				t.Fatalf("%s(%q): %v, regexp %v", c.name, s, got, want)
			}
			for i := range got {
				if got[i][0] != want[i][0] || got[i][1] != want[i][1] {
					t.Fatalf("%s(%q): %v, regexp %v", c.name, s, got, want)
				}
			}
		}
	})
}

// FuzzDigitForms holds the byte scan of hasDigitForms to strings.ContainsAny.
func FuzzDigitForms(f *testing.F) {
	for _, s := range []string{"", "２０２１年", "【10】月", "。、", "\xef\xe3\x80\x90", "\xe3\x80", "〔", "ａ", "2021．10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := hasDigitForms(s), strings.ContainsAny(s, digitForms); got != want {
			t.Fatalf("hasDigitForms(%q) = %v, strings.ContainsAny %v", s, got, want)
		}
	})
}

// FuzzNumbering holds numbering's first-rune check to the numbering regexps alone.
func FuzzNumbering(f *testing.F) {
	for _, s := range []string{"第一章 总则", "第3条", "一、引言", "（二）", "(3)", "1.2.3 标题", "12、", "１．", "十一、", "我们", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		num, lvl, rest := numbering(s)
		wnum, wlvl, wrest := "", 0, s
		for _, n := range numberings {
			if m := n.re.FindStringSubmatchIndex(s); m != nil {
				wnum, wlvl, wrest = s[m[2]:m[3]], n.level, strings.TrimSpace(s[m[1]:])
				if n.level == 3 && strings.Count(wnum, ".")+strings.Count(wnum, "．") > 1 {
					wlvl = 3 + strings.Count(strings.TrimRight(wnum, ".．"), ".") - 1
				}
				break
			}
		}
		if num != wnum || lvl != wlvl || rest != wrest {
			t.Fatalf("numbering(%q) = %q %d %q, regexps %q %d %q", s, num, lvl, rest, wnum, wlvl, wrest)
		}
	})
}

// FuzzCollapse holds collapse to the rune-by-rune reading it replaces.
func FuzzCollapse(f *testing.F) {
	for _, s := range []string{"", " a  b ", "一\u3000二\u00a0三\u200b四\ufeff五", "\xff x \xfe", "a\t\n\r\v\fb", "\u2028\u0085x", strings.Repeat("字 ", 10)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		space := false
		for _, r := range s {
			if unicode.IsSpace(r) || r == '\u00a0' || r == '\u3000' || r == '\u200b' || r == '\ufeff' {
				space = true
				continue
			}
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
		want := b.String()
		if utf8.RuneCountInString(want) > maxBlockRunes {
			want = string([]rune(want)[:maxBlockRunes])
		}
		if got := collapse(s); got != want {
			t.Fatalf("collapse(%q) = %q, want %q", s, got, want)
		}
	})
}
