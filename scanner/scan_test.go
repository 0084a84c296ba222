package scanner

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/evidence"
)

// fakeInspector is a unit-test stand-in; integration tests use the real inspectors.
type fakeInspector struct {
	name   string
	kind   SourceKind
	action func(ctx context.Context, src Source) Report
}

func (f fakeInspector) Name() string            { return f.name }
func (f fakeInspector) Version() string         { return "t1" }
func (f fakeInspector) Accepts(src Source) bool { return src.Kind == f.kind }
func (f fakeInspector) Inspect(ctx context.Context, src Source, _ EvidenceSink) Report {
	return f.action(ctx, src)
}

type memSink struct {
	mu   sync.Mutex
	puts int
}

func (m *memSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	b, _ := io.ReadAll(r)
	return evidence.Ref{SHA256: strings.Repeat("a", 64), Size: int64(len(b))}, nil
}

func TestScanIsolatesFailures(t *testing.T) {
	good := fakeInspector{name: "good", kind: SourceAPK, action: func(ctx context.Context, src Source) Report {
		return Report{Status: StatusSucceeded, Observations: []Observation{{Kind: "apk.permission", Subject: "android.permission.READ_CONTACTS",
			Attributes: map[string]any{"pi": []string{"contacts"}}}}}
	}}
	panicky := fakeInspector{name: "panicky", kind: SourceHAR, action: func(ctx context.Context, src Source) Report {
		var m map[string]int
		m["boom"] = 1 // nil map write: a panic inside an inspector
		return Report{}
	}}
	slow := fakeInspector{name: "slow", kind: SourcePolicyURL, action: func(ctx context.Context, src Source) Report {
		<-ctx.Done()
		return Report{Status: StatusPartial, Errors: []string{src.Locator + ": " + ctx.Err().Error()}}
	}}
	target := Target{ID: "t1", Kind: TargetApp, Sources: []Source{
		{Kind: SourceAPK, Locator: "a.apk"},
		{Kind: SourceHAR, Locator: "evil.har"},
		{Kind: SourcePolicyURL, Locator: "https://example.cn/privacy"},
		{Kind: SourceWxapkg, Locator: "x.wxapkg"},
	}}
	var events []Event
	var mu sync.Mutex
	res := Scan(context.Background(), target, []Inspector{good, panicky, slow}, &memSink{}, Options{
		SourceTimeout: 50 * time.Millisecond,
		Events:        func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	want := []Status{StatusSucceeded, StatusFailed, StatusPartial, StatusSkipped}
	for i, st := range want {
		if res.Reports[i].Status != st {
			t.Errorf("report %d (%s): status %q, want %q; errors %v", i, target.Sources[i].Locator, res.Reports[i].Status, st, res.Reports[i].Errors)
		}
	}
	if !strings.Contains(res.Reports[1].Errors[0], "evil.har") || !strings.Contains(res.Reports[1].Errors[0], "crashed") {
		t.Errorf("panic report should name the file: %q", res.Reports[1].Errors[0])
	}
	if res.Status() != StatusPartial || res.Complete() {
		t.Errorf("scan status %q complete %v, want partial and incomplete", res.Status(), res.Complete())
	}
	obs := res.Observations()
	inv := obs[len(obs)-1]
	if inv.Kind != "scan.inventory" || inv.Attributes["has_app"] != true || inv.Attributes["has_traffic"] != false || inv.Attributes["has_policy"] != true {
		t.Errorf("inventory wrong: %+v", inv)
	}
	mu.Lock()
	defer mu.Unlock()
	if events[0].Kind != EventScanStarted || events[len(events)-1].Kind != EventScanFinished || events[len(events)-1].Done != 4 {
		t.Errorf("events: first %+v last %+v", events[0], events[len(events)-1])
	}
}

func TestScanCompleteAndIDs(t *testing.T) {
	ok := fakeInspector{name: "ok", kind: SourceAPK, action: func(ctx context.Context, src Source) Report {
		return Report{Status: StatusSucceeded, Evidence: []evidence.Ref{{SHA256: "bb"}, {SHA256: "aa"}}}
	}}
	res := Scan(context.Background(), Target{ID: "t", Sources: []Source{{Kind: SourceAPK, Locator: "1"}, {Kind: SourceAPK, Locator: "2"}}},
		[]Inspector{ok}, &memSink{}, Options{})
	if !res.Complete() || res.Status() != StatusSucceeded {
		t.Fatalf("want complete success, got %q", res.Status())
	}
	if got := res.EvidenceRefs(); len(got) != 2 || got[0] != "aa" {
		t.Fatalf("evidence refs %v", got)
	}
	a, b := NewScanID(time.Unix(0, 0)), NewScanID(time.Unix(0, 0))
	if a == b || !strings.HasPrefix(a, "19700101T000000Z-") {
		t.Fatalf("scan ids %q %q", a, b)
	}
	empty := Scan(context.Background(), Target{ID: "t"}, nil, &memSink{}, Options{})
	if empty.Complete() || empty.Status() != StatusFailed {
		t.Fatalf("a scan with no sources is neither complete nor successful")
	}
}
