package eval

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"pilmon/internal/corpus"
)

// TestJudgedSet re-scans every judged input of the shared corpus through the pipeline runner, as
// `pilmon scan` does without a store, and holds the judged set: a record judged false on the facts
// (fact or party) must not come back as a finding, and a record judged true must come back. New
// records are reported, to be judged and added.
func TestJudgedSet(t *testing.T) {
	dir := corpus.Path(t, "corpus")
	// assess logs each rule held back by as_of; the comparison below is what this test reports
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer slog.SetDefault(prev)
	inputs, err := LoadInputs("judged")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := LoadRecords("judged")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range inputs {
		h, err := Hash(filepath.Join(dir, filepath.FromSlash(in.Path)))
		if err != nil {
			t.Fatalf("%s: %v", in.Path, err)
		}
		if h != in.SHA256 {
			t.Fatalf("%s changed (sha256 %s, judged %s): judge it again", in.Path, h, in.SHA256)
		}
	}
	s, err := NewScanner(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	res := s.ScanAll(ctx, inputs, 2)
	t.Logf("scanned %d inputs in %s", len(inputs), time.Since(start).Round(time.Millisecond))

	c := Compare(recs, res)
	for _, e := range c.Errors {
		t.Errorf("scan: %s", e)
	}
	for _, r := range c.FalseFindings {
		t.Errorf("judged false, raised as a finding: %s %s %s: %s", r.Input, r.RuleID, r.Subject, r.Reason)
	}
	for _, r := range c.Missing {
		t.Errorf("judged true, no longer raised: %s %s %s (%s)", r.Input, r.RuleID, r.Subject, r.Tier)
	}
	for _, ch := range c.Changed {
		t.Logf("tier or grade changed: %s", ch)
	}
	for _, r := range c.New {
		t.Logf("new record, not judged: %s %s %s (%s, %s)", r.Input, r.RuleID, r.Subject, r.Family, r.Tier)
	}
	var b bytes.Buffer
	Measure(c.Produced).Print(&b)
	t.Logf("precision of what this build raises (fact and party true), %d judged records raised again, %d new and not judged:\n%s",
		len(c.Produced), len(c.New), b.String())
}

// TestJudgedSetWellFormed checks the judged set itself, without the corpus.
func TestJudgedSetWellFormed(t *testing.T) {
	inputs, err := LoadInputs("judged")
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]string{}
	for _, in := range inputs {
		if in.Path == "" || len(in.SHA256) != 64 || in.Category == "" || in.Why == "" {
			t.Errorf("input incomplete: %+v", in)
		}
		known[in.Path] = in.SHA256
	}
	recs, err := LoadRecords("judged")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if h, ok := known[r.Input]; !ok || h != r.SHA256 {
			t.Errorf("%s: input not listed in inputs.jsonl or hash differs", r.Key())
		}
		if seen[r.Key()] {
			t.Errorf("duplicate record %q", r.Key())
		}
		seen[r.Key()] = true
		if r.Reason == "" || r.RuleID == "" || r.Family == "" || (r.Tier != "finding" && r.Tier != "lead") {
			t.Errorf("record incomplete: %+v", r)
		}
		if r.Tier == "finding" && (r.Grade == "static" || r.Grade == "inferred") {
			t.Errorf("%s: a %s record is a finding", r.Key(), r.Grade)
		}
	}
}
