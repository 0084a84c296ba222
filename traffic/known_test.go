package traffic

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
)

func loadExampleDevice(t *testing.T) *DeviceValues {
	t.Helper()
	dv, err := LoadDeviceValues("testdata/device_values.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return dv
}

func knownHits(kv *KnownValues, e *Entry) map[string]bool {
	hits, _ := DetectEntry(e, kv, Limits{})
	got := map[string]bool{}
	for _, h := range hits {
		if h.Known {
			got[h.Detector+"/"+h.Encoding] = true
		}
	}
	return got
}

// TestKnownValuesEveryEncoding seeds each device value in each listed form and expects it found.
func TestKnownValuesEveryEncoding(t *testing.T) {
	dv := loadExampleDevice(t)
	kv := CompileKnownValues(dv)
	seeds := map[string]string{
		"imei": "358240051111110", "imsi": "460011234567890", "iccid": "89860012345678901238", "serial": "R58M123ABCD",
		"android_id": "9774d56d682e549c", "oaid": "5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b", "gaid": "38400000-8cf0-11bd-b23e-10b96e40000d",
		"mac": "3c:5a:b4:01:02:03", "phone": "13812345678", "email": "tester@example.com", "id_number": "11010519491231002X",
		"wifi_bssid": "3c:5a:b4:aa:bb:cc", "user_id": "u-20240501-7788", "meid": "A0000012345678",
	}
	hexOf := func(b []byte) string { return hex.EncodeToString(b) }
	forms := map[string]func(string) string{
		"plain":      func(s string) string { return s },
		"upper":      strings.ToUpper,
		"lower":      strings.ToLower,
		"urlencoded": url.QueryEscape,
		"base64":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"base64url":  func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) },
		"md5":        func(s string) string { h := md5.Sum([]byte(s)); return hexOf(h[:]) },
		"MD5":        func(s string) string { h := md5.Sum([]byte(s)); return strings.ToUpper(hexOf(h[:])) },
		"sha1":       func(s string) string { h := sha1.Sum([]byte(s)); return hexOf(h[:]) },
		"sha256":     func(s string) string { h := sha256.Sum256([]byte(s)); return hexOf(h[:]) },
		"SHA256":     func(s string) string { h := sha256.Sum256([]byte(s)); return strings.ToUpper(hexOf(h[:])) },
	}
	for name, v := range seeds {
		for fname, f := range forms {
			enc := f(v)
			// in a JSON body under a neutral key, with text around it
			e := &Entry{Request: Request{URL: "https://t.example/c", PostData: &PostData{MimeType: "application/json", Text: flexString(`{"z":"p` + strings.ReplaceAll(enc, `"`, `\"`) + `q"}`)}}}
			got := knownHits(kv, e)
			found := false
			for k := range got {
				if strings.HasPrefix(k, "known_value:"+name+"/") {
					found = true
				}
			}
			if !found {
				t.Errorf("%s in form %s (%q) not found; got %v", name, fname, enc, got)
			}
		}
	}
	// MACs without separators and with dashes
	for _, m := range []string{"3C5AB4010203", "3c-5a-b4-01-02-03"} {
		e := &Entry{Request: Request{URL: flexString("https://t.example/c?x=" + m)}}
		if !knownHits(kv, e)["known_value:mac/plain"] {
			t.Errorf("MAC form %s not found", m)
		}
	}
	// phone with country code; IMEI without check digit
	for _, q := range []string{"+8613812345678", "8613812345678"} {
		if !knownHits(kv, &Entry{Request: Request{URL: flexString("https://t.example/c?p=" + url.QueryEscape(q))}})["known_value:phone/plain"] {
			t.Errorf("phone form %s not found", q)
		}
	}
	if !knownHits(kv, &Entry{Request: Request{URL: "https://t.example/c?d=35824005111111"}})["known_value:imei/plain"] {
		t.Errorf("IMEI without check digit not found")
	}
	// coordinates within tolerance, in an object and in a string
	if !knownHits(kv, &Entry{Request: Request{URL: "https://t.example/c?lat=39.9168&lng=116.3975"}})["known_value:location/plain"] {
		t.Errorf("nearby coordinates not found")
	}
	if knownHits(kv, &Entry{Request: Request{URL: "https://t.example/c?lat=31.2304&lng=121.4737"}})["known_value:location/plain"] {
		t.Errorf("Shanghai matched a Beijing device")
	}
}

// TestKnownValuesNothingInCleanTraffic: a capture without the values yields no known-value hit.
func TestKnownValuesNothingInCleanTraffic(t *testing.T) {
	kv := CompileKnownValues(loadExampleDevice(t))
	clean := []*Entry{
		{Request: Request{URL: "https://a.example/?imei=358240052222226&q=hello"}},
		{Request: Request{URL: "https://a.example/p", PostData: &PostData{MimeType: "application/json", Text: `{"imei":"490154203237518","android_id":"0123456789abcdef","phone":"13912345678","lat":31.2304,"lng":121.4737}`}}},
		{Request: Request{URL: "https://a.example/p", Headers: []NV{{Name: "X-Sign", Value: flexString(strings.Repeat("ab", 32))}}}},
	}
	for i, e := range clean {
		if got := knownHits(kv, e); len(got) > 0 {
			t.Errorf("entry %d: unexpected known values %v", i, got)
		}
	}
	// the corpus HARs do not contain the example device
	for _, path := range corpusHARs(t) {
		a := NewAnalyzer(nil, Options{Device: loadExampleDevice(t)})
		info, _ := readFile(t, path, a)
		for _, o := range a.Finish(info).Observations {
			if o.Attributes["known_value"] == true {
				t.Errorf("%s: known value reported: %v", path, o)
			}
		}
	}
}

func TestLoadDeviceValuesErrors(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"typo.yaml":   "imie: 1\n",
		"nested.yaml": "imei: {a: 1}\n",
	} {
		p := dir + "/" + name
		writeFile(t, p, body)
		if _, err := LoadDeviceValues(p); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v should name the file", name, err)
		}
	}
}
