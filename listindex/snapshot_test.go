package listindex

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naiveQuery is the list query written the obvious way: filter every entry, sort, cut the page.
func naiveQuery(entries []*Entry, q Query) (int, []string) {
	var m []*Entry
	for _, e := range entries {
		textOK := q.Text == "" && len(q.TextRules) == 0 && len(q.TextTargets) == 0
		if !textOK {
			// The searchable text separates fields with NUL: a term holding one matches no text.
			textOK = (q.Text != "" && !strings.Contains(q.Text, "\x00") && strings.Contains(e.hay, strings.ToLower(q.Text))) ||
				q.TextRules[e.rule] || q.TextTargets[e.target]
		}
		if (q.State != "" && e.state != q.State) || (q.Rule != "" && e.rule != q.Rule) || (q.Target != "" && e.target != q.Target) ||
			(q.Sev > 0 && e.sev != q.Sev) || (q.Basis != "" && !slices.Contains(e.bases, q.Basis)) ||
			(q.SDK != "" && !slices.Contains(e.sdks, q.SDK)) || (q.Targets != nil && !q.Targets[e.target]) ||
			e.first < q.FirstLo || e.first >= q.FirstHi || e.last < q.LastLo || e.last >= q.LastHi || !textOK {
			continue
		}
		m = append(m, e)
	}
	key := func(e *Entry) int64 {
		switch q.Sort {
		case SortFirst:
			return e.first
		case SortLast:
			return e.last
		}
		return e.score
	}
	slices.SortFunc(m, func(a, b *Entry) int {
		c := cmp.Or(cmp.Compare(key(a), key(b)), strings.Compare(a.fp, b.fp))
		if !q.Asc {
			c = -c
		}
		return c
	})
	var page []string
	for i := q.Off; i < min(len(m), q.Off+q.Lim); i++ {
		page = append(page, m[i].fp)
	}
	return len(m), page
}

// randomEntries makes n entries over few values, so that every filter has matches, ties on dates
// and scores included.
func randomEntries(r *rand.Rand, n int) []*Entry {
	states := []string{"new", "in_review", "dismissed", "closed"}
	words := []string{"umeng", "host", "定位", "imei", "Example", "上报"}
	var out []*Entry
	for i := range n {
		sev := 1 + r.IntN(5)
		last := int64(1_700_000_000_000 + r.IntN(40)*86_400_000)
		e := &Entry{fp: fmt.Sprintf("%032x", r.Uint64()%uint64(n*4+1)*7919+uint64(i)), sev: sev,
			score: int64(sev)*1e13 + last, first: last - int64(r.IntN(20))*86_400_000, last: last,
			state: states[r.IntN(len(states))], rule: fmt.Sprintf("rule.%d", r.IntN(8)), target: fmt.Sprintf("t%d", r.IntN(6)),
			subject: fmt.Sprintf("s%d", i)}
		for range r.IntN(3) {
			if b := fmt.Sprintf("pipl:%d", 13+r.IntN(4)); !slices.Contains(e.bases, b) {
				e.bases = append(e.bases, b)
			}
		}
		for range r.IntN(3) {
			if s := []string{"umeng_analytics", "jpush", "getui"}[r.IntN(3)]; !slices.Contains(e.sdks, s) {
				e.sdks = append(e.sdks, s)
			}
		}
		e.hay = strings.ToLower(fmt.Sprintf("%s %s\x00%s%d", words[r.IntN(len(words))], words[r.IntN(len(words))], e.target, r.IntN(100)))
		e.sig = signatureOf(e.hay)
		out = append(out, e)
	}
	return out
}

func randomQuery(r *rand.Rand) Query {
	q := Query{Off: r.IntN(4) * []int{1, 5, 20}[r.IntN(3)], Lim: []int{1, 5, 20, 50}[r.IntN(4)], Sort: r.IntN(3), Asc: r.IntN(3) == 0}
	q.FirstLo, q.FirstHi = AnyTime()
	q.LastLo, q.LastHi = AnyTime()
	pick := func(p int, vs ...string) string {
		if r.IntN(p) == 0 {
			return vs[r.IntN(len(vs))]
		}
		return ""
	}
	q.State = pick(2, "new", "in_review", "dismissed", "closed", "suit_filed")
	q.Rule = pick(3, "rule.0", "rule.1", "rule.2", "rule.9")
	q.Target = pick(4, "t0", "t1", "t5", "t9")
	q.Basis = pick(4, "pipl:13", "pipl:14", "pipl:16", "pipl:99")
	q.SDK = pick(4, "umeng_analytics", "jpush", "getui", "bugly")
	if r.IntN(3) == 0 {
		q.Sev = r.IntN(7)
	}
	if r.IntN(5) == 0 {
		q.Targets = map[string]bool{}
		for range r.IntN(3) {
			q.Targets[fmt.Sprintf("t%d", r.IntN(8))] = true
		}
	}
	if r.IntN(4) == 0 {
		q.Text = []string{"umeng", "UMENG", "定位", "os", "t1", "imei 上", "x", "\x00", "host host", "e"}[r.IntN(10)]
	}
	if r.IntN(8) == 0 {
		q.TextRules = map[string]bool{"rule.3": true}
	}
	if r.IntN(8) == 0 {
		q.TextTargets = map[string]bool{"t2": true}
	}
	if r.IntN(4) == 0 {
		q.FirstLo = int64(1_700_000_000_000 + r.IntN(40)*86_400_000)
	}
	if r.IntN(4) == 0 {
		q.LastHi = int64(1_700_000_000_000 + r.IntN(40)*86_400_000)
	}
	return q
}

func checkQuery(t *testing.T, entries []*Entry, sn *Snapshot, q Query) {
	t.Helper()
	wantN, want := naiveQuery(entries, q)
	gotN, page := sn.Query(q)
	var got []string
	for _, e := range page {
		got = append(got, e.fp)
	}
	if gotN != wantN || !slices.Equal(got, want) {
		t.Fatalf("query %#v over %d entries: total %d want %d\n got %v\nwant %v", q, len(entries), gotN, wantN, got, want)
	}
}

// The snapshot's query (posting lists, severity ranges, bitsets, date orders, signatures) answers
// exactly what the obvious filter-sort-page answers, over sizes that take every path: few matches
// sorted by date, many matches walked in date order, a single term answered without a walk.
func TestSnapshotQueryMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 150, 3000} {
		entries := randomEntries(r, n)
		sn := snapshotOf(entries)
		for range 1500 {
			checkQuery(t, entries, sn, randomQuery(r))
		}
	}
}

func snapshotOf(entries []*Entry) *Snapshot {
	m := map[string]*Entry{}
	for _, e := range entries {
		m[e.fp] = e
	}
	return (&Snapshot{}).apply(m, newSlotTable())
}

// Snapshots made change by change (new findings, re-scans that move them in every order, state
// changes, findings gone, slots reused) answer like one made at once, and an older snapshot keeps
// answering as it did (nothing it holds is written by the next).
func TestSnapshotApplyIncremental(t *testing.T) {
	for seed := range uint64(3) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { applyIncrementally(t, seed) })
	}
}

func applyIncrementally(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(8, 9+seed))
	pool := randomEntries(r, 6000)
	live := map[string]*Entry{}
	slots := newSlotTable()
	sn := &Snapshot{}
	for round := range 120 {
		batch := map[string]*Entry{}
		for range 1 + r.IntN([]int{3, 40, 400}[r.IntN(3)]) {
			e := pool[r.IntN(len(pool))]
			switch {
			case live[e.fp] == nil || r.IntN(4) == 0:
				// New, or a re-scan with new dates, state and SDKs.
				c := *randomEntries(r, 1)[0]
				c.fp = e.fp
				batch[e.fp] = &c
			case r.IntN(3) == 0:
				batch[e.fp] = nil
			case r.IntN(2) == 0:
				// A re-scan: seen again later, nothing else changes (it moves in two orders only).
				c := *live[e.fp]
				c.last += int64(1+r.IntN(3)) * 86_400_000
				c.score += int64(1+r.IntN(3)) * 86_400_000
				batch[e.fp] = &c
			default:
				c := *live[e.fp]
				c.state = []string{"new", "in_review", "closed"}[r.IntN(3)]
				batch[e.fp] = &c
			}
		}
		prev, prevLive := sn, maps.Clone(live)
		sn = sn.apply(batch, slots)
		for fp, e := range batch {
			if e == nil {
				delete(live, fp)
			} else {
				live[fp] = e
			}
		}
		entries := slices.Collect(maps.Values(live))
		if sn.n != len(entries) {
			t.Fatalf("round %d: snapshot has %d findings, want %d", round, sn.n, len(entries))
		}
		for range 40 {
			checkQuery(t, entries, sn, randomQuery(r))
		}
		if round%10 == 0 {
			old := slices.Collect(maps.Values(prevLive))
			for range 20 {
				checkQuery(t, old, prev, randomQuery(r))
			}
		}
	}
}

// FuzzSnapshotQuery lets the fuzzer choose the data and the query.
func FuzzSnapshotQuery(f *testing.F) {
	f.Add(uint64(1), uint64(2), uint16(100))
	f.Add(uint64(99), uint64(7), uint16(3))
	f.Add(uint64(5), uint64(5), uint16(2000))
	f.Fuzz(func(t *testing.T, a, b uint64, n uint16) {
		r := rand.New(rand.NewPCG(a, b))
		entries := randomEntries(r, int(n%4000))
		sn := snapshotOf(entries)
		for range 20 {
			checkQuery(t, entries, sn, randomQuery(r))
		}
	})
}

// Trigram signatures never hide a match: a text always contains the signature of its substrings.
func TestSignatureCoversSubstrings(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	alphabet := []rune("ab定位😀\x00Z9")
	for range 2000 {
		var b strings.Builder
		for range r.IntN(40) {
			b.WriteRune(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		sg := signatureOf(s)
		i := r.IntN(len(s) + 1)
		j := i + r.IntN(len(s)-i+1)
		sub := signatureOf(s[i:j])
		for w := range sg {
			if sub[w]&^sg[w] != 0 {
				t.Fatalf("signature of %q does not cover that of its substring %q", s, s[i:j])
			}
		}
	}
}
