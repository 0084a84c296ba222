// Package eval holds pilmon's judged evaluation set: records that pilmon raised on the real inputs
// of the shared corpus (../shared/corpus), each judged by hand as a defence lawyer would attack it
// (is the fact true, is the party right, is the tier right, is the citation right), and the code
// that re-scans those inputs through the same path as `pilmon scan` and compares. The corpus files
// are never copied here: inputs are named by their path under the corpus and their SHA-256.
package eval

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
)

// Input is one corpus input of the judged set and the app category an analyst chose for it.
type Input struct {
	// Path is relative to the corpus folder (…/shared/corpus), e.g. "apks/umeng_demo_yichou.apk".
	Path string `json:"input"`
	// SHA256 is the file's hash; for a folder, the hash of the sorted "relpath\x00sha256\n" lines
	// of its files (TreeHash).
	SHA256   string `json:"sha256"`
	Kind     string `json:"kind"` // apk, policy, har, mp
	Category string `json:"category"`
	Why      string `json:"why"` // why this category
}

// Verdict is the judgement of one record.
type Verdict struct {
	Fact     bool `json:"fact"`     // what the record observed is true of the input
	Party    bool `json:"party"`    // the party it names (app, SDK, library, operator) is the right one
	Tier     bool `json:"tier"`     // finding only when the record alone establishes its title
	Citation bool `json:"citation"` // the articles cited are in force at as_of and fit, at the right level
}

// Record is one judged record. Its key is Input, SHA256, RuleID and Subject.
type Record struct {
	Input   string  `json:"input"`
	SHA256  string  `json:"sha256"`
	RuleID  string  `json:"rule_id"`
	Subject string  `json:"subject"`
	Family  string  `json:"family"`
	Tier    string  `json:"tier"`
	Grade   string  `json:"grade"`
	Verdict Verdict `json:"verdict"`
	Reason  string  `json:"reason"`
}

// Key identifies a record across scans.
func (r Record) Key() string { return Key(r.Input, r.RuleID, r.Subject) }

// Key identifies a record of input by its rule and subject.
func Key(input, ruleID, subject string) string { return input + "\x00" + ruleID + "\x00" + subject }

// True reports whether the record is right on the facts: the fact and the party are both true.
func (r Record) True() bool { return r.Verdict.Fact && r.Verdict.Party }

// Families, in the order they are reported.
var Families = []string{"manifest", "sdk", "static_api", "policy", "traffic", "miniprogram", "other"}

// familyOf ranks observation kinds: a record belongs to the family of its most specific kind.
var familyOf = []struct{ prefix, family string }{
	{"apk.sdk", "sdk"}, {"mp.sdk", "sdk"}, {"policy.sdk_declared", "sdk"},
	{"apk.sensitive_api", "static_api"}, {"mp.api_call", "static_api"},
	{"traffic.", "traffic"},
	{"apk.permission", "manifest"}, {"apk.manifest", "manifest"}, {"apk.component", "manifest"},
	{"apk.", "manifest"},
	{"mp.", "miniprogram"},
	{"policy.", "policy"},
}

// Family names the family of a finding from the kinds of its observations.
func Family(f findings.Finding) string {
	best := len(familyOf)
	for _, o := range f.Observations {
		for i, p := range familyOf {
			if strings.HasPrefix(o.Kind, p.prefix) && i < best {
				best = i
			}
		}
	}
	if best == len(familyOf) {
		return "other"
	}
	return familyOf[best].family
}

// LoadInputs reads inputs.jsonl of dir.
func LoadInputs(dir string) ([]Input, error) {
	var out []Input
	err := readJSONL(filepath.Join(dir, "inputs.jsonl"), func(b []byte) error {
		var in Input
		if err := json.Unmarshal(b, &in); err != nil {
			return err
		}
		out = append(out, in)
		return nil
	})
	return out, err
}

// LoadRecords reads every *.jsonl of dir but inputs.jsonl.
func LoadRecords(dir string) ([]Record, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Record
	for _, f := range files {
		if filepath.Base(f) == "inputs.jsonl" {
			continue
		}
		err := readJSONL(f, func(b []byte) error {
			var r Record
			if err := json.Unmarshal(b, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func readJSONL(path string, each func([]byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if err := each(b); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
	}
	return sc.Err()
}

// Hash returns the SHA-256 of a file, or TreeHash of a folder.
func Hash(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if st.IsDir() {
		return TreeHash(path)
	}
	return fileHash(path)
}

func fileHash(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// TreeHash is the SHA-256 of the sorted lines "relpath\x00sha256-of-file\n" of the regular files
// under dir: it changes when any file is added, removed or changed.
func TreeHash(dir string) (string, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		h, err := fileHash(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, filepath.ToSlash(rel)+"\x00"+h+"\n")
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(lines)
	h := sha256.Sum256([]byte(strings.Join(lines, "")))
	return hex.EncodeToString(h[:]), nil
}

// Scanner scans corpus inputs the way `pilmon scan` does without a store: the pipeline runner
// with every inspector of this build and the embedded catalogue.
type Scanner struct {
	Corpus string // the corpus folder
	runner *pipeline.Runner
	close  func() error
}

// NewScanner makes a scanner keeping its evidence under workDir.
func NewScanner(corpus, workDir string) (*Scanner, error) {
	cat, err := rules.Default()
	if err != nil {
		return nil, err
	}
	ev, err := evidence.Open(filepath.Join(workDir, "evidence"), evidence.Options{Tool: "pilmon eval"})
	if err != nil {
		return nil, err
	}
	ins, closeFn, err := pipeline.DefaultInspectors(cat, pipeline.InspectorOptions{Tool: "pilmon eval"})
	if err != nil {
		return nil, err
	}
	return &Scanner{Corpus: corpus, runner: &pipeline.Runner{Catalogue: cat, Evidence: ev, Inspectors: ins, Worker: "eval"},
		close: closeFn}, nil
}

// Close releases the inspectors.
func (s *Scanner) Close() error { return s.close() }

// Scan scans one input, as one target with the input's category, and returns its findings and leads.
func (s *Scanner) Scan(ctx context.Context, in Input) ([]findings.Finding, error) {
	abs := filepath.Join(s.Corpus, filepath.FromSlash(in.Path))
	kinds := pipeline.Kinds(nil)
	kind, err := scanner.DetectKind(abs, kinds)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256([]byte(in.Path))
	t := scanner.Target{ID: "eval-" + hex.EncodeToString(h[:6]), Name: filepath.Base(in.Path), Category: in.Category,
		Sources: []scanner.Source{{Kind: kind, Locator: abs}}}
	t.Kind = impliedTarget(t.Sources, kinds)
	o, err := s.runner.Execute(ctx, pipeline.Request{Target: t})
	if err != nil {
		return nil, err
	}
	return o.Findings, nil
}

// impliedTarget is the target kind a local source implies, as the CLI derives it: a mini-program
// when its kind says so, an app otherwise.
func impliedTarget(srcs []scanner.Source, kinds []scanner.KindSpec) scanner.TargetKind {
	for _, s := range srcs {
		if spec, ok := scanner.LookupKind(kinds, s.Kind); ok && spec.Target == scanner.TargetMiniProgram {
			return scanner.TargetMiniProgram
		}
	}
	return scanner.TargetApp
}

// Scanned is the result of scanning one input.
type Scanned struct {
	Input    Input
	Findings []findings.Finding
	Err      error
}

// ScanAll scans the inputs with at most par scans at once, in the inputs' order.
func (s *Scanner) ScanAll(ctx context.Context, inputs []Input, par int) []Scanned {
	out := make([]Scanned, len(inputs))
	sem := make(chan struct{}, max(par, 1))
	var wg sync.WaitGroup
	for i, in := range inputs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fs, err := s.Scan(ctx, in)
			out[i] = Scanned{Input: in, Findings: fs, Err: err}
		}()
	}
	wg.Wait()
	return out
}

// FromFinding is the unjudged record of a finding of in.
func FromFinding(in Input, f findings.Finding) Record {
	return Record{Input: in.Path, SHA256: in.SHA256, RuleID: f.RuleID, Subject: f.Subject, Family: Family(f),
		Tier: f.Tier, Grade: f.Grade}
}
