package traffic

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/proto"
	"github.com/ysmood/gson"

	"pilmon/browser"
	"pilmon/scanner"
)

// CaptureOptions configure a live capture of an H5 page.
type CaptureOptions struct {
	// Bin is the Chromium binary ("" = $PILMON_CHROMIUM, then browser.DefaultBin).
	Bin string
	// Allow and HostResolverRules configure the SSRF guard (browser.NewGuard) and Chromium alike;
	// tests use Allow ["127.0.0.0/8"] and "MAP * 127.0.0.1".
	Allow             []string
	HostResolverRules string
	// Action is "" (load only), "agree" or "refuse".
	Action string
	// ConsentSelector is a CSS selector of the consent control; when empty, a button or link whose
	// text matches 同意/Agree/接受 is clicked.
	ConsentSelector string
	// RefuseSelector is the refusal control; when empty, text matching 拒绝/不同意/Refuse/Decline.
	RefuseSelector string
	// IdleQuiet is how long without requests counts as network idle (default 1 s); IdleTimeout caps
	// each wait (default 15 s); TotalTimeout caps the whole capture (default 90 s).
	IdleQuiet, IdleTimeout, TotalTimeout time.Duration
	// MaxBodyBytes bounds each request/response body kept (default 1 MiB); MaxEntries bounds the
	// HAR (default 5000).
	MaxBodyBytes int
	MaxEntries   int
}

func (o CaptureOptions) withDefaults() CaptureOptions {
	if o.IdleQuiet <= 0 {
		o.IdleQuiet = time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 15 * time.Second
	}
	if o.TotalTimeout <= 0 {
		o.TotalTimeout = 90 * time.Second
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = 5000
	}
	o.Bin = browser.ResolveBin(o.Bin)
	return o
}

// LiveCapture is the result of capturing an H5 page.
type LiveCapture struct {
	HAR *HAR
	// Screenshots: "before" (after the first idle, before any interaction) and "after" (after the
	// consent/refusal click and the second idle).
	Screenshots map[string][]byte
	Consent     *ConsentMarker
	Errors      []string
	Tool        string
}

// harRecorder turns CDP network events into HAR entries.
type harRecorder struct {
	mu       sync.Mutex
	max      int
	maxBody  int
	entries  []*Entry
	byID     map[proto.NetworkRequestID]*Entry
	extra    map[proto.NetworkRequestID][]NV
	inflight map[proto.NetworkRequestID]bool
	last     time.Time
	dropped  int
	blocked  []string
	refused  map[proto.NetworkRequestID]bool
	// remoteIP maps the address Chromium reports (the browser package's proxy) to the server's.
	remoteIP func(rawURL, ip string, port *int) string
}

func headerList(h proto.NetworkHeaders) []NV {
	out := make([]NV, 0, len(h))
	for k, v := range h {
		for _, line := range strings.Split(v.Str(), "\n") {
			out = append(out, NV{Name: flexString(k), Value: flexString(line)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *harRecorder) sent(e *proto.NetworkRequestWillBeSent, page *rod.Page) {
	r.mu.Lock()
	now := time.Now()
	r.last = now
	if prev, ok := r.byID[e.RequestID]; ok && e.RedirectResponse != nil {
		fillResponse(prev, e.RedirectResponse, r.remoteIP)
	}
	if len(r.entries) >= r.max {
		r.dropped++
		r.mu.Unlock()
		return
	}
	started := e.WallTime.Time()
	if e.WallTime == 0 {
		started = now
	}
	req := e.Request
	u := req.URL + req.URLFragment
	ent := &Entry{
		StartedDateTime: started.UTC().Format(time.RFC3339Nano), Time: -1, ResourceType: flexString(strings.ToLower(string(e.Type))),
		Request:  Request{Method: flexString(req.Method), URL: flexString(u), HTTPVersion: "HTTP/1.1", Headers: headerList(req.Headers), HeadersSize: -1, BodySize: -1},
		Response: Response{Status: 0, HTTPVersion: "", HeadersSize: -1, BodySize: -1},
	}
	if pu, err := url.Parse(req.URL); err == nil {
		for k, vs := range pu.Query() {
			for _, v := range vs {
				ent.Request.QueryString = append(ent.Request.QueryString, NV{Name: flexString(k), Value: flexString(v)})
			}
		}
		sort.Slice(ent.Request.QueryString, func(i, j int) bool { return ent.Request.QueryString[i].Name < ent.Request.QueryString[j].Name })
	}
	if h, ok := r.extra[e.RequestID]; ok {
		ent.Request.Headers = h
	}
	ent.Index = len(r.entries)
	r.entries = append(r.entries, ent)
	r.byID[e.RequestID] = ent
	r.inflight[e.RequestID] = true
	mime := ""
	for _, h := range ent.Request.Headers {
		if strings.EqualFold(string(h.Name), "content-type") {
			mime = string(h.Value)
		}
	}
	body, hasMore := req.PostData, req.HasPostData && req.PostData == ""
	if len(req.PostDataEntries) > 0 {
		var b bytes.Buffer
		for _, pe := range req.PostDataEntries {
			b.Write(pe.Bytes)
		}
		body, hasMore = b.String(), false
	}
	if body != "" {
		ent.Request.PostData = postData(body, mime, r.maxBody)
		ent.Request.BodySize = flexNum(len(body))
	}
	r.mu.Unlock()
	if hasMore && page != nil {
		go func() {
			res, err := (proto.NetworkGetRequestPostData{RequestID: e.RequestID}).Call(page)
			if err != nil {
				return
			}
			r.mu.Lock()
			ent.Request.PostData = postData(res.PostData, mime, r.maxBody)
			ent.Request.BodySize = flexNum(len(res.PostData))
			r.mu.Unlock()
		}()
	}
}

// postData stores a body as text when it is UTF-8, else base64 with encoding "base64".
func postData(body, mime string, max int) *PostData {
	if len(body) > max {
		body = body[:max]
	}
	pd := &PostData{MimeType: flexString(mime)}
	if isText([]byte(body)) {
		pd.Text = flexString(body)
	} else {
		pd.Text = flexString(base64.StdEncoding.EncodeToString([]byte(body)))
		pd.Encoding = "base64"
	}
	return pd
}

func isText(b []byte) bool { return bytes.IndexByte(b, 0) < 0 && mostlyPrintable(b) }

// fillResponse copies a response into its entry; remoteIP (nil: as reported) turns the address
// Chromium reports, which is pilmon's filtering proxy, into the server's.
func fillResponse(ent *Entry, resp *proto.NetworkResponse, remoteIP func(rawURL, ip string, port *int) string) {
	ent.Response.Status = flexNum(resp.Status)
	ent.Response.StatusText = flexString(resp.StatusText)
	ent.Response.Headers = headerList(resp.Headers)
	ent.Response.Content.MimeType = flexString(resp.MIMEType)
	ent.Response.HTTPVersion = flexString(strings.ToUpper(resp.Protocol))
	if resp.Protocol != "" {
		ent.Request.HTTPVersion = ent.Response.HTTPVersion
	}
	if resp.Status >= 300 && resp.Status < 400 {
		for _, h := range ent.Response.Headers {
			if strings.EqualFold(string(h.Name), "location") {
				ent.Response.RedirectURL = h.Value
			}
		}
	}
	ip := resp.RemoteIPAddress
	if remoteIP != nil {
		ip = remoteIP(resp.URL, ip, resp.RemotePort)
	}
	ent.ServerIPAddress = flexString(ip)
}

func (r *harRecorder) extraInfo(e *proto.NetworkRequestWillBeSentExtraInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := headerList(e.Headers)
	if ent, ok := r.byID[e.RequestID]; ok {
		ent.Request.Headers = h
		return
	}
	if len(r.extra) < 10_000 {
		r.extra[e.RequestID] = h
	}
}

func (r *harRecorder) response(e *proto.NetworkResponseReceived) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last = time.Now()
	if ent, ok := r.byID[e.RequestID]; ok {
		fillResponse(ent, e.Response, r.remoteIP)
	}
}

func (r *harRecorder) finished(id proto.NetworkRequestID, size float64, failed string, page *rod.Page) {
	r.mu.Lock()
	r.last = time.Now()
	delete(r.inflight, id)
	ent := r.byID[id]
	r.mu.Unlock()
	if ent == nil {
		return
	}
	if failed != "" {
		r.mu.Lock()
		ent.Response.StatusText = flexString("failed: " + failed)
		ent.Blocked = r.refused[id]
		r.mu.Unlock()
		return
	}
	if page == nil || size > float64(r.maxBody) {
		return
	}
	res, err := (proto.NetworkGetResponseBody{RequestID: id}).Call(page)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	text := res.Body
	if len(text) > r.maxBody*4/3+4 {
		text = text[:r.maxBody]
	}
	ent.Response.Content.Text = flexString(text)
	ent.Response.Content.Size = flexNum(size)
	if res.Base64Encoded {
		ent.Response.Content.Encoding = "base64"
	}
}

func (r *harRecorder) idleFor(quiet time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inflight) == 0 && time.Since(r.last) >= quiet
}

func (r *harRecorder) waitIdle(ctx context.Context, o CaptureOptions) error {
	deadline := time.Now().Add(o.IdleTimeout)
	for !r.idleFor(o.IdleQuiet) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("network not idle within %s", o.IdleTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// consentTextJS finds the visible clickable element whose own text best matches the pattern.
const consentTextJS = `(pattern) => {
  const re = new RegExp(pattern, 'i');
  const sel = 'button, a, [role=button], input[type=button], input[type=submit], div, span, p, li';
  let best = null, bestLen = 1e9;
  for (const el of document.querySelectorAll(sel)) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const t = ((el.value || el.innerText || el.textContent || '') + '').trim();
    if (!t || t.length > 20 || !re.test(t)) continue;
    if (t.length < bestLen) { best = el; bestLen = t.length; }
  }
  return best;
}`

const (
	agreePattern  = `^(我?同意|同意并继续|同意并进入|同意并使用|接受|我接受|agree|i agree|accept|accept all|ok, ?i agree)\W*$`
	refusePattern = `^(不同意|拒绝|暂不同意|不同意并退出|disagree|refuse|decline|reject|reject all)\W*$`
)

// Capture loads pageURL in a fresh Chromium profile, records every request with its body until the
// network is idle, then optionally clicks the consent or refusal control and records again. The
// result is a HAR with the _pilmon_consent marker, plus screenshots. Every request goes through
// the browser package's SSRF guard.
func Capture(ctx context.Context, pageURL string, o CaptureOptions) (*LiveCapture, error) {
	o = o.withDefaults()
	lc := &LiveCapture{Screenshots: map[string][]byte{}}
	pu, err := url.Parse(pageURL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return lc, fmt.Errorf("traffic: %q is not an http(s) URL", pageURL)
	}
	if st, err := os.Stat(o.Bin); err != nil || st.IsDir() {
		return lc, fmt.Errorf("traffic: chromium not found at %s (set PILMON_CHROMIUM)", o.Bin)
	}
	guard, err := browser.NewGuard(o.Allow, o.HostResolverRules)
	if err != nil {
		return lc, fmt.Errorf("traffic: guard: %w", err)
	}
	if err := guard.Check(ctx, pageURL); err != nil {
		return lc, fmt.Errorf("traffic: capture %s: %w", pageURL, err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.TotalTimeout)
	defer cancel()
	rb, release, err := browser.Launch(ctx, browser.LaunchOptions{Bin: o.Bin, Allow: o.Allow, HostResolverRules: o.HostResolverRules})
	if err != nil {
		return lc, fmt.Errorf("traffic: %w", err)
	}
	defer release()
	product := ""
	if v, err := (proto.BrowserGetVersion{}).Call(rb); err == nil {
		product = strings.ReplaceAll(v.Product, "HeadlessChrome", "Chromium")
	}
	lc.Tool = "pilmon-traffic/" + Version
	if product != "" {
		lc.Tool += " (" + product + ")"
	}
	page, err := rb.Context(ctx).Page(proto.TargetCreateTarget{})
	if err != nil {
		return lc, fmt.Errorf("traffic: new page: %w", err)
	}
	defer func() { _ = page.Close() }()
	rec := &harRecorder{max: o.MaxEntries, maxBody: o.MaxBodyBytes, byID: map[proto.NetworkRequestID]*Entry{},
		extra: map[proto.NetworkRequestID][]NV{}, inflight: map[proto.NetworkRequestID]bool{}, refused: map[proto.NetworkRequestID]bool{}, last: time.Now(),
		remoteIP: func(u, ip string, port *int) string { return browser.RemoteIP(rb, u, ip, port) }}
	_ = proto.EmulationSetDeviceMetricsOverride{Width: 390, Height: 844, DeviceScaleFactor: 1, Mobile: true}.Call(page)
	if err := (proto.NetworkEnable{MaxPostDataSize: gson.Int(o.MaxBodyBytes)}).Call(page); err != nil {
		return lc, fmt.Errorf("traffic: network domain: %w", err)
	}
	if err := (proto.FetchEnable{Patterns: []*proto.FetchRequestPattern{{URLPattern: "*"}}}).Call(page); err != nil {
		return lc, fmt.Errorf("traffic: fetch domain: %w", err)
	}
	wait := page.EachEvent(
		func(e *proto.FetchRequestPaused) {
			go func() {
				if err := guard.Check(ctx, e.Request.URL); err != nil {
					rec.mu.Lock()
					rec.refused[e.NetworkID] = true
					if ent := rec.byID[e.NetworkID]; ent != nil {
						ent.Blocked = true
					}
					if len(rec.blocked) < 100 {
						rec.blocked = append(rec.blocked, fmt.Sprintf("blocked %s: %v", truncate(e.Request.URL, 200), err))
					}
					rec.mu.Unlock()
					_ = proto.FetchFailRequest{RequestID: e.RequestID, ErrorReason: proto.NetworkErrorReasonBlockedByClient}.Call(page)
					return
				}
				_ = proto.FetchContinueRequest{RequestID: e.RequestID}.Call(page)
			}()
		},
		func(e *proto.NetworkRequestWillBeSent) { rec.sent(e, page) },
		func(e *proto.NetworkRequestWillBeSentExtraInfo) { rec.extraInfo(e) },
		func(e *proto.NetworkResponseReceived) { rec.response(e) },
		func(e *proto.NetworkLoadingFinished) { go rec.finished(e.RequestID, e.EncodedDataLength, "", page) },
		func(e *proto.NetworkLoadingFailed) { go rec.finished(e.RequestID, 0, e.ErrorText, nil) },
		func(e *proto.PageJavascriptDialogOpening) {
			go func() { _ = proto.PageHandleJavaScriptDialog{Accept: false}.Call(page) }()
		},
	)
	go wait()
	started := time.Now().UTC()
	if err := page.Context(ctx).Navigate(pageURL); err != nil {
		return lc, fmt.Errorf("traffic: load %s: %w", pageURL, err)
	}
	_ = page.Context(ctx).WaitLoad()
	if err := rec.waitIdle(ctx, o); err != nil {
		lc.Errors = append(lc.Errors, "before interaction: "+err.Error())
	}
	shot := func(name string) {
		sctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		b, err := page.Context(sctx).Screenshot(false, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
		if err != nil {
			lc.Errors = append(lc.Errors, "screenshot "+name+": "+err.Error())
			return
		}
		lc.Screenshots[name] = b
	}
	shot("before")
	if o.Action == "agree" || o.Action == "refuse" {
		sel, pattern := o.ConsentSelector, agreePattern
		if o.Action == "refuse" {
			sel, pattern = o.RefuseSelector, refusePattern
		}
		el, control, err := findControl(ctx, page, sel, pattern)
		if err != nil {
			lc.Errors = append(lc.Errors, fmt.Sprintf("%s control not found: %v", o.Action, err))
		} else {
			at := time.Now().UTC()
			cctx, c := context.WithTimeout(ctx, 5*time.Second)
			if err := el.Context(cctx).Click(proto.InputMouseButtonLeft, 1); err != nil {
				// covered or moving: fall back to a script click
				_, err = el.Context(ctx).Eval(`() => this.click()`)
				if err != nil {
					lc.Errors = append(lc.Errors, fmt.Sprintf("click %s: %v", control, err))
				}
			}
			c()
			lc.Consent = &ConsentMarker{Action: o.Action, Time: at.Format(time.RFC3339Nano), Control: control}
			if err := rec.waitIdle(ctx, o); err != nil {
				lc.Errors = append(lc.Errors, "after "+o.Action+": "+err.Error())
			}
			shot("after")
		}
	}
	_ = proto.PageStopLoading{}.Call(page)
	// let in-flight body fetches settle
	time.Sleep(100 * time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.dropped > 0 {
		lc.Errors = append(lc.Errors, fmt.Sprintf("%d requests beyond %d not recorded", rec.dropped, o.MaxEntries))
	}
	lc.Errors = append(lc.Errors, rec.blocked...)
	entries := make([]Entry, len(rec.entries))
	for i, e := range rec.entries {
		entries[i] = *e
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].StartedDateTime < entries[j].StartedDateTime })
	title := pageURL
	lc.HAR = &HAR{Log: HARLog{
		Version: "1.2", Creator: NameVer{Name: "pilmon", Version: flexString(Version)},
		Browser: &NameVer{Name: "Chromium", Version: flexString(product)},
		Pages:   []Page{{ID: "page_1", StartedDateTime: started.Format(time.RFC3339Nano), Title: flexString(title)}},
		Entries: entries,
	}}
	for i := range lc.HAR.Log.Entries {
		lc.HAR.Log.Entries[i].Pageref = "page_1"
	}
	if lc.Consent != nil {
		lc.HAR.Log.Consent = []ConsentMarker{*lc.Consent}
	}
	return lc, nil
}

// findControl returns the element to click: the selector when given, else the element whose text
// matches the pattern.
func findControl(ctx context.Context, page *rod.Page, selector, pattern string) (*rod.Element, string, error) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if selector != "" {
		el, err := page.Context(fctx).Element(selector)
		if err != nil {
			return nil, "", err
		}
		return el.Context(ctx), selector, nil
	}
	el, err := page.Context(fctx).ElementByJS(rod.Eval(consentTextJS, pattern))
	if err != nil {
		return nil, "", err
	}
	text, _ := el.Text()
	return el.Context(ctx), "text: " + strings.TrimSpace(text), nil
}

// WriteHAR writes a HAR as JSON; consent markers come before the entries so a streaming reader
// knows the split before it reads them.
func WriteHAR(w io.Writer, h *HAR) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	return enc.Encode(h)
}

// inspectLive captures an H5 URL, stores the HAR and the screenshots, then analyses the HAR.
func (in *Inspector) inspectLive(ctx context.Context, src scanner.Source, sink scanner.EvidenceSink, opts Options, out *scanner.Output) {
	fail := func(format string, args ...any) {
		out.Errors = append(out.Errors, scanner.Errorf(src.Locator, format, args...))
	}
	lc, err := Capture(ctx, src.Locator, opts.Capture)
	if lc == nil || lc.HAR == nil {
		if err == nil {
			err = errors.New("nothing captured")
		}
		fail("%v", err)
		return
	}
	var buf bytes.Buffer
	if err := WriteHAR(&buf, lc.HAR); err != nil {
		fail("write HAR: %v", err)
		return
	}
	meta := in.meta("browser_capture", src.Locator, "application/json", "HAR 1.2 written by pilmon live capture")
	if lc.Tool != "" {
		meta.Tool = lc.Tool
	}
	ref, err := sink.Put(bytes.NewReader(buf.Bytes()), meta)
	if err != nil {
		fail("store HAR: %v", err)
		return
	}
	out.Artifacts = append(out.Artifacts, ref)
	for _, name := range []string{"before", "after"} {
		png := lc.Screenshots[name]
		if len(png) == 0 {
			continue
		}
		m := in.meta("browser_screenshot", src.Locator, "image/png", "screenshot "+name+" the consent action")
		if r, err := sink.Put(bytes.NewReader(png), m); err == nil {
			out.Artifacts = append(out.Artifacts, r)
		} else {
			fail("store screenshot: %v", err)
		}
	}
	for _, e := range lc.Errors {
		fail("%s", e)
	}
	if len(opts.FirstPartyDomains) == 0 {
		if u, err := url.Parse(src.Locator); err == nil {
			opts.FirstPartyDomains = []string{hostOf(u.Host)}
		}
	}
	in.analyse(ctx, src.Locator, bytes.NewReader(buf.Bytes()), ref, opts, out)
}
