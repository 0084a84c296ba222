package casefile

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"pilmon/browser"
)

// newBrowser returns Debian's Chromium or skips.
func newBrowser(t *testing.T) *browser.Browser {
	t.Helper()
	b, err := browser.New(browser.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Available(); err != nil {
		t.Skipf("PDF tests need Debian's chromium package: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func needTool(t *testing.T, tool, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not found: install the Debian package %s", tool, pkg)
	}
	return p
}

var spaces = regexp.MustCompile(`\s+`)

// TestPDF prints the Chinese report and checks, through poppler, that the rule titles and the
// evidence hashes are in its text and that page 1 renders. Set CASEFILE_KEEP_PNG=path to keep the
// rendered cover for a look.
func TestPDF(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	pdftoppm := needTool(t, "pdftoppm", "poppler-utils")
	b := newBrowser(t)
	fx := newFixture(t)
	d := fx.deps(false)
	d.Browser = b
	bundle := fx.export(t, d)
	if rep := verifyBytes(t, bundle, VerifyOptions{PublicKey: testKey().Public().(ed25519.PublicKey)}); !rep.OK {
		t.Fatalf("bundle with PDF:\n%s", rep)
	}
	pdf := member(t, bundle, ReportName)
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("report.pdf is not a PDF: %q", pdf[:min(20, len(pdf))])
	}
	dir := t.TempDir()
	pdfPath := filepath.Join(dir, "report.pdf")
	if err := os.WriteFile(pdfPath, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", pdfPath, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(out)
	flat := spaces.ReplaceAllString(text, "")
	if len(fx.titles) != 3 {
		t.Fatalf("fixture titles %v", fx.titles)
	}
	for _, title := range fx.titles {
		if !strings.Contains(flat, spaces.ReplaceAllString(title, "")) {
			t.Errorf("PDF text lacks the rule title %q", title)
		}
	}
	for name, h := range fx.refs {
		// Hashes wrap inside narrow table cells; compare without white space.
		if !strings.Contains(flat, h) {
			t.Errorf("PDF text lacks the SHA-256 of %s (%s)", name, h)
		}
		if sm := fx.recordSM3(t, h); !strings.Contains(flat, sm) {
			t.Errorf("PDF text lacks the SM3 of %s", name)
		}
	}
	for _, want := range []string{"个人信息保护公益诉讼线索案卷", "示例出行", "示例科技有限公司", "检察官王某", "目录", "保管链",
		"校验说明", "个人信息保护法", GroupFingerprint(KeyFingerprint(testKey().Public().(ed25519.PublicKey)))[:9], "第1页共"} {
		if !strings.Contains(flat, spaces.ReplaceAllString(want, "")) {
			t.Errorf("PDF text lacks %q", want)
		}
	}
	if keep := os.Getenv("CASEFILE_KEEP_PNG"); keep != "" {
		os.WriteFile(strings.TrimSuffix(keep, ".png")+".pdf", pdf, 0o644)
	}
	if !strings.Contains(text, "analyst-li") {
		t.Error("PDF text lacks the history's actor")
	}
	png := filepath.Join(dir, "page")
	if out, err := exec.Command(pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", pdfPath, png).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	matches, _ := filepath.Glob(png + "*.png")
	if len(matches) != 1 {
		t.Fatalf("pdftoppm wrote %v", matches)
	}
	img, err := os.ReadFile(matches[0])
	if err != nil || len(img) < 1000 {
		t.Fatalf("page 1 PNG: %v, %d bytes", err, len(img))
	}
	if keep := os.Getenv("CASEFILE_KEEP_PNG"); keep != "" {
		if err := os.WriteFile(keep, img, 0o644); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(strings.TrimSuffix(keep, ".png")+".pdf", pdf, 0o644)
	}
}

func (fx *fixture) recordSM3(t *testing.T, h string) string {
	rec, err := fx.ev.Stat(h)
	if err != nil {
		t.Fatal(err)
	}
	return rec.Ref.SM3
}

// TestPDFEnglish prints the English report.
func TestPDFEnglish(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	b := newBrowser(t)
	fx := newFixture(t)
	d := fx.deps(false)
	d.Browser, d.Lang = b, "en"
	var buf bytes.Buffer
	if _, err := Export(context.Background(), &buf, Selection{TargetID: "app-demo"}, d); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "r.pdf")
	os.WriteFile(p, member(t, buf.Bytes(), ReportName), 0o644)
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Case file", "Chain of custody", "PI collected before consent", "Personal Information Protection Law"} {
		if !strings.Contains(spaces.ReplaceAllString(string(out), " "), want) {
			t.Errorf("English PDF lacks %q", want)
		}
	}
}

// TestPDFVolumes prints a large export's report in volumes, with the article texts in an appendix.
func TestPDFVolumes(t *testing.T) {
	pdftotext := needTool(t, "pdftotext", "poppler-utils")
	b := newBrowser(t)
	defer func(v, e, a int) { volumeSize, evidenceVolumeSize, inlineArticleLimit = v, e, a }(volumeSize, evidenceVolumeSize, inlineArticleLimit)
	volumeSize, evidenceVolumeSize, inlineArticleLimit = 3, 3, 1
	fx := newFixture(t)
	d := fx.deps(false)
	d.Browser = b
	bundle := fx.export(t, d)
	if rep := verifyBytes(t, bundle, VerifyOptions{}); !rep.OK {
		t.Fatalf("bundle with volumes:\n%s", rep)
	}
	text := func(name string) string {
		p := filepath.Join(t.TempDir(), name)
		os.WriteFile(p, member(t, bundle, name), 0o644)
		out, err := exec.Command(pdftotext, "-enc", "UTF-8", p, "-").Output()
		if err != nil {
			t.Fatal(err)
		}
		return spaces.ReplaceAllString(string(out), "")
	}
	// Volume 1: summary and history; 2: the three findings; 3 and 4: the four artifacts.
	v1, v2, v3, v4 := text("report-01.pdf"), text("report-02.pdf"), text("report-03.pdf"), text("report-04.pdf")
	for i, v := range []string{v1, v2, v3, v4} {
		if !strings.Contains(v, fmt.Sprintf("第%d册，共4册", i+1)) {
			t.Errorf("volume %d has no volume label", i+1)
		}
	}
	if !strings.Contains(v1, "六、法律依据条文") || !strings.Contains(v2, "条文见第六部分") || strings.Contains(v2, "六、法律依据条文") {
		t.Error("the cited provisions belong in volume 1 only")
	}
	if !strings.Contains(v1, "二、发现概要") || !strings.Contains(v1, "一、违法事实汇总表") || strings.Contains(v1, "三、发现详情") {
		t.Error("volume 1 should hold the summary and no finding sections")
	}
	for _, title := range fx.titles {
		if !strings.Contains(v2, spaces.ReplaceAllString(title, "")) {
			t.Errorf("rule title %s missing from the findings volume", title)
		}
	}
	for _, h := range fx.refs {
		if !strings.Contains(v3+v4, h) {
			t.Errorf("evidence volumes lack %s", h)
		}
	}
}
