package web

import (
	"archive/zip"
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/findings"
	"pilmon/scanner"
	"pilmon/store"
)

func TestTargetsScansChecklistAndExport(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin, ana, pat := e.login(accounts.RoleAdmin), e.login(accounts.RoleAnalyst), e.login(accounts.RoleProsecutor)

	// Add a target, scan it now: a job is queued for the workers and audited.
	res, _ := postTargetForm(t, admin, url.Values{"id": {"mp.new"}, "kind": {"miniprogram"}, "name": {"某小程序"},
		"category": {"online_shopping"}, "policy_url": {"https://example.com/privacy"}, "schedule_preset": {""}}, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add target: %d", res.StatusCode)
	}
	if res := ana.postForm("/targets/mp.new/scan", url.Values{}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("scan now: %d", res.StatusCode)
	}
	jobs, err := e.st.ReadJobs(ctx, "test", 10, -1)
	if err != nil || len(jobs) != 1 || jobs[0].Job.TargetID != "mp.new" || jobs[0].Job.RequestedBy != "ana" {
		t.Fatalf("jobs %+v %v", jobs, err)
	}

	// Scan history and the diff of the two newest scans.
	t0 := time.Now().Add(-time.Hour)
	for i, fps := range [][]string{{e.fps[0], e.fps[2]}, {e.fps[2], e.fps[4]}} {
		if _, err := e.st.SaveScan(ctx, store.ScanRecord{ID: []string{"20260101T000000Z-aaaaaaaaaaaa", "20260102T000000Z-bbbbbbbbbbbb"}[i],
			TargetID: e.target, StartedAt: t0.Add(time.Duration(i) * time.Minute), FinishedAt: t0.Add(time.Duration(i)*time.Minute + time.Second),
			Status: scanner.StatusSucceeded, Complete: true, Fingerprints: fps}); err != nil {
			t.Fatal(err)
		}
	}
	_, body := pat.get("/targets/" + e.target)
	if !strings.Contains(body, "新增 1 条，消失 1 条，仍存在 1 条。") || !strings.Contains(body, "20260102T000000Z-bbbbbbbbbbbb") {
		t.Errorf("target page lacks the scan history or diff")
	}

	// A manual checklist item with an uploaded screenshot: stored as evidence, hash recorded.
	rule := manualRule(e)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("_csrf", ana.csrf)
	mw.WriteField("result", ResultViolation)
	mw.WriteField("note", "拒绝定位权限后应用退出")
	fw, _ := mw.CreateFormFile("evidence", "../../etc/passwd.png")
	shot := pngBytes(t)
	fw.Write(shot)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, ana.base+"/targets/"+e.target+"/checklist/"+rule, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res, _ := ana.do(req); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("checklist record: %d", res.StatusCode)
	}
	cl, err := e.st.Checklist(ctx, e.target)
	if err != nil || cl[rule].Result != ResultViolation || len(cl[rule].Evidence) != 1 || cl[rule].By != "ana" {
		t.Fatalf("checklist %+v %v", cl[rule], err)
	}
	// The same bytes as the seeded screenshot: one more capture (custody event) of that blob.
	rec, err := e.ev.Stat(cl[rule].Evidence[0])
	lastCap := rec.Captures[len(rec.Captures)-1]
	if err != nil || lastCap.Method != "analyst_upload" || !strings.Contains(lastCap.Source, "by ana: passwd.png") || lastCap.MediaType != "image/png" {
		t.Fatalf("uploaded evidence %+v %v", rec, err)
	}
	// A viewer may read the checklist but not record.
	vic := e.login(accounts.RoleViewer)
	if _, body := vic.get("/targets/" + e.target + "/checklist"); !strings.Contains(body, "拒绝定位权限后应用退出") {
		t.Error("checklist page lacks the recorded note")
	}

	// Upload an APK as a source: evidence, a copy named by its hash in the upload folder, a source.
	buf.Reset()
	mw = multipart.NewWriter(&buf)
	mw.WriteField("_csrf", admin.csrf)
	mw.WriteField("kind", "apk")
	fw, _ = mw.CreateFormFile("file", "app.apk")
	fw.Write([]byte("PK\x03\x04 not really an apk"))
	mw.Close()
	req, _ = http.NewRequest(http.MethodPost, admin.base+"/targets/"+e.target+"/upload", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res, body := admin.do(req); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d %s", res.StatusCode, body)
	}
	tg, err := e.reg.Get(ctx, e.target)
	if err != nil {
		t.Fatal(err)
	}
	last := tg.Sources[len(tg.Sources)-1]
	if last.Kind != scanner.SourceAPK || filepath.Dir(last.Locator) != e.srv.cfg.UploadDir || !strings.HasSuffix(last.Locator, ".apk") {
		t.Fatalf("source %+v", last)
	}
	if b, err := os.ReadFile(last.Locator); err != nil || !bytes.HasPrefix(b, []byte("PK")) {
		t.Fatalf("uploaded copy: %v", err)
	}

	// Export: a zip bundle with the manifest, for a prosecutor only.
	res = pat.postForm("/findings/export", url.Values{"fp": {e.fps[0]}})
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/zip" {
		t.Fatalf("export: %d %v", res.StatusCode, res.Header)
	}
	req, _ = http.NewRequest(http.MethodPost, pat.base+"/findings/export", strings.NewReader(url.Values{"_csrf": {pat.csrf}, "target": {e.target}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r2, err := pat.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	zb.ReadFrom(r2.Body)
	r2.Body.Close()
	zr, err := zip.NewReader(bytes.NewReader(zb.Bytes()), int64(zb.Len()))
	if err != nil {
		t.Fatalf("export is not a zip: %v", err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	if !names["manifest.json"] || !names["findings.json"] || !names["evidence/"+e.shot+".png"] {
		t.Errorf("bundle members %v", names)
	}
	if res := ana.postForm("/findings/export", url.Values{"fp": {e.fps[0]}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst export: %d", res.StatusCode)
	}

	// Every change above is in the audit history, which only an admin reads.
	_, body = admin.get("/audit")
	for _, a := range []string{"target.add", "scan.requested", "checklist", "upload", "export"} {
		if !strings.Contains(body, ">"+a+"<") {
			t.Errorf("audit view lacks %s", a)
		}
	}
	_ = findings.StateNew
}
