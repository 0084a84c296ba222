package casefile

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/store"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func TestRoundTrip(t *testing.T) {
	fx := newFixture(t)
	bundle := fx.export(t, fx.deps(true))
	pub := testKey().Public().(ed25519.PublicKey)
	rep := verifyBytes(t, bundle, VerifyOptions{PublicKey: pub})
	if !rep.OK {
		t.Fatalf("fresh bundle fails verification:\n%s", rep)
	}
	if rep.Findings != 3 || rep.KeyFingerprint != KeyFingerprint(pub) || !rep.KeyGiven {
		t.Errorf("report: %+v", rep)
	}
	// Every artifact is in the bundle byte for byte, under evidence/<sha256>.<ext>.
	var m Manifest
	if err := json.Unmarshal(member(t, bundle, ManifestName), &m); err != nil {
		t.Fatal(err)
	}
	evCount := 0
	for _, fe := range m.Files {
		if fe.Role != RoleEvidence {
			continue
		}
		evCount++
		h, _, _ := strings.Cut(strings.TrimPrefix(fe.Path, EvidenceDir), ".")
		if !bytes.Equal(member(t, bundle, fe.Path), fx.evBytes[h]) {
			t.Errorf("%s differs from the stored artifact", fe.Path)
		}
		if len(fe.Captures) == 0 || fe.Captures[0].Method == "" || fe.Captures[0].Tool == "" || fe.Captures[0].CapturedAt.IsZero() {
			t.Errorf("%s: capture records missing: %+v", fe.Path, fe.Captures)
		}
	}
	if evCount != 4 {
		t.Errorf("%d artifacts bundled, want 4", evCount)
	}
	// Without --pubkey the bundle's own key is used.
	if rep := verifyBytes(t, bundle, VerifyOptions{}); !rep.OK || rep.KeyGiven {
		t.Errorf("verify with the bundled key: %+v", rep)
	}
}

func TestVerifyNamesTampering(t *testing.T) {
	fx := newFixture(t)
	bundle := fx.export(t, fx.deps(true))
	pub := testKey().Public().(ed25519.PublicKey)
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	expect := func(t *testing.T, rep *VerifyReport, kind, path string) {
		t.Helper()
		if rep.OK {
			t.Fatalf("tampered bundle verifies")
		}
		for _, p := range rep.Problems {
			if p.Kind == kind && p.Path == path {
				return
			}
		}
		t.Fatalf("want a %s problem naming %s, got:\n%s", kind, path, rep)
	}
	// Flip one byte in every member in turn.
	for _, f := range zr.File {
		t.Run("flip/"+f.Name, func(t *testing.T) {
			bad := rewrite(t, bundle, func(name string, data []byte) ([]byte, bool) {
				if name == f.Name {
					data = slices.Clone(data)
					data[len(data)/2] ^= 0x01
				}
				return data, false
			}, nil)
			rep := verifyBytes(t, bad, VerifyOptions{PublicKey: pub})
			switch f.Name {
			case ManifestName:
				// A flipped byte either breaks the JSON or changes what it says; the signature fails in both cases.
				expect(t, rep, ProblemSignature, SignatureName)
			case SignatureName:
				expect(t, rep, ProblemSignature, SignatureName)
			default:
				expect(t, rep, ProblemAltered, f.Name)
			}
		})
	}
	t.Run("add", func(t *testing.T) {
		bad := rewrite(t, bundle, func(_ string, d []byte) ([]byte, bool) { return d, false },
			map[string][]byte{"evidence/planted.txt": []byte("not captured by pilmon")})
		expect(t, verifyBytes(t, bad, VerifyOptions{PublicKey: pub}), ProblemAdded, "evidence/planted.txt")
	})
	t.Run("drop", func(t *testing.T) {
		victim := EvidenceDir + fx.refs["policy"] + ".html.txt"
		bad := rewrite(t, bundle, func(name string, d []byte) ([]byte, bool) { return d, name == victim }, nil)
		expect(t, verifyBytes(t, bad, VerifyOptions{PublicKey: pub}), ProblemRemoved, victim)
	})
	t.Run("drop-signature", func(t *testing.T) {
		bad := rewrite(t, bundle, func(name string, d []byte) ([]byte, bool) { return d, name == SignatureName }, nil)
		expect(t, verifyBytes(t, bad, VerifyOptions{PublicKey: pub}), ProblemSignature, SignatureName)
	})
	t.Run("edit-manifest", func(t *testing.T) {
		// Edit a member and "fix" its hash in the manifest: the hashes agree, the signature does not.
		victim := FindingsName
		var newFindings []byte
		bad := rewrite(t, bundle, func(name string, d []byte) ([]byte, bool) {
			if name == victim {
				newFindings = bytes.Replace(d, []byte(`"in_review"`), []byte(`"dismissed"`), 1)
				return newFindings, false
			}
			return d, false
		}, nil)
		e := entryFor(mustManifest(t, bundle), victim)
		got, _ := hashMember(zipMember(t, bad, victim), 1<<30, make([]byte, 4096))
		bad = rewrite(t, bad, func(name string, d []byte) ([]byte, bool) {
			if name == ManifestName {
				d = bytes.Replace(d, []byte(e.SHA256), []byte(got.SHA256), 1)
				d = bytes.Replace(d, []byte(e.SM3), []byte(got.SM3), 1)
			}
			return d, false
		}, nil)
		rep := verifyBytes(t, bad, VerifyOptions{PublicKey: pub})
		expect(t, rep, ProblemSignature, SignatureName)
		for _, p := range rep.Problems {
			if p.Kind == ProblemAltered {
				t.Errorf("hashes were fixed up, yet %s", p)
			}
		}
	})
	t.Run("other-key", func(t *testing.T) {
		other, _, _ := ed25519.GenerateKey(nil)
		expect(t, verifyBytes(t, bundle, VerifyOptions{PublicKey: other}), ProblemKey, ManifestName)
	})
	t.Run("resigned-by-attacker", func(t *testing.T) {
		// An attacker who re-signs with their own key passes without --pubkey only; with the
		// office's key the substitution is named.
		_, atk, _ := ed25519.GenerateKey(nil)
		d := fx.deps(true)
		d.Key = atk
		forged := fx.export(t, d)
		expect(t, verifyBytes(t, forged, VerifyOptions{PublicKey: pub}), ProblemKey, ManifestName)
	})
	t.Run("not-a-zip", func(t *testing.T) {
		if _, err := Verify(bytes.NewReader([]byte("hello")), 5, VerifyOptions{}); err == nil {
			t.Fatal("a non-zip verified without error")
		}
	})
}

func zipMember(t *testing.T, bundle []byte, name string) *zip.File {
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

func mustManifest(t testing.TB, bundle []byte) Manifest {
	var m Manifest
	if err := json.Unmarshal(member(t, bundle, ManifestName), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func entryFor(m Manifest, path string) FileEntry {
	for _, e := range m.Files {
		if e.Path == path {
			return e
		}
	}
	return FileEntry{}
}

func TestGoldenManifestAndFindings(t *testing.T) {
	fx := newFixtureWith(t, true)
	a := fx.export(t, fx.deps(true))
	b := fx.export(t, fx.deps(true))
	for _, name := range []string{ManifestName, FindingsName} {
		got := member(t, a, name)
		if !bytes.Equal(got, member(t, b, name)) {
			t.Errorf("%s differs between two exports of the same input", name)
		}
		golden := filepath.Join("testdata", "golden."+name)
		if *update {
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test ./casefile -run Golden -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (go test ./casefile -run Golden -update, then review the diff)\n%s", name, golden, firstDiff(got, want))
		}
	}
	// findings.json is valid JSON holding MarshalCanonical of each finding.
	var fj struct {
		Format   string `json:"format"`
		Findings []struct {
			Finding json.RawMessage       `json:"finding"`
			History []findings.Transition `json:"history"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(member(t, a, FindingsName), &fj); err != nil {
		t.Fatal(err)
	}
	if fj.Format != FindingsFormat || len(fj.Findings) != 3 {
		t.Fatalf("findings.json: format %q, %d findings", fj.Format, len(fj.Findings))
	}
	for _, e := range fj.Findings {
		var f findings.Finding
		if err := json.Unmarshal(e.Finding, &f); err != nil {
			t.Fatal(err)
		}
		want, _ := findings.MarshalCanonical(fx.store.fs[f.Fingerprint])
		if !bytes.Equal(e.Finding, want) {
			t.Errorf("finding %s is not its canonical JSON", f.Fingerprint)
		}
		if len(e.History) != 1 || e.History[0].Actor != "analyst-li" {
			t.Errorf("finding %s history: %+v", f.Fingerprint, e.History)
		}
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < max(len(la), len(lb)); i++ {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n got  " + x + "\n want " + y
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestTamperedBlobAbortsExport(t *testing.T) {
	fx := newFixture(t)
	h := fx.refs["policy"]
	p, err := fx.ev.Path(h)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(p)
	data[10] ^= 0x20 // same size: Stat passes, the hash does not
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = Export(context.Background(), &buf, Selection{TargetID: "app-demo"}, fx.deps(true))
	if err == nil || !errors.Is(err, evidence.ErrTampered) || !strings.Contains(err.Error(), h) {
		t.Fatalf("export of a tampered blob: %v; want ErrTampered naming %s", err, h)
	}
}

func TestSelections(t *testing.T) {
	fx := newFixture(t)
	var buf bytes.Buffer
	d := fx.deps(true)
	d.Target = nil
	sum, err := Export(context.Background(), &buf, Selection{Fingerprints: []string{fx.fps[0]}}, d)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Findings != 1 {
		t.Errorf("one fingerprint exported %d findings", sum.Findings)
	}
	m := mustManifest(t, buf.Bytes())
	if m.Target.ID != "app-demo" || len(m.Selection.Fingerprints) != 1 {
		t.Errorf("manifest target %q selection %+v", m.Target.ID, m.Selection)
	}
	if _, err := Export(context.Background(), &bytes.Buffer{}, Selection{Fingerprints: []string{"0000"}}, d); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown fingerprint: %v", err)
	}
	if _, err := Export(context.Background(), &bytes.Buffer{}, Selection{TargetID: "nobody"}, d); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty target: %v", err)
	}
	d.Key = nil
	if _, err := Export(context.Background(), &bytes.Buffer{}, Selection{TargetID: "app-demo"}, d); err == nil {
		t.Error("export without a key succeeded")
	}
}

func TestWriteScanBundle(t *testing.T) {
	fx := newFixture(t)
	var fs []findings.Finding
	for _, fp := range fx.fps {
		fs = append(fs, fx.store.fs[fp])
	}
	extra, err := fx.ev.Put(strings.NewReader("a source no finding cites"), evidence.Meta{Method: "file_import", Source: "x.txt", MediaType: "text/plain"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	err = WriteScanBundle(context.Background(), &buf, ScanBundleInput{Findings: fs, Evidence: fx.ev, Catalogue: fx.cat,
		Target: fx.target, User: "analyst", ScanID: "scan-0002", EvidenceRefs: []string{extra.SHA256, fx.refs["apk"]},
		Options: Options{Key: testKey(), SkipPDF: true}})
	if err != nil {
		t.Fatal(err)
	}
	rep := verifyBytes(t, buf.Bytes(), VerifyOptions{PublicKey: testKey().Public().(ed25519.PublicKey)})
	if !rep.OK {
		t.Fatalf("scan bundle:\n%s", rep)
	}
	m := mustManifest(t, buf.Bytes())
	if m.ScanID != "scan-0002" || entryFor(m, EvidenceDir+extra.SHA256+".txt").SHA256 != extra.SHA256 {
		t.Errorf("scan bundle manifest: scan %q, extra artifact %+v", m.ScanID, entryFor(m, EvidenceDir+extra.SHA256+".txt"))
	}
}

func TestXLSX(t *testing.T) {
	fx := newFixture(t)
	bundle := fx.export(t, fx.deps(true))
	x, err := excelize.OpenReader(bytes.NewReader(member(t, bundle, SheetName)))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows(SheetFindings)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows in %s, want header + 3", len(rows), SheetFindings)
	}
	for i, h := range findingHeaders {
		if rows[0][i] != h {
			t.Errorf("header %d = %q, want %q", i, rows[0][i], h)
		}
	}
	for _, want := range []string{"指纹", "对象", "层级", "证据类型", "规则", "标题", "严重度", "状态", "法律依据", "首次发现", "最近发现", "证据数"} {
		if !slices.ContainsFunc(rows[0], func(h string) bool { return strings.HasPrefix(h, want) }) {
			t.Errorf("no column %s", want)
		}
	}
	gotFP := []string{rows[1][1], rows[2][1], rows[3][1]}
	for _, fp := range fx.fps {
		if !slices.Contains(gotFP, fp) {
			t.Errorf("finding %s has no row", fp)
		}
	}
	for _, r := range rows[1:] {
		f := fx.store.fs[r[1]]
		v, _ := fx.cat.Violation(f.RuleID)
		if r[2] != "app-demo" || r[3] != "未分级" || r[5] != f.RuleID || r[6] != v.Title.ZH || r[8] != "待审查" && r[8] != f.State.Label().ZH {
			t.Errorf("row %v does not match finding %+v", r[:10], f.RuleID)
		}
		if !strings.Contains(r[9], "《") {
			t.Errorf("legal basis cell %q", r[9])
		}
	}
	ev, err := x.GetRows(SheetEvidence)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) != 5 || ev[0][1] != "SHA-256" || ev[0][2] != "SM3" {
		t.Fatalf("evidence sheet: %d rows, header %v", len(ev), ev[0])
	}
	for _, r := range ev[1:] {
		if fx.evBytes[r[1]] == nil || len(r[2]) != 64 {
			t.Errorf("evidence row %v", r[:3])
		}
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadOrCreateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, keyDir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v mode %v", err, fi.Mode())
	}
	k2, err := LoadOrCreateKey(dir)
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("second load gave another key: %v", err)
	}
	pubPEM, err := os.ReadFile(filepath.Join(dir, keyDir, pubFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil || !pub.Equal(k1.Public()) {
		t.Fatalf("public key file: %v", err)
	}
	os.Chmod(filepath.Join(dir, keyDir, keyFile), 0o644)
	if _, err := LoadOrCreateKey(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key accepted: %v", err)
	}
	if len(KeyFingerprint(pub)) != 64 || GroupFingerprint("abcdefgh") != "abcd efgh" {
		t.Error("fingerprint format")
	}
}

// Findings (认定事实) come before leads (待核实线索) in every export, each tier grouped by legal
// item (认定方法 items in their order before other anchors, severity only within a group), and
// the report opens a part of its findings section for each tier, with the lead title for a lead.
func TestFindingsBeforeLeads(t *testing.T) {
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	mk := func(rule, tier string, sev rules.Severity) item {
		return item{f: findings.Finding{Fingerprint: rule + tier, RuleID: rule, Subject: "s", Severity: sev, Tier: tier, Grade: rules.GradeStatic}}
	}
	items := []item{mk("rdff-3.9", rules.TierLead, "high"), mk("pipl-47-no-deletion", rules.TierFinding, "medium"),
		mk("rdff-4.1", rules.TierLead, "critical"), mk("rdff-3.1", rules.TierFinding, "high")}
	sortItems(items)
	var got []string
	for _, it := range items {
		got = append(got, it.f.Tier+" "+it.f.RuleID)
	}
	want := []string{"finding rdff-3.1", "finding pipl-47-no-deletion", "lead rdff-3.9", "lead rdff-4.1"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	j := &job{cat: cat, items: items, opts: Options{Lang: "zh", Key: key}, records: map[string]evidence.Record{}}
	d := j.reportData("")
	var heads []string
	for _, fv := range d.Findings {
		if fv.TierHeading != "" {
			heads = append(heads, fv.TierHeading)
		}
	}
	if len(heads) != 2 || !strings.Contains(heads[0], "认定事实") || !strings.Contains(heads[1], "待核实线索") {
		t.Errorf("report headings %q", heads)
	}
	v, _ := cat.Violation("rdff-3.9")
	if d.Findings[2].Title != v.LeadTitle.ZH || d.Findings[2].Tier != "待核实线索" {
		t.Errorf("lead shown as %q / %q", d.Findings[2].Title, d.Findings[2].Tier)
	}
	var groups []string
	for _, fv := range d.Findings {
		if fv.GroupHeading != "" {
			groups = append(groups, fv.GroupHeading)
		}
	}
	if len(groups) != 4 || !strings.Contains(groups[0], "3.1") || groups[1] != "其他" {
		t.Errorf("legal-item groups %q", groups)
	}
}
