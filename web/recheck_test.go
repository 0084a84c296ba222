package web

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/scanner"
	"pilmon/store"
)

// TestRecheckFailureShown: a 整改复查 whose scan job is dead-lettered shows 复查失败 with the
// reason and a retry on the case, instead of 复查中 for ever; a dead letter of another job does
// not; running it again waits for the new scan; a recorded scan that read no source fails too.
func TestRecheckFailureShown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pat := e.login(accounts.RoleProsecutor)
	c := e.seedCase("京检行公建〔2026〕9号", docDateDueIn(t, 30), e.fps[2])
	casePath := "/cases/" + c.ID

	// deadLetter does what a worker does with a job that keeps failing, on the real queue (a
	// job read once stays delivered to this consumer, so the read ones are kept).
	delivered := map[string]store.JobMessage{}
	deadLetter := func(scanID string, cause error) {
		t.Helper()
		msgs, err := e.st.ReadJobs(ctx, "test-worker", 100, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			delivered[m.Job.ID] = m
		}
		for _, m := range delivered {
			if m.Job.ID == scanID {
				if err := e.st.DeadLetter(ctx, m, cause); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
		t.Fatalf("job %s not in the queue", scanID)
	}
	recheck := func() string {
		t.Helper()
		pat.get(casePath)
		if res := pat.postForm(casePath+"/recheck", url.Values{}); res.StatusCode != 303 {
			t.Fatalf("recheck: %d", res.StatusCode)
		}
		cur, err := e.st.Case(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return cur.RecheckScan
	}
	first := recheck()
	// Another job's dead letter says nothing of this one.
	if _, err := e.st.EnqueueJob(ctx, store.Job{ID: "scan-unrelated", TargetID: e.target, RequestedBy: "t"}); err != nil {
		t.Fatal(err)
	}
	deadLetter("scan-unrelated", errors.New("unrelated failure"))
	if _, body := pat.get(casePath); !strings.Contains(body, "复查扫描尚未完成") || strings.Contains(body, "复查失败") {
		t.Fatal("the case does not wait for its own re-scan")
	}

	deadLetter(first, errors.New("target app.demo: policy_url: fetch refused"))
	_, body := pat.get(casePath)
	for _, want := range []string{`class="error recheck-failed"`, "复查失败", "fetch refused", `outcome outcome-failed">复查失败`, "重新运行整改复查"} {
		if !strings.Contains(body, want) {
			t.Errorf("after the dead letter the case page lacks %q", want)
		}
	}
	if strings.Contains(body, "复查扫描尚未完成") {
		t.Error("a dead-lettered re-scan still shows as running")
	}

	// Retry: a new scan, waited for; the old failure is no longer shown.
	second := recheck()
	if second == first {
		t.Fatal("retry did not queue a new scan")
	}
	if _, body := pat.get(casePath); !strings.Contains(body, "复查扫描尚未完成") || strings.Contains(body, "recheck-failed") {
		t.Error("after the retry the case does not wait for the new scan")
	}

	// A scan recorded with no source read is a failed re-scan as well, with the sources' reasons.
	rec := store.ScanRecord{ID: second, TargetID: e.target, StartedAt: time.Now(), FinishedAt: time.Now(), Status: scanner.StatusFailed,
		Runs: []store.InspectorRun{{Inspector: "policies", Status: scanner.StatusFailed, Errors: []scanner.FileError{{Reason: "HTTP 503 from the policy URL"}}}}}
	if _, err := e.st.SaveScan(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, body := pat.get(casePath); !strings.Contains(body, "recheck-failed") || !strings.Contains(body, "HTTP 503 from the policy URL") {
		t.Error("a recorded re-scan that read no source is not shown as failed")
	}
}
