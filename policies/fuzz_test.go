package policies

import (
	"os"
	"testing"
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
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		a, err := Analyze(name, data, "", fixedCatalogue{})
		if err != nil {
			t.Fatal(err)
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
