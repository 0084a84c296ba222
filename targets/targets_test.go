package targets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pilmon/internal/testredis"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

func TestMain(m *testing.M) { testredis.Main(m, "targets") }

var seq atomic.Int64

// newRegistry returns a registry with its own prefix and import folder holding a.har and
// policy.txt, plus a file outside the folder and a symlink to it inside.
func newRegistry(t *testing.T) (*Registry, string) {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "import")
	if err := os.MkdirAll(filepath.Join(root, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(root, "a.har"), filepath.Join(root, "sub", "policy.txt"), filepath.Join(base, "secret.txt"), filepath.Join(root, "dv.yaml")} {
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(root, "escape.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "sub", "policy.txt"), filepath.Join(root, "inside.txt")); err != nil {
		t.Fatal(err)
	}
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("tt%d:", seq.Add(1))
	r := New(store.NewStore(testredis.Server().Client(), prefix), Options{ImportRoot: root, Catalogue: cat, Kinds: pipeline.Kinds(cat)})
	prefixes.Store(r, prefix)
	return r, root
}

// prefixes holds each test registry's key prefix, for the tests that read Redis directly.
var prefixes sync.Map

func goodTarget() scanner.Target {
	return scanner.Target{
		ID: "app:com.example.ride", Kind: scanner.TargetApp, Name: " 示例打车 ", Operator: "示例科技有限公司",
		Category: "ride_hailing", Schedule: "0 0 3 * * *",
		Sources: []scanner.Source{
			{Kind: scanner.SourceHAR, Locator: "a.har", Options: map[string]string{"device_values": "dv.yaml", "consent_at": "2025-01-01T00:00:00Z"}},
			{Kind: scanner.SourcePolicyFile, Locator: "sub/policy.txt"},
			{Kind: scanner.SourcePolicyURL, Locator: "https://example.com/privacy"},
		},
	}
}

func TestPutGetListDelete(t *testing.T) {
	ctx := context.Background()
	r, root := newRegistry(t)
	stored, err := r.Put(ctx, goodTarget())
	if err != nil {
		t.Fatal(err)
	}
	if stored.Name != "示例打车" || stored.Sources[0].Locator != filepath.Join(root, "a.har") ||
		stored.Sources[0].Options["device_values"] != filepath.Join(root, "dv.yaml") {
		t.Errorf("not normalised: %+v", stored)
	}
	got, err := r.Get(ctx, "app:com.example.ride")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := Canonical(got)
	b, _ := Canonical(stored)
	if string(a) != string(b) {
		t.Errorf("round trip:\n%s\n%s", a, b)
	}
	raw, _ := testredis.Server().Client().HGet(ctx, prefixOf(r)+"targets", stored.ID).Result()
	if raw != string(b) {
		t.Errorf("stored form is not canonical:\n%s\n%s", raw, b)
	}
	if _, err := r.Put(ctx, scanner.Target{ID: "site-1", Kind: scanner.TargetSite, Sources: []scanner.Source{{Kind: scanner.SourceH5URL, Locator: "http://h5.example.com/"}}}); err != nil {
		t.Fatal(err)
	}
	list, err := r.List(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "app:com.example.ride" || list[1].ID != "site-1" || list[1].Name != "site-1" {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if ok, err := r.Delete(ctx, "site-1"); !ok || err != nil {
		t.Fatalf("delete = %v, %v", ok, err)
	}
	if ok, _ := r.Delete(ctx, "site-1"); ok {
		t.Error("second delete reported the target existed")
	}
	if _, err := r.Get(ctx, "site-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("get deleted = %v, want ErrNotFound", err)
	}
}

func TestValidateRefuses(t *testing.T) {
	r, root := newRegistry(t)
	cases := map[string]func(*scanner.Target){
		"bad id":           func(t *scanner.Target) { t.ID = "../x" },
		"empty id":         func(t *scanner.Target) { t.ID = "" },
		"bad kind":         func(t *scanner.Target) { t.Kind = "desktop" },
		"unknown category": func(t *scanner.Target) { t.Category = "no_such_category" },
		"bad cron":         func(t *scanner.Target) { t.Schedule = "61 * * * *" },
		"zone only":        func(t *scanner.Target) { t.Schedule = "CRON_TZ=Asia/Shanghai" },
		"bad zone":         func(t *scanner.Target) { t.Schedule = "CRON_TZ=Mars/Olympus 0 3 * * *" },
		"no sources":       func(t *scanner.Target) { t.Sources = nil },
		"bad source kind":  func(t *scanner.Target) { t.Sources[0].Kind = "ipa" },
		"dotdot":           func(t *scanner.Target) { t.Sources[0].Locator = "sub/../a.har" },
		"absolute outside": func(t *scanner.Target) { t.Sources[0].Locator = filepath.Join(root, "..", "secret.txt") },
		"absolute other":   func(t *scanner.Target) { t.Sources[0].Locator = "/etc/passwd" },
		"symlink escape":   func(t *scanner.Target) { t.Sources[1].Locator = "escape.txt" },
		"missing file":     func(t *scanner.Target) { t.Sources[1].Locator = "nope.txt" },
		"file url":         func(t *scanner.Target) { t.Sources[2].Locator = "file:///etc/passwd" },
		"javascript url":   func(t *scanner.Target) { t.Sources[2].Locator = "javascript:alert(1)" },
		"no host":          func(t *scanner.Target) { t.Sources[2].Locator = "https:///x" },
		"device values escape": func(t *scanner.Target) {
			t.Sources[0].Options = map[string]string{"device_values": "../secret.txt"}
		},
		"control chars": func(t *scanner.Target) { t.Name = "a\x00b" },
		"undeclared option": func(t *scanner.Target) {
			t.Sources[0].Options = map[string]string{"devcie_values": "dv.yaml"}
		},
		"option of another kind": func(t *scanner.Target) { t.Sources[1].Options = map[string]string{"appid": "wx1"} },
		"live option on a file":  func(t *scanner.Target) { t.Sources[0].Options = map[string]string{"action": "agree"} },
		"path of a URL kind":     func(t *scanner.Target) { t.Sources[2].Locator = "sub/policy.txt" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			tg := goodTarget()
			tg.Sources = append([]scanner.Source(nil), tg.Sources...)
			mutate(&tg)
			_, err := r.Validate(tg)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("accepted (err %v): %+v", err, tg)
			}
		})
	}
	// A symlink that stays inside the folder is fine.
	tg := goodTarget()
	tg.Sources[1].Locator = "inside.txt"
	if _, err := r.Validate(tg); err != nil {
		t.Errorf("symlink inside the import folder refused: %v", err)
	}
	// An undeclared option is refused naming the ones the kind has.
	tg = goodTarget()
	tg.Sources[1].Options = map[string]string{"appid": "wx1"}
	if _, err := r.Validate(tg); err == nil || !strings.Contains(err.Error(), `option "appid": a policy_file source has only the options as_of`) {
		t.Errorf("undeclared option: %v", err)
	}
	tg = goodTarget()
	tg.Sources[0].Options = map[string]string{"devcie_values": "x"}
	if _, err := r.Validate(tg); err == nil || !strings.Contains(err.Error(), "only the options device_values, consent_at") {
		t.Errorf("misspelt option: %v", err)
	}
	// Without kinds nothing is accepted.
	bare := New(nil, Options{ImportRoot: root})
	if _, err := bare.Validate(goodTarget()); err == nil || !strings.Contains(err.Error(), `kind "har"`) {
		t.Errorf("no kinds: %v", err)
	}
	// Without an import folder every local source is refused, URLs are not.
	noRoot := New(store.NewStore(testredis.Server().Client(), "x:"), Options{Kinds: pipeline.Kinds(nil)})
	if _, err := noRoot.Validate(goodTarget()); err == nil || !strings.Contains(err.Error(), "import folder") {
		t.Errorf("no import root: %v", err)
	}
	if _, err := noRoot.Validate(scanner.Target{ID: "s", Kind: "site", Sources: []scanner.Source{{Kind: "policy_url", Locator: "https://a.cn/p"}}}); err != nil {
		t.Error(err)
	}
}

func TestImport(t *testing.T) {
	ctx := context.Background()
	r, _ := newRegistry(t)
	doc := `
targets:
  - id: mp-1
    kind: miniprogram
    name: 小程序一
    sources:
      - {kind: har, locator: a.har}
    schedule: "*/10 * * * * *"
  - id: site-2
    kind: site
    name: 网站二
    category: online_payment
    sources:
      - {kind: policy_url, locator: "https://pay.example.cn/privacy"}
      - {kind: h5_url, locator: "https://pay.example.cn/"}
    schedule: "@every 1h"
`
	ts, err := r.Import(ctx, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 {
		t.Fatalf("imported %d", len(ts))
	}
	list, _ := r.List(ctx)
	if len(list) != 2 || list[0].Schedule != "*/10 * * * * *" {
		t.Fatalf("list after import: %+v", list)
	}
	// A plain list works too.
	if _, err := r.Import(ctx, []byte("- {id: x1, kind: site, sources: [{kind: h5_url, locator: 'http://a.cn'}]}\n")); err != nil {
		t.Fatal(err)
	}
	// All or nothing: one bad target stores none.
	bad := "- {id: ok-1, kind: site, sources: [{kind: h5_url, locator: 'http://a.cn'}]}\n- {id: bad, kind: site, sources: [{kind: har, locator: '../../etc/passwd'}]}\n"
	if _, err := r.Import(ctx, []byte(bad)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad import: %v", err)
	}
	if _, err := r.Get(ctx, "ok-1"); !errors.Is(err, ErrNotFound) {
		t.Error("a failed import stored part of its targets")
	}
	for name, doc := range map[string]string{
		"unknown key": "- {id: a, kind: site, sorces: []}\n",
		"duplicate":   "- {id: a, kind: site, sources: [{kind: h5_url, locator: 'http://a.cn'}]}\n- {id: a, kind: site, sources: [{kind: h5_url, locator: 'http://a.cn'}]}\n",
		"not yaml":    "{{{",
		"empty":       "",
		"scalar":      "hello",
	} {
		if _, err := r.Import(ctx, []byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSchedules(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	at := time.Date(2026, 3, 1, 2, 59, 59, 0, sh)
	runs, err := NextRuns("0 3 * * *", at, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 3, 1, 3, 0, 0, 0, sh); !runs[0].Equal(want) || !runs[1].Equal(want.AddDate(0, 0, 1)) {
		t.Errorf("five-field spec in Shanghai: %v", runs)
	}
	runs, _ = NextRuns("*/15 * * * * *", at, 1)
	if want := time.Date(2026, 3, 1, 3, 0, 0, 0, sh); !runs[0].Equal(want) {
		t.Errorf("seconds spec: %v", runs)
	}
	runs, _ = NextRuns("CRON_TZ=UTC 0 3 * * *", at, 1)
	if want := time.Date(2026, 3, 1, 3, 0, 0, 0, time.UTC); !runs[0].Equal(want) {
		t.Errorf("explicit zone: %v", runs)
	}
	// @every ticks are aligned to the epoch: two schedulers parsing at different moments agree.
	s, _ := ParseSchedule("@every 10s")
	a := s.Next(time.Unix(1000003, 0))
	b := s.Next(time.Unix(1000007, 500))
	if !a.Equal(b) || a.Unix() != 1000010 {
		t.Errorf("@every not aligned: %v %v", a, b)
	}
	if runs, _ := NextRuns("0 0 30 2 *", at, 1); len(runs) != 0 {
		t.Errorf("February 30 fired: %v", runs)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"0 3 * * *", "*/5 * * * * *", "@every 1h", "CRON_TZ=UTC 0 3 * * *", "TZ=", "CRON_TZ=x", "@", "1-70/0 * * * *", "@every -1s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err == nil && s != nil {
			s.Next(time.Unix(1700000000, 0))
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("targets: [{id: a, kind: site, sources: [{kind: h5_url, locator: 'http://a'}]}]"))
	f.Add([]byte("- {id: a}\n"))
	f.Add([]byte("a: &a [*a, *a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := ParseYAML(data)
		if err == nil && len(ts) > MaxTargets {
			t.Fatalf("%d targets", len(ts))
		}
	})
}

func prefixOf(r *Registry) string { p, _ := prefixes.Load(r); return p.(string) }
