package traffic

import (
	"path/filepath"
	"strings"
	"testing"

	"pilmon/rules"
)

// A tiny Exodus Privacy tracker export: one tracker the catalogue does not know (a new overlay
// SDK with two network signatures) and Umeng, whose code signature the catalogue covers (its
// extra host becomes an extension of the catalogue's Umeng entry).
const tinyExodus = `{"trackers": {
  "9001": {"id": 9001, "name": "Overlay Only Analytics", "code_signature": "com.overlayonly.sdk.", "network_signature": "ovl-metrics\\.example\\.net|.*\\.collect\\.ovl-ads\\.example\\.org", "website": "https://ovl.example", "categories": ["Analytics"]},
  "119": {"id": 119, "name": "Umeng Analytics", "code_signature": "com.umeng.analytics", "network_signature": "umeng-extra-only-in-overlay\\.example\\.com", "website": "https://www.umeng.com", "categories": ["Analytics"]}
}}`

// Attribution by Exodus network signatures: with the overlay written by `pilmon rules
// import-exodus` loaded, hosts that only the overlay knows are attributed (SDKForHost), counted
// as trackers, and PI sent to them says which SDK received it; without the overlay they are not.
func TestAttributionByExodusOverlay(t *testing.T) {
	base, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	ov, st, err := rules.ImportExodus(strings.NewReader(tinyExodus), base)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewSDKs != 1 || st.Extended != 1 {
		t.Fatalf("import stats %+v, want one new SDK and one extension", st)
	}
	path := filepath.Join(t.TempDir(), "rules-overlay.yaml")
	if err := rules.SaveOverlay(path, ov); err != nil {
		t.Fatal(err)
	}
	withOverlay, err := rules.LoadWithOverlay(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov.Extensions) != 1 || !strings.HasPrefix(ov.Extensions[0].SDK, "umeng") {
		t.Fatalf("extensions %+v, want one of a catalogue Umeng SDK", ov.Extensions)
	}
	umeng := ov.Extensions[0].SDK
	hosts := map[string]string{
		"ovl-metrics.example.net":                 "exodus-9001",
		"a.b.collect.ovl-ads.example.org":         "exodus-9001",
		"umeng-extra-only-in-overlay.example.com": umeng, // the catalogue's entry, extended
	}
	for host, want := range hosts {
		if sdk, ok := base.SDKForHost(host); ok {
			t.Fatalf("%s already attributed without the overlay (%s): pick another host", host, sdk.ID)
		}
		// the analyzer's own attribution
		plain := newAttributor(base, nil, []string{"shop.example.cn"}).attribute(host)
		if plain.SDK != "" || plain.Tracker {
			t.Errorf("%s: attributed without the overlay: %+v", host, plain)
		}
		at := newAttributor(withOverlay, nil, []string{"shop.example.cn"}).attribute(host)
		if !at.Tracker || !at.ThirdParty || at.SDK == "" {
			t.Errorf("%s: not attributed with the overlay: %+v", host, at)
			continue
		}
		if at.SDK != want {
			t.Errorf("%s: SDK %q, want %q", host, at.SDK, want)
		}
	}
	// End to end: PI sent to an overlay-only host before consent names the overlay SDK.
	e := &Entry{StartedDateTime: "2024-05-01T10:00:01.000Z", Request: Request{Method: "GET",
		URL: "https://ovl-metrics.example.net/c?imei=358240051111110&os=android"}}
	res := func(cat *rules.Catalogue) *Result {
		a := NewAnalyzer(cat, Options{FirstPartyDomains: []string{"shop.example.cn"}, ConsentAction: "agree"})
		a.Add(e)
		return a.Finish(&Info{Consent: []ConsentMarker{{Action: "agree", Time: "2024-05-01T10:00:05.000Z"}}})
	}
	var sent, contacted bool
	for _, o := range res(withOverlay).Observations {
		switch o.Kind {
		case "traffic.pi_sent":
			sent = sent || o.Attributes["sdk"] == "exodus-9001" && o.Attributes["phase"] == PhaseBefore && o.Attributes["third_party"] == true
		case "traffic.tracker_contacted":
			contacted = contacted || o.Attributes["sdk"] == "exodus-9001"
		}
	}
	if !sent || !contacted {
		t.Errorf("with the overlay: pi_sent attributed %v, tracker_contacted %v", sent, contacted)
	}
	for _, o := range res(base).Observations {
		if o.Kind == "traffic.tracker_contacted" || o.Attributes["sdk"] != nil && o.Attributes["sdk"] != "" {
			t.Errorf("without the overlay the host is unknown, got %s %v", o.Kind, o.Attributes)
		}
	}
}
