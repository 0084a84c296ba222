package findings

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pilmon/scanner"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func goldenFinding() Finding {
	f := sampleFinding("app:com.example.快递", "rdff-3.1", "telephony.getDeviceId")
	f.Fingerprint = Fingerprint(f.TargetID, f.RuleID, f.Subject)
	f.Summary.ZH = "在同意前收集 IMEI <script>&amp; “引号”"
	shanghai := time.FixedZone("CST", 8*3600)
	f.FirstSeen = time.Date(2025, 1, 2, 11, 4, 5, 0, shanghai)
	f.LastSeen = time.Date(2025, 3, 14, 17, 26, 53, 589793238, shanghai)
	f.LastScanID = "scan-20250314-0001"
	f.State = StateInReview
	f.EvidenceRefs = []string{"ffff", "0000", "abcd", "0000"}
	// Out of order on purpose, with a duplicate.
	f.Observations = append([]scanner.Observation{f.Observations[1], f.Observations[0]}, f.Observations[1])
	f.Observations[1].EvidenceRefs = []string{"b", "a", "b"}
	return f
}

func TestCanonicalGolden(t *testing.T) {
	got, err := MarshalCanonical(goldenFinding())
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
	a, err := MarshalCanonical(goldenFinding())
	if err != nil {
		t.Fatal(err)
	}
	var f Finding
	if err := json.Unmarshal(a, &f); err != nil {
		t.Fatal(err)
	}
	b, err := MarshalCanonical(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Errorf("canonical form changes on a round trip:\n%s\n%s", a, b)
	}
}

func TestCanonicalEmptyListsAreArrays(t *testing.T) {
	b, err := MarshalCanonical(Finding{TargetID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"legal_basis":[]`, `"observations":[]`, `"evidence_refs":[]`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("%s missing in %s", s, b)
		}
	}
}

// The "json" field of a stored finding is findingContent; it must stay the leading part of Finding.
func TestFindingContentMirrorsFinding(t *testing.T) {
	c, f := reflect.TypeFor[findingContent](), reflect.TypeFor[Finding]()
	for i := range c.NumField() {
		cf, ff := c.Field(i), f.Field(i)
		if cf.Name != ff.Name || cf.Type != ff.Type || cf.Tag != ff.Tag {
			t.Errorf("findingContent field %d is %s %s %q, Finding has %s %s %q", i, cf.Name, cf.Type, cf.Tag, ff.Name, ff.Type, ff.Tag)
		}
	}
	if got := f.Field(c.NumField()).Name; got != "EvidenceRefs" {
		t.Errorf("Finding field after the content is %s; update findingContent, decodeFinding and hashFields", got)
	}
}

func TestFingerprintSeparates(t *testing.T) {
	if Fingerprint("ab", "c", "") == Fingerprint("a", "bc", "") {
		t.Error("fingerprint does not separate its parts")
	}
	if got := len(Fingerprint("t", "r", "s")); got != 32 {
		t.Errorf("fingerprint has %d hex digits, want 32", got)
	}
}

// FuzzCanonical: any finding that decodes from JSON has a canonical form that is a fixed point.
func FuzzCanonical(f *testing.F) {
	seed, _ := MarshalCanonical(goldenFinding())
	f.Add(seed)
	f.Add([]byte(`{"observations":[{"kind":"b","subject":"x"},{"kind":"a","subject":"y","attributes":{"z":1,"a":[1,"2",{"k":null}]}}]}`))
	f.Add([]byte(`{"evidence_refs":["b","a","b"],"first_seen":"2024-02-29T23:59:59.999999999+08:00"}`))
	f.Add([]byte(`{"summary":{"zh":"\u2028<>&\ud800","en":"\u0000"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var in Finding
		if json.Unmarshal(data, &in) != nil {
			return
		}
		a, err := MarshalCanonical(in)
		if err != nil {
			return // e.g. a year beyond 9999
		}
		var back Finding
		if err := json.Unmarshal(a, &back); err != nil {
			t.Fatalf("canonical output does not decode: %v\n%s", err, a)
		}
		b, err := MarshalCanonical(back)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("not a fixed point:\n%s\n%s", a, b)
		}
	})
}
