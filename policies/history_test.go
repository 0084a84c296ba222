package policies

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
)

const (
	policyV1 = `<html><head><title>示例隐私政策</title></head><body><h1>示例隐私政策</h1>
<p>更新日期：2024年1月1日</p>
<h2>一、我们如何收集和使用您的个人信息</h2>
<p>当您注册账号时，我们会收集您的手机号码，用于创建账号。</p>
<h2>二、我们如何共享您的个人信息</h2>
<p>我们不会与第三方共享您的个人信息。</p>
<h2>三、联系我们</h2><p>邮箱：privacy@example.cn</p></body></html>`
	// v2 after a 检察建议: account cancellation added, sharing changed, location collected.
	policyV2 = `<html><head><title>示例隐私政策</title></head><body><h1>示例隐私政策</h1>
<p>更新日期：2024年6月1日</p>
<h2>一、我们如何收集和使用您的个人信息</h2>
<p>当您注册账号时，我们会收集您的手机号码，用于创建账号。</p>
<p>当您使用附近门店功能时，我们会收集您的位置信息。</p>
<h2>二、我们如何共享您的个人信息</h2>
<p>我们仅在取得您单独同意后与第三方共享您的个人信息。</p>
<h2>三、注销账号</h2><p>您可以在“设置-账号与安全-注销账号”中注销您的账号。</p>
<h2>四、联系我们</h2><p>邮箱：privacy@example.cn</p></body></html>`
)

type put struct {
	data   string
	source string
	media  string
	at     time.Time
}

func storeWith(t *testing.T, puts []put) *evidence.Store {
	t.Helper()
	st, err := evidence.Open(t.TempDir(), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range puts {
		if _, err := st.Put(strings.NewReader(p.data), evidence.Meta{CapturedAt: p.at, Method: "browser_capture",
			Source: p.source, Tool: "pilmon test", MediaType: p.media}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func TestHistorySelection(t *testing.T) {
	const u = "https://example.cn/privacy"
	t1 := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	t2, t3 := t1.Add(24*time.Hour), t1.Add(48*time.Hour)
	st := storeWith(t, []put{
		{policyV2, u, "text/html; charset=utf-8", t2},
		{policyV1, u, "text/html; charset=utf-8", t1},
		{"\x89PNG screenshot", u, "image/png", t1},                                 // same capture, not a version
		{`{"requests":[]}`, u, "application/json", t1},                             // request log
		{policyV1 + "<!-- other -->", "https://example.cn/terms", "text/html", t1}, // another URL
		{policyV1, "HTTPS://Example.CN:443/privacy#top", "text/html", t3},          // same URL, same bytes again
	})
	got, err := History(context.Background(), st, u)
	if err != nil {
		t.Fatal(err)
	}
	h1, h2 := sha256Hex([]byte(policyV1)), sha256Hex([]byte(policyV2))
	want := []struct {
		sha string
		at  time.Time
	}{{h1, t1}, {h2, t2}, {h1, t3}}
	if len(got) != len(want) {
		t.Fatalf("history: %d versions, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].SHA256 != w.sha || !got[i].CapturedAt.Equal(w.at) {
			t.Errorf("version %d: %s at %s, want %s at %s", i, got[i].SHA256[:12], got[i].CapturedAt, w.sha[:12], w.at)
		}
	}
	if got[0].Size != int64(len(policyV1)) || got[2].Seq != 2 {
		t.Errorf("size %d seq %d", got[0].Size, got[2].Seq)
	}
	if other, _ := History(context.Background(), st, "https://example.cn/terms"); len(other) != 1 {
		t.Errorf("terms: %d versions", len(other))
	}
	if none, err := History(context.Background(), st, "https://example.cn/nothing"); err != nil || len(none) != 0 {
		t.Errorf("unknown URL: %v %v", none, err)
	}
	if _, err := History(context.Background(), st, " "); err == nil {
		t.Error("empty source accepted")
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"https://Example.CN:443/privacy#x": "https://example.cn/privacy",
		"http://example.cn:80":             "http://example.cn/",
		"http://example.cn:8080/p?q=1":     "http://example.cn:8080/p?q=1",
		"policies/zh.html":                 "policies/zh.html",
	} {
		if got := sourceKey(in); got != want {
			t.Errorf("sourceKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoadAndDiffVersions(t *testing.T) {
	const u = "https://example.cn/privacy"
	t1 := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	st := storeWith(t, []put{{policyV1, u, "text/html; charset=utf-8", t1}})
	cat := catalogue(t)
	old, err := Load(st, sha256Hex([]byte(policyV1)), cat)
	if err != nil {
		t.Fatal(err)
	}
	if old.Source != u || !old.CapturedAt.Equal(t1) {
		t.Errorf("loaded %+v", old)
	}
	path := filepath.Join(t.TempDir(), "v2.html")
	if err := os.WriteFile(path, []byte(policyV2), 0o644); err != nil {
		t.Fatal(err)
	}
	nw, err := Load(st, path, cat)
	if err != nil {
		t.Fatal(err)
	}
	d := DiffVersions(old, nw)
	changes := map[string]string{}
	for _, s := range d.Sections {
		changes[s.Heading] = s.Change
	}
	wantSections := map[string]string{"我们如何收集和使用您的个人信息": "changed", "我们如何共享您的个人信息": "changed",
		"注销账号": "added", "示例隐私政策": "changed"}
	if !reflect.DeepEqual(changes, wantSections) {
		t.Errorf("sections %v, want %v", changes, wantSections)
	}
	els := map[string]bool{}
	for _, e := range d.Elements {
		els[e.Element] = e.New.Present
	}
	if !els["account_cancellation"] || !els["separate_consent"] {
		t.Errorf("element changes %v", els)
	}
	if !reflect.DeepEqual(d.PIAdded, []string{"location_precise"}) {
		t.Errorf("pi added %v", d.PIAdded)
	}
	if _, err := Load(st, strings.Repeat("ab", 32), cat); err == nil || !strings.Contains(err.Error(), strings.Repeat("ab", 32)) {
		t.Errorf("unknown hash: %v", err)
	}
	if _, err := Load(st, filepath.Join(t.TempDir(), "missing.html"), cat); err == nil || !strings.Contains(err.Error(), "missing.html") {
		t.Errorf("missing file: %v", err)
	}
}

func TestLoadRefusesTamperedBlob(t *testing.T) {
	st := storeWith(t, []put{{policyV1, "https://example.cn/privacy", "text/html", time.Now().UTC()}})
	h := sha256Hex([]byte(policyV1))
	p, err := st.Path(h)
	if err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(policyV1, "不会", "可能", 1)
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, []byte(tampered[:len(policyV1)]), 0o644); err != nil {
		t.Skipf("cannot rewrite the blob for the test: %v", err)
	}
	if _, err := Load(st, h, catalogue(t)); err == nil || !strings.Contains(err.Error(), h) {
		t.Errorf("tampered blob loaded: %v", err)
	}
}

func TestLineChanges(t *testing.T) {
	removed, added := LineChanges("a\nb\nc\nb\n", "a\nc\nd\nb\n")
	if !reflect.DeepEqual(removed, []string{"b"}) || !reflect.DeepEqual(added, []string{"d"}) {
		t.Errorf("removed %v added %v", removed, added)
	}
	if r, a := LineChanges("same\n", "same"); len(r)+len(a) != 0 {
		t.Errorf("identical: %v %v", r, a)
	}
}

// "sha256:<hash>" always names stored evidence, even beside a file of that name; a bare hash
// names a file of that name when there is one in the working directory.
func TestLoadRefKinds(t *testing.T) {
	const u = "https://example.cn/privacy"
	st := storeWith(t, []put{{policyV1, u, "text/html; charset=utf-8", time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}})
	cat := catalogue(t)
	h := sha256Hex([]byte(policyV1))
	dir := t.TempDir()
	t.Chdir(dir)
	for _, name := range []string{"sha256:" + h, h} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(policyV2), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stored, err := Load(st, "sha256:"+h, cat)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Source != u || stored.SHA256 != h {
		t.Errorf("sha256:<hash> loaded %q (%s), want the stored capture of %s", stored.Source, stored.SHA256, u)
	}
	file, err := Load(st, h, cat)
	if err != nil {
		t.Fatal(err)
	}
	if file.SHA256 != sha256Hex([]byte(policyV2)) {
		t.Errorf("a bare hash with a file of that name loaded %s, want the file", file.SHA256)
	}
}
