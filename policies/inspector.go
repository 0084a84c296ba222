package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"pilmon/browser"
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

// ReaderVersion is recorded on every observation and inspector run, so that a record read later says
// which reader produced it. 2: the clause-by-clause reader (document type and its reason, element
// quotes with present/absent/unclear and their section, every policy.clause, the reading of who
// declares what, linked annexes, states_collection); a scan stored under 1 was read by the older one.
const ReaderVersion = "2"

func (*Inspector) Name() string    { return "policies" }
func (*Inspector) Version() string { return ReaderVersion }

// Kinds declares policy files (the core opens, limits and stores them; a longer file is analysed
// up to the limit) and policy URLs (captured here through the browser).
func (in *Inspector) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{
		{Kind: scanner.SourcePolicyFile, Inventory: "has_policy",
			Label: scanner.Label{ZH: "隐私政策文件", EN: "Privacy policy file"},
			// Text that no other kind claims is a policy: HTML, Markdown or plain text in UTF-8 or a
			// legacy Chinese encoding.
			// JSON (a HAR capture among it) and binary data are never policies.
			Detect: &scanner.DetectSpec{Fallback: true, Text: func(head []byte) bool {
				return refuseContent(head) == nil && (utf8.Valid(head) || likelyLegacyCJK(head))
			}},
			Upload: &scanner.UploadSpec{Exts: []string{".html", ".txt"}},
			File: &scanner.FileSpec{MaxBytes: in.opts.MaxFileBytes, KeepStart: true,
				Store: scanner.StoreSpec{MediaTypeOf: fileMediaType, Tool: in.opts.Tool}}},
		{Kind: scanner.SourcePolicyURL, Inventory: "has_policy", URL: true,
			Label: scanner.Label{ZH: "隐私政策网址", EN: "Privacy policy URL"}},
	}
}

// likelyLegacyCJK is a cheap test for GBK/GB18030/Big5 text: mostly bytes that form valid
// double-byte lead/trail pairs, and no C0 control characters other than whitespace.
func likelyLegacyCJK(b []byte) bool {
	pairs, bad := 0, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x80:
			if c < 0x20 && !strings.ContainsRune("\t\r\n\f", rune(c)) {
				bad++
			}
		case c >= 0x81 && c <= 0xFE && i+1 < len(b) && b[i+1] >= 0x40 && b[i+1] != 0x7F && b[i+1] != 0xFF:
			pairs++
			i++
		default:
			bad++
		}
	}
	return pairs > 0 && bad*20 < pairs
}

// fileMediaType is the media type a policy file is stored and analysed as.
func fileMediaType(name string, head []byte) string {
	return map[Format]string{FormatHTML: "text/html", FormatMarkdown: "text/markdown", FormatText: "text/plain"}[DetectFormat(name, "", head)]
}

// Inspect analyses a stored policy file, or captures a policy URL and analyses what was captured.
func (in *Inspector) Inspect(ctx context.Context, input *scanner.Input) (out scanner.Output) {
	src := input.Source
	var (
		data      []byte
		mediaType string
		refs      []string
		pageURL   string // a captured policy page's final URL, which its links are resolved against
	)
	switch src.Kind {
	case scanner.SourcePolicyFile:
		d, err := input.Bytes()
		if err != nil {
			out.Errors = append(out.Errors, scanner.Errorf(input.Path, "read: %v", err))
			return out
		}
		data, mediaType = d, fileMediaType(input.Path, d)
		refs = []string{input.Ref.SHA256}
	case scanner.SourcePolicyURL:
		if in.br == nil {
			out.Errors = append(out.Errors, scanner.Errorf(src.Locator, "no browser configured for URL capture"))
			return out
		}
		c, crefs, err := in.br.CaptureToEvidence(ctx, input.Sink, src.Locator, in.opts.Capture)
		out.Artifacts = append(out.Artifacts, crefs.All()...)
		if err != nil {
			out.Errors = append(out.Errors, scanner.FileError{Path: src.Locator, Reason: err.Error()})
		}
		if c == nil || len(c.HTML) == 0 {
			if len(out.Errors) == 0 {
				out.Errors = append(out.Errors, scanner.Errorf(src.Locator, "nothing captured"))
			}
			return out
		}
		if c.Partial || err != nil {
			for _, e := range c.Errors {
				out.Errors = append(out.Errors, scanner.FileError{Path: src.Locator, Reason: e})
			}
			if len(out.Errors) == 0 {
				out.Errors = append(out.Errors, scanner.Errorf(src.Locator, "capture incomplete"))
			}
		}
		data, mediaType = c.HTML, "text/html; charset=utf-8"
		pageURL = c.FinalURL
		if pageURL == "" {
			pageURL = src.Locator
		}
		if crefs.HTML.SHA256 != "" {
			refs = []string{crefs.HTML.SHA256}
		}
	}
	a, err := Analyze(src.Locator, data, mediaType, in.cat)
	if err != nil {
		out.Errors = append(out.Errors, scanner.FileError{Path: input.Path, Reason: strings.TrimPrefix(err.Error(), "policies: "+src.Locator+": ")})
		return out
	}
	out.Observations = Observations(a, src.Locator, refs, in.Name(), in.Version())
	if in.cat != nil {
		out.Observations = SDKListObservations(out.Observations, a, in.cat.SDKs(), refs, in.Name(), in.Version())
	}
	// A captured policy's linked annexes are read as part of it; an annex's own links are not
	// followed, and a page that is not a policy has no annexes.
	if src.Kind == scanner.SourcePolicyURL && a.DocType.IsPolicy() && in.br != nil {
		in.annexes(ctx, input, out.Observations[0].Attributes, data, pageURL, &out)
	}
	return out
}

// Observations turns an analysis into the policy.* observations of observation_kinds.yaml. Every
// document yields policy.document with its type and the reason for it. Only a privacy policy or a
// children's policy yields elements and separate-consent facts (what a policy must state); an
// annex (SDK list, permission list) yields what it lists, read as part of the policy it belongs
// to; a terms-of-service page or any other document yields nothing more.
func Observations(a *Analysis, locator string, refs []string, name, version string) []scanner.Observation {
	obs := func(kind, subject string, attrs map[string]any) scanner.Observation {
		return scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs, EvidenceRefs: refs, Inspector: name, InspectorVersion: version}
	}
	doc := map[string]any{"language": a.Language, "title": a.Title, "chars": a.Readability.Chars,
		"doc_type": string(a.DocType), "doc_type_reason": a.DocTypeReason,
		"is_privacy_policy": a.IsPrivacyPolicy, "states_collection": len(a.PIDeclared) > 0, "effective_date": a.EffectiveDate}
	if a.UpdatedDate != "" {
		doc["updated_date"] = a.UpdatedDate
	}
	out := []scanner.Observation{obs("policy.document", locator, doc)}
	if !a.DocType.IsPolicy() && !a.DocType.IsAnnex() {
		return out
	}
	if a.DocType.IsPolicy() {
		for _, id := range ElementIDs {
			e := a.Elements[id]
			out = append(out, obs("policy.element", id, map[string]any{"element": id, "present": e.Presence(), "quote": e.Quote, "section": e.Section}))
		}
	}
	for _, p := range a.PIDeclared {
		out = append(out, obs("policy.pi_declared", p.PI, map[string]any{"pi": []string{p.PI}, "quote": p.Quote, "purpose": p.Purpose}))
	}
	for _, s := range a.SDKsDeclared {
		out = append(out, obs("policy.sdk_declared", s.SDK, map[string]any{"sdk": s.SDK, "quote": s.Quote}))
	}
	if a.DocType.IsPolicy() {
		for _, s := range a.SeparateConsent {
			out = append(out, obs("policy.separate_consent", s.PI, map[string]any{"pi": []string{s.PI}, "present": s.Present, "quote": s.Quote}))
		}
	}
	// clauses.go: the patterns are embedded and checked by TestClauseExamples, so an error here
	// is a build defect, not a property of the input; the other observations stand without them
	cs, _ := Clauses(a)
	first := map[string]bool{}
	for _, c := range cs {
		attrs := map[string]any{"clause": c.Clause, "quote": c.Quote, "section": c.Section}
		// each clause is its own record: the family's first keeps the family's identity (and so
		// the fingerprint it had when only the first was reported), every further one is told
		// apart by its sentence
		if first[c.Clause] {
			attrs["quote_id"] = clauseQuoteID(c.Quote)
		}
		first[c.Clause] = true
		if c.Cut > 0 {
			attrs["cut"] = c.Cut
		}
		out = append(out, obs("policy.clause", c.Clause, attrs))
	}
	return out
}

// clauseQuoteID names a clause by its sentence: the first 12 hex digits of the quote's SHA-256,
// stable across re-scans of the same text wherever the sentence moves in the document.
func clauseQuoteID(q string) string {
	h := sha256.Sum256([]byte(q))
	return hex.EncodeToString(h[:6])
}
