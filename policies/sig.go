package policies

// sig is a 512-bit Bloom filter of the hashed 4-byte windows of one sentence, the per-sentence
// counterpart of gramSet. A key is a substring of the sentence only if every 4-byte window of the
// key is a window of the sentence, so a key whose windows are not all in the sentence's sig cannot
// occur in it: the check costs eight word operations instead of a substring search, and a long
// policy runs thousands of keys (PI terms, SDK names, pattern literals) against every sentence.
// A sig never rules out a key that occurs, so every answer stays the substring search's; only
// the searches that cannot succeed are skipped.
type sig [8]uint64

// keySig is the sig of a key's own windows; ok is false for a key shorter than a window, which
// a sig cannot rule out.
type keySig struct {
	sig
	ok bool
}

func sigHash(w string) uint32 {
	h := uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
	h *= 2654435761 // Knuth's multiplicative hash, as gramHash
	return h >> (32 - 9)
}

func newSig(s string) sig {
	var g sig
	for i := 0; i+4 <= len(s); i++ {
		h := sigHash(s[i : i+4])
		g[h/64] |= 1 << (h % 64)
	}
	return g
}

func newKeySig(k string) keySig {
	if len(k) < 4 {
		return keySig{}
	}
	return keySig{sig: newSig(k), ok: true}
}

// mayContain is false only when the key cannot occur in the sentence the sig was built from.
func (g *sig) mayContain(k *keySig) bool {
	if !k.ok {
		return true
	}
	for i := range g {
		if k.sig[i]&^g[i] != 0 {
			return false
		}
	}
	return true
}

// keySigs returns the sigs of keys, index for index.
func keySigs(keys []string) []keySig {
	out := make([]keySig, len(keys))
	for i, k := range keys {
		out[i] = newKeySig(k)
	}
	return out
}

// setSigs builds the sentence's sigs from text and lower, which must be set.
func (s *sentence) setSigs() {
	s.textSig = newSig(s.text)
	if s.lower == s.text {
		s.lowerSig = s.textSig
	} else {
		s.lowerSig = newSig(s.lower)
	}
	s.sigged = true
}

// mayHave is false only when k cannot occur in the sentence's text (lower: its foldLower). A
// sentence built without sigs rules out nothing.
func (s *sentence) mayHave(k *keySig, lower bool) bool {
	if !s.sigged {
		return true
	}
	if lower {
		return s.lowerSig.mayContain(k)
	}
	return s.textSig.mayContain(k)
}

// termFilter admits, for containsTermIf, the terms that may occur in the sentence (English terms
// are read in the lower-cased text).
func (s *sentence) termFilter(sigs []keySig, lang string) func(int) bool {
	if !s.sigged || len(sigs) == 0 {
		return nil
	}
	return func(i int) bool { return s.mayHave(&sigs[i], lang == "en") }
}
