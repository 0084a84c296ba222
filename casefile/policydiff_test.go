package casefile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
	"pilmon/scanner"

	"github.com/xuri/excelize/v2"
)

const policyURL = "https://example.cn/legal/privacy-policy"

// policyV1 and policyV2 are two versions of one policy: v2 adds the clipboard and an SDK
// (友盟) and drops the retention clause.
const policyV1 = `<html><head><title>示例出行隐私政策</title></head><body><h1>示例出行隐私政策</h1>
<h2>一、我们收集的信息</h2><p>为提供打车服务，我们会收集您的位置信息和手机号码。</p>
<h2>二、信息的保存</h2><p>我们将您的个人信息保存六个月，到期后删除。</p>
<h2>三、联系我们</h2><p>如有问题，请发送邮件至 privacy@example.cn。</p></body></html>`

const policyV2 = `<html><head><title>示例出行隐私政策</title></head><body><h1>示例出行隐私政策</h1>
<h2>一、我们收集的信息</h2><p>为提供打车服务，我们会收集您的位置信息和手机号码。</p><p>为便于您粘贴地址，我们会读取您的剪切板内容。</p>
<h2>二、第三方SDK</h2><p>我们接入了友盟统计SDK，用于统计分析。</p>
<h3>三、联系我们</h3><p>如有问题，请发送邮件至 privacy@example.cn。</p></body></html>`

// withPolicyVersions gives the fixture's target a policy source and stores its versions,
// captured a day apart from t0.
func withPolicyVersions(t *testing.T, fx *fixture, t0 time.Time, versions ...string) []string {
	fx.target.Sources = append(fx.target.Sources, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: policyURL})
	var hs []string
	for i, v := range versions {
		ref, err := fx.ev.Put(bytes.NewReader([]byte(v)), evidence.Meta{CapturedAt: t0.Add(time.Duration(i) * 24 * time.Hour),
			Method: "http_fetch", Source: policyURL, Tool: "pilmon 0.1.0-test", MediaType: "text/html"})
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, ref.SHA256)
	}
	return hs
}

func policyJob(t *testing.T, fx *fixture, c *CaseInfo) *job {
	d := fx.deps(true)
	d.Case = c
	j := &job{target: fx.target, ev: fx.ev, cat: fx.cat, opts: d.Options}
	j.opts.Case = c
	if err := j.prepare(); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestPolicyDiffs(t *testing.T) {
	fx := newFixture(t)
	t0 := time.Date(2025, 5, 1, 2, 0, 0, 0, time.UTC)
	hs := withPolicyVersions(t, fx, t0, policyV1, policyV1, policyV2)
	// No 检察建议: the earliest version against the newest.
	ds := policyJob(t, fx, nil).policyDiffs(context.Background())
	if len(ds) != 1 {
		t.Fatalf("%d policy diffs, want 1", len(ds))
	}
	d := ds[0]
	if d.AtRecommendation || d.Same || d.Old.SHA256 != hs[0] || d.New.SHA256 != hs[2] || d.Old.CapturedAt != "2025-05-01 10:00:00 北京时间" {
		t.Errorf("versions: %+v %+v (at recommendation %v)", d.Old, d.New, d.AtRecommendation)
	}
	var removed, added []string
	for _, s := range d.Sections {
		removed, added = append(removed, s.Removed...), append(added, s.Added...)
	}
	if !strings.Contains(strings.Join(added, "\n"), "剪切板") || !strings.Contains(strings.Join(removed, "\n"), "保存六个月") {
		t.Errorf("changed text: removed %q, added %q", removed, added)
	}
	if strings.Contains(strings.Join(append(removed, added...), "\n"), "privacy@example.cn") {
		t.Error("an unchanged sentence is listed as changed")
	}
	if !strings.Contains(strings.Join(d.SDKAdded, ""), "友盟") || len(d.SDKGone) != 0 {
		t.Errorf("SDKs added %q, gone %q; want 友盟 added", d.SDKAdded, d.SDKGone)
	}
	if !strings.Contains(strings.Join(d.PIAdded, ""), "剪") {
		t.Errorf("PI added %q, want the clipboard", d.PIAdded)
	}

	// With a 检察建议 after the third capture, its version is the newest: no change. Between
	// the first and the second capture, the first version is the one at the recommendation.
	d = policyJob(t, fx, &CaseInfo{PolicySince: t0.Add(30 * time.Hour)}).policyDiffs(context.Background())[0]
	if !d.AtRecommendation || d.Old.SHA256 != hs[1] || d.Old.CapturedAt != "2025-05-02 10:00:00 北京时间" {
		t.Errorf("version at the recommendation: %+v (at recommendation %v)", d.Old, d.AtRecommendation)
	}
	d = policyJob(t, fx, &CaseInfo{PolicySince: t0.Add(100 * time.Hour)}).policyDiffs(context.Background())[0]
	if !d.Same || len(d.Sections) != 0 {
		t.Errorf("recommendation after the last change: same %v, %d sections", d.Same, len(d.Sections))
	}
}

// TestPolicyDiffCapped: a rewrite of many sentences lists maxPolicyDiffLines and counts the rest.
func TestPolicyDiffCapped(t *testing.T) {
	fx := newFixture(t)
	var a, b strings.Builder
	a.WriteString("<html><body><h1>隐私政策</h1><h2>一、我们收集的信息</h2>")
	b.WriteString("<html><body><h1>隐私政策</h1><h2>一、我们收集的信息</h2>")
	for i := range 60 {
		fmt.Fprintf(&a, "<p>旧条款第%d条：我们会收集您的设备信息。</p>", i)
		fmt.Fprintf(&b, "<p>新条款第%d条：我们会收集您的设备信息。</p>", i)
	}
	withPolicyVersions(t, fx, time.Date(2025, 5, 1, 2, 0, 0, 0, time.UTC), a.String()+"</body></html>", b.String()+"</body></html>")
	d := policyJob(t, fx, nil).policyDiffs(context.Background())[0]
	n := 0
	for _, s := range d.Sections {
		n += len(s.Removed) + len(s.Added)
	}
	if n != maxPolicyDiffLines || d.MoreLines != 120-maxPolicyDiffLines {
		t.Errorf("%d lines shown, %d left out; want %d and %d", n, d.MoreLines, maxPolicyDiffLines, 120-maxPolicyDiffLines)
	}
}

// TestPolicyDiffOneVersion: a target whose policy was captured once (or twice, the same bytes)
// has no policy section, in the data or the HTML.
func TestPolicyDiffOneVersion(t *testing.T) {
	fx := newFixture(t)
	withPolicyVersions(t, fx, time.Date(2025, 5, 1, 2, 0, 0, 0, time.UTC), policyV1, policyV1)
	j := policyJob(t, fx, nil)
	if ds := j.policyDiffs(context.Background()); len(ds) != 0 {
		t.Fatalf("policy diffs of one version: %+v", ds)
	}
	d := j.reportData("")
	d.Main = true
	html, err := renderHTML(d)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, `id="policy"`) || strings.Contains(html, "隐私政策版本变化") {
		t.Error("the report has a policy section for a single version")
	}
}

// TestPolicyDiffPDF prints a case whose target's policy changed after the 检察建议 and reads the
// section back with pdftotext: both versions by capture time and SHA-256, what changed, and the
// contents page entry; the English report has the section too.
func TestPolicyDiffPDF(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	b := newBrowser(t)
	fx, d, _ := courtFixture(t)
	t0 := time.Date(2025, 5, 1, 2, 0, 0, 0, time.UTC)
	hs := withPolicyVersions(t, fx, t0, policyV1, policyV2)
	d.Target = &fx.target
	d.Browser = b
	d.Case.PolicySince = t0.Add(time.Hour)
	for _, lang := range []string{"zh", "en"} {
		d.Lang = lang
		bundle := fx.export(t, d)
		pdfPath := filepath.Join(t.TempDir(), "report.pdf")
		if err := os.WriteFile(pdfPath, member(t, bundle, ReportName), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(pdftotext, "-enc", "UTF-8", pdfPath, "-").Output()
		if err != nil {
			t.Fatalf("pdftotext: %v", err)
		}
		flat := spaces.ReplaceAllString(string(out), "")
		want := []string{"隐私政策版本变化", "检察建议时的版本", "最新版本", "2025-05-0110:00:00北京时间", "2025-05-0210:00:00北京时间",
			hs[0], hs[1], "新增：为便于您粘贴地址，我们会读取您的剪切板内容。", "删除：我们将您的个人信息保存六个月，到期后删除。", "声明的第三方SDK：新增：友盟"}
		if lang == "en" {
			want = []string{"Privacypolicyversions", "Versionattherecommendation", "Newestversion", hs[0], hs[1],
				"added:为便于您粘贴地址，我们会读取您的剪切板内容。", "removed:我们将您的个人信息保存六个月，到期后删除。"}
		}
		for _, w := range want {
			if !strings.Contains(flat, w) {
				t.Errorf("%s report lacks %q", lang, w)
			}
		}
		// The contents page lists the section.
		for _, page := range strings.Split(string(out), "\f") {
			if p := spaces.ReplaceAllString(page, ""); strings.Contains(p, "目录") && lang == "zh" && !strings.Contains(p, "隐私政策版本变化") {
				t.Error("the contents page does not list the policy section")
			}
		}
	}
}

// TestPolicyDiffXLSX: the spreadsheet has a 政策变化 sheet listing the versions and the changed
// sentences when the policy changed, and none when it was captured in one version.
func TestPolicyDiffXLSX(t *testing.T) {
	for _, versions := range [][]string{{policyV1, policyV2}, {policyV1}} {
		fx := newFixture(t)
		hs := withPolicyVersions(t, fx, time.Date(2025, 5, 1, 2, 0, 0, 0, time.UTC), versions...)
		bundle := fx.export(t, fx.deps(true))
		f, err := excelize.OpenReader(bytes.NewReader(member(t, bundle, SheetName)))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := f.GetRows(SheetPolicy)
		f.Close()
		if len(versions) == 1 {
			if err == nil && len(rows) > 0 {
				t.Errorf("a policy captured once has a %s sheet: %q", SheetPolicy, rows)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		all := fmt.Sprint(rows)
		for _, want := range []string{"最早采集的版本 → 最新版本", hs[0], hs[1], "2025-05-01 10:00:00 北京时间", "为便于您粘贴地址，我们会读取您的剪切板内容。",
			"我们将您的个人信息保存六个月，到期后删除。"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s sheet lacks %q:\n%s", SheetPolicy, want, all)
			}
		}
	}
}
