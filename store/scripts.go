package store

import "github.com/redis/go-redis/v9"

// The Lua scripts are the only writers of finding hashes, histories and indexes; each runs
// atomically on the server. Index key names are built from the prefix (ARGV[1]) because they depend
// on stored values (the current state).

// upsertScript upserts a batch of findings of one scan in one atomic run. KEYS: the idx:all key
// (declared for routing: every key of a store shares its prefix, and on Redis Cluster the prefix's
// hash tag puts them in one slot). ARGV: prefix, scan id, the history entry of a created finding,
// then per finding upsertArgs values: fp, target, rule, content json, its digest, evidence
// ("\n"-joined, sorted), first_seen, last_seen, last_seen_ns (19 digits), score. Returns one character per
// finding, "1" when it created the finding, "0" otherwise.
//
// Each finding is handled as the one-finding script did (and in order, so a fingerprint twice in
// one batch behaves like two calls), but a field is written only when its value changes, and the
// index writes are collected and sent as one ZADD per index key at the end: a re-delivery writes
// nothing, a re-scan rewrites the four index entries (their score holds last_seen) and the changed
// fields, and a batch of new findings costs one ZADD per key rather than four per finding. The
// fingerprints it created or changed go to the change feed as one entry (changes.go).
var upsertScript = redis.NewScript(`
local p, scan, hist = ARGV[1], ARGV[2], ARGV[3]
local zadds, zorder = {}, {}
local function zadd(key, score, fp)
  local l = zadds[key]
  if not l then
    l = {}
    zadds[key] = l
    zorder[#zorder + 1] = key
  end
  l[#l + 1] = score
  l[#l + 1] = fp
end
local known = {target = {}, rule = {}}
local newknown = {target = {}, rule = {}}
local function remember(kind, id)
  if not known[kind][id] then
    known[kind][id] = true
    newknown[kind][#newknown[kind] + 1] = id
  end
end

-- addrefs appends the "\n"-separated references of s not yet seen to list. A plain find is
-- several times cheaper than a gmatch pattern, which tests every byte against a class.
local function addrefs(s, seen, list)
  local pos, n = 1, #s
  while pos <= n do
    local e = string.find(s, '\n', pos, true) or n + 1
    if e > pos then
      local r = string.sub(s, pos, e - 1)
      if not seen[r] then
        seen[r] = true
        list[#list + 1] = r
      end
    end
    pos = e + 1
  end
end

local out, changed = {}, {}
for i = 4, #ARGV, 10 do
  local fp, target, rule, content, digest = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local ev, fs, ls, lsns, score = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  local fkey = p .. 'finding:' .. fp
  local cur = redis.call('HMGET', fkey, 'state', 'last_seen_ns', 'evidence', 'score', 'json_sha',
    'last_scan_id', 'not_reobserved_since')
  local state = cur[1]
  if not state then
    redis.call('HSET', fkey, 'json', content, 'json_sha', digest, 'evidence', ev, 'state', 'new',
      'first_seen', fs, 'last_seen', ls, 'last_seen_ns', lsns, 'score', score, 'last_scan_id', scan)
    redis.call('RPUSH', fkey .. ':history', hist)
    zadd(p .. 'idx:all', score, fp)
    zadd(p .. 'idx:state:new', score, fp)
    zadd(p .. 'idx:target:' .. target, score, fp)
    zadd(p .. 'idx:rule:' .. rule, score, fp)
    remember('target', target)
    remember('rule', rule)
    changed[#changed + 1] = fp
    out[#out + 1] = '1'
  else
    local oldns, oldev, oldscore = cur[2] or '', cur[3] or '', cur[4] or ''
    local merged = oldev
    if ev ~= oldev and ev ~= '' then
      local seen, list = {}, {}
      addrefs(oldev, seen, list)
      addrefs(ev, seen, list)
      table.sort(list)
      merged = table.concat(list, '\n')
    end
    local set = {}
    if merged ~= oldev then
      set[#set + 1] = 'evidence'
      set[#set + 1] = merged
    end
    -- A late delivery from an older scan (lsns < oldns) keeps the newer content: only evidence
    -- accumulates.
    if lsns >= oldns then
      if digest ~= cur[5] then
        set[#set + 1] = 'json'
        set[#set + 1] = content
        set[#set + 1] = 'json_sha'
        set[#set + 1] = digest
      end
      if lsns ~= oldns then
        set[#set + 1] = 'last_seen'
        set[#set + 1] = ls
        set[#set + 1] = 'last_seen_ns'
        set[#set + 1] = lsns
      end
      if scan ~= cur[6] then
        set[#set + 1] = 'last_scan_id'
        set[#set + 1] = scan
      end
      if cur[7] and cur[7] ~= '' then
        set[#set + 1] = 'not_reobserved_since'
        set[#set + 1] = ''
      end
      if score ~= oldscore then
        set[#set + 1] = 'score'
        set[#set + 1] = score
        zadd(p .. 'idx:all', score, fp)
        zadd(p .. 'idx:state:' .. state, score, fp)
        zadd(p .. 'idx:target:' .. target, score, fp)
        zadd(p .. 'idx:rule:' .. rule, score, fp)
      end
    end
    if #set > 0 then
      redis.call('HSET', fkey, unpack(set))
      changed[#changed + 1] = fp
    end
    out[#out + 1] = '0'
  end
end
for _, key in ipairs(zorder) do
  redis.call('ZADD', key, unpack(zadds[key]))
end
if #newknown.target > 0 then
  redis.call('SADD', p .. 'idx:known:target', unpack(newknown.target))
end
if #newknown.rule > 0 then
  redis.call('SADD', p .. 'idx:known:rule', unpack(newknown.rule))
end
if #changed > 0 then
  local seq = redis.call('INCR', p .. 'findings:changes:seq')
  redis.call('XADD', p .. 'findings:changes', 'MAXLEN', '~', '10000', '*', 'seq', seq, 'fps', table.concat(changed, '\n'))
end
return table.concat(out)
`)

// transitionScript: KEYS finding, history; ARGV prefix, fp, expected from, to, history entry,
// deadline, document no. Compare-and-set on the state: returns {"ok", from}, {"conflict", actual}
// or {"missing", ""}. A move is announced on the change feed (changes.go).
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
local seq = redis.call('INCR', p .. 'findings:changes:seq')
redis.call('XADD', p .. 'findings:changes', 'MAXLEN', '~', '10000', '*', 'seq', seq, 'fps', fp)
return {'ok', st}
`)

// markScript: KEYS target index; ARGV prefix, scan id, raised fingerprints… Returns the number of
// findings marked, which are announced on the change feed (changes.go).
var markScript = redis.NewScript(`
local p, scan = ARGV[1], ARGV[2]
local raised = {}
for i = 3, #ARGV do
  raised[ARGV[i]] = true
end
local n, marked = 0, {}
for _, fp in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if not raised[fp] then
    local k = p .. 'finding:' .. fp
    local cur = redis.call('HMGET', k, 'not_reobserved_since', 'last_scan_id')
    -- A finding this very scan upserted was raised by it, whatever the caller's list says. An
    -- analyst's manual result (ManualScanPrefix) is no scan's to re-observe.
    if (not cur[1] or cur[1] == '') and cur[2] and cur[2] ~= scan and string.sub(cur[2], 1, 7) ~= 'manual-' then
      redis.call('HSET', k, 'not_reobserved_since', scan)
      n = n + 1
      marked[n] = fp
    end
  end
end
if n > 0 then
  local seq = redis.call('INCR', p .. 'findings:changes:seq')
  redis.call('XADD', p .. 'findings:changes', 'MAXLEN', '~', '10000', '*', 'seq', seq, 'fps', table.concat(marked, '\n'))
end
return n
`)
