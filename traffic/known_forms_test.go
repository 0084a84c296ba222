package traffic

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// seededValue is one identifier of a device-values file and the detector that should name it.
type seededValue struct{ name, value string }

// seededValues lists every value of dv (every list field by its YAML name, and every custom
// value by its name), so a field added to DeviceValues is covered without editing the test.
func seededValues(t *testing.T, dv *DeviceValues) []seededValue {
	t.Helper()
	var out []seededValue
	v := reflect.ValueOf(dv).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if l, ok := v.Field(i).Interface().(stringList); ok {
			for _, s := range l {
				out = append(out, seededValue{name, s})
			}
		}
	}
	names := make([]string, 0, len(dv.Custom))
	for n := range dv.Custom {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, s := range dv.Custom[n].Values {
			out = append(out, seededValue{n, s})
		}
	}
	return out
}

// knownForm is one way an SDK writes a value, and the encoding pilmon should report for it ("" =
// plain or urlencoded, whichever the value needs).
type knownForm struct {
	name, encoding string
	f              func(string) string
}

func hexHash(h func([]byte) []byte) func(string) string {
	return func(s string) string { return hex.EncodeToString(h([]byte(s))) }
}

var (
	md5Of    = func(b []byte) []byte { s := md5.Sum(b); return s[:] }
	sha1Of   = func(b []byte) []byte { s := sha1.Sum(b); return s[:] }
	sha256Of = func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
)

func knownForms() []knownForm {
	forms := []knownForm{
		{"plain", "plain", func(s string) string { return s }},
		{"upper", "plain", strings.ToUpper},
		{"lower", "plain", strings.ToLower},
		{"urlencoded", "", url.QueryEscape},
		{"pathescaped", "", url.PathEscape},
		{"base64", "base64", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
		{"base64url", "base64", func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }},
		{"base64raw", "base64", func(s string) string { return base64.RawStdEncoding.EncodeToString([]byte(s)) }},
		{"base64rawurl", "base64", func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
	}
	for _, h := range []struct {
		enc string
		fn  func([]byte) []byte
	}{{"md5", md5Of}, {"sha1", sha1Of}, {"sha256", sha256Of}} {
		for _, c := range []struct {
			name string
			fn   func(string) string
		}{{"", func(s string) string { return s }}, {"(upper)", strings.ToUpper}, {"(lower)", strings.ToLower}} {
			hh, cc := h, c
			forms = append(forms,
				knownForm{h.enc + c.name, h.enc, func(s string) string { return hexHash(hh.fn)(cc.fn(s)) }},
				knownForm{strings.ToUpper(h.enc) + c.name, h.enc, func(s string) string { return strings.ToUpper(hexHash(hh.fn)(cc.fn(s))) }})
		}
	}
	return forms
}

// placements put an encoded value where SDKs put identifiers; each says where it is found.
var placements = []struct {
	name, location string
	entry          func(enc string) *Entry
}{
	{"json body", "body", func(enc string) *Entry {
		return &Entry{Request: Request{Method: "POST", URL: "https://t.example/c", PostData: &PostData{MimeType: "application/json",
			Text: flexString(`{"data":{"z":` + jsonQuote(enc) + `,"n":1}}`)}}}
	}},
	{"query", "query", func(enc string) *Entry {
		return &Entry{Request: Request{Method: "GET", URL: flexString("https://t.example/c?v=1&z=" + url.QueryEscape(enc))}}
	}},
	{"header", "header", func(enc string) *Entry {
		return &Entry{Request: Request{Method: "GET", URL: "https://t.example/c", Headers: []NV{{Name: "X-Z", Value: flexString(enc)}}}}
	}},
	{"cookie", "cookie", func(enc string) *Entry {
		return &Entry{Request: Request{Method: "GET", URL: "https://t.example/c", Cookies: []Cookie{{Name: "z", Value: flexString(enc)}}}}
	}},
}

func jsonQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// knownHitsOf returns detector/encoding/location of every known-value hit in e.
func knownHitsOf(kv *KnownValues, e *Entry) map[string]bool {
	hits, _ := DetectEntry(e, kv, Limits{})
	got := map[string]bool{}
	for _, h := range hits {
		if h.Known {
			got[h.Detector+"/"+h.Encoding+"@"+h.Location] = true
		}
	}
	return got
}

// Every value of the example device file, in every listed encoding (plain, upper and lower case,
// URL-encoded, four base64 alphabets, and the hex MD5/SHA-1/SHA-256 of the value and of its upper
// and lower case, hex in either case), in a JSON body, the query, a header and a cookie, is found
// under its own name with the right encoding and location.
func TestKnownValuesEverySeededValueEveryForm(t *testing.T) {
	dv := loadExampleDevice(t)
	kv := CompileKnownValues(dv)
	seeds := seededValues(t, dv)
	if len(seeds) < 15 {
		t.Fatalf("only %d seeded values read from the example file", len(seeds))
	}
	checked := 0
	for _, s := range seeds {
		for _, f := range knownForms() {
			enc := f.f(s.value)
			for _, p := range placements {
				got := knownHitsOf(kv, p.entry(enc))
				ok := false
				for k := range got {
					det, rest, _ := strings.Cut(k, "/")
					encoding, loc, _ := strings.Cut(rest, "@")
					if det != "known_value:"+s.name || loc != p.location {
						continue
					}
					switch f.encoding {
					case "":
						ok = ok || encoding == "plain" || encoding == "urlencoded"
					case "plain":
						// a value with no letters is the same in every case; its base64 may also match
						ok = ok || encoding == "plain"
					default:
						ok = ok || encoding == f.encoding
					}
				}
				if !ok {
					t.Errorf("%s=%q as %s (%q) in the %s: not found as %s; got %v", s.name, s.value, f.name, enc, p.name, f.encoding, got)
				}
				checked++
			}
		}
	}
	t.Logf("%d values × %d forms × %d placements = %d checks", len(seeds), len(knownForms()), len(placements), checked)
}

// The same traffic (every form of every value of the example device) holds nothing of another
// device: no known-value hit at all, whatever the encoding.
func TestKnownValuesNothingFromAnotherDevice(t *testing.T) {
	example := loadExampleDevice(t)
	other := &DeviceValues{
		IMEI: stringList{"490154203237518", "352099001761481"}, MEID: stringList{"A1000049DC5E0B"}, IMSI: stringList{"460029876543210"},
		ICCID: stringList{"89860318640220133897"}, Serial: stringList{"ZX1G22ABCD"}, AndroidID: stringList{"a1b2c3d4e5f60718"},
		OAID: stringList{"d7e1f0a2-9b3c-4d5e-8f60-718293a4b5c6"}, GAID: stringList{"cdda802e-fb9c-47ad-9866-0794d394c912"},
		IDFA: stringList{"6D92078A-8246-4BA4-AE5B-76104861E7DC"}, MAC: stringList{"a4:5e:60:11:22:33"}, BluetoothMAC: stringList{"a4:5e:60:11:22:34"},
		Phone: stringList{"13987654321"}, Email: stringList{"someone@example.org"}, IDNumber: stringList{"440524188001010014"},
		Name: stringList{"李四"}, WifiBSSID: stringList{"a4:5e:60:aa:bb:cc"}, WifiSSID: stringList{"other-lab"},
		Location: &Coord{Lat: 31.2304, Lng: 121.4737},
		Custom:   map[string]CustomValue{"user_id": {PI: "accounts", Values: stringList{"u-20231111-0001"}}},
	}
	kv := CompileKnownValues(other)
	n := 0
	for _, s := range seededValues(t, example) {
		for _, f := range knownForms() {
			for _, p := range placements {
				if got := knownHitsOf(kv, p.entry(f.f(s.value))); len(got) > 0 {
					t.Errorf("%s=%q as %s in the %s: another device's values reported: %v", s.name, s.value, f.name, p.name, got)
				}
				n++
			}
		}
	}
	// Near misses of the example device: one digit changed, a prefix, the hash of a neighbour.
	kv = CompileKnownValues(example)
	for _, v := range []string{"358240051121110", "35824005111", "9774d56d682e549", "13812345679", hexHash(md5Of)("358240051111111"),
		base64.StdEncoding.EncodeToString([]byte("13812345679")), "3c:5a:b4:01:02:09", "tester@example.co"} {
		for _, p := range placements {
			if got := knownHitsOf(kv, p.entry(v)); len(got) > 0 {
				t.Errorf("near miss %q in the %s reported: %v", v, p.name, got)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("nothing checked")
	}
}
