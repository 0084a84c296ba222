package web

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strings"
	"sync"

	"pilmon/findings"
)

// ixSnapshot is an immutable view of every finding for the list: the rows in the default list
// order read backwards (ascending by the store's score, then fingerprint, exactly as Redis orders
// idx:all), one column per field a filter compares, and a posting list (ascending positions) per
// value of each field. A query walks the shortest posting list its filter names and checks the
// rest on the columns.
type ixSnapshot struct {
	rows []*ixEntry

	stateCol, ruleCol, targetCol []int32 // interned ids, see the *ID maps
	sevCol                       []int8
	firstCol, lastCol            []int64

	stateID, ruleID, targetID map[string]int32
	targetName                []string // by interned id

	byState, byRule, byTarget map[string][]int32
	bySev                     [6][]int32
	byBasis, bySDK            map[string][]int32

	// Built on first use: the positions in first-seen and last-seen order (ascending by date, then
	// fingerprint) and each position's rank in them.
	dateOnce  [2]sync.Once
	dateOrder [2][]int32
	dateRank  [2][]int32
	sig       []signature // by position, see signatureOf
}

const (
	sortDefault = iota
	sortFirst
	sortLast
)

func buildSnapshot(rows []*ixEntry) *ixSnapshot {
	slices.SortFunc(rows, func(a, b *ixEntry) int {
		return cmp.Or(cmp.Compare(a.score, b.score), strings.Compare(a.fp, b.fp))
	})
	n := len(rows)
	sn := &ixSnapshot{
		rows: rows, stateCol: make([]int32, n), ruleCol: make([]int32, n), targetCol: make([]int32, n),
		sevCol: make([]int8, n), firstCol: make([]int64, n), lastCol: make([]int64, n), sig: make([]signature, n),
		stateID: map[string]int32{}, ruleID: map[string]int32{}, targetID: map[string]int32{},
		byState: map[string][]int32{}, byRule: map[string][]int32{}, byTarget: map[string][]int32{},
		byBasis: map[string][]int32{}, bySDK: map[string][]int32{},
	}
	intern := func(m map[string]int32, k string) int32 {
		id, ok := m[k]
		if !ok {
			id = int32(len(m))
			m[k] = id
		}
		return id
	}
	for i, e := range rows {
		p := int32(i)
		sn.stateCol[i] = intern(sn.stateID, e.state)
		sn.ruleCol[i] = intern(sn.ruleID, e.rule)
		t := intern(sn.targetID, e.target)
		if int(t) == len(sn.targetName) {
			sn.targetName = append(sn.targetName, e.target)
		}
		sn.targetCol[i] = t
		sn.sevCol[i] = int8(e.sev)
		sn.firstCol[i], sn.lastCol[i] = e.first, e.last
		sn.sig[i] = e.sig
		sn.byState[e.state] = append(sn.byState[e.state], p)
		sn.byRule[e.rule] = append(sn.byRule[e.rule], p)
		sn.byTarget[e.target] = append(sn.byTarget[e.target], p)
		if e.sev >= 0 && e.sev < len(sn.bySev) {
			sn.bySev[e.sev] = append(sn.bySev[e.sev], p)
		}
		for _, b := range e.bases {
			sn.byBasis[b] = append(sn.byBasis[b], p)
		}
		for _, s := range e.sdks {
			sn.bySDK[s] = append(sn.bySDK[s], p)
		}
	}
	return sn
}

// order returns the positions in date order k (sortFirst or sortLast) and their ranks.
func (sn *ixSnapshot) order(k int) ([]int32, []int32) {
	i := k - sortFirst
	sn.dateOnce[i].Do(func() {
		col := sn.firstCol
		if k == sortLast {
			col = sn.lastCol
		}
		ord := make([]int32, len(sn.rows))
		for p := range ord {
			ord[p] = int32(p)
		}
		slices.SortFunc(ord, func(a, b int32) int {
			return cmp.Or(cmp.Compare(col[a], col[b]), strings.Compare(sn.rows[a].fp, sn.rows[b].fp))
		})
		rank := make([]int32, len(ord))
		for r, p := range ord {
			rank[p] = int32(r)
		}
		sn.dateOrder[i], sn.dateRank[i] = ord, rank
	})
	return sn.dateOrder[i], sn.dateRank[i]
}

// ixQuery is a Filter resolved against a snapshot's values.
type ixQuery struct {
	state, rule, target, basis, sdk string // "" = any
	sev                             int    // severity rank, 0 = any
	// targets, when not nil, are the targets a finding's must be one of (an app category's).
	targets map[string]bool
	// text, when set, must occur in the finding's searchable text, unless its rule is in textRules
	// or its target in textTargets (a search for a rule title or a target name).
	text                   string
	textRules, textTargets map[string]bool
	firstLo, firstHi       int64 // [lo, hi) in Unix ms
	lastLo, lastHi         int64
	sort                   int
	asc                    bool
	off, lim               int
}

func anyTime() (int64, int64) { return math.MinInt64, math.MaxInt64 }

// bitset is a set of positions.
type bitset []uint64

func newBitset(n int) bitset      { return make(bitset, (n+63)/64) }
func (b bitset) set(p int32)      { b[p>>6] |= 1 << (uint(p) & 63) }
func (b bitset) has(p int32) bool { return b[p>>6]&(1<<(uint(p)&63)) != 0 }
func (b bitset) addAll(ps []int32) {
	for _, p := range ps {
		b.set(p)
	}
}

// A term is one condition of a query: the ascending positions that meet it, and how to test one
// position (a column comparison, else a bitset of the positions, built when first needed).
type term struct {
	list []int32
	kind int
	id   int32
	bits bitset
}

const (
	termState = iota
	termRule
	termTarget
	termCategory
	termBits
)

// clip returns the part of an ascending position list inside [lo, hi).
func clip(l []int32, lo, hi int) []int32 {
	i, _ := slices.BinarySearch(l, int32(lo))
	j, _ := slices.BinarySearch(l, int32(hi))
	return l[i:j]
}

// query returns the number of matching findings and the page [off, off+lim) of them in the
// requested order.
//
// The severity is the high part of the list order, so it is a range of positions; every other
// condition is a posting list clipped to that range. The shortest list is walked and the others are
// tested per position; with a single condition the list is the answer and nothing is walked.
func (sn *ixSnapshot) query(q ixQuery) (int, []*ixEntry) {
	n := len(sn.rows)
	lo, hi := 0, n
	if q.sev > 0 {
		// Positions ascend by severity rank, so the rank's positions are one run.
		lo = sort.Search(n, func(i int) bool { return int(sn.sevCol[i]) >= q.sev })
		hi = sort.Search(n, func(i int) bool { return int(sn.sevCol[i]) > q.sev })
	}
	var terms []*term
	add := func(m map[string][]int32, v string, kind int, ids map[string]int32) bool {
		if v == "" {
			return true
		}
		l := clip(m[v], lo, hi)
		if len(l) == 0 {
			return false
		}
		t := &term{list: l, kind: kind}
		if ids != nil {
			t.id = ids[v]
		}
		terms = append(terms, t)
		return true
	}
	if lo >= hi || !add(sn.byState, q.state, termState, sn.stateID) || !add(sn.byRule, q.rule, termRule, sn.ruleID) ||
		!add(sn.byTarget, q.target, termTarget, sn.targetID) || !add(sn.byBasis, q.basis, termBits, nil) ||
		!add(sn.bySDK, q.sdk, termBits, nil) {
		return 0, nil
	}
	var inCat []bool // by interned target id
	if q.targets != nil {
		inCat = make([]bool, len(sn.targetName))
		var u []int32
		for t := range q.targets {
			if id, ok := sn.targetID[t]; ok {
				inCat[id] = true
				u = append(u, clip(sn.byTarget[t], lo, hi)...)
			}
		}
		if len(u) == 0 {
			return 0, nil
		}
		slices.Sort(u)
		terms = append(terms, &term{list: u, kind: termCategory})
	}
	if q.text != "" || len(q.textRules) > 0 || len(q.textTargets) > 0 {
		l := clip(sn.search(q.text, q.textRules, q.textTargets), lo, hi)
		if len(l) == 0 {
			return 0, nil
		}
		terms = append(terms, &term{list: l, kind: termBits})
	}
	hasFirst := q.firstLo != math.MinInt64 || q.firstHi != math.MaxInt64
	hasLast := q.lastLo != math.MinInt64 || q.lastHi != math.MaxInt64
	// The walked list: the shortest, else every position in [lo, hi).
	var base *term
	for _, t := range terms {
		if base == nil || len(t.list) < len(base.list) {
			base = t
		}
	}
	m := hi - lo
	at := func(k int) int32 { return int32(lo + k) }
	if base != nil {
		m = len(base.list)
		at = func(k int) int32 { return base.list[k] }
	}
	has := func(t *term, p int32) bool {
		switch t.kind {
		case termState:
			return sn.stateCol[p] == t.id
		case termRule:
			return sn.ruleCol[p] == t.id
		case termTarget:
			return sn.targetCol[p] == t.id
		case termCategory:
			return inCat[sn.targetCol[p]]
		}
		if t.bits == nil {
			t.bits = newBitset(n)
			t.bits.addAll(t.list)
		}
		return t.bits.has(p)
	}
	// match tests a position against every condition but skip's (the walked list's own).
	match := func(p int32, skip *term) bool {
		if hasFirst && (sn.firstCol[p] < q.firstLo || sn.firstCol[p] >= q.firstHi) {
			return false
		}
		if hasLast && (sn.lastCol[p] < q.lastLo || sn.lastCol[p] >= q.lastHi) {
			return false
		}
		for _, t := range terms {
			if t != skip && !has(t, p) {
				return false
			}
		}
		return true
	}
	pure := len(terms) <= 1 && !hasFirst && !hasLast
	if pure && q.sort == sortDefault {
		return m, sn.pageOf(m, q, at)
	}
	// Count (and, in the default order, keep the page) in one pass over the walked list.
	total := m
	var page []*ixEntry
	if !pure {
		total = 0
		for k := range m {
			kk := k
			if !q.asc {
				kk = m - 1 - k
			}
			p := at(kk)
			if !match(p, base) {
				continue
			}
			total++
			if q.sort == sortDefault && total > q.off && len(page) < q.lim {
				page = append(page, sn.rows[p])
			}
		}
	}
	if q.sort == sortDefault || q.off >= total {
		return total, page
	}
	ord, rank := sn.order(q.sort)
	if total*16 < n {
		// Few matches: collect them and sort them by their rank in the date order.
		matches := make([]int32, 0, total)
		for k := range m {
			if p := at(k); pure || match(p, base) {
				matches = append(matches, p)
			}
		}
		slices.SortFunc(matches, func(a, b int32) int {
			if q.asc {
				return cmp.Compare(rank[a], rank[b])
			}
			return cmp.Compare(rank[b], rank[a])
		})
		for _, p := range matches[q.off:min(total, q.off+q.lim)] {
			page = append(page, sn.rows[p])
		}
		return total, page
	}
	// Many: walk the date order until the page is full.
	seen := 0
	for k := range ord {
		kk := k
		if !q.asc {
			kk = len(ord) - 1 - k
		}
		p := ord[kk]
		if int(p) < lo || int(p) >= hi || !match(p, nil) {
			continue
		}
		if seen++; seen > q.off {
			page = append(page, sn.rows[p])
			if len(page) == q.lim {
				break
			}
		}
	}
	return total, page
}

// pageOf returns the page of a list of total positions given by at(k), k ascending in list order
// read backwards.
func (sn *ixSnapshot) pageOf(total int, q ixQuery, at func(int) int32) []*ixEntry {
	var page []*ixEntry
	for k := q.off; k < min(total, q.off+q.lim); k++ {
		kk := k
		if !q.asc {
			kk = total - 1 - k
		}
		page = append(page, sn.rows[at(kk)])
	}
	return page
}

// trigram signatures: each entry's searchable text sets one bit of 256 per distinct byte trigram
// (hashed), so that a search tests 32 bytes per finding and reads the text only of findings whose
// signature holds every trigram of the term.
type signature [4]uint64

func trigramBit(a, b, c byte) uint {
	return uint((uint32(a)<<16|uint32(b)<<8|uint32(c))*2654435761) >> 24
}

func signatureOf(s string) signature {
	var sg signature
	for i := 0; i+2 < len(s); i++ {
		bit := trigramBit(s[i], s[i+1], s[i+2])
		sg[bit>>6] |= 1 << (bit & 63)
	}
	return sg
}

// search returns, ascending, the positions whose text contains q (case-insensitive), whose rule is
// in ruleSet or whose target is in targetSet.
func (sn *ixSnapshot) search(q string, ruleSet, targetSet map[string]bool) []int32 {
	lq := strings.ToLower(q)
	var hit bitset
	mark := func(p int32) {
		if hit == nil {
			hit = newBitset(len(sn.rows))
		}
		hit.set(p)
	}
	for r := range ruleSet {
		for _, p := range sn.byRule[r] {
			mark(p)
		}
	}
	for t := range targetSet {
		for _, p := range sn.byTarget[t] {
			mark(p)
		}
	}
	var out []int32
	if lq != "" && !strings.Contains(lq, "\x00") {
		want := signatureOf(lq)
		for p, e := range sn.rows {
			sg := &sn.sig[p]
			if sg[0]&want[0] == want[0] && sg[1]&want[1] == want[1] && sg[2]&want[2] == want[2] &&
				sg[3]&want[3] == want[3] && strings.Contains(e.hay, lq) {
				mark(int32(p))
			}
		}
	}
	if hit == nil {
		return nil
	}
	for w, word := range hit {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			out = append(out, int32(w*64+b))
			word &= word - 1
		}
	}
	return out
}

// countFirstSeen counts the findings first seen in each [bounds[i], bounds[i+1]) (Unix ms).
func (sn *ixSnapshot) countFirstSeen(bounds []int64) []int64 {
	out := make([]int64, max(0, len(bounds)-1))
	if len(out) == 0 {
		return out
	}
	for _, t := range sn.firstCol {
		if t < bounds[0] || t >= bounds[len(bounds)-1] {
			continue
		}
		i := sort.Search(len(bounds), func(i int) bool { return bounds[i] > t }) - 1
		out[i]++
	}
	return out
}

// sdkIDs lists the SDKs that appear in findings.
func (sn *ixSnapshot) sdkIDs() []string {
	out := make([]string, 0, len(sn.bySDK))
	for s := range sn.bySDK {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// rowsOf returns the list rows of a page.
func rowsOf(page []*ixEntry) []findings.Finding {
	out := make([]findings.Finding, len(page))
	for i, e := range page {
		out[i] = e.row()
	}
	return out
}
