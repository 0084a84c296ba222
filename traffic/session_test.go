package traffic

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
	"pilmon/scanner"
)

// A value the session's hook log saw the app read, found in a request, is a known value whose
// pi_sent names the read (API, party, time, hook-log evidence); a value only the analyst's file
// has is a known value without a read; a value in neither is not known.
func TestSessionHookValuesLinkReadToSend(t *testing.T) {
	const imei = "867530912345678"
	const androidID = "9774d56d682e549c"
	sum := md5.Sum([]byte(imei))
	har := `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[
	{"startedDateTime":"2025-12-07T02:00:01.900Z","request":{"method":"GET","url":"https://alog.umeng.com/app_logs?di=` + hex.EncodeToString(sum[:]) + `","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}},
	{"startedDateTime":"2025-12-07T02:00:02.000Z","request":{"method":"GET","url":"https://api.shop.example/v1/init?aid=` + androidID + `","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}},
	{"startedDateTime":"2025-12-07T02:00:09.000Z","request":{"method":"POST","url":"https://api.shop.example/consent/agree","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}}]}}`
	path := filepath.Join(t.TempDir(), "s.har")
	writeFile(t, path, har)
	known := []scanner.KnownValue{
		{Field: "imei", Value: imei, API: "telephony.getDeviceId", Party: "sdk:umeng_analytics", Time: "2025-12-07T02:00:01.200Z",
			Phase: "before_consent", EvidenceRef: "ab12", Row: 4, Format: "pilmon"},
		{Field: "imei", Value: imei, API: "telephony.getImei", Party: "app", Time: "2025-12-07T02:00:05.000Z", Phase: "before_consent", EvidenceRef: "ab12", Row: 9, Format: "pilmon"},
	}
	a := newTestAnalyzer(t, Options{Known: known, Device: &DeviceValues{AndroidID: stringList{androidID}}, ConsentAt: time.Date(2025, 12, 7, 2, 0, 8, 0, time.UTC)})
	info, err := readFile(t, path, a)
	if err != nil {
		t.Fatal(err)
	}
	res := a.Finish(info)
	var umeng, own map[string]any
	for _, o := range res.Observations {
		if o.Kind != "traffic.pi_sent" {
			continue
		}
		switch o.Attributes["host"] {
		case "alog.umeng.com":
			if o.Attributes["known_value"] == true {
				umeng = o.Attributes
			}
		case "api.shop.example":
			if o.Attributes["known_value"] == true {
				own = o.Attributes
			}
		}
	}
	if umeng == nil {
		t.Fatal("the hooked IMEI's MD5 sent to alog.umeng.com is not a known value")
	}
	if umeng["known_source"] != "hooklog" || umeng["read_api"] != "telephony.getDeviceId" || umeng["read_party"] != "sdk:umeng_analytics" ||
		umeng["read_at"] != "2025-12-07T02:00:01.200Z" || umeng["read_evidence"] != "ab12" || umeng["read_row"] != 4 || umeng["phase"] != "before_consent" {
		t.Errorf("chain attributes (want the earliest read): %v", umeng)
	}
	if own == nil {
		t.Fatal("the analyst's Android ID sent to the operator is not a known value")
	}
	if own["known_source"] != "analyst" || own["read_api"] != nil {
		t.Errorf("a value from the device-values file names a read: %v", own)
	}
	// Without the session's values the IMEI's hash is not a known value.
	b := newTestAnalyzer(t, Options{Device: &DeviceValues{AndroidID: stringList{androidID}}})
	info, err = readFile(t, path, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range b.Finish(info).Observations {
		if o.Kind == "traffic.pi_sent" && o.Attributes["host"] == "alog.umeng.com" && o.Attributes["known_value"] == true {
			t.Error("an MD5 matched as a known value with no hook log and no device file")
		}
	}
}

type memSink struct{ blobs map[string][]byte }

func (m *memSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	m.blobs[h] = b
	return evidence.Ref{SHA256: h, Size: int64(len(b))}, nil
}

// In a session, the capture's analysis stores one timeline of the hook log's calls and marks and
// the capture's requests, in time order, and the findings of a read→send chain name it; outside a
// session nothing is stored.
func TestSessionTimelineStoredAndNamed(t *testing.T) {
	const imei = "867530912345678"
	sum := md5.Sum([]byte(imei))
	har := `{"log":{"version":"1.2","creator":{"name":"t","version":"1"},"entries":[
	{"startedDateTime":"2025-12-07T10:00:01.900+08:00","request":{"method":"GET","url":"https://alog.umeng.com/app_logs?di=` + hex.EncodeToString(sum[:]) + `","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}}]}}`
	path := filepath.Join(t.TempDir(), "s.har")
	writeFile(t, path, har)
	sess := []scanner.Observation{
		{Kind: "runtime.consent", Subject: "consent@5", EvidenceRefs: []string{"hooklogsha"}, Attributes: map[string]any{"time": "2025-12-07T02:00:08.000Z", "text": "同意", "row": 5}},
		{Kind: "runtime.api_call", Subject: "telephony.getDeviceId by sdk:umeng_analytics before_consent unknown", EvidenceRefs: []string{"hooklogsha"},
			Attributes: map[string]any{"api": "telephony.getDeviceId", "pi": []string{"device_id_hw"}, "party": "sdk:umeng_analytics", "phase": "before_consent",
				"foreground": "unknown", "count": 1, "first_time": "2025-12-07T02:00:01.200Z", "rows": []string{"2"}}},
	}
	known := []scanner.KnownValue{{Field: "imei", Value: imei, API: "telephony.getDeviceId", Party: "sdk:umeng_analytics", Time: "2025-12-07T02:00:01.200Z", Phase: "before_consent", EvidenceRef: "hooklogsha", Row: 2, Format: "pilmon"}}
	in := New(testCatalogue(t), Options{})
	run := func(session string) (scanner.Output, *memSink) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		st, _ := f.Stat()
		sink := &memSink{blobs: map[string][]byte{}}
		input := &scanner.Input{Source: scanner.Source{Kind: scanner.SourceHAR, Locator: path}, Path: path, Reader: f, Size: st.Size(),
			Ref: evidence.Ref{SHA256: "harsha"}, Sink: sink}
		if session != "" {
			input.Known, input.Session, input.SessionName = known, sess, session
		}
		return in.Inspect(context.Background(), input), sink
	}
	out, sink := run("s1")
	if len(out.Artifacts) != 2 {
		t.Fatalf("stored %d artifacts, want the timeline as JSON and as text", len(out.Artifacts))
	}
	var tl SessionTimeline
	if err := json.Unmarshal(sink.blobs[out.Artifacts[0].SHA256], &tl); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, e := range tl.Events {
		order = append(order, e.Clock+":"+e.What)
	}
	want := []string{"device:call", "capture:sent", "device:consent"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Errorf("timeline %v, want %v (the capture's +08:00 time read as UTC 02:00:01.900)", order, want)
	}
	if tl.Events[1].ReadAt != "2025-12-07T02:00:01.200Z" || tl.Events[1].Host != "alog.umeng.com" || tl.Events[0].Where != "rows 2" {
		t.Errorf("timeline lines: %+v", tl.Events)
	}
	text := string(sink.blobs[out.Artifacts[1].SHA256])
	if !strings.Contains(text, "会话时间线 / session timeline: s1") || !strings.Contains(text, "alog.umeng.com") {
		t.Errorf("text timeline:\n%s", text)
	}
	named := false
	for _, o := range out.Observations {
		if o.Kind == "traffic.pi_sent" && o.Attributes["known_source"] == "hooklog" {
			named = slices.Contains(o.EvidenceRefs, out.Artifacts[1].SHA256) && o.EvidenceRefs[0] == "harsha"
		}
	}
	if !named {
		t.Error("the chain's pi_sent does not name the timeline beside the capture")
	}
	if out, _ := run(""); len(out.Artifacts) != 0 {
		t.Errorf("outside a session %d artifacts were stored", len(out.Artifacts))
	}
}
