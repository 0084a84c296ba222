package traffic

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

func readAll(t *testing.T, har string, lim Limits) (*Info, []*Entry, error) {
	t.Helper()
	var got []*Entry
	info, err := ReadHAR(strings.NewReader(har), lim, func(e *Entry) error {
		got = append(got, e)
		return nil
	})
	return info, got, err
}

// Shapes as written by the common tools (trimmed to what matters).
var toolHARs = map[string]string{
	"chrome": `{"log":{"version":"1.2","creator":{"name":"WebInspector","version":"537.36"},
	  "pages":[{"startedDateTime":"2024-05-01T10:00:00.000Z","id":"page_1","title":"https://a.example/","pageTimings":{}}],
	  "entries":[{"_initiator":{"type":"other"},"_priority":"VeryHigh","_resourceType":"document","cache":{},"pageref":"page_1",
	    "request":{"method":"GET","url":"https://a.example/?imei=358240051111110","httpVersion":"http/2.0","headers":[{"name":":authority","value":"a.example"}],
	    "queryString":[{"name":"imei","value":"358240051111110"}],"cookies":[],"headersSize":-1,"bodySize":0},
	    "response":{"status":200,"statusText":"","httpVersion":"http/2.0","headers":[],"cookies":[],"content":{"size":5,"mimeType":"text/html","text":"aGVsbG8=","encoding":"base64"},"redirectURL":"","headersSize":-1,"bodySize":-1,"_transferSize":100},
	    "serverIPAddress":"[2001:db8::1]","startedDateTime":"2024-05-01T10:00:00.100Z","time":12.5,"timings":{"blocked":1}}]}}`,
	"firefox": `{"log":{"version":"1.2","creator":{"name":"Firefox","version":"125.0"},"browser":{"name":"Firefox","version":"125.0"},
	  "pages":[{"startedDateTime":"2024-05-01T12:00:00.000+02:00","id":"page_1","title":"A","pageTimings":{"onContentLoad":-1,"onLoad":-1}}],
	  "entries":[{"pageref":"page_1","startedDateTime":"2024-05-01T12:00:01.000+02:00",
	    "request":{"bodySize":30,"method":"POST","url":"https://b.example/api","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/x-www-form-urlencoded"}],"cookies":[{"name":"sid","value":"x"}],"queryString":[],"headersSize":300,
	      "postData":{"mimeType":"application/x-www-form-urlencoded","params":[{"name":"phone","value":"13812345678"}],"text":"phone=13812345678"}},
	    "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"mimeType":"application/json","size":2,"text":"{}"},"redirectURL":"","headersSize":100,"bodySize":2},
	    "cache":{},"timings":{"blocked":0,"dns":0,"connect":0,"ssl":0,"send":0,"wait":10,"receive":0},"time":10,"_securityState":"secure","serverIPAddress":"192.0.2.1","connection":"443"}]}}`,
	// Charles: no pages, numbers as strings, null values
	"charles": `{"log":{"version":"1.2","creator":{"name":"Charles Proxy","version":"4.6.4"},
	  "entries":[{"startedDateTime":"2024-05-01T18:00:00.123+08:00","time":"45","request":{"method":"POST","url":"http://c.example/track","httpVersion":"HTTP/1.1",
	    "cookies":[],"headers":[{"name":"Content-Type","value":"application/json"},{"name":"X-Null","value":null}],"queryString":[],"headersSize":"120","bodySize":40,
	    "postData":{"mimeType":"application/json; charset=utf-8","text":"{\"oaid\":\"5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b\"}"}},
	    "response":{"_charlesStatus":"COMPLETE","status":"200","statusText":"OK","httpVersion":"HTTP/1.1","cookies":[],"headers":[],"content":{"size":0,"mimeType":null},"redirectURL":null,"headersSize":0,"bodySize":0},
	    "serverIPAddress":"198.51.100.1","cache":{},"timings":{"dns":-1}}]}}`,
	// mitmproxy: base64 content, list-valued fields
	"mitmproxy": `{"log":{"version":"1.2","creator":{"name":"mitmproxy","version":"10.3.0","comment":""},"pages":[],
	  "entries":[{"startedDateTime":"2024-05-01T10:00:00.5+00:00","time":3.2,"request":{"method":"POST","url":"https://d.example/pb","httpVersion":"HTTP/2.0","cookies":[],
	    "headers":[{"name":"content-type","value":"application/x-protobuf"}],"queryString":[],"headersSize":100,"bodySize":17,
	    "postData":{"mimeType":"application/x-protobuf","text":"\n\u000f358240051111110"}},
	    "response":{"status":204,"statusText":"","httpVersion":"HTTP/2.0","cookies":[],"headers":[],"content":{"size":0,"compression":0,"mimeType":"","text":"","encoding":"base64"},"redirectURL":"","headersSize":10,"bodySize":0},
	    "cache":{},"timings":{"send":0,"receive":0,"wait":1,"connect":-1,"ssl":-1},"serverIPAddress":"203.0.113.9"}]}}`,
	// Fiddler: seven-digit fractions, comment fields, BOM
	"fiddler": "\ufeff" + `{"log":{"version":"1.2","comment":"exported","creator":{"name":"Fiddler","version":"5.0.20204.45441","comment":"http://www.telerik.com/fiddler"},
	  "entries":[{"startedDateTime":"2024-05-01T10:00:00.1234567+08:00","time":8,"request":{"method":"GET","url":"https://e.example/x?mac=3C:5A:B4:01:02:03","httpVersion":"HTTP/1.1","headersSize":1,"bodySize":0,
	    "cookies":[],"headers":[],"queryString":[{"name":"mac","value":"3C:5A:B4:01:02:03"}]},"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headersSize":1,"bodySize":0,"cookies":[],"headers":[],"content":{"size":0,"mimeType":"text/plain","text":""},"redirectURL":""},
	    "cache":{},"timings":{"send":0,"wait":0,"receive":0}}]}}`,
}

func TestReadHARTools(t *testing.T) {
	for name, har := range toolHARs {
		t.Run(name, func(t *testing.T) {
			info, got, err := readAll(t, har, Limits{})
			if err != nil {
				t.Fatalf("ReadHAR: %v", err)
			}
			if len(got) != 1 || info.Read != 1 || info.Entries != 1 {
				t.Fatalf("entries: got %d, info %+v", len(got), info)
			}
			for _, ee := range info.EntryErrors {
				if ee.Skipped {
					t.Errorf("unexpected skip: %s", ee)
				}
			}
			e := got[0]
			if _, ok := e.Started(); !ok {
				t.Errorf("startedDateTime %q not parsed", e.StartedDateTime)
			}
			hits, err := DetectEntry(e, nil, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if len(hits) == 0 {
				t.Errorf("no PI found in %s entry", name)
			}
			if info.Creator.Name == "" {
				t.Errorf("creator not read")
			}
		})
	}
}

func TestReadHARMalformedEntriesSkipped(t *testing.T) {
	har := `{"log":{"entries":[
	  {"request":{"url":"https://ok.example/1"}},
	  {"request":{"url":"https://bad.example/2", "headers": [ {"name": "a", "value": } ]}},
	  {"request":{"url":""}},
	  {"request":{"url":"https://ok.example/3","headers":"not-a-list"}},
	  "not an object",
	  {"request":{"url":"https://ok.example/5"}}
	],"pages":[{"id":"p","title":"pilmon:consent:agree","startedDateTime":"2024-01-01T00:00:00Z"}]}}`
	info, got, err := readAll(t, har, Limits{})
	if err != nil {
		t.Fatalf("ReadHAR: %v", err)
	}
	var urls []string
	for _, e := range got {
		urls = append(urls, fmt.Sprintf("%d:%s", e.Index, e.Request.URL))
	}
	want := "0:https://ok.example/1 3:https://ok.example/3 5:https://ok.example/5"
	if strings.Join(urls, " ") != want {
		t.Errorf("read %v, want %s", urls, want)
	}
	skipped := map[int]string{}
	for _, ee := range info.EntryErrors {
		if ee.Skipped {
			skipped[ee.Index] = ee.Reason
		}
	}
	for _, i := range []int{1, 2, 4} {
		if skipped[i] == "" {
			t.Errorf("entry %d not reported as skipped: %v", i, info.EntryErrors)
		}
	}
	if info.Entries != 6 || len(info.Pages) != 1 {
		t.Errorf("entries %d pages %d", info.Entries, len(info.Pages))
	}
}

func TestReadHARLimits(t *testing.T) {
	big := strings.Repeat("A", 5000)
	har := `{"log":{"entries":[{"request":{"url":"https://a.example/","postData":{"mimeType":"text/plain","text":"` + big + `"}}},
	  {"request":{"url":"https://b.example/"},"x":[` + strings.Repeat(`"`+big[:900]+`",`, 12) + `1]},{"request":{"url":"https://c.example/"}}]}}`
	info, got, err := readAll(t, har, Limits{MaxStringBytes: 1000, MaxEntryBytes: 8000})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Index != 0 || got[1].Index != 2 {
		t.Fatalf("got %d entries", len(got))
	}
	if !got[0].Truncated || len(got[0].Request.PostData.Text) != 1000 {
		t.Errorf("string not cut: truncated=%v len=%d", got[0].Truncated, len(got[0].Request.PostData.Text))
	}
	if info.EntryErrorCount != 1 || info.EntryErrors[0].Index != 1 || !strings.Contains(info.EntryErrors[0].Reason, "larger than") {
		t.Errorf("oversize entry not reported: %+v", info.EntryErrors)
	}
	// escapes at the cut point must not break the JSON
	esc := strings.Repeat(`\u00e9\"\\`, 400)
	_, got, err = readAll(t, `{"log":{"entries":[{"request":{"url":"https://a.example/","postData":{"text":"`+esc+`"}}}]}}`, Limits{MaxStringBytes: 1001})
	if err != nil || len(got) != 1 || !got[0].Truncated {
		t.Fatalf("escape cut: err=%v n=%d", err, len(got))
	}
	// entry cap
	info, got, err = readAll(t, `{"log":{"entries":[{"request":{"url":"https://a.example/"}},{"request":{"url":"https://b.example/"}},{"request":{"url":"https://c.example/"}}]}}`, Limits{MaxEntries: 2})
	if err != nil || len(got) != 2 || info.Entries != 3 || len(info.Notes) != 1 {
		t.Errorf("entry cap: err=%v read=%d entries=%d notes=%v", err, len(got), info.Entries, info.Notes)
	}
	// depth
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	info, got, err = readAll(t, `{"log":{"entries":[{"request":{"url":"https://a.example/"},"x":`+deep+`},{"request":{"url":"https://b.example/"}}]}}`, Limits{})
	if err != nil || len(got) != 1 || info.EntryErrorCount != 1 {
		t.Errorf("depth: err=%v read=%d errors=%v", err, len(got), info.EntryErrors)
	}
}

func TestReadHARBrokenStructureKeepsPartial(t *testing.T) {
	for name, har := range map[string]string{
		"truncated":  `{"log":{"entries":[{"request":{"url":"https://a.example/"}},{"request":{"url":"https://b.exa`,
		"garbage":    `{"log":{"entries":[{"request":{"url":"https://a.example/"}} x {"request":{}}]}}`,
		"not-object": `[1,2,3]`,
		"empty":      ``,
		"no-log":     `{"other":1}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, got, err := readAll(t, har, Limits{})
			if err == nil {
				t.Fatalf("no error for %s", name)
			}
			if strings.HasPrefix(name, "truncated") || name == "garbage" {
				if len(got) != 1 {
					t.Errorf("partial entries lost: %d", len(got))
				}
			}
		})
	}
}

// harGenerator writes an endless-looking HAR of n entries of ~entrySize bytes.
func writeGeneratedHAR(w io.Writer, n int, pad int) error {
	if _, err := io.WriteString(w, `{"log":{"version":"1.2","creator":{"name":"pilmon-test","version":"1"},"pages":[],"entries":[`); err != nil {
		return err
	}
	padding := strings.Repeat("x", pad)
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		buf.Reset()
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"startedDateTime":"2024-05-01T10:%02d:%02d.000Z","time":1,"request":{"method":"POST","url":"https://tracker%d.example/collect?imei=358240051111110&t=%d","httpVersion":"HTTP/1.1",`+
			`"headers":[{"name":"Content-Type","value":"application/json"},{"name":"User-Agent","value":"Mozilla/5.0"}],"cookies":[{"name":"sid","value":"abc%d"}],"queryString":[],"headersSize":-1,"bodySize":-1,`+
			`"postData":{"mimeType":"application/json","text":"{\"androidId\":\"9774d56d682e549c\",\"phone\":\"13812345678\",\"pad\":\"%s\"}"}},`+
			`"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":%d,"mimeType":"text/plain","text":"%s"},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{}}`,
			(i/60)%60, i%60, i%50, i, i, padding[:pad/2], pad, padding)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, `]}}`)
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestReadHARStreamsInBoundedMemory feeds ~200 MB through a pipe and checks the heap never holds
// more than a small fraction of it (a memory bound, not a time bound).
func TestReadHARStreamsInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	const entries = 27_000 // ~7.5 KB each -> ~200 MB
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeGeneratedHAR(pw, entries, 4800)) }()
	cr := &countingReader{r: pr}
	runtime.GC()
	var peak uint64
	sample := func() {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapAlloc > peak {
			peak = ms.HeapAlloc
		}
	}
	sample()
	read := 0
	a := newTestAnalyzer(t, Options{})
	info, err := ReadHAR(cr, Limits{}, func(e *Entry) error {
		read++
		a.Add(e)
		if read%2000 == 0 {
			sample()
		}
		return nil
	})
	sample()
	if err != nil {
		t.Fatal(err)
	}
	res := a.Finish(info)
	if read != entries || info.Entries != entries {
		t.Fatalf("read %d of %d", read, entries)
	}
	if cr.n < 180<<20 {
		t.Fatalf("generated only %d bytes", cr.n)
	}
	const bound = 64 << 20
	t.Logf("streamed %d MB, %d entries, peak heap %d MB, %d observations", cr.n>>20, read, peak>>20, len(res.Observations))
	if peak > bound {
		t.Errorf("peak heap %d MB exceeds %d MB for a %d MB HAR", peak>>20, bound>>20, cr.n>>20)
	}
	if len(res.Observations) == 0 {
		t.Errorf("no observations from generated traffic")
	}
}
