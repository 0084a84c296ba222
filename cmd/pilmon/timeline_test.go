package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A phone capture: the app sends the IMEI to a tracker 2 s before the user agrees, and the phone
// number to its own server after.
const timelineHAR = `{"log":{"version":"1.2","creator":{"name":"mitmproxy","version":"10"},
"_pilmon_consent":[{"action":"agree","time":"2024-05-01T10:00:05.000Z","control":"text: 同意并继续"}],
"entries":[
{"startedDateTime":"2024-05-01T10:00:03.000Z","time":5,"request":{"method":"POST","url":"https://alog.umeng.com/app_logs","httpVersion":"HTTP/1.1","headers":[{"name":"Content-Type","value":"application/json"}],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":40,
 "postData":{"mimeType":"application/json","text":"{\"imei\":\"358240051111110\",\"os\":\"android\"}"}},
 "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":2,"mimeType":"application/json","text":"{}"},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{}},
{"startedDateTime":"2024-05-01T10:00:06.000Z","time":5,"request":{"method":"GET","url":"https://api.shop.example.cn/user?mobile=13812345678","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},
 "response":{"status":200,"statusText":"OK","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":2,"mimeType":"application/json","text":"{}"},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{}}
]}}`

const timelineDevice = "imei: \"358240051111110\"\nphone: \"13812345678\"\n"

func TestScanHARPrintsConsentTimeline(t *testing.T) {
	dir := t.TempDir()
	har := filepath.Join(dir, "capture.har")
	dev := filepath.Join(dir, "device.yaml")
	if err := os.WriteFile(har, []byte(timelineHAR), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dev, []byte(timelineDevice), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	code, out, errs := runCLI(t, "scan", "--data-dir", data, "--device", dev, har)
	if code != exitOK {
		t.Fatalf("scan: code %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	i := strings.Index(out, "同意时间线：发送个人信息的请求 / Consent timeline: requests that sent personal information (2)")
	if i < 0 {
		t.Fatalf("no timeline in the scan output:\n%s", out)
	}
	if j := strings.Index(out, "traffic.pi_sent ("); j < 0 || j > i {
		t.Errorf("timeline should follow the observation summary:\n%s", out)
	}
	if j := strings.Index(out, "证据 / evidence"); j < i {
		t.Errorf("timeline should come before the evidence list:\n%s", out)
	}
	tl := out[i:]
	for _, want := range []string{
		"同意操作 / consent action: 同意 / agree  2024-05-01T10:00:05Z  (text: 同意并继续)",
		"-2.0s  同意前 / before consent  alog.umeng.com (umeng_analytics)  device_id_hw",
		"known_value:imei@body",
		"#0 https://alog.umeng.com/app_logs",
		"+1.0s  同意后 / after consent  api.shop.example.cn  phone_number",
		"#1 https://api.shop.example.cn/user?mobile=13812345678",
	} {
		if !strings.Contains(tl, want) {
			t.Errorf("timeline lacks %q:\n%s", want, tl)
		}
	}
	// --json carries the observations the timeline is built from, with their evidence pointers.
	code, out, errs = runCLI(t, "scan", "--data-dir", data, "--device", dev, "--json", har)
	if code != exitOK {
		t.Fatalf("scan --json: code %d\n%s", code, errs)
	}
	var doc struct {
		Observations []struct {
			Kind       string         `json:"kind"`
			Attributes map[string]any `json:"attributes"`
		} `json:"observations"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	found := false
	for _, o := range doc.Observations {
		if o.Kind == "traffic.pi_sent" && o.Attributes["host"] == "alog.umeng.com" {
			found = o.Attributes["phase"] == "before_consent" && o.Attributes["entry_index"] == float64(0) && o.Attributes["offset_ms"] == float64(-2000)
		}
	}
	if !found {
		t.Errorf("--json lacks the pi_sent observation with its evidence pointer:\n%s", out)
	}
	if strings.Contains(out, "同意时间线") {
		t.Errorf("--json output should be JSON only")
	}
}
