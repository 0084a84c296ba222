package traffic

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"pilmon/browser"
	"pilmon/scanner"
)

// consentPage sends the device's IMEI and Android ID to a third-party "tracker" on load, before
// any interaction, then more after the 同意 click; the 不同意 click still sends an advertising id.
const consentPage = `<!doctype html><html><head><meta charset="utf-8"><title>H5 测试</title></head><body>
<div id="dlg"><p>隐私政策提示</p><button id="yes" onclick="agree()">同意</button> <button id="no" onclick="refuse()">不同意</button></div>
<script>
var T = 'http://tracker.example:%[1]s';
fetch(T + '/collect', {method: 'POST', mode: 'no-cors', body: JSON.stringify({imei: '358240051111110', android_id: '9774d56d682e549c', ts: Date.now()})});
function agree() {
  fetch(T + '/after?oaid=5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b', {mode: 'no-cors'});
  fetch('/api/profile?phone=13812345678');
}
function refuse() {
  fetch(T + '/refused', {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'gaid=38400000-8cf0-11bd-b23e-10b96e40000d'});
}
</script></body></html>`

func chromiumOrSkip(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PILMON_CHROMIUM")
	if bin == "" {
		bin = browser.DefaultBin
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("chromium not installed at %s (Debian package chromium); set PILMON_CHROMIUM", bin)
	}
	return bin
}

func consentServer(t *testing.T) (string, *[]string) {
	t.Helper()
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		seen = append(seen, r.Host+r.URL.String()+" "+string(body))
		switch {
		case r.URL.Path == "/" && strings.HasPrefix(r.Host, "site.example"):
			_, port, _ := net.SplitHostPort(r.Host)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, consentPage, port)
		case r.URL.Path == "/favicon.ico":
			http.NotFound(w, r)
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	return port, &seen
}

// TestLiveCaptureConsent drives real Chromium against loopback pages with made-up domains.
func TestLiveCaptureConsent(t *testing.T) {
	bin := chromiumOrSkip(t)
	if testing.Short() {
		t.Skip("-short: starts Chromium")
	}
	port, _ := consentServer(t)
	for _, action := range []string{"agree", "refuse"} {
		t.Run(action, func(t *testing.T) {
			opts := Options{Capture: CaptureOptions{Bin: bin, Allow: []string{"127.0.0.0/8"}, HostResolverRules: "MAP * 127.0.0.1",
				IdleQuiet: 400 * time.Millisecond, IdleTimeout: 10 * time.Second, TotalTimeout: 60 * time.Second}}
			src := scanner.Source{Kind: scanner.SourceH5URL, Locator: "http://site.example:" + port + "/",
				Options: map[string]string{"action": action, "device_values": "testdata/device_values.example.yaml"}}
			st := openStore(t)
			rep := scanner.InspectSource(context.Background(), New(testCatalogue(t), opts), src, st)
			if rep.Status == scanner.StatusFailed {
				t.Fatalf("capture failed: %v", rep.Errors)
			}
			if len(rep.Evidence) < 2 {
				t.Fatalf("evidence: %v", rep.Evidence)
			}
			rec, err := st.Stat(rep.Evidence[0].SHA256)
			if err != nil || rec.First().Method != "browser_capture" {
				t.Fatalf("first evidence is not the HAR: %+v %v", rec, err)
			}
			shot, _ := st.Stat(rep.Evidence[1].SHA256)
			if shot.First().Method != "browser_screenshot" {
				t.Errorf("second evidence is not a screenshot: %+v", shot.First())
			}
			// the stored HAR is the format pilmon imports, with the consent marker
			rc, _, err := st.Get(rep.Evidence[0].SHA256)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(rc)
			rc.Close()
			info, err := ReadHAR(bytes.NewReader(raw), Limits{}, func(*Entry) error { return nil })
			if err != nil || info.Read < 3 || len(info.Consent) != 1 || info.Consent[0].Action != action {
				t.Fatalf("stored HAR: err=%v read=%d consent=%+v", err, info.Read, info.Consent)
			}
			before := find(rep, "traffic.pi_sent", map[string]any{"host": "tracker.example", "pi": []string{"device_id_hw"}, "phase": PhaseBefore, "known_value": true, "cleartext": true, "location": "body",
				// tracker.example is on no SDK or tracker list: not the page's domain, but not known to be a third party either
				"third_party": false, "recipient_party": PartyUnknown, "phase_source": PhaseSourceMarker, "match": "known_value"})
			if len(before) != 1 {
				t.Errorf("IMEI to tracker.example before consent not found:\n%s", dump(rep))
			} else if off, _ := before[0].Attributes["offset_ms"].(int); off >= 0 {
				t.Errorf("offset_ms %v should be negative", before[0].Attributes["offset_ms"])
			}
			if len(find(rep, "traffic.pi_sent", map[string]any{"host": "tracker.example", "pi": []string{"device_id_resettable"}, "phase": PhaseBefore})) != 1 {
				t.Errorf("Android ID before consent not found")
			}
			if len(find(rep, "traffic.consent_event", map[string]any{"action": action})) != 1 {
				t.Errorf("consent event missing: %v", rep.Errors)
			}
			switch action {
			case "agree":
				if len(find(rep, "traffic.pi_sent", map[string]any{"host": "tracker.example", "pi": []string{"device_id_resettable"}, "phase": PhaseAfterConsent, "detector": "known_value:oaid"})) != 1 {
					t.Errorf("OAID after consent not found:\n%s", dump(rep))
				}
				if len(find(rep, "traffic.pi_sent", map[string]any{"host": "site.example", "pi": []string{"phone_number"}, "phase": PhaseAfterConsent, "third_party": false, "recipient_party": PartyOperator})) != 1 {
					t.Errorf("first-party phone after consent not found:\n%s", dump(rep))
				}
			case "refuse":
				if len(find(rep, "traffic.pi_sent", map[string]any{"host": "tracker.example", "pi": []string{"device_id_resettable"}, "phase": PhaseAfterRefusal, "detector": "known_value:gaid"})) != 1 {
					t.Errorf("GAID after refusal not found:\n%s", dump(rep))
				}
				if len(find(rep, "traffic.pi_sent", map[string]any{"phase": PhaseAfterConsent})) != 0 {
					t.Errorf("after_consent in a refusal capture")
				}
			}
		})
	}
}

// TestLiveCaptureGuard: without the loopback allowance the guard refuses the page.
func TestLiveCaptureGuard(t *testing.T) {
	bin := chromiumOrSkip(t)
	port, seen := consentServer(t)
	_, err := Capture(context.Background(), "http://127.0.0.1:"+port+"/", CaptureOptions{Bin: bin})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("loopback capture not refused: %v", err)
	}
	if len(*seen) != 0 {
		t.Errorf("server was contacted: %v", *seen)
	}
}

func dump(rep scanner.Report) string {
	var b strings.Builder
	for _, o := range rep.Observations {
		fmt.Fprintf(&b, "%s %s %v\n", o.Kind, o.Subject, o.Attributes)
	}
	fmt.Fprintf(&b, "errors: %v\n", rep.Errors)
	return b.String()
}
