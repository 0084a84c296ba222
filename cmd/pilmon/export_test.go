package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/casefile"
	"pilmon/internal/testredis"
	"pilmon/store"

	"pilmon/cases"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"

	"github.com/xuri/excelize/v2"
)

// TestExportAndVerify runs `pilmon export` against a real redis-server holding two findings and
// `pilmon verify` on the bundle it writes, then on tampered copies.
func TestExportAndVerify(t *testing.T) {
	ctx := context.Background()
	dataDir, srv, store, fps := seedExport(t)
	if _, err := store.Transition(ctx, fps[0], findings.StateInReview, "analyst", findings.TransitionInput{Note: "看一下"}); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "case.zip")
	// A target's untriaged finding is left out unless asked for.
	code, stdout, stderr := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--out", out, "--no-pdf", "--user", "wang")
	if code != exitOK || !strings.Contains(stdout, "1 条发现") {
		t.Fatalf("export without untriaged: %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--out", out, "--no-pdf", "--user", "wang", "--include-untriaged")
	if code != exitOK {
		t.Fatalf("export: %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "2 条发现") || !strings.Contains(stdout, "signing key fingerprint") {
		t.Errorf("export output: %s", stdout)
	}
	pub := filepath.Join(dataDir, "keys", "casefile-ed25519.pub.pem")
	code, stdout, stderr = runCLI(t, "verify", out, "--pubkey", pub)
	if code != exitOK || !strings.Contains(stdout, "verification OK") {
		t.Fatalf("verify: %d\n%s%s", code, stdout, stderr)
	}
	// One finding by fingerprint.
	one := filepath.Join(t.TempDir(), "one.zip")
	if code, stdout, stderr := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--finding", fps[1], "--out", one, "--no-pdf", "--json"); code != exitOK || !strings.Contains(stdout, `"findings": 1`) {
		t.Fatalf("export --finding: %d\n%s%s", code, stdout, stderr)
	}
	// A planted member fails verification with exit 1 and is named.
	bad := filepath.Join(t.TempDir(), "bad.zip")
	plant(t, out, bad, "evidence/extra.bin")
	code, stdout, _ = runCLI(t, "verify", bad, "--pubkey", pub)
	if code != exitError || !strings.Contains(stdout, "added: evidence/extra.bin") {
		t.Fatalf("verify of a bundle with a planted file: %d\n%s", code, stdout)
	}
	// Usage errors.
	if code, _, _ := runCLI(t, "export", "--data-dir", dataDir, "--out", out); code != exitUsage {
		t.Errorf("export without a selection: %d", code)
	}
	if code, _, _ := runCLI(t, "verify"); code != exitUsage {
		t.Errorf("verify without a bundle: %d", code)
	}
	if code, _, _ := runCLI(t, "verify", filepath.Join(dataDir, "nope.zip")); code != exitError {
		t.Errorf("verify of a missing file: %d", code)
	}
}

// seedExport starts a redis-server in a fresh data dir and stores two findings of target t1
// (rdff-3.1 to a.example and b.example) citing one captured page.
func seedExport(t *testing.T) (string, *store.RedisServer, *store.Store, []string) {
	t.Helper()
	ctx := context.Background()
	dataDir := t.TempDir()
	srv := testredis.Start(t, filepath.Join(dataDir, "redis-test"))
	ev, err := evidence.Open(filepath.Join(dataDir, "evidence"), evidence.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := ev.Put(strings.NewReader("<html>隐私政策</html>"), evidence.Meta{Method: "http_fetch", Source: "https://example.cn/p", MediaType: "text/html"})
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewStore(srv.Client(), store.DefaultPrefix)
	var fps []string
	for _, subj := range []string{"a.example", "b.example"} {
		f := findings.Finding{Fingerprint: findings.Fingerprint("t1", "rdff-3.1", subj), TargetID: "t1", RuleID: "rdff-3.1",
			RuleVersion: 1, Subject: subj, Severity: "high", Tier: rules.TierFinding, LegalBasis: []rules.Citation{{Instrument: "pipl", Article: "13"}},
			Summary:      rules.Text{ZH: "同意前发送设备标识至 " + subj, EN: "device id before consent to " + subj},
			Observations: []scanner.Observation{{Kind: "traffic.pi_sent", Subject: subj, EvidenceRefs: []string{ref.SHA256}, Inspector: "traffic", InspectorVersion: "1"}},
			EvidenceRefs: []string{ref.SHA256}, FirstSeen: time.Now(), LastSeen: time.Now()}
		if _, err := st.Upsert(ctx, f, "scan-1"); err != nil {
			t.Fatal(err)
		}
		fps = append(fps, f.Fingerprint)
	}
	return dataDir, srv, st, fps
}

func plant(t *testing.T, from, to, name string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if err := zw.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	w, _ := zw.Create(name)
	io.WriteString(w, "planted")
	zw.Close()
	if err := os.WriteFile(to, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExportCase runs `pilmon export --case`: the case file holds the case's findings only (an
// untriaged one included, because the prosecutor put it in the case; another finding of the same
// target left out), and its draft 检察建议书 states the case's facts.
func TestExportCase(t *testing.T) {
	ctx := context.Background()
	dataDir, srv, st, fps := seedExport(t)
	if _, err := st.Transition(ctx, fps[0], findings.StateInReview, "analyst-li", findings.TransitionInput{Note: "测试机复现"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c, evs, err := cases.New(cases.Fields{CaseNo: "京检行公建〔2026〕7号", Type: cases.Administrative, Handler: "检察官张",
		Operator: cases.Operator{Name: "示例科技有限公司", USCC: "91440300708461136T"},
		Agency:   cases.Agency{Name: "某市通信管理局", DutyBasis: "个人信息保护法第六十条"}, TargetID: "t1"},
		fps[:1], "立案时选定", "检察官张", now)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = st.CreateCase(ctx, c, evs); err != nil {
		t.Fatal(err)
	}
	out, draft := filepath.Join(t.TempDir(), "case.zip"), filepath.Join(t.TempDir(), "draft.docx")
	code, stdout, stderr := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--case", c.ID, "--out", out,
		"--draft", draft, "--no-pdf", "--user", "wang", "--json", "--procuratorate", "某市人民检察院")
	if code != exitOK || !strings.Contains(stdout, `"findings": 1`) {
		t.Fatalf("export --case: %d\n%s%s", code, stdout, stderr)
	}
	docx, err := os.ReadFile(draft)
	if err != nil {
		t.Fatal(err)
	}
	text := docxText(t, docx)
	for _, want := range []string{"示例科技有限公司", "某市通信管理局", "a.example"} {
		if !strings.Contains(text, want) {
			t.Errorf("draft 检察建议书 lacks %q", want)
		}
	}
	if strings.Contains(text, "b.example") {
		t.Error("the draft names a finding outside the case")
	}
	bundle, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	var sawFindings bool
	for _, f := range zr.File {
		if f.Name != "findings.json" {
			continue
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		sawFindings = true
		if !strings.Contains(string(b), fps[0]) || strings.Contains(string(b), fps[1]) {
			t.Errorf("findings.json does not hold exactly the case's finding")
		}
	}
	if !sawFindings {
		t.Error("no findings.json in the case file")
	}
	// Usage: --case with --target, --draft without --case, an unknown case.
	if code, _, _ := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--case", c.ID, "--target", "t1", "--out", out); code != exitUsage {
		t.Errorf("--case with --target: %d", code)
	}
	if code, _, _ := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--draft", draft, "--out", out); code != exitUsage {
		t.Errorf("--draft without --case: %d", code)
	}
	if code, _, _ := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--case", "nope", "--out", out, "--no-pdf"); code != exitError {
		t.Errorf("unknown case: %d", code)
	}
}

// docxText is the text of a DOCX's main document part (tags dropped).
func docxText(t *testing.T, docx []byte) string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(docx), int64(len(docx)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			var sb strings.Builder
			in := false
			for _, r := range string(b) {
				switch {
				case r == '<':
					in = true
				case r == '>':
					in = false
				case !in:
					sb.WriteRune(r)
				}
			}
			return sb.String()
		}
	}
	t.Fatal("no word/document.xml in the DOCX")
	return ""
}

// TestExportTargetDeadlines: an export of a target's findings (not one case's) fills the XLSX's
// 期限 and 文书编号 columns of each finding in a case from that case, naming it, and leaves them
// empty for a finding in none.
func TestExportTargetDeadlines(t *testing.T) {
	ctx := context.Background()
	dataDir, srv, st, fps := seedExport(t)
	now := time.Now()
	c, evs, err := cases.New(cases.Fields{CaseNo: "京检行公建〔2026〕9号", Type: cases.Administrative, Handler: "检察官张",
		Operator: cases.Operator{Name: "示例科技有限公司"}, Agency: cases.Agency{Name: "某市通信管理局", DutyBasis: "个人信息保护法第六十条"},
		TargetID: "t1"}, fps[:1], "立案时选定", "检察官张", now)
	if err != nil {
		t.Fatal(err)
	}
	if c, err = st.CreateCase(ctx, c, evs); err != nil {
		t.Fatal(err)
	}
	docDate := now.In(time.FixedZone("CST", 8*3600)).AddDate(0, 0, -1).Format("2006-01-02")
	if _, err = st.UpdateCase(ctx, c.ID, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.Move(cases.StateRecommendation, cases.MoveInput{Number: "京检行公建〔2026〕9号-建议", Date: docDate}, "检察官张", cases.DefaultPolicy, now)
		return []cases.Event{ev}, err
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "t1.zip")
	if code, stdout, stderr := runCLI(t, "export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "t1", "--out", out,
		"--no-pdf", "--include-untriaged", "--user", "wang"); code != exitOK {
		t.Fatalf("export --target: %d\n%s%s", code, stdout, stderr)
	}
	bundle, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	var sheet []byte
	for _, f := range zr.File {
		if f.Name == casefile.SheetName {
			rc, _ := f.Open()
			sheet, _ = io.ReadAll(rc)
			rc.Close()
		}
	}
	x, err := excelize.OpenReader(bytes.NewReader(sheet))
	if err != nil {
		t.Fatalf("%s: %v", casefile.SheetName, err)
	}
	defer x.Close()
	// the full sheet: the one with the 期限 column (the other follows MIIT's notices)
	var rows [][]string
	for _, name := range x.GetSheetList() {
		r, err := x.GetRows(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) > 0 && strings.Contains(strings.Join(r[0], "|"), "期限") {
			rows = r
		}
	}
	if len(rows) < 3 {
		t.Fatalf("the sheet with a 期限 column has %d rows", len(rows))
	}
	col := func(name string) int {
		for i, h := range rows[0] {
			if strings.HasPrefix(h, name) {
				return i
			}
		}
		t.Fatalf("no %s column in %q", name, rows[0])
		return -1
	}
	dl, dn := col("期限"), col("文书编号")
	cell := func(r []string, i int) string {
		if i < len(r) {
			return r[i]
		}
		return ""
	}
	seen := 0
	for _, r := range rows[1:] {
		joined := strings.Join(r, "\x00")
		switch {
		case strings.Contains(joined, fps[0]):
			seen++
			if d := cell(r, dl); !strings.Contains(d, "京检行公建〔2026〕9号") || !strings.Contains(d, "回复") {
				t.Errorf("the case member's 期限 is %q, want the case number and the reply deadline", d)
			}
			if n := cell(r, dn); !strings.Contains(n, "京检行公建〔2026〕9号-建议") {
				t.Errorf("the case member's 文书编号 is %q", n)
			}
		case strings.Contains(joined, fps[1]):
			seen++
			if d := cell(r, dl); d != "" {
				t.Errorf("a finding in no case has 期限 %q", d)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("found %d of the two findings' rows (by fingerprint) in %d rows", seen, len(rows)-1)
	}
}
