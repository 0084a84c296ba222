package traffic

import (
	"fmt"
	"strings"
	"testing"
)

// leafCase is one value under one key; want is the detector that must fire (or must not, when neg).
type leafCase struct {
	det, key, val string
	neg           bool
}

var leafCases = []leafCase{
	// IMEI: 15 digits, Luhn
	{det: "imei", key: "imei", val: "358240051111110"},
	{det: "imei", key: "data", val: "dev=490154203237518;x=1"},
	{det: "imei", key: "imei", val: "358240051111111", neg: true},  // check digit wrong
	{det: "imei", key: "order", val: "358240051111110", neg: true}, // order numbers are not devices
	{det: "imei", key: "x", val: "1700000000000000", neg: true},    // 16 digits
	{det: "imei", key: "x", val: "123456789012347", neg: true},     // Luhn ok, no plausible prefix, no key
	{det: "imei", key: "imei", val: "867099041036009"},
	{det: "imei", key: "imei", val: "867099041036008", neg: true},  // 15 digits, not Luhn
	{det: "imei", key: "imei", val: "123456789012347", neg: true},  // Luhn ok but a counting sequence
	{det: "imei", key: "imei", val: "111111111111119", neg: true},  // Luhn ok but one digit repeated
	{det: "imei", key: "imei", val: "35824005111111", neg: true},   // 14 digits
	{det: "imei", key: "imei", val: "3582400511111100", neg: true}, // inside a longer digit run
	// MEID
	{det: "meid", key: "meid", val: "A0000012345678"},
	{det: "meid", key: "session", val: "A0000012345678", neg: true},
	{det: "meid", key: "meid", val: "00000000000000", neg: true},
	{det: "meid", key: "meid", val: "A0AAAAAAAAAAAA", neg: true}, // one digit repeated
	{det: "meid", key: "meid", val: "A00000123456", neg: true},   // 12 hex
	// IMSI
	{det: "imsi", key: "imsi", val: "460018830251746"},
	{det: "imsi", key: "imsi", val: "460011234567890"},
	{det: "imsi", key: "imsi", val: "460000000000000", neg: true}, // MSIN one digit repeated
	{det: "imsi", key: "q", val: "460991234567890", neg: true},    // MNC 99 not Chinese
	{det: "imsi", key: "q", val: "310150123456789", neg: true},    // US MCC
	// ICCID
	{det: "iccid", key: "x", val: "89860012345678901238"},
	{det: "iccid", key: "iccid", val: "898600D6101760011234"},
	{det: "iccid", key: "x", val: "89860012345678901234", neg: true}, // Luhn fails, no key
	{det: "iccid", key: "x", val: "89010012345678901234", neg: true},
	// MAC
	{det: "mac", key: "mac", val: "3c:5a:b4:01:02:03"},
	{det: "mac", key: "wifimac", val: "3C5AB4010203", neg: true}, // under a Wi-Fi key: wifi detector
	{det: "mac", key: "m", val: "3C-5A-B4-01-02-03"},
	{det: "mac", key: "mac", val: "02:00:00:00:00:00", neg: true},
	{det: "mac", key: "mac", val: "00:00:00:00:00:00", neg: true},
	{det: "mac", key: "ip6", val: "fe80::1:2:3:4", neg: true},
	{det: "mac", key: "mac", val: "ff:ff:ff:ff:ff:ff", neg: true}, // broadcast
	{det: "mac", key: "mac", val: "01:00:5e:00:00:fb", neg: true}, // multicast (mDNS)
	{det: "mac", key: "macAddress", val: "3C5AB4010203"},
	{det: "mac", key: "hmac", val: "3c5ab4010203", neg: true}, // a signature, not an address
	{det: "mac", key: "sign", val: "3c5ab4010203", neg: true}, // bare hex needs a MAC key
	// Wi-Fi
	{det: "wifi", key: "bssid", val: "3c:5a:b4:01:02:03"},
	{det: "wifi", key: "wifi_bssid", val: "3C5AB4010203"},
	{det: "wifi", key: "bssid", val: "02:00:00:00:00:00", neg: true}, // Android's placeholder
	{det: "wifi", key: "wifi_ssid", val: "ChinaNet-5G", neg: true},   // an SSID cannot be validated
	{det: "wifi", key: "ssid", val: "<unknown ssid>", neg: true},
	{det: "wifi", key: "SSID", val: "AvVc2a3Cd1FqYxM-K", neg: true}, // Google's session cookie
	{det: "wifi", key: "H_PS_PSSID", val: "13419_13190_12608_1462", neg: true},
	{det: "wifi", key: "name", val: "ChinaNet-5G", neg: true},
	// Android ID
	{det: "android_id", key: "android_id", val: "9774d56d682e549c"},
	{det: "android_id", key: "aid", val: "9774d56d682e549c"},
	{det: "android_id", key: "token", val: "9774d56d682e549c", neg: true},
	{det: "android_id", key: "androidId", val: "9774d56d682e549c00", neg: true},
	{det: "android_id", key: "android_id", val: "0000000000000000", neg: true},
	{det: "android_id", key: "aid", val: "1712345678901234", neg: true}, // decimal: a µs timestamp or counter
	// OAID
	{det: "oaid", key: "oaid", val: "5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b"},
	{det: "oaid", key: "OAID", val: strings.Repeat("ab12", 16)},
	{det: "oaid", key: "oaid", val: "00000000-0000-0000-0000-000000000000", neg: true},
	{det: "oaid", key: "trace", val: "5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b", neg: true},
	{det: "oaid", key: "oaid", val: "5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5", neg: true}, // malformed UUID
	{det: "oaid", key: "oaid", val: "9a1b3c5d7e9f0a2b"},
	// GAID / IDFA
	{det: "gaid", key: "gaid", val: "38400000-8cf0-11bd-b23e-10b96e40000d"},
	{det: "gaid", key: "idfa", val: "6D92078A-8246-4BA4-AE5B-76104861E7DC"},
	{det: "gaid", key: "request_id", val: "38400000-8cf0-11bd-b23e-10b96e40000d", neg: true},
	{det: "gaid", key: "idfa", val: "00000000-0000-0000-0000-000000000000", neg: true},
	// phone
	{det: "phone", key: "mobile", val: "13812345678"},
	{det: "phone", key: "x", val: "+86 13812345678"},
	{det: "phone", key: "tel", val: "电话:8613812345678"},
	{det: "phone", key: "ts", val: "13812345678", neg: true},       // a time key
	{det: "phone", key: "t", val: "1700000000123", neg: true},      // a millisecond timestamp
	{det: "phone", key: "x", val: "12812345678", neg: true},        // 12 is no mobile prefix
	{det: "phone", key: "x", val: "id 13812345678 x", neg: true},   // not standalone, no phone key
	{det: "phone", key: "phone", val: "138123456789", neg: true},   // 12 digits
	{det: "phone", key: "mobile", val: "1712345678901", neg: true}, // a millisecond timestamp under a phone key
	{det: "phone", key: "x", val: "1712345678901", neg: true},      // the same standalone
	{det: "phone", key: "x", val: "17123456789012", neg: true},     // inside a longer digit run
	{det: "phone", key: "phone", val: "13800000000", neg: true},    // subscriber digits one repeated
	{det: "phone", key: "phone", val: "14012345678", neg: true},    // 140 is a 13-digit IoT prefix
	{det: "phone", key: "phone", val: "0086-13812345678"},
	{det: "phone", key: "x", val: "008613812345678"},
	// resident ID (GB 11643)
	{det: "id_number", key: "x", val: "11010519491231002X"},
	{det: "id_number", key: "x", val: "110105194912310021", neg: true},   // checksum
	{det: "id_number", key: "x", val: "110105194913310029", neg: true},   // month 13
	{det: "id_number", key: "x", val: "990105194912310023", neg: true},   // no province 99
	{det: "id_number", key: "x", val: "110105209912310029", neg: true},   // born in 2099
	{det: "id_number", key: "x", val: "a11010519491231002Xb", neg: true}, // inside a longer token
	{det: "id_number", key: "sfz", val: "440304199001011233"},
	// email
	{det: "email", key: "x", val: "zhang.san@example.com"},
	{det: "email", key: "x", val: "icon@2x.png", neg: true},
	{det: "email", key: "x", val: "dps**effcl@0.totcl@0.clicks", neg: true},
	{det: "email", key: "x", val: "not an email @ all", neg: true},
	{det: "email", key: "dsn", val: "https://9f8e7d6c5b4a@o12345.ingest.sentry.io/42", neg: true}, // URL userinfo
	// coordinates in a string
	{det: "coordinates", key: "loc", val: "116.397128,39.916527"},
	{det: "coordinates", key: "loc", val: "39.9165,116.3971"},
	{det: "coordinates", key: "loc", val: "39.91,116.39", neg: true},   // coarse
	{det: "coordinates", key: "loc", val: "48.8566,2.3522", neg: true}, // Paris, not in China's bounds
	{det: "coordinates", key: "v", val: "1.2345,6.7890", neg: true},
	// app list in one string
	{det: "app_list", key: "apps", val: "com.tencent.mm,com.eg.android.AlipayGphone,com.ss.android.ugc.aweme"},
	{det: "app_list", key: "hosts", val: "www.baidu.com,api.example.com,cdn.example.cn", neg: true},
	{det: "app_list", key: "apps", val: "com.tencent.mm,com.ss.android.ugc.aweme", neg: true}, // only two
}

func leafHits(key, val string) map[string][]string {
	got := map[string][]string{}
	detectNode(&node{key: key, kind: nStr, val: val}, "query", func(h Hit) {
		got[h.Detector] = append(got[h.Detector], h.Value)
	})
	return got
}

func TestLeafDetectors(t *testing.T) {
	covered := map[string][2]bool{}
	for _, c := range leafCases {
		got := leafHits(c.key, c.val)
		_, fired := got[c.det]
		if fired == c.neg {
			t.Errorf("%s on %s=%q: fired=%v, want %v (all hits %v)", c.det, c.key, c.val, fired, !c.neg, got)
		}
		cv := covered[c.det]
		if c.neg {
			cv[1] = true
		} else {
			cv[0] = true
		}
		covered[c.det] = cv
	}
	for _, d := range leafDetectors {
		if cv := covered[d.id]; !cv[0] || !cv[1] {
			t.Errorf("detector %s lacks a positive or a negative case", d.id)
		}
	}
}

func TestStructDetectors(t *testing.T) {
	cases := []struct {
		det, json string
		neg       bool
	}{
		{det: "coordinates", json: `{"lat":39.916527,"lng":116.397128}`},
		{det: "coordinates", json: `{"latitude":"48.856614","longitude":"2.352222"}`},
		{det: "coordinates", json: `{"lat":39.9,"lng":116.4}`, neg: true},
		{det: "coordinates", json: `{"lat":0.0000,"lng":0.0000}`, neg: true},
		{det: "wifi", json: `{"wifi":[{"ssid":"a","bssid":"3c:5a:b4:01:02:03"},{"ssid":"b","bssid":"3c:5a:b4:01:02:04"}]}`},
		{det: "wifi", json: `{"list":[{"name":"a"},{"name":"b"}]}`, neg: true},
		{det: "wifi", json: `{"wifi":[{"ssid":"a","bssid":""},{"ssid":"b","bssid":"02:00:00:00:00:00"}]}`, neg: true},
		{det: "app_list", json: `{"apps":["com.tencent.mm","com.eg.android.AlipayGphone","com.sina.weibo"]}`},
		{det: "app_list", json: `{"apps":[{"pkg":"com.tencent.mm","v":1},{"pkg":"com.sina.weibo"},{"pkg":"com.ss.android.ugc.aweme"}]}`},
		{det: "app_list", json: `{"files":["a.js","b.css","index.html"]}`, neg: true},
		{det: "app_list", json: `{"hosts":["www.example.com","api.example.com","cdn.example.com"]}`, neg: true},
		{det: "contacts", json: `{"c":[{"name":"张三","phone":"13812345678"},{"name":"李四","phone":"13912345678"}]}`},
		{det: "contacts", json: `{"contacts":[{"displayName":"王五","number":"010-12345678"}]}`},
		{det: "contacts", json: `{"users":[{"name":"a","age":3},{"name":"b","age":4}]}`, neg: true},
		{det: "contacts", json: `{"items":[{"name":"a","number":"A-17"},{"name":"b","number":"42"}]}`, neg: true}, // numbers that are no phone numbers
	}
	covered := map[string][2]bool{}
	for _, c := range cases {
		d := &bodyDecoder{lim: DefaultLimits}
		n, err := d.jsonNode([]byte(c.json), 0)
		if err != nil {
			t.Fatalf("%s: %v", c.json, err)
		}
		fired := false
		detectNode(n, "body", func(h Hit) {
			if h.Detector == c.det {
				fired = true
			}
		})
		if fired == c.neg {
			t.Errorf("%s on %s: fired=%v", c.det, c.json, fired)
		}
		cv := covered[c.det]
		cv[map[bool]int{false: 0, true: 1}[c.neg]] = true
		covered[c.det] = cv
	}
	for _, d := range structDetectors {
		if cv := covered[d.id]; !cv[0] || !cv[1] {
			t.Errorf("struct detector %s lacks a positive or a negative case", d.id)
		}
	}
}

func TestValidIDNumber(t *testing.T) {
	// GB 11643 check characters computed independently for a range of bodies
	for _, body := range []string{"11010519491231002", "44030419900101123", "31011519851212567"} {
		n := 0
		for i := 0; i < 11; i++ {
			if validIDNumber(body + string(idCheck[i])) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d check characters accepted, want exactly 1", body, n)
		}
	}
}

func TestDetectEntryLocations(t *testing.T) {
	e := &Entry{Request: Request{
		Method: "POST", URL: "https://t.example/dev/358240051111110/r?mobile=13812345678",
		Headers:  []NV{{Name: "X-OAID", Value: "5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b"}, {Name: "Cookie", Value: "aid=9774d56d682e549c; s=1"}, {Name: "Content-Encoding", Value: "gzip"}},
		PostData: &PostData{MimeType: "application/json", Text: flexString(gz(`{"loc":{"lat":39.916527,"lng":116.397128}}`))},
	}}
	hits, err := DetectEntry(e, nil, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, h := range hits {
		got[h.Detector+"@"+h.Location] = true
	}
	for _, want := range []string{"imei@url", "phone@query", "oaid@header", "android_id@cookie", "coordinates@body"} {
		if !got[want] {
			t.Errorf("missing %s in %v", want, got)
		}
	}
}

func ExampleDetectEntry() {
	e := &Entry{Request: Request{URL: "https://log.umeng.com/x?imei=358240051111110&imsi=460018830251746"}}
	hits, _ := DetectEntry(e, nil, Limits{})
	for _, h := range hits {
		fmt.Println(h.Detector, h.PI, h.Location, h.Key, h.Value)
	}
	// Output:
	// imei device_id_hw query imei 358240051111110
	// imsi device_id_sim query imsi 460018830251746
}
