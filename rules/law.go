package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Levels of legal instruments, highest first. A finding's legal basis keeps the rule's anchor first
// and orders the rest by level; recommended standards and platform rules are shown for reference
// only, and a draft for comment is never cited (a rule citing one is a load error).
const (
	LevelLaw                 = "law"
	LevelAdminRegulation     = "administrative_regulation"
	LevelDepartmentalRule    = "departmental_rule"
	LevelNormativeDocument   = "normative_document"
	LevelMandatoryStandard   = "mandatory_standard"
	LevelRecommendedStandard = "recommended_standard"
	LevelPlatformRule        = "platform_rule"
	LevelDraft               = "draft"
)

// Levels lists the known levels, highest first.
var Levels = []string{LevelLaw, LevelAdminRegulation, LevelDepartmentalRule, LevelNormativeDocument,
	LevelMandatoryStandard, LevelRecommendedStandard, LevelPlatformRule, LevelDraft}

var levelNames = map[string]Text{
	LevelLaw:                 {ZH: "法律", EN: "law"},
	LevelAdminRegulation:     {ZH: "行政法规", EN: "administrative regulation"},
	LevelDepartmentalRule:    {ZH: "部门规章", EN: "departmental rule"},
	LevelNormativeDocument:   {ZH: "规范性文件", EN: "normative document"},
	LevelMandatoryStandard:   {ZH: "强制性国家标准", EN: "mandatory national standard"},
	LevelRecommendedStandard: {ZH: "推荐性国家标准（参考）", EN: "recommended national standard (for reference)"},
	LevelPlatformRule:        {ZH: "平台规则（非法律）", EN: "platform rule (not law)"},
	LevelDraft:               {ZH: "征求意见稿（趋势，不作为依据）", EN: "draft for comment (a trend, never cited)"},
}

// LevelRank orders levels: 0 for law, higher for lower levels, len(Levels) for an unknown one.
func LevelRank(level string) int {
	if i := slices.Index(Levels, level); i >= 0 {
		return i
	}
	return len(Levels)
}

// LevelName names a level in zh or en.
func LevelName(level, lang string) string {
	t, ok := levelNames[level]
	if !ok {
		return level
	}
	if lang == "en" {
		return t.EN
	}
	return t.ZH
}

// IsStandard reports whether a level is a national standard (cited by clause, not article).
func IsStandard(level string) bool {
	return level == LevelMandatoryStandard || level == LevelRecommendedStandard
}

// DateLayout is the layout of the catalogue's dates.
const DateLayout = "2006-01-02"

// chinaTime is the zone the law's dates are in: an instrument in force "from 2026-01-01" is in
// force from midnight Beijing time.
var chinaTime = time.FixedZone("UTC+8", 8*3600)

func parseDate(s string) (time.Time, error) { return time.ParseInLocation(DateLayout, s, time.UTC) }

// lawDay is the calendar day in China of t, as midnight UTC of that date (comparable with parseDate).
func lawDay(t time.Time) time.Time {
	y, m, d := t.In(chinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// key is the article's key among its instrument's articles: "41", or "41@2017" for a versioned one.
func (a Article) key() string {
	if a.Version != "" {
		return a.No + "@" + a.Version
	}
	return a.No
}

// Label is "41" or "41 (2017)".
func (a Article) Label() string {
	if a.Version != "" {
		return a.No + " (" + a.Version + ")"
	}
	return a.No
}

// articleIndex finds the article a citation names. A citation without a version names the only
// article with that number; when several versions share it the citation must say which.
func (c *Catalogue) articleIndex(cit Citation) (int, bool) {
	m := c.articles[cit.Instrument]
	if cit.Version != "" {
		j, ok := m[cit.Article+"@"+cit.Version]
		return j, ok
	}
	if j, ok := m[cit.Article]; ok {
		return j, true
	}
	in, ok := c.instrByID[cit.Instrument]
	if !ok {
		return 0, false
	}
	found := -1
	for j, a := range c.instruments[in].Articles {
		if a.No == cit.Article {
			if found >= 0 {
				return 0, false // ambiguous: the citation must name the version
			}
			found = j
		}
	}
	return found, found >= 0
}

// Span returns the instrument's in-force interval: from its effective date to the day before it
// was repealed or superseded (to is zero while in force). ok is false for a draft or an
// instrument without a valid effective date.
func (in Instrument) Span() (from, to time.Time, ok bool) {
	if in.Level == LevelDraft {
		return time.Time{}, time.Time{}, false
	}
	from, err := parseDate(in.Effective)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	for _, s := range []string{in.Repealed, in.Superseded} {
		if d, err := parseDate(s); err == nil && (to.IsZero() || d.AddDate(0, 0, -1).Before(to)) {
			to = d.AddDate(0, 0, -1)
		}
	}
	return from, to, true
}

// ArticleSpan returns an article's in-force interval: its own in_force, defaulting to the
// instrument's. ok is false for a draft's articles.
func ArticleSpan(in Instrument, a Article) (from, to time.Time, ok bool) {
	from, to, ok = in.Span()
	if !ok {
		return from, to, false
	}
	if a.InForce != nil {
		if d, err := parseDate(a.InForce.From); err == nil {
			from = d
		}
		if d, err := parseDate(a.InForce.To); err == nil {
			to = d
		}
	}
	return from, to, true
}

func spanHolds(from, to, day time.Time) bool {
	return !day.Before(from) && (to.IsZero() || !day.After(to))
}

// lineage returns the indexes of the versions of article j of instrument in: those it replaces
// and those that replace it, transitively.
func lineage(in Instrument, j int) []int {
	out := []int{j}
	for i := 0; i < len(out); i++ {
		cur := in.Articles[out[i]]
		for k, a := range in.Articles {
			if slices.Contains(out, k) {
				continue
			}
			if cur.Replaces == a.key() || a.Replaces == cur.key() {
				out = append(out, k)
			}
		}
	}
	return out
}

// InForceAt resolves a citation at time t: the cited article if it is in force on t's day (in
// China), otherwise the version of it (by renumbering) that is. The result carries the version and
// the instrument's level. ok is false when the instrument is a draft, not yet or no longer in force,
// or no version of the article is in force.
func (c *Catalogue) InForceAt(cit Citation, t time.Time) (Citation, bool) {
	ii, ok := c.instrByID[cit.Instrument]
	if !ok {
		return cit, false
	}
	in := c.instruments[ii]
	j, ok := c.articleIndex(cit)
	if !ok {
		return cit, false
	}
	day := lawDay(t)
	for _, k := range lineage(in, j) {
		a := in.Articles[k]
		if from, to, ok := ArticleSpan(in, a); ok && spanHolds(from, to, day) {
			return Citation{Instrument: in.ID, Article: a.No, Version: a.Version, Level: in.Level}, true
		}
	}
	return cit, false
}

// BasisAt returns the legal basis of a finding at t: each citation resolved to the article in
// force (InForceAt), those not in force dropped, duplicates removed, the anchor (the first
// citation) first and the rest ordered by level, law first. anchorInForce is false when the
// anchor is not in force at t: a finding may not be pleaded on it.
func (c *Catalogue) BasisAt(basis []Citation, t time.Time) (out, dropped []Citation, anchorInForce bool) {
	seen := map[Citation]bool{}
	for i, cit := range basis {
		r, ok := c.InForceAt(cit, t)
		if !ok {
			dropped = append(dropped, cit)
			continue
		}
		if i == 0 {
			anchorInForce = true
		}
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	if anchorInForce && len(out) > 1 {
		rest := out[1:]
		slices.SortStableFunc(rest, func(a, b Citation) int { return LevelRank(a.Level) - LevelRank(b.Level) })
	}
	return out, dropped, anchorInForce
}

// CiteLabel formats a citation for people, in zh or en: 《中华人民共和国个人信息保护法》第17条,
// 《中华人民共和国网络安全法》第43条（2026年版）, "PIPL, Art. 17", "…, cl. 5.3 (for reference)". A
// recommended standard is labelled 参考 / for reference, a platform rule 平台规则 / platform rule,
// a draft 征求意见稿 / draft. It is the one place citations are formatted: the rules doc, the
// dashboard and the case file use it.
func (c *Catalogue) CiteLabel(cit Citation, lang string) string {
	en := lang == "en"
	in, ok := c.Instrument(cit.Instrument)
	if !ok {
		return cit.String()
	}
	title := in.Title.ZH
	if en && in.Title.EN != "" {
		title = in.Title.EN
	}
	std := IsStandard(in.Level)
	if std && in.DocNo != "" && !strings.Contains(title, in.DocNo) {
		title += " (" + in.DocNo + ")"
	}
	numeric := cit.Article != "" && strings.Trim(cit.Article, "0123456789") == ""
	var s string
	switch {
	case en && std:
		s = fmt.Sprintf("%s, cl. %s", title, cit.Article)
	case en && numeric:
		s = fmt.Sprintf("%s, Art. %s", title, cit.Article)
	case en:
		s = fmt.Sprintf("%s, item %s", title, cit.Article)
	case numeric && !std:
		s = fmt.Sprintf("《%s》第%s条", title, cit.Article)
	default:
		s = fmt.Sprintf("《%s》%s", title, cit.Article)
	}
	if cit.Version != "" {
		if en {
			s += " (" + cit.Version + " text)"
		} else {
			s += "（" + cit.Version + "年文本）"
		}
	}
	switch in.Level {
	case LevelRecommendedStandard:
		s += pick(en, "（参考）", " (for reference)")
	case LevelPlatformRule:
		s += pick(en, "（平台规则）", " (platform rule)")
	case LevelDraft:
		s += pick(en, "（征求意见稿，不作为依据）", " (draft, not law)")
	}
	return s
}

// SpanLabel says when an instrument or article is in force: "2021-11-01 起" / "from 2021-11-01",
// "2017-06-01 至 2025-12-31" / "2017-06-01 to 2025-12-31", or that a draft is not in force.
func SpanLabel(from, to time.Time, ok bool, lang string) string {
	en := lang == "en"
	switch {
	case !ok:
		return pick(en, "未生效", "not in force")
	case to.IsZero():
		return pick(en, from.Format(DateLayout)+" 起施行", "in force from "+from.Format(DateLayout))
	}
	return pick(en, from.Format(DateLayout)+" 至 "+to.Format(DateLayout), "in force "+from.Format(DateLayout)+" to "+to.Format(DateLayout))
}

func pick(en bool, zh, enText string) string {
	if en {
		return enText
	}
	return zh
}
