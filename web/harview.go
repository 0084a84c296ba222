package web

import (
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"pilmon/evidence"
	"pilmon/store"
)

// The HAR viewer shows one request of a stored HAR as a prosecutor needs to read it: method, URL,
// headers, query, cookies and body, with the value a finding matched marked. Every string in a
// HAR comes from the investigated party (or whoever wrote the file), so each one is escaped
// before the marks are added around the escaped matches; nothing from the HAR is ever markup.

const (
	maxHARView    = 64 << 20 // bytes of HAR the viewer decodes
	maxHARList    = 500      // entries listed
	maxHARBody    = 64 << 10 // bytes of a body shown
	maxHARMarks   = 20       // values marked in one request
	minMarkLength = 3        // shorter values would mark half the page
)

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harEntry struct {
	Started string `json:"startedDateTime"`
	Request struct {
		Method      string  `json:"method"`
		URL         string  `json:"url"`
		Headers     []harNV `json:"headers"`
		QueryString []harNV `json:"queryString"`
		Cookies     []harNV `json:"cookies"`
		PostData    *struct {
			MimeType string `json:"mimeType"`
			Text     string `json:"text"`
		} `json:"postData"`
	} `json:"request"`
	Response struct {
		Status int `json:"status"`
	} `json:"response"`
}

// harMark is what a finding's observation says it found in an entry.
type harMark struct {
	Entry              int
	Key, Location, PI  string
	Detector, Sample   string
	Fingerprint, Title string
}

type harRow struct {
	I              int
	Method, URL    string
	Status         int
	Started        time.Time // zero when the HAR's time does not parse
	Marked, Chosen bool
}

type harNVView struct {
	Name  string
	Value template.HTML
}

type harData struct {
	V       evidenceView
	FP      string
	Rows    []harRow
	Total   int
	Chosen  bool
	I       int
	E       harEntry
	URL     template.HTML
	Headers []harNVView
	Query   []harNVView
	Cookies []harNVView
	Body    template.HTML
	BodyCut bool
	Marks   []harMark
	Values  int       // how many distinct values are marked
	At      time.Time // the chosen request's time, zero when the HAR's does not parse
}

// harTime reads a HAR time (RFC 3339, as HAR 1.2 requires).
func harTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// isHAR reports whether a stored artifact is a HAR: written by pilmon's live capture, imported as
// one, or uploaded under a .har name.
func isHAR(rec evidence.Record) bool {
	for _, c := range rec.Captures {
		if c.Method == "har_import" || strings.HasPrefix(c.Note, "HAR ") || strings.HasSuffix(strings.ToLower(c.Source), ".har") {
			return true
		}
	}
	return false
}

func (s *Server) evidenceHAR(c *echo.Context) error {
	ctx := c.Request().Context()
	h := c.Param("hash")
	v := s.evidenceView(h)
	if v.Err == "evidence.missing" {
		return echo.ErrNotFound
	}
	if v.Err != "" || !v.IsHAR {
		return uerr(http.StatusBadRequest, "har.nothar")
	}
	b, _, err := s.readVerified(h, maxHARView)
	if err != nil {
		return evidenceError(err)
	}
	var doc struct {
		Log struct {
			Entries []harEntry `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return &userError{code: http.StatusUnprocessableEntity, key: "har.bad", err: err}
	}
	d := harData{V: v, Total: len(doc.Log.Entries), I: -1}
	if fp := c.QueryParam("f"); fp != "" && fpRE.MatchString(fp) {
		if f, err := s.st.Get(ctx, fp); err == nil {
			d.FP = fp
			title := f.RuleID
			if rv, ok := s.cat.Violation(f.RuleID); ok {
				title = s.lang(c).Text(rv.TitleFor(f.Tier))
			}
			for _, o := range f.Observations {
				if !contains(o.EvidenceRefs, h) {
					continue
				}
				i, ok := intOf(o.Attributes["entry_index"])
				if !ok {
					continue
				}
				m := harMark{Entry: i, Fingerprint: fp, Title: title}
				m.Key, _ = o.Attributes["key"].(string)
				m.Location, _ = o.Attributes["location"].(string)
				m.Detector, _ = o.Attributes["detector"].(string)
				m.Sample, _ = o.Attributes["sample"].(string)
				if pis, ok := o.Attributes["pi"].([]any); ok && len(pis) > 0 {
					m.PI, _ = pis[0].(string)
				}
				d.Marks = append(d.Marks, m)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if i, err := strconv.Atoi(c.QueryParam("i")); err == nil {
		d.I = i
	} else if len(d.Marks) > 0 {
		d.I = d.Marks[0].Entry
	}
	marked := map[int]bool{}
	for _, m := range d.Marks {
		marked[m.Entry] = true
	}
	// The list: the first entries, and around the chosen one when it is further down.
	from := 0
	if d.I >= maxHARList {
		from = d.I - maxHARList/2
	}
	for i := from; i < len(doc.Log.Entries) && i < from+maxHARList; i++ {
		e := &doc.Log.Entries[i]
		d.Rows = append(d.Rows, harRow{I: i, Method: e.Request.Method, URL: cut(e.Request.URL, 200), Status: e.Response.Status,
			Started: harTime(e.Started), Marked: marked[i], Chosen: i == d.I})
	}
	if d.I >= 0 && d.I < len(doc.Log.Entries) {
		d.Chosen = true
		d.E = doc.Log.Entries[d.I]
		d.At = harTime(d.E.Started)
		var keys []string
		for _, m := range d.Marks {
			if m.Entry == d.I && m.Key != "" {
				keys = append(keys, m.Key)
			}
		}
		body := ""
		if d.E.Request.PostData != nil {
			body = d.E.Request.PostData.Text
		}
		if len(body) > maxHARBody {
			body, d.BodyCut = body[:maxHARBody], true
		}
		vals := markValues(&d.E, body, keys)
		d.Values = len(vals)
		d.URL = highlight(d.E.Request.URL, vals)
		d.Body = highlight(body, vals)
		for _, l := range []struct {
			in  []harNV
			out *[]harNVView
		}{{d.E.Request.Headers, &d.Headers}, {d.E.Request.QueryString, &d.Query}, {d.E.Request.Cookies, &d.Cookies}} {
			for _, nv := range l.in[:min(len(l.in), 200)] {
				*l.out = append(*l.out, harNVView{Name: nv.Name, Value: highlight(nv.Value, vals)})
			}
		}
	}
	return s.render(c, http.StatusOK, "har", s.newPage(c, "findings", "title.har", d))
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func intOf(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), x == float64(int(x))
	}
	return 0, false
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// markValues finds the values stored under the matched keys in the request: query parameters,
// headers, cookies, a form body, and a JSON body's fields at any depth.
func markValues(e *harEntry, body string, keys []string) []string {
	if len(keys) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, k := range keys {
		want[strings.ToLower(k)] = true
	}
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if len(v) >= minMarkLength && !seen[v] && len(out) < maxHARMarks {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, l := range [][]harNV{e.Request.QueryString, e.Request.Headers, e.Request.Cookies} {
		for _, nv := range l {
			if want[strings.ToLower(nv.Name)] {
				add(nv.Value)
			}
		}
	}
	if u, err := url.Parse(e.Request.URL); err == nil {
		for k, vs := range u.Query() {
			if want[strings.ToLower(k)] {
				for _, v := range vs {
					add(v)
				}
			}
		}
	}
	trimmed := strings.TrimSpace(body)
	if strings.HasPrefix(trimmed, "{") || strings.HasPrefix(trimmed, "[") {
		var doc any
		if json.Unmarshal([]byte(trimmed), &doc) == nil {
			walkJSON(doc, 0, func(k string, v any) {
				if want[strings.ToLower(k)] {
					switch x := v.(type) {
					case string:
						add(x)
					case float64:
						add(strconv.FormatFloat(x, 'f', -1, 64))
					}
				}
			})
		}
	} else if vs, err := url.ParseQuery(trimmed); err == nil {
		for k, l := range vs {
			if want[strings.ToLower(k)] {
				for _, v := range l {
					add(v)
				}
			}
		}
	}
	// Longest first, so that a value containing another is marked whole.
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// walkJSON calls fn for every object member, to a bounded depth.
func walkJSON(v any, depth int, fn func(string, any)) {
	if depth > 32 {
		return
	}
	switch x := v.(type) {
	case map[string]any:
		for k, m := range x {
			fn(k, m)
			walkJSON(m, depth+1, fn)
		}
	case []any:
		for _, m := range x {
			walkJSON(m, depth+1, fn)
		}
	}
}

// highlight escapes s and wraps each occurrence of a value in <mark>; the marks are the only
// markup in the result.
func highlight(s string, vals []string) template.HTML {
	var b strings.Builder
	for len(s) > 0 {
		at, n := -1, 0
		for _, v := range vals {
			if i := strings.Index(s, v); i >= 0 && (at < 0 || i < at || (i == at && len(v) > n)) {
				at, n = i, len(v)
			}
		}
		if at < 0 {
			b.WriteString(template.HTMLEscapeString(s))
			break
		}
		b.WriteString(template.HTMLEscapeString(s[:at]))
		b.WriteString(`<mark>`)
		b.WriteString(template.HTMLEscapeString(s[at : at+n]))
		b.WriteString(`</mark>`)
		s = s[at+n:]
	}
	return template.HTML(b.String())
}
