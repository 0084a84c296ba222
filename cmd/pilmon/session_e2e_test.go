package main

import (
	"archive/zip"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A hook log and a HAR of the same session, with a device-values file that does not hold the
// IMEI: the IMEI the hook log saw Umeng read is found (as its MD5) in a request to Umeng's host
// before consent, and the finding names the read — party, API, device time, hook-log row — beside
// the request, in the scan's output and in the signed case file. Without the session the same
// HAR yields no known-value match for the IMEI.
func TestSessionReadThenSendBeforeConsent(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	const imei = "867530912345678"
	sum := md5.Sum([]byte(imei))
	hook := filepath.Join(dir, "session.jsonl")
	// 2025-12-07T02:00:00Z = 1765072800000 ms
	if err := os.WriteFile(hook, []byte(`{"v":1,"type":"session","t":1765072800000,"package":"com.example.shop","device":"Google Pixel 6","script":"pilmon-hooks 1"}
{"v":1,"type":"call","t":1765072801200,"api":"telephony.getDeviceId","args":[],"ret":"`+imei+`","thread":"main","stack":["android.telephony.TelephonyManager.getDeviceId(Native Method)","com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:120)","com.example.shop.App.onCreate(App.java:30)"],"fg":null}
{"v":1,"type":"consent","t":1765072808000,"text":"同意","view":"android.widget.Button"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	har := filepath.Join(dir, "capture.har")
	if err := os.WriteFile(har, []byte(`{"log":{"version":"1.2","creator":{"name":"mitmproxy","version":"10"},"entries":[
{"startedDateTime":"2025-12-07T02:00:01.900Z","request":{"method":"GET","url":"https://alog.umeng.com/app_logs?di=`+hex.EncodeToString(sum[:])+`","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}},
{"startedDateTime":"2025-12-07T02:00:09.000Z","request":{"method":"GET","url":"https://api.shop.example/v1/home","headers":[]},"response":{"status":200,"headers":[],"content":{"size":0,"mimeType":"text/plain"}}}]}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	device := filepath.Join(dir, "device.yaml")
	if err := os.WriteFile(device, []byte("android_id: 9774d56d682e549c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "case.zip")
	base := []string{"scan", "--data-dir", filepath.Join(dir, "data"), "--target-id", "app:shop", "--json",
		"--device-values", device, "--consent-at", "2025-12-07T02:00:08Z"}
	code, out, errs := runCLI(t, append(base, "--opt", "session=s1", "--bundle", bundle, "--no-pdf", hook, har)...)
	if code != exitOK {
		t.Fatalf("scan: %d %s", code, errs)
	}
	var res struct {
		Findings []struct {
			RuleID  string `json:"rule_id"`
			Subject string `json:"subject"`
			Tier    string `json:"tier"`
			Grade   string `json:"grade"`
			Summary struct{ ZH, EN string }
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	var chain, read string
	for _, f := range res.Findings {
		switch {
		case f.RuleID == "rdff-3.1" && f.Subject == "pi:device_id_hw->alog.umeng.com" && f.Tier == "finding":
			chain = f.Summary.ZH + "\n" + f.Summary.EN
		case f.RuleID == "rdff-3.1" && f.Subject == "runtime:device_id_hw@sdk:umeng_analytics" && f.Tier == "finding" && f.Grade == "observed":
			read = f.Summary.ZH
		}
	}
	t.Logf("chain: %s\nread: %s", chain, read)
	if chain == "" {
		t.Fatalf("no observed rdff-3.1 finding for the IMEI sent to alog.umeng.com before consent:\n%s", out)
	}
	for _, want := range []string{"友盟", "2025-12-07T02:00:01.200Z", "telephony.getDeviceId", "挂钩日志第 2 行", "hook log rows 2"} {
		if !strings.Contains(chain, want) {
			t.Errorf("the chain finding lacks %q:\n%s", want, chain)
		}
	}
	if read == "" || !strings.Contains(read, "6.8 秒") {
		t.Errorf("no observed finding for Umeng's read 6.8 s before consent (got %q)", read)
	}
	// The case file carries the same finding.
	zr, err := zip.OpenReader(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	found, timeline := false, ""
	for _, m := range zr.File {
		rc, err := m.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		switch {
		case m.Name == "findings.json":
			found = strings.Contains(string(b), "挂钩日志第 2 行")
		case strings.HasPrefix(m.Name, "evidence/") && strings.HasPrefix(string(b), "会话时间线 / session timeline: s1"):
			timeline = string(b)
		}
	}
	if !found {
		t.Error("the case file's findings.json lacks the read→send chain")
	}
	// The session's timeline is evidence of the chain finding: the read, the send, the consent tap.
	for _, want := range []string{"telephony.getDeviceId", "alog.umeng.com", "sent (read 2025-12-07T02:00:01.200Z)", "同意"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the case file's session timeline lacks %q:\n%s", want, timeline)
		}
	}
	if code, out, errs := runCLI(t, "verify", bundle); code != exitOK {
		t.Errorf("verify: %d %s %s", code, out, errs)
	}
	// Without the session the IMEI's hash in the HAR is not matched to anything.
	code, out, errs = runCLI(t, append(base, hook, har)...)
	if code != exitOK {
		t.Fatalf("scan without session: %d %s", code, errs)
	}
	if strings.Contains(out, "挂钩日志第") || strings.Contains(out, `"subject": "pi:device_id_hw->alog.umeng.com"`) && strings.Contains(out, "与测试机真实值一致") && strings.Contains(out, "known_value:imei") {
		t.Errorf("without a session the HAR's IMEI hash was still linked to the hook log:\n%s", out)
	}
}
