package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/scanner"
	"pilmon/store"
)

// postTargetForm posts the add-target form: the fields, then the files (field → name and bytes).
func postTargetForm(t *testing.T, c *client, fields url.Values, files map[string][2]string) (*http.Response, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("_csrf", c.csrf)
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	for field, f := range files {
		fw, _ := mw.CreateFormFile(field, f[0])
		fw.Write([]byte(f[1]))
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/targets", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// TestAddTargetInOneForm: an analyst registers an app with its APK and policy file and a preset
// schedule in one form; a wrong field comes back beside the field with what was typed and stores
// nothing; an app without its APK is refused; a bad cron spec is refused in place.
func TestAddTargetInOneForm(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ana := e.login(accounts.RoleAnalyst)
	ana.get("/targets")
	base := url.Values{"id": {"com.example.torch"}, "kind": {"app"}, "name": {"超亮手电筒"}, "operator": {"某某科技有限公司"},
		"category": {"map_navigation"}, "schedule_preset": {"0 3 * * 1"}}
	files := map[string][2]string{"apk": {"torch.apk", "PK\x03\x04 not really an apk"}, "policy": {"隐私政策.html", "<html><body>隐私政策</body></html>"}}

	// A bad cron spec: 400, the form again with the typed values and the message beside it.
	bad := url.Values{}
	for k, v := range base {
		bad[k] = v
	}
	bad.Set("schedule_preset", "custom")
	bad.Set("schedule", "61 3 * * *")
	before := e.storeFiles()
	res, body := postTargetForm(t, ana, bad, files)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "无法识别的定时") || !strings.Contains(body, `value="61 3 * * *"`) ||
		!strings.Contains(body, `value="超亮手电筒"`) || !strings.Contains(body, "文件需重新选择") {
		t.Errorf("bad schedule: %d, the form is not shown again with the message and the values", res.StatusCode)
	}
	if after := e.storeFiles(); len(after) != len(before) {
		t.Errorf("a refused form stored files: %d → %d", len(before), len(after))
	}
	// An app without its APK.
	res, body = postTargetForm(t, ana, base, nil)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "应用类目标须上传 APK") {
		t.Errorf("app without APK: %d", res.StatusCode)
	}
	if _, err := e.reg.Get(ctx, "com.example.torch"); err == nil {
		t.Fatal("a refused form registered the target")
	}
	// The whole form.
	res, _ = postTargetForm(t, ana, base, files)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/targets/com.example.torch?flash=saved" {
		t.Fatalf("add: %d → %s", res.StatusCode, res.Header.Get("Location"))
	}
	tg, err := e.reg.Get(ctx, "com.example.torch")
	if err != nil || tg.Schedule != "0 3 * * 1" || tg.Operator != "某某科技有限公司" || len(tg.Sources) != 2 ||
		tg.Sources[0].Kind != scanner.SourceAPK || tg.Sources[1].Kind != scanner.SourcePolicyFile {
		t.Fatalf("target %+v %v", tg, err)
	}
	for _, src := range tg.Sources {
		if _, err := os.Stat(src.Locator); err != nil {
			t.Errorf("source %s not written: %v", src.Locator, err)
		}
	}
	// The target page shows the next run, in Beijing time with the zone.
	_, body = ana.get("/targets/com.example.torch")
	next := nextRun("0 3 * * 1", time.Now())
	if !strings.Contains(body, "下次运行 "+next.In(Shanghai).Format("2006-01-02")+" 03:00:00 北京时间") {
		t.Error("the target page lacks the next run")
	}
	// The same id again: refused beside the id.
	if res, body := postTargetForm(t, ana, base, files); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "该标识已存在") {
		t.Errorf("duplicate id: %d", res.StatusCode)
	}
	// A plain form (no files) is checked for its CSRF token like any other.
	if res := ana.postForm("/targets", url.Values{"id": {"site.plain"}, "kind": {"site"}, "name": {"站点"}, "h5_url": {"https://example.cn/"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("plain form: %d", res.StatusCode)
	}
	if res := ana.postForm("/targets", url.Values{"_csrf": {"forged"}, "id": {"site.forged"}, "kind": {"site"}, "name": {"站点"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("plain form with a forged token: %d", res.StatusCode)
	}
	// A viewer may not register targets.
	vic := e.login(accounts.RoleViewer)
	vic.get("/targets")
	if res, _ := postTargetForm(t, vic, url.Values{"id": {"x.y"}, "kind": {"site"}, "name": {"x"}}, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("viewer adds a target: %d", res.StatusCode)
	}
}

// TestScheduleInPlace: the schedule form takes a preset or a cron spec; a bad spec is shown on
// the target page beside the field and changes nothing.
func TestScheduleInPlace(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ana := e.login(accounts.RoleAnalyst)
	ana.get("/targets/" + e.target)
	if res := ana.postForm("/targets/"+e.target+"/schedule", url.Values{"schedule_preset": {"@hourly"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("preset: %d", res.StatusCode)
	}
	if tg, _ := e.reg.Get(ctx, e.target); tg.Schedule != "@hourly" {
		t.Errorf("schedule %q", tg.Schedule)
	}
	form := url.Values{"schedule_preset": {"custom"}, "schedule": {"0 3 * *"}, "_csrf": {ana.csrf}}
	req, _ := http.NewRequest(http.MethodPost, ana.base+"/targets/"+e.target+"/schedule", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, body := ana.do(req)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "无法识别的定时") || !strings.Contains(body, `value="0 3 * *"`) {
		t.Errorf("bad spec: %d", res.StatusCode)
	}
	if tg, _ := e.reg.Get(ctx, e.target); tg.Schedule != "@hourly" {
		t.Errorf("a bad spec changed the schedule to %q", tg.Schedule)
	}
	if res := ana.postForm("/targets/"+e.target+"/schedule", url.Values{"schedule_preset": {"custom"}, "schedule": {"30 2 * * *"}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("cron: %d", res.StatusCode)
	}
	if res := ana.postForm("/targets/"+e.target+"/schedule", url.Values{"schedule_preset": {"nonsense"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown preset: %d", res.StatusCode)
	}
}

// TestTargetIdentity: the target page names the app as the latest scan that read it recorded
// it: package, version, signer, where the APK came from; a target never scanned shows none.
func TestTargetIdentity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ana := e.login(accounts.RoleAnalyst)
	if _, body := ana.get("/targets/" + e.target); strings.Contains(body, "应用身份") {
		t.Error("identity shown for a target never scanned")
	}
	apk := strings.Repeat("d", 64)
	for i, ver := range []string{"1.0.0", "2.1.0"} {
		if _, err := e.st.SaveScan(ctx, store.ScanRecord{ID: []string{"20260101T000000Z-aaaaaaaaaaaa", "20260201T000000Z-bbbbbbbbbbbb"}[i], TargetID: e.target,
			StartedAt: time.Now().Add(time.Duration(i-2) * time.Hour), FinishedAt: time.Now(), Status: scanner.StatusSucceeded, Complete: true,
			Runs: []store.InspectorRun{{Source: scanner.Source{Kind: scanner.SourceAPK, Locator: "/srv/uploads/x.apk"}, Inspector: "apkinspect"}},
			Identity: []scanner.Observation{
				{Kind: "apk.identity", Attributes: map[string]any{"package": "com.example.torch", "version_name": ver, "version_code": "21", "label": "超亮手电筒"}, EvidenceRefs: []string{apk}},
				{Kind: "apk.certificate", Attributes: map[string]any{"subject_dn": "CN=Example Torch", "sha256": strings.Repeat("e", 64)}}}}); err != nil {
			t.Fatal(err)
		}
	}
	_, body := ana.get("/targets/" + e.target)
	for _, want := range []string{"com.example.torch", "2.1.0 (21)", "CN=Example Torch", strings.Repeat("e", 64), "/evidence/" + apk, "分析人员上传或导入的文件"} {
		if !strings.Contains(body, want) {
			t.Errorf("the identity lacks %q", want)
		}
	}
	if strings.Contains(body, "1.0.0") || strings.Contains(body, "/srv/uploads") {
		t.Error("the identity shows an older scan's version or a server path")
	}
}
