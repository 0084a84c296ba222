package hooklog

import (
	"testing"
)

// Return values that identify the test phone become known values for the session, with their
// read; placeholders, calls without a return value and APIs whose value is no identifier do not.
func TestKnownValuesFromReturnValues(t *testing.T) {
	l := &Log{Format: FormatPilmon, Events: []Event{
		{Row: 2, API: "telephony.getDeviceId", Party: "sdk:umeng_analytics", Phase: PhaseBeforeConsent, DeviceTime: "2025-12-07T02:00:01.200Z", ReturnValue: "867530912345678", HasReturn: true},
		{Row: 3, API: "telephony.getDeviceId", Party: "sdk:umeng_analytics", Phase: PhaseBeforeConsent, DeviceTime: "2025-12-07T02:00:01.300Z", ReturnValue: "867530912345678", HasReturn: true},
		{Row: 4, API: "wifiinfo.getMacAddress", Party: "app", Phase: PhaseAfterConsent, ReturnValue: "02:00:00:00:00:00", HasReturn: true},
		{Row: 5, API: "oaid.msa", Party: "sdk:msa_oaid", Phase: PhaseAfterConsent, ReturnValue: "00000000-0000-0000-0000-000000000000", HasReturn: true},
		{Row: 6, API: "settings.androidId", Party: "app", Phase: PhaseAfterConsent, ReturnValue: "9774d56d682e549c"},
		{Row: 7, API: "location.lastKnown", Party: "app", Phase: PhaseAfterConsent, ReturnValue: "Location[gps 31.2,121.4]", HasReturn: true},
		{Row: 8, API: "settings.androidId", Party: "app", Phase: PhaseAfterConsent, ReturnValue: "9774d56d682e549c", HasReturn: true},
	}}
	got := KnownValues(l, "abc")
	if len(got) != 2 {
		t.Fatalf("known values %+v, want the IMEI once and the Android ID", got)
	}
	imei, aid := got[0], got[1]
	if imei.Field != "imei" || imei.Value != "867530912345678" || imei.Row != 2 || imei.Party != "sdk:umeng_analytics" ||
		imei.Phase != PhaseBeforeConsent || imei.EvidenceRef != "abc" || imei.Format != FormatPilmon {
		t.Errorf("IMEI read: %+v", imei)
	}
	if aid.Field != "android_id" || aid.Row != 8 {
		t.Errorf("Android ID read: %+v (the row without a return value is not it)", aid)
	}
}

func TestFrequency(t *testing.T) {
	ev := func(api, party string, ms int64) Event {
		return Event{API: api, Party: party, ms: ms, hasMs: true, Row: int(ms)}
	}
	l := &Log{Format: FormatPilmon, Events: []Event{
		// Umeng reads the IMEI twice within 300 ms: above one per second, not above 3 per session.
		ev("telephony.getDeviceId", "sdk:umeng_analytics", 1000), ev("telephony.getDeviceId", "sdk:umeng_analytics", 1300),
		// The app reads the Android ID four times, a minute apart: above 3 per session only.
		ev("settings.androidId", "app", 0), ev("settings.androidId", "app", 60000), ev("settings.androidId", "app", 120000), ev("settings.androidId", "app", 180000),
		// The app reads the clipboard once: neither.
		ev("clipboard.read", "app", 5000),
	}}
	obs := Frequency(l, nil, DefaultThresholds, ThresholdSource)
	got := map[string]map[string]any{}
	for _, o := range obs {
		got[o.Subject] = o.Attributes
	}
	u := got["telephony.getDeviceId by sdk:umeng_analytics"]
	if u == nil || u["max_per_second"] != 2 || u["count"] != 2 || u["exceeded"] != true || u["sdk"] != "umeng_analytics" || u["party_kind"] != "sdk" {
		t.Errorf("Umeng IMEI: %v", u)
	}
	a := got["settings.androidId by app"]
	if a == nil || a["max_per_second"] != 1 || a["count"] != 4 || a["exceeded"] != true || a["sdk"] != "" {
		t.Errorf("app Android ID: %v", a)
	}
	c := got["clipboard.read by app"]
	if c == nil || c["exceeded"] != false {
		t.Errorf("one clipboard read: %v", c)
	}
	// An analyst's thresholds replace the defaults.
	for _, o := range Frequency(l, nil, Thresholds{PerSecond: 5, PerSession: 10}, "analyst") {
		if o.Attributes["exceeded"] == true {
			t.Errorf("%s exceeds thresholds of 5/s and 10/session", o.Subject)
		}
	}
}
