package browser

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod/lib/proto"
)

// PDFOptions control PrintPDF. Templates use Chromium's classes: pageNumber, totalPages, title, date.
type PDFOptions struct {
	HeaderTemplate string
	FooterTemplate string // default: "page / total" centred
	Landscape      bool
	Timeout        time.Duration // 60 s
	// Resources answers the document's requests for URLs under ReportOrigin (given the path
	// after it), so that a report's images are read when Chromium asks for them instead of
	// riding inline in the HTML. Requests are answered one at a time: each answer is held in
	// memory only while it is handed over. An error fails that request (the image is missing).
	Resources func(ctx context.Context, path string) (body []byte, mediaType string, err error)
}

// ReportOrigin is where a printed document's Resources live. The .invalid top-level domain
// (RFC 2606) never resolves, so no server can answer for it: a request under it that Resources
// does not serve fails like any other the guard refuses.
const ReportOrigin = "https://report.pilmon.invalid/"

// DefaultFooter prints "第 n / N 页" (page n of N).
const DefaultFooter = `<div style="font-size:9px;width:100%;text-align:center;">第 <span class="pageNumber"></span> / <span class="totalPages"></span> 页</div>`

// PrintPDF renders an HTML document (A4, backgrounds, CSS page size honoured) to PDF. Resources
// the HTML refers to go through the SSRF guard like any capture; inline them for offline use.
func (b *Browser) PrintPDF(ctx context.Context, html []byte, opts PDFOptions) ([]byte, error) {
	var buf bytes.Buffer
	if err := b.PrintPDFTo(ctx, &buf, string(html), opts); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PrintPDFTo is PrintPDF writing the PDF to w as Chromium streams it, so that a large report is
// never held whole in memory (nor as one base64 message on the DevTools connection). The HTML is
// a string because that is what goes into the DevTools message: a []byte would be copied again.
func (b *Browser) PrintPDFTo(ctx context.Context, w io.Writer, html string, opts PDFOptions) error {
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.FooterTemplate == "" {
		opts.FooterTemplate = DefaultFooter
	}
	if opts.HeaderTemplate == "" {
		opts.HeaderTemplate = "<span></span>"
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	rb, _, release, err := b.session(ctx)
	if err != nil {
		return err
	}
	defer release()
	page, err := rb.Context(ctx).Page(proto.TargetCreateTarget{})
	if err != nil {
		return fmt.Errorf("browser: pdf page: %w", err)
	}
	defer func() { _ = page.Close() }()
	if err := (proto.FetchEnable{Patterns: []*proto.FetchRequestPattern{{URLPattern: "*"}}}).Call(page); err != nil {
		return fmt.Errorf("browser: fetch domain: %w", err)
	}
	var serving sync.Mutex
	go page.EachEvent(func(e *proto.FetchRequestPaused) {
		go func() {
			if path, ok := strings.CutPrefix(e.Request.URL, ReportOrigin); ok && opts.Resources != nil {
				serving.Lock()
				defer serving.Unlock()
				body, mt, err := opts.Resources(ctx, path)
				if err != nil {
					_ = proto.FetchFailRequest{RequestID: e.RequestID, ErrorReason: proto.NetworkErrorReasonFailed}.Call(page)
					return
				}
				_ = proto.FetchFulfillRequest{RequestID: e.RequestID, ResponseCode: 200, Body: body,
					ResponseHeaders: []*proto.FetchHeaderEntry{{Name: "Content-Type", Value: mt}}}.Call(page)
				return
			}
			if b.guard.Check(ctx, e.Request.URL) != nil {
				_ = proto.FetchFailRequest{RequestID: e.RequestID, ErrorReason: proto.NetworkErrorReasonBlockedByClient}.Call(page)
				return
			}
			_ = proto.FetchContinueRequest{RequestID: e.RequestID}.Call(page)
		}()
	})()
	if err := page.SetDocumentContent(html); err != nil {
		return fmt.Errorf("browser: pdf load html: %w", err)
	}
	_ = page.WaitLoad()
	a4w, a4h, margin := 8.27, 11.69, 0.6
	res, err := (proto.PagePrintToPDF{Landscape: opts.Landscape, DisplayHeaderFooter: true, PrintBackground: true,
		PaperWidth: &a4w, PaperHeight: &a4h, MarginTop: &margin, MarginBottom: &margin,
		HeaderTemplate: opts.HeaderTemplate, FooterTemplate: opts.FooterTemplate, PreferCSSPageSize: true,
		TransferMode: proto.PagePrintToPDFTransferModeReturnAsStream}).Call(page)
	if err != nil {
		return fmt.Errorf("browser: print pdf: %w", err)
	}
	defer func() { _ = proto.IOClose{Handle: res.Stream}.Call(page) }()
	return copyStream(page, res.Stream, w)
}

// pdfChunk is how much of the PDF stream is asked for at a time. (rod's StreamReader asks for
// Chromium's default and keeps every unread chunk in one growing buffer, which holds the whole
// PDF in memory after all.)
const pdfChunk = 1 << 20

// copyStream reads a DevTools IO stream chunk by chunk into w.
func copyStream(c proto.Client, h proto.IOStreamHandle, w io.Writer) error {
	size := pdfChunk
	for {
		r, err := (proto.IORead{Handle: h, Size: &size}).Call(c)
		if err != nil {
			return fmt.Errorf("browser: read pdf stream: %w", err)
		}
		if r.Data != "" {
			b := []byte(r.Data)
			if r.Base64Encoded {
				dst := make([]byte, base64.StdEncoding.DecodedLen(len(r.Data)))
				n, err := base64.StdEncoding.Decode(dst, b)
				if err != nil {
					return fmt.Errorf("browser: pdf stream: %w", err)
				}
				b = dst[:n]
			}
			if _, err := w.Write(b); err != nil {
				return err
			}
		}
		if r.EOF {
			return nil
		}
	}
}

// Product names the Chromium that prints and captures ("Chromium/120.0.6099.224"), for reports
// that state the tools and versions used. With a per-capture process it starts one to ask.
func (b *Browser) Product(ctx context.Context) (string, error) {
	_, proc, release, err := b.session(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return strings.ReplaceAll(proc.product, "HeadlessChrome", "Chromium"), nil
}
