package casefile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/sm3"
)

// job is one export in progress.
type job struct {
	items     []item
	target    scanner.Target
	user      string
	sel       Selection
	ev        *evidence.Store
	cat       *rules.Catalogue
	opts      Options
	extraRefs []string
	// excluded counts, per rule, the target's findings the selection left out.
	excluded map[string]int
	scanID   string
	started  time.Time
	finished time.Time

	now     time.Time
	refs    []string                   // every artifact to bundle, sorted
	records map[string]evidence.Record // by SHA-256
	citedBy map[string][]string        // artifact → fingerprints citing it, sorted
	files   []FileEntry
}

func (j *job) run(ctx context.Context, w io.Writer) (Summary, error) {
	if len(j.opts.Key) != ed25519.PrivateKeySize {
		return Summary{}, errors.New("casefile: no signing key (casefile.LoadOrCreateKey)")
	}
	if err := j.prepare(); err != nil {
		return Summary{}, err
	}
	b := j.opts.Browser
	product := ""
	if !j.opts.SkipPDF {
		if b == nil {
			nb, err := browser.New(browser.Options{})
			if err != nil {
				return Summary{}, fmt.Errorf("casefile: pdf: %w", err)
			}
			defer nb.Close()
			b = nb
		}
		// Fail before copying gigabytes of evidence, not after.
		if err := b.Available(); err != nil {
			return Summary{}, fmt.Errorf("casefile: the PDF needs Chromium (or SkipPDF): %w", err)
		}
		// The cover names the Chromium that printed the report; a browser that cannot say is
		// named without its version.
		if p, err := b.Product(ctx); err == nil {
			product = p
		}
	}
	rep := j.reportData(product)
	rep.PolicyDiffs = j.policyDiffs(ctx)
	if err := ctx.Err(); err != nil {
		return Summary{}, err
	}

	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, newFastFlate)
	sum := Summary{Findings: len(j.items), Evidence: len(j.refs)}
	buf := make([]byte, 256<<10)
	for _, h := range j.refs {
		if err := ctx.Err(); err != nil {
			return Summary{}, err
		}
		if err := j.copyEvidence(zw, h, buf); err != nil {
			return Summary{}, err
		}
		sum.EvidenceBytes += j.records[h].Ref.Size
	}
	if err := j.member(zw, FindingsName, RoleFindings, "application/json", zip.Deflate, j.writeFindings); err != nil {
		return Summary{}, err
	}
	if !j.opts.SkipPDF {
		if err := j.writeReports(ctx, zw, b, rep); err != nil {
			return Summary{}, err
		}
	}
	if err := j.member(zw, DraftName, RoleDraft, docxMediaType, zip.Store, func(w io.Writer) error {
		return writeDOCX(w, rep, j.now)
	}); err != nil {
		return Summary{}, err
	}
	if err := j.member(zw, SheetName, RoleSpreadsheet, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		zip.Store, func(w io.Writer) error { return writeXLSX(w, rep) }); err != nil {
		return Summary{}, err
	}
	// The findings and the evidence records are written (and rep, their report view, is dead from
	// here): let the collector have them before the manifest is encoded, the last large allocation.
	j.items, j.records, j.citedBy = nil, nil, nil
	pub := j.opts.Key.Public().(ed25519.PublicKey)
	if err := j.member(zw, PublicKeyName, RolePublicKey, "application/x-pem-file", zip.Deflate, bytesTo(PublicKeyPEM(pub))); err != nil {
		return Summary{}, err
	}
	if err := j.member(zw, VerifyName, RoleInstructions, "text/plain; charset=utf-8", zip.Deflate,
		bytesTo(verifyText(KeyFingerprint(pub)))); err != nil {
		return Summary{}, err
	}

	slices.SortFunc(j.files, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
	m := Manifest{Format: ManifestFormat, CreatedAt: j.now, Tool: j.opts.Tool, ExportedBy: j.user, Lang: j.opts.Lang,
		Selection: normSelection(j.sel), Target: ManifestTarget{ID: j.target.ID, Kind: string(j.target.Kind),
			Name: j.target.Name, Operator: j.target.Operator, Category: j.target.Category},
		ScanID:    j.scanID,
		PublicKey: PublicKeyInfo{Algorithm: "ed25519", Key: base64.StdEncoding.EncodeToString(pub), Fingerprint: KeyFingerprint(pub)},
		Findings:  sum.Findings, Files: j.files}
	mb, err := encodeManifest(m)
	if err != nil {
		return Summary{}, err
	}
	if err := rawMember(zw, ManifestName, zip.Deflate, j.now, mb); err != nil {
		return Summary{}, err
	}
	if err := rawMember(zw, SignatureName, zip.Store, j.now, ed25519.Sign(j.opts.Key, mb)); err != nil {
		return Summary{}, err
	}
	msum := sha256.Sum256(mb)
	sum.ManifestSHA256 = hex.EncodeToString(msum[:])
	sum.PublicKeyFingerprint = KeyFingerprint(pub)
	if j.opts.TSAURL != "" {
		resp, tok, err := requestTimestamp(ctx, j.opts.HTTPClient, j.opts.TSAURL, msum[:])
		if err != nil {
			return Summary{}, err
		}
		if err := rawMember(zw, TimestampName, zip.Store, j.now, resp); err != nil {
			return Summary{}, err
		}
		sum.Timestamped, sum.TimestampTime = true, tok.GenTime
	}
	if err := zw.Close(); err != nil {
		return Summary{}, fmt.Errorf("casefile: finish zip: %w", err)
	}
	return sum, nil
}

// prepare checks the options, fixes the export time and reads the evidence records.
func (j *job) prepare() error {
	if j.opts.Lang == "" {
		j.opts.Lang = "zh"
	}
	if j.opts.Lang != "zh" && j.opts.Lang != "en" {
		return fmt.Errorf("casefile: language %q: want zh or en", j.opts.Lang)
	}
	if j.opts.Tool == "" {
		j.opts.Tool = "pilmon"
	}
	if j.opts.Case != nil {
		if err := j.opts.Case.check(); err != nil {
			return err
		}
	}
	now := time.Now
	if j.opts.Now != nil {
		now = j.opts.Now
	}
	j.now = now().UTC().Truncate(time.Second)
	return j.collectEvidence()
}

// fastFlates recycles the deflate writers of the bundle's members: a flate.Writer is about 1 MiB
// of tables, and a new one per member (2,500 deflated artifacts in a large export) made half a
// gigabyte of garbage that kept the heap swinging by tens of megabytes while evidence was copied.
// Reset makes a writer equivalent to a new one, so the bytes written are the same.
var fastFlates sync.Pool

type pooledFlate struct{ *flate.Writer }

func newFastFlate(out io.Writer) (io.WriteCloser, error) {
	if fw, ok := fastFlates.Get().(*flate.Writer); ok {
		fw.Reset(out)
		return pooledFlate{fw}, nil
	}
	fw, err := flate.NewWriter(out, flate.BestSpeed)
	if err != nil {
		return nil, err
	}
	return pooledFlate{fw}, nil
}

// Close finishes the member's stream and gives the writer back; it must not be used afterwards.
func (p pooledFlate) Close() error {
	err := p.Writer.Close()
	fastFlates.Put(p.Writer)
	return err
}

func normSelection(s Selection) Selection {
	s.Fingerprints = slices.Compact(slices.Sorted(slices.Values(s.Fingerprints)))
	if len(s.Fingerprints) == 0 {
		s.Fingerprints = nil
	}
	return s
}

// collectEvidence gathers the artifacts every finding and observation cites (and the extra
// references of a scan bundle) and reads their records.
func (j *job) collectEvidence() error {
	cited := map[string]map[string]bool{}
	add := func(h, fp string) error {
		if err := evidence.CheckHash(h); err != nil {
			if fp != "" {
				return fmt.Errorf("casefile: finding %s cites %w", fp, err)
			}
			return fmt.Errorf("casefile: %w", err)
		}
		if cited[h] == nil {
			cited[h] = map[string]bool{}
			if len(cited) > MaxEvidence {
				return fmt.Errorf("casefile: more than %d artifacts", MaxEvidence)
			}
		}
		if fp != "" {
			cited[h][fp] = true
		}
		return nil
	}
	for _, it := range j.items {
		for _, h := range it.f.EvidenceRefs {
			if err := add(h, it.f.Fingerprint); err != nil {
				return err
			}
		}
		for _, o := range it.f.Observations {
			for _, h := range o.EvidenceRefs {
				if err := add(h, it.f.Fingerprint); err != nil {
					return err
				}
			}
		}
	}
	for _, h := range j.extraRefs {
		if err := add(h, ""); err != nil {
			return err
		}
	}
	j.refs = make([]string, 0, len(cited))
	j.records = make(map[string]evidence.Record, len(cited))
	j.citedBy = make(map[string][]string, len(cited))
	for h, fps := range cited {
		j.refs = append(j.refs, h)
		j.citedBy[h] = slices.Sorted(func(yield func(string) bool) {
			for fp := range fps {
				if !yield(fp) {
					return
				}
			}
		})
	}
	slices.Sort(j.refs)
	for _, h := range j.refs {
		rec, err := j.ev.Stat(h)
		if err != nil {
			return fmt.Errorf("casefile: evidence %s (cited by %s): %w", h, strings.Join(first(j.citedBy[h], 3), ", "), err)
		}
		j.records[h] = rec
	}
	return nil
}

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], "…")
	}
	return s
}

// evidencePath is the member name of an artifact.
func evidencePath(h, mediaType string) string { return EvidenceDir + h + extFor(mediaType) }

// copyEvidence streams one artifact into the zip, hashing it with SHA-256 and SM3 on the way, and
// fails naming the artifact if the bytes are not those the store recorded.
func (j *job) copyEvidence(zw *zip.Writer, h string, buf []byte) error {
	rec := j.records[h]
	path, err := j.ev.Path(h)
	if err != nil {
		return fmt.Errorf("casefile: evidence %s: %w", h, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("casefile: evidence %s: %w", h, err)
	}
	defer f.Close()
	mt := rec.First().MediaType
	method := zip.Deflate
	if precompressed(mt) {
		method = zip.Store
	}
	name := evidencePath(h, mt)
	dst, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: j.now})
	if err != nil {
		return fmt.Errorf("casefile: %s: %w", name, err)
	}
	dw := newDigestWriter(dst)
	if _, err := io.CopyBuffer(dw, io.LimitReader(f, rec.Ref.Size+1), buf); err != nil {
		return fmt.Errorf("casefile: evidence %s: %w", h, err)
	}
	got := dw.entry()
	switch {
	case got.Size != rec.Ref.Size:
		return fmt.Errorf("casefile: evidence %s: %w: %d bytes read, %d recorded", h, evidence.ErrTampered, got.Size, rec.Ref.Size)
	case got.SHA256 != h:
		return fmt.Errorf("casefile: evidence %s: %w: content hashes to sha256 %s", h, evidence.ErrTampered, got.SHA256)
	case got.SM3 != rec.Ref.SM3:
		return fmt.Errorf("casefile: evidence %s: %w: content hashes to sm3 %s, the store records %s", h, evidence.ErrTampered, got.SM3, rec.Ref.SM3)
	}
	got.Path, got.Role, got.MediaType = name, RoleEvidence, mt
	got.Captures = rec.Captures
	got.Findings = j.citedBy[h]
	got.Rendered = j.renderedCopies(h)
	j.files = append(j.files, got)
	return nil
}

// renderedCopies returns, for a captured page (HTML, MHTML), the member names of the bundled
// renderings of it: screenshots and PDFs that the same browser capture stored (method
// browser_capture, same source URL, same capture time). Only artifacts in this bundle are named.
func (j *job) renderedCopies(h string) []string {
	if !isPageType(j.records[h].First().MediaType) {
		return nil
	}
	type captureKey struct {
		source string
		at     time.Time
	}
	mine := map[captureKey]bool{}
	for _, c := range j.records[h].Captures {
		if c.Method == "browser_capture" {
			mine[captureKey{c.Source, c.CapturedAt}] = true
		}
	}
	if len(mine) == 0 {
		return nil
	}
	var out []string
	for _, o := range j.refs {
		rec := j.records[o]
		if o == h || !isRenderingType(rec.First().MediaType) {
			continue
		}
		for _, c := range rec.Captures {
			if c.Method == "browser_capture" && mine[captureKey{c.Source, c.CapturedAt}] {
				out = append(out, evidencePath(o, rec.First().MediaType))
				break
			}
		}
	}
	return out
}

func baseType(mt string) string {
	return strings.ToLower(strings.TrimSpace(strings.SplitN(mt, ";", 2)[0]))
}

// isPageType: captured pages, whose bytes are the investigated party's markup and scripts.
func isPageType(mt string) bool {
	switch baseType(mt) {
	case "text/html", "application/xhtml+xml", "multipart/related", "application/x-mimearchive":
		return true
	}
	return false
}

// isRenderingType: what a browser capture renders a page to, safe to open.
func isRenderingType(mt string) bool {
	switch baseType(mt) {
	case "image/png", "image/jpeg", "image/webp", "application/pdf":
		return true
	}
	return false
}

// member writes one generated member and records it in the manifest.
func (j *job) member(zw *zip.Writer, name, role, mediaType string, method uint16, write func(io.Writer) error) error {
	dst, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: j.now})
	if err != nil {
		return fmt.Errorf("casefile: %s: %w", name, err)
	}
	dw := newDigestWriter(dst)
	if err := write(dw); err != nil {
		return fmt.Errorf("casefile: %s: %w", name, err)
	}
	e := dw.entry()
	e.Path, e.Role, e.MediaType = name, role, mediaType
	j.files = append(j.files, e)
	return nil
}

func rawMember(zw *zip.Writer, name string, method uint16, at time.Time, data []byte) error {
	dst, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: at})
	if err == nil {
		_, err = dst.Write(data)
	}
	if err != nil {
		return fmt.Errorf("casefile: %s: %w", name, err)
	}
	return nil
}

func bytesTo(b []byte) func(io.Writer) error {
	return func(w io.Writer) error { _, err := w.Write(b); return err }
}

// writeFindings streams findings.json: each finding's canonical JSON and its history.
func (j *job) writeFindings(w io.Writer) error {
	if _, err := io.WriteString(w, `{"format":"`+FindingsFormat+`","findings":[`); err != nil {
		return err
	}
	for i, it := range j.items {
		fj, err := findings.MarshalCanonical(it.f)
		if err != nil {
			return fmt.Errorf("finding %s: %w", it.f.Fingerprint, err)
		}
		hist := make([]findings.Transition, len(it.history))
		for k, t := range it.history {
			t.At = t.At.UTC().Round(0)
			hist[k] = t
		}
		hj, err := canonicalJSON(hist)
		if err != nil {
			return fmt.Errorf("history of %s: %w", it.f.Fingerprint, err)
		}
		sep := ",\n"
		if i == 0 {
			sep = "\n"
		}
		var b bytes.Buffer
		b.WriteString(sep)
		b.WriteString(`{"finding":`)
		b.Write(fj)
		b.WriteString(`,"history":`)
		b.Write(hj)
		b.WriteString("}")
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, "\n]}\n")
	return err
}

// canonicalJSON is json.Marshal without HTML escaping or trailing newline; nil slices become [].
func canonicalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if string(out) == "null" {
		return []byte("[]"), nil
	}
	return out, nil
}

// digestWriter hashes what passes through it with SHA-256 and SM3.
type digestWriter struct {
	w       io.Writer
	sha, sm hash.Hash
	n       int64
}

func newDigestWriter(w io.Writer) *digestWriter {
	return &digestWriter{w: w, sha: sha256.New(), sm: sm3.New()}
}

func (d *digestWriter) Write(p []byte) (int, error) {
	n, err := d.w.Write(p)
	d.sha.Write(p[:n])
	d.sm.Write(p[:n])
	d.n += int64(n)
	return n, err
}

func (d *digestWriter) entry() FileEntry {
	return FileEntry{Size: d.n, SHA256: hex.EncodeToString(d.sha.Sum(nil)), SM3: hex.EncodeToString(d.sm.Sum(nil))}
}

// precompressed reports media types that deflate would not shrink.
func precompressed(mt string) bool {
	mt = strings.ToLower(strings.TrimSpace(strings.SplitN(mt, ";", 2)[0]))
	switch {
	case strings.HasPrefix(mt, "image/") && mt != "image/svg+xml" && mt != "image/bmp",
		strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "audio/"):
		return true
	}
	switch mt {
	case "application/vnd.android.package-archive", "application/zip", "application/gzip", "application/x-gzip",
		"application/x-brotli", "application/zstd", "application/x-7z-compressed", "application/x-xz":
		return true
	}
	return false
}

// extFor gives the file extension a case officer's tools open an artifact with. Captured markup
// and script (HTML, MHTML, SVG, JavaScript) are the investigated party's code: under their own
// extension a double click would run them in the officer's browser (or, for .js, Windows Script
// Host). They keep their bytes, and so their hashes, but get a second extension, .txt, so that
// they open as text; VERIFY.txt says how to view them safely, and the manifest points to the
// screenshot of the same capture (FileEntry.Rendered).
func extFor(mt string) string {
	switch baseType(mt) {
	case "application/vnd.android.package-archive":
		return ".apk"
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	case "text/html", "application/xhtml+xml":
		return ".html.txt"
	case "multipart/related", "application/x-mimearchive":
		return ".mhtml.txt"
	case "image/svg+xml":
		return ".svg.txt"
	case "application/javascript", "text/javascript":
		return ".js.txt"
	case "application/json", "application/har+json":
		return ".json"
	case "text/plain":
		return ".txt"
	case "application/pdf":
		return ".pdf"
	case "application/zip":
		return ".zip"
	case "application/x-wxapkg":
		return ".wxapkg"
	}
	return ""
}
