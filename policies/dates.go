package policies

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// digitForms are the runes normDigits rewrites.
const digitForms = "０１２３４５６７８９【】〔〕［］．－／"

// hasDigitForms reports whether s holds one of the runes normDigits rewrites, all of them
// three-byte UTF-8 starting EF (full-width digits, ．－／［］) or E3 80 (【】〔〕): a byte scan, since
// every sentence of a policy is checked and strings.ContainsAny decodes every rune.
func hasDigitForms(s string) bool {
	// a continuation byte is never EF or E3, so every position holding one starts a rune (or is a
	// stray byte, after which strings.ContainsAny decodes the same rune)
	for i := 0; i+2 < len(s); i++ {
		switch s[i] {
		case 0xEF:
			if r, _ := utf8.DecodeRuneInString(s[i:]); strings.ContainsRune(digitForms, r) {
				return true
			}
		case 0xE3:
			if s[i+1] == 0x80 {
				switch s[i+2] {
				case 0x90, 0x91, 0x94, 0x95: // 【】〔〕
					return true
				}
			}
		}
	}
	return false
}

// normDigits rewrites full-width digits and punctuation of dates as ASCII and drops the brackets
// some policies put around the fields of a template date ("2021年【10】月【8】日"), so one set of
// patterns reads every form. It keeps the text otherwise as written.
func normDigits(s string) string {
	if !hasDigitForms(s) {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r >= '０' && r <= '９':
			b.WriteRune(r - '０' + '0')
		case r == '．':
			b.WriteByte('.')
		case r == '－':
			b.WriteByte('-')
		case r == '／':
			b.WriteByte('/')
		case strings.ContainsRune("【〔［", r) && i+1 < len(rs) && isDigitRune(rs[i+1]):
			// an opening bracket before a digit: dropped
		case strings.ContainsRune("】〕］", r) && i > 0 && isDigitRune(rs[i-1]):
			// a closing bracket after a digit: dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isDigitRune(r rune) bool { return (r >= '0' && r <= '9') || (r >= '０' && r <= '９') }

var (
	monthNames = map[string]int{"jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
		"may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "sept": 9, "september": 9,
		"oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12}
	monthAlt = `(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)`
	// Each form names its fields: y, m (number or name), d (optional); need is a cheap test
	// every match passes (most sentences with digits have no date).
	dateForms = []struct {
		re   *regexp.Regexp
		need func(string) bool
	}{
		{regexp.MustCompile(`(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月(?:\s*(?P<d>\d{1,2})\s*[日号])?`), func(s string) bool { return strings.Contains(s, "年") }},
		{regexp.MustCompile(`(?P<y>\d{4})\s*[-/.]\s*(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})\b`), func(s string) bool { return strings.ContainsAny(s, "-/.") }},
		{regexp.MustCompile(`(?i)\b(?P<m>` + monthAlt + `)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})\b`), hasLatin},
		{regexp.MustCompile(`(?i)\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m>` + monthAlt + `)\.?,?\s+(?P<y>\d{4})\b`), hasLatin},
		{regexp.MustCompile(`(?i)\b(?P<m>` + monthAlt + `)\.?,?\s+(?P<y>\d{4})\b`), hasLatin},
	}
	// The role a date plays, from the words before it in its sentence or table row.
	effectiveCue = regexp.MustCompile(`(?i)生效|施行|实施|起适用|effective|in effect|takes effect`)
	updatedCue   = regexp.MustCompile(`(?i)更新|修订|修改|版本|updated|revised|last modified|last changed|version`)
	publishedCue = regexp.MustCompile(`(?i)发布|公布|published|posted`)
)

// dateFound is a date read from a sentence, with its offset in the sentence.
type dateFound struct {
	t   time.Time
	at  int
	end int
}

// findDates returns the valid dates of s (already passed through normDigits) in text order.
func findDates(s string) []dateFound {
	if !strings.ContainsAny(s, "0123456789") {
		return nil // every form has digits: most sentences are done here
	}
	var out []dateFound
	taken := make([]bool, len(s)+1)
	for _, form := range dateForms {
		if !form.need(s) {
			continue
		}
		re := form.re
		for _, m := range re.FindAllStringSubmatchIndex(s, 8) {
			if taken[m[0]] {
				continue
			}
			var y, mo, d string
			for i, name := range re.SubexpNames() {
				if name == "" || m[2*i] < 0 {
					continue
				}
				v := s[m[2*i]:m[2*i+1]]
				switch name {
				case "y":
					y = v
				case "m":
					mo = v
				case "d":
					d = v
				}
			}
			t, ok := ymd(y, mo, d)
			if !ok {
				continue
			}
			for i := m[0]; i < m[1]; i++ {
				taken[i] = true
			}
			out = append(out, dateFound{t: t, at: m[0], end: m[1]})
		}
	}
	// text order
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].at < out[j-1].at; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func hasLatin(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c >= 'a' && c <= 'z' {
			return true
		}
	}
	return false
}

func ymd(y, m, d string) (time.Time, bool) {
	yi, err := strconv.Atoi(y)
	if err != nil {
		return time.Time{}, false
	}
	mi, err := strconv.Atoi(m)
	if err != nil {
		mi = monthNames[strings.ToLower(strings.TrimSuffix(m, "."))]
	}
	di := 1
	if d != "" {
		if di, err = strconv.Atoi(d); err != nil {
			return time.Time{}, false
		}
	}
	if yi < 1990 || yi > 2200 || mi < 1 || mi > 12 || di < 1 || di > 31 {
		return time.Time{}, false
	}
	t := time.Date(yi, time.Month(mi), di, 0, 0, 0, 0, time.UTC)
	if t.Day() != di {
		return time.Time{}, false // 2月30日
	}
	return t, true
}

// isoDate is the form the report and the observations carry: YYYY-MM-DD.
func isoDate(t time.Time) string { return fmt.Sprintf("%04d-%02d-%02d", t.Year(), t.Month(), t.Day()) }

// docDates reads the policy's own dates: the date of effect and the date of the last update
// (a date after 生效/effective, after 更新/修订/updated, or after 发布/published), from its
// sentences, table rows and footer. The first cued date of each role wins, except that a later
// update date replaces an earlier one ("2020年1月15日发布，最近更新于2023年07月01日").
func docDates(texts []string) (effective, updated string) {
	var eff, upd, pub time.Time
	for _, raw := range texts {
		s := normDigits(raw)
		ds := findDates(s)
		prev := 0
		for _, d := range ds {
			// The cue is the text before the date back to the previous date, or the words right
			// after it ("2020年12月29日生效").
			before := s[prev:d.at]
			after := s[d.end:min(len(s), d.end+12)]
			prev = d.end
			switch {
			case effectiveCue.MatchString(before) || effectiveCue.MatchString(leadWords(after)):
				if eff.IsZero() {
					eff = d.t
				}
			case updatedCue.MatchString(before) || updatedCue.MatchString(leadWords(after)):
				if d.t.After(upd) {
					upd = d.t
				}
			case publishedCue.MatchString(before) || publishedCue.MatchString(leadWords(after)):
				if pub.IsZero() {
					pub = d.t
				}
			}
		}
	}
	if eff.IsZero() {
		eff = pub
	}
	if !eff.IsZero() {
		effective = isoDate(eff)
	}
	if !upd.IsZero() {
		updated = isoDate(upd)
	}
	return effective, updated
}

// leadWords is the start of s up to the first sentence break.
func leadWords(s string) string {
	if i := strings.IndexAny(s, "，,。；;"); i >= 0 {
		return s[:i]
	}
	return s
}
