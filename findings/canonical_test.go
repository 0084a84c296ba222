package findings_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/findings"
	"pilmon/findings/findingstest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestCanonicalGolden(t *testing.T) {
	got, err := findings.MarshalCanonical(findingstest.Golden())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "canonical_finding.golden.json")
	if *update {
		if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./findings -run TestCanonicalGolden -update)", err)
	}
	if !bytes.Equal(got, bytes.TrimSuffix(want, []byte("\n"))) {
		t.Errorf("canonical JSON differs from %s (rerun with -update and review the diff):\n got %s\nwant %s", path, got, want)
	}
	for _, s := range []string{"<script>&amp;", "“引号”", `"first_seen":"2025-01-02T03:04:05Z"`, `"last_seen":"2025-03-14T09:26:53.589793238Z"`, `"evidence_refs":["0000","abcd","ffff"]`} {
		if !bytes.Contains(got, []byte(s)) {
			t.Errorf("canonical JSON lacks %s", s)
		}
	}
}

func TestCanonicalIsAFixedPoint(t *testing.T) {
	a, err := findings.MarshalCanonical(findingstest.Golden())
	if err != nil {
		t.Fatal(err)
	}
	var f findings.Finding
	if err := json.Unmarshal(a, &f); err != nil {
		t.Fatal(err)
	}
	b, err := findings.MarshalCanonical(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("canonical form changes on a round trip:\n%s\n%s", a, b)
	}
}

func TestCanonicalEmptyListsAreArrays(t *testing.T) {
	b, err := findings.MarshalCanonical(findings.Finding{TargetID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"legal_basis":[]`, `"observations":[]`, `"evidence_refs":[]`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s missing in %s", s, b)
		}
	}
}

func TestFingerprintSeparates(t *testing.T) {
	if findings.Fingerprint("ab", "c", "") == findings.Fingerprint("a", "bc", "") {
		t.Error("fingerprint does not separate its parts")
	}
	if got := len(findings.Fingerprint("t", "r", "s")); got != 32 {
		t.Errorf("fingerprint has %d hex digits, want 32", got)
	}
}

// FuzzCanonical: any finding that decodes from JSON has a canonical form that is a fixed point.
func FuzzCanonical(f *testing.F) {
	seed, _ := findings.MarshalCanonical(findingstest.Golden())
	f.Add(seed)
	f.Add([]byte(`{"observations":[{"kind":"b","subject":"x"},{"kind":"a","subject":"y","attributes":{"z":1,"a":[1,"2",{"k":null}]}}]}`))
	f.Add([]byte(`{"evidence_refs":["b","a","b"],"first_seen":"2024-02-29T23:59:59.999999999+08:00"}`))
	f.Add([]byte(`{"summary":{"zh":"\u2028<>&\ud800","en":"\u0000"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in findings.Finding
		if json.Unmarshal(data, &in) != nil {
			return
		}
		a, err := findings.MarshalCanonical(in)
		if err != nil {
			return // e.g. a year beyond 9999
		}
		var back findings.Finding
		if err := json.Unmarshal(a, &back); err != nil {
			t.Fatalf("canonical output does not decode: %v\n%s", err, a)
		}
		b, err := findings.MarshalCanonical(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("not a fixed point:\n%s\n%s", a, b)
		}
	})
}
