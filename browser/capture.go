package browser

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
)

// CaptureOptions bound one capture. Zero values take the defaults noted.
type CaptureOptions struct {
	NavigationTimeout time.Duration // 30 s: until the main document has loaded
	IdleTimeout       time.Duration // 10 s: waiting for the network to go quiet (SPA rendering)
	TotalTimeout      time.Duration // 60 s: everything, including the snapshots
	IdleQuiet         time.Duration // 500 ms without requests counts as idle
	MaxHTMLBytes      int           // 16 MiB
	MaxMHTMLBytes     int           // 32 MiB
	MaxRequests       int           // 5000 entries in the request log
	MaxScreenshotPx   int           // 16384: screenshot height cap in CSS pixels
	ViewportWidth     int           // 1280
	ViewportHeight    int           // 900
	NoScreenshot      bool
	NoMHTML           bool
	// LinkSelector, when set, is a CSS selector whose matching elements' links (href, resolved
	// against the page) are listed in Capture.Links, up to MaxLinks: how a download page's link
	// is picked by what the page showed rather than by a second parser.
	LinkSelector string
	MaxLinks     int // 2000
}

// Link is one element a capture's LinkSelector matched.
type Link struct {
	Href     string `json:"href"`
	Text     string `json:"text,omitempty"`
	Download bool   `json:"download,omitempty"` // the element has a download attribute
}

func (o CaptureOptions) withDefaults() CaptureOptions {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defi := func(d *int, v int) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.NavigationTimeout, 30*time.Second)
	def(&o.IdleTimeout, 10*time.Second)
	def(&o.TotalTimeout, 60*time.Second)
	def(&o.IdleQuiet, 500*time.Millisecond)
	defi(&o.MaxHTMLBytes, 16<<20)
	defi(&o.MaxMHTMLBytes, 32<<20)
	defi(&o.MaxRequests, 5000)
	defi(&o.MaxScreenshotPx, 16384)
	defi(&o.ViewportWidth, 1280)
	defi(&o.ViewportHeight, 900)
	defi(&o.MaxLinks, 2000)
	return o
}

// Request is one entry of the request log.
type Request struct {
	Method   string  `json:"method"`
	URL      string  `json:"url"`
	Type     string  `json:"type,omitempty"`
	Status   int     `json:"status,omitempty"`
	RemoteIP string  `json:"remote_ip,omitempty"`
	StartMS  float64 `json:"start_ms"`           // since the capture started
	Duration float64 `json:"duration_ms"`        // until finished or failed
	Error    string  `json:"error,omitempty"`    // Chromium's net error
	Blocked  bool    `json:"blocked,omitempty"`  // refused by the SSRF guard
	Reason   string  `json:"reason,omitempty"`   // why the guard refused
	Redirect bool    `json:"redirect,omitempty"` // a 3xx hop of a redirect chain
}

// Capture is what one page load produced.
type Capture struct {
	URL        string    `json:"url"`
	FinalURL   string    `json:"final_url"`
	Redirects  []string  `json:"redirects,omitempty"` // every URL of the main document's chain, first to last
	Title      string    `json:"title,omitempty"`
	Status     int       `json:"status,omitempty"` // HTTP status of the final document
	HTML       []byte    `json:"-"`
	MHTML      []byte    `json:"-"`
	Screenshot []byte    `json:"-"`
	Requests   []Request `json:"requests"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Partial is set when a timeout or a failed step cut the capture short; Errors say which.
	Partial bool     `json:"partial,omitempty"`
	Errors  []string `json:"errors,omitempty"`
	Tool    string   `json:"tool"`
	// Links are the elements CaptureOptions.LinkSelector matched, in document order.
	Links []Link `json:"links,omitempty"`
}

// ErrNavigation wraps a failed main-document load (refused, unreachable, redirect loop, timeout
// before any response).
var ErrNavigation = errors.New("navigation failed")

// requestLog collects network events of one page.
type requestLog struct {
	mu       sync.Mutex
	start    time.Time
	max      int
	byID     map[proto.NetworkRequestID]int
	entries  []Request
	inflight map[proto.NetworkRequestID]bool
	last     time.Time
	chain    []string
	mainDoc  proto.NetworkRequestID
	status   int
	rebinds  []string
	dropped  int
	guard    *Guard
	proxy    netip.AddrPort // the filtering proxy Chromium connects through
	remoteIP func(rawURL, ip string, port *int) string
	mainFrm  proto.PageFrameID
	blockedN map[proto.NetworkRequestID]string
}

func (l *requestLog) ms(t time.Time) float64 { return float64(t.Sub(l.start).Microseconds()) / 1000 }

func (l *requestLog) add(r Request) int {
	if len(l.entries) >= l.max {
		l.dropped++
		return -1
	}
	l.entries = append(l.entries, r)
	return len(l.entries) - 1
}

func (l *requestLog) sent(e *proto.NetworkRequestWillBeSent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.last = now
	if e.RedirectResponse != nil {
		if i, ok := l.byID[e.RequestID]; ok && i >= 0 {
			l.entries[i].Status = e.RedirectResponse.Status
			l.entries[i].Redirect = true
			l.entries[i].RemoteIP = l.remoteIP(e.RedirectResponse.URL, e.RedirectResponse.RemoteIPAddress, e.RedirectResponse.RemotePort)
			l.entries[i].Duration = l.ms(now) - l.entries[i].StartMS
			l.checkRemote(e.RedirectResponse.RemoteIPAddress, e.RedirectResponse.RemotePort, e.RedirectResponse.URL)
		}
	}
	isMain := e.Type == proto.NetworkResourceTypeDocument && (l.mainDoc == "" || l.mainDoc == e.RequestID) &&
		(l.mainFrm == "" || e.FrameID == l.mainFrm)
	if isMain {
		l.mainDoc = e.RequestID
		l.chain = append(l.chain, e.Request.URL)
	}
	l.byID[e.RequestID] = l.add(Request{Method: e.Request.Method, URL: e.Request.URL, Type: string(e.Type), StartMS: l.ms(now)})
	if reason, ok := l.blockedN[e.RequestID]; ok {
		if i := l.byID[e.RequestID]; i >= 0 {
			l.entries[i].Blocked, l.entries[i].Reason = true, reason
		}
	}
	l.inflight[e.RequestID] = true
}

// checkRemote checks the address Chromium reports it fetched u from. Through the proxy that is
// the proxy itself, which connected only to an address the guard accepted; any other address
// means Chromium went around the proxy.
func (l *requestLog) checkRemote(ip string, port *int, u string) {
	if ip == "" {
		return
	}
	a, err := netip.ParseAddr(strings.Trim(ip, "[]"))
	if err == nil && l.proxy.IsValid() && a.Unmap() == l.proxy.Addr() && port != nil && *port == int(l.proxy.Port()) {
		return
	}
	if err == nil && !l.guard.RemoteAllowed(u, a) {
		l.rebinds = append(l.rebinds, fmt.Sprintf("%s was fetched from %s, which the guard refuses (DNS rebinding?)", u, a))
	}
}

func (l *requestLog) response(e *proto.NetworkResponseReceived) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if i, ok := l.byID[e.RequestID]; ok && i >= 0 {
		l.entries[i].Status = e.Response.Status
		l.entries[i].RemoteIP = l.remoteIP(e.Response.URL, e.Response.RemoteIPAddress, e.Response.RemotePort)
	}
	if e.RequestID == l.mainDoc {
		l.status = e.Response.Status
	}
	l.checkRemote(e.Response.RemoteIPAddress, e.Response.RemotePort, e.Response.URL)
}

func (l *requestLog) done(id proto.NetworkRequestID, errText string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.last = now
	delete(l.inflight, id)
	if i, ok := l.byID[id]; ok && i >= 0 {
		l.entries[i].Duration = l.ms(now) - l.entries[i].StartMS
		if errText != "" {
			l.entries[i].Error = errText
		}
		if reason, ok := l.blockedN[id]; ok {
			l.entries[i].Blocked, l.entries[i].Reason = true, reason
		}
	}
}

func (l *requestLog) blocked(id proto.NetworkRequestID, method, u, rtype, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blockedN[id] = reason
	if i, ok := l.byID[id]; ok && i >= 0 {
		l.entries[i].Blocked, l.entries[i].Reason = true, reason
		return
	}
	if id == "" {
		l.add(Request{Method: method, URL: u, Type: rtype, StartMS: l.ms(time.Now()), Blocked: true, Reason: reason})
	}
}

func (l *requestLog) idleFor(quiet time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.inflight) == 0 && time.Since(l.last) >= quiet
}

// Capture loads url in a fresh profile and returns what was rendered. A capture cut short by a
// timeout after the main document arrived is returned with Partial set and a nil error; an error
// is returned when nothing usable was loaded (the Capture is still returned with its request log).
func (b *Browser) Capture(ctx context.Context, rawURL string, opts CaptureOptions) (*Capture, error) {
	opts = opts.withDefaults()
	c := &Capture{URL: rawURL, StartedAt: time.Now().UTC()}
	defer func() { c.FinishedAt = time.Now().UTC() }()
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return c, fmt.Errorf("browser: %w: %q is not an http(s) URL", ErrRefused, rawURL)
	}
	if err := b.guard.Check(ctx, rawURL); err != nil {
		c.Requests = []Request{{Method: "GET", URL: rawURL, Type: "Document", Blocked: true, Reason: err.Error()}}
		return c, fmt.Errorf("browser: capture %s: %w", rawURL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, opts.TotalTimeout)
	defer cancel()

	rb, proc, release, err := b.session(ctx)
	if err != nil {
		return c, err
	}
	defer release()
	c.Tool = tool(proc.product)

	page, err := rb.Context(ctx).Page(proto.TargetCreateTarget{})
	if err != nil {
		return c, fmt.Errorf("browser: new page: %w", err)
	}
	defer func() { _ = page.Close() }()

	log := &requestLog{start: time.Now(), max: opts.MaxRequests, byID: map[proto.NetworkRequestID]int{},
		inflight: map[proto.NetworkRequestID]bool{}, guard: b.guard, proxy: proc.proxyAddr(), remoteIP: proc.remoteIP, mainFrm: page.FrameID,
		blockedN: map[proto.NetworkRequestID]string{}}
	log.last = log.start

	if err := (proto.EmulationSetDeviceMetricsOverride{Width: opts.ViewportWidth, Height: opts.ViewportHeight,
		DeviceScaleFactor: 1}).Call(page); err != nil {
		return c, fmt.Errorf("browser: viewport: %w", err)
	}
	if err := (proto.NetworkEnable{}).Call(page); err != nil {
		return c, fmt.Errorf("browser: network domain: %w", err)
	}
	if err := (proto.FetchEnable{Patterns: []*proto.FetchRequestPattern{{URLPattern: "*"}}}).Call(page); err != nil {
		return c, fmt.Errorf("browser: fetch domain: %w", err)
	}
	// Dialogs would block the page forever.
	wait := page.EachEvent(
		func(e *proto.FetchRequestPaused) {
			go func() {
				if err := b.guard.Check(ctx, e.Request.URL); err != nil {
					log.blocked(e.NetworkID, e.Request.Method, e.Request.URL, string(e.ResourceType), err.Error())
					_ = proto.FetchFailRequest{RequestID: e.RequestID, ErrorReason: proto.NetworkErrorReasonBlockedByClient}.Call(page)
					return
				}
				_ = proto.FetchContinueRequest{RequestID: e.RequestID}.Call(page)
			}()
		},
		func(e *proto.NetworkRequestWillBeSent) { log.sent(e) },
		func(e *proto.NetworkResponseReceived) { log.response(e) },
		func(e *proto.NetworkLoadingFinished) { log.done(e.RequestID, "") },
		func(e *proto.NetworkLoadingFailed) { log.done(e.RequestID, e.ErrorText) },
		func(e *proto.PageJavascriptDialogOpening) {
			go func() { _ = proto.PageHandleJavaScriptDialog{Accept: false}.Call(page) }()
		},
	)
	go wait()

	finish := func() {
		log.mu.Lock()
		c.Requests = append([]Request(nil), log.entries...)
		c.Redirects = append([]string(nil), log.chain...)
		c.Status = log.status
		if log.dropped > 0 {
			c.Errors = append(c.Errors, fmt.Sprintf("request log truncated: %d requests not recorded", log.dropped))
		}
		rebinds := append([]string(nil), log.rebinds...)
		log.mu.Unlock()
		for _, r := range rebinds {
			c.Errors = append(c.Errors, r)
		}
	}

	navCtx, navCancel := context.WithTimeout(ctx, opts.NavigationTimeout)
	err = page.Context(navCtx).Navigate(rawURL)
	if err == nil {
		err = page.Context(navCtx).WaitLoad()
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			c.Partial = true
			c.Errors = append(c.Errors, fmt.Sprintf("load event not reached within %s", opts.NavigationTimeout))
			err = nil
		}
	}
	navCancel()
	if err != nil {
		finish()
		if errors.Is(err, context.DeadlineExceeded) {
			return c, fmt.Errorf("browser: capture %s: %w: no response within %s", rawURL, ErrNavigation, opts.NavigationTimeout)
		}
		return c, fmt.Errorf("browser: capture %s: %w: %v", rawURL, ErrNavigation, err)
	}

	// Let single-page apps fetch and render their text.
	idleDeadline := time.Now().Add(opts.IdleTimeout)
	for !log.idleFor(opts.IdleQuiet) {
		if time.Now().After(idleDeadline) || ctx.Err() != nil {
			c.Partial = true
			c.Errors = append(c.Errors, fmt.Sprintf("network not idle within %s", opts.IdleTimeout))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Stop whatever still loads so the snapshots see a settled document.
	_ = proto.PageStopLoading{}.Call(page)

	snap := page.Context(ctx)
	if info, err := snap.Info(); err == nil {
		c.FinalURL, c.Title = info.URL, info.Title
	}
	if html, err := renderedHTML(snap); err != nil {
		c.Partial = true
		c.Errors = append(c.Errors, "html: "+err.Error())
	} else if len(html) > opts.MaxHTMLBytes {
		c.Partial = true
		c.Errors = append(c.Errors, fmt.Sprintf("html: %d bytes, truncated to %d", len(html), opts.MaxHTMLBytes))
		c.HTML = []byte(html[:opts.MaxHTMLBytes])
	} else {
		c.HTML = []byte(html)
	}
	if opts.LinkSelector != "" {
		links, err := pageLinks(snap, opts.LinkSelector, opts.MaxLinks)
		if err != nil {
			c.Errors = append(c.Errors, "links: "+err.Error())
		}
		c.Links = links
	}
	if !opts.NoMHTML {
		if res, err := (proto.PageCaptureSnapshot{Format: proto.PageCaptureSnapshotFormatMhtml}).Call(snap); err != nil {
			c.Partial = true
			c.Errors = append(c.Errors, "mhtml: "+err.Error())
		} else if len(res.Data) > opts.MaxMHTMLBytes {
			c.Partial = true
			c.Errors = append(c.Errors, fmt.Sprintf("mhtml: %d bytes exceeds the %d limit, not kept", len(res.Data), opts.MaxMHTMLBytes))
		} else {
			c.MHTML = []byte(res.Data)
		}
	}
	if !opts.NoScreenshot {
		png, err := screenshot(snap, opts)
		if err != nil {
			c.Partial = true
			c.Errors = append(c.Errors, "screenshot: "+err.Error())
		}
		c.Screenshot = png
	}
	finish()
	if len(log.rebinds) > 0 {
		// The page reached a refused address although its name passed the check: keep the log as
		// evidence of the attempt but none of the content.
		c.HTML, c.MHTML, c.Screenshot = nil, nil, nil
		return c, fmt.Errorf("browser: capture %s: %w: %s", rawURL, ErrRefused, log.rebinds[0])
	}
	return c, nil
}

// renderedHTMLJS serialises the document with the content of every readable (same-origin)
// iframe inlined as <div data-pilmon-frame="src">, into an inert document so nothing executes.
const renderedHTMLJS = `() => {
  const inert = document.implementation.createHTMLDocument('');
  const ser = (doc, depth) => {
    const clone = inert.importNode(doc.documentElement, true);
    const live = doc.querySelectorAll('iframe,frame');
    const cl = clone.querySelectorAll('iframe,frame');
    live.forEach((f, i) => {
      let sub = null;
      try { if (depth < 4 && f.contentDocument && f.contentDocument.documentElement) sub = ser(f.contentDocument, depth + 1); } catch (e) {}
      if (sub === null || !cl[i]) return;
      const d = inert.createElement('div');
      d.setAttribute('data-pilmon-frame', f.src || '');
      const body = sub.querySelector('body') || sub;
      while (body.firstChild) d.appendChild(body.firstChild);
      cl[i].replaceWith(d);
    });
    return clone;
  };
  const dt = document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>' : '';
  return dt + ser(document, 0).outerHTML;
}`

// pageLinksJS lists the links of the elements a selector matches: an element's own href (an <a>
// or <area>, resolved by the browser), else the href of its nearest <a> ancestor, else of its
// first <a> descendant (a selector naming the download button's container); text and
// values are cut so that a hostile page cannot make the list large.
const pageLinksJS = `(sel, max) => {
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (out.length >= max) break;
    const a = typeof el.href === 'string' ? el : (el.closest('a[href]') || el.querySelector('a[href]'));
    if (!a || typeof a.href !== 'string' || a.href === '') continue;
    out.push({href: a.href.slice(0, 4096), text: (a.innerText || a.textContent || '').trim().slice(0, 200), download: a.hasAttribute('download')});
  }
  return out;
}`

func pageLinks(p *rod.Page, selector string, max int) ([]Link, error) {
	res, err := p.Eval(pageLinksJS, selector, max)
	if err != nil {
		return nil, err
	}
	var links []Link
	if err := res.Value.Unmarshal(&links); err != nil {
		return nil, err
	}
	if len(links) > max {
		links = links[:max]
	}
	return links, nil
}

func renderedHTML(p *rod.Page) (string, error) {
	res, err := p.Eval(renderedHTMLJS)
	if err != nil {
		return "", err
	}
	return res.Value.Str(), nil
}

func screenshot(p *rod.Page, opts CaptureOptions) ([]byte, error) {
	m, err := (proto.PageGetLayoutMetrics{}).Call(p)
	if err != nil {
		return nil, err
	}
	w, h := float64(opts.ViewportWidth), float64(opts.ViewportHeight)
	if m.CSSContentSize != nil {
		if m.CSSContentSize.Width > 0 {
			w = m.CSSContentSize.Width
		}
		if m.CSSContentSize.Height > 0 {
			h = m.CSSContentSize.Height
		}
	}
	w = min(w, float64(opts.MaxScreenshotPx))
	h = min(h, float64(opts.MaxScreenshotPx))
	res, err := (proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng, CaptureBeyondViewport: true,
		Clip: &proto.PageViewport{X: 0, Y: 0, Width: w, Height: h, Scale: 1}}).Call(p)
	if err != nil {
		return nil, err
	}
	return res.Data, nil
}
