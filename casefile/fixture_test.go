package casefile

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// memStore is an in-memory FindingStore for unit tests (the Redis store has its own tests, and
// cmd/pilmon's export test runs against a real redis-server).
type memStore struct {
	fs   map[string]findings.Finding
	hist map[string][]findings.Transition
}

func (m *memStore) Get(_ context.Context, fp string) (findings.Finding, error) {
	f, ok := m.fs[fp]
	if !ok {
		return findings.Finding{}, fmt.Errorf("finding %s: %w", fp, store.ErrNotFound)
	}
	return f, nil
}

func (m *memStore) History(_ context.Context, fp string) ([]findings.Transition, error) {
	return m.hist[fp], nil
}

func (m *memStore) List(_ context.Context, q store.Query) ([]findings.Finding, int64, error) {
	var all []findings.Finding
	for _, f := range m.fs {
		if q.TargetID == "" || f.TargetID == q.TargetID {
			all = append(all, f)
		}
	}
	slices.SortFunc(all, func(a, b findings.Finding) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	lim := q.Limit
	if lim <= 0 {
		lim = 50
	}
	lo, hi := min(q.Offset, len(all)), min(q.Offset+lim, len(all))
	return all[lo:hi], int64(len(all)), nil
}

var fixedNow = time.Date(2025, 6, 1, 8, 30, 0, 0, time.UTC)

// testKey is deterministic so that the golden manifest is stable.
func testKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
}

// pngBytes draws a small deterministic screenshot-like image.
func pngBytes(t testing.TB) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 240, 160))
	for y := 0; y < 160; y++ {
		for x := 0; x < 240; x++ {
			c := color.RGBA{240, 240, 240, 255}
			if y < 24 {
				c = color.RGBA{30, 90, 200, 255}
			} else if (x/20+y/20)%2 == 0 && y > 60 {
				c = color.RGBA{200, 60, 60, 255}
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type fixture struct {
	ev      *evidence.Store
	cat     *rules.Catalogue
	store   *memStore
	refs    map[string]string // name → sha256
	fps     []string
	target  scanner.Target
	titles  []string // Chinese titles of the rules used
	evDir   string
	evBytes map[string][]byte
}

// newFixture builds an evidence store and three findings of target "app-demo" (and one of
// another target) resting on four artifacts, one a PNG screenshot.
func newFixture(t testing.TB) *fixture { return newFixtureWith(t, false) }

// newFixtureWith(t, true) uses rule ids the catalogue does not have, with literal legal basis,
// severity and caveat, so that golden files do not change when the catalogue's texts do.
func newFixtureWith(t testing.TB, synthetic bool) *fixture {
	t.Helper()
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ev, err := evidence.Open(dir, evidence.Options{Tool: "pilmon 0.1.0-test"})
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{ev: ev, cat: cat, refs: map[string]string{}, evDir: dir, evBytes: map[string][]byte{},
		target: scanner.Target{ID: "app-demo", Kind: scanner.TargetApp, Name: "示例出行", Operator: "示例科技有限公司", Category: "ride_hailing"}}
	put := func(name string, data []byte, meta evidence.Meta) {
		ref, err := ev.Put(bytes.NewReader(data), meta)
		if err != nil {
			t.Fatal(err)
		}
		fx.refs[name] = ref.SHA256
		fx.evBytes[ref.SHA256] = data
	}
	t1 := time.Date(2025, 5, 20, 10, 0, 0, 0, time.UTC)
	put("apk", bytes.Repeat([]byte("PK\x03\x04 fake apk bytes for the case file test "), 500), evidence.Meta{
		CapturedAt: t1, Method: "file_import", Source: "/cases/示例出行-5.2.1.apk", Tool: "pilmon 0.1.0-test",
		Inspector: "apkinspect/3", MediaType: "application/vnd.android.package-archive"})
	put("policy", []byte("<html><body><h1>隐私政策</h1><p>我们收集您的设备信息……</p></body></html>"), evidence.Meta{
		CapturedAt: t1.Add(time.Minute), Method: "http_fetch", Source: "https://example.cn/privacy", Tool: "pilmon 0.1.0-test",
		Inspector: "policies/2", MediaType: "text/html"})
	put("shot", pngBytes(t), evidence.Meta{CapturedAt: t1.Add(2 * time.Minute), Method: "browser_screenshot",
		Source: "https://example.cn/h5", Tool: "pilmon 0.1.0-test", MediaType: "image/png"})
	put("har", []byte(`{"log":{"entries":[{"request":{"url":"https://tracker.example/collect?imei=860000000000001"}}]}}`), evidence.Meta{
		CapturedAt: t1.Add(3 * time.Minute), Method: "har_import", Source: "/cases/capture.har", Tool: "pilmon 0.1.0-test",
		Inspector: "traffic/1", MediaType: "application/json"})
	// The APK captured a second time: two custody records for one artifact.
	if _, err := ev.Put(bytes.NewReader(fx.evBytes[fx.refs["apk"]]), evidence.Meta{CapturedAt: t1.Add(24 * time.Hour),
		Method: "file_import", Source: "/cases/again/示例出行.apk", Tool: "pilmon 0.1.0-test", MediaType: "application/vnd.android.package-archive"}); err != nil {
		t.Fatal(err)
	}

	mk := func(target, rule, subject string, refs []string, obs []scanner.Observation) findings.Finding {
		v, ok := cat.Violation(rule)
		if synthetic {
			rule = "golden-" + rule
			v = rules.Violation{Version: 1, Severity: "high", LegalBasis: []rules.Citation{{Instrument: "pipl", Article: "17"}, {Instrument: "rdff2019", Article: "3.1"}},
				Caveat: rules.Text{ZH: "需在测试机上确认。", EN: "Confirm on a test phone."}}
		} else if !ok {
			t.Fatalf("rule %s not in the catalogue", rule)
		}
		basis, _, _ := cat.BasisAt(v.LegalBasis, t1) // as assess cites them: in force at as_of, with levels
		return findings.Finding{Fingerprint: findings.Fingerprint(target, rule, subject), TargetID: target, RuleID: rule,
			RuleVersion: v.Version, Subject: subject, Severity: v.Severity, LegalBasis: basis, AsOf: t1, AsOfSource: findings.AsOfCapture,
			Summary: rules.Text{ZH: "在同意前向 tracker.example 发送 IMEI（" + subject + "）。", EN: "IMEI sent to tracker.example before consent (" + subject + ")."},
			Caveat:  v.Caveat, Observations: obs, EvidenceRefs: refs, FirstSeen: t1, LastSeen: t1.Add(24 * time.Hour),
			LastScanID: "scan-0002", State: findings.StateInReview, Confidence: "high",
			ConfidenceReason: rules.Text{ZH: "流量中匹配到测试机 IMEI", EN: "the test phone's IMEI matched in traffic"}}
	}
	obs := func(kind, subject string, refs ...string) scanner.Observation {
		return scanner.Observation{Kind: kind, Subject: subject, Attributes: map[string]any{"pi": []any{"device_id"}, "host": "tracker.example"},
			EvidenceRefs: refs, Inspector: "traffic", InspectorVersion: "1"}
	}
	fs := []findings.Finding{
		mk("app-demo", "rdff-3.1", "tracker.example", []string{fx.refs["har"], fx.refs["shot"]},
			[]scanner.Observation{obs("traffic.pi_sent", "tracker.example", fx.refs["har"])}),
		mk("app-demo", "rdff-1.1", "privacy-policy", []string{fx.refs["policy"]}, nil),
		mk("app-demo", "rdff-2.1", "android.permission.READ_PHONE_STATE", []string{fx.refs["apk"]},
			[]scanner.Observation{obs("apk.permission", "android.permission.READ_PHONE_STATE", fx.refs["apk"])}),
		mk("app-other", "rdff-3.1", "other.example", []string{fx.refs["har"]}, nil),
	}
	fx.store = &memStore{fs: map[string]findings.Finding{}, hist: map[string][]findings.Transition{}}
	for _, f := range fs {
		fx.store.fs[f.Fingerprint] = f
		fx.store.hist[f.Fingerprint] = []findings.Transition{
			{At: t1.Add(25 * time.Hour), Actor: "analyst-li", From: findings.StateNew, To: findings.StateInReview, Note: "请核实 / please review"},
		}
		if f.TargetID == "app-demo" {
			fx.fps = append(fx.fps, f.Fingerprint)
			if v, ok := cat.Violation(f.RuleID); ok {
				fx.titles = append(fx.titles, v.Title.ZH)
			}
		}
	}
	return fx
}

func (fx *fixture) deps(skipPDF bool) Deps {
	t := fx.target
	return Deps{Findings: fx.store, Evidence: fx.ev, Catalogue: fx.cat, User: "检察官 王某 (prosecutor-wang)", Target: &t,
		Options: Options{Key: testKey(), SkipPDF: skipPDF, Tool: "pilmon 0.1.0-test", Now: func() time.Time { return fixedNow }}}
}

// export runs Export of target app-demo and returns the bundle.
func (fx *fixture) export(t testing.TB, deps Deps) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Export(context.Background(), &buf, Selection{TargetID: "app-demo"}, deps); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// member returns one member of a bundle.
func member(t testing.TB, bundle []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	t.Fatalf("bundle has no member %s", name)
	return nil
}

// rewrite copies a bundle, letting edit change (return new bytes), drop (return nil, true) or keep
// each member, then appends extra members.
func rewrite(t testing.TB, bundle []byte, edit func(name string, data []byte) ([]byte, bool), extra map[string][]byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		nd, drop := edit(f.Name, data)
		if drop {
			continue
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(nd); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range extra {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func verifyBytes(t testing.TB, bundle []byte, opts VerifyOptions) *VerifyReport {
	t.Helper()
	rep, err := Verify(bytes.NewReader(bundle), int64(len(bundle)), opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
