package web

import (
	"context"
	"encoding/json"
	"fmt"
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

// group is one filter term for the list script: a union of index keys, a score range over a date
// index, or an explicit member list (text search). scored groups carry the idx:all score
// (severity, then last seen), so the script can walk them in list order.
type group struct {
	kind   string // keys | range | members
	scored bool
	items  []string
}

type listResult struct {
	Items  []findings.Finding
	Total  int64
	Pages  int
	Capped bool // the text search matched more than maxSearchMatches; only those are listed
}

// dayRange turns a from/to pair of Shanghai dates into Unix-millisecond bounds.
func dayRange(from, to string) (string, string) {
	lo, hi := "-inf", "+inf"
	if t, err := time.ParseInLocation(time.DateOnly, from, Shanghai); err == nil {
		lo = strconv.FormatInt(t.UnixMilli(), 10)
	}
	if t, err := time.ParseInLocation(time.DateOnly, to, Shanghai); err == nil {
		hi = "(" + strconv.FormatInt(t.AddDate(0, 0, 1).UnixMilli(), 10)
	}
	return lo, hi
}

// plan turns the filter into groups. An impossible filter (a basis no rule cites) yields an empty
// keys group, which the script answers with no results.
func (s *Server) plan(ctx context.Context, f Filter) ([]group, bool, error) {
	var gs []group
	capped := false
	if f.State != "" {
		gs = append(gs, group{"keys", true, []string{"idx:state:" + f.State}})
	}
	if f.Rule != "" {
		gs = append(gs, group{"keys", true, []string{"idx:rule:" + f.Rule}})
	}
	if f.Target != "" {
		gs = append(gs, group{"keys", true, []string{"idx:target:" + f.Target}})
	}
	if f.Basis != "" {
		var keys []string
		for _, v := range s.cat.Violations() {
			for _, c := range v.LegalBasis {
				if c.String() == f.Basis {
					keys = append(keys, "idx:rule:"+v.ID)
					break
				}
			}
		}
		gs = append(gs, group{"keys", true, keys})
	}
	if f.Category != "" {
		var keys []string
		if s.cfg.Targets != nil {
			ts, err := s.cfg.Targets.List(ctx)
			if err != nil {
				return nil, false, err
			}
			for _, t := range ts {
				if t.Category == f.Category {
					keys = append(keys, "idx:target:"+t.ID)
				}
			}
		}
		gs = append(gs, group{"keys", true, keys})
	}
	if f.SDK != "" {
		gs = append(gs, group{"keys", false, []string{"web:idx:sdk:" + f.SDK}})
	}
	if f.FirstFrom != "" || f.FirstTo != "" {
		lo, hi := dayRange(f.FirstFrom, f.FirstTo)
		gs = append(gs, group{"range", false, []string{"web:idx:first", lo, hi}})
	}
	if f.LastFrom != "" || f.LastTo != "" {
		lo, hi := dayRange(f.LastFrom, f.LastTo)
		gs = append(gs, group{"range", false, []string{"web:idx:last", lo, hi}})
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
		gs = append(gs, group{"members", false, fps})
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
	sortKey := "idx:all"
	switch f.Sort {
	case "last_seen":
		sortKey = "web:idx:last"
	case "first_seen":
		sortKey = "web:idx:first"
	}
	// Severity is the high part of every index score (findings/store.go): a score range, not a set.
	sevLo, sevHi := "", ""
	if r := int64(findings.SeverityRank(rules.Severity(f.Severity))); r > 0 {
		sevLo, sevHi = strconv.FormatInt(r*1e13, 10), "("+strconv.FormatInt((r+1)*1e13, 10)
	}
	args := []any{s.st.Prefix(), s.prefix + "tmp:" + randomSecret(9), sortKey, boolArg(!f.Asc),
		(f.Page - 1) * f.Per, f.Per, boolArg(f.Sort == ""), sevLo, sevHi, len(gs)}
	for _, g := range gs {
		args = append(args, g.kind, boolArg(g.scored), len(g.items))
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
	pages := int((total + int64(f.Per) - 1) / int64(f.Per))
	return listResult{Items: items, Total: total, Pages: pages, Capped: capped}, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// listScript computes one page of a filtered, sorted list on the server.
//
// ARGV: prefix, temp key base, sort key (relative to prefix), "1" for descending, offset, limit,
// "1" when sorting by the default order (the score every idx:* set shares), the severity's score
// range (two empty strings for none), number of groups, then per group: kind, scored ("1"/"0"),
// n, n items. Returns {total, {fingerprints}}.
//
// The severity is not a set of its own: it is the high part of the shared score, so it restricts
// the smallest scored set (or idx:all) to a score range with ZRANGESTORE, or, when it is the only
// filter, is answered by ZCOUNT and ZRANGE BYSCORE on idx:all directly.
//
// With the default order the script counts with ZINTERCARD and then either walks the smallest
// scored set in order, checking membership in the others with ZMSCORE, until the page is full
// (cheap when matches are dense), or, when matches are sparse, intersects with ZINTERSTORE and
// reads the page with ZRANGE. Other orders always intersect with the sort index weighted 1 and
// the filters 0. Temporary keys live only inside the script.
var listScript = redis.NewScript(`
local p, tmp, sortkey = ARGV[1], ARGV[2], ARGV[3]
local rev = ARGV[4] == '1'
local off, lim = tonumber(ARGV[5]), tonumber(ARGV[6])
local defaultSort = ARGV[7] == '1'
local sevLo, sevHi = ARGV[8], ARGV[9]
local ng = tonumber(ARGV[10])
local i = 11
local sets, temps = {}, {}
local function cleanup()
  if #temps > 0 then redis.call('DEL', unpack(temps)) end
end
local function range(key, a, b)
  if rev then return redis.call('ZRANGE', key, a, b, 'REV') end
  return redis.call('ZRANGE', key, a, b)
end
for g = 1, ng do
  local kind, scored, n = ARGV[i], ARGV[i+1] == '1', tonumber(ARGV[i+2])
  i = i + 3
  local key
  if kind == 'keys' then
    if n == 0 then cleanup() return {0, {}} end
    if n == 1 then
      key = p .. ARGV[i]
    else
      key = tmp .. ':' .. g
      local a = {key, n}
      for j = 0, n - 1 do a[#a+1] = p .. ARGV[i+j] end
      a[#a+1] = 'AGGREGATE'
      a[#a+1] = 'MAX'
      redis.call('ZUNIONSTORE', unpack(a))
      temps[#temps+1] = key
    end
  elseif kind == 'range' then
    key = tmp .. ':' .. g
    redis.call('ZRANGESTORE', key, p .. ARGV[i], ARGV[i+1], ARGV[i+2], 'BYSCORE')
    temps[#temps+1] = key
  else
    if n == 0 then cleanup() return {0, {}} end
    key = tmp .. ':' .. g
    for j = 0, n - 1, 400 do
      local a = {key}
      for k = j, math.min(j + 399, n - 1) do
        a[#a+1] = 0
        a[#a+1] = ARGV[i+k]
      end
      redis.call('ZADD', unpack(a))
    end
    temps[#temps+1] = key
  end
  i = i + n
  local card = redis.call('ZCARD', key)
  if card == 0 then cleanup() return {0, {}} end
  sets[#sets+1] = {key = key, scored = scored, card = card}
end

local sk = p .. sortkey
local all = p .. 'idx:all'
if sevLo ~= '' then
  if #sets == 0 and defaultSort then
    local total = redis.call('ZCOUNT', all, sevLo, sevHi)
    local page
    if rev then
      page = redis.call('ZRANGE', all, sevHi, sevLo, 'BYSCORE', 'REV', 'LIMIT', off, lim)
    else
      page = redis.call('ZRANGE', all, sevLo, sevHi, 'BYSCORE', 'LIMIT', off, lim)
    end
    return {total, page}
  end
  local base, bi = nil, nil
  for j, s in ipairs(sets) do
    if s.scored and (base == nil or s.card < base.card) then base, bi = s, j end
  end
  local key = tmp .. ':sev'
  redis.call('ZRANGESTORE', key, (base and base.key) or all, sevLo, sevHi, 'BYSCORE')
  temps[#temps+1] = key
  local card = redis.call('ZCARD', key)
  if card == 0 then cleanup() return {0, {}} end
  if base then
    sets[bi] = {key = key, scored = true, card = card}
  else
    sets[#sets+1] = {key = key, scored = true, card = card}
  end
end
if #sets == 0 then
  local total = redis.call('ZCARD', sk)
  return {total, range(sk, off, off + lim - 1)}
end

if defaultSort then
  local keys = {}
  local walk, smallest = nil, nil
  for _, s in ipairs(sets) do
    keys[#keys+1] = s.key
    if s.scored and (walk == nil or s.card < walk.card) then walk = s end
    if smallest == nil or s.card < smallest.card then smallest = s end
  end
  if walk == nil then walk = {key = sk, card = redis.call('ZCARD', sk), scored = true} end
  local total
  if #keys == 1 then
    total = sets[1].card
  else
    local a = {#keys}
    for _, k in ipairs(keys) do a[#a+1] = k end
    total = redis.call('ZINTERCARD', unpack(a))
  end
  if total == 0 or off >= total then cleanup() return {total, {}} end
  -- Expected walk length against the cost of an intersection (about the smallest set's size).
  local need = off + lim
  local expected = need * walk.card / total
  if expected <= 4 * smallest.card then
    local others = {}
    for _, s in ipairs(sets) do
      if s.key ~= walk.key then others[#others+1] = s.key end
    end
    local out, skipped, pos = {}, 0, 0
    while #out < lim and pos < walk.card do
      local chunk = range(walk.key, pos, pos + 499)
      pos = pos + 500
      if #chunk == 0 then break end
      local ok = {}
      for j = 1, #chunk do ok[j] = true end
      for _, k in ipairs(others) do
        local a = {k}
        for j = 1, #chunk do a[#a+1] = chunk[j] end
        local sc = redis.call('ZMSCORE', unpack(a))
        for j = 1, #chunk do
          if not sc[j] then ok[j] = false end
        end
      end
      for j = 1, #chunk do
        if ok[j] then
          if skipped < off then
            skipped = skipped + 1
          elseif #out < lim then
            out[#out+1] = chunk[j]
          end
        end
      end
    end
    cleanup()
    return {total, out}
  end
end

local res = tmp .. ':r'
local a = {res, #sets + 1, sk}
for _, s in ipairs(sets) do a[#a+1] = s.key end
a[#a+1] = 'WEIGHTS'
a[#a+1] = 1
for _ = 1, #sets do a[#a+1] = 0 end
redis.call('ZINTERSTORE', unpack(a))
temps[#temps+1] = res
local total = redis.call('ZCARD', res)
local page = range(res, off, off + lim - 1)
cleanup()
return {total, page}
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

// filterOptions are the choices the filter form offers, refreshed at most every 10 s.
type filterOptions struct {
	Rules    []rules.Violation
	Bases    []string
	Targets  []string
	SDKs     []string
	Category []rules.AppCategory
}

func (s *Server) filterOptions(ctx context.Context) filterOptions {
	s.optsMu.Lock()
	defer s.optsMu.Unlock()
	if time.Since(s.optsTime) < 10*time.Second && s.opts.Rules != nil {
		return s.opts
	}
	o := filterOptions{Rules: s.cat.Violations(), Category: s.cat.AppCategories()}
	seen := map[string]bool{}
	for _, v := range o.Rules {
		for _, c := range v.LegalBasis {
			if k := c.String(); !seen[k] {
				seen[k] = true
				o.Bases = append(o.Bases, k)
			}
		}
	}
	slices.Sort(o.Bases)
	if ids, err := s.st.Client().SMembers(ctx, s.st.Prefix()+"idx:known:target").Result(); err == nil {
		slices.Sort(ids)
		if len(ids) > 2000 {
			ids = ids[:2000]
		}
		o.Targets = ids
	}
	o.SDKs = s.idx.sdkIDs()
	s.opts, s.optsTime = o, time.Now()
	return o
}
