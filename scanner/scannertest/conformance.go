// Package scannertest checks that an inspector keeps the contract of the scanner core. Every
// inspector package runs Conformance in its own tests.
package scannertest

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"pilmon/evidence"
	"pilmon/scanner"

	"io"
)

// Input is a known input of the inspector under test.
type Input struct {
	Source scanner.Source
	// Partial marks a partly broken input: its report must be partial, keeping observations
	// beside the FileErrors.
	Partial bool
	// Want are observation kinds the report must hold.
	Want []string
}

// panicReason is what the core says when it recovers a panic of an inspector.
const panicReason = "failed on this input"

// Conformance checks insp through the core: it is handed only the kinds it declares, every file
// kind declares a size limit, the good inputs give observations (and partial ones keep them), and
// hostile inputs (empty, random, truncated, beyond the limit, a folder where a file is expected
// and the reverse, missing) give well-formed FileErrors naming the input, never a panic.
func Conformance(t *testing.T, insp scanner.Inspector, good []Input) {
	t.Helper()
	kinds := insp.Kinds()
	if insp.Name() == "" || insp.Version() == "" || len(kinds) == 0 {
		t.Fatalf("inspector %q/%q declares %d kinds", insp.Name(), insp.Version(), len(kinds))
	}
	declared := map[scanner.SourceKind]scanner.KindSpec{}
	for _, k := range kinds {
		if _, dup := declared[k.Kind]; dup {
			t.Errorf("kind %s declared twice", k.Kind)
		}
		declared[k.Kind] = k
		if k.File == nil && k.Tree == nil && !k.URL {
			t.Errorf("kind %s declares no layout (file, folder or URL)", k.Kind)
		}
		if k.File != nil && k.File.MaxBytes <= 0 {
			t.Errorf("kind %s: a file kind needs a size limit", k.Kind)
		}
		if k.Members != nil && k.File == nil {
			t.Errorf("kind %s: members are read as files and need a FileSpec", k.Kind)
		}
		if k.Tree != nil && (k.Tree.MaxFiles <= 0 || k.Tree.MaxFileBytes <= 0 || k.Tree.MaxTotalBytes <= 0) {
			t.Errorf("kind %s: a folder kind needs file-count, per-file and total limits", k.Kind)
		}
	}

	t.Run("refuses undeclared kinds", func(t *testing.T) {
		s := &spy{Inspector: insp}
		dir := t.TempDir()
		// The kinds of the other inspectors, and one no inspector declares.
		others := []scanner.SourceKind{scanner.SourceAPK, scanner.SourceWxapkg, scanner.SourceMPDir, scanner.SourcePolicyURL,
			scanner.SourcePolicyFile, scanner.SourceHAR, scanner.SourceH5URL, "no-such-kind"}
		for _, k := range others {
			if _, ok := declared[k]; ok {
				continue
			}
			src := scanner.Source{Kind: k, Locator: writeFile(t, dir, string(k), []byte("x"))}
			if rep := scanner.InspectSource(context.Background(), s, src, &memSink{}); rep.Status != scanner.StatusSkipped || len(rep.Errors) == 0 {
				t.Errorf("%s: status %s, errors %v; want skipped with a reason", k, rep.Status, rep.Errors)
			}
			res := scanner.Scan(context.Background(), scanner.Target{ID: "t", Sources: []scanner.Source{src}}, []scanner.Inspector{s}, &memSink{}, scanner.Options{})
			if res.Reports[0].Status != scanner.StatusSkipped {
				t.Errorf("%s: scan status %s, want skipped", k, res.Reports[0].Status)
			}
		}
		if n := s.calls.Load(); n != 0 {
			t.Errorf("Inspect called %d times for kinds the inspector does not declare", n)
		}
	})

	t.Run("good inputs", func(t *testing.T) {
		for _, g := range good {
			rep := scanner.InspectSource(context.Background(), insp, g.Source, &memSink{})
			checkErrors(t, g.Source, rep)
			want := scanner.StatusSucceeded
			if g.Partial {
				want = scanner.StatusPartial
			}
			if rep.Status != want || len(rep.Observations) == 0 {
				t.Errorf("%s: status %s with %d observations, want %s with some; errors %v", g.Source.Locator, rep.Status, len(rep.Observations), want, rep.Errors)
			}
			if g.Partial && len(rep.Errors) == 0 {
				t.Errorf("%s: partial without a FileError", g.Source.Locator)
			}
			if spec := declared[g.Source.Kind]; !spec.URL && (len(rep.Evidence) == 0 || rep.Evidence[0].SHA256 == "") {
				t.Errorf("%s: the input is not stored as the first evidence: %v", g.Source.Locator, rep.Evidence)
			}
			have := map[string]bool{}
			for _, o := range rep.Observations {
				have[o.Kind] = true
				if o.Inspector != insp.Name() || o.InspectorVersion != insp.Version() {
					t.Errorf("%s: observation %s stamped %s/%s", g.Source.Locator, o.Kind, o.Inspector, o.InspectorVersion)
				}
			}
			for _, k := range g.Want {
				if !have[k] {
					t.Errorf("%s: no %s observation (status %s, errors %v)", g.Source.Locator, k, rep.Status, rep.Errors)
				}
			}
		}
	})

	t.Run("hostile inputs", func(t *testing.T) {
		rnd := rand.New(rand.NewSource(1))
		for _, k := range kinds {
			if k.URL {
				continue
			}
			dir := t.TempDir()
			type hostile struct {
				name    string
				path    string
				mustErr bool
			}
			var cases []hostile
			cases = append(cases, hostile{"missing", filepath.Join(dir, "missing-input"), true})
			if k.File != nil {
				random := make([]byte, 4096)
				rnd.Read(random)
				huge := writeFile(t, dir, "huge-input", nil)
				if err := os.Truncate(huge, k.File.MaxBytes+1); err != nil {
					t.Fatal(err)
				}
				cases = append(cases,
					hostile{"empty file", writeFile(t, dir, "empty-input", nil), false},
					hostile{"random bytes", writeFile(t, dir, "random-input", random), false},
					hostile{"beyond the size limit", huge, true})
				for _, g := range good {
					if g.Source.Kind != k.Kind {
						continue
					}
					if b, err := os.ReadFile(g.Source.Locator); err == nil && len(b) > 1 {
						cases = append(cases, hostile{"truncated", writeFile(t, dir, "truncated-"+filepath.Base(g.Source.Locator), b[:len(b)/2]), false})
						break
					}
				}
				empty := filepath.Join(dir, "folder-input")
				if err := os.Mkdir(empty, 0o755); err != nil {
					t.Fatal(err)
				}
				if k.Tree == nil {
					cases = append(cases, hostile{"a folder where a file is expected", empty, true})
				}
			}
			if k.Tree != nil && k.File == nil {
				cases = append(cases, hostile{"a file where a folder is expected", writeFile(t, dir, "file-input", []byte("{}")), true})
			}
			for _, h := range cases {
				src := scanner.Source{Kind: k.Kind, Locator: h.path}
				rep := scanner.InspectSource(context.Background(), insp, src, &memSink{})
				checkErrors(t, src, rep)
				if h.mustErr && len(rep.Errors) == 0 {
					t.Errorf("%s %s: no FileError (status %s)", k.Kind, h.name, rep.Status)
				}
				if rep.Status != scanner.StatusSucceeded && len(rep.Errors) == 0 {
					t.Errorf("%s %s: status %s without a FileError", k.Kind, h.name, rep.Status)
				}
			}
		}
	})
}

// checkErrors fails on a recovered panic or a FileError that does not name the input and a reason.
func checkErrors(t *testing.T, src scanner.Source, rep scanner.Report) {
	t.Helper()
	for _, e := range rep.Errors {
		if e.Path == "" || strings.TrimSpace(e.Reason) == "" {
			t.Errorf("%s: FileError without a path or a reason: %+v", src.Locator, e)
		}
		if !strings.Contains(e.Path, filepath.Base(src.Locator)) && !strings.HasPrefix(e.Path, src.Locator) {
			t.Errorf("%s: FileError names another file: %+v", src.Locator, e)
		}
		if strings.Contains(e.Reason, panicReason) {
			t.Errorf("%s: the inspector panicked: %+v", src.Locator, e)
		}
		if strings.Contains(e.Reason, "goroutine ") || strings.Contains(e.Reason, ".go:") {
			t.Errorf("%s: a stack trace in a FileError: %+v", src.Locator, e)
		}
	}
	if rep.Status == "" {
		t.Errorf("%s: no status", src.Locator)
	}
}

// spy counts the inspector's calls.
type spy struct {
	scanner.Inspector
	calls atomic.Int64
}

func (s *spy) Inspect(ctx context.Context, in *scanner.Input) scanner.Output {
	s.calls.Add(1)
	return s.Inspector.Inspect(ctx, in)
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// memSink hashes nothing and keeps nothing: conformance is about the frame, not the evidence.
type memSink struct{ n atomic.Int64 }

func (m *memSink) Put(r io.Reader, _ evidence.Meta) (evidence.Ref, error) {
	n, err := io.Copy(io.Discard, r)
	return evidence.Ref{SHA256: strings.Repeat("0", 63) + string(rune('a'+m.n.Add(1)%6)), Size: n}, err
}
