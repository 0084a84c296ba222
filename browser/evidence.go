package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"pilmon/evidence"
)

// Sink stores artifacts; scanner.EvidenceSink and *evidence.Store implement it.
type Sink interface {
	Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error)
}

// Refs are the stored artifacts of one capture; a zero Ref means the artifact was not produced.
type Refs struct {
	HTML       evidence.Ref `json:"html"`
	MHTML      evidence.Ref `json:"mhtml"`
	Screenshot evidence.Ref `json:"screenshot"`
	RequestLog evidence.Ref `json:"request_log"`
}

// All lists the non-empty refs, HTML first.
func (r Refs) All() []evidence.Ref {
	var out []evidence.Ref
	for _, x := range []evidence.Ref{r.HTML, r.MHTML, r.Screenshot, r.RequestLog} {
		if x.SHA256 != "" {
			out = append(out, x)
		}
	}
	return out
}

// CaptureToEvidence captures url and stores every artifact in sink (method "browser_capture",
// Source = the URL asked for). The request log is stored even when the capture failed, since a
// refused or broken page is evidence too. The Capture is returned whenever one was attempted.
func (b *Browser) CaptureToEvidence(ctx context.Context, sink Sink, url string, opts CaptureOptions) (*Capture, Refs, error) {
	var refs Refs
	c, capErr := b.Capture(ctx, url, opts)
	if c == nil {
		return nil, refs, capErr
	}
	meta := func(mediaType, note string) evidence.Meta {
		return evidence.Meta{CapturedAt: c.StartedAt, Method: "browser_capture", Source: url, Tool: c.Tool,
			Inspector: "", MediaType: mediaType, Note: note}
	}
	var errs []error
	put := func(dst *evidence.Ref, data []byte, mediaType, note string) {
		if len(data) == 0 {
			return
		}
		ref, err := sink.Put(bytes.NewReader(data), meta(mediaType, note))
		if err != nil {
			errs = append(errs, fmt.Errorf("browser: store %s of %s: %w", note, url, err))
			return
		}
		*dst = ref
	}
	put(&refs.HTML, c.HTML, "text/html; charset=utf-8", "rendered HTML (same-origin iframes inlined), final URL "+c.FinalURL)
	put(&refs.MHTML, c.MHTML, "multipart/related", "MHTML snapshot")
	put(&refs.Screenshot, c.Screenshot, "image/png", "full-page screenshot")
	logJSON, err := json.MarshalIndent(c, "", "  ")
	if err == nil {
		put(&refs.RequestLog, logJSON, "application/json", "capture record and request log")
	}
	return c, refs, errors.Join(append([]error{capErr}, errs...)...)
}
