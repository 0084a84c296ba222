package hooklog

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// Name and Version identify the inspector in observations and evidence.
const (
	Name    = "hooklog"
	Version = "1"
)

// Kind is the source kind of hook logs.
const Kind scanner.SourceKind = "hooklog"

// defaultMaxBytes bounds a hook log file: an .xlsx is held in memory by its reader, the text
// formats are streamed.
const defaultMaxBytes = 512 << 20

// InspectorOptions configure the inspector.
type InspectorOptions struct {
	// Tool is recorded in evidence metadata.
	Tool     string
	Limits   Limits
	MaxBytes int64
}

// Inspector reads hook logs (Kind). Source option "app_package": the app's package, deciding which
// stack frames are the app's own code (a pilmon session line gives it otherwise).
type Inspector struct {
	cat  *rules.Catalogue
	opts InspectorOptions
}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns the hook-log inspector; cat may be nil (no API mapping, no SDK attribution).
func New(cat *rules.Catalogue, opts InspectorOptions) *Inspector {
	if opts.Tool == "" {
		opts.Tool = "pilmon hooklog/" + Version
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	return &Inspector{cat: cat, opts: opts}
}

func (in *Inspector) Name() string    { return Name }
func (in *Inspector) Version() string { return Version }

// Kinds declares hook logs, recognised by content: a Compound File (the legacy .xls of camille and
// PrivacySentry; no other kind of this build claims one), an .xlsx (its sheets are checked when
// read), pilmon's JSON Lines and AndroidPrivacyMonitor's text.
func (in *Inspector) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{{
		Kind: Kind, Label: scanner.Label{ZH: "运行时 Hook 日志", EN: "runtime hook log"}, Target: scanner.TargetApp,
		// has_runtime: the rules that runtime evidence decides (reads before consent, after
		// refusal, in the background) are assessed; those that need traffic still need a HAR.
		Inventory: "has_runtime",
		// What the log saw read is looked for in the traffic of the same session.
		ProvidesKnown: true,
		Detect: &scanner.DetectSpec{Magic: []scanner.Magic{{{Offset: 0, Bytes: cfbMagic}}},
			ZipMembers: []string{"xl/workbook.xml"},
			Text:       func(head []byte) bool { return textFormat(scanner.TrimText(head)) != "" }},
		Upload: &scanner.UploadSpec{Exts: []string{".jsonl", ".xls", ".xlsx", ".log", ".txt"}},
		Options: []scanner.OptionSpec{
			{Name: "app_package", Help: "App 包名：堆栈中属于 App 自身代码的包 / the app's package name: which stack frames are the app's own code"},
			{Name: "max_calls_per_second", Help: "同一调用方每秒读取同一接口的次数上限（默认 1，平台实践，非法律）/ reads of one API by one party per second before a frequency lead (default 1: platform practice, not law)"},
			{Name: "max_calls_per_session", Help: "同一调用方一次会话读取同一接口的次数上限（默认 3，平台实践，非法律）/ reads of one API by one party per session before a frequency lead (default 3: platform practice, not law)"},
		},
		File: &scanner.FileSpec{MaxBytes: in.opts.MaxBytes, Store: scanner.StoreSpec{Method: "file_import",
			MediaTypeOf: mediaType, Note: "runtime hook log from a test phone", Tool: in.opts.Tool}},
	}}
}

func mediaType(_ string, head []byte) string {
	switch {
	case bytes.HasPrefix(head, cfbMagic):
		return "application/vnd.ms-excel"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case looksLikePilmon(head):
		return "application/jsonl"
	}
	return "text/plain; charset=utf-8"
}

// Inspect reads the log and turns it into runtime.* observations; rows that could not be read
// become FileErrors naming them, beside what was read.
func (in *Inspector) Inspect(_ context.Context, input *scanner.Input) (out scanner.Output) {
	opts := Options{Limits: in.opts.Limits, AppPackage: strings.TrimSpace(input.Source.Options["app_package"])}
	log, err := Read(input.Reader, input.Size, input.Path, in.cat, opts)
	var re *ReadError
	switch {
	case errors.As(err, &re):
		for _, r := range re.Reasons {
			out.Errors = append(out.Errors, scanner.Errorf(input.Path, "%s", r))
		}
		if re.More > 0 {
			out.Errors = append(out.Errors, scanner.Errorf(input.Path, "%d more rows or lines could not be read", re.More))
		}
	case err != nil:
		out.Errors = append(out.Errors, scanner.Errorf(input.Path, "%s", strings.TrimPrefix(err.Error(), input.Path+": ")))
	}
	if log == nil {
		return out
	}
	src := "none"
	switch {
	case opts.AppPackage != "":
		src = "option"
	case log.Package != "":
		src = "session"
	}
	th, thSource := DefaultThresholds, ThresholdSource
	for _, o := range []struct {
		name string
		dst  *int
	}{{"max_calls_per_second", &th.PerSecond}, {"max_calls_per_session", &th.PerSession}} {
		name, dst := o.name, o.dst
		if v := strings.TrimSpace(input.Source.Options[name]); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				out.Errors = append(out.Errors, scanner.Errorf(input.Path, "option %s=%q: a whole number of at least 1 is required", name, v))
				continue
			}
			*dst, thSource = n, "analyst (source options)"
		}
	}
	obs := append(Observe(log, in.cat, src), Frequency(log, in.cat, th, thSource)...)
	for _, o := range obs {
		o.Inspector, o.InspectorVersion = Name, Version
		o.EvidenceRefs = []string{input.Ref.SHA256}
		out.Observations = append(out.Observations, o)
	}
	out.Known = KnownValues(log, input.Ref.SHA256)
	return out
}
