package policies

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/scanner"
)

// Options of the inspector.
type Options struct {
	Capture      browser.CaptureOptions
	MaxFileBytes int64  // 8 MiB
	Tool         string // recorded in evidence metadata, e.g. "pilmon 0.1.0"
}

// Inspector reads privacy policies from files and URLs.
type Inspector struct {
	cat  Catalogue
	br   *browser.Browser
	opts Options
}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns the policies inspector; br may be nil when only files are inspected.
func New(cat Catalogue, br *browser.Browser, opts Options) *Inspector {
	if opts.MaxFileBytes <= 0 {
		opts.MaxFileBytes = maxInputBytes
	}
	if opts.Tool == "" {
		opts.Tool = "pilmon"
	}
	return &Inspector{cat: cat, br: br, opts: opts}
}

func (*Inspector) Name() string    { return "policies" }
func (*Inspector) Version() string { return "1" }

func (*Inspector) Accepts(src scanner.Source) bool {
	return src.Kind == scanner.SourcePolicyURL || src.Kind == scanner.SourcePolicyFile
}

// Inspect stores the policy first, then analyses it.
func (in *Inspector) Inspect(ctx context.Context, src scanner.Source, sink scanner.EvidenceSink) (rep scanner.Report) {
	rep = scanner.Report{Inspector: in.Name(), InspectorVersion: in.Version(), Source: src, Status: scanner.StatusSucceeded,
		Observations: []scanner.Observation{}, Evidence: []evidence.Ref{}}
	defer func() {
		if r := recover(); r != nil {
			rep.Status = scanner.StatusFailed
			rep.Errors = append(rep.Errors, fmt.Sprintf("policies: %s: internal error: %v\n%s", src.Locator, r, debug.Stack()))
		}
	}()
	var (
		data      []byte
		mediaType string
		refs      []string
	)
	switch src.Kind {
	case scanner.SourcePolicyFile:
		d, err := readBounded(src.Locator, in.opts.MaxFileBytes)
		if err != nil {
			rep.Status = scanner.StatusFailed
			rep.Errors = append(rep.Errors, err.Error())
			return rep
		}
		if int64(len(d)) > in.opts.MaxFileBytes {
			d = d[:in.opts.MaxFileBytes]
			rep.Status = scanner.StatusPartial
			rep.Errors = append(rep.Errors, fmt.Sprintf("policies: %s: larger than %d bytes, only the start was analysed", src.Locator, in.opts.MaxFileBytes))
		}
		data = d
		format := DetectFormat(src.Locator, "", d)
		mediaType = map[Format]string{FormatHTML: "text/html", FormatMarkdown: "text/markdown", FormatText: "text/plain"}[format]
		ref, err := sink.Put(bytes.NewReader(d), evidence.Meta{CapturedAt: time.Now().UTC(), Method: "file_import",
			Source: src.Locator, Tool: in.opts.Tool, Inspector: in.Name() + "/" + in.Version(), MediaType: mediaType})
		if err != nil {
			rep.Status = scanner.StatusFailed
			rep.Errors = append(rep.Errors, fmt.Sprintf("policies: %s: store: %v", src.Locator, err))
			return rep
		}
		rep.Evidence = append(rep.Evidence, ref)
		refs = []string{ref.SHA256}
	case scanner.SourcePolicyURL:
		if in.br == nil {
			rep.Status = scanner.StatusFailed
			rep.Errors = append(rep.Errors, fmt.Sprintf("policies: %s: no browser configured for URL capture", src.Locator))
			return rep
		}
		c, crefs, err := in.br.CaptureToEvidence(ctx, sink, src.Locator, in.opts.Capture)
		rep.Evidence = append(rep.Evidence, crefs.All()...)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("policies: %s: %v", src.Locator, err))
		}
		if c == nil || len(c.HTML) == 0 {
			rep.Status = scanner.StatusFailed
			return rep
		}
		if c.Partial || err != nil {
			rep.Status = scanner.StatusPartial
			for _, e := range c.Errors {
				rep.Errors = append(rep.Errors, fmt.Sprintf("policies: %s: %s", src.Locator, e))
			}
		}
		data, mediaType = c.HTML, "text/html; charset=utf-8"
		if crefs.HTML.SHA256 != "" {
			refs = []string{crefs.HTML.SHA256}
		}
	default:
		rep.Status = scanner.StatusSkipped
		return rep
	}
	a, err := Analyze(src.Locator, data, mediaType, in.cat)
	if err != nil {
		rep.Status = scanner.StatusFailed
		rep.Errors = append(rep.Errors, err.Error())
		return rep
	}
	rep.Observations = Observations(a, src.Locator, refs, in.Name(), in.Version())
	return rep
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("policies: %s: not a regular file", path)
	}
	d, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("policies: %s: read: %w", path, err)
	}
	return d, nil
}

// Observations turns an analysis into the policy.* observations of observation_kinds.yaml.
func Observations(a *Analysis, locator string, refs []string, name, version string) []scanner.Observation {
	obs := func(kind, subject string, attrs map[string]any) scanner.Observation {
		return scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs, EvidenceRefs: refs, Inspector: name, InspectorVersion: version}
	}
	out := []scanner.Observation{obs("policy.document", locator, map[string]any{
		"language": a.Language, "title": a.Title, "chars": a.Readability.Chars,
		"is_privacy_policy": a.IsPrivacyPolicy, "effective_date": a.EffectiveDate})}
	for _, id := range ElementIDs {
		e := a.Elements[id]
		out = append(out, obs("policy.element", id, map[string]any{"element": id, "present": e.Present, "quote": e.Quote, "section": e.Section}))
	}
	for _, p := range a.PIDeclared {
		out = append(out, obs("policy.pi_declared", p.PI, map[string]any{"pi": []string{p.PI}, "quote": p.Quote, "purpose": p.Purpose}))
	}
	for _, s := range a.SDKsDeclared {
		out = append(out, obs("policy.sdk_declared", s.SDK, map[string]any{"sdk": s.SDK, "quote": s.Quote}))
	}
	for _, s := range a.SeparateConsent {
		out = append(out, obs("policy.separate_consent", s.PI, map[string]any{"pi": []string{s.PI}, "present": s.Present, "quote": s.Quote}))
	}
	return out
}
