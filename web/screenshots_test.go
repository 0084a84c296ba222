package web

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// TestCaptureScreenshotsLinked: a policy finding cites the captured page; the screenshot the same
// capture took (same URL, same scan) is shown with it as a thumbnail, marked as linked; one from
// another URL, or from another scan, is not. Confidence reads in Chinese.
func TestCaptureScreenshotsLinked(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := time.Now().UTC()
	put := func(body []byte, method, src, mt string) string {
		r, err := e.ev.Put(bytes.NewReader(body), evidence.Meta{CapturedAt: now, Method: method, Source: src, MediaType: mt})
		if err != nil {
			t.Fatal(err)
		}
		return r.SHA256
	}
	page := put([]byte("<html><body>隐私政策 v2</body></html>"), "browser_capture", "https://op.example/privacy", "text/html; charset=utf-8")
	same := put(pngBytes(t)[:len(pngBytes(t))-1], "browser_capture", "https://op.example/privacy", "image/png")
	other := put(append(pngBytes(t), 0), "browser_capture", "https://elsewhere.example/", "image/png")
	v := e.cat.Violations()[0]
	r, err := e.st.Upsert(ctx, findings.Finding{TargetID: e.target, RuleID: v.ID, Subject: "policy:document", Severity: v.Severity, Confidence: "medium",
		Summary: rules.Text{ZH: "x"}, EvidenceRefs: []string{page}}, "20260401T000000Z-cccccccccccc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SaveScan(ctx, store.ScanRecord{ID: "20260401T000000Z-cccccccccccc", TargetID: e.target, StartedAt: now, FinishedAt: now,
		Status: scanner.StatusSucceeded, Complete: true, Evidence: []string{page, same, other}}); err != nil {
		t.Fatal(err)
	}
	ana := e.login(accounts.RoleAnalyst)
	_, body := ana.get("/findings/" + r.Fingerprint)
	if !strings.Contains(body, `src="/evidence/`+same+`/image"`) || !strings.Contains(body, "同一次采集的截图") {
		t.Error("the capture's screenshot is not linked")
	}
	if strings.Contains(body, other) {
		t.Error("a screenshot of another URL is linked")
	}
	if !strings.Contains(body, "可信度 中") {
		t.Error("confidence is not in Chinese")
	}
	// The finding's last scan is what links: a finding of a scan without the screenshot shows none.
	r2, err := e.st.Upsert(ctx, findings.Finding{TargetID: e.target, RuleID: v.ID, Subject: "policy:none", Severity: v.Severity,
		Summary: rules.Text{ZH: "x"}, EvidenceRefs: []string{page}}, "20260402T000000Z-dddddddddddd")
	if err != nil {
		t.Fatal(err)
	}
	if _, body := ana.get("/findings/" + r2.Fingerprint); strings.Contains(body, same) {
		t.Error("a screenshot of another scan is linked")
	}
}
