// Package testlog is an inspector of a kind the scanner core has never heard of, for the tests
// that prove a new kind of input is its package and one registration line: runtime hook logs as
// JSON lines, one {"hook": "...", "arg": "..."} per line. Everything pilmon needs to know about
// the kind is in its declaration (Kinds); nothing outside this package names it.
package testlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"

	"pilmon/scanner"
)

// Kind is the kind this inspector declares; scanner has no constant for it.
const Kind scanner.SourceKind = "testlog"

// ObservationKind is what each hooked call is reported as.
const ObservationKind = "testlog.hook"

// Inspector reads hook logs.
type Inspector struct{}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns the inspector.
func New() *Inspector { return &Inspector{} }

func (*Inspector) Name() string    { return "testlog" }
func (*Inspector) Version() string { return "1" }

// Kinds declares hook logs: recognised by their first JSON key, uploadable as .jsonl, with a
// "mapping" file (a path, resolved in the import folder) and the test phone's name as options.
func (*Inspector) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{{
		Kind:   Kind,
		Label:  scanner.Label{ZH: "测试钩子日志", EN: "Test hook log"},
		Target: scanner.TargetApp,
		Detect: &scanner.DetectSpec{Text: func(head []byte) bool {
			return bytes.HasPrefix(scanner.TrimText(head), []byte(`{"hook"`))
		}},
		Upload: &scanner.UploadSpec{Exts: []string{".jsonl"}},
		Options: []scanner.OptionSpec{
			{Name: "mapping", Path: true, Help: "hook name mapping file"},
			{Name: "phone", Help: "the test phone the log is from"},
		},
		File:      &scanner.FileSpec{MaxBytes: 1 << 20, Store: scanner.StoreSpec{MediaType: "application/jsonl"}},
		Inventory: "has_app",
	}}
}

// Inspect reports one observation per hooked call.
func (*Inspector) Inspect(_ context.Context, in *scanner.Input) (out scanner.Output) {
	if p := in.Source.Options["mapping"]; p != "" {
		if _, err := os.Stat(p); err != nil {
			out.Errors = append(out.Errors, scanner.Errorf(in.Path, "mapping: %v", err))
		}
	}
	b, err := in.Bytes()
	if err != nil {
		out.Errors = append(out.Errors, scanner.Errorf(in.Path, "read: %v", err))
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))))
	for n := 1; sc.Scan(); n++ {
		var line struct{ Hook, Arg string }
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Hook == "" {
			out.Errors = append(out.Errors, scanner.Errorf(in.Path, "line %d: not a hook record", n))
			continue
		}
		out.Observations = append(out.Observations, scanner.Observation{Kind: ObservationKind, Subject: line.Hook,
			Attributes:   map[string]any{"arg": line.Arg, "phone": in.Source.Options["phone"]},
			EvidenceRefs: []string{in.Ref.SHA256}, Inspector: "testlog", InspectorVersion: "1"})
	}
	return out
}
