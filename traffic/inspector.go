package traffic

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/scanner"
)

// Name and Version identify the inspector in observations and evidence.
const (
	Name    = "traffic"
	Version = "1"
)

// Inspector reads HAR files (scanner.SourceHAR) and captures H5 pages (scanner.SourceH5URL).
//
// Source options: "device_values" (path to a device-values YAML, see
// testdata/device_values.example.yaml), "consent_at" (RFC 3339 time of the consent click),
// "consent_action" (agree | refuse), "consent_url" (regexp: the first matching request marks
// consent), "first_party" (comma-separated domains of the target), and for H5 URLs "action"
// (agree | refuse), "consent_selector", "refuse_selector".
type Inspector struct {
	cat  *rules.Catalogue
	opts Options
}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns the traffic inspector; cat may be nil (no catalogue attribution).
func New(cat *rules.Catalogue, opts Options) *Inspector {
	if opts.Tool == "" {
		opts.Tool = "pilmon traffic/" + Version
	}
	return &Inspector{cat: cat, opts: opts}
}

func (in *Inspector) Name() string    { return Name }
func (in *Inspector) Version() string { return Version }

// Accepts HAR files and H5 URLs.
func (in *Inspector) Accepts(src scanner.Source) bool {
	return src.Kind == scanner.SourceHAR || src.Kind == scanner.SourceH5URL
}

func (in *Inspector) catalogue() SDKCatalogue {
	if in.cat == nil {
		return nil
	}
	return in.cat
}

// Inspect stores the HAR first (method "har_import"), then streams it through the analysis; for
// an H5 URL it captures the page live, stores the HAR and screenshots, and analyses that HAR.
func (in *Inspector) Inspect(ctx context.Context, src scanner.Source, sink scanner.EvidenceSink) (rep scanner.Report) {
	rep = scanner.Report{Inspector: Name, InspectorVersion: Version, Source: src, Status: scanner.StatusFailed, Observations: []scanner.Observation{}}
	defer func() {
		if r := recover(); r != nil {
			rep.Status = scanner.StatusFailed
			rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: internal error: %v\n%s", src.Locator, r, debug.Stack()))
		}
	}()
	opts, optErrs := in.sourceOptions(src)
	rep.Errors = append(rep.Errors, optErrs...)
	switch src.Kind {
	case scanner.SourceHAR:
		in.inspectHAR(ctx, src, sink, opts, &rep)
	case scanner.SourceH5URL:
		in.inspectLive(ctx, src, sink, opts, &rep)
	default:
		rep.Status = scanner.StatusSkipped
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: source kind %q not handled", src.Kind))
	}
	if rep.Status == scanner.StatusSucceeded && len(rep.Errors) > 0 {
		rep.Status = scanner.StatusPartial
	}
	return rep
}

// sourceOptions merges per-source options into the inspector's.
func (in *Inspector) sourceOptions(src scanner.Source) (Options, []string) {
	opts := in.opts
	var errs []string
	o := src.Options
	if p := o["device_values"]; p != "" {
		dv, err := LoadDeviceValues(p)
		if err != nil {
			errs = append(errs, fmt.Sprintf("traffic: device values: %v", err))
		} else {
			opts.Device = dv
		}
	}
	if s := o["consent_at"]; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("traffic: consent_at %q: not an RFC 3339 time", s))
		} else {
			opts.ConsentAt = t
		}
	}
	if s := o["consent_action"]; s != "" {
		opts.ConsentAction = s
	}
	if s := o["consent_url"]; s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			errs = append(errs, fmt.Sprintf("traffic: consent_url: %v", err))
		} else {
			opts.ConsentURL = re
		}
	}
	if s := o["first_party"]; s != "" {
		for _, d := range strings.Split(s, ",") {
			if d = strings.TrimSpace(d); d != "" {
				opts.FirstPartyDomains = append(opts.FirstPartyDomains, d)
			}
		}
	}
	if s := o["action"]; s != "" {
		opts.Capture.Action = s
	}
	if s := o["consent_selector"]; s != "" {
		opts.Capture.ConsentSelector = s
	}
	if s := o["refuse_selector"]; s != "" {
		opts.Capture.RefuseSelector = s
	}
	return opts, errs
}

func (in *Inspector) meta(method, source, mediaType, note string) evidence.Meta {
	return evidence.Meta{CapturedAt: time.Now().UTC(), Method: method, Source: source, Tool: in.opts.Tool,
		Inspector: Name + "/" + Version, MediaType: mediaType, Note: note}
}

func (in *Inspector) inspectHAR(ctx context.Context, src scanner.Source, sink scanner.EvidenceSink, opts Options, rep *scanner.Report) {
	f, err := os.Open(src.Locator)
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %v", err))
		return
	}
	defer f.Close()
	ref, err := sink.Put(f, in.meta("har_import", src.Locator, "application/json", "HAR 1.2 capture"))
	if err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: store %s: %v", src.Locator, err))
		return
	}
	rep.Evidence = append(rep.Evidence, ref)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %v", src.Locator, err))
		return
	}
	in.analyse(ctx, src.Locator, f, ref, opts, rep)
}

// analyse streams a HAR through the analyzer and fills the report.
func (in *Inspector) analyse(ctx context.Context, name string, r io.Reader, ref evidence.Ref, opts Options, rep *scanner.Report) *Result {
	a := NewAnalyzer(in.catalogue(), opts)
	info, err := ReadHAR(r, opts.Limits, func(e *Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		a.Add(e)
		return nil
	})
	res := a.Finish(info)
	for _, ee := range info.EntryErrors {
		if len(rep.Errors) >= 60 {
			break
		}
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %s", name, ee))
	}
	if n := info.EntryErrorCount - len(info.EntryErrors); n > 0 {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %d more entry errors", name, n))
	}
	for _, n := range info.Notes {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %s", name, n))
	}
	if info.Truncated > 0 {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %d entries had strings cut at %d bytes", name, info.Truncated, opts.Limits.withDefaults().MaxStringBytes))
	}
	for _, e := range res.Errors {
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %s", name, e))
	}
	for _, o := range res.Observations {
		o.Inspector, o.InspectorVersion = Name, Version
		o.EvidenceRefs = []string{ref.SHA256}
		rep.Observations = append(rep.Observations, o)
	}
	switch {
	case err != nil && info.Read == 0:
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %v", name, err))
		rep.Status = scanner.StatusFailed
	case err != nil:
		rep.Errors = append(rep.Errors, fmt.Sprintf("traffic: %s: %v (kept the %d entries read before)", name, err, info.Read))
		rep.Status = scanner.StatusPartial
	case errors.Is(ctx.Err(), context.Canceled):
		rep.Status = scanner.StatusPartial
	default:
		rep.Status = scanner.StatusSucceeded
	}
	return res
}
