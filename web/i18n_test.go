package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

func TestCataloguesMatch(t *testing.T) {
	ls, err := loadLangs()
	if err != nil {
		t.Fatal(err)
	}
	zh, en := ls[LangZH], ls[LangEN]
	for k, v := range zh.msgs {
		if _, ok := en.msgs[k]; !ok {
			t.Errorf("key %q in zh-CN but not in en", k)
		}
		if strings.TrimSpace(v) == "" {
			t.Errorf("zh-CN %q is empty", k)
		}
		if strings.Count(v, "%") != strings.Count(en.msgs[k], "%") {
			t.Errorf("key %q: zh-CN and en take different arguments: %q / %q", k, v, en.msgs[k])
		}
	}
	for k := range en.msgs {
		if _, ok := zh.msgs[k]; !ok {
			t.Errorf("key %q in en but not in zh-CN", k)
		}
	}
}

var (
	actionRE   = regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	keyRE      = regexp.MustCompile(`\.T "([a-z0-9_.]+)"`)
	tagRE      = regexp.MustCompile(`(?s)<[^>]*>`)
	userAttrRE = regexp.MustCompile(`(?i)\b(placeholder|title|alt|aria-label)="([^"]*)"`)
)

// TestTemplatesHaveNoLiterals checks that every user-facing string in a template comes from the
// catalogues: text between tags and user-facing attributes may hold template actions and
// punctuation, never words; every key a template names exists.
func TestTemplatesHaveNoLiterals(t *testing.T) {
	ls, err := loadLangs()
	if err != nil {
		t.Fatal(err)
	}
	names, _ := fs.Glob(templateFS, "templates/*.html")
	if len(names) < 10 {
		t.Fatalf("%d templates", len(names))
	}
	for _, n := range names {
		b, _ := templateFS.ReadFile(n)
		src := string(b)
		for _, m := range keyRE.FindAllStringSubmatch(src, -1) {
			if !ls[LangZH].Has(m[1]) {
				t.Errorf("%s: key %q not in the catalogues", n, m[1])
			}
		}
		for _, m := range userAttrRE.FindAllStringSubmatch(actionRE.ReplaceAllString(src, ""), -1) {
			if hasWords(m[2]) {
				t.Errorf("%s: literal %s=%q", n, m[1], m[2])
			}
		}
		text := tagRE.ReplaceAllString(actionRE.ReplaceAllString(src, " "), " ")
		if hasWords(text) {
			t.Errorf("%s: literal text %q", n, strings.Join(strings.Fields(text), " "))
		}
	}
}

func hasWords(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}
