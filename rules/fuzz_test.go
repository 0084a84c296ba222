package rules

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// miniFS is the small test catalogue under testdata/mini (fast to load, every section present).
func miniFS(t testing.TB) fstest.MapFS {
	t.Helper()
	m := fstest.MapFS{}
	dir := filepath.Join("testdata", "mini")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}

func TestMiniCatalogue(t *testing.T) {
	c, err := Load(miniFS(t))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := c.Violation("test-scope")
	if !ok {
		t.Fatal("test-scope missing")
	}
	e := v.Check.Examples.Positive[0]
	if got := c.Fires(v, e.Category, e.Facts()); len(got) != 1 {
		t.Fatalf("positive example fired on %d facts", len(got))
	}
	// a missing file leaves its section empty; references into it then fail with file and line
	m := miniFS(t)
	delete(m, FileInstruments)
	_, err = Load(m)
	if err == nil || !strings.Contains(err.Error(), "violations.yaml:8: violation test-scope cites unknown instrument pipl:6") {
		t.Fatalf("error = %v", err)
	}
}

// FuzzLoad mutates one file of the mini catalogue (or an overlay merged into it): the loader must
// never panic, and every problem it reports names a file.
func FuzzLoad(f *testing.F) {
	base := miniFS(f)
	names := fileNames()
	for i, n := range names {
		if base[n] == nil {
			continue // a file the mini catalogue does without (policy_clauses.yaml)
		}
		f.Add(uint8(i), base[n].Data)
	}
	f.Add(uint8(len(names)), []byte("version: 1\nsdks:\n  - {id: exodus-a, name: {zh: a, en: a}, kind: ads, class_prefixes: [com.x.y], domains: [x.example.com], pi: [contacts], pi_source: exodus, origin: exodus-overlay, verification: x}\nextensions:\n  - {sdk: amap, domains: [b.amap.com], class_prefixes: [com.amap.extra]}\n"))
	f.Add(uint8(3), []byte("version: 1\nsdks: &a [*a]\n"))
	f.Add(uint8(7), []byte("version: 1\nviolations:\n  - id: x\n    legal_basis: [\"pipl\", 1, [a]]\n    check: {mode: automated, triggers: [{kind: apk.permission, where: {pi: {a: b}}}]}\n"))
	f.Fuzz(func(t *testing.T, sel uint8, data []byte) {
		m := fstest.MapFS{}
		for k, v := range base {
			m[k] = v
		}
		idx := int(sel) % (len(names) + 1)
		if idx < len(names) {
			m[names[idx]] = &fstest.MapFile{Data: data}
		}
		c, err := Load(m)
		if err != nil {
			checkProblems(t, err)
			return
		}
		if idx == len(names) {
			if err := c.mergeOverlay("overlay.yaml", data); err != nil {
				checkProblems(t, err)
				return
			}
		}
		// a catalogue that loads must be usable
		for _, v := range c.Violations() {
			for _, e := range v.Check.Examples.Positive {
				c.Fires(v, e.Category, e.Facts())
			}
		}
		c.SDKForClass("com.amap.api.maps.MapView")
		c.SDKForHost("a.amap.com")
		_ = c.Stats()
	})
}

func checkProblems(t *testing.T, err error) {
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error is not a *LoadError: %v", err)
	}
	for _, p := range le.Problems {
		if p.File == "" || p.Msg == "" {
			t.Fatalf("problem without file or message: %+v", p)
		}
	}
}

// FuzzImportExodus feeds arbitrary bytes to the Exodus importer: no panic, and every imported
// entry survives a save and reload into the catalogue.
func FuzzImportExodus(f *testing.F) {
	fuzzImport(f, "exodus_small.json", func(r io.Reader, c *Catalogue) (Overlay, error) {
		ov, _, err := ImportExodus(r, c)
		return ov, err
	},
		`{"trackers": {"1": {"name": "x", "code_signature": "com.a.b|com\\.c\\.d", "network_signature": "a\\.example\\.com"}}}`,
		`{"trackers": {}}`,
		`{"trackers": {"1": null, "2": {"name": 5}}}`)
}

// FuzzImportLibChecker feeds arbitrary bytes to the LibChecker importer: no panic, and every
// imported entry and signal survives a save and reload into the catalogue.
func FuzzImportLibChecker(f *testing.F) {
	fuzzImport(f, "libchecker_small.json", func(r io.Reader, c *Catalogue) (Overlay, error) {
		ov, _, err := ImportLibChecker(r, c)
		return ov, err
	},
		`[{"name": "com.a.b", "label": "x", "type": 5, "isRegexRule": 0}, {"name": "liba(.*)\\.so", "label": "x", "type": 0, "isRegexRule": 1}]`,
		`[]`,
		`[null, {"name": "com.a.b", "label": "  ", "type": 5}, {"name": "com.a.b", "label": "y", "type": "5"}]`)
}

// fuzzImport seeds an importer's fuzz target with the fixture under testdata and seeds, and checks
// that whatever it imports saves and loads back beside the mini catalogue.
func fuzzImport(f *testing.F, fixture string, imp func(io.Reader, *Catalogue) (Overlay, error), seeds ...string) {
	b, err := os.ReadFile(filepath.Join("testdata", fixture))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	mini := miniFS(f)
	base, err := Load(mini)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ov, err := imp(bytes.NewReader(data), base)
		if err != nil {
			return
		}
		out, err := ov.MarshalCanonical()
		if err != nil {
			t.Fatalf("MarshalCanonical: %v", err)
		}
		c, err := Load(mini)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.mergeOverlay("overlay.yaml", out); err != nil {
			t.Fatalf("imported overlay does not load back: %v\n%s", err, out)
		}
	})
}

// FuzzDeriveSDKs feeds arbitrary camille and Exodus lists to the generator: no panic, and what it
// generates loads beside the hand-written catalogue with its examples holding.
func FuzzDeriveSDKs(f *testing.F) {
	f.Add([]byte(`[{"sdk_name": "友盟反馈", "package_name": "com.umeng.fb"}, {"sdk_name": "x", "package_name": "com.tencent"}, {"sdk_name": "k", "package_name": "com.kakao.sdk.AppKey"}]`),
		[]byte(`{"trackers": {"1": {"name": "Example", "code_signature": "com.example2.push.", "network_signature": "push\\.example2\\.net", "website": "https://example2.net", "categories": ["Analytics"]}}}`))
	f.Add([]byte(`[]`), []byte(`{"trackers": {}}`))
	f.Add([]byte(`[{"sdk_name": "a", "package_name": "com.a.b"}, {"sdk_name": "b", "package_name": "com.a.b"}]`),
		[]byte(`{"trackers": {"2": {"name": "B", "code_signature": "com.a.b.|com.a.c", "network_signature": "a\\.com|b\\.a\\.com"}}}`))
	hand, err := HandWritten()
	if err != nil {
		f.Fatal(err)
	}
	xray := DeriveSource{Name: "x.json", Data: []byte(`[{"owner_name": "Example2 Ltd", "doms": ["example2.net"]}]`)}
	f.Fuzz(func(t *testing.T, camille, exodus []byte) {
		in := DeriveInputs{Camille: DeriveSource{Name: "c.json", Data: camille}, Exodus: DeriveSource{Name: "e.json", Data: exodus}, XRay: xray}
		d, _, err := DeriveSDKs(hand, in)
		if err != nil {
			return
		}
		data, err := MarshalDerived(d, in)
		if err != nil {
			t.Fatalf("MarshalDerived: %v", err)
		}
		if _, err := Load(withDerivedData(data)); err != nil {
			t.Fatalf("generated file does not load: %v\n%s", err, data)
		}
	})
}
