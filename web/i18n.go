package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // Asia/Shanghai without relying on the host's zoneinfo

	"pilmon/accounts"
	"pilmon/findings"
	"pilmon/rules"
)

// Every user-facing string of the dashboard lives in these catalogues; templates hold keys only
// (a test checks that no Chinese or English words are written in a template and that both
// catalogues have the same keys).
//
//go:embed i18n/*.json
var catalogueFS embed.FS

// Languages: zh-CN is the default, en the second language.
const (
	LangZH = "zh-CN"
	LangEN = "en"
)

// Shanghai is the zone every date is shown in.
var Shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// Lang renders messages, bilingual catalogue texts, dates and numbers in one language.
type Lang struct {
	Code string
	msgs map[string]string
}

type langs map[string]*Lang

func loadLangs() (langs, error) {
	out := langs{}
	for _, code := range []string{LangZH, LangEN} {
		b, err := catalogueFS.ReadFile("i18n/" + code + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("i18n/%s.json: %w", code, err)
		}
		out[code] = &Lang{Code: code, msgs: m}
	}
	return out, nil
}

func (ls langs) get(code string) *Lang {
	if l, ok := ls[code]; ok {
		return l
	}
	return ls[LangZH]
}

// T returns the message for key, formatted with args (fmt verbs). A missing key shows as
// ⟦key⟧ so that it is seen and fixed, never silently blank.
func (l *Lang) T(key string, args ...any) string {
	s, ok := l.msgs[key]
	if !ok {
		return "⟦" + key + "⟧"
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Has reports whether key is in the catalogue.
func (l *Lang) Has(key string) bool { _, ok := l.msgs[key]; return ok }

// Text picks the language of a bilingual catalogue text, falling back to the other one.
func (l *Lang) Text(t rules.Text) string {
	if l.Code == LangEN && t.EN != "" {
		return t.EN
	}
	if t.ZH != "" {
		return t.ZH
	}
	return t.EN
}

// Date formats t in Asia/Shanghai, to the second, with the zone named (北京时间 / UTC+8): the
// one helper every time on the dashboard goes through.
func (l *Lang) Date(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(Shanghai).Format("2006-01-02 15:04:05") + " " + l.T("time.zone")
}

// Day formats t's date in Asia/Shanghai.
func (l *Lang) Day(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(Shanghai).Format("2006-01-02")
}

// State names a triage state.
func (l *Lang) State(s findings.State) string { return l.Text(s.Label()) }

// Severity names a severity.
func (l *Lang) Severity(s rules.Severity) string {
	if k := "severity." + string(s); l.Has(k) {
		return l.T(k)
	}
	return string(s)
}

// Tier names a tier: 认定事实 (the record establishes what its title states) or 待核实线索 (it
// needs confirmation); "—" for records from before tiers.
func (l *Lang) Tier(t string) string {
	if k := "tier." + t; t != "" && l.Has(k) {
		return l.T(k)
	}
	return "—"
}

// Grade names what a record's evidence establishes.
func (l *Lang) Grade(g string) string {
	if k := "grade." + g; g != "" && l.Has(k) {
		return l.T(k)
	}
	return "—"
}

// Confidence names how strongly a record's observations support it (high, medium, low).
func (l *Lang) Confidence(c string) string {
	if k := "confidence." + c; c != "" && l.Has(k) {
		return l.T(k)
	}
	return c
}

// Role names a role.
func (l *Lang) Role(r accounts.Role) string {
	if k := "role." + string(r); l.Has(k) {
		return l.T(k)
	}
	return string(r)
}

// N formats an integer with thousands separators.
func (l *Lang) N(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Other is the language the switch offers.
func (l *Lang) Other() string {
	if l.Code == LangEN {
		return LangZH
	}
	return LangEN
}
