package traffic

import (
	"sort"
	"strings"

	"pilmon/scanner"
)

// Known device values from the session's hook log: what the app was seen reading on the phone.
// They are looked for in the traffic like the analyst's device-values file, and a request that
// carries one is linked to the read ("read by SDK X at 10:00:01.2 → sent to host Y").

// withSessionValues returns the device values to match: the analyst's plus the values the hook
// log saw read, and the hook values alone (to tell which matches came from them).
func withSessionValues(dv *DeviceValues, known []scanner.KnownValue) (merged, hooked *DeviceValues) {
	if len(known) == 0 {
		return dv, nil
	}
	merged = &DeviceValues{}
	if dv != nil {
		*merged = *dv
	}
	hooked = &DeviceValues{}
	for _, k := range known {
		v := strings.TrimSpace(k.Value)
		if v == "" {
			continue
		}
		for _, d := range []*DeviceValues{merged, hooked} {
			if f := d.field(k.Field); f != nil && !contains(*f, v) {
				*f = append(append(stringList{}, *f...), v)
			}
		}
	}
	return merged, hooked
}

// field returns the list of the device-values field named as in the YAML file, nil for a name
// that is not one (a location, a custom value).
func (dv *DeviceValues) field(name string) *stringList {
	switch name {
	case "imei":
		return &dv.IMEI
	case "meid":
		return &dv.MEID
	case "imsi":
		return &dv.IMSI
	case "iccid":
		return &dv.ICCID
	case "serial":
		return &dv.Serial
	case "android_id":
		return &dv.AndroidID
	case "oaid":
		return &dv.OAID
	case "gaid":
		return &dv.GAID
	case "mac":
		return &dv.MAC
	case "bluetooth_mac":
		return &dv.BluetoothMAC
	case "phone":
		return &dv.Phone
	case "wifi_bssid":
		return &dv.WifiBSSID
	case "wifi_ssid":
		return &dv.WifiSSID
	}
	return nil
}

// firstRead returns the earliest read of a field's value among the session's known values (device
// times compare as strings: the hook log writes one RFC 3339 layout; an untimed read comes last).
func firstRead(known []scanner.KnownValue, field string) (scanner.KnownValue, bool) {
	var out []scanner.KnownValue
	for _, k := range known {
		if k.Field == field {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return scanner.KnownValue{}, false
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Time == "") != (out[j].Time == "") {
			return out[j].Time == ""
		}
		return out[i].Time < out[j].Time
	})
	return out[0], true
}

// readAttributes are the traffic.pi_sent attributes that link a sent value to its read.
func readAttributes(k scanner.KnownValue) map[string]any {
	return map[string]any{
		"known_source": "hooklog", "read_api": k.API, "read_party": k.Party, "read_at": k.Time,
		"read_phase": k.Phase, "read_evidence": k.EvidenceRef, "read_row": k.Row, "read_format": k.Format,
	}
}
