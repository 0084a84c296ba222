package scanner

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/evidence"
)

// fakeInspector is a unit-test stand-in; integration tests use the real inspectors. Its kind is
// declared like a URL kind, so the core hands it the locator without opening it.
type fakeInspector struct {
	name   string
	kind   SourceKind
	spec   *KindSpec
	action func(ctx context.Context, in *Input) Output
}

func (f fakeInspector) Name() string    { return f.name }
func (f fakeInspector) Version() string { return "t1" }
func (f fakeInspector) Kinds() []KindSpec {
	if f.spec != nil {
		return []KindSpec{*f.spec}
	}
	return []KindSpec{{Kind: f.kind, URL: true, Inventory: map[SourceKind]string{SourceAPK: "has_app", SourceHAR: "has_traffic", SourcePolicyURL: "has_policy"}[f.kind]}}
}
func (f fakeInspector) Inspect(ctx context.Context, in *Input) Output { return f.action(ctx, in) }

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
	good := fakeInspector{name: "good", kind: SourceAPK, action: func(ctx context.Context, in *Input) Output {
		return Output{Observations: []Observation{{Kind: "apk.permission", Subject: "android.permission.READ_CONTACTS",
			Attributes: map[string]any{"pi": []string{"contacts"}}}}}
	}}
	panicky := fakeInspector{name: "panicky", kind: SourceHAR, action: func(ctx context.Context, in *Input) Output {
		var m map[string]int
		m["boom"] = 1 // nil map write: a panic inside an inspector
		return Output{}
	}}
	slow := fakeInspector{name: "slow", kind: SourcePolicyURL, action: func(ctx context.Context, in *Input) Output {
		<-ctx.Done()
		return Output{Observations: []Observation{{Kind: "policy.document", Subject: in.Source.Locator}}}
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
	if e := res.Reports[1].Errors; len(e) != 1 || e[0].Path != "evil.har" || !strings.Contains(e[0].Reason, "failed on this input") ||
		strings.Contains(e[0].Reason, "goroutine") {
		t.Errorf("a panic is one FileError naming the file, without the stack: %+v", e)
	}
	if e := res.Reports[2].Errors; len(e) != 1 || !strings.Contains(e[0].Reason, "deadline exceeded") {
		t.Errorf("a timeout with observations is a partial report saying why: %+v", e)
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
	ok := fakeInspector{name: "ok", kind: SourceAPK, action: func(ctx context.Context, in *Input) Output {
		return Output{Artifacts: []evidence.Ref{{SHA256: "bb"}, {SHA256: "aa"}}}
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

func TestStatusFrom(t *testing.T) {
	e := []FileError{{Path: "a", Reason: "b"}}
	for _, c := range []struct {
		errs []FileError
		obs  int
		want Status
	}{{nil, 0, StatusSucceeded}, {nil, 3, StatusSucceeded}, {e, 3, StatusPartial}, {e, 0, StatusFailed}} {
		if got := StatusFrom(c.errs, c.obs); got != c.want {
			t.Errorf("StatusFrom(%v, %d) = %s, want %s", c.errs, c.obs, got, c.want)
		}
	}
}

// The core opens, limits and stores a file once before the inspector sees it, refuses a folder
// where a file is expected and a file over the declared limit without calling the inspector.
func TestFrameOpensLimitsStores(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "in.bin")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	calls := 0
	var got string
	insp := fakeInspector{name: "f", spec: &KindSpec{Kind: SourceAPK, File: &FileSpec{MaxBytes: 10}}, action: func(ctx context.Context, in *Input) Output {
		calls++
		b, err := in.Bytes()
		got = string(b)
		if err != nil || in.Ref.Size != in.Size || in.Path != p {
			t.Errorf("input %+v: %v", in, err)
		}
		return Output{Observations: []Observation{{Kind: "k"}}}
	}}
	sink := &memSink{}
	rep := InspectSource(context.Background(), insp, Source{Kind: SourceAPK, Locator: p}, sink)
	if rep.Status != StatusSucceeded || got != "0123456789" || sink.puts != 1 || len(rep.Evidence) != 1 {
		t.Fatalf("good file: %+v (%d puts)", rep, sink.puts)
	}
	os.WriteFile(p, []byte("0123456789A"), 0o644)
	for _, loc := range []string{p, dir, filepath.Join(dir, "missing")} {
		rep = InspectSource(context.Background(), insp, Source{Kind: SourceAPK, Locator: loc}, sink)
		if rep.Status != StatusFailed || len(rep.Errors) != 1 || rep.Errors[0].Path != loc {
			t.Errorf("%s: %+v", loc, rep)
		}
	}
	if calls != 1 {
		t.Errorf("inspector called %d times, want once", calls)
	}
	keep := insp
	keep.spec = &KindSpec{Kind: SourceAPK, File: &FileSpec{MaxBytes: 4, KeepStart: true}}
	rep = InspectSource(context.Background(), keep, Source{Kind: SourceAPK, Locator: p}, sink)
	if rep.Status != StatusPartial || got != "0123" || !strings.Contains(JoinErrors(rep.Errors, ""), "only the start") {
		t.Errorf("kept start: %q %+v", got, rep)
	}
}

// Inventory flags come from what the inspectors declare, never from kinds the core knows.
func TestInventoryFromDeclarations(t *testing.T) {
	insp := fakeInspector{name: "f", spec: &KindSpec{Kind: SourceWxapkg, URL: true, Inventory: "has_app",
		Signals: []Signal{{Flag: "policy_link_found", Kind: "x.link", Attrs: map[string]any{"present": true}}}},
		action: func(ctx context.Context, in *Input) Output {
			present := in.Source.Locator == "with"
			return Output{Observations: []Observation{{Kind: "x.link", Attributes: map[string]any{"present": present}}}}
		}}
	for loc, want := range map[string]bool{"with": true, "without": false} {
		res := Scan(context.Background(), Target{ID: "t", Sources: []Source{{Kind: SourceWxapkg, Locator: loc}}}, []Inspector{insp}, &memSink{}, Options{})
		obs := res.Observations()
		inv := obs[len(obs)-1].Attributes
		if inv["has_app"] != true || inv["policy_link_found"] != want || inv["has_policy"] != false {
			t.Errorf("%s: %v", loc, inv)
		}
	}
}

// History records written before errors were structured still decode.
func TestFileErrorDecodesLegacyStrings(t *testing.T) {
	var errs []FileError
	if err := json.Unmarshal([]byte(`["x.apk: truncated zip", {"path": "y", "reason": "z"}]`), &errs); err != nil {
		t.Fatal(err)
	}
	if errs[0].Reason != "x.apk: truncated zip" || errs[1] != (FileError{Path: "y", Reason: "z"}) {
		t.Errorf("%+v", errs)
	}
}
