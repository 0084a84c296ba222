package samplegen

import (
	"encoding/json"
	"time"
)

// The test phone of the fictional capture (values are made up, shaped like real ones).
const (
	DeviceIMEI  = "358240051111110"
	DeviceOAID  = "7d3f1c2a-5b6e-4f70-8a9b-0c1d2e3f4a5b"
	DevicePhone = "13800138000"
)

// DeviceValuesYAML is the device-values file of the capture (traffic/testdata/device_values.example.yaml).
func DeviceValuesYAML() []byte {
	return []byte(`# pilmon 生成的示例测试机标识（示例/generated，虚构）/ generated test-phone values (fictional)
imei: "` + DeviceIMEI + `"
oaid: ` + DeviceOAID + `
phone: "` + DevicePhone + `"
`)
}

// captureStart is the fixed start of the generated capture.
var captureStart = time.Date(2025, 1, 10, 9, 0, 0, 0, time.UTC)

type harNV struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harPost struct {
	MimeType string `json:"mimeType"`
	Text     string `json:"text"`
}

type harRequest struct {
	Method      string   `json:"method"`
	URL         string   `json:"url"`
	HTTPVersion string   `json:"httpVersion"`
	Headers     []harNV  `json:"headers"`
	QueryString []harNV  `json:"queryString"`
	Cookies     []harNV  `json:"cookies"`
	HeadersSize int      `json:"headersSize"`
	BodySize    int      `json:"bodySize"`
	PostData    *harPost `json:"postData,omitempty"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
}

type harResponse struct {
	Status      int        `json:"status"`
	StatusText  string     `json:"statusText"`
	HTTPVersion string     `json:"httpVersion"`
	Headers     []harNV    `json:"headers"`
	Cookies     []harNV    `json:"cookies"`
	Content     harContent `json:"content"`
	RedirectURL string     `json:"redirectURL"`
	HeadersSize int        `json:"headersSize"`
	BodySize    int        `json:"bodySize"`
}

type harEntry struct {
	StartedDateTime string         `json:"startedDateTime"`
	Time            int            `json:"time"`
	Request         harRequest     `json:"request"`
	Response        harResponse    `json:"response"`
	Cache           map[string]any `json:"cache"`
	Timings         map[string]int `json:"timings"`
}

type harConsent struct {
	Action  string `json:"action"`
	Time    string `json:"time"`
	Control string `json:"control,omitempty"`
}

type harLog struct {
	Version string            `json:"version"`
	Creator map[string]string `json:"creator"`
	Comment string            `json:"comment"`
	Consent []harConsent      `json:"_pilmon_consent"`
	Pages   []any             `json:"pages"`
	Entries []harEntry        `json:"entries"`
}

func post(at time.Duration, url, body string) harEntry {
	return harEntry{
		StartedDateTime: captureStart.Add(at).Format("2006-01-02T15:04:05.000Z07:00"),
		Time:            20,
		Request: harRequest{Method: "POST", URL: url, HTTPVersion: "HTTP/1.1",
			Headers: []harNV{{"Content-Type", "application/json"}}, QueryString: []harNV{}, Cookies: []harNV{},
			HeadersSize: -1, BodySize: len(body), PostData: &harPost{MimeType: "application/json", Text: body}},
		Response: harResponse{Status: 200, StatusText: "OK", HTTPVersion: "HTTP/1.1", Headers: []harNV{}, Cookies: []harNV{},
			Content: harContent{MimeType: "application/json"}, HeadersSize: -1, BodySize: 0},
		Cache: map[string]any{}, Timings: map[string]int{"send": 0, "wait": 20, "receive": 0},
	}
}

// HAR returns an app capture with the _pilmon_consent marker (the agree tap 5 s in). The
// violating capture sends the test phone's IMEI to Umeng's collection host 3.2 s before consent;
// both send the registered phone number to the operator's own API after consent.
func HAR(o Options) []byte {
	var entries []harEntry
	if !o.Clean {
		entries = append(entries, post(1800*time.Millisecond, "https://"+TrackerHost+"/unify_logs",
			`{"header":{"imei":"`+DeviceIMEI+`","appkey":"5f0000000000000000000000","os":"Android"}}`))
	}
	entries = append(entries, post(8*time.Second, "https://"+FirstParty+"/v1/login",
		`{"mobile":"`+DevicePhone+`","sms_code":"123456"}`))
	h := struct {
		Log harLog `json:"log"`
	}{harLog{
		Version: "1.2",
		Creator: map[string]string{"name": "pilmon samplegen", "version": "1"},
		Comment: "pilmon 生成的示例抓包（示例/generated），运营者为" + Operator,
		Consent: []harConsent{{Action: "agree", Time: captureStart.Add(5 * time.Second).Format("2006-01-02T15:04:05.000Z07:00"), Control: "text: 同意并继续"}},
		Pages:   []any{},
		Entries: entries,
	}}
	b, err := json.MarshalIndent(h, "", " ")
	if err != nil {
		panic(err) // fixed types: cannot fail
	}
	return append(b, '\n')
}
