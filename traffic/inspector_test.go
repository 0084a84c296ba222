package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pilmon/internal/corpus"

	"pilmon/evidence"
	"pilmon/scanner"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

func openStore(t *testing.T) *evidence.Store {
	t.Helper()
	s, err := evidence.Open(t.TempDir(), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func inspect(t *testing.T, src scanner.Source, opts Options) (scanner.Report, *evidence.Store) {
	t.Helper()
	st := openStore(t)
	rep := scanner.InspectSource(context.Background(), New(testCatalogue(t), opts), src, st)
	return rep, st
}

// find returns the observations of a kind whose attributes include all of want.
func find(rep scanner.Report, kind string, want map[string]any) []scanner.Observation {
	var out []scanner.Observation
	for _, o := range rep.Observations {
		if o.Kind != kind {
			continue
		}
		ok := true
		for k, v := range want {
			if fmt.Sprint(o.Attributes[k]) != fmt.Sprint(v) {
				ok = false
			}
		}
		if ok {
			out = append(out, o)
		}
	}
	return out
}

func TestInspectHARConsent(t *testing.T) {
	src := scanner.Source{Kind: scanner.SourceHAR, Locator: "testdata/consent.har", Options: map[string]string{"device_values": "testdata/device_values.example.yaml"}}
	rep, st := inspect(t, src, Options{})
	if rep.Status != scanner.StatusPartial {
		t.Errorf("status %s, want partial (one malformed entry); errors %v", rep.Status, rep.Errors)
	}
	if len(rep.Evidence) == 0 {
		t.Fatal("HAR not stored")
	}
	rec, err := st.Stat(rep.Evidence[0].SHA256)
	if err != nil || rec.First().Method != "har_import" {
		t.Fatalf("first evidence is not the HAR import: %+v %v", rec, err)
	}
	if !strings.Contains(scanner.JoinErrors(rep.Errors, "\n"), "entry 5") {
		t.Errorf("malformed entry 5 not reported: %v", rep.Errors)
	}
	for _, c := range []struct {
		want map[string]any
	}{
		{map[string]any{"host": "alog.umeng.com", "pi": []string{"device_id_hw"}, "phase": PhaseBefore, "sdk": "umeng_analytics", "third_party": true, "known_value": true, "offset_ms": -1500, "location": "body"}},
		{map[string]any{"host": "alog.umeng.com", "pi": []string{"location_precise"}, "phase": PhaseBefore, "known_value": true}},
		{map[string]any{"host": "alog.umeng.com", "pi": []string{"mac_address"}, "phase": PhaseBefore}},
		{map[string]any{"host": "alog.umeng.com", "pi": []string{"device_id_resettable"}, "phase": PhaseAfterConsent, "known_value": true, "encoding": "md5", "detector": "known_value:android_id"}},
		{map[string]any{"host": "www.google-analytics.com", "pi": []string{"accounts"}, "phase": PhaseBefore, "cleartext": true, "cross_border": true, "sdk": "google_analytics"}},
		{map[string]any{"host": "h5.example.cn", "pi": []string{"phone_number"}, "phase": PhaseAfterConsent, "third_party": false, "sdk": ""}},
	} {
		if got := find(rep, "traffic.pi_sent", c.want); len(got) != 1 {
			t.Errorf("pi_sent %v: %d matches", c.want, len(got))
		}
	}
	if got := find(rep, "traffic.tracker_contacted", map[string]any{"host": "alog.umeng.com", "phase": PhaseBefore, "requests": 1}); len(got) != 1 {
		t.Errorf("tracker_contacted umeng before consent missing")
	}
	if got := find(rep, "traffic.tracker_contacted", map[string]any{"host": "h5.example.cn"}); len(got) != 0 {
		t.Errorf("first party reported as tracker")
	}
	if got := find(rep, "traffic.consent_event", map[string]any{"action": "agree", "control": "text: 同意"}); len(got) != 1 {
		t.Errorf("consent event missing")
	}
	for _, o := range rep.Observations {
		if o.Inspector != Name || o.InspectorVersion != Version || len(o.EvidenceRefs) != 1 || o.EvidenceRefs[0] != rep.Evidence[0].SHA256 {
			t.Errorf("observation without inspector/evidence: %+v", o)
		}
	}
	golden(t, "consent.json", rep.Observations)
}

// golden compares v as indented JSON with testdata/golden/name (-update rewrites it).
func golden(t *testing.T, name string, v any) {
	t.Helper()
	var got []byte
	if s, ok := v.(string); ok {
		got = []byte(s)
	} else {
		j, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(j, '\n')
	}
	p := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./traffic -run %s -update, then review the diff)\n%s", p, t.Name(), got)
	}
}

func TestInspectHARConsentSources(t *testing.T) {
	// the analyst's time overrides the HAR's marker; refusal gives after_refusal
	src := scanner.Source{Kind: scanner.SourceHAR, Locator: "testdata/consent.har", Options: map[string]string{
		"consent_at": "2024-05-01T10:00:03.800Z", "consent_action": "refuse"}}
	rep, _ := inspect(t, src, Options{})
	if got := find(rep, "traffic.pi_sent", map[string]any{"host": "www.google-analytics.com", "phase": PhaseAfterRefusal, "offset_ms": 200}); len(got) != 1 {
		t.Errorf("after_refusal from consent_at missing: %v", rep.Observations)
	}
	// a URL pattern marks consent at the matching entry
	src.Options = map[string]string{"consent_url": `/api/user`}
	rep, _ = inspect(t, src, Options{})
	_ = rep
	a := NewAnalyzer(testCatalogue(t), Options{ConsentURL: mustRegexp(`google-analytics`)})
	info, err := readFile(t, "testdata/consent.har", a)
	if err != nil {
		t.Fatal(err)
	}
	info.Consent = nil // ignore the HAR's own marker
	res := a.Finish(info)
	if res.Consent == nil || res.Consent.Source != "entry_pattern" {
		t.Fatalf("entry pattern consent not used: %+v", res.Consent)
	}
	// page-title marker
	a = NewAnalyzer(nil, Options{})
	info = &Info{Pages: []Page{{Title: "pilmon:refuse", StartedDateTime: "2024-05-01T10:00:00Z"}}}
	if c := a.consent(info); c == nil || c.Action != "refuse" || c.Source != "page_title" {
		t.Errorf("page title marker: %+v", c)
	}
	// no marker: phase unknown, no offset
	a = NewAnalyzer(nil, Options{})
	a.Add(&Entry{StartedDateTime: "2024-05-01T10:00:00Z", Request: Request{URL: "https://x.example/?imei=358240051111110"}})
	res = a.Finish(&Info{})
	if len(res.Observations) != 2 || res.Observations[1].Attributes["phase"] != PhaseUnknown || res.Observations[1].Attributes["offset_ms"] != nil ||
		res.Observations[1].Attributes["phase_source"] != PhaseSourceNone {
		t.Errorf("unknown phase: %+v", res.Observations)
	}
	// … and the scan says no consent moment was seen
	if o := res.Observations[0]; o.Kind != "traffic.consent_event" || o.Attributes["action"] != ConsentNone || o.Attributes["phase_source"] != PhaseSourceNone {
		t.Errorf("no consent_event none: %+v", o)
	}
	// bad options are reported, the rest still runs
	src.Options = map[string]string{"consent_at": "yesterday", "device_values": "testdata/missing.yaml"}
	rep, _ = inspect(t, src, Options{})
	if rep.Status != scanner.StatusPartial || len(rep.Errors) < 3 || len(rep.Observations) == 0 {
		t.Errorf("bad options: %s %v", rep.Status, rep.Errors)
	}
}

func TestInspectFailures(t *testing.T) {
	rep, _ := inspect(t, scanner.Source{Kind: scanner.SourceHAR, Locator: "testdata/does-not-exist.har"}, Options{})
	if rep.Status != scanner.StatusFailed || len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0].Error(), "does-not-exist.har") {
		t.Errorf("missing file: %s %v", rep.Status, rep.Errors)
	}
	p := filepath.Join(t.TempDir(), "not.har")
	writeFile(t, p, "<html>not json</html>")
	rep, _ = inspect(t, scanner.Source{Kind: scanner.SourceHAR, Locator: p}, Options{})
	if rep.Status != scanner.StatusFailed || len(rep.Evidence) != 1 {
		t.Errorf("not a HAR: %s %v (evidence %d)", rep.Status, rep.Errors, len(rep.Evidence))
	}
}

// TestCorpusHARs imports every shared corpus HAR (skipped when the corpus is absent).
func TestCorpusHARs(t *testing.T) {
	files := corpusHARs(t)
	if len(files) == 0 {
		t.Skip("shared corpus not found (../shared/corpus/har beside the module root, or $PILMON_SHARED)")
	}
	var xray *XRayList
	if l, err := LoadXRay(filepath.Join(corpus.SharedDir(), "corpus", "trackers", "xray_company_domains.json")); err == nil {
		xray = l
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			rep, _ := inspect(t, scanner.Source{Kind: scanner.SourceHAR, Locator: f}, Options{XRay: xray})
			if rep.Status == scanner.StatusFailed {
				t.Fatalf("failed: %v", rep.Errors)
			}
			hosts := map[string]bool{}
			pi := 0
			for _, o := range rep.Observations {
				switch o.Kind {
				case "traffic.tracker_contacted":
					hosts[o.Subject] = true
				case "traffic.pi_sent":
					pi++
				}
			}
			t.Logf("%s: status %s, %d tracker hosts, %d pi_sent, %d errors", name, rep.Status, len(hosts), pi, len(rep.Errors))
			if strings.Contains(name, "nytimes") || strings.Contains(name, "expressen") {
				if len(hosts) < 10 {
					t.Errorf("only %d tracker hosts: %v", len(hosts), keys(hosts))
				}
			}
			if strings.Contains(name, "wikipedia") && len(hosts) > 0 {
				t.Errorf("wikipedia is first-party only, got trackers %v", keys(hosts))
			}
		})
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestObservationsDeclared: every kind and attribute emitted is declared in observation_kinds.yaml.
func TestObservationsDeclared(t *testing.T) {
	cat := testCatalogue(t)
	src := scanner.Source{Kind: scanner.SourceHAR, Locator: "testdata/consent.har", Options: map[string]string{"device_values": "testdata/device_values.example.yaml"}}
	rep, _ := inspect(t, src, Options{})
	if len(rep.Observations) == 0 {
		t.Fatal("no observations")
	}
	for _, o := range rep.Observations {
		k, ok := cat.ObservationKind(o.Kind)
		if !ok {
			t.Errorf("kind %s not declared", o.Kind)
			continue
		}
		declared := map[string]bool{}
		for _, a := range k.Attributes {
			declared[a.Name] = true
		}
		for name := range o.Attributes {
			if !declared[name] {
				t.Errorf("%s: attribute %s not declared", o.Kind, name)
			}
		}
	}
}

func TestWriteTimeline(t *testing.T) {
	f, err := os.Open("testdata/consent.har")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, _, err := AnalyseHAR(f, testCatalogue(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"zh", "en"} {
		var b strings.Builder
		if err := res.WriteTimeline(&b, lang); err != nil {
			t.Fatal(err)
		}
		golden(t, "timeline_"+lang+".txt", b.String())
	}
}

// TestBlockedEntriesNotSent: a request the capture's guard refused never left the machine.
func TestBlockedEntriesNotSent(t *testing.T) {
	har := `{"log":{"entries":[{"_pilmon_blocked":true,"request":{"url":"http://10.0.0.1/?imei=358240051111110"}},{"request":{"url":"http://t.example/?imei=358240051111110"}}]}}`
	res, info, err := AnalyseHAR(strings.NewReader(har), nil, Options{})
	if err != nil || info.Read != 2 {
		t.Fatal(err, info)
	}
	var sent []string
	for _, o := range res.Observations {
		if o.Kind == "traffic.pi_sent" {
			sent = append(sent, o.Attributes["host"].(string))
		}
	}
	if len(sent) != 1 || sent[0] != "t.example" {
		t.Errorf("blocked entry analysed: %v", res.Observations)
	}
}
