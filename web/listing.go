package web

import (
	"context"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v5"

	"pilmon/findings"
	"pilmon/listindex"
	"pilmon/rules"
)

// Filter is the findings list's query: every field is optional. It round-trips through the URL
// query so that a filtered page can be bookmarked and shared.
type Filter struct {
	State     string
	Severity  string
	Tier      string // "finding" | "lead"
	Rule      string
	Basis     string // citation, e.g. "pipl:17"
	Target    string
	Category  string // app category key (through the target registry)
	SDK       string
	FirstFrom string // YYYY-MM-DD, Asia/Shanghai
	FirstTo   string
	LastFrom  string
	LastTo    string
	Q         string
	// Deadline filters by the deadline of the finding's cases: a status, attention (overdue or
	// due soon) or none (see findingdeadlines.go).
	Deadline string
	Sort     string // "" (severity, then last seen), "last_seen", "first_seen", "deadline"
	Asc      bool
	Page     int // from 1
	Per      int
}

const (
	defaultPer = 50
	maxPer     = 200
	maxQLen    = 200
)

// parseFilter reads a Filter from the query string, dropping values that cannot be valid.
func parseFilter(c *echo.Context) Filter {
	q := c.QueryParam
	f := Filter{
		State: q("state"), Severity: q("severity"), Tier: q("tier"), Rule: q("rule"), Basis: q("basis"), Target: q("target"),
		Category: q("category"), SDK: q("sdk"), FirstFrom: q("first_from"), FirstTo: q("first_to"),
		LastFrom: q("last_from"), LastTo: q("last_to"), Q: strings.TrimSpace(q("q")), Sort: q("sort"), Deadline: q("deadline"),
		Asc: q("dir") == "asc",
	}
	if !findings.State(f.State).Valid() {
		f.State = ""
	}
	if findings.SeverityRank(rules.Severity(f.Severity)) == 0 {
		f.Severity = ""
	}
	if rules.TierRank(f.Tier) == 0 {
		f.Tier = ""
	}
	for _, p := range []*string{&f.Rule, &f.SDK, &f.Category} {
		if *p != "" && !ruleRE.MatchString(*p) {
			*p = ""
		}
	}
	if f.Target != "" && !idRE.MatchString(f.Target) {
		f.Target = ""
	}
	if f.Basis != "" && (len(f.Basis) > 64 || !strings.Contains(f.Basis, ":")) {
		f.Basis = ""
	}
	for _, p := range []*string{&f.FirstFrom, &f.FirstTo, &f.LastFrom, &f.LastTo} {
		if _, err := time.Parse(time.DateOnly, *p); err != nil {
			*p = ""
		}
	}
	if len(f.Q) > maxQLen {
		f.Q = f.Q[:maxQLen]
	}
	if f.Sort != "last_seen" && f.Sort != "first_seen" && f.Sort != "deadline" {
		f.Sort = ""
	}
	if !slices.Contains(deadlineFilters, f.Deadline) {
		f.Deadline = ""
	}
	f.Page, _ = strconv.Atoi(q("page"))
	f.Page = max(f.Page, 1)
	f.Per, _ = strconv.Atoi(q("per"))
	if f.Per <= 0 {
		f.Per = defaultPer
	}
	f.Per = min(f.Per, maxPer)
	return f
}

// Values encodes the filter as a URL query (page omitted when 1).
func (f Filter) Values() url.Values {
	v := url.Values{}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("state", f.State)
	set("severity", f.Severity)
	set("tier", f.Tier)
	set("rule", f.Rule)
	set("basis", f.Basis)
	set("target", f.Target)
	set("category", f.Category)
	set("sdk", f.SDK)
	set("first_from", f.FirstFrom)
	set("first_to", f.FirstTo)
	set("last_from", f.LastFrom)
	set("last_to", f.LastTo)
	set("q", f.Q)
	set("deadline", f.Deadline)
	set("sort", f.Sort)
	if f.Asc {
		v.Set("dir", "asc")
	}
	if f.Per != defaultPer {
		v.Set("per", strconv.Itoa(f.Per))
	}
	if f.Page > 1 {
		v.Set("page", strconv.Itoa(f.Page))
	}
	return v
}

// PageURL is the list URL of the same filter on another page.
func (f Filter) PageURL(page int) string {
	f.Page = page
	return "/findings?" + f.Values().Encode()
}

// SortURL is the list URL sorted by key; choosing the current key flips the direction.
func (f Filter) SortURL(key string) string {
	if f.Sort == key {
		f.Asc = !f.Asc
	} else {
		f.Sort, f.Asc = key, false
	}
	f.Page = 1
	return "/findings?" + f.Values().Encode()
}

// Active reports whether any filter (not paging or sorting) is set.
func (f Filter) Active() bool {
	g := f
	g.Sort, g.Asc, g.Page, g.Per = "", false, 0, 0
	return g != Filter{}
}

type listResult struct {
	Items []findings.Finding
	Total int64
	Pages int
	// Deadlines are the deadlines of the findings in cases (findingDeadlines), by fingerprint.
	Deadlines map[string]findingDeadline
}

// dayRange turns a from/to pair of Shanghai dates into Unix-millisecond bounds [lo, hi); an empty
// side is open.
func dayRange(from, to string) (int64, int64) {
	lo, hi := listindex.AnyTime()
	if t, err := time.ParseInLocation(time.DateOnly, from, Shanghai); err == nil {
		lo = t.UnixMilli()
	}
	if t, err := time.ParseInLocation(time.DateOnly, to, Shanghai); err == nil {
		hi = t.AddDate(0, 0, 1).UnixMilli()
	}
	return lo, hi
}

// query resolves the filter into a query on the list index. An app category or a text search
// needs the target registry (names, categories); nothing else leaves memory.
func (s *Server) query(ctx context.Context, f Filter) (listindex.Query, error) {
	q := listindex.Query{State: f.State, Rule: f.Rule, Target: f.Target, Basis: f.Basis, SDK: f.SDK,
		Sev: findings.SeverityRank(rules.Severity(f.Severity)), Tier: f.Tier, Asc: f.Asc,
		Off: (f.Page - 1) * f.Per, Lim: f.Per}
	switch f.Sort {
	case "first_seen":
		q.Sort = listindex.SortFirst
	case "last_seen":
		q.Sort = listindex.SortLast
	}
	q.FirstLo, q.FirstHi = dayRange(f.FirstFrom, f.FirstTo)
	q.LastLo, q.LastHi = dayRange(f.LastFrom, f.LastTo)
	if f.Category == "" && f.Q == "" {
		return q, nil
	}
	dir, err := s.targetsView(ctx)
	if err != nil {
		return q, err
	}
	if f.Category != "" {
		q.Targets = map[string]bool{}
		if dir.ver >= 0 {
			q.TargetsKey = f.Category + "\x00" + strconv.FormatInt(dir.ver, 10)
		}
		for _, t := range dir.ts {
			if t.Category == f.Category {
				q.Targets[t.ID] = true
			}
		}
	}
	if f.Q != "" {
		q.Text, q.TextRules, q.TextTargets = f.Q, s.rulesMatching(f.Q), map[string]bool{}
		lq := strings.ToLower(f.Q)
		for i, t := range dir.ts {
			if strings.Contains(dir.low[i], lq) {
				q.TextTargets[t.ID] = true
			}
		}
		if q.TextFingerprints, err = s.caseFindingsMatching(ctx, f.Q); err != nil {
			return q, err
		}
	}
	return q, nil
}

// caseFindingsMatching returns the findings of the cases whose case number or a registered
// document's number (检察建议书, 回复, 诉前公告 …) contains q: prosecutors search by the numbers
// they file under. Only queries long enough to be a number part are looked up.
func (s *Server) caseFindingsMatching(ctx context.Context, q string) (map[string]bool, error) {
	if utf8.RuneCountInString(q) < 2 {
		return nil, nil
	}
	all, err := s.st.Cases(ctx)
	if err != nil {
		return nil, err
	}
	var out map[string]bool
	for _, c := range all {
		hit := strings.Contains(c.CaseNo, q)
		for _, d := range c.Documents {
			hit = hit || (d.Number != "" && strings.Contains(d.Number, q))
		}
		if !hit {
			continue
		}
		if out == nil {
			out = map[string]bool{}
		}
		for _, fp := range c.Fingerprints() {
			out[fp] = true
		}
	}
	return out, nil
}

// rulesMatching returns the ids of rules whose id or title contains q.
func (s *Server) rulesMatching(q string) map[string]bool {
	s.ruleTextOnce.Do(func() {
		for _, v := range s.cat.Violations() {
			s.ruleText = append(s.ruleText, [3]string{v.ID, strings.ToLower(v.ID) + "\x00" + strings.ToLower(v.Title.EN), v.Title.ZH})
		}
	})
	lq := strings.ToLower(q)
	out := map[string]bool{}
	for _, r := range s.ruleText {
		if strings.Contains(r[1], lq) || strings.Contains(r[2], q) {
			out[r[0]] = true
		}
	}
	return out
}

// list answers the filter from the in-memory list index (package listindex), after applying every change
// the store's feed has since the index last looked (read with the session when the page is one
// of listsFindings, else here).
func (s *Server) list(ctx context.Context, l *Lang, f Filter) (listResult, error) {
	q, err := s.query(ctx, f)
	if err != nil {
		return listResult{}, err
	}
	dls, err := s.findingDeadlines(ctx, l, s.now())
	if err != nil {
		return listResult{}, err
	}
	deadlineQuery(&q, f.Deadline, dls)
	if err := s.idx.EnsureFresh(ctx); err != nil {
		return listResult{}, err
	}
	var total int
	var page []*listindex.Entry
	if f.Sort == "deadline" {
		total, page = sortedByDeadline(s.idx.Snapshot(), q, dls)
	} else {
		total, page = s.idx.Snapshot().Query(q)
	}
	return listResult{Items: listindex.Rows(page), Total: int64(total), Pages: (total + f.Per - 1) / f.Per, Deadlines: dls}, nil
}

// filterOptions are the choices the filter form offers, refreshed at most every 10 s. The long
// lists (rules, legal bases, targets, categories, SDKs) are escaped once per refresh and language,
// so a list page does not run the template engine over several hundred options.
type filterOptions struct {
	byLang map[string]optionLists
}

type optionLists struct {
	Rules, Bases, Targets, Categories, SDKs []option
	// none is each list rendered with nothing selected (the usual case), in the order above.
	none [5]template.HTML
}

// render writes list i (see none) with value selected marked.
func (ol optionLists) render(i int, selected string) template.HTML {
	if selected == "" && ol.none[i] != "" {
		return ol.none[i]
	}
	return renderOptions([][]option{ol.Rules, ol.Bases, ol.Targets, ol.Categories, ol.SDKs}[i], selected)
}

// option is one <option>: raw is the value as submitted, value and label are already escaped.
type option struct{ raw, value, label string }

func newOption(raw, label string) option {
	return option{raw: raw, value: template.HTMLEscapeString(raw), label: template.HTMLEscapeString(label)}
}

// renderOptions writes the options, marking the selected one. Everything in them was escaped by
// newOption; nothing else is written.
func renderOptions(opts []option, selected string) template.HTML {
	var b strings.Builder
	b.Grow(len(opts) * 64)
	for _, o := range opts {
		b.WriteString(`<option value="`)
		b.WriteString(o.value)
		b.WriteByte('"')
		if o.raw == selected {
			b.WriteString(" selected")
		}
		b.WriteByte('>')
		b.WriteString(o.label)
		b.WriteString("</option>")
	}
	return template.HTML(b.String())
}

// filterOptions returns the cached lists; a stale cache is refreshed in the background so that no
// request waits for it (only the very first one builds them).
func (s *Server) filterOptions(ctx context.Context, l *Lang) optionLists {
	s.optsMu.Lock()
	o, at, busy := s.opts, s.optsTime, s.optsBusy
	stale := time.Since(at) >= 10*time.Second
	if o.byLang != nil && stale && !busy {
		s.optsBusy = true
	}
	s.optsMu.Unlock()
	if o.byLang == nil {
		o = s.buildOptions(ctx)
		s.optsMu.Lock()
		s.opts, s.optsTime = o, time.Now()
		s.optsMu.Unlock()
	} else if stale && !busy {
		go func() {
			fresh := s.buildOptions(context.Background())
			s.optsMu.Lock()
			s.opts, s.optsTime, s.optsBusy = fresh, time.Now(), false
			s.optsMu.Unlock()
		}()
	}
	return o.byLang[l.Code]
}

func (s *Server) buildOptions(ctx context.Context) filterOptions {
	var bases []string
	seen := map[string]bool{}
	vs := s.cat.Violations()
	for _, v := range vs {
		for _, c := range v.LegalBasis {
			if k := c.String(); !seen[k] {
				seen[k] = true
				bases = append(bases, k)
			}
		}
	}
	slices.Sort(bases)
	var targets []string
	if ids, err := s.st.KnownTargets(ctx); err == nil {
		slices.Sort(ids)
		if len(ids) > 2000 {
			ids = ids[:2000]
		}
		targets = ids
	}
	sdks := s.idx.Snapshot().SDKIDs()
	o := filterOptions{byLang: map[string]optionLists{}}
	for code, lang := range s.langs {
		var ol optionLists
		for _, v := range vs {
			ol.Rules = append(ol.Rules, newOption(v.ID, v.ID+" · "+lang.Text(v.Title)))
		}
		for _, b := range bases {
			ol.Bases = append(ol.Bases, newOption(b, b))
		}
		for _, t := range targets {
			ol.Targets = append(ol.Targets, newOption(t, t))
		}
		for _, c := range s.cat.AppCategories() {
			ol.Categories = append(ol.Categories, newOption(c.Key, lang.Text(c.Name)))
		}
		for _, sdk := range sdks {
			name := sdk
			if d, ok := s.cat.SDK(sdk); ok {
				name = sdk + " · " + lang.Text(d.Name)
			}
			ol.SDKs = append(ol.SDKs, newOption(sdk, name))
		}
		for i, l := range [][]option{ol.Rules, ol.Bases, ol.Targets, ol.Categories, ol.SDKs} {
			ol.none[i] = renderOptions(l, "")
		}
		o.byLang[code] = ol
	}
	return o
}
