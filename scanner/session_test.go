package scanner

import (
	"context"
	"testing"
)

// A source that provides known values runs before the other sources of its session, and only
// those receive what it saw; a source of another session or of none receives nothing.
func TestSessionKnownValuesReachTheSessionOnly(t *testing.T) {
	const hook, har SourceKind = "hookfake", "harfake"
	producer := fakeInspector{name: "hooks", spec: &KindSpec{Kind: hook, URL: true, ProvidesKnown: true},
		action: func(ctx context.Context, in *Input) Output {
			return Output{
				Observations: []Observation{{Kind: "runtime.session", Subject: in.Source.Locator}},
				Known:        []KnownValue{{Field: "imei", Value: "86" + in.Source.Locator, API: "telephony.getDeviceId", Party: "sdk:umeng_analytics"}},
			}
		}}
	consumer := fakeInspector{name: "traffic", spec: &KindSpec{Kind: har, URL: true},
		action: func(ctx context.Context, in *Input) Output {
			var obs []Observation
			for _, k := range in.Known {
				subject := k.Value
				// the providers' observations come along, with the session's name
				if len(in.Session) != 1 || in.Session[0].Kind != "runtime.session" || in.Session[0].Subject != k.Value[2:] || in.SessionName == "" {
					subject = "session data missing"
				}
				obs = append(obs, Observation{Kind: "traffic.pi_sent", Subject: subject})
			}
			if len(obs) == 0 {
				obs = append(obs, Observation{Kind: "traffic.pi_sent", Subject: "none"})
			}
			return Output{Observations: obs, Known: []KnownValue{{Field: "imei", Value: "ignored"}}}
		}}
	tg := Target{ID: "t", Sources: []Source{
		{Kind: har, Locator: "a.har", Options: map[string]string{SessionOption: "s1"}},
		{Kind: hook, Locator: "111", Options: map[string]string{SessionOption: "s1"}},
		{Kind: har, Locator: "b.har", Options: map[string]string{SessionOption: "s2"}},
		{Kind: har, Locator: "c.har"},
		{Kind: hook, Locator: "222", Options: map[string]string{SessionOption: "s3"}},
		{Kind: har, Locator: "d.har", Options: map[string]string{SessionOption: "s3"}},
		{Kind: har, Locator: "e.har", Options: map[string]string{SessionOption: "s3"}},
	}}
	res := Scan(context.Background(), tg, []Inspector{producer, consumer}, &memSink{}, Options{Concurrency: 3})
	want := map[string]string{"a.har": "86111", "b.har": "none", "c.har": "none", "d.har": "86222", "e.har": "86222"}
	for _, rep := range res.Reports {
		w, ok := want[rep.Source.Locator]
		if !ok {
			if len(rep.known) != 1 {
				t.Errorf("%s: a providing source's known values are not kept for its session", rep.Source.Locator)
			}
			continue
		}
		if len(rep.Observations) != 1 || rep.Observations[0].Subject != w {
			t.Errorf("%s: saw %+v, want %s", rep.Source.Locator, rep.Observations, w)
		}
		if len(rep.known) != 0 {
			t.Errorf("%s: a kind without ProvidesKnown passed values on", rep.Source.Locator)
		}
	}
	if len(res.Reports) != len(tg.Sources) {
		t.Fatalf("%d reports for %d sources", len(res.Reports), len(tg.Sources))
	}
	for i, rep := range res.Reports {
		if rep.Source.Locator != tg.Sources[i].Locator {
			t.Errorf("report %d is for %s, want the source order kept (%s)", i, rep.Source.Locator, tg.Sources[i].Locator)
		}
	}
}
