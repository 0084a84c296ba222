package policies

import (
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A cond is a condition on the literals a text contains that every match of a pattern satisfies:
// the pattern "(拒绝|不同意)[^。]{0,20}(无法|不能)使用" can only match a sentence that contains 拒绝 or
// 不同意, and 无法使用 or 不能使用. The clause detectors run several dozen patterns over every
// sentence of a policy, and almost every sentence fails one of these conditions; the literals of
// all patterns are found in one scan of the sentence (litTable.scan), so a sentence that cannot
// match costs that scan, not a regexp run per pattern (the same idea as RE2's prefilter and
// Hyperscan's literal factoring, over Go's regexp/syntax tree).
type cond struct {
	op   condOp
	lit  int // condLit: index into the literal table
	subs []cond
}

type condOp uint8

const (
	condTrue condOp = iota // nothing known: always holds
	condLit                // the text contains literal lit
	condAnd
	condOr
)

// litKey is one literal of a cond: a string the text contains, or, when fold, one its foldLower
// contains.
type litKey struct {
	s    string
	fold bool
}

// litTable numbers the distinct literals of a set of patterns and finds which of them a text
// contains, by the first rune of each.
type litTable struct {
	ids  map[litKey]int
	lits []litKey
	// buckets of literals by first rune (of the literal as compared: lower-cased when fold):
	// dense for the Basic Multilingual Plane, where nearly every policy's text is, a map above it
	dense  []int32 // rune → 1 + index into buckets, 0 for none
	sparse map[rune]int32
	bucket []litBucket
	// foldHigh: some case-folded literal starts with a non-ASCII rune, so the scan lower-cases
	// non-ASCII runes too (it need not for Han text otherwise)
	foldHigh bool
}

func newLitTable() *litTable {
	return &litTable{ids: map[litKey]int{}, sparse: map[rune]int32{}}
}

const denseRunes = 1 << 16

func (t *litTable) id(k litKey) int {
	if id, ok := t.ids[k]; ok {
		return id
	}
	id := len(t.lits)
	t.ids[k], t.lits = id, append(t.lits, k)
	return id
}

// index builds the buckets scan reads; it is called once every literal has its id.
func (t *litTable) index() {
	t.dense, t.sparse, t.bucket, t.foldHigh = nil, map[rune]int32{}, nil, false
	for id, k := range t.lits {
		r, _ := utf8.DecodeRuneInString(k.s)
		if k.fold && r >= utf8.RuneSelf {
			t.foldHigh = true
		}
		var b int32
		if r < denseRunes {
			if t.dense == nil {
				t.dense = make([]int32, denseRunes)
			}
			b = t.dense[r]
		} else {
			b = t.sparse[r]
		}
		if b == 0 {
			t.bucket = append(t.bucket, litBucket{})
			b = int32(len(t.bucket))
			if r < denseRunes {
				t.dense[r] = b
			} else {
				t.sparse[r] = b
			}
		}
		t.bucket[b-1].ids = append(t.bucket[b-1].ids, id)
	}
	for i := range t.bucket {
		b := &t.bucket[i]
		if len(b.ids) <= maxFlatBucket {
			continue
		}
		b.second = map[rune][]int{}
		for _, id := range b.ids {
			_, n := utf8.DecodeRuneInString(t.lits[id].s)
			if n == len(t.lits[id].s) {
				b.one = append(b.one, id)
				continue
			}
			r2, _ := utf8.DecodeRuneInString(t.lits[id].s[n:])
			b.second[r2] = append(b.second[r2], id)
		}
	}
}

func (t *litTable) bucketOf(r rune) *litBucket {
	var b int32
	if r < denseRunes {
		if t.dense == nil {
			return nil
		}
		b = t.dense[r]
	} else {
		b = t.sparse[r]
	}
	if b == 0 {
		return nil
	}
	return &t.bucket[b-1]
}

// litBucket holds the literals that start with one rune; a large bucket (不, 本, 您 start dozens of
// the patterns' literals) is split by the second rune.
type litBucket struct {
	ids    []int
	one    []int          // of a large bucket: the literals of one rune
	second map[rune][]int // of a large bucket: the others, by second rune
}

// maxFlatBucket is the size up to which a bucket's literals are each compared with the text.
const maxFlatBucket = 8

// candidates returns the literals of b that text, which starts with b's rune of n bytes, may start
// with.
func (b *litBucket) candidates(text string, n int, fold bool) ([]int, []int) {
	if b.second == nil {
		return b.ids, nil
	}
	r2, _ := utf8.DecodeRuneInString(text[n:])
	if fold {
		r2 = lowerRune(r2)
	}
	return b.one, b.second[r2]
}

// litSet is the set of literals of a table a text contains.
type litSet []uint64

func (s litSet) has(id int) bool { return s[id/64]&(1<<(id%64)) != 0 }

// scan returns the literals of t that text contains (a case-folded one: that foldLower(text)
// contains), as a set and as a list, in one pass over its runes.
func (t *litTable) scan(text string) (litSet, []int) {
	set := make(litSet, (len(t.lits)+63)/64)
	var found []int
	add := func(id int) {
		set[id/64] |= 1 << (id % 64)
		found = append(found, id)
	}
	for i, r := range text {
		n := utf8.RuneLen(r)
		if r == utf8.RuneError {
			_, n = utf8.DecodeRuneInString(text[i:])
		}
		if b := t.bucketOf(r); b != nil {
			xs, ys := b.candidates(text[i:], n, false)
			for _, ids := range [2][]int{xs, ys} {
				for _, id := range ids {
					if k := &t.lits[id]; !k.fold && !set.has(id) && strings.HasPrefix(text[i:], k.s) {
						add(id)
					}
				}
			}
		}
		lr := r
		switch {
		case r < utf8.RuneSelf:
			if 'A' <= r && r <= 'Z' {
				lr = r + 'a' - 'A'
			}
		case t.foldHigh || r == 'ſ' || r == '\u212a' || r == '\u0130':
			// the long s, the Kelvin sign and the dotted capital I lower-case to ASCII letters
			lr = lowerRune(r)
		default:
			continue // no case-folded literal starts with a non-ASCII rune
		}
		if b := t.bucketOf(lr); b != nil {
			xs, ys := b.candidates(text[i:], n, true)
			for _, ids := range [2][]int{xs, ys} {
				for _, id := range ids {
					if k := &t.lits[id]; k.fold && !set.has(id) && hasFoldedPrefix(text[i:], k.s) {
						add(id)
					}
				}
			}
		}
	}
	return set, found
}

// lowerRune is foldLower for one rune.
func lowerRune(r rune) rune {
	if r == 'ſ' {
		return 's'
	}
	return unicode.ToLower(r)
}

// hasFoldedPrefix reports whether foldLower(s) starts with lit (itself lower-cased), without
// lower-casing s: lower-casing maps rune by rune.
func hasFoldedPrefix(s, lit string) bool {
	for _, want := range lit {
		r, n := utf8.DecodeRuneInString(s)
		if n == 0 || lowerRune(r) != want {
			return false
		}
		s = s[n:]
	}
	return true
}

// eval reports whether a text with the literals set satisfies c.
func (c *cond) eval(set litSet) bool { return c.holds(set.has) }

// and is the conjunction of cs, or is their disjunction, flattened; a part that always holds is
// dropped from a conjunction and makes a disjunction always hold.
func and(cs ...cond) cond { return combine(condAnd, cs) }

func or(cs ...cond) cond { return combine(condOr, cs) }

func combine(op condOp, cs []cond) cond {
	var subs []cond
	for _, c := range cs {
		switch c.op {
		case condTrue:
			if op == condOr {
				return cond{} // one alternative may match anything
			}
		case op:
			subs = append(subs, c.subs...)
		default:
			subs = append(subs, c)
		}
	}
	switch len(subs) {
	case 0:
		return cond{}
	case 1:
		return subs[0]
	}
	if op == condAnd {
		// the cheapest part first: a single literal rejects most texts before a long disjunction
		// is tried (guarded checks each literal with strings.Contains)
		sort.SliceStable(subs, func(i, j int) bool { return subs[i].size() < subs[j].size() })
	}
	return cond{op: op, subs: subs}
}

// size is the number of literals in c.
func (c *cond) size() int {
	switch c.op {
	case condLit:
		return 1
	case condAnd, condOr:
		n := 0
		for i := range c.subs {
			n += c.subs[i].size()
		}
		return n
	}
	return 0
}

// Bounds of the analysis: an exact set larger than maxExact strings becomes a condition, and a
// char class of more than maxClassRunes runes is not enumerated.
const (
	maxExact      = 32
	maxClassRunes = 8
	maxCondDepth  = 64
)

// reInfo is what a sub-pattern is known to match: exactly one of a small set of strings (exact),
// or something that satisfies c.
type reInfo struct {
	exact   []litKey
	isExact bool
	c       cond
}

// asCond is the condition a sub-pattern's matches satisfy: for an exact set, containing one of its
// strings (nothing, when one of them is empty).
func (in reInfo) asCond(t *litTable) cond {
	if !in.isExact {
		return in.c
	}
	var subs []cond
	for _, k := range in.exact {
		if k.s == "" {
			return cond{}
		}
		subs = append(subs, cond{op: condLit, lit: t.id(k)})
	}
	return or(subs...)
}

func exactOf(ks ...litKey) reInfo { return reInfo{exact: ks, isExact: true} }

var unknown = reInfo{}

// patternCond derives the condition every match of the pattern expr satisfies, numbering its
// literals in t; a pattern it cannot parse gets the condition that always holds.
func patternCond(t *litTable, expr string) cond {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return cond{}
	}
	return analyse(t, re.Simplify(), 0).asCond(t)
}

func analyse(t *litTable, re *syntax.Regexp, depth int) reInfo {
	if depth > maxCondDepth {
		return unknown
	}
	switch re.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return exactOf(litKey{})
	case syntax.OpStar:
		// matches any number of what it repeats: nothing is known, and a run of exact parts
		// cannot be crossed over it
		return unknown
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 || !cased(re.Rune) {
			// (?i) on Han or digits changes nothing: compared with the text as it is
			return exactOf(litKey{s: string(re.Rune)})
		}
		// compared with foldLower(text): only runes that every case variant of lower-cases to the
		// same rune (ASCII, uncased scripts such as Han)
		for _, r := range re.Rune {
			if r >= utf8.RuneSelf && strings.ToLower(string(r)) != strings.ToUpper(string(r)) {
				return unknown
			}
		}
		return exactOf(litKey{s: foldLower(string(re.Rune)), fold: true})
	case syntax.OpCharClass:
		n := 0
		for i := 0; i+1 < len(re.Rune); i += 2 {
			n += int(re.Rune[i+1]-re.Rune[i]) + 1
			if n > maxClassRunes {
				return unknown
			}
		}
		var ks []litKey
		for i := 0; i+1 < len(re.Rune); i += 2 {
			for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
				ks = append(ks, litKey{s: string(r)})
			}
		}
		if len(ks) == 0 {
			return unknown
		}
		return exactOf(ks...)
	case syntax.OpCapture:
		return analyse(t, re.Sub[0], depth+1)
	case syntax.OpQuest:
		in := analyse(t, re.Sub[0], depth+1)
		if in.isExact && len(in.exact) < maxExact {
			return exactOf(append(append([]litKey{}, in.exact...), litKey{})...)
		}
		return unknown
	case syntax.OpPlus:
		return reInfo{c: analyse(t, re.Sub[0], depth+1).asCond(t)}
	case syntax.OpRepeat:
		if re.Min == 0 {
			return unknown
		}
		return reInfo{c: analyse(t, re.Sub[0], depth+1).asCond(t)}
	case syntax.OpAlternate:
		subs := make([]reInfo, len(re.Sub))
		allExact, n := true, 0
		for i, sub := range re.Sub {
			subs[i] = analyse(t, sub, depth+1)
			allExact = allExact && subs[i].isExact
			n += len(subs[i].exact)
		}
		if allExact && n <= maxExact {
			var ks []litKey
			for _, s := range subs {
				ks = append(ks, s.exact...)
			}
			return exactOf(ks...)
		}
		cs := make([]cond, len(subs))
		for i, s := range subs {
			cs[i] = s.asCond(t)
		}
		return reInfo{c: or(cs...)}
	case syntax.OpConcat:
		// runs of exact parts are crossed into one exact set while it stays small; every other
		// part, and every run that grew too large, is a condition of its own
		var conds []cond
		cur := exactOf(litKey{})
		for _, sub := range re.Sub {
			in := analyse(t, sub, depth+1)
			if in.isExact {
				if x, ok := cross(cur.exact, in.exact); ok {
					cur.exact = x
					continue
				}
				conds = append(conds, cur.asCond(t))
				cur = in
				continue
			}
			conds = append(conds, cur.asCond(t), in.c)
			cur = exactOf(litKey{})
		}
		if len(conds) == 0 {
			return cur
		}
		return reInfo{c: and(append(conds, cur.asCond(t))...)}
	}
	return unknown
}

// cross is every string of a followed by one of b, if there are at most maxExact of them. A string
// with a case-folded part is compared with the lower-cased text as a whole: lower-casing maps rune
// by rune, so a text containing it contains its lower-cased form.
func cross(a, b []litKey) ([]litKey, bool) {
	if len(a)*len(b) > maxExact {
		return nil, false
	}
	out := make([]litKey, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			k := litKey{s: x.s + y.s, fold: x.fold || y.fold}
			if k.fold {
				k.s = foldLower(k.s)
			}
			out = append(out, k)
		}
	}
	return out, true
}

// cased reports whether a case-folded literal has a rune with another case.
func cased(rs []rune) bool {
	for _, r := range rs {
		if unicode.SimpleFold(r) != r {
			return true
		}
	}
	return false
}

// guarded is a regexp that runs only on a text holding the literals its matches need: for a
// pattern tried alone on every sentence of a policy (an exclusion, a sense of a term), where a
// shared scan (litTable.scan) would not pay, the condition is checked with strings.Contains.
type guarded struct {
	*regexp.Regexp
	need cond
	lits []litKey
}

func guard(re *regexp.Regexp) guarded {
	lt := newLitTable()
	return guarded{Regexp: re, need: patternCond(lt, re.String()), lits: lt.lits}
}

// MatchString reports whether s holds the literals and matches the regexp.
func (g guarded) MatchString(s string) bool {
	if g.need.op != condTrue {
		lower, lowered := "", false
		has := func(id int) bool {
			k := g.lits[id]
			if !k.fold {
				return strings.Contains(s, k.s)
			}
			if !lowered {
				lower, lowered = foldLower(s), true
			}
			return strings.Contains(lower, k.s)
		}
		if !g.need.holds(has) {
			return false
		}
	}
	return g.Regexp.MatchString(s)
}

// holds reports whether a text satisfies c, has telling which literals it contains.
func (c *cond) holds(has func(int) bool) bool {
	switch c.op {
	case condLit:
		return has(c.lit)
	case condAnd:
		for i := range c.subs {
			if !c.subs[i].holds(has) {
				return false
			}
		}
		return true
	case condOr:
		for i := range c.subs {
			if c.subs[i].holds(has) {
				return true
			}
		}
		return false
	}
	return true
}
