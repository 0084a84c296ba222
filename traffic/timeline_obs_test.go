package traffic

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"pilmon/scanner"
)

func goldenText(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./traffic -run %s -update, then review the diff)\n%s", p, t.Name(), got)
	}
}

// The timeline rebuilt from a report's observations shows the consent action and every request
// that carried PI, in time order, with its phase, offset, host and evidence pointer; the rows are
// those of the analysis's own Timeline; a JSON round trip of the observations prints the same.
func TestWriteTimelineFromObservations(t *testing.T) {
	src := scanner.Source{Kind: scanner.SourceHAR, Locator: "testdata/consent.har", Options: map[string]string{"device_values": "testdata/device_values.example.yaml"}}
	rep, _ := inspect(t, src, Options{})
	outs := map[string]string{}
	for _, lang := range []string{"zh", "en", "zh/en"} {
		var b bytes.Buffer
		if err := WriteTimelineFromObservations(&b, rep.Observations, lang); err != nil {
			t.Fatal(err)
		}
		outs[lang] = b.String()
	}
	zh, en := outs["zh"], outs["en"]
	for _, want := range []string{"同意操作: 同意  2024-05-01T10:00:05Z  (text: 同意)  [marker: har_marker]", "同意前", "同意后", "alog.umeng.com (umeng_analytics)", "-1.5s", "[真实值]", "known_value:android_id@"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh timeline lacks %q:\n%s", want, zh)
		}
	}
	for _, want := range []string{"consent action: agree", "before consent", "after consent", "third-party trackers contacted", "www.google-analytics.com (google_analytics)", "outside mainland China"} {
		if !strings.Contains(en, want) {
			t.Errorf("en timeline lacks %q:\n%s", want, en)
		}
	}
	if strings.Contains(en, "同意前") || strings.Contains(zh, "before consent") {
		t.Errorf("languages mixed:\n%s\n%s", zh, en)
	}
	if !strings.Contains(outs["zh/en"], "同意前 / before consent") {
		t.Errorf("bilingual timeline:\n%s", outs["zh/en"])
	}
	// Every entry of the analysis's own timeline appears, in the same order.
	f, err := os.Open("testdata/consent.har")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dv, _ := LoadDeviceValues("testdata/device_values.example.yaml")
	res, _, _ := AnalyseHAR(f, testCatalogue(t), Options{Device: dv})
	if len(res.Timeline) == 0 {
		t.Fatal("analysis found no timeline rows")
	}
	last := -1
	for _, r := range res.Timeline {
		i := strings.Index(en, " #"+strconv.Itoa(r.Entry)+" ")
		if i < 0 {
			t.Errorf("entry %d (%s) missing from the timeline:\n%s", r.Entry, r.URL, en)
			continue
		}
		if i < last {
			t.Errorf("entry %d out of time order", r.Entry)
		}
		last = i
	}
	// JSON round trip: float64 numbers and []any lists give the same text.
	b, err := json.Marshal(rep.Observations)
	if err != nil {
		t.Fatal(err)
	}
	var back []scanner.Observation
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	var rt bytes.Buffer
	if err := WriteTimelineFromObservations(&rt, back, "en"); err != nil {
		t.Fatal(err)
	}
	if rt.String() != en {
		t.Errorf("JSON round trip changed the timeline:\n%s\nvs\n%s", rt.String(), en)
	}
	goldenText(t, "consent_timeline.zh.txt", zh)
	goldenText(t, "consent_timeline.en.txt", en)
}

func TestWriteTimelineFromObservationsEdgeCases(t *testing.T) {
	var b bytes.Buffer
	// nothing at all: a header and the missing-marker line
	if err := WriteTimelineFromObservations(&b, nil, "en"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(0)") || !strings.Contains(b.String(), "no consent marker") {
		t.Errorf("empty timeline:\n%s", b.String())
	}
	// attributes of the wrong type or missing: printed as unknown, never a panic
	b.Reset()
	obs := []scanner.Observation{
		{Kind: "traffic.pi_sent", Subject: "x -> h", Attributes: map[string]any{"pi": 42, "entry_index": "nope", "offset_ms": []int{1}, "phase": 7}},
		{Kind: "traffic.pi_sent", Subject: "y -> h", Attributes: nil},
		{Kind: "traffic.tracker_contacted", Subject: "t", Attributes: map[string]any{"requests": "many"}},
		{Kind: "apk.permission", Subject: "ignored"},
	}
	if err := WriteTimelineFromObservations(&b, obs, "zh"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "(2)") || !strings.Contains(b.String(), "未知阶段") || strings.Contains(b.String(), "ignored") {
		t.Errorf("malformed attributes:\n%s", b.String())
	}
}
