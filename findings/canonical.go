package findings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// MarshalCanonical returns the canonical JSON of f: fields in struct order, times in UTC
// (RFC 3339 with nanoseconds, as time.Time marshals them), evidence references sorted and
// de-duplicated, observations sorted by (kind, subject) with their own references sorted, map keys
// sorted, empty lists written as [] rather than null, and no HTML escaping, so Chinese text and
// "<" survive byte for byte. The same finding always gives the same bytes, which is what a case
// file's hashes and the golden tests rely on. Legal basis keeps its order: the first citation is
// the rule's anchor.
func MarshalCanonical(f Finding) ([]byte, error) {
	return EncodeCanonical(Normalize(f))
}

// Normalize returns a copy of f in canonical form (see MarshalCanonical). f is not modified.
func Normalize(f Finding) Finding {
	f.EvidenceRefs = SortedSet(f.EvidenceRefs)
	f.LegalBasis = append([]rules.Citation{}, f.LegalBasis...)
	f.AsOf = f.AsOf.UTC().Round(0)
	f.FirstSeen = f.FirstSeen.UTC().Round(0) // Round(0) drops the monotonic reading
	f.LastSeen = f.LastSeen.UTC().Round(0)
	f.Observations = canonicalObservations(f.Observations)
	return f
}

// canonicalObservations sorts observations by (kind, subject), breaking ties by their canonical
// encoding so that the order never depends on the order an inspector emitted them in, and drops
// exact duplicates. Encodings are computed only for ties, which are rare.
func canonicalObservations(obs []scanner.Observation) []scanner.Observation {
	out := make([]scanner.Observation, 0, len(obs))
	for _, o := range obs {
		o.EvidenceRefs = SortedSet(o.EvidenceRefs)
		if len(o.EvidenceRefs) == 0 {
			o.EvidenceRefs = nil
		}
		if len(o.Attributes) == 0 {
			o.Attributes = nil
		}
		out = append(out, o)
	}
	byKey := func(a, b scanner.Observation) int {
		if c := strings.Compare(a.Kind, b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Subject, b.Subject)
	}
	slices.SortStableFunc(out, byKey)
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && byKey(out[i], out[j]) == 0 {
			j++
		}
		if j-i > 1 {
			n := breakTies(out[i:j])
			out = slices.Delete(out, i+n, j)
			j = i + n
		}
		i = j
	}
	return out
}

// breakTies orders observations with equal kind and subject by their encoding, moves exact
// duplicates out, and returns how many distinct ones lead the slice. An observation that does not
// encode is kept; the encoding of the whole finding reports the error.
func breakTies(group []scanner.Observation) int {
	type keyed struct {
		o   scanner.Observation
		enc []byte
	}
	ks := make([]keyed, len(group))
	for i, o := range group {
		enc, _ := EncodeCanonical(o)
		ks[i] = keyed{o, enc}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.enc, b.enc) })
	n := 0
	for i, k := range ks {
		if i > 0 && k.enc != nil && bytes.Equal(k.enc, ks[i-1].enc) {
			continue
		}
		group[n] = k.o
		n++
	}
	return n
}

// SortedSet returns the sorted, de-duplicated copy of s, never nil.
func SortedSet(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return slices.Compact(out)
}

// EncodeCanonical is json.Marshal without HTML escaping and without the encoder's trailing newline.
func EncodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("findings: canonical JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
