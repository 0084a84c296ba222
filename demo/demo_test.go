package demo

import (
	"bytes"
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-rod/rod"
	"github.com/go-rod/rod/lib/launcher"
	"github.com/go-rod/rod/lib/proto"

	"pilmon/browser"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/samplegen/apkbuild"
	"pilmon/store"
	"pilmon/targets"
)

var screenshots = flag.String("screenshots", "", "write PNG screenshots of the dashboard (overview, one finding) to this folder, e.g. ../docs/img")

func chromiumBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PILMON_CHROMIUM")
	if bin == "" {
		bin = browser.DefaultBin
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("chromium not installed at %s (Debian package chromium): the demo captures its policy and H5 pages with it", bin)
	}
	return bin
}

// TestDemoEndToEnd does what `make demo` does on a fresh data dir — generated samples, the
// loopback site, real Redis, the real queue, worker pool and scheduler, Chromium for the policy
// and H5 pages, the dashboard — and checks through the dashboard's HTTP API and pages, logged in
// as admin, that every target shows its expected findings and the clean one none. Then it starts
// the demo again on the same data: nothing is scanned again and nothing is duplicated.
func TestDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the whole demo (Chromium, Redis, APK tools)")
	}
	bin := chromiumBin(t)
	if err := apkbuild.Available(); err != nil {
		t.Skipf("the demo app's APK cannot be built: %v", err)
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (Debian package redis-server)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rs, err := store.StartRedis(ctx, dir, store.RedisOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Stop(context.Background())
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg := Config{DataDir: dir, Listen: "127.0.0.1:0", Catalogue: cat,
		Store:   store.NewStore(rs.Client(), store.DefaultPrefix),
		Targets: targets.New(store.NewStore(rs.Client(), store.DefaultPrefix), targets.Options{ImportRoot: ImportRoot(dir), Catalogue: cat, Kinds: pipeline.Kinds(cat)}), Version: "test", Out: &out, Log: log}
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop(context.Background())
		}
	}()
	if d.AdminPassword == "" {
		t.Fatal("a fresh data dir must create admin with a password")
	}
	if len(d.Pending) != len(TargetIDs) {
		t.Fatalf("first run found %d targets without a scan, want %d", len(d.Pending), len(TargetIDs))
	}
	if err := d.WaitFirstScans(ctx); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(d.Jobs) != len(TargetIDs) {
		t.Fatalf("the scheduler ran %d initial scans, want %d: %v", len(d.Jobs), len(TargetIDs), d.Jobs)
	}
	res, err := d.Check(ctx)
	for _, id := range TargetIDs {
		t.Logf("%s: %d findings %v", id, len(res.Findings[id]), res.Findings[id])
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range TargetIDs {
		if len(Expected[id]) > 0 && res.FindingPages[id] == "" {
			t.Errorf("%s: no finding page checked", id)
		}
	}
	var sum bytes.Buffer
	if err := d.Summary(ctx, &sum, dir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sum.Bytes(), []byte(d.AdminPassword)) || !bytes.Contains(sum.Bytes(), []byte(d.URL)) {
		t.Errorf("summary lacks the URL or the password:\n%s", sum.String())
	}
	if *screenshots != "" {
		takeScreenshots(t, bin, d, res)
	}
	before, err := d.store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	stopped = true

	// The second run reuses the data: same targets, no new scans, no new findings, no new admin.
	out.Reset()
	d2, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Stop(context.Background())
	if len(d2.Jobs) != 0 || d2.AdminPassword != "" {
		t.Errorf("second run: %d scans enqueued, admin password %q; want none", len(d2.Jobs), d2.AdminPassword)
	}
	if err := d2.WaitFirstScans(ctx); err != nil {
		t.Fatal(err)
	}
	ts, err := d2.reg.List(ctx)
	if err != nil || len(ts) != len(TargetIDs) {
		t.Errorf("second run: %d targets registered (%v), want %d", len(ts), err, len(TargetIDs))
	}
	after, err := d2.store.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Total != before.Total {
		t.Errorf("second run: %d findings, first run %d", after.Total, before.Total)
	}
	sum.Reset()
	if err := d2.Summary(ctx, &sum, dir); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(sum.Bytes(), []byte("pilmon user passwd admin")) {
		t.Errorf("second run's summary does not say how to reset the password:\n%s", sum.String())
	}
}

// takeScreenshots logs in with Chromium and saves the overview and one finding page as PNG.
func takeScreenshots(t *testing.T, bin string, d *Demo, res CheckResult) {
	t.Helper()
	if err := os.MkdirAll(*screenshots, 0o755); err != nil {
		t.Fatal(err)
	}
	l := launcher.New().Bin(bin).Headless(true).Leakless(false).NoSandbox(os.Geteuid() == 0).Set("lang", "zh-CN").Set("hide-scrollbars")
	u, err := l.Launch()
	if err != nil {
		t.Fatal(err)
	}
	defer l.Cleanup()
	b := rod.New().ControlURL(u)
	if err := b.Connect(); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := b.MustPage(d.URL + "login")
	p.MustSetViewport(1280, 860, 1, false)
	p.MustWaitLoad()
	p.MustElement(`input[name=username]`).MustInput("admin")
	p.MustElement(`input[name=password]`).MustInput(d.AdminPassword)
	wait := p.MustWaitNavigation()
	p.MustElement(`form[action="/login"] button[type=submit]`).MustClick()
	wait()
	p.MustWaitLoad()
	if info := p.MustInfo(); info.URL != d.URL {
		t.Fatalf("browser login landed on %s", info.URL)
	}
	shot := func(path, name string) {
		p.MustNavigate(d.URL + path[1:]).MustWaitLoad()
		p.MustWaitIdle()
		raw, err := p.Screenshot(false, &proto.PageCaptureScreenshot{Format: proto.PageCaptureScreenshotFormatPng})
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(*screenshots, name)
		if err := os.WriteFile(f, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s: %s (%d bytes)", path, f, len(raw))
	}
	shot("/", "dashboard-overview.png")
	shot(res.FindingPages[H5TargetID], "dashboard-finding.png")
}
