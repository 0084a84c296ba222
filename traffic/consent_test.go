package traffic

import (
	"testing"
	"time"
)

// entryAt builds a request entry at 2024-05-01T10:00:<sec>Z.
func entryAt(i, sec int, method, url, body string, headers ...NV) *Entry {
	e := &Entry{Index: i, StartedDateTime: "2024-05-01T10:00:" + string(rune('0'+sec/10)) + string(rune('0'+sec%10)) + "Z",
		Request: Request{Method: flexString(method), URL: flexString(url), Headers: headers}}
	if body != "" {
		e.Request.PostData = &PostData{MimeType: "application/json", Text: flexString(body)}
	}
	return e
}

func TestConsentEndpoint(t *testing.T) {
	cases := []struct {
		e    *Entry
		want bool
	}{
		{entryAt(0, 0, "POST", "https://api.example.cn/user/privacy/agree", `{}`), true},
		{entryAt(0, 0, "POST", "https://api.example.cn/v1/agreePrivacyPolicy", `{}`), true},
		{entryAt(0, 0, "POST", "https://api.example.cn/v1/settings", `{"privacy_agree":true}`), true},
		{entryAt(0, 0, "GET", "https://api.example.cn/v1/report?isAgree=1", ``), true},
		{entryAt(0, 0, "POST", "https://api.example.cn/%E5%90%8C%E6%84%8F", `{}`), true}, // 同意
		// not the act of agreeing
		{entryAt(0, 0, "GET", "https://api.example.cn/user/privacy/agree", ``), false},                // a GET: as often a status check
		{entryAt(0, 0, "POST", "https://api.example.cn/privacy/disagree", `{}`), false},               // refusal
		{entryAt(0, 0, "POST", "https://api.example.cn/privacy/agree", `{"action":"refuse"}`), false}, // refusal in the body
		{entryAt(0, 0, "GET", "https://www.example.cn/user-agreement.html", ``), false},               // the document
		{entryAt(0, 0, "POST", "https://api.example.cn/privacy/agreement/get", `{}`), false},          // fetching the text
		{entryAt(0, 0, "GET", "https://cdn.cookielaw.org/consent/otSDKStub.js", ``), false},           // a CMP script
		{entryAt(0, 0, "GET", "https://ad.example.net/bid?gdpr_consent=1", ``), false},                // an ad beacon's field
		{entryAt(0, 0, "POST", "https://api.example.cn/v1/settings", `{"agree":false}`), false},
	}
	for _, c := range cases {
		u, err := parseRequestURL(string(c.e.Request.URL))
		if err != nil {
			t.Fatal(err)
		}
		if got := consentEndpoint(c.e, u); got != c.want {
			t.Errorf("%s %s %s: consent endpoint %v, want %v", c.e.Request.Method, c.e.Request.URL, c.e.Request.PostData, got, c.want)
		}
	}
}

// phases runs entries through an analyzer and returns phase and phase_source per pi_sent host.
func phases(t *testing.T, opts Options, info *Info, es ...*Entry) (map[string][2]string, *Result) {
	t.Helper()
	a := NewAnalyzer(testCatalogue(t), opts)
	for _, e := range es {
		a.Add(e)
	}
	if info == nil {
		info = &Info{}
	}
	res := a.Finish(info)
	got := map[string][2]string{}
	for _, o := range res.Observations {
		if o.Kind == "traffic.pi_sent" {
			got[o.Attributes["host"].(string)] = [2]string{o.Attributes["phase"].(string), o.Attributes["phase_source"].(string)}
		}
	}
	return got, res
}

func TestConsentPhaseSources(t *testing.T) {
	const imei = "?imei=358240051111110"
	early := entryAt(0, 1, "GET", "https://early.example"+imei, "")
	near := entryAt(1, 8, "GET", "https://near.example"+imei, "")
	agree := entryAt(2, 10, "POST", "https://api.example.cn/privacy/agree", `{}`)
	late := entryAt(3, 20, "GET", "https://late.example"+imei, "")

	// endpoint: before it (beyond the grace) before_consent, within the grace unknown, after it after_consent
	got, res := phases(t, Options{}, nil, late, agree, near, early) // any order
	want := map[string][2]string{"early.example": {PhaseBefore, PhaseSourceEndpoint}, "near.example": {PhaseUnknown, PhaseSourceEndpoint}, "late.example": {PhaseAfterConsent, PhaseSourceEndpoint}}
	for h, w := range want {
		if got[h] != w {
			t.Errorf("endpoint: %s = %v, want %v", h, got[h], w)
		}
	}
	if res.Consent == nil || res.Consent.Source != "consent_endpoint" {
		t.Errorf("endpoint consent: %+v", res.Consent)
	}

	// consent_url none: no consent moment, every phase unknown, and the scan says so
	got, res = phases(t, Options{NoConsentEndpoint: true}, nil, early, agree, late)
	if got["early.example"] != [2]string{PhaseUnknown, PhaseSourceNone} || got["late.example"] != [2]string{PhaseUnknown, PhaseSourceNone} {
		t.Errorf("no consent: %v", got)
	}
	if o := res.Observations[0]; o.Kind != "traffic.consent_event" || o.Attributes["action"] != ConsentNone {
		t.Errorf("no consent_event none first: %+v", res.Observations)
	}

	// pilmon's request marker (query parameter or header) outranks an endpoint
	mark := entryAt(4, 5, "GET", "https://pilmon.invalid/?_pilmon_consent=agree", "")
	got, _ = phases(t, Options{}, nil, early, near, agree, late, mark)
	if got["early.example"] != [2]string{PhaseBefore, PhaseSourceMarker} || got["near.example"] != [2]string{PhaseAfterConsent, PhaseSourceMarker} {
		t.Errorf("request marker: %v", got)
	}
	hdr := entryAt(4, 5, "POST", "https://api.example.cn/x", `{}`, NV{Name: "X-Pilmon-Consent", Value: "refuse"})
	got, _ = phases(t, Options{}, nil, early, near, hdr)
	if got["near.example"] != [2]string{PhaseAfterRefusal, PhaseSourceMarker} {
		t.Errorf("header marker: %v", got)
	}

	// the HAR's log marker outranks a request marker; the analyst's time outranks both
	info := &Info{Consent: []ConsentMarker{{Action: "agree", Time: "2024-05-01T10:00:09Z"}}}
	got, _ = phases(t, Options{}, info, near, mark)
	if got["near.example"] != [2]string{PhaseBefore, PhaseSourceMarker} {
		t.Errorf("log marker: %v", got)
	}
	got, _ = phases(t, Options{ConsentAt: mustTime(t, "2024-05-01T10:00:00Z")}, info, early, mark)
	if got["early.example"] != [2]string{PhaseAfterConsent, PhaseSourceAnalyst} {
		t.Errorf("analyst: %v", got)
	}
}

func TestRecipientParty(t *testing.T) {
	es := []*Entry{
		entryAt(0, 1, "POST", "https://ulogs.umeng.com/unify_logs", `{"imei":"358240051111110"}`),
		entryAt(1, 1, "GET", "https://www.google-analytics.com/collect?uid=zhang.san@example.com", ""),
		entryAt(2, 1, "GET", "https://api.shop.example.com/u?mobile=13812345678", ""),
		entryAt(3, 1, "GET", "https://cdn.other.example.net/u?mobile=13812345678", ""),
	}
	a := NewAnalyzer(testCatalogue(t), Options{AppPackage: "com.example.shop", NoConsentEndpoint: true})
	for _, e := range es {
		a.Add(e)
	}
	want := map[string][2]any{
		"ulogs.umeng.com":          {"sdk:umeng_analytics", true},
		"www.google-analytics.com": {"sdk:google_analytics", true}, // derived from Exodus's Google Analytics
		"api.shop.example.com":     {PartyOperator, false},         // com.example.shop -> example.com
		"cdn.other.example.net":    {PartyUnknown, false},          // on no list: not claimed a third party
	}
	for _, o := range a.Finish(nil).Observations {
		if o.Kind != "traffic.pi_sent" {
			continue
		}
		h := o.Attributes["host"].(string)
		if w := want[h]; o.Attributes["recipient_party"] != w[0] || o.Attributes["third_party"] != w[1] || o.Attributes["recipient"] != h {
			t.Errorf("%s: recipient_party %v third_party %v, want %v", h, o.Attributes["recipient_party"], o.Attributes["third_party"], w)
		}
		if o.Attributes["match"] != "validated_pattern" {
			t.Errorf("%s: match %v", h, o.Attributes["match"])
		}
		if w := want[h]; w[1] == true && o.Attributes["recipient_name"] == "" {
			t.Errorf("%s: no vendor name", h)
		}
		delete(want, h)
	}
	if len(want) > 0 {
		t.Errorf("not observed: %v", want)
	}
	for pkg, d := range map[string]string{"com.example.shop": "example.com", "com.tencent.mm": "tencent.com", "cn.gov": "", "x": ""} {
		if got := packageDomain(pkg); got != d {
			t.Errorf("packageDomain(%q) = %q, want %q", pkg, got, d)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
