package traffic

import (
	"crypto/md5"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

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
