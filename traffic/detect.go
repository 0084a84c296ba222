package traffic

import (
	"strconv"
	"strings"
	"time"
)

// Hit is one piece of PI found in a request.
type Hit struct {
	// Detector is imei | meid | imsi | iccid | mac | android_id | oaid | gaid | serial | phone |
	// id_number | email | coordinates | wifi | app_list | contacts | known_value:<name>.
	Detector string
	// PI is the PI category id (rules/data/pi_categories.yaml).
	PI string
	// Location is url | query | header | cookie | body.
	Location string
	// Key is the parameter, header, cookie or JSON key the value was under ("" when none).
	Key string
	// Value is what matched (for known values: the form found, e.g. "md5" or "base64").
	Value string
	// Known is set for known-value matches; Encoding then says the form (plain, md5, sha256…).
	Known    bool
	Encoding string
}

// field is one leaf value handed to the leaf detectors.
type field struct {
	loc, key string
	// knorm is the key lower-cased with separators removed ("Android_ID" -> "androidid").
	knorm string
	val   string
	num   bool
}

// leafDetector finds PI in one value. Each returns the matched values.
type leafDetector struct {
	id, pi string
	find   func(f field) []string
}

// structDetector finds PI in the shape of an object or array (lists, pairs).
type structDetector struct {
	id, pi string
	find   func(n *node) []string
}

// leafDetectors is the table of value detectors; each has positive and negative tests in detect_test.go.
var leafDetectors = []leafDetector{
	{"imei", "device_id_hw", findIMEI},
	{"meid", "device_id_hw", findMEID},
	{"imsi", "device_id_sim", findIMSI},
	{"iccid", "device_id_sim", findICCID},
	{"mac", "mac_address", findMAC},
	{"wifi", "wifi_info", findWifiLeaf},
	{"android_id", "device_id_resettable", findAndroidID},
	{"oaid", "device_id_resettable", findOAID},
	{"gaid", "device_id_resettable", findGAID},
	{"serial", "device_id_hw", findSerial},
	{"phone", "phone_number", findPhone},
	{"id_number", "identity_document", findIDNumber},
	{"email", "accounts", findEmail},
	{"coordinates", "location_precise", findCoordString},
	{"app_list", "app_list", findAppListString},
}

var structDetectors = []structDetector{
	{"coordinates", "location_precise", findCoordPair},
	{"wifi", "wifi_info", findWifiList},
	{"app_list", "app_list", findAppList},
	{"contacts", "contacts", findContacts},
}

// normKey lower-cases a key and drops separators.
func normKey(k string) string {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 32)
		case c == '_' || c == '-' || c == '.' || c == ' ' || c == '[' || c == ']' || c == ':':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func keyHas(knorm string, subs ...string) bool {
	for _, s := range subs {
		if strings.Contains(knorm, s) {
			return true
		}
	}
	return false
}

func keyIs(knorm string, names ...string) bool {
	for _, s := range names {
		if knorm == s {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }
func isAlnum(c byte) bool { return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// runs returns the maximal runs of bytes satisfying class whose length is in [min, max].
func runs(s string, class func(byte) bool, min, max int) []string {
	var out []string
	for i := 0; i < len(s); {
		if !class(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && class(s[j]) {
			j++
		}
		if l := j - i; l >= min && l <= max {
			out = append(out, s[i:j])
		}
		i = j
	}
	return out
}

func luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if !isDigit(c) {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func allSame(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

// timeKey: values under these keys are timestamps or counters, never identifiers.
func timeKey(k string) bool {
	return keyIs(k, "t", "ts", "time", "timestamp", "_", "stime", "etime", "ctime", "mtime", "rnd", "random", "r", "cb", "v", "seq", "nonce") ||
		keyHas(k, "timestamp", "time", "date", "expire", "duration", "size", "length", "count", "price", "amount", "order", "trace", "span", "requestid")
}

// IMEI: 15 digits with a valid Luhn check digit, under an IMEI-like key or with a common
// reporting-body prefix (the first two digits of the TAC).
var imeiRB = map[string]bool{"01": true, "30": true, "33": true, "35": true, "44": true, "45": true, "49": true, "50": true, "51": true, "52": true, "53": true, "54": true, "86": true, "91": true, "98": true, "99": true}

func imeiKey(k string) bool {
	return keyHas(k, "imei", "meid", "deviceid", "udid", "devid") || keyIs(k, "did", "dvid", "device", "imei1", "imei2")
}

func findIMEI(f field) []string {
	if timeKey(f.knorm) && !imeiKey(f.knorm) {
		return nil
	}
	var out []string
	for _, r := range runs(f.val, isDigit, 15, 15) {
		if !luhn(r) || allSame(r[:14]) {
			continue
		}
		if imeiKey(f.knorm) || imeiRB[r[:2]] {
			out = append(out, r)
		}
	}
	return out
}

// MEID: 14 hex digits under an MEID/IMEI-like key (hex MEIDs start A0..FF).
func findMEID(f field) []string {
	if !keyHas(f.knorm, "meid", "imei", "deviceid") {
		return nil
	}
	var out []string
	for _, r := range runs(f.val, isHex, 14, 14) {
		u := strings.ToUpper(r)
		if u[0] >= 'A' && !allSame(u) {
			out = append(out, r)
		}
	}
	return out
}

// IMSI: 15 digits, MCC 460 and a Chinese MNC.
var cnMNC = map[string]bool{"00": true, "01": true, "02": true, "03": true, "04": true, "05": true, "06": true, "07": true, "08": true, "09": true, "11": true, "15": true, "20": true}

func findIMSI(f field) []string {
	var out []string
	for _, r := range runs(f.val, isDigit, 15, 15) {
		if strings.HasPrefix(r, "460") && cnMNC[r[3:5]] && !allSame(r[5:]) {
			if timeKey(f.knorm) && !keyHas(f.knorm, "imsi") {
				continue
			}
			out = append(out, r)
		}
	}
	return out
}

// ICCID: 8986 + 15–16 more digits (19–20 in all) with a valid Luhn check, or under an ICCID key
// (Chinese ICCIDs may carry letters then).
func findICCID(f field) []string {
	keyed := keyHas(f.knorm, "iccid", "simserial", "simid")
	var out []string
	class := isDigit
	if keyed {
		class = isAlnum
	}
	for _, r := range runs(f.val, class, 19, 20) {
		if !strings.HasPrefix(r, "8986") {
			continue
		}
		if keyed || luhn(r) {
			out = append(out, r)
		}
	}
	return out
}

// macRuns finds MAC addresses with ':' or '-' separators.
func macRuns(s string) []string {
	var out []string
	for i := 0; i+17 <= len(s); i++ {
		if i > 0 && (isHex(s[i-1]) || s[i-1] == ':' || s[i-1] == '-') {
			continue
		}
		sep := s[i+2]
		if sep != ':' && sep != '-' {
			continue
		}
		ok := true
		for j := 0; j < 17 && ok; j++ {
			if j%3 == 2 {
				ok = s[i+j] == sep
			} else {
				ok = isHex(s[i+j])
			}
		}
		if !ok || i+17 < len(s) && (isHex(s[i+17]) || s[i+17] == sep) {
			continue
		}
		out = append(out, s[i:i+17])
		i += 16
	}
	return out
}

func normMAC(m string) string {
	var b strings.Builder
	for i := 0; i < len(m); i++ {
		if isHex(m[i]) {
			b.WriteByte(m[i] | 0x20)
		}
	}
	return b.String()
}

func placeholderMAC(m string) bool {
	n := normMAC(m)
	return n == "020000000000" || allSame(n)
}

func wifiKey(k string) bool { return keyHas(k, "bssid", "ssid", "wifi", "wlan", "apmac", "routermac") }

func macKey(k string) bool { return keyHas(k, "mac") }

func findMACs(f field) []string {
	var out []string
	for _, m := range macRuns(f.val) {
		if !placeholderMAC(m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 && (macKey(f.knorm) || wifiKey(f.knorm)) {
		for _, r := range runs(f.val, isHex, 12, 12) {
			if !placeholderMAC(r) && !allSame(r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// MAC: a MAC address (not 02:00:00:00:00:00, the Android placeholder, nor all zeros/ones), unless
// it is under a Wi-Fi key (then it is a BSSID, reported by the wifi detector).
func findMAC(f field) []string {
	if wifiKey(f.knorm) {
		return nil
	}
	return findMACs(f)
}

// Wi-Fi: BSSIDs under Wi-Fi keys, or a non-empty SSID.
func findWifiLeaf(f field) []string {
	if !wifiKey(f.knorm) {
		return nil
	}
	if macs := findMACs(f); len(macs) > 0 {
		return macs
	}
	if keyHas(f.knorm, "ssid") && !keyHas(f.knorm, "bssid") && !f.num {
		v := strings.Trim(f.val, "\" ")
		if v != "" && v != "<unknown ssid>" && v != "unknown" && v != "null" && len(v) <= 64 {
			return []string{v}
		}
	}
	return nil
}

func androidIDKey(k string) bool {
	return keyHas(k, "androidid", "ssaid") || keyIs(k, "aid", "adid", "andid", "anid", "android")
}

// Android ID: 16 hex digits under an Android-ID-like key.
func findAndroidID(f field) []string {
	if !androidIDKey(f.knorm) {
		return nil
	}
	var out []string
	for _, r := range runs(f.val, isHex, 16, 16) {
		if !allSame(r) {
			out = append(out, r)
		}
	}
	return out
}

// uuids finds canonical 8-4-4-4-12 UUIDs.
func uuids(s string) []string {
	var out []string
	for i := 0; i+36 <= len(s); i++ {
		if i > 0 && (isHex(s[i-1]) || s[i-1] == '-') {
			continue
		}
		ok := true
		for j := 0; j < 36 && ok; j++ {
			switch j {
			case 8, 13, 18, 23:
				ok = s[i+j] == '-'
			default:
				ok = isHex(s[i+j])
			}
		}
		if !ok || i+36 < len(s) && (isHex(s[i+36]) || s[i+36] == '-') {
			continue
		}
		out = append(out, s[i:i+36])
		i += 35
	}
	return out
}

func zeroID(s string) bool {
	return allSame(strings.ReplaceAll(s, "-", ""))
}

// OAID: a UUID, 64 hex or 16 hex under an OAID key (all-zero = tracking limited, not reported).
func findOAID(f field) []string {
	if !keyHas(f.knorm, "oaid") {
		return nil
	}
	var out []string
	for _, u := range uuids(f.val) {
		if !zeroID(u) {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		for _, r := range append(runs(f.val, isHex, 64, 64), runs(f.val, isHex, 16, 16)...) {
			if !allSame(r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// GAID/IDFA: a UUID under an advertising-id key.
func findGAID(f field) []string {
	if !(keyHas(f.knorm, "gaid", "idfa", "idfv", "advertisingid", "adid", "aaid", "googleadid", "gpsadid") || keyIs(f.knorm, "ifa", "adid")) {
		return nil
	}
	var out []string
	for _, u := range uuids(f.val) {
		if !zeroID(u) {
			out = append(out, u)
		}
	}
	return out
}

// Serial: the device serial under a serial-like key.
func findSerial(f field) []string {
	if !(keyHas(f.knorm, "serialno", "serialnumber", "buildserial", "deviceserial", "roserialno") || keyIs(f.knorm, "serial", "sn", "devsn", "devicesn")) {
		return nil
	}
	v := strings.TrimSpace(f.val)
	if len(v) < 6 || len(v) > 24 {
		return nil
	}
	hasDigit := false
	for i := 0; i < len(v); i++ {
		if !isAlnum(v[i]) {
			return nil
		}
		hasDigit = hasDigit || isDigit(v[i])
	}
	if !hasDigit || allSame(v) || strings.EqualFold(v, "unknown") {
		return nil
	}
	return []string{v}
}

func phoneKey(k string) bool {
	return keyHas(k, "phone", "mobile", "msisdn", "cellphone", "telnum", "telephone", "手机", "电话", "号码") || keyIs(k, "tel", "mob", "pn")
}

func isPhone(r string) bool {
	return len(r) == 11 && r[0] == '1' && r[1] >= '3' && r[1] <= '9' && !allSame(r[2:])
}

// Phone: a mainland mobile number (1[3-9] + 9 digits, digit-bounded) under a phone-like key, or a
// value that is nothing but the number (with an optional +86/86 prefix).
func findPhone(f field) []string {
	if phoneKey(f.knorm) {
		var out []string
		for _, r := range runs(f.val, isDigit, 11, 13) {
			r = strings.TrimPrefix(r, "86")
			if isPhone(r) {
				out = append(out, r)
			}
		}
		return out
	}
	if timeKey(f.knorm) {
		return nil
	}
	v := strings.TrimSpace(f.val)
	v = strings.TrimPrefix(strings.TrimPrefix(v, "+86"), "0086")
	v = strings.TrimPrefix(strings.TrimSpace(v), "-")
	if len(v) == 13 && strings.HasPrefix(v, "86") {
		v = v[2:]
	}
	if isPhone(v) && len(runs(v, isDigit, 11, 11)) == 1 {
		return []string{v}
	}
	return nil
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

const idCheck = "10X98765432"

// validIDNumber checks an 18-character resident ID: region, a real birth date and the GB 11643 check.
func validIDNumber(s string) bool {
	if len(s) != 18 || s[0] < '1' || s[0] > '8' {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		if !isDigit(s[i]) {
			return false
		}
		sum += int(s[i]-'0') * idWeights[i]
	}
	c := s[17]
	if c == 'x' {
		c = 'X'
	}
	if idCheck[sum%11] != c {
		return false
	}
	y, _ := strconv.Atoi(s[6:10])
	m, _ := strconv.Atoi(s[10:12])
	d, _ := strconv.Atoi(s[12:14])
	if y < 1900 || y > time.Now().Year() {
		return false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Year() == y && int(t.Month()) == m && t.Day() == d
}

// ID number: 17 digits + check character, with a valid date and checksum.
func findIDNumber(f field) []string {
	var out []string
	for _, r := range runs(f.val, func(c byte) bool { return isDigit(c) || c == 'X' || c == 'x' }, 18, 18) {
		if validIDNumber(r) {
			out = append(out, r)
		}
	}
	return out
}

var fileExts = map[string]bool{"png": true, "jpg": true, "jpeg": true, "gif": true, "webp": true, "svg": true, "js": true, "css": true, "ico": true, "bmp": true, "mp4": true, "json": true, "html": true}

// Email: local@domain.tld, not an asset name such as icon@2x.png.
func findEmail(f field) []string {
	var out []string
	s := f.val
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		isLocal := func(c byte) bool { return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0 }
		isDom := func(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }
		a := i
		for a > 0 && isLocal(s[a-1]) {
			a--
		}
		b := i + 1
		for b < len(s) && isDom(s[b]) {
			b++
		}
		local, dom := s[a:i], strings.TrimRight(s[i+1:b], ".-")
		dot := strings.LastIndexByte(dom, '.')
		if len(local) == 0 || len(local) > 64 || dot <= 0 {
			continue
		}
		tld := dom[dot+1:]
		if len(tld) < 2 || fileExts[strings.ToLower(tld)] {
			continue
		}
		okTLD := true
		for j := 0; j < len(tld); j++ {
			if !(tld[j] >= 'a' && tld[j] <= 'z' || tld[j] >= 'A' && tld[j] <= 'Z') {
				okTLD = false
			}
		}
		// the label before the TLD must have a letter ("a@0.totcl" in a tracking cookie is not mail)
		sld := dom[:dot]
		if k := strings.LastIndexByte(sld, '.'); k >= 0 {
			sld = sld[k+1:]
		}
		if okTLD && strings.IndexFunc(sld, func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }) >= 0 {
			out = append(out, local+"@"+dom)
		}
		i = b
	}
	return out
}

// decimals counts digits after the point of a decimal number string, -1 when it is not one.
func decimals(s string) int {
	s = strings.TrimPrefix(strings.TrimSpace(s), "-")
	p := strings.IndexByte(s, '.')
	if p <= 0 || p > 3 {
		return -1
	}
	for i := 0; i < len(s); i++ {
		if i != p && !isDigit(s[i]) {
			return -1
		}
	}
	return len(s) - p - 1
}

func inChina(lat, lng float64) bool { return lat >= 3 && lat <= 54 && lng >= 73 && lng <= 136 }

// Coordinates in a string: "lat,lng" or "lng,lat" with ≥4 decimals each, inside China's bounds.
func findCoordString(f field) []string {
	v := strings.TrimSpace(f.val)
	for _, sep := range []string{",", "|", ";", " "} {
		a, b, ok := strings.Cut(v, sep)
		if !ok || strings.Contains(b, sep) {
			continue
		}
		a, b = strings.TrimSpace(a), strings.TrimSpace(b)
		if decimals(a) < 4 || decimals(b) < 4 {
			continue
		}
		x, _ := strconv.ParseFloat(a, 64)
		y, _ := strconv.ParseFloat(b, 64)
		if inChina(x, y) || inChina(y, x) {
			return []string{a + "," + b}
		}
	}
	return nil
}

func latKey(k string) bool {
	return keyIs(k, "lat", "latitude", "gpslat", "la", "wd", "weidu", "纬度") || strings.HasSuffix(k, "latitude") || strings.HasSuffix(k, "lat")
}

func lngKey(k string) bool {
	return keyIs(k, "lng", "lon", "long", "longitude", "gpslng", "gpslon", "jd", "jingdu", "经度") || strings.HasSuffix(k, "longitude") || strings.HasSuffix(k, "lng") || strings.HasSuffix(k, "lon")
}

// coordPair returns the lat/lng members of an object when both are precise numbers in range.
func coordPair(n *node) (lat, lng float64, latS, lngS string, ok bool) {
	if n.kind != nObj {
		return
	}
	for _, k := range n.kids {
		if k.kind != nNum && k.kind != nStr {
			continue
		}
		kn := normKey(k.key)
		switch {
		case latS == "" && latKey(kn):
			latS = strings.TrimSpace(k.val)
		case lngS == "" && lngKey(kn):
			lngS = strings.TrimSpace(k.val)
		}
	}
	if latS == "" || lngS == "" || decimals(latS) < 3 || decimals(lngS) < 3 {
		return 0, 0, "", "", false
	}
	lat, e1 := strconv.ParseFloat(latS, 64)
	lng, e2 := strconv.ParseFloat(lngS, 64)
	if e1 != nil || e2 != nil || lat == 0 && lng == 0 || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
		return 0, 0, "", "", false
	}
	return lat, lng, latS, lngS, true
}

// Coordinates as an object with lat/lng keys (≥3 decimals, any valid range).
func findCoordPair(n *node) []string {
	if _, _, a, b, ok := coordPair(n); ok {
		return []string{a + "," + b}
	}
	return nil
}

// Wi-Fi lists: objects with bssid/ssid keys in an array, or MACs in an array under a Wi-Fi key.
func findWifiList(n *node) []string {
	if n.kind != nArr {
		return nil
	}
	var out []string
	for _, k := range n.kids {
		if k.kind != nObj {
			continue
		}
		for _, m := range k.kids {
			if kn := normKey(m.key); keyHas(kn, "bssid", "ssid") && m.val != "" {
				out = append(out, m.val)
				break
			}
		}
	}
	if len(out) >= 2 {
		return []string{strconv.Itoa(len(out)) + " networks: " + summarize(out)}
	}
	return nil
}

var pkgFirst = map[string]bool{"com": true, "cn": true, "org": true, "net": true, "io": true, "me": true, "tv": true, "air": true, "jp": true, "de": true, "uk": true, "fr": true, "kr": true, "ru": true, "app": true, "co": true, "android": true, "ctrip": true, "tencent": true, "sina": true, "taobao": true, "eg": true, "so": true, "ss": true, "dianping": true, "ximalaya": true}

// isPackageName: a Java package such as com.tencent.mm, not a host name or a file.
func isPackageName(s string) bool {
	if len(s) < 5 || len(s) > 120 {
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) < 2 || !pkgFirst[parts[0]] {
		return false
	}
	if len(parts) == 2 && parts[0] != "com" && parts[0] != "cn" {
		return false
	}
	for _, p := range parts {
		if p == "" || !(p[0] >= 'a' && p[0] <= 'z' || p[0] >= 'A' && p[0] <= 'Z') {
			return false
		}
		for i := 0; i < len(p); i++ {
			if !isAlnum(p[i]) && p[i] != '_' {
				return false
			}
		}
	}
	last := strings.ToLower(parts[len(parts)-1])
	return !fileExts[last] && last != "com" && last != "cn" && last != "net" && last != "org"
}

func summarize(vals []string) string {
	const max = 3
	if len(vals) <= max {
		return strings.Join(vals, ",")
	}
	return strings.Join(vals[:max], ",") + ",…"
}

// App list: ≥3 package names in an array (strings, or objects with a package key).
func findAppList(n *node) []string {
	if n.kind != nArr {
		return nil
	}
	var pkgs []string
	for _, k := range n.kids {
		switch k.kind {
		case nStr:
			if isPackageName(k.val) {
				pkgs = append(pkgs, k.val)
			}
		case nObj:
			for _, m := range k.kids {
				if m.kind == nStr && isPackageName(m.val) && keyHas(normKey(m.key), "pkg", "package", "pn", "bundle", "appid", "name") {
					pkgs = append(pkgs, m.val)
					break
				}
			}
		}
	}
	if len(pkgs) >= 3 {
		return []string{strconv.Itoa(len(pkgs)) + " packages: " + summarize(pkgs)}
	}
	return nil
}

// App list in one string: ≥3 package names separated by , ; | or spaces.
func findAppListString(f field) []string {
	if len(f.val) < 15 || !strings.Contains(f.val, ".") {
		return nil
	}
	var pkgs []string
	for _, p := range strings.FieldsFunc(f.val, func(r rune) bool {
		return r == ',' || r == ';' || r == '|' || r == ' ' || r == '\n' || r == '"' || r == '[' || r == ']'
	}) {
		if isPackageName(p) {
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) >= 3 {
		return []string{strconv.Itoa(len(pkgs)) + " packages: " + summarize(pkgs)}
	}
	return nil
}

// Contacts: an array of ≥2 objects that each have a name and a phone number, or one such object
// under a contacts-like key.
func findContacts(n *node) []string {
	if n.kind != nArr {
		return nil
	}
	count := 0
	for _, k := range n.kids {
		if k.kind != nObj {
			continue
		}
		hasName, hasPhone := false, false
		for _, m := range k.kids {
			kn := normKey(m.key)
			if keyHas(kn, "name", "姓名", "联系人") {
				hasName = true
			}
			if phoneKey(kn) || keyHas(kn, "number", "tel") {
				hasPhone = true
			}
		}
		if hasName && hasPhone {
			count++
		}
	}
	kn := normKey(n.key)
	if count >= 2 || count >= 1 && keyHas(kn, "contact", "addressbook", "通讯录", "联系人") {
		return []string{strconv.Itoa(count) + " contacts"}
	}
	return nil
}

// detectNode runs every detector over a tree; emit receives each hit.
func detectNode(n *node, loc string, emit func(Hit)) {
	var walk func(n *node, depth int)
	walk = func(n *node, depth int) {
		if n == nil || depth > 200 {
			return
		}
		switch n.kind {
		case nStr, nNum:
			f := field{loc: loc, key: n.key, knorm: normKey(n.key), val: n.val, num: n.kind == nNum}
			if f.val != "" {
				for _, d := range leafDetectors {
					for _, v := range d.find(f) {
						emit(Hit{Detector: d.id, PI: d.pi, Location: loc, Key: n.key, Value: v})
					}
				}
			}
		default:
			for _, d := range structDetectors {
				for _, v := range d.find(n) {
					emit(Hit{Detector: d.id, PI: d.pi, Location: loc, Key: n.key, Value: v})
				}
			}
		}
		for _, k := range n.kids {
			walk(k, depth+1)
		}
	}
	walk(n, 0)
}
