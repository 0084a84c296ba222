package apkfetch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"pilmon/apkinspect"
	"pilmon/apkinspect/safezip"
	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/scanner"
)

// Name and Version identify the inspector in reports and evidence.
const (
	Name    = "apkfetch"
	Version = "1"
)

// Source kinds this inspector reads.
const (
	SourceAPKURL     scanner.SourceKind = "apk_url"
	SourceAPKPageURL scanner.SourceKind = "apk_page_url"
)

// Options configure an Inspector.
type Options struct {
	// Guard is the capture browser's SSRF guard (with the operator's allow-list); required.
	Guard *browser.Guard
	// Browser captures download pages; nil refuses apk_page_url sources.
	Browser *browser.Browser
	Limits  Limits
	Tool    string
	// TempDir holds downloads while they are checked; "" is the system's.
	TempDir string
	// Capture bounds the download page's capture (the link selector is set per source).
	Capture browser.CaptureOptions
}

// Inspector fetches packages from where they are distributed and hands new ones to apkinspect.
type Inspector struct {
	apk   *apkinspect.Inspector
	fetch *Fetcher
	opts  Options
}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns an Inspector that inspects what it downloads with apk.
func New(apk *apkinspect.Inspector, opts Options) *Inspector {
	if opts.Tool == "" {
		opts.Tool = "pilmon"
	}
	return &Inspector{apk: apk, opts: opts,
		fetch: &Fetcher{Guard: opts.Guard, Limits: opts.Limits, Tool: opts.Tool, TempDir: opts.TempDir}}
}

func (in *Inspector) Name() string { return Name }
func (in *Inspector) Version() string {
	return Version + "+" + apkinspect.Name + "/" + apkinspect.Version
}

var tlsOptions = []scanner.OptionSpec{
	{Name: "tls_cert_sha256", Help: "接受该 SHA-256 的服务器证书（测试服务器、内网镜像）/ accept exactly the server certificate with this SHA-256 (a test server, an intranet mirror) instead of verifying the chain"},
	{Name: "insecure_tls", Help: "true：不验证服务器证书（记录在来源记录中）/ true: do not verify the server certificate (the provenance record says so)"},
}

// Kinds declares the two remote package sources. A package was inspected (has_app) when its
// manifest was read: an unchanged package, not inspected again, sets no flag.
func (in *Inspector) Kinds() []scanner.KindSpec {
	signals := []scanner.Signal{{Flag: "has_app", Kind: "apk.identity"}, {Flag: "policy_link_found", Kind: "apk.policy_reference"}}
	return []scanner.KindSpec{{
		Kind:    SourceAPKURL,
		Label:   scanner.Label{ZH: "APK 下载地址", EN: "APK download URL"},
		Target:  scanner.TargetApp,
		Options: tlsOptions,
		URL:     true,
		Signals: signals,
	}, {
		Kind:   SourceAPKPageURL,
		Label:  scanner.Label{ZH: "APK 下载页", EN: "APK download page"},
		Target: scanner.TargetApp,
		Options: append([]scanner.OptionSpec{
			{Name: "link_selector", Help: "下载链接的 CSS 选择器 / CSS selector of the download link"},
			{Name: "link_pattern", Help: "下载链接网址须匹配的正则表达式 / regular expression the download link's URL must match"},
		}, tlsOptions...),
		URL:     true,
		Signals: signals,
	}}
}

// tlsPolicy reads a source's TLS options.
func tlsPolicy(src scanner.Source) (TLSPolicy, error) {
	tp := TLSPolicy{PinSHA256: strings.ToLower(strings.ReplaceAll(strings.TrimSpace(src.Options["tls_cert_sha256"]), ":", ""))}
	if tp.PinSHA256 != "" && (len(tp.PinSHA256) != 64 || strings.Trim(tp.PinSHA256, "0123456789abcdef") != "") {
		return tp, fmt.Errorf("tls_cert_sha256: want 64 hexadecimal digits")
	}
	switch strings.ToLower(strings.TrimSpace(src.Options["insecure_tls"])) {
	case "", "false", "no", "0":
	case "true", "yes", "1":
		tp.Insecure = true
	default:
		return tp, fmt.Errorf("insecure_tls: want true or false")
	}
	return tp, nil
}

// Inspect fetches the package (through the download page for apk_page_url), stores it with its
// provenance record and inspects it, unless it is the package the target's previous version was.
func (in *Inspector) Inspect(ctx context.Context, input *scanner.Input) scanner.Output {
	var out scanner.Output
	src := input.Source
	fail := func(format string, a ...any) scanner.Output {
		out.Errors = append(out.Errors, scanner.Errorf(src.Locator, format, a...))
		return out
	}
	if in.opts.Guard == nil {
		return fail("no egress guard configured for downloads")
	}
	tp, err := tlsPolicy(src)
	if err != nil {
		return fail("%v", err)
	}
	link, pageRefs := src.Locator, []string(nil)
	if src.Kind == SourceAPKPageURL {
		var ok bool
		link, pageRefs, ok = in.pickFromPage(ctx, input, tp, &out)
		if !ok {
			return out
		}
	}
	cond := Conditional{}
	if p := input.Prior; p != nil && p.URL == link {
		cond = Conditional{ETag: p.ETag, LastModified: p.LastModified}
	}
	f := *in.fetch
	f.Now = input.Now
	d, ferr := f.Get(ctx, link, cond, tp)
	defer d.Close()
	if src.Kind == SourceAPKPageURL {
		d.Record.Source = src.Locator
	}
	if ferr == nil && d.File != nil {
		ferr = checkIsAPK(d)
	}
	if ferr == nil && d.Record.NotModified && input.Prior == nil {
		ferr = fmt.Errorf("HTTP 304 Not Modified to a request that was not conditional")
	}
	var apkRef evidence.Ref
	unchanged := d.Record.NotModified || (ferr == nil && input.Prior != nil && d.SHA256 == input.Prior.SHA256)
	if ferr == nil && d.File != nil {
		apkRef, err = input.Sink.Put(io.NewSectionReader(d.File, 0, d.Size), evidence.Meta{CapturedAt: d.Record.FetchedAt,
			Method: "http_fetch", Source: link, Tool: in.opts.Tool, Inspector: Name + "/" + Version,
			MediaType: apkinspect.MediaType, Note: "downloaded from " + d.Record.FinalURL})
		if err != nil {
			ferr = fmt.Errorf("storing the download: %v", err)
		} else if apkRef.SHA256 != d.SHA256 {
			ferr = fmt.Errorf("stored %s but downloaded %s", apkRef.SHA256, d.SHA256)
		}
	}
	if ferr != nil {
		d.Record.Error = ferr.Error()
	}
	// The record is stored whatever happened: a refused or failed download is evidence too.
	provRef, perr := in.storeRecord(input.Sink, d.Record, link)
	if perr != nil {
		out.Errors = append(out.Errors, scanner.Errorf(link, "storing the provenance record: %v", perr))
	} else {
		out.Artifacts = append(out.Artifacts, provRef)
	}
	if ferr != nil {
		return fail("%v", ferr)
	}
	if apkRef.SHA256 != "" {
		out.Artifacts = append([]evidence.Ref{apkRef}, out.Artifacts...)
	}
	if perr != nil {
		return out
	}
	pv := &scanner.PackageVersion{SHA256: d.SHA256, URL: link, ETag: d.Record.Headers["Etag"],
		LastModified: d.Record.Headers["Last-Modified"], Provenance: provRef.SHA256, FetchedAt: d.Record.FetchedAt,
		FinalURL: d.Record.FinalURL, Address: addrOnly(d.Record.Address)}
	if len(d.Record.TLSChain) > 0 {
		c := d.Record.TLSChain[0]
		pv.ServerCert = c.Subject + " (sha256 " + c.SHA256 + ")"
	}
	refs := append([]string{provRef.SHA256}, pageRefs...)
	if unchanged {
		p := input.Prior
		pv.SHA256, pv.Package, pv.VersionName, pv.VersionCode, pv.SignerSHA256 = p.SHA256, p.Package, p.VersionName, p.VersionCode, p.SignerSHA256
		if pv.ETag == "" {
			pv.ETag = p.ETag
		}
		if pv.LastModified == "" {
			pv.LastModified = p.LastModified
		}
		pv.Unchanged = true
		out.Observations = append(out.Observations, provenanceObservation(src, d.Record, pv, append(refs, p.SHA256)))
		out.Package = pv
		return out
	}
	apkIn := &scanner.Input{Source: scanner.Source{Kind: scanner.SourceAPK, Locator: link, Options: src.Options},
		Path: d.Record.FinalURL, Reader: d.File, Size: d.Size, Ref: apkRef, Sink: input.Sink, Now: input.Now}
	aout := in.apk.Inspect(ctx, apkIn)
	out.Errors = append(out.Errors, aout.Errors...)
	out.Artifacts = append(out.Artifacts, aout.Artifacts...)
	pv.Package, pv.VersionName, pv.VersionCode, pv.SignerSHA256 = apkinspect.Identity(aout.Observations)
	out.Observations = append(out.Observations, provenanceObservation(src, d.Record, pv, append(refs, apkRef.SHA256)))
	out.Observations = append(out.Observations, aout.Observations...)
	if p := input.Prior; p != nil && p.SignerSHA256 != "" && pv.SignerSHA256 != "" && p.SignerSHA256 != pv.SignerSHA256 {
		out.Observations = append(out.Observations, scanner.Observation{Kind: "apk.signer_changed", Subject: pv.SignerSHA256,
			Attributes: map[string]any{"package": pv.Package, "signer_sha256": pv.SignerSHA256, "previous_signer_sha256": p.SignerSHA256,
				"sha256": pv.SHA256, "previous_sha256": p.SHA256, "version_name": pv.VersionName, "previous_version_name": p.VersionName},
			EvidenceRefs: []string{apkRef.SHA256, p.SHA256}, Inspector: Name, InspectorVersion: Version})
	}
	out.Package = pv
	return out
}

// pickFromPage captures the download page (its screenshot and request log are evidence of where
// the link was) and picks the APK link.
func (in *Inspector) pickFromPage(ctx context.Context, input *scanner.Input, tp TLSPolicy, out *scanner.Output) (string, []string, bool) {
	src := input.Source
	failed := func(format string, a ...any) (string, []string, bool) {
		out.Errors = append(out.Errors, scanner.Errorf(src.Locator, format, a...))
		return "", nil, false
	}
	if in.opts.Browser == nil {
		return failed("no browser configured for download pages")
	}
	pattern, err := ParsePattern(src.Options["link_pattern"])
	if err != nil {
		return failed("%v", err)
	}
	sel := strings.TrimSpace(src.Options["link_selector"])
	rule := LinkRule{Selector: sel != "", Pattern: pattern}
	copts := in.opts.Capture
	copts.LinkSelector = sel
	if sel == "" {
		copts.LinkSelector = "a[href]"
	}
	c, crefs, cerr := in.opts.Browser.CaptureToEvidence(ctx, input.Sink, src.Locator, copts)
	out.Artifacts = append(out.Artifacts, crefs.All()...)
	var refs []string
	for _, r := range crefs.All() {
		refs = append(refs, r.SHA256)
	}
	if c == nil || cerr != nil && len(c.Links) == 0 {
		return failed("capturing the download page: %v", cerr)
	}
	link, probe := Pick(c.Links, rule)
	for _, p := range probe {
		if link != "" {
			break
		}
		if mt, err := in.fetch.ContentType(ctx, p, tp); err == nil && mt == apkinspect.MediaType {
			link = p
		}
	}
	if link == "" {
		how := "the default rule (a link ending in .apk, or one served as " + apkinspect.MediaType + ")"
		if rule.Selector || rule.Pattern != nil {
			how = "link_selector / link_pattern"
		}
		return failed("no APK link on the page by %s (%d links seen)", how, len(c.Links))
	}
	return link, refs, true
}

// checkIsAPK refuses a zip without AndroidManifest.xml before anything of it is stored.
func checkIsAPK(d *Download) error {
	a, err := safezip.Open(d.File, d.Size, "download", safezip.DefaultLimits())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotAPK, err)
	}
	if _, ok := a.Lookup("AndroidManifest.xml"); !ok {
		return fmt.Errorf("%w: a zip archive without AndroidManifest.xml", ErrNotAPK)
	}
	return nil
}

// storeRecord seals the provenance record in the evidence store.
func (in *Inspector) storeRecord(sink scanner.EvidenceSink, rec Record, link string) (evidence.Ref, error) {
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return evidence.Ref{}, err
	}
	at := rec.FetchedAt
	if at.IsZero() {
		at = time.Now().UTC()
	}
	return sink.Put(bytes.NewReader(b), evidence.Meta{CapturedAt: at, Method: "http_fetch", Source: link, Tool: in.opts.Tool,
		Inspector: Name + "/" + Version, MediaType: "application/json", Note: "APK download provenance record (" + RecordFormat + ")"})
}

// provenanceObservation is the apk.provenance fact of one fetch.
func provenanceObservation(src scanner.Source, rec Record, pv *scanner.PackageVersion, refs []string) scanner.Observation {
	var redirects, chain, headers []string
	for _, h := range rec.Redirects {
		redirects = append(redirects, fmt.Sprintf("%d %s -> %s", h.Status, h.URL, h.Location))
	}
	for _, c := range rec.TLSChain {
		chain = append(chain, fmt.Sprintf("subject=%s; issuer=%s; sha256=%s", c.Subject, c.Issuer, c.SHA256))
	}
	for _, k := range sortedKeys(rec.Headers) {
		headers = append(headers, k+": "+rec.Headers[k])
	}
	attrs := map[string]any{"url": rec.URL, "final_url": rec.FinalURL, "redirects": nonNil(redirects), "address": addrOnly(rec.Address),
		"tls_chain": nonNil(chain), "tls_mode": rec.TLSMode, "headers": nonNil(headers), "fetched_at": rec.FetchedAt.Format(time.RFC3339),
		"status": rec.Status, "sha256": pv.SHA256, "unchanged": pv.Unchanged, "not_modified": rec.NotModified}
	if src.Kind == SourceAPKPageURL {
		attrs["page_url"] = src.Locator
	}
	return scanner.Observation{Kind: "apk.provenance", Subject: src.Locator, Attributes: attrs, EvidenceRefs: refs,
		Inspector: Name, InspectorVersion: Version}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
