package traffic

import (
	"strconv"
	"strings"
	"time"
)

// Hit is one piece of PI found in a request.
type Hit struct {
	// Detector is imei | meid | imsi | iccid | mac | android_id | oaid | gaid | phone |
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
//
// Every detector validates the value itself (a check digit, a numbering plan, a well-formed and
// non-placeholder identifier); a key name may narrow where a detector looks but never makes a value
// PI on its own. Values nobody can check (a device serial, a Wi-Fi SSID: free text) come out only as
// known values, matched against what the analyst read off the test device.
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

// sequential reports whether digits is mostly a run of consecutive digits going up or down
// (123456789012…, 987654…): test and placeholder values, not issued identifiers.
func sequential(digits string) bool {
	if len(digits) < 8 {
		return false
	}
	best, up, down := 0, 0, 0
	for i := 1; i < len(digits); i++ {
		d := (int(digits[i]) - int(digits[i-1]) + 10) % 10
		if d == 1 {
			up++
		} else {
			up = 0
		}
		if d == 9 {
			down++
		} else {
			down = 0
		}
		best = max(best, up, down)
	}
	return best+1 >= len(digits)*2/3
}

// timeKey: values under these keys are timestamps or counters, never identifiers.
func timeKey(k string) bool {
	return keyIs(k, "t", "ts", "time", "timestamp", "_", "stime", "etime", "ctime", "mtime", "rnd", "random", "r", "cb", "v", "seq", "nonce") ||
		keyHas(k, "timestamp", "time", "date", "expire", "duration", "size", "length", "count", "price", "amount", "order", "trace", "span", "requestid")
}

// validIMEI: 15 digits whose last is the Luhn check digit of the first 14 (3GPP TS 23.003), not
// all one digit and not a counting sequence.
func validIMEI(r string) bool {
	return len(r) == 15 && luhn(r) && !allSame(r[:14]) && !sequential(r[:14])
}

// IMEI: a valid IMEI under an IMEI-like key or with a common reporting-body prefix (the first two
// digits of the TAC).
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
		if !validIMEI(r) {
			continue
		}
		if imeiKey(f.knorm) || imeiRB[r[:2]] {
			out = append(out, r)
		}
	}
	return out
}

// MEID: 14 hex digits under an MEID/IMEI-like key; hex MEIDs have a regional code A0..FF (3GPP2
// S.R0048), so the first digit is a letter; the serial part is not one digit repeated.
func findMEID(f field) []string {
	if !keyHas(f.knorm, "meid", "imei", "deviceid") {
		return nil
	}
	var out []string
	for _, r := range runs(f.val, isHex, 14, 14) {
		u := strings.ToUpper(r)
		if u[0] >= 'A' && !allSame(u[2:]) {
			out = append(out, r)
		}
	}
	return out
}

// IMSI: 15 digits, MCC 460 (mainland China, ITU-T E.212) and an MNC assigned to a mainland
// operator (00–09, 11, 15, 20); the MSIN is not one digit repeated. Other
// MCCs are left out: pilmon's test devices carry mainland SIMs, and a 15-digit number starting with
// any of the ~240 valid MCCs would match far too much.
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

// placeholderMAC: not a device's address. 02:00:00:00:00:00 is what Android (6.0 and later)
// returns to apps that ask for the Wi-Fi MAC without privilege: a constant, so it identifies nobody
// (the app still tried to read it, which hook logs show). All zeros and all ones
// (ff:ff:ff:ff:ff:ff, broadcast) are placeholders too, and a multicast address (low bit of the
// first octet set) is never a network card's own.
func placeholderMAC(m string) bool {
	n := normMAC(m)
	if len(n) != 12 || n == "020000000000" || allSame(n) {
		return true
	}
	first, _ := strconv.ParseUint(n[:2], 16, 8)
	return first&1 == 1
}

func wifiKey(k string) bool { return keyHas(k, "bssid", "wifi", "wlan", "apmac", "routermac") }

// macKey: keys whose bare 12-hex value is read as a MAC ("hmac", "machine", "macro" are not).
func macKey(k string) bool {
	if keyHas(k, "hmac", "machine", "macro", "mach") {
		return false
	}
	return keyHas(k, "macaddr", "macaddress", "bssid", "apmac", "routermac", "wifimac", "wlanmac", "btmac", "bluetoothmac") ||
		keyIs(k, "mac", "mac1", "mac2", "devmac", "devicemac", "localmac") || strings.HasSuffix(k, "mac")
}

func findMACs(f field) []string {
	var out []string
	for _, m := range macRuns(f.val) {
		if !placeholderMAC(m) {
			out = append(out, m)
		}
	}
	if len(out) == 0 && macKey(f.knorm) {
		for _, r := range runs(f.val, isHex, 12, 12) {
			if !placeholderMAC(r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// MAC: six octets ("3c:5a:b4:01:02:03", "3c-5a-…", or 12 bare hex under a MAC key), not a
// placeholder (see placeholderMAC), unless it is under a Wi-Fi key (then it is a BSSID, reported
// by the wifi detector).
func findMAC(f field) []string {
	if wifiKey(f.knorm) {
		return nil
	}
	return findMACs(f)
}

// Wi-Fi: BSSIDs (valid MACs) under Wi-Fi keys. An SSID is free text that nothing can validate,
// and keys containing "ssid" are mostly session cookies (Google's SSID, Baidu's H_PS_PSSID), so a
// network name is reported only as a known value.
func findWifiLeaf(f field) []string {
	if !wifiKey(f.knorm) {
		return nil
	}
	return findMACs(f)
}

func androidIDKey(k string) bool {
	return keyHas(k, "androidid", "ssaid") || keyIs(k, "aid", "adid", "andid", "anid", "android")
}

// randomHex: a hex string that looks drawn at random: at least one letter a–f (a 16-digit decimal
// number is a microsecond timestamp or a counter far more often than a random 64-bit value without a
// letter, odds 1 in 1,800) and neither one digit repeated nor a counting sequence.
func randomHex(r string) bool {
	letter := false
	for i := 0; i < len(r); i++ {
		letter = letter || !isDigit(r[i])
	}
	return letter && !allSame(r) && !sequential(r)
}

// Android ID: 16 hex digits (Settings.Secure.ANDROID_ID, a random 64-bit value) under an
// Android-ID-like key, not all zeros.
func findAndroidID(f field) []string {
	if !androidIDKey(f.knorm) {
		return nil
	}
	var out []string
	for _, r := range runs(f.val, isHex, 16, 16) {
		if randomHex(r) {
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

// OAID: a UUID (Huawei, Honor), 64 hex (vivo, OPPO) or 16 hex (Xiaomi) under an OAID key; the
// all-zero OAID means the user limited ad tracking and identifies nobody.
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
			if randomHex(r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// GAID/IDFA: a well-formed UUID under an advertising-id key, not all zeros (the value iOS and
// Android return when the user limited ad tracking).
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

func phoneKey(k string) bool {
	return keyHas(k, "phone", "mobile", "msisdn", "cellphone", "telnum", "telephone", "手机", "电话", "号码") || keyIs(k, "tel", "mob", "pn")
}

// mobilePrefixes are the three-digit prefixes of mainland mobile numbers in the MIIT numbering
// plan (telecom operators and MVNOs; 140/141/144/146/148 are 13-digit IoT and data-only numbers).
var mobilePrefixes = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range strings.Fields("130 131 132 133 134 135 136 137 138 139 145 147 149 150 151 152 153 155 156 157 158 159 " +
		"162 165 166 167 170 171 172 173 174 175 176 177 178 180 181 182 183 184 185 186 187 188 189 " +
		"190 191 192 193 195 196 197 198 199") {
		m[p] = true
	}
	return m
}()

// isPhone: an 11-digit mainland mobile number (1[3-9] and an assigned prefix) whose subscriber
// digits are not one digit repeated.
func isPhone(r string) bool {
	if len(r) != 11 || !mobilePrefixes[r[:3]] {
		return false
	}
	for i := 0; i < len(r); i++ {
		if !isDigit(r[i]) {
			return false
		}
	}
	return !allSame(r[3:])
}

// Phone: a mainland mobile number (see isPhone) that is a whole digit run — never part of a longer
// one such as a millisecond timestamp — with an optional 86/+86/0086 prefix, under a phone-like key,
// or a value that is nothing but the number.
func findPhone(f field) []string {
	if phoneKey(f.knorm) {
		var out []string
		for _, r := range runs(f.val, isDigit, 11, 15) {
			switch {
			case len(r) == 13 && strings.HasPrefix(r, "86"):
				r = r[2:]
			case len(r) == 15 && strings.HasPrefix(r, "0086"):
				r = r[4:]
			}
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
	v = strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(v, "+86"), "0086"), "(+86)")
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

// idProvinces are the first two digits of GB/T 2260 province-level codes (71 Taiwan, 81 Hong Kong,
// 82 Macao, 83 the residence permits of Taiwan residents).
var idProvinces = map[string]bool{"11": true, "12": true, "13": true, "14": true, "15": true, "21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true, "41": true, "42": true, "43": true, "44": true,
	"45": true, "46": true, "50": true, "51": true, "52": true, "53": true, "54": true, "61": true, "62": true, "63": true, "64": true,
	"65": true, "71": true, "81": true, "82": true, "83": true}

// validIDNumber checks an 18-character resident ID (GB 11643): a province code, a real birth date
// not in the future and the ISO 7064 MOD 11-2 check character.
func validIDNumber(s string) bool {
	if len(s) != 18 || !idProvinces[s[:2]] {
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
	return t.Year() == y && int(t.Month()) == m && t.Day() == d && !t.After(time.Now())
}

// ID number: 17 digits + check character, with a valid date and checksum, standing alone (not
// cut out of a longer alphanumeric token such as a hash).
func findIDNumber(f field) []string {
	var out []string
	for _, r := range runs(f.val, isAlnum, 18, 18) {
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
		// user@host after "://" is a URL's userinfo (a Sentry DSN key, basic-auth), not a mailbox
		if a >= 3 && s[a-3:a] == "://" {
			i = b
			continue
		}
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

// Wi-Fi lists: an array of objects each with a BSSID (a valid MAC under a bssid/mac key): a scan
// of nearby networks, which locates the device.
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
			kn := normKey(m.key)
			if m.kind != nStr || !keyHas(kn, "bssid", "mac") {
				continue
			}
			if macs := findMACs(field{key: m.key, knorm: kn, val: m.val}); len(macs) > 0 {
				out = append(out, macs[0])
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

// contactNumber: a mainland mobile number or a landline (0 + area code + 7–8 digits, separators
// allowed), the forms an address book holds.
func contactNumber(v string) bool {
	var d strings.Builder
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case isDigit(c):
			d.WriteByte(c)
		case c == '-' || c == ' ' || c == '+' || c == '(' || c == ')':
		default:
			return false
		}
	}
	n := d.String()
	n = strings.TrimPrefix(strings.TrimPrefix(n, "0086"), "86")
	if isPhone(n) {
		return true
	}
	return len(n) >= 10 && len(n) <= 12 && n[0] == '0' && n[1] != '0' && !allSame(n[3:])
}

// Contacts: an array of ≥2 objects that each have a name and a valid phone number (contactNumber),
// or one such object under a contacts-like key.
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
			if (phoneKey(kn) || keyHas(kn, "number", "tel")) && (m.kind == nStr || m.kind == nNum) && contactNumber(strings.TrimSpace(m.val)) {
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
