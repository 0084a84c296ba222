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
	return encodeCanonical(normalize(f))
}

// normalize returns a copy of f in canonical form (see MarshalCanonical). f is not modified.
func normalize(f Finding) Finding {
	f.EvidenceRefs = sortedSet(f.EvidenceRefs)
	f.LegalBasis = append([]rules.Citation{}, f.LegalBasis...)
	f.FirstSeen = f.FirstSeen.UTC().Round(0) // Round(0) drops the monotonic reading
	f.LastSeen = f.LastSeen.UTC().Round(0)
	f.Observations = canonicalObservations(f.Observations)
	return f
}

// canonicalObservations sorts observations by (kind, subject), breaking ties by their canonical
// encoding so that the order never depends on the order an inspector emitted them in, and drops
// exact duplicates.
func canonicalObservations(obs []scanner.Observation) []scanner.Observation {
	type keyed struct {
		o   scanner.Observation
		enc []byte
	}
	ks := make([]keyed, 0, len(obs))
	for _, o := range obs {
		o.EvidenceRefs = sortedSet(o.EvidenceRefs)
		if len(o.EvidenceRefs) == 0 {
			o.EvidenceRefs = nil
		}
		if len(o.Attributes) == 0 {
			o.Attributes = nil
		}
		enc, err := encodeCanonical(o)
		if err != nil {
			// Unencodable attribute values (NaN, channels) fail later in the whole encode; keep
			// the observation so that the error surfaces there with its context.
			enc = nil
		}
		ks = append(ks, keyed{o, enc})
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if c := strings.Compare(a.o.Kind, b.o.Kind); c != 0 {
			return c
		}
		if c := strings.Compare(a.o.Subject, b.o.Subject); c != 0 {
			return c
		}
		return bytes.Compare(a.enc, b.enc)
	})
	out := make([]scanner.Observation, 0, len(ks))
	for i, k := range ks {
		if i > 0 && k.enc != nil && bytes.Equal(k.enc, ks[i-1].enc) {
			continue
		}
		out = append(out, k.o)
	}
	return out
}

// sortedSet returns the sorted, de-duplicated copy of s, never nil.
func sortedSet(s []string) []string {
	out := append([]string{}, s...)
	slices.Sort(out)
	return slices.Compact(out)
}

// encodeCanonical is json.Marshal without HTML escaping and without the encoder's trailing newline.
func encodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("findings: canonical JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
