package hooklog

import (
	"strings"
	"testing"
)

// want is what every format must show of the scenario's calls, in file order (time order).
type want struct {
	api, party, phase string
}

func checkCalls(t *testing.T, l *Log, ws []want) {
	t.Helper()
	if len(l.Events) != len(ws) {
		t.Fatalf("%d calls, want %d: %+v", len(l.Events), len(ws), l.Events)
	}
	for i, w := range ws {
		e := l.Events[i]
		if e.API != w.api || e.Party != w.party || e.Phase != w.phase {
			t.Errorf("call %d (row %d): api %q party %q phase %q; want %q %q %q (frame %q, tool_api %q)",
				i+1, e.Row, e.API, e.Party, e.Phase, w.api, w.party, w.phase, e.PartyFrame, e.ToolAPI)
		}
	}
}

const umeng = "sdk:umeng_analytics"

func TestPilmonJSONL(t *testing.T) {
	l, err := readFile(t, writeFile(t, "s.jsonl", pilmonJSONL(true)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Format != FormatPilmon || l.Package != appPkg || l.Device != "Pixel 6" {
		t.Errorf("session: %+v", l)
	}
	checkCalls(t, l, []want{
		{"telephony.getDeviceId", umeng, PhaseBeforeConsent},
		{"settings.androidId", "app", PhaseBeforeConsent},
		{"telephony.getDeviceId", umeng, PhaseAfterConsent},
		{"settings.androidId", "app", PhaseAfterConsent},
		{"telephony.getDeviceId", "app", PhaseAfterConsent},
	})
	for i, e := range l.Events {
		if e.PhaseSource != PhaseSourceDevice || e.TimeSource != TimeDevice || e.APISource != "stack" {
			t.Errorf("call %d: phase source %q time source %q api source %q", i+1, e.PhaseSource, e.TimeSource, e.APISource)
		}
		wantFG := ForegroundYes
		if i == 4 {
			wantFG = ForegroundNo
		}
		if e.Foreground != wantFG {
			t.Errorf("call %d: foreground %q, want %q", i+1, e.Foreground, wantFG)
		}
	}
	if e := l.Events[0]; e.DeviceTime != "2024-05-01T10:00:01.000Z" || e.ReturnValue != "861234567890123" || !e.HasReturn || e.Thread != "main" {
		t.Errorf("first call: %+v", e)
	}
	if len(l.Marks) != 1 || l.Marks[0].Kind != "consent" || l.Marks[0].Text != "同意并继续" || l.Marks[0].Seq != 2 {
		t.Errorf("marks: %+v", l.Marks)
	}
	// The app package is what decides app code: without it (no session line, no option) the app's
	// frames are unidentified, never the app's.
	noSession := strings.SplitN(string(pilmonJSONL(true)), "\n", 2)[1]
	path := writeFile(t, "n.jsonl", []byte(noSession))
	l2, err := readFile(t, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, l2, []want{
		{"telephony.getDeviceId", umeng, PhaseBeforeConsent},
		{"settings.androidId", "unidentified", PhaseBeforeConsent},
		{"telephony.getDeviceId", umeng, PhaseAfterConsent},
		{"settings.androidId", "unidentified", PhaseAfterConsent},
		{"telephony.getDeviceId", "unidentified", PhaseAfterConsent},
	})
	l3, err := readFile(t, path, Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	if l3.Events[1].Party != "app" {
		t.Errorf("with the app package as an option: party %q, want app", l3.Events[1].Party)
	}
}

// TestPilmonPhases: without a consent or refusal event the phase is unknown; a refusal makes the
// calls after it after_refusal and those before it before_consent.
func TestPilmonPhases(t *testing.T) {
	l, err := readFile(t, writeFile(t, "nc.jsonl", pilmonJSONL(false)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range l.Events {
		if e.Phase != PhaseUnknown || e.PhaseSource != PhaseSourceNone {
			t.Errorf("no consent event: call %d phase %q (%s)", i+1, e.Phase, e.PhaseSource)
		}
	}
	refusal := strings.Replace(string(pilmonJSONL(true)), `"type":"consent"`, `"type":"refusal"`, 1)
	l, err = readFile(t, writeFile(t, "r.jsonl", []byte(refusal)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, e := range l.Events {
		got = append(got, e.Phase)
	}
	if strings.Join(got, ",") != "before_consent,before_consent,after_refusal,after_refusal,after_refusal" {
		t.Errorf("phases around a refusal: %v", got)
	}
	if len(l.Marks) != 1 || l.Marks[0].Kind != "refusal" {
		t.Errorf("marks: %+v", l.Marks)
	}
}

// TestPilmonForeground: the call's own fg wins over the last lifecycle event.
func TestPilmonForeground(t *testing.T) {
	log := `{"v":1,"type":"lifecycle","t":1,"state":"background"}
{"v":1,"type":"call","t":2,"api":"telephony.getDeviceId","stack":[]}
{"v":1,"type":"call","t":3,"api":"telephony.getDeviceId","fg":true}
{"v":1,"type":"lifecycle","t":4,"state":"foreground"}
{"v":1,"type":"call","t":5,"api":"telephony.getDeviceId","fg":false}
{"v":1,"type":"call","t":6,"api":"telephony.getDeviceId"}
`
	l, err := readFile(t, writeFile(t, "fg.jsonl", []byte(log)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range l.Events {
		got = append(got, e.Foreground)
		if e.API != "telephony.getDeviceId" || e.APISource != "label" || e.PartyBasis != PartyBasisNoStack {
			t.Errorf("call %d: api %q (%s), party basis %q", e.Seq, e.API, e.APISource, e.PartyBasis)
		}
	}
	if strings.Join(got, ",") != "background,foreground,background,foreground" {
		t.Errorf("foreground: %v", got)
	}
}

// TestPilmonBadLines: bad lines are errors naming their line; the rest is kept.
func TestPilmonBadLines(t *testing.T) {
	log := `{"v":1,"type":"session","t":1,"package":"com.shop.app"}
{"v":2,"type":"call","t":2,"api":"telephony.getDeviceId"}
not json
{"v":1,"type":"teleport","t":3}
{"v":1,"type":"call","t":4,"api":"telephony.getImei"}
`
	l, err := readFile(t, writeFile(t, "bad.jsonl", []byte(log)), Options{})
	var re *ReadError
	if !errorsAs(err, &re) || len(re.Reasons) != 3 {
		t.Fatalf("error %v, want 3 reasons", err)
	}
	for i, line := range []string{"line 2:", "line 3:", "line 4:"} {
		if !strings.HasPrefix(re.Reasons[i], line) {
			t.Errorf("reason %q does not start with %q", re.Reasons[i], line)
		}
	}
	if l == nil || len(l.Events) != 1 || l.Events[0].API != "telephony.getImei" || l.Invalid != 3 {
		t.Errorf("kept: %+v", l)
	}
}
