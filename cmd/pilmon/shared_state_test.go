package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"pilmon/findings"
	"pilmon/internal/testredis"
	"pilmon/samplegen"
	"pilmon/scanner"
	"pilmon/store"
)

// cleanEnv keeps the tests on their own data dir whatever the developer's shell exports.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"PILMON_REDIS", "PILMON_REDIS_URL", "PILMON_PREFIX", "PILMON_IMPORT_ROOT", "PILMON_DATA_DIR"} {
		t.Setenv(k, "")
	}
}

// servedDashboard is a running pilmon serve (in process) with an API token of its admin.
type servedDashboard struct {
	base, token, adminPassword string
	stop                       func()
}

// startServe runs pilmon serve with only --data-dir (a free port, no in-process workers) and
// creates an API token with pilmon user token.
func startServe(t *testing.T, data string) *servedDashboard {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--workers", "0"}, strings.NewReader(""), &out, &errs)
	}()
	addrRE := regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+)/`)
	pwRE := regexp.MustCompile(`\n\s+(\S{20,})\n`)
	d := &servedDashboard{}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && d.base == ""; time.Sleep(50 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			d.base = m[1]
			if p := pwRE.FindStringSubmatch(out.String()); p != nil {
				d.adminPassword = p[1]
			}
		}
	}
	d.stop = func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exit %d: %s", code, errs.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}
	if d.base == "" {
		d.stop()
		t.Fatalf("serve did not start: stdout %q stderr %q", out.String(), errs.String())
	}
	code, tok, errb := runCLI(t, "user", "token", "admin", "--data-dir", data)
	if code != exitOK {
		d.stop()
		t.Fatalf("user token: %d %s", code, errb)
	}
	d.token = strings.TrimSpace(tok)
	return d
}

func (d *servedDashboard) do(t *testing.T, method, path string, form url.Values) (int, []byte) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, d.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// addOnDashboard adds a target with the dashboard's form, logged in as admin.
func (d *servedDashboard) addOnDashboard(t *testing.T, form url.Values) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrf := func(path string) string {
		res, err := c.Get(d.base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(b)
		if m == nil {
			t.Fatalf("no CSRF token on %s (%d)", path, res.StatusCode)
		}
		return string(m[1])
	}
	post := func(path string, v url.Values) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, d.base+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", d.base)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := post("/login", url.Values{"_csrf": {csrf("/login")}, "username": {"admin"}, "password": {d.adminPassword}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", res.StatusCode)
	}
	form.Set("_csrf", csrf("/targets"))
	if res := post("/targets", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /targets: %d", res.StatusCode)
	}
}

// apiTargetIDs returns the registered targets GET /api/v1/targets lists.
func (d *servedDashboard) apiTargetIDs(t *testing.T) []string {
	t.Helper()
	code, b := d.do(t, http.MethodGet, "/api/v1/targets", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /api/v1/targets: %d %s", code, b)
	}
	var rows []struct {
		Target     scanner.Target `json:"target"`
		Registered bool           `json:"registered"`
	}
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("GET /api/v1/targets: %v\n%s", err, b)
	}
	var ids []string
	for _, r := range rows {
		if r.Registered {
			ids = append(ids, r.Target.ID)
		}
	}
	return ids
}

// writePolicy puts a policy file (retention period and account deletion left out, so it raises
// findings) in the default import folder of the data dir.
func writePolicy(t *testing.T, data string) string {
	t.Helper()
	p := filepath.Join(data, "import", "policy.txt")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(samplegen.PolicyText(1<<8|1<<11)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// A target added with pilmon target add (as the guide says) is on the dashboard of a pilmon serve
// on the same data dir, and one added on the dashboard is in pilmon target list: both use the
// one configuration's prefix with default flags.
func TestTargetAddedOnTheCLIIsOnTheDashboard(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (Debian package redis-server)")
	}
	cleanEnv(t)
	data := t.TempDir()
	writePolicy(t, data)
	d := startServe(t, data)
	defer d.stop()
	if code, _, errs := runCLI(t, "target", "add", "--id", "app:cli", "--kind", "app", "--name", "CLI 添加",
		"--source", "policy_file=policy.txt", "--data-dir", data); code != exitOK {
		t.Fatalf("target add: %d %s", code, errs)
	}
	if ids := d.apiTargetIDs(t); !reflect.DeepEqual(ids, []string{"app:cli"}) {
		t.Errorf("dashboard lists registered targets %v, want [app:cli]", ids)
	}
	d.addOnDashboard(t, url.Values{"id": {"site:web"}, "kind": {"site"}, "name": {"看板添加"}, "h5_url": {"https://example.cn/"}})
	code, out, errs := runCLI(t, "target", "list", "--json", "--data-dir", data)
	var list []scanner.Target
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 {
		t.Fatalf("target list after a dashboard add: %d %s %s", code, out, errs)
	}
}

// A scan queued on the dashboard's API is run by a separate pilmon worker process started with
// only --data-dir: it finds the job and the target where the dashboard put them.
func TestDashboardScanRunsOnSeparateWorker(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (Debian package redis-server)")
	}
	cleanEnv(t)
	bin := pilmonBinary(t)
	data := t.TempDir()
	writePolicy(t, data)
	d := startServe(t, data)
	defer d.stop()
	if code, _, errs := runCLI(t, "target", "add", "--id", "site:queued", "--kind", "site", "--name", "排队对象",
		"--source", "policy_file=policy.txt", "--data-dir", data); code != exitOK {
		t.Fatalf("target add: %d %s", code, errs)
	}
	code, b := d.do(t, http.MethodPost, "/api/v1/targets/site:queued/scan", url.Values{})
	var queued struct {
		ScanID string `json:"scan_id"`
	}
	if code != http.StatusAccepted || json.Unmarshal(b, &queued) != nil || queued.ScanID == "" {
		t.Fatalf("POST /api/v1/targets/site:queued/scan: %d %s", code, b)
	}

	var werr syncBuffer
	w := exec.Command(bin, "worker", "--data-dir", data)
	w.Env = envWithout("PILMON_")
	w.Stdout, w.Stderr = &werr, &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { waited <- w.Wait() }()
	stopWorker := func() {
		_ = w.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(30 * time.Second):
			_ = w.Process.Kill()
			<-waited
		}
	}
	defer stopWorker()

	var shown struct {
		Scans []store.ScanRecord `json:"scans"`
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		code, out, _ := runCLI(t, "target", "show", "site:queued", "--json", "--data-dir", data)
		if code == exitOK && json.Unmarshal([]byte(out), &shown) == nil && len(shown.Scans) > 0 {
			break
		}
	}
	if len(shown.Scans) != 1 {
		t.Fatalf("no scan recorded; worker output:\n%s", werr.String())
	}
	rec := shown.Scans[0]
	wantWorker := fmt.Sprintf("-%d", w.Process.Pid)
	if rec.ID != queued.ScanID || !strings.HasSuffix(rec.Worker, wantWorker) || rec.Status != scanner.StatusSucceeded || len(rec.Fingerprints) == 0 {
		t.Errorf("scan record %+v; want scan %s by the worker process (pid %d)", rec, queued.ScanID, w.Process.Pid)
	}
	if rec.Category == nil || rec.Category.Reason.EN == "" {
		t.Errorf("the record does not say which category the findings were judged against: %+v", rec.Category)
	}
}

// A flag of another subcommand is a usage error naming the flag.
func TestSubcommandFlagsAreTheirOwn(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"target", "list", "--appid", "X"},
		{"target", "rm", "x", "--json"},
		{"schedule", "list", "--lease-ttl", "1s"},
		{"schedule", "run", "--json"},
		{"rules", "validate", "--section", "pi"},
		{"rules", "doc", "--json"},
		{"user", "list", "--role", "admin"},
		{"hooks", "plan", "--redact"},
		{"hooks", "script", "--json"},
	} {
		code, _, errs := runCLI(t, append(args, "--data-dir", dir)...)
		flagName := args[len(args)-2]
		if args[len(args)-1] == "--json" {
			flagName = "--json"
		}
		if code != exitUsage || !strings.Contains(errs, strings.TrimLeft(flagName, "-")) {
			t.Errorf("%v: exit %d, want %d naming %s; stderr %q", args, code, exitUsage, flagName, errs)
		}
	}
}

// pilmon scan (the pipeline runner plus a printer) and a worker (the same runner) give the same
// findings for the same input, each last seen at the end of its own scan, and a stored CLI scan
// publishes its progress events like a worker's.
func TestCLIScanAndWorkerScanAgree(t *testing.T) {
	cleanEnv(t)
	data := t.TempDir()
	srv := testredis.Start(t, data) // every command below attaches to it
	st := store.NewStore(srv.Client(), store.DefaultPrefix)
	ctx := context.Background()
	policy := writePolicy(t, data)
	const id = "app:same"
	common := []string{"--data-dir", data}

	code, out, errs := runCLI(t, append([]string{"scan", "--store", "--json", "--progress", "--kind", "policy_file", "--target-id", id,
		"--name", "同一", "--category", "ride_hailing", policy}, common...)...)
	if code != exitOK {
		t.Fatalf("scan --store: %d %s", code, errs)
	}
	if !strings.Contains(errs, "1/1") || !strings.Contains(errs, "policies") {
		t.Errorf("--progress printed no inspector progress: %q", errs)
	}
	var cli struct {
		ScanID   string            `json:"scan_id"`
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &cli); err != nil || len(cli.Findings) == 0 {
		t.Fatalf("scan --json: %v, %d findings", err, len(cli.Findings))
	}
	cliRec, err := st.GetScan(ctx, cli.ScanID)
	if err != nil {
		t.Fatal(err)
	}
	cliFindings := map[string]findings.Finding{}
	for _, raw := range cli.Findings {
		var f findings.Finding
		if err := json.Unmarshal(raw, &f); err != nil {
			t.Fatal(err)
		}
		if !f.LastSeen.Equal(cliRec.FinishedAt) {
			t.Errorf("CLI finding %s last seen %s, want the scan's end %s", f.RuleID, f.LastSeen, cliRec.FinishedAt)
		}
		cliFindings[f.Fingerprint] = f
	}
	// The stored CLI scan published the same events a worker's scan does.
	evs, err := st.ReadEvents(ctx, "0", 100, -1)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range evs {
		if e.Event.ScanID == cli.ScanID {
			kinds = append(kinds, e.Event.Kind)
		}
	}
	want := []string{scanner.EventScanStarted, scanner.EventSourceFetched, scanner.EventInspectorFinished, scanner.EventFindingsUpserted, scanner.EventScanFinished}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("CLI scan events %v, want %v", kinds, want)
	}

	// The same input as a registered target, scanned by a worker.
	if code, _, errs := runCLI(t, append([]string{"target", "add", "--id", id, "--kind", "app", "--name", "同一", "--category", "ride_hailing",
		"--source", "policy_file=policy.txt"}, common...)...); code != exitOK {
		t.Fatalf("target add: %d %s", code, errs)
	}
	code, out, errs = runCLI(t, append([]string{"target", "scan", id, "--json"}, common...)...)
	var job store.Job
	if code != exitOK || json.Unmarshal([]byte(out), &job) != nil {
		t.Fatalf("target scan: %d %s %s", code, out, errs)
	}
	wctx, stopWorker := context.WithCancel(ctx)
	var wout, werr syncBuffer
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		run(wctx, append([]string{"worker", "--name", "w-test"}, common...), strings.NewReader(""), &wout, &werr)
	}()
	var workerRec store.ScanRecord
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if workerRec, err = st.GetScan(ctx, job.ID); err == nil {
			break
		}
	}
	stopWorker()
	wg.Wait()
	if err != nil {
		t.Fatalf("the worker recorded no scan %s: %v\n%s", job.ID, err, werr.String())
	}
	if workerRec.Worker != "w-test" || !reflect.DeepEqual(workerRec.Fingerprints, cliRec.Fingerprints) {
		t.Fatalf("worker scan raised %v, the CLI scan %v", workerRec.Fingerprints, cliRec.Fingerprints)
	}
	if !reflect.DeepEqual(workerRec.Category, cliRec.Category) {
		t.Errorf("category: worker %+v, CLI %+v", workerRec.Category, cliRec.Category)
	}
	for _, fp := range workerRec.Fingerprints {
		stored, err := st.Get(ctx, fp)
		if err != nil {
			t.Fatal(err)
		}
		if stored.LastScanID != job.ID || !stored.LastSeen.Equal(workerRec.FinishedAt) {
			t.Errorf("finding %s last seen %s in %s, want the worker scan's end %s in %s", stored.RuleID, stored.LastSeen, stored.LastScanID,
				workerRec.FinishedAt, job.ID)
		}
		if a, b := sameContent(t, stored), sameContent(t, cliFindings[fp]); !bytes.Equal(a, b) {
			t.Errorf("finding %s differs between the worker and the CLI scan:\n%s\n%s", fp, a, b)
		}
	}
}

// sameContent is a finding's canonical JSON without what differs between two scans of the same
// input (when, which scan) or what the store keeps across them (state).
func sameContent(t *testing.T, f findings.Finding) []byte {
	t.Helper()
	f.FirstSeen, f.LastSeen, f.LastScanID, f.State = time.Time{}, time.Time{}, "", ""
	b, err := findings.MarshalCanonical(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func envWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

// pilmonBinary builds this command (for tests that need a separate process).
func pilmonBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the pilmon binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "pilmon")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
