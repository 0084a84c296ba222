package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
)

// Two versions of one policy: the second, after a 检察建议, adds account cancellation and a
// separate-consent rule for sharing.
const (
	cliPolicyV1 = `<html><head><title>示例隐私政策</title></head><body><h1>示例隐私政策</h1>
<p>更新日期：2024年1月1日</p>
<h2>一、我们如何收集和使用您的个人信息</h2>
<p>当您注册账号时，我们会收集您的手机号码，用于创建账号。</p>
<h2>二、我们如何共享您的个人信息</h2>
<p>我们可能与合作伙伴共享您的设备信息。</p>
<h2>三、联系我们</h2><p>邮箱：privacy@example.cn</p></body></html>`
	cliPolicyV2 = `<html><head><title>示例隐私政策</title></head><body><h1>示例隐私政策</h1>
<p>更新日期：2024年6月1日</p>
<h2>一、我们如何收集和使用您的个人信息</h2>
<p>当您注册账号时，我们会收集您的手机号码，用于创建账号。</p>
<h2>二、我们如何共享您的个人信息</h2>
<p>我们仅在取得您单独同意后与合作伙伴共享您的设备信息。</p>
<h2>三、注销账号</h2><p>您可以在“设置-账号与安全-注销账号”中注销您的账号。</p>
<h2>四、联系我们</h2><p>邮箱：privacy@example.cn</p></body></html>`
	cliPolicyURL = "https://example.cn/privacy"
)

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// policyDataDir is a data dir whose evidence store holds two captures of cliPolicyURL (and a
// screenshot of the first, which is not a version).
func policyDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	st, err := evidence.Open(filepath.Join(dir, "evidence"), evidence.Options{Tool: "pilmon test"})
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2024, 1, 2, 8, 0, 0, 0, time.UTC)
	for _, p := range []struct {
		data, media string
		at          time.Time
	}{
		{cliPolicyV1, "text/html; charset=utf-8", t1},
		{"\x89PNG", "image/png", t1},
		{cliPolicyV2, "text/html; charset=utf-8", t1.Add(150 * 24 * time.Hour)},
	} {
		if _, err := st.Put(strings.NewReader(p.data), evidence.Meta{CapturedAt: p.at, Method: "browser_capture",
			Source: cliPolicyURL, Tool: "pilmon test", MediaType: p.media}); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPolicyHistory(t *testing.T) {
	dir := policyDataDir(t)
	code, out, errs := runCLI(t, "policy", "history", cliPolicyURL, "--data-dir", dir)
	if code != exitOK {
		t.Fatalf("history: %d %s", code, errs)
	}
	for _, want := range []string{"2 次采集 / 2 captures", hashOf(cliPolicyV1), hashOf(cliPolicyV2), "2024-01-02T08:00:00Z", "有变化 / changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("history output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, hashOf(cliPolicyV1)) > strings.Index(out, hashOf(cliPolicyV2)) {
		t.Errorf("versions not oldest first:\n%s", out)
	}

	code, out, errs = runCLI(t, "policy", "history", "--json", "--data-dir", dir, cliPolicyURL)
	if code != exitOK {
		t.Fatalf("history --json: %d %s", code, errs)
	}
	var h struct {
		Source   string `json:"source"`
		Versions []struct {
			SHA256     string    `json:"sha256"`
			Size       int64     `json:"size"`
			CapturedAt time.Time `json:"captured_at"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	if h.Source != cliPolicyURL || len(h.Versions) != 2 || h.Versions[1].SHA256 != hashOf(cliPolicyV2) || h.Versions[0].Size != int64(len(cliPolicyV1)) {
		t.Errorf("history --json: %+v", h)
	}

	code, out, _ = runCLI(t, "policy", "history", "https://example.cn/other", "--data-dir", dir)
	if code != exitOK || !strings.Contains(out, "no captures") {
		t.Errorf("unknown URL: %d %q", code, out)
	}
}

func TestPolicyDiff(t *testing.T) {
	dir := policyDataDir(t)
	a, b := hashOf(cliPolicyV1), hashOf(cliPolicyV2)
	code, out, errs := runCLI(t, "policy", "diff", a, b, "--data-dir", dir)
	if code != exitOK {
		t.Fatalf("diff: %d %s", code, errs)
	}
	for _, want := range []string{
		"== 注销账号  [新增 / added]",
		"== 我们如何共享您的个人信息  [修改 / changed]",
		"  - 我们可能与合作伙伴共享您的设备信息。",
		"  + 我们仅在取得您单独同意后与合作伙伴共享您的设备信息。",
		"account_cancellation   无 / missing → 有 / present",
		cliPolicyURL + " @ 2024-01-02T08:00:00Z",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diff output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "我们如何收集和使用您的个人信息") {
		t.Errorf("an unchanged section is reported:\n%s", out)
	}

	// --json is canonical: the same bytes on every run, parseable, sections in document order.
	code, j1, errs := runCLI(t, "policy", "diff", "--json", a, b, "--data-dir", dir)
	if code != exitOK {
		t.Fatalf("diff --json: %d %s", code, errs)
	}
	_, j2, _ := runCLI(t, "policy", "diff", "--json", a, b, "--data-dir", dir)
	if j1 != j2 {
		t.Error("diff --json differs between runs")
	}
	var d struct {
		Old      struct{ SHA256, Source string }
		New      struct{ SHA256 string }
		Sections []struct{ Heading, Change string }
		Elements []struct {
			Element string
			New     struct{ Present bool }
		}
	}
	if err := json.Unmarshal([]byte(j1), &d); err != nil {
		t.Fatalf("diff --json: %v\n%s", err, j1)
	}
	if d.Old.SHA256 != a || d.New.SHA256 != b || d.Old.Source != cliPolicyURL || len(d.Sections) == 0 {
		t.Errorf("diff --json: %+v", d)
	}
	if strings.Contains(j1, `\u003c`) || !strings.HasSuffix(j1, "}\n") {
		t.Error("diff --json is not canonical (HTML escaping or no trailing newline)")
	}

	// Files work as well as stored captures, and the same text twice is no change.
	f1 := filepath.Join(t.TempDir(), "v1.html")
	os.WriteFile(f1, []byte(cliPolicyV1), 0o644)
	code, out, errs = runCLI(t, "policy", "diff", "--data-dir", dir, f1, a)
	if code != exitOK || !strings.Contains(out, "byte-identical") {
		t.Errorf("file vs same capture: %d %q %s", code, out, errs)
	}
}

func TestPolicyUsageAndErrors(t *testing.T) {
	dir := policyDataDir(t)
	for _, args := range [][]string{{"policy"}, {"policy", "history"}, {"policy", "diff", "x"}, {"policy", "frob"}} {
		if code, _, _ := runCLI(t, append(args, "--data-dir", dir)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	missing := strings.Repeat("cd", 32)
	code, _, errs := runCLI(t, "policy", "diff", missing, hashOf(cliPolicyV1), "--data-dir", dir)
	if code != exitError || !strings.Contains(errs, missing) {
		t.Errorf("unknown hash: %d %q", code, errs)
	}
}
