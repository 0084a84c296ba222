package traffic

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/scanner"
)

// Name and Version identify the inspector in observations and evidence.
const (
	Name    = "traffic"
	Version = "2"
)

// Inspector reads HAR files (scanner.SourceHAR) and captures H5 pages (scanner.SourceH5URL).
//
// Source options: "device_values" (path to a device-values YAML, see
// testdata/device_values.example.yaml), "consent_at" (RFC 3339 time of the consent click),
// "consent_action" (agree | refuse), "consent_url" (regexp: the first matching request marks
// consent; without it pilmon's built-in consent-endpoint words are used, "consent_url: none" turns
// that off), "first_party" (comma-separated domains of the target), "app_package" (the app's
// package name, whose reversed domain is the operator's), and for H5 URLs "action"
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
	if opts.MaxHARBytes <= 0 {
		opts.MaxHARBytes = defaultMaxHARBytes
	}
	return &Inspector{cat: cat, opts: opts}
}

func (in *Inspector) Name() string    { return Name }
func (in *Inspector) Version() string { return Version }

// defaultMaxHARBytes bounds a HAR file; the reader streams it, so the bound is on storage.
const defaultMaxHARBytes = 4 << 30

// Kinds declares HAR files (the core opens, limits and stores them) and H5 URLs (captured here).
func (in *Inspector) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{
		{Kind: scanner.SourceHAR, Inventory: "has_traffic", File: &scanner.FileSpec{MaxBytes: in.opts.MaxHARBytes,
			Store: scanner.StoreSpec{Method: "har_import", MediaType: "application/json", Note: "HAR 1.2 capture", Tool: in.opts.Tool}},
			Label:  scanner.Label{ZH: "HAR 抓包文件", EN: "HAR capture"},
			Detect: &scanner.DetectSpec{Text: func(head []byte) bool { return looksLikeHAR(scanner.TrimText(head)) }},
			Upload: &scanner.UploadSpec{Exts: []string{".har"}}, Options: captureOptions},
		{Kind: scanner.SourceH5URL, Inventory: "has_traffic", URL: true,
			Label: scanner.Label{ZH: "H5 页面网址", EN: "H5 page URL"}, Target: scanner.TargetSite,
			Options: append(slices.Clip(captureOptions), liveOptions...)},
	}
}

// captureOptions are the source options of a capture, imported or live (sourceOptions reads them).
var captureOptions = []scanner.OptionSpec{
	{Name: "device_values", Path: true, Help: "测试机真实标识 YAML / device-values YAML of the test phone"},
	{Name: "consent_at", Help: "同意时间 RFC 3339 / time of the consent click (RFC 3339)"},
	{Name: "consent_action", Help: "agree | refuse"},
	{Name: "consent_url", Help: "正则：首个匹配的请求即同意 / regexp: the first matching request marks consent"},
	{Name: "first_party", Help: "第一方域名（逗号分隔）/ the target's own domains, comma-separated"},
	{Name: "app_package", Help: "App 包名，其注册域名视为第一方 / the app's package name; its registrable domain counts as first party"},
}

// liveOptions are the further options of a live H5 capture.
var liveOptions = []scanner.OptionSpec{
	{Name: "action", Help: "agree | refuse: 在同意弹窗上点击 / what to click in the consent dialog"},
	{Name: "consent_selector", Help: "同意按钮 CSS 选择器 / CSS selector of the agree button"},
	{Name: "refuse_selector", Help: "拒绝按钮 CSS 选择器 / CSS selector of the refuse button"},
}

// looksLikeHAR accepts a JSON object whose first key is "log" and which mentions "entries" or
// the HAR "creator"/"version" fields near the start.
func looksLikeHAR(text []byte) bool {
	if len(text) == 0 || text[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(text[1:], " \t\r\n")
	if !bytes.HasPrefix(rest, []byte(`"log"`)) {
		return false
	}
	return bytes.Contains(text, []byte(`"entries"`)) || bytes.Contains(text, []byte(`"creator"`)) || bytes.Contains(text, []byte(`"version"`))
}

func (in *Inspector) catalogue() SDKCatalogue {
	if in.cat == nil {
		return nil
	}
	return in.cat
}

// Inspect streams a stored HAR through the analysis; for an H5 URL it captures the page live,
// stores the HAR and screenshots, and analyses that HAR.
func (in *Inspector) Inspect(ctx context.Context, input *scanner.Input) (out scanner.Output) {
	src := input.Source
	opts, optErrs := in.sourceOptions(src)
	opts.Known = input.Known
	out.Errors = append(out.Errors, optErrs...)
	switch src.Kind {
	case scanner.SourceHAR:
		in.analyse(ctx, input.Path, io.NewSectionReader(input.Reader, 0, input.Size), input.Ref, opts, &out)
		// In a session, the hook log's events and this capture's go on one timeline, which the
		// findings showing a read→send chain name as evidence.
		if ref := in.storeSessionTimeline(input, out.Observations, &out); ref != "" {
			for i := range out.Observations {
				if o := &out.Observations[i]; o.Kind == "traffic.pi_sent" && o.Attributes["known_source"] == "hooklog" {
					o.EvidenceRefs = append(o.EvidenceRefs, ref)
				}
			}
		}
	case scanner.SourceH5URL:
		in.inspectLive(ctx, src, input.Sink, opts, &out)
	}
	return out
}

// sourceOptions merges per-source options into the inspector's.
func (in *Inspector) sourceOptions(src scanner.Source) (Options, []scanner.FileError) {
	opts := in.opts
	var errs []scanner.FileError
	o := src.Options
	if p := o["device_values"]; p != "" {
		dv, err := LoadDeviceValues(p)
		if err != nil {
			errs = append(errs, scanner.Errorf(src.Locator, "device values: %v", err))
		} else {
			opts.Device = dv
		}
	}
	if s := o["consent_at"]; s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			errs = append(errs, scanner.Errorf(src.Locator, "consent_at %q: not an RFC 3339 time", s))
		} else {
			opts.ConsentAt = t
		}
	}
	if s := o["consent_action"]; s != "" {
		opts.ConsentAction = s
	}
	if s := o["consent_url"]; s == "none" {
		opts.NoConsentEndpoint = true
	} else if s != "" {
		re, err := regexp.Compile(s)
		if err != nil {
			errs = append(errs, scanner.Errorf(src.Locator, "consent_url: %v", err))
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
	if s := o["app_package"]; s != "" {
		opts.AppPackage = s
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

// analyse streams a HAR through the analyzer and fills the output.
func (in *Inspector) analyse(ctx context.Context, name string, r io.Reader, ref evidence.Ref, opts Options, out *scanner.Output) *Result {
	a := NewAnalyzer(in.catalogue(), opts)
	info, err := ReadHAR(r, opts.Limits, func(e *Entry) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		a.Add(e)
		return nil
	})
	res := a.Finish(info)
	add := func(format string, args ...any) {
		out.Errors = append(out.Errors, scanner.Errorf(name, format, args...))
	}
	for _, ee := range info.EntryErrors {
		if len(out.Errors) >= 60 {
			break
		}
		add("%s", ee)
	}
	if n := info.EntryErrorCount - len(info.EntryErrors); n > 0 {
		add("%d more entry errors", n)
	}
	for _, n := range info.Notes {
		add("%s", n)
	}
	if info.Truncated > 0 {
		add("%d entries had strings cut at %d bytes", info.Truncated, opts.Limits.withDefaults().MaxStringBytes)
	}
	for _, e := range res.Errors {
		add("%s", e)
	}
	for _, o := range res.Observations {
		o.Inspector, o.InspectorVersion = Name, Version
		o.EvidenceRefs = []string{ref.SHA256}
		out.Observations = append(out.Observations, o)
	}
	switch {
	case err != nil && info.Read == 0:
		add("%v", err)
	case err != nil:
		add("%v (kept the %d entries read before)", err, info.Read)
	}
	return res
}
