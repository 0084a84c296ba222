// Package traffic finds personal information leaving a device or a page: it imports HAR captures
// (streaming, bounded), captures H5 pages itself through the browser package, decodes request
// bodies, runs PI detectors and known-value matching, attributes hosts to SDKs and trackers and
// places each request before or after the consent action.
package traffic

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// HAR 1.2 types. Only what pilmon reads or writes is declared; unknown fields are ignored on input.
// Fields that tools write with varying JSON types (numbers as strings, nulls) use flexNum/flexString.

// HAR is a whole archive, used when pilmon writes one (live capture). Import never builds it.
type HAR struct {
	Log HARLog `json:"log"`
}

// HARLog is the "log" object.
type HARLog struct {
	Version string   `json:"version"`
	Creator NameVer  `json:"creator"`
	Browser *NameVer `json:"browser,omitempty"`
	// Consent is pilmon's own marker, written by the live capture before the entries.
	Consent []ConsentMarker `json:"_pilmon_consent,omitempty"`
	Pages   []Page          `json:"pages"`
	Entries []Entry         `json:"entries"`
}

// NameVer is creator/browser.
type NameVer struct {
	Name    string     `json:"name"`
	Version flexString `json:"version"`
}

// Page is one HAR page.
type Page struct {
	ID              flexString `json:"id"`
	StartedDateTime string     `json:"startedDateTime"`
	Title           flexString `json:"title"`
}

// ConsentMarker records a consent or refusal action in a capture (log._pilmon_consent).
type ConsentMarker struct {
	// Action is "agree" or "refuse".
	Action string `json:"action"`
	// Time is when the control was clicked (RFC 3339 with fraction).
	Time string `json:"time"`
	// Control is the selector or button text used.
	Control string `json:"control,omitempty"`
	// Screenshot is the SHA-256 of the screenshot taken just before the click, when stored.
	Screenshot string `json:"screenshot,omitempty"`
}

// Entry is one request/response pair.
type Entry struct {
	Pageref         flexString `json:"pageref,omitempty"`
	StartedDateTime string     `json:"startedDateTime"`
	Time            flexNum    `json:"time"`
	Request         Request    `json:"request"`
	Response        Response   `json:"response"`
	ServerIPAddress flexString `json:"serverIPAddress,omitempty"`
	ResourceType    flexString `json:"_resourceType,omitempty"`
	// Blocked is set by pilmon's live capture when its SSRF guard refused the request: it never
	// left the machine, so it is not analysed as sent.
	Blocked bool `json:"_pilmon_blocked,omitempty"`

	// Index is the entry's position in log.entries (0-based), set by the reader.
	Index int `json:"-"`
	// Truncated is set when a string of the entry was cut at Limits.MaxStringBytes.
	Truncated bool `json:"-"`
}

// Request is entry.request.
type Request struct {
	Method      flexString `json:"method"`
	URL         flexString `json:"url"`
	HTTPVersion flexString `json:"httpVersion"`
	Cookies     []Cookie   `json:"cookies"`
	Headers     []NV       `json:"headers"`
	QueryString []NV       `json:"queryString"`
	PostData    *PostData  `json:"postData,omitempty"`
	HeadersSize flexNum    `json:"headersSize"`
	BodySize    flexNum    `json:"bodySize"`
}

// Response is entry.response.
type Response struct {
	Status      flexNum    `json:"status"`
	StatusText  flexString `json:"statusText"`
	HTTPVersion flexString `json:"httpVersion"`
	Cookies     []Cookie   `json:"cookies"`
	Headers     []NV       `json:"headers"`
	Content     Content    `json:"content"`
	RedirectURL flexString `json:"redirectURL"`
	HeadersSize flexNum    `json:"headersSize"`
	BodySize    flexNum    `json:"bodySize"`
}

// NV is a header or query parameter.
type NV struct {
	Name  flexString `json:"name"`
	Value flexString `json:"value"`
}

// Cookie is a request or response cookie.
type Cookie struct {
	Name  flexString `json:"name"`
	Value flexString `json:"value"`
}

// PostData is request.postData: either text or params (multipart and form posts).
type PostData struct {
	MimeType flexString `json:"mimeType"`
	Text     flexString `json:"text,omitempty"`
	Params   []Param    `json:"params,omitempty"`
	// Encoding is not in HAR 1.2 for postData but some tools write "base64" here (or "_encoding").
	Encoding  flexString `json:"encoding,omitempty"`
	XEncoding flexString `json:"_encoding,omitempty"`
}

// Param is a postData parameter.
type Param struct {
	Name        flexString `json:"name"`
	Value       flexString `json:"value,omitempty"`
	FileName    flexString `json:"fileName,omitempty"`
	ContentType flexString `json:"contentType,omitempty"`
}

// Content is response.content.
type Content struct {
	Size     flexNum    `json:"size"`
	MimeType flexString `json:"mimeType"`
	Text     flexString `json:"text,omitempty"`
	Encoding flexString `json:"encoding,omitempty"`
}

// flexString accepts a string, a number, a bool, null, or any JSON value (kept as its JSON text).
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	switch b[0] {
	case '"':
		if len(b) >= 2 && bytes.IndexByte(b[1:len(b)-1], '\\') < 0 && bytes.IndexByte(b[1:len(b)-1], '"') < 0 && utf8.Valid(b) {
			// the common case: nothing to unescape (json.Unmarshal already checked the syntax)
			*s = flexString(b[1 : len(b)-1])
			return nil
		}
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
	case 'n':
		*s = ""
	default:
		// numbers, booleans, and objects/arrays (chrome-har writes JSON params as objects): keep the
		// JSON text, which the body decoder parses again
		*s = flexString(b)
	}
	return nil
}

// flexNum accepts a number, a numeric string, or null (-1 when absent or unparsable).
type flexNum float64

func (n *flexNum) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) > 0 && s[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		s = strings.TrimSpace(v)
	}
	if s == "null" || s == "" {
		*n = -1
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		*n = -1
		return nil
	}
	*n = flexNum(f)
	return nil
}

// Started parses startedDateTime; ok is false when it is absent or not a date.
func (e *Entry) Started() (time.Time, bool) { return parseHARTime(e.StartedDateTime) }

func parseHARTime(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z0700", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Limits bound what one HAR may cost. Zero fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxEntryBytes is the largest raw JSON of one entry kept; a larger entry is reported and skipped.
	MaxEntryBytes int
	// MaxStringBytes cuts longer JSON strings (bodies) inside an entry; the entry is kept, marked Truncated.
	MaxStringBytes int
	// MaxEntries stops reading after that many entries (reported).
	MaxEntries int
	// MaxBodyBytes bounds a decoded (decompressed, base64-decoded) body.
	MaxBodyBytes int
	// MaxRatio bounds decompressed/compressed size.
	MaxRatio int
	// MaxJSONDepth bounds nesting of bodies and of HAR structure.
	MaxJSONDepth int
	// MaxNodes bounds the values one decoded body may yield.
	MaxNodes int
	// MaxNest bounds decodings inside decodings (base64 inside JSON inside a form field…).
	MaxNest int
	// MaxEntryErrors bounds the entry errors kept (the rest are counted).
	MaxEntryErrors int
}

// DefaultLimits are sized for HARs of several GB with ordinary entries.
var DefaultLimits = Limits{
	MaxEntryBytes:  48 << 20,
	MaxStringBytes: 8 << 20,
	MaxEntries:     2_000_000,
	MaxBodyBytes:   4 << 20,
	MaxRatio:       200,
	MaxJSONDepth:   64,
	MaxNodes:       50_000,
	MaxNest:        3,
	MaxEntryErrors: 1000,
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set(&l.MaxEntryBytes, d.MaxEntryBytes)
	set(&l.MaxStringBytes, d.MaxStringBytes)
	set(&l.MaxEntries, d.MaxEntries)
	set(&l.MaxBodyBytes, d.MaxBodyBytes)
	set(&l.MaxRatio, d.MaxRatio)
	set(&l.MaxJSONDepth, d.MaxJSONDepth)
	set(&l.MaxNodes, d.MaxNodes)
	set(&l.MaxNest, d.MaxNest)
	set(&l.MaxEntryErrors, d.MaxEntryErrors)
	return l
}

// EntryError reports one entry that could not be read (Skipped) or was read only in part.
type EntryError struct {
	Index   int    `json:"index"`
	Offset  int64  `json:"offset"`
	Reason  string `json:"reason"`
	Skipped bool   `json:"skipped"`
}

func (e EntryError) String() string {
	s := fmt.Sprintf("entry %d (byte %d): %s", e.Index, e.Offset, e.Reason)
	if e.Skipped {
		s += " (skipped)"
	}
	return s
}

// Info is what a HAR says besides its entries.
type Info struct {
	Version string
	Creator NameVer
	Browser NameVer
	Pages   []Page
	Consent []ConsentMarker
	// Entries counts entries seen (read or skipped).
	Entries int
	// Read counts entries handed to the callback.
	Read int
	// Truncated counts entries with a string cut at MaxStringBytes.
	Truncated int
	// EntryErrors are the first MaxEntryErrors problems; EntryErrorCount counts all of them.
	EntryErrors     []EntryError
	EntryErrorCount int
	// Bytes is how much of the input was consumed.
	Bytes int64
	// Notes are file-level remarks (entry cap reached, unreadable pages…).
	Notes []string
}

func (in *Info) entryError(lim Limits, e EntryError) {
	in.EntryErrorCount++
	if len(in.EntryErrors) < lim.MaxEntryErrors {
		in.EntryErrors = append(in.EntryErrors, e)
	}
}

// ErrStop may be returned by the ReadHAR callback to stop reading without an error.
var ErrStop = errors.New("traffic: stop")

// ReadHAR streams a HAR: it walks the outer objects and decodes log.entries one entry at a time,
// calling fn for each entry that could be read. Memory is bounded by Limits.MaxEntryBytes plus
// the reader's buffer, whatever the size of the file. A malformed entry is recorded in
// Info.EntryErrors and skipped; a broken file structure ends the walk with an error, keeping what
// was read. pages, creator and _pilmon_consent may appear before or after the entries.
func ReadHAR(r io.Reader, lim Limits, fn func(*Entry) error) (*Info, error) {
	lim = lim.withDefaults()
	s := newRawScanner(r)
	info := &Info{}
	err := readHAR(s, lim, info, fn)
	info.Bytes = s.off
	if errors.Is(err, ErrStop) {
		err = nil
	}
	return info, err
}

func readHAR(s *rawScanner, lim Limits, info *Info, fn func(*Entry) error) error {
	s.skipBOM()
	if err := s.expect('{'); err != nil {
		return fmt.Errorf("HAR: %w", err)
	}
	sawLog := false
	err := s.object(func(key string) error {
		if key != "log" {
			return s.skip()
		}
		sawLog = true
		if err := s.expect('{'); err != nil {
			return fmt.Errorf("log: %w", err)
		}
		return s.object(func(key string) error { return readLogMember(s, lim, info, key, fn) })
	})
	if err != nil {
		return err
	}
	if !sawLog {
		return errors.New("HAR: no \"log\" object")
	}
	return nil
}

func readLogMember(s *rawScanner, lim Limits, info *Info, key string, fn func(*Entry) error) error {
	small := func(v any) error {
		off := s.off
		raw, st, err := s.capture(1<<20, 1<<20, lim.MaxJSONDepth)
		if err != nil {
			return err
		}
		if st.oversize || st.tooDeep {
			info.Notes = append(info.Notes, fmt.Sprintf("log.%s at byte %d is too large or too deep; ignored", key, off))
			return nil
		}
		if err := json.Unmarshal(raw, v); err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("log.%s at byte %d: %v", key, off, err))
		}
		return nil
	}
	switch key {
	case "version":
		var v flexString
		err := small(&v)
		info.Version = string(v)
		return err
	case "creator":
		return small(&info.Creator)
	case "browser":
		return small(&info.Browser)
	case "_pilmon_consent":
		return small(&info.Consent)
	case "pages":
		off := s.off
		raw, st, err := s.capture(16<<20, 64<<10, lim.MaxJSONDepth)
		if err != nil {
			return err
		}
		if st.oversize || st.tooDeep {
			info.Notes = append(info.Notes, fmt.Sprintf("log.pages at byte %d is too large or too deep; ignored", off))
			return nil
		}
		var pages []Page
		if err := json.Unmarshal(raw, &pages); err != nil {
			info.Notes = append(info.Notes, fmt.Sprintf("log.pages at byte %d: %v", off, err))
		}
		info.Pages = append(info.Pages, pages...)
		return nil
	case "entries":
		return readEntries(s, lim, info, fn)
	default:
		return s.skip()
	}
}

func readEntries(s *rawScanner, lim Limits, info *Info, fn func(*Entry) error) error {
	c, err := s.peek()
	if err != nil {
		return fmt.Errorf("log.entries: %w", err)
	}
	if c != '[' {
		info.Notes = append(info.Notes, fmt.Sprintf("log.entries at byte %d is not an array; ignored", s.off))
		return s.skip()
	}
	return s.array(func() error {
		idx := info.Entries
		info.Entries++
		off := s.off
		if idx >= lim.MaxEntries {
			if idx == lim.MaxEntries {
				info.Notes = append(info.Notes, fmt.Sprintf("more than %d entries; the rest were not analysed", lim.MaxEntries))
			}
			return s.skip()
		}
		raw, st, err := s.capture(lim.MaxEntryBytes, lim.MaxStringBytes, lim.MaxJSONDepth)
		if err != nil {
			info.entryError(lim, EntryError{Index: idx, Offset: off, Reason: err.Error(), Skipped: true})
			return err
		}
		if st.oversize {
			info.entryError(lim, EntryError{Index: idx, Offset: off, Reason: fmt.Sprintf("entry larger than %d bytes", lim.MaxEntryBytes), Skipped: true})
			return nil
		}
		if st.tooDeep {
			info.entryError(lim, EntryError{Index: idx, Offset: off, Reason: fmt.Sprintf("entry nested deeper than %d", lim.MaxJSONDepth), Skipped: true})
			return nil
		}
		e := &Entry{Index: idx, Truncated: st.truncated}
		if err := json.Unmarshal(raw, e); err != nil {
			var te *json.UnmarshalTypeError
			if !errors.As(err, &te) {
				info.entryError(lim, EntryError{Index: idx, Offset: off, Reason: "malformed: " + err.Error(), Skipped: true})
				return nil
			}
			info.entryError(lim, EntryError{Index: idx, Offset: off, Reason: "partly read: " + err.Error()})
		}
		if reason := e.validate(); reason != "" {
			info.entryError(lim, EntryError{Index: idx, Offset: off, Reason: reason, Skipped: true})
			return nil
		}
		if st.truncated {
			info.Truncated++
		}
		info.Read++
		return fn(e)
	})
}

// validate says why an entry cannot be analysed, or "".
func (e *Entry) validate() string {
	u := strings.TrimSpace(string(e.Request.URL))
	if u == "" {
		return "request.url missing"
	}
	if _, err := parseRequestURL(u); err != nil {
		return "request.url: " + err.Error()
	}
	return ""
}
