package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/redis/go-redis/v9"

	"pilmon/findings"
	"pilmon/rules"
)

// Filter is the findings list's query: every field is optional. It round-trips through the URL
// query so that a filtered page can be bookmarked and shared.
type Filter struct {
	State     string
	Severity  string
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
	Sort      string // "" (severity, then last seen), "last_seen", "first_seen"
	Asc       bool
	Page      int // from 1
	Per       int
}

const (
	defaultPer = 50
	maxPer     = 200
	maxQLen    = 200
	// maxSearchMatches bounds how many findings a text search hands to Redis; a broader search
	// says so and asks for a narrower term.
	maxSearchMatches = 20000
)

// parseFilter reads a Filter from the query string, dropping values that cannot be valid.
func parseFilter(c *echo.Context) Filter {
	q := c.QueryParam
	f := Filter{
		State: q("state"), Severity: q("severity"), Rule: q("rule"), Basis: q("basis"), Target: q("target"),
		Category: q("category"), SDK: q("sdk"), FirstFrom: q("first_from"), FirstTo: q("first_to"),
		LastFrom: q("last_from"), LastTo: q("last_to"), Q: strings.TrimSpace(q("q")), Sort: q("sort"),
		Asc: q("dir") == "asc",
	}
	if !findings.State(f.State).Valid() {
		f.State = ""
	}
	if findings.SeverityRank(rules.Severity(f.Severity)) == 0 {
		f.Severity = ""
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
	if f.Sort != "last_seen" && f.Sort != "first_seen" {
		f.Sort = ""
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

// group is one filter term for the list script:
//
//	set     one sorted set; scored when its scores are the idx:all score (severity, then last
//	        seen), so the script can walk it in list order: idx:state:*, idx:target:*, idx:rule:*
//	        and the dashboard's own web:idx:basis:* and web:idx:sdk:*
//	anyset  a list of sets of which a finding must be in at least one: the app category, through
//	        the idx:target:* sets of that category's targets
//	range   a score range on a date index (web:idx:first, web:idx:last), checked by ZMSCORE
//	members an explicit list of fingerprints (the text search)
type group struct {
	kind  string
	items []string
}

type listResult struct {
	Items  []findings.Finding
	Total  int64
	Pages  int
	Capped bool // the text search matched more than maxSearchMatches; only those are listed
	// AtLeast says Total is a lower bound: counting stopped there (countCap) because an exact
	// count would have cost more than the page itself.
	AtLeast bool
}

// dayRange turns a from/to pair of Shanghai dates into Unix-millisecond bounds [lo, hi).
func dayRange(from, to string) (string, string) {
	lo, hi := "-1", "1e18"
	if t, err := time.ParseInLocation(time.DateOnly, from, Shanghai); err == nil {
		lo = strconv.FormatInt(t.UnixMilli(), 10)
	}
	if t, err := time.ParseInLocation(time.DateOnly, to, Shanghai); err == nil {
		hi = strconv.FormatInt(t.AddDate(0, 0, 1).UnixMilli(), 10)
	}
	return lo, hi
}

// plan turns the filter into groups. An impossible filter (an app category with no target) yields
// an empty group, which the script answers with no results.
func (s *Server) plan(ctx context.Context, f Filter) ([]group, bool, error) {
	var gs []group
	capped := false
	set := func(key string, scored bool) {
		sc := "0"
		if scored {
			sc = "1"
		}
		gs = append(gs, group{"set", []string{key, sc}})
	}
	if f.State != "" {
		set("idx:state:"+f.State, true)
	}
	if f.Rule != "" {
		set("idx:rule:"+f.Rule, true)
	}
	if f.Target != "" {
		set("idx:target:"+f.Target, true)
	}
	if f.Basis != "" {
		set("web:idx:basis:"+f.Basis, true)
	}
	if f.SDK != "" {
		set("web:idx:sdk:"+f.SDK, true)
	}
	if f.Category != "" {
		var items []string
		if s.cfg.Targets != nil {
			ts, err := s.cfg.Targets.List(ctx)
			if err != nil {
				return nil, false, err
			}
			for _, t := range ts {
				if t.Category == f.Category {
					items = append(items, "idx:target:"+t.ID)
				}
			}
		}
		gs = append(gs, group{"anyset", items})
	}
	if f.FirstFrom != "" || f.FirstTo != "" {
		lo, hi := dayRange(f.FirstFrom, f.FirstTo)
		gs = append(gs, group{"range", []string{"web:idx:first", lo, hi}})
	}
	if f.LastFrom != "" || f.LastTo != "" {
		lo, hi := dayRange(f.LastFrom, f.LastTo)
		gs = append(gs, group{"range", []string{"web:idx:last", lo, hi}})
	}
	if f.Q != "" {
		var targetsNamed []string
		if s.cfg.Targets != nil {
			if ts, err := s.cfg.Targets.List(ctx); err == nil {
				lq := strings.ToLower(f.Q)
				for _, t := range ts {
					if strings.Contains(strings.ToLower(t.Name), lq) || strings.Contains(strings.ToLower(t.Operator), lq) {
						targetsNamed = append(targetsNamed, t.ID)
					}
				}
			}
		}
		fps, more := s.idx.search(f.Q, s.rulesMatching(f.Q), targetsNamed, maxSearchMatches)
		capped = more
		gs = append(gs, group{"members", fps})
	}
	return gs, capped, nil
}

// rulesMatching returns the ids of rules whose id or title contains q.
func (s *Server) rulesMatching(q string) map[string]bool {
	lq := strings.ToLower(q)
	out := map[string]bool{}
	for _, v := range s.cat.Violations() {
		if strings.Contains(strings.ToLower(v.ID), lq) || strings.Contains(v.Title.ZH, q) ||
			strings.Contains(strings.ToLower(v.Title.EN), lq) {
			out[v.ID] = true
		}
	}
	return out
}

// list runs the filter: one script call computes the total and the page's fingerprints on the
// server, a pipelined HMGET reads the page.
func (s *Server) list(ctx context.Context, f Filter) (listResult, error) {
	gs, capped, err := s.plan(ctx, f)
	if err != nil {
		return listResult{}, err
	}
	sortKey := ""
	switch f.Sort {
	case "last_seen":
		sortKey = "web:idx:last"
	case "first_seen":
		sortKey = "web:idx:first"
	}
	// Severity is the high part of every index score (findings/store.go): a score range, not a set.
	sevLo, sevHi := "", ""
	if r := int64(findings.SeverityRank(rules.Severity(f.Severity))); r > 0 {
		sevLo, sevHi = strconv.FormatInt(r*1e13, 10), strconv.FormatInt((r+1)*1e13, 10)
	}
	sortCap := s.sortCap
	if sortCap <= 0 {
		sortCap = 5000
	}
	countCap := s.countCap
	if countCap <= 0 {
		countCap = 10000
	}
	args := []any{s.st.Prefix(), sortKey, boolArg(!f.Asc), (f.Page - 1) * f.Per, f.Per, sevLo, sevHi, sortCap, countCap, len(gs)}
	for _, g := range gs {
		args = append(args, g.kind, len(g.items))
		for _, it := range g.items {
			args = append(args, it)
		}
	}
	res, err := listScript.Run(ctx, s.st.Client(), nil, args...).Slice()
	if err != nil {
		return listResult{}, fmt.Errorf("list findings: %w", err)
	}
	total, _ := res[0].(int64)
	var fps []string
	if page, ok := res[1].([]any); ok {
		for _, m := range page {
			if str, ok := m.(string); ok {
				fps = append(fps, str)
			}
		}
	}
	items, err := s.rows(ctx, fps)
	if err != nil {
		return listResult{}, err
	}
	atLeast := len(res) > 2 && res[2] == int64(1)
	pages := int((total + int64(f.Per) - 1) / int64(f.Per))
	if atLeast && len(items) == f.Per {
		pages = max(pages, f.Page+1)
	}
	return listResult{Items: items, Total: total, Pages: pages, Capped: capped, AtLeast: atLeast}, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// listScript computes one page of a filtered, sorted list on the server, reading only: it never
// builds a temporary set (materialising tens of thousands of members per request is what made
// the first version slow at 100,000 findings).
//
// ARGV: prefix, sort key ("" for the default order: severity, then last seen; or web:idx:last /
// web:idx:first), "1" for descending, offset, limit, severity score range [lo, hi) or two empty
// strings, the most matches a date sort sorts in memory (5,000), the count at which counting
// stops when it is not free (10,000; the reply then says the total is a lower bound), number of
// groups, then per group: kind, n, n items (see group). Returns
// {total, {fingerprints}, 1 when total is a lower bound}.
//
// Every idx:* set, and the dashboard's basis and SDK sets, score a finding the same way as
// idx:all, so the severity is a score range on any of them. The script walks the smallest scored
// set (or idx:all) in list order within that range, chunk by chunk, and keeps the members that
// are in every other set (ZMSCORE), inside every date range, among the search matches and in one of
// the category's target sets. The total comes from ZCARD/ZCOUNT/ZINTERCARD when the filter
// allows, else from walking the whole range. A date sort pages through the sorted matches when
// there are at most 5,000, else walks the date index in order. A text search checks only its
// candidates and sorts those.
var listScript = redis.NewScript(`
local p, sortkey = ARGV[1], ARGV[2]
local rev = ARGV[3] == '1'
local off, lim = tonumber(ARGV[4]), tonumber(ARGV[5])
local sevLo, sevHi = ARGV[6], ARGV[7]
local hasSev = sevLo ~= ''
local sortCap = tonumber(ARGV[8])
local countCap = tonumber(ARGV[9])
local ng = tonumber(ARGV[10])
local i = 11
local sets, fields, ranges = {}, {}, {}
local members = nil
for g = 1, ng do
  local kind, n = ARGV[i], tonumber(ARGV[i+1])
  i = i + 2
  if kind == 'set' then
    local key = p .. ARGV[i]
    local card = redis.call('ZCARD', key)
    if card == 0 then return {0, {}} end
    sets[#sets+1] = {key = key, card = card, scored = ARGV[i+1] == '1'}
  elseif kind == 'anyset' then
    if n == 0 then return {0, {}} end
    local keys = {}
    for j = 0, n - 1 do keys[#keys+1] = p .. ARGV[i+j] end
    fields[#fields+1] = keys
  elseif kind == 'range' then
    ranges[#ranges+1] = {key = p .. ARGV[i], lo = tonumber(ARGV[i+1]), hi = tonumber(ARGV[i+2])}
  else
    if n == 0 then return {0, {}} end
    members = {}
    for j = 0, n - 1 do members[ARGV[i+j]] = true end
  end
  i = i + n
end
local all = p .. 'idx:all'

-- The walk set: the smallest scored set, else idx:all.
local base = nil
for _, s in ipairs(sets) do
  if s.scored and (base == nil or s.card < base.card) then base = s end
end
if base == nil then base = {key = all, card = redis.call('ZCARD', all), scored = true} end
local others = {}
for _, s in ipairs(sets) do
  if s.key ~= base.key then others[#others+1] = s end
end
local simple = #fields == 0 and #ranges == 0 and members == nil

-- chunk reads members of base in list order from position pos.
local function chunk(key, pos, n, ranged)
  if ranged and hasSev then
    if rev then
      return redis.call('ZRANGE', key, '(' .. sevHi, sevLo, 'BYSCORE', 'REV', 'LIMIT', pos, n)
    end
    return redis.call('ZRANGE', key, sevLo, '(' .. sevHi, 'BYSCORE', 'LIMIT', pos, n)
  end
  if rev then return redis.call('ZRANGE', key, pos, pos + n - 1, 'REV') end
  return redis.call('ZRANGE', key, pos, pos + n - 1)
end

-- keep returns, for a chunk of fingerprints, which pass every check but the walk set's own.
-- extra are more sets to check (the walk set itself when walking a date index).
local function keep(c, extra, sevCheck)
  local ok = {}
  for j = 1, #c do ok[j] = true end
  local function zcheck(key, lo, hi)
    local a = {key}
    for j = 1, #c do a[#a+1] = c[j] end
    local sc = redis.call('ZMSCORE', unpack(a))
    for j = 1, #c do
      local v = sc[j]
      if not v then
        ok[j] = false
      elseif lo then
        v = tonumber(v)
        if v < lo or v >= hi then ok[j] = false end
      end
    end
  end
  for _, s in ipairs(others) do zcheck(s.key) end
  for _, s in ipairs(extra) do zcheck(s.key) end
  for _, r in ipairs(ranges) do zcheck(r.key, r.lo, r.hi) end
  if sevCheck then zcheck(all, tonumber(sevLo), tonumber(sevHi)) end
  if members then
    for j = 1, #c do
      if ok[j] and not members[c[j]] then ok[j] = false end
    end
  end
  for _, keys in ipairs(fields) do
    local any = {}
    for _, k in ipairs(keys) do
      local a = {k}
      for j = 1, #c do a[#a+1] = c[j] end
      local sc = redis.call('ZMSCORE', unpack(a))
      for j = 1, #c do
        if sc[j] then any[j] = true end
      end
    end
    for j = 1, #c do
      if not any[j] then ok[j] = false end
    end
  end
  return ok
end

-- walk goes through base in list order; stops once stopAt matches are found (nil: walk all).
-- It returns the match count and the matches at positions off+1 .. off+lim (or all of them).
local function walk(stopAt, collectAll)
  local count, out, pos = 0, {}, 0
  while true do
    local c = chunk(base.key, pos, 1000, true)
    if #c == 0 then break end
    pos = pos + #c
    local ok = keep(c, {}, false)
    for j = 1, #c do
      if ok[j] then
        count = count + 1
        if collectAll or (count > off and count <= off + lim) then out[#out+1] = c[j] end
      end
    end
    if stopAt and count >= stopAt then break end
    if #c < 1000 then break end
  end
  return count, out
end

-- A text search names its candidates: check those, sort them by the list order, page.
local sk = all
if sortkey ~= '' then sk = p .. sortkey end
local function sortedPage(matches)
  if #matches == 0 then return {} end
  local rows = {}
  for s0 = 1, #matches, 1000 do
    local a = {sk}
    for j = s0, math.min(s0 + 999, #matches) do a[#a+1] = matches[j] end
    local sc = redis.call('ZMSCORE', unpack(a))
    for j = 2, #a do
      if sc[j-1] then rows[#rows+1] = {a[j], tonumber(sc[j-1])} end
    end
  end
  table.sort(rows, function(x, y)
    if x[2] ~= y[2] then
      if rev then return x[2] > y[2] end
      return x[2] < y[2]
    end
    if rev then return x[1] > y[1] end
    return x[1] < y[1]
  end)
  local out = {}
  for j = off + 1, math.min(off + lim, #rows) do out[#out+1] = rows[j][1] end
  return out
end
if members then
  local list = {}
  for m in pairs(members) do list[#list+1] = m end
  local matches = {}
  local extra = {}
  if base.key ~= all then extra[1] = base end
  for s0 = 1, #list, 1000 do
    local c = {}
    for j = s0, math.min(s0 + 999, #list) do c[#c+1] = list[j] end
    local saved = members
    members = nil
    local ok = keep(c, extra, false)
    members = saved
    local a = {all}
    for j = 1, #c do a[#a+1] = c[j] end
    local sc = redis.call('ZMSCORE', unpack(a))
    for j = 1, #c do
      local v = sc[j] and tonumber(sc[j])
      if ok[j] and v and (not hasSev or (v >= tonumber(sevLo) and v < tonumber(sevHi))) then
        matches[#matches+1] = c[j]
      end
    end
  end
  return {#matches, sortedPage(matches)}
end

-- The total, cheaply when the filter allows.
local total = nil
local atLeast = 0
if simple then
  if #others == 0 then
    if hasSev then total = redis.call('ZCOUNT', base.key, sevLo, '(' .. sevHi) else total = base.card end
  elseif not hasSev then
    local a = {#sets}
    for _, s in ipairs(sets) do a[#a+1] = s.key end
    a[#a+1] = 'LIMIT'
    a[#a+1] = math.max(countCap, off + lim)
    total = redis.call('ZINTERCARD', unpack(a))
    if total >= math.max(countCap, off + lim) then atLeast = 1 end
  end
end

if sortkey == '' then
  if total ~= nil then
    if off >= total then return {total, {}, atLeast} end
    if #others == 0 and simple then
      return {total, chunk(base.key, off, lim, true), atLeast}
    end
    local _, out = walk(off + lim, false)
    return {total, out, atLeast}
  end
  local stop = math.max(countCap, off + lim)
  local count, out = walk(stop, false)
  if count >= stop then atLeast = 1 end
  return {count, out, atLeast}
end

-- A date order.
if total == nil or total <= sortCap then
  local count, matches = walk(sortCap + 1, true)
  if count <= sortCap then
    return {count, sortedPage(matches)}
  end
  if total == nil then
    local stop = math.max(countCap, off + lim)
    total = walk(stop, false)
    if total >= stop then atLeast = 1 end
  end
end
if off >= total then return {total, {}, atLeast} end
-- Many matches: walk the date index in order; base is checked like every other set.
local out, seen, pos = {}, 0, 0
local extra = {}
if base.key ~= all then extra[1] = base end
while #out < lim do
  local c = chunk(sk, pos, 1000, false)
  if #c == 0 then break end
  pos = pos + #c
  local ok = keep(c, extra, hasSev)
  for j = 1, #c do
    if ok[j] then
      seen = seen + 1
      if seen > off and #out < lim then out[#out+1] = c[j] end
    end
  end
  if #c < 1000 then break end
end
return {total, out, atLeast}
`)

// rows reads the findings of one list page in one round trip. It reads the store's documented hash
// layout (findings/store.go) directly: the list needs the content and the lifecycle fields only.
func (s *Server) rows(ctx context.Context, fps []string) ([]findings.Finding, error) {
	if len(fps) == 0 {
		return nil, nil
	}
	pipe := s.st.Client().Pipeline()
	cmds := make([]*redis.SliceCmd, len(fps))
	for i, fp := range fps {
		cmds[i] = pipe.HMGet(ctx, s.st.Prefix()+"finding:"+fp, "json", "state", "first_seen", "last_seen", "not_reobserved_since")
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	out := make([]findings.Finding, 0, len(fps))
	for _, c := range cmds {
		v := c.Val()
		str := func(i int) string { s, _ := v[i].(string); return s }
		var f findings.Finding
		if len(v) < 5 || json.Unmarshal([]byte(str(0)), &f) != nil {
			continue
		}
		f.State = findings.State(str(1))
		f.FirstSeen, _ = time.Parse(time.RFC3339Nano, str(2))
		f.LastSeen, _ = time.Parse(time.RFC3339Nano, str(3))
		f.NotReobservedSince = str(4)
		out = append(out, f)
	}
	return out, nil
}

// filterOptions are the choices the filter form offers, refreshed at most every 10 s. The long
// lists (rules, legal bases, targets, categories, SDKs) are escaped once per refresh and language,
// so a list page does not run the template engine over several hundred options.
type filterOptions struct {
	byLang map[string]optionLists
}

type optionLists struct {
	Rules, Bases, Targets, Categories, SDKs []option
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
	if ids, err := s.st.Client().SMembers(ctx, s.st.Prefix()+"idx:known:target").Result(); err == nil {
		slices.Sort(ids)
		if len(ids) > 2000 {
			ids = ids[:2000]
		}
		targets = ids
	}
	sdks := s.idx.sdkIDs()
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
		o.byLang[code] = ol
	}
	return o
}
