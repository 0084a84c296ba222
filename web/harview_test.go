package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

const testHAR = `{"log":{"version":"1.2","entries":[
 {"startedDateTime":"2026-01-01T00:00:00Z","request":{"method":"GET","url":"https://example.com/","headers":[],"queryString":[],"cookies":[]},"response":{"status":200}},
 {"startedDateTime":"2026-01-01T00:00:01Z","request":{"method":"POST","url":"https://ulogs.umeng.com/unify_logs?imei=860000000000001&x=<b>1</b>",
  "headers":[{"name":"X-Evil","value":"<script>alert(1)</script>"}],"queryString":[{"name":"imei","value":"860000000000001"}],"cookies":[],
  "postData":{"mimeType":"application/json","text":"{\"header\":{\"imei\":\"860000000000001\",\"os\":\"<img src=x onerror=alert(2)>\"}}"}},"response":{"status":200}}]}}`

// TestHARViewer: the request a finding cites opens with the matched value marked in the URL, the
// query and the JSON body; every string of the HAR is escaped; a value under another key is not
// marked; an artifact that is no HAR is refused.
func TestHARViewer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ref, err := e.ev.Put(strings.NewReader(testHAR), evidence.Meta{CapturedAt: time.Now().UTC(), Method: "browser_capture",
		Source: "https://example.com/", MediaType: "application/json", Note: "HAR 1.2 written by pilmon live capture"})
	if err != nil {
		t.Fatal(err)
	}
	v := e.cat.Violations()[0]
	mk := func(key string) string {
		r, err := e.st.Upsert(ctx, findings.Finding{TargetID: e.target, RuleID: v.ID, Subject: "pi:device_id_hw->ulogs.umeng.com#" + key, Severity: v.Severity,
			Summary: rules.Text{ZH: "x"}, Observations: []scanner.Observation{{Kind: "traffic.pi_sent", Subject: "device_id_hw -> ulogs.umeng.com",
				Attributes:   map[string]any{"pi": []any{"device_id_hw"}, "entry_index": 1, "key": key, "location": "query", "sample": "860…01"},
				EvidenceRefs: []string{ref.SHA256}}}}, "scan-har")
		if err != nil {
			t.Fatal(err)
		}
		return r.Fingerprint
	}
	fp, other := mk("imei"), mk("os_version")
	ana := e.login(accounts.RoleAnalyst)
	res, body := ana.get("/evidence/" + ref.SHA256 + "/har?f=" + fp)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HAR viewer: %d", res.StatusCode)
	}
	if n := strings.Count(body, "<mark>860000000000001</mark>"); n < 3 {
		t.Errorf("the matched value is marked %d times, want URL, query and body", n)
	}
	if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") || strings.Contains(body, "<b>1</b>") ||
		!strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("HAR content is not escaped")
	}
	if !strings.Contains(body, `href="/findings/`+fp+`"`) {
		t.Error("the viewer does not link back to the finding")
	}
	if _, body := ana.get("/evidence/" + ref.SHA256 + "/har?f=" + other); strings.Contains(body, "<mark>") || !strings.Contains(body, "未能在此请求中定位匹配值") {
		t.Error("a key the request does not hold marked something, or the viewer did not say so")
	}
	if _, body := ana.get("/evidence/" + ref.SHA256 + "/har"); strings.Contains(body, "<mark>") || !strings.Contains(body, "全部请求（共 2 条）") {
		t.Error("the plain viewer marks or lacks the list")
	}
	if res, _ := ana.get("/evidence/" + e.shot + "/har"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("a screenshot as HAR: %d, want 400", res.StatusCode)
	}
	// The finding page offers the viewer; the evidence page lists the findings that cite it.
	if _, body := ana.get("/findings/" + fp); !strings.Contains(body, "/evidence/"+ref.SHA256+"/har?f="+fp) {
		t.Error("the finding page does not offer the request viewer")
	}
	if _, body := ana.get("/evidence/" + ref.SHA256); !strings.Contains(body, `href="/findings/`+fp+`"`) || !strings.Contains(body, `href="/findings/`+other+`"`) {
		t.Error("the evidence page does not link back to its findings")
	}
	if _, body := ana.get("/evidence/" + e.page); strings.Contains(body, `href="/findings/`+fp+`"`) || !strings.Contains(body, `href="/findings/`+e.fps[0]+`"`) {
		t.Error("the evidence page links findings that do not cite it, or not the one that does")
	}
}

// FuzzHighlight: whatever the text and values, the result holds no markup but the marks, and
// unmarked it is the escaped text.
func FuzzHighlight(f *testing.F) {
	f.Add("https://x/?imei=123456&a=<b>", "123456")
	f.Add("<mark>", "mark")
	f.Add("aaaa", "aa")
	f.Fuzz(func(t *testing.T, s, v string) {
		out := string(highlight(s, []string{v}))
		plain := strings.ReplaceAll(strings.ReplaceAll(out, "<mark>", ""), "</mark>", "")
		if plain != string(highlight(s, nil)) {
			t.Fatalf("highlight(%q, %q) changes the text: %q", s, v, out)
		}
		if strings.ContainsAny(plain, "<>") {
			t.Fatalf("unescaped markup in %q", out)
		}
	})
}

// FuzzMarkValues: any request and body give a bounded list of values and no panic.
func FuzzMarkValues(f *testing.F) {
	f.Add("https://x/?imei=1234", `{"imei":"123456","a":[{"imei":1234567}]}`, "imei")
	f.Add("::", "imei=12345&imei=67890", "IMEI")
	f.Add("", "[[[[[[[[[[", "")
	f.Fuzz(func(t *testing.T, u, body, key string) {
		var e harEntry
		e.Request.URL = u
		e.Request.Headers = []harNV{{Name: key, Value: body}}
		vals := markValues(&e, body, []string{key})
		if len(vals) > maxHARMarks {
			t.Fatalf("%d values", len(vals))
		}
		for _, v := range vals {
			if len(v) < minMarkLength {
				t.Fatalf("short value %q", v)
			}
		}
	})
}
