package policies

import (
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// prefilter holds literals one of which every match of a pattern must contain, found from the
// pattern's syntax tree. Checking them with strings.Contains is much cheaper than running the
// regexp, and almost every sentence of a policy fails the check for almost every pattern (the
// same idea as trufflehog's keyword pass before its detectors).
type prefilter struct {
	lits []literal // empty: no usable literal, always run the regexp
	// exact: the pattern is nothing but its literals, case kept ("收集|获取|采集"), so a sentence
	// matches it exactly when it contains one of them and the regexp need not run
	exact bool
}

type literal struct {
	s    string
	fold bool // compare against the lower-cased sentence
	sig  keySig
}

// foldLower lower-cases s the way the prefilter compares case-folded literals: strings.ToLower
// plus the long s, which (?i)s matches but ToLower keeps (the Kelvin sign already becomes k).
func foldLower(s string) string {
	l := strings.ToLower(s)
	if strings.Contains(l, "ſ") {
		l = strings.ReplaceAll(l, "ſ", "s")
	}
	return l
}

// mayMatch reports whether text (and foldLower(text)) contains one of the literals.
func (p prefilter) mayMatch(text, lower string) bool {
	if len(p.lits) == 0 {
		return true
	}
	for _, l := range p.lits {
		if l.fold {
			if strings.Contains(lower, l.s) {
				return true
			}
		} else if strings.Contains(text, l.s) {
			return true
		}
	}
	return false
}

// mayMatchSent is mayMatch for a sentence, whose sigs skip the literals it cannot contain.
func (p prefilter) mayMatchSent(s *sentence) bool {
	if len(p.lits) == 0 {
		return true
	}
	for i := range p.lits {
		l := &p.lits[i]
		if !s.mayHave(&l.sig, l.fold) {
			continue
		}
		if l.fold {
			if strings.Contains(s.lower, l.s) {
				return true
			}
		} else if strings.Contains(s.text, l.s) {
			return true
		}
	}
	return false
}

// newPrefilter derives the literals of expr; a pattern it cannot analyse gets none.
func newPrefilter(expr string) prefilter {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return prefilter{}
	}
	re = re.Simplify()
	lits, ok := required(re, 0)
	if !ok {
		return prefilter{}
	}
	for i := range lits {
		lits[i].sig = newKeySig(lits[i].s)
	}
	return prefilter{lits: lits, exact: onlyLiterals(re)}
}

// onlyLiterals reports whether re is a case-sensitive literal or an alternation of them, in
// capture groups or not: what it matches is exactly a string containing one of them.
func onlyLiterals(re *syntax.Regexp) bool {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) > 0 && re.Flags&syntax.FoldCase == 0
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if !onlyLiterals(sub) {
				return false
			}
		}
		return true
	}
	return false
}

const maxLiterals = 64

// required returns a set of literals one of which every match of re contains.
func required(re *syntax.Regexp, depth int) ([]literal, bool) {
	if depth > 32 {
		return nil, false
	}
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) == 0 {
			return nil, false
		}
		fold := re.Flags&syntax.FoldCase != 0
		s := string(re.Rune)
		if fold {
			// strings.ToLower of the sentence must map the literal the same way; keep ASCII
			// and scripts without case (Han) only.
			for _, r := range re.Rune {
				if r >= utf8.RuneSelf && strings.ToLower(string(r)) != strings.ToUpper(string(r)) {
					return nil, false
				}
			}
			s = strings.ToLower(s)
		}
		return []literal{{s: s, fold: fold}}, true
	case syntax.OpCapture:
		return required(re.Sub[0], depth+1)
	case syntax.OpPlus:
		return required(re.Sub[0], depth+1)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0], depth+1)
		}
		return nil, false
	case syntax.OpAlternate:
		var out []literal
		for _, sub := range re.Sub {
			l, ok := required(sub, depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, l...)
			if len(out) > maxLiterals {
				return nil, false
			}
		}
		return out, true
	case syntax.OpConcat:
		// Every part is required: take the part whose shortest literal is longest.
		var best []literal
		bestLen := 0
		for _, sub := range re.Sub {
			l, ok := required(sub, depth+1)
			if !ok {
				continue
			}
			shortest := -1
			for _, x := range l {
				if n := len(x.s); shortest < 0 || n < shortest {
					shortest = n
				}
			}
			if shortest > bestLen {
				best, bestLen = l, shortest
			}
		}
		return best, best != nil
	}
	return nil, false
}
