// Package apkfetch watches an app where its operator distributes it: an apk_url source is a direct
// download link, an apk_page_url source a download page whose APK link is picked from what
// Chromium rendered. Each fetch goes through the capture browser's SSRF guard with limits on
// redirects, size and time, is conditional on the validators of the version seen before, and
// leaves a sealed provenance record (URLs, redirects, address, TLS chain, headers, time) beside
// the APK in the evidence store; a new package then goes through apkinspect unchanged.
//
// The server is the party under investigation: every answer it gives is bounded and an answer
// that is not an APK is an error recorded in the scan, never stored as the package.
package apkfetch

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"pilmon/browser"
)

// Limits bound one download. Zero values take the defaults.
type Limits struct {
	// MaxBytes refuses a larger body; nothing beyond it is kept (default 512 MiB, apkinspect's).
	MaxBytes int64
	// MaxRedirects bounds the redirect chain (default 10).
	MaxRedirects int
	// Total bounds the whole download, redirects included (default 10 minutes).
	Total time.Duration
	// Idle bounds the wait for the response headers and for each further read (default 30 s): a
	// server that sends a byte a minute is refused long before Total.
	Idle time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 512 << 20
	}
	if l.MaxRedirects <= 0 {
		l.MaxRedirects = 10
	}
	if l.Total <= 0 {
		l.Total = 10 * time.Minute
	}
	if l.Idle <= 0 {
		l.Idle = 30 * time.Second
	}
	return l
}

// TLSPolicy says which server certificates a download accepts. The zero value verifies the chain
// and the host name against the system roots, as a browser does.
type TLSPolicy struct {
	// PinSHA256 accepts exactly the leaf certificate with this SHA-256 (hex) instead of verifying
	// the chain: a test server's or an intranet mirror's own certificate the analyst vouches for.
	PinSHA256 string
	// Insecure accepts any certificate; the record says so.
	Insecure bool
}

func (p TLSPolicy) mode() string {
	switch {
	case p.Insecure:
		return "insecure (not verified: insecure_tls)"
	case p.PinSHA256 != "":
		return "pinned leaf sha256 " + p.PinSHA256
	}
	return "verified (system roots, host name)"
}

// Hop is one response of the redirect chain.
type Hop struct {
	URL      string `json:"url"`
	Status   int    `json:"status"`
	Location string `json:"location,omitempty"`
	Address  string `json:"address,omitempty"`
}

// Cert is one certificate the server presented.
type Cert struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// Record is the provenance of one fetch: what was asked, what answered, from where, with which
// certificate, when. It is stored as a sealed JSON artifact and cited by apk.provenance.
type Record struct {
	Format     string `json:"format"`
	Source     string `json:"source,omitempty"` // the download page, for apk_page_url
	URL        string `json:"url"`
	FinalURL   string `json:"final_url,omitempty"`
	Redirects  []Hop  `json:"redirects,omitempty"`
	Address    string `json:"address,omitempty"` // the address the final response came from
	TLSMode    string `json:"tls_mode,omitempty"`
	TLSChain   []Cert `json:"tls_chain,omitempty"`
	TLSVersion string `json:"tls_version,omitempty"`
	// Conditional are the validators sent (If-None-Match, If-Modified-Since).
	Conditional map[string]string `json:"conditional,omitempty"`
	Status      int               `json:"status,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	FetchedAt   time.Time         `json:"fetched_at"`
	FinishedAt  time.Time         `json:"finished_at"`
	SHA256      string            `json:"sha256,omitempty"`
	Size        int64             `json:"size,omitempty"`
	NotModified bool              `json:"not_modified,omitempty"`
	Error       string            `json:"error,omitempty"`
	Tool        string            `json:"tool,omitempty"`
}

// RecordFormat names the record's schema.
const RecordFormat = "pilmon-apk-download/1"

// Download is a fetched body in a temporary file the caller removes (Close).
type Download struct {
	Record Record
	File   *os.File // nil when the server answered 304
	Size   int64
	SHA256 string
}

// Close removes the temporary file.
func (d *Download) Close() {
	if d != nil && d.File != nil {
		d.File.Close()
		os.Remove(d.File.Name())
	}
}

// Conditional are the validators of the version seen before.
type Conditional struct {
	ETag         string
	LastModified string
}

// Fetcher downloads through the guard. It is safe for concurrent use.
type Fetcher struct {
	Guard  *browser.Guard
	Limits Limits
	Tool   string
	// TempDir holds downloads while they are checked; "" is the system's.
	TempDir string
	// Now is the clock of the records; nil is time.Now.
	Now func() time.Time
	// RootCAs verifies servers instead of the system roots (tests of verification itself).
	RootCAs *x509.CertPool
}

// Errors a caller (and a test) can tell apart; each wrapped with the URL and the reason.
var (
	ErrTooLarge   = errors.New("下载超过大小上限 / download exceeds the size limit")
	ErrRedirects  = errors.New("重定向过多或循环 / too many redirects or a redirect loop")
	ErrNotAPK     = errors.New("下载内容不是 APK / the download is not an APK")
	ErrStatus     = errors.New("服务器返回错误状态 / the server answered with an error status")
	ErrStalled    = errors.New("下载停滞 / the download stalled")
	errNoLocation = errors.New("redirect without a Location")
)

// maxHeaders bounds the response headers kept in the record.
const (
	maxHeaders     = 64
	maxHeaderValue = 1024
)

// Get fetches rawURL. A non-nil Download is returned whenever a request was made, with its
// Record filled as far as the fetch got, so a refused or failed download is evidence too; the
// error says why the body is not usable.
func (f *Fetcher) Get(ctx context.Context, rawURL string, cond Conditional, tp TLSPolicy) (*Download, error) {
	return f.fetch(ctx, http.MethodGet, rawURL, cond, tp)
}

// ContentType asks for rawURL's headers only (HEAD, redirects followed and checked as Get does)
// and returns the media type the server names.
func (f *Fetcher) ContentType(ctx context.Context, rawURL string, tp TLSPolicy) (string, error) {
	d, err := f.fetch(ctx, http.MethodHead, rawURL, Conditional{}, tp)
	if err != nil {
		return "", err
	}
	if d.Record.Status < 200 || d.Record.Status > 299 {
		return "", fmt.Errorf("%s: %w: HTTP %d", rawURL, ErrStatus, d.Record.Status)
	}
	mt, _, _ := mime.ParseMediaType(d.Record.Headers["Content-Type"])
	return mt, nil
}

func (f *Fetcher) fetch(ctx context.Context, method, rawURL string, cond Conditional, tp TLSPolicy) (*Download, error) {
	lim := f.Limits.withDefaults()
	now := f.Now
	if now == nil {
		now = time.Now
	}
	d := &Download{Record: Record{Format: RecordFormat, URL: rawURL, FetchedAt: now().UTC(), TLSMode: tp.mode(), Tool: f.Tool}}
	defer func() { d.Record.FinishedAt = now().UTC() }()
	ctx, cancel := context.WithTimeout(ctx, lim.Total)
	defer cancel()

	var mu sync.Mutex
	var lastAddr string
	tr := &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, hostport string) (net.Conn, error) {
			c, err := f.dial(ctx, hostport)
			if err == nil {
				mu.Lock()
				lastAddr = c.RemoteAddr().String()
				mu.Unlock()
			}
			return c, err
		},
		TLSClientConfig:        tlsConfig(tp, f.RootCAs),
		TLSHandshakeTimeout:    lim.Idle,
		ResponseHeaderTimeout:  lim.Idle,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true, // the bytes stored are the bytes served
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      false,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	cur := rawURL
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		if err := f.Guard.Check(ctx, cur); err != nil {
			return d, fmt.Errorf("%s: %w", cur, err)
		}
		u, err := url.Parse(cur)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return d, fmt.Errorf("%.200s: only http and https URLs are fetched", cur)
		}
		if seen[cur] {
			return d, fmt.Errorf("%s: %w: %s is visited twice", rawURL, ErrRedirects, cur)
		}
		seen[cur] = true
		req, err := http.NewRequestWithContext(ctx, method, cur, nil)
		if err != nil {
			return d, fmt.Errorf("%.200s: %v", cur, err)
		}
		req.Header.Set("User-Agent", "pilmon (public-interest monitoring; "+f.Tool+")")
		req.Header.Set("Accept", "application/vnd.android.package-archive, application/octet-stream;q=0.9, */*;q=0.1")
		if hop == 0 || u.Host == mustHost(rawURL) {
			if cond.ETag != "" {
				req.Header.Set("If-None-Match", cond.ETag)
			}
			if cond.LastModified != "" {
				req.Header.Set("If-Modified-Since", cond.LastModified)
			}
		}
		if hop == 0 {
			d.Record.Conditional = conditionalHeaders(req.Header)
		}
		resp, err := client.Do(req)
		if err != nil {
			return d, fmt.Errorf("%s: %s", cur, describeTransportError(err))
		}
		mu.Lock()
		addr := lastAddr
		mu.Unlock()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.StatusCode != http.StatusNotModified {
			loc := resp.Header.Get("Location")
			resp.Body.Close()
			d.Record.Redirects = append(d.Record.Redirects, Hop{URL: cur, Status: resp.StatusCode, Location: truncate(loc, 2048), Address: addr})
			if loc == "" {
				return d, fmt.Errorf("%s: %w", cur, errNoLocation)
			}
			next, err := u.Parse(loc)
			if err != nil {
				return d, fmt.Errorf("%s: redirect to an unparsable location %.200q", cur, loc)
			}
			if hop+1 > lim.MaxRedirects {
				return d, fmt.Errorf("%s: %w: more than %d", rawURL, ErrRedirects, lim.MaxRedirects)
			}
			next.Fragment = ""
			cur = next.String()
			continue
		}
		d.Record.FinalURL, d.Record.Address, d.Record.Status = cur, addr, resp.StatusCode
		d.Record.Headers = keptHeaders(resp.Header)
		if resp.TLS != nil {
			d.Record.TLSVersion = tls.VersionName(resp.TLS.Version)
			for _, c := range resp.TLS.PeerCertificates {
				sum := sha256.Sum256(c.Raw)
				d.Record.TLSChain = append(d.Record.TLSChain, Cert{Subject: c.Subject.String(), Issuer: c.Issuer.String(),
					SHA256: hex.EncodeToString(sum[:]), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()})
			}
		}
		defer resp.Body.Close()
		if method == http.MethodHead {
			return d, nil
		}
		if resp.StatusCode == http.StatusNotModified {
			d.Record.NotModified = true
			return d, nil
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			return d, fmt.Errorf("%s: %w: HTTP %d %s", cur, ErrStatus, resp.StatusCode, contentTypeOf(resp.Header))
		}
		if err := CheckContentType(resp.Header.Get("Content-Type")); err != nil {
			return d, fmt.Errorf("%s: %w", cur, err)
		}
		if resp.ContentLength > lim.MaxBytes {
			return d, fmt.Errorf("%s: %w: the server announces %d bytes, the limit is %d", cur, ErrTooLarge, resp.ContentLength, lim.MaxBytes)
		}
		if err := f.body(ctx, cancel, resp.Body, d, lim); err != nil {
			return d, fmt.Errorf("%s: %w", cur, err)
		}
		return d, nil
	}
}

// body streams the response into a temporary file, hashing it, within the size limit, cancelling
// the request when no byte arrives for lim.Idle.
func (f *Fetcher) body(ctx context.Context, cancel context.CancelFunc, r io.Reader, d *Download, lim Limits) error {
	tmp, err := os.CreateTemp(f.TempDir, "pilmon-apk-*")
	if err != nil {
		return fmt.Errorf("temporary file: %w", err)
	}
	d.File = tmp
	stalled := false
	var smu sync.Mutex
	timer := time.AfterFunc(lim.Idle, func() {
		smu.Lock()
		stalled = true
		smu.Unlock()
		cancel()
	})
	defer timer.Stop()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, rerr := r.Read(buf)
		if k > 0 {
			timer.Reset(lim.Idle)
			n += int64(k)
			if n > lim.MaxBytes {
				return fmt.Errorf("%w: more than %d bytes; nothing kept", ErrTooLarge, lim.MaxBytes)
			}
			if _, err := tmp.Write(buf[:k]); err != nil {
				return fmt.Errorf("temporary file: %w", err)
			}
			h.Write(buf[:k])
		}
		if rerr == nil {
			continue
		}
		// Once the idle timer has fired the request is cancelled, and the transport
		// may end the body with io.EOF as well as with an error: either way the
		// body stalled, it did not end.
		smu.Lock()
		s := stalled
		smu.Unlock()
		if s {
			return fmt.Errorf("%w: no data for %s after %d bytes", ErrStalled, lim.Idle, n)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: not finished within %s (%d bytes read)", ErrStalled, lim.Total, n)
		}
		if rerr == io.EOF {
			break
		}
		return fmt.Errorf("reading the body after %d bytes: %v", n, rerr)
	}
	d.Size, d.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	d.Record.SHA256, d.Record.Size = d.SHA256, n
	if err := checkAPKHead(tmp, n); err != nil {
		return err
	}
	return nil
}

// dial connects to one of exactly the addresses the guard accepted for the host.
func (f *Fetcher) dial(ctx context.Context, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, fmt.Errorf("bad address %q: %w", hostport, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return nil, fmt.Errorf("%w: bad port in %q", browser.ErrRefused, hostport)
	}
	targets, err := f.Guard.DialTargets(ctx, host, uint16(p))
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	var last error
	for _, t := range targets {
		c, err := d.DialContext(ctx, "tcp", t.String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, fmt.Errorf("connect %s: %w", hostport, last)
}

// tlsConfig verifies as the policy says. A pinned certificate is compared with the leaf the
// server presented; the chain and the name are then not verified, which is what the pin is for.
func tlsConfig(tp TLSPolicy, roots *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if !tp.Insecure && tp.PinSHA256 == "" {
		return cfg
	}
	cfg.InsecureSkipVerify = true
	if tp.Insecure {
		return cfg
	}
	pin := strings.ToLower(strings.ReplaceAll(tp.PinSHA256, ":", ""))
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("no server certificate")
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if hex.EncodeToString(sum[:]) != pin {
			return fmt.Errorf("server certificate sha256 %x is not the pinned %s", sum, pin)
		}
		return nil
	}
	return cfg
}

// describeTransportError words a failed request for the scan's error list.
func describeTransportError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ce *tls.CertificateVerificationError
	var he x509.HostnameError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &he):
		return "证书与主机名不符 / certificate is for another host: " + he.Error()
	case errors.As(err, &ua), errors.As(err, &ce):
		return "证书未通过验证 / certificate not verified: " + err.Error()
	case errors.Is(err, browser.ErrRefused):
		return err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out: " + err.Error()
	}
	return err.Error()
}

// apkTypes are the content types an APK download is served with in practice; an absent type is
// accepted too (the bytes decide).
var apkTypes = map[string]bool{
	"application/vnd.android.package-archive": true, "application/octet-stream": true,
	"binary/octet-stream": true, "application/zip": true, "application/x-zip-compressed": true,
	"application/java-archive": true, "application/x-apk": true, "application/force-download": true,
	"application/download": true, "application/x-download": true, "application/x-msdownload": true,
}

// CheckContentType refuses a response that says it is something else than a package (an HTML
// error page, JSON, an image).
func CheckContentType(ct string) error {
	if strings.TrimSpace(ct) == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("%w: unparsable Content-Type %.100q", ErrNotAPK, ct)
	}
	if !apkTypes[mt] {
		return fmt.Errorf("%w: served as %.100s", ErrNotAPK, mt)
	}
	return nil
}

// checkAPKHead refuses a body that does not start as a zip archive; whether the zip is an APK is
// decided by reading its central directory (IsAPK).
func checkAPKHead(f *os.File, n int64) error {
	head := make([]byte, 4)
	if n < 4 {
		return fmt.Errorf("%w: %d bytes", ErrNotAPK, n)
	}
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("temporary file: %w", err)
	}
	if string(head) != "PK\x03\x04" {
		return fmt.Errorf("%w: not a zip archive (starts %q)", ErrNotAPK, head)
	}
	return nil
}

func conditionalHeaders(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range []string{"If-None-Match", "If-Modified-Since"} {
		if v := h.Get(k); v != "" {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// keptHeaders are the response headers, at most maxHeaders of them, each value cut.
func keptHeaders(h http.Header) map[string]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]string{}
	for _, k := range keys {
		if len(out) >= maxHeaders {
			break
		}
		out[truncate(k, 128)] = truncate(strings.Join(h[k], ", "), maxHeaderValue)
	}
	return out
}

func contentTypeOf(h http.Header) string {
	if ct := h.Get("Content-Type"); ct != "" {
		return "(" + truncate(ct, 100) + ")"
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func mustHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// addrOnly returns the address part of an "ip:port" string, for the observation.
func addrOnly(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return s
}
