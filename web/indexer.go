package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// indexer keeps the dashboard's own indexes beside the findings store's: what the store does not
// index but the list filters on. It owns these keys (derived data, rebuilt from the findings at
// any time):
//
//	web:idx:first          sorted set, score = first seen (Unix ms)
//	web:idx:last           sorted set, score = last seen (Unix ms)
//	web:idx:sdk:{id}       sorted set of findings whose observations name SDK id
//	web:idx:basis:{cit}    sorted set of findings citing an article ("pipl:17")
//	web:idx:of             hash fp -> the sdk:… and basis:… sets it is in (to drop stale memberships)
//
// The SDK and basis sets score a finding like idx:all (severity rank × 1e13 + last seen ms), so the
// list script can walk them in list order and apply the severity as a score range; they follow a
// re-scan's new score at the next sync.
//
// and, in memory, a lower-cased text per finding (subject, target, host, URL, label, title) for the
// full-text search. It notices new and re-observed findings by their idx:all score, which holds
// the last-seen time: every interval it reads the score range above the newest it has seen for each
// severity, and once a minute it walks idx:all with ZSCAN (small chunks, so Redis is never blocked)
// to catch anything else. A finding is therefore searchable a few seconds after a scan writes it.
type indexer struct {
	rdb redis.UniversalClient
	p   string // store prefix
	log *slog.Logger

	mu       sync.RWMutex
	entries  map[string]*ixEntry
	maxLast  [6]int64 // per severity rank: newest last-seen ms seen
	lastFull time.Time
	ready    bool

	// flat is every entry's text in one buffer ("\x00"-separated, lower-cased) so that a search
	// is a few bytes.Index calls over contiguous memory rather than 100,000 small ones; it is
	// rebuilt on the first search after the index changed.
	flatMu  sync.Mutex
	dirty   bool
	flat    []byte
	flatOff []int // start of entry k in flat
	flatFP  []string
	flatE   []*ixEntry
}

type ixEntry struct {
	score  float64
	hay    string
	rule   string
	target string
	sdks   []string
}

const (
	fullSweepEvery = time.Minute
	ixChunk        = 500
	maxHay         = 2048
)

func newIndexer(rdb redis.UniversalClient, prefix string, log *slog.Logger) *indexer {
	return &indexer{rdb: rdb, p: prefix, log: log, entries: map[string]*ixEntry{}}
}

func (ix *indexer) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := ix.sync(ctx, false); err != nil && ctx.Err() == nil {
			ix.log.Warn("web index sync", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sync catches up with the store; full forces a sweep of every finding.
func (ix *indexer) sync(ctx context.Context, full bool) error {
	ix.mu.RLock()
	sweep := full || time.Since(ix.lastFull) > fullSweepEvery
	maxLast := ix.maxLast
	ix.mu.RUnlock()
	changed := map[string]float64{}
	if sweep {
		var cursor uint64
		for {
			kv, next, err := ix.rdb.ZScan(ctx, ix.p+"idx:all", cursor, "", 2000).Result()
			if err != nil {
				return err
			}
			ix.mu.RLock()
			for i := 0; i+1 < len(kv); i += 2 {
				sc, _ := strconv.ParseFloat(kv[i+1], 64)
				if e, ok := ix.entries[kv[i]]; !ok || e.score != sc {
					changed[kv[i]] = sc
				}
			}
			ix.mu.RUnlock()
			cursor = next
			if cursor == 0 {
				break
			}
		}
	} else {
		for r := 1; r <= 5; r++ {
			lo := float64(r)*1e13 + float64(max(0, maxLast[r]-120_000))
			zs, err := ix.rdb.ZRangeByScoreWithScores(ctx, ix.p+"idx:all", &redis.ZRangeBy{
				Min: strconv.FormatFloat(lo, 'f', 0, 64), Max: "(" + strconv.FormatFloat(float64(r+1)*1e13, 'f', 0, 64),
			}).Result()
			if err != nil {
				return err
			}
			ix.mu.RLock()
			for _, z := range zs {
				fp, _ := z.Member.(string)
				if e, ok := ix.entries[fp]; !ok || e.score != z.Score {
					changed[fp] = z.Score
				}
			}
			ix.mu.RUnlock()
		}
	}
	fps := make([]string, 0, len(changed))
	for fp := range changed {
		fps = append(fps, fp)
	}
	for start := 0; start < len(fps); start += ixChunk {
		if err := ix.update(ctx, fps[start:min(start+ixChunk, len(fps))], changed); err != nil {
			return err
		}
	}
	ix.mu.Lock()
	if sweep {
		ix.lastFull = time.Now()
	}
	ix.ready = true
	ix.mu.Unlock()
	return nil
}

type ixContent struct {
	Subject    string `json:"subject"`
	TargetID   string `json:"target_id"`
	RuleID     string `json:"rule_id"`
	LegalBasis []struct {
		Instrument string `json:"instrument"`
		Article    string `json:"article"`
	} `json:"legal_basis"`
	Observations []struct {
		Kind       string         `json:"kind"`
		Subject    string         `json:"subject"`
		Attributes map[string]any `json:"attributes"`
	} `json:"observations"`
}

func (ix *indexer) update(ctx context.Context, fps []string, scores map[string]float64) error {
	pipe := ix.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(fps))
	olds := make([]*redis.StringCmd, len(fps))
	for i, fp := range fps {
		cmds[i] = pipe.HMGet(ctx, ix.p+"finding:"+fp, "json", "first_seen", "last_seen")
		olds[i] = pipe.HGet(ctx, ix.p+"web:idx:of", fp)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return err
	}
	write := ix.rdb.Pipeline()
	type upd struct {
		fp string
		e  *ixEntry
	}
	var ups []upd
	for i, fp := range fps {
		v := cmds[i].Val()
		raw, _ := v[0].(string)
		if raw == "" {
			continue
		}
		var c ixContent
		if json.Unmarshal([]byte(raw), &c) != nil {
			continue
		}
		fsStr, _ := v[1].(string)
		lsStr, _ := v[2].(string)
		first, _ := time.Parse(time.RFC3339Nano, fsStr)
		last, _ := time.Parse(time.RFC3339Nano, lsStr)
		e := &ixEntry{score: scores[fp], rule: c.RuleID, target: c.TargetID}
		var hay strings.Builder
		add := func(s string) {
			if s != "" && hay.Len() < maxHay {
				hay.WriteString(strings.ToLower(s))
				hay.WriteByte(0)
			}
		}
		add(c.Subject)
		add(c.TargetID)
		for _, o := range c.Observations {
			for _, k := range []string{"label", "package", "host", "url", "title", "appid", "quote"} {
				if sv, ok := o.Attributes[k].(string); ok {
					add(sv)
				}
			}
			if sdk, ok := o.Attributes["sdk"].(string); ok && sdk != "" && ruleRE.MatchString(sdk) && !slices.Contains(e.sdks, sdk) {
				e.sdks = append(e.sdks, sdk)
			}
		}
		slices.Sort(e.sdks)
		e.hay = hay.String()
		write.ZAdd(ctx, ix.p+"web:idx:first", redis.Z{Score: float64(first.UnixMilli()), Member: fp})
		write.ZAdd(ctx, ix.p+"web:idx:last", redis.Z{Score: float64(last.UnixMilli()), Member: fp})
		var sets []string
		for _, sdk := range e.sdks {
			sets = append(sets, "sdk:"+sdk)
		}
		for _, c := range c.LegalBasis {
			if k := "basis:" + c.Instrument + ":" + c.Article; len(k) < 80 && !slices.Contains(sets, k) {
				sets = append(sets, k)
			}
		}
		var oldSets []string
		if old := olds[i].Val(); old != "" {
			oldSets = strings.Split(old, "\n")
		}
		for _, k := range oldSets {
			if !slices.Contains(sets, k) {
				write.ZRem(ctx, ix.p+"web:idx:"+k, fp)
			}
		}
		for _, k := range sets {
			write.ZAdd(ctx, ix.p+"web:idx:"+k, redis.Z{Score: e.score, Member: fp})
		}
		if len(sets) > 0 {
			write.HSet(ctx, ix.p+"web:idx:of", fp, strings.Join(sets, "\n"))
		} else if len(oldSets) > 0 {
			write.HDel(ctx, ix.p+"web:idx:of", fp)
		}
		ups = append(ups, upd{fp, e})
	}
	if _, err := write.Exec(ctx); err != nil {
		return err
	}
	ix.mu.Lock()
	ix.dirty = ix.dirty || len(ups) > 0
	for _, u := range ups {
		ix.entries[u.fp] = u.e
		r := int(u.e.score / 1e13)
		if r >= 1 && r <= 5 {
			ms := int64(u.e.score) - int64(r)*1e13
			ix.maxLast[r] = max(ix.maxLast[r], ms)
		}
	}
	ix.mu.Unlock()
	return nil
}

// search returns up to limit fingerprints whose text contains q (case-insensitive), whose rule is
// in rules or whose target is in targets; more is true when there were more.
func (ix *indexer) search(q string, rules map[string]bool, targets []string, limit int) ([]string, bool) {
	lq := []byte(strings.ToLower(q))
	tset := map[string]bool{}
	for _, t := range targets {
		tset[t] = true
	}
	ix.flatMu.Lock()
	defer ix.flatMu.Unlock()
	ix.mu.RLock()
	if ix.dirty || ix.flatOff == nil {
		ix.flat, ix.flatOff, ix.flatFP, ix.flatE = ix.flat[:0], ix.flatOff[:0], ix.flatFP[:0], ix.flatE[:0]
		for fp, e := range ix.entries {
			ix.flatOff = append(ix.flatOff, len(ix.flat))
			ix.flatFP = append(ix.flatFP, fp)
			ix.flatE = append(ix.flatE, e)
			ix.flat = append(ix.flat, e.hay...)
			ix.flat = append(ix.flat, 0)
		}
		ix.dirty = false
	}
	ix.mu.RUnlock()
	out := make([]string, 0, 64)
	hit := make([]bool, len(ix.flatFP))
	add := func(k int) bool {
		if hit[k] {
			return true
		}
		if len(out) == limit {
			return false
		}
		hit[k] = true
		out = append(out, ix.flatFP[k])
		return true
	}
	if len(lq) > 0 && !bytes.Contains(lq, []byte{0}) {
		for pos := 0; pos < len(ix.flat); {
			i := bytes.Index(ix.flat[pos:], lq)
			if i < 0 {
				break
			}
			k := sort.SearchInts(ix.flatOff, pos+i+1) - 1
			if !add(k) {
				return out, true
			}
			if k+1 < len(ix.flatOff) {
				pos = ix.flatOff[k+1]
			} else {
				break
			}
		}
	}
	if len(rules) > 0 || len(tset) > 0 {
		for k, e := range ix.flatE {
			if (rules[e.rule] || tset[e.target]) && !add(k) {
				return out, true
			}
		}
	}
	return out, false
}

// sdkIDs lists the SDKs that appear in findings.
func (ix *indexer) sdkIDs() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	seen := map[string]bool{}
	for _, e := range ix.entries {
		for _, s := range e.sdks {
			seen[s] = true
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// size is the number of findings indexed.
func (ix *indexer) size() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.entries)
}
