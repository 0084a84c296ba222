package findings

import "github.com/redis/go-redis/v9"

// The Lua scripts are the only writers of finding hashes, histories and indexes; each runs
// atomically on the server. Index key names are built from the prefix (ARGV[1]) because they depend
// on stored values (the current state).

// upsertScript: KEYS finding, history; ARGV prefix, fp, target, rule, severity, rank, content json,
// evidence ("\n"-joined, sorted), first_seen, last_seen, last_seen_ns (19 digits), score, scan id,
// history entry. Returns 1 when it created the finding, 0 otherwise.
var upsertScript = redis.NewScript(`
local fkey, hkey = KEYS[1], KEYS[2]
local p, fp, target, rule, sev, rank = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local content, ev, fs, ls, lsns = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]
local score, scan, hist = ARGV[12], ARGV[13], ARGV[14]

local function index(state)
  redis.call('ZADD', p .. 'idx:all', score, fp)
  redis.call('ZADD', p .. 'idx:state:' .. state, score, fp)
  redis.call('ZADD', p .. 'idx:target:' .. target, score, fp)
  redis.call('ZADD', p .. 'idx:rule:' .. rule, score, fp)
end

local cur = redis.call('HMGET', fkey, 'state', 'last_seen_ns', 'evidence', 'score')
local state = cur[1]
if not state then
  redis.call('HSET', fkey, 'json', content, 'evidence', ev, 'target', target, 'rule', rule,
    'severity', sev, 'sev_rank', rank, 'state', 'new', 'first_seen', fs, 'last_seen', ls,
    'last_seen_ns', lsns, 'score', score, 'last_scan_id', scan, 'not_reobserved_since', '')
  redis.call('RPUSH', hkey, hist)
  index('new')
  redis.call('SADD', p .. 'idx:known:target', target)
  redis.call('SADD', p .. 'idx:known:rule', rule)
  return 1
end
local oldns, oldev, oldscore = cur[2] or '', cur[3] or '', cur[4] or ''

local seen, list = {}, {}
for _, s in ipairs({oldev, ev}) do
  for r in string.gmatch(s, '[^\n]+') do
    if not seen[r] then
      seen[r] = true
      list[#list + 1] = r
    end
  end
end
table.sort(list)
local merged = table.concat(list, '\n')

if lsns < oldns then
  -- A late delivery from an older scan: the newer content stays, only evidence accumulates.
  if merged ~= oldev then
    redis.call('HSET', fkey, 'evidence', merged)
  end
  return 0
end

redis.call('HSET', fkey, 'json', content, 'evidence', merged, 'severity', sev, 'sev_rank', rank,
  'last_seen', ls, 'last_seen_ns', lsns, 'score', score, 'last_scan_id', scan, 'not_reobserved_since', '')
if oldscore ~= score then
  index(state)
end
return 0
`)

// transitionScript: KEYS finding, history; ARGV prefix, fp, expected from, to, history entry,
// deadline, document no. Compare-and-set on the state: returns {"ok", from}, {"conflict", actual}
// or {"missing", ""}.
var transitionScript = redis.NewScript(`
local fkey, hkey = KEYS[1], KEYS[2]
local p, fp, from, to, entry, deadline, docno = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local st = redis.call('HGET', fkey, 'state')
if not st then
  return {'missing', ''}
end
if st ~= from then
  return {'conflict', st}
end
local score = redis.call('ZSCORE', p .. 'idx:all', fp) or '0'
redis.call('ZREM', p .. 'idx:state:' .. st, fp)
redis.call('ZADD', p .. 'idx:state:' .. to, score, fp)
redis.call('HSET', fkey, 'state', to, 'deadline', deadline)
if docno ~= '' then
  redis.call('HSET', fkey, 'document_no', docno)
end
redis.call('RPUSH', hkey, entry)
return {'ok', st}
`)

// markScript: KEYS target index; ARGV prefix, scan id, raised fingerprints… Returns the number of
// findings marked.
var markScript = redis.NewScript(`
local p, scan = ARGV[1], ARGV[2]
local raised = {}
for i = 3, #ARGV do
  raised[ARGV[i]] = true
end
local n = 0
for _, fp in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not raised[fp] then
    local k = p .. 'finding:' .. fp
    local cur = redis.call('HMGET', k, 'not_reobserved_since', 'last_scan_id')
    -- A finding this very scan upserted was raised by it, whatever the caller's list says.
    if (not cur[1] or cur[1] == '') and cur[2] and cur[2] ~= scan then
      redis.call('HSET', k, 'not_reobserved_since', scan)
      n = n + 1
    end
  end
end
return n
`)
