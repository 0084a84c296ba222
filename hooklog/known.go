package hooklog

import (
	"regexp"
	"strings"

	"pilmon/scanner"
)

// knownFields maps a catalogue API to the device-values field its return value is (traffic's
// device-values file names): what the app read, to be looked for in the session's traffic.
var knownFields = map[string]string{
	"telephony.getDeviceId":        "imei",
	"telephony.getImei":            "imei",
	"telephony.getMeid":            "meid",
	"telephony.getSubscriberId":    "imsi",
	"telephony.getSimSerialNumber": "iccid",
	"uicc.getIccId":                "iccid",
	"telephony.getLine1Number":     "phone",
	"build.getSerial":              "serial",
	"sysprop.serial":               "serial",
	"settings.androidId":           "android_id",
	"settings.system.androidId":    "android_id",
	"wifiinfo.getMacAddress":       "mac",
	"dpm.getWifiMacAddress":        "mac",
	"wifiinfo.getBSSID":            "wifi_bssid",
	"wifiinfo.getSSID":             "wifi_ssid",
	"gaid":                         "gaid",
	"oaid.msa":                     "oaid",
	"oaid.huawei":                  "oaid",
	"oaid.xiaomi":                  "oaid",
	"oaid.samsung":                 "oaid",
}

// placeholders are return values that identify no device: what Android returns to an app without
// the permission or on a newer version (02:00:00:00:00:00, "unknown"), an all-zero OAID of a
// device with the ID limited, or a redacted value.
var placeholder = regexp.MustCompile(`^(?i:|null|unknown|none|undefined|0+|[0:-]+|02:00:00:00:00:00|<unknown ssid>|sha256:[0-9a-f]{64}|\[object.*|\[B@.*)$`)

// KnownValues are the values the log saw the app read that identify the test phone, each with
// where it was read, for the other sources of the session (scanner.KnownValue). ref is the stored
// log's SHA-256. A value is kept once per (field, value, API, party, phase): its first read.
func KnownValues(l *Log, ref string) []scanner.KnownValue {
	var out []scanner.KnownValue
	seen := map[string]bool{}
	for i := range l.Events {
		e := &l.Events[i]
		field := knownFields[e.API]
		if field == "" || !e.HasReturn {
			continue
		}
		v := strings.Trim(strings.TrimSpace(e.ReturnValue), `"`)
		if placeholder.MatchString(v) || len(v) > 256 {
			continue
		}
		k := strings.Join([]string{field, v, e.API, e.Party, e.Phase}, "\x00")
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, scanner.KnownValue{Field: field, Value: v, API: e.API, Party: e.Party, Time: e.DeviceTime,
			Phase: e.Phase, EvidenceRef: ref, Row: e.Row, Format: l.Format})
	}
	return out
}
