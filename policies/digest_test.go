package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"pilmon/internal/corpus"
)

// digestsFile pins, per document, a SHA-256 of everything Analyze and the readers built on it
// return: the report JSON, the extracted document, the observations (clauses and SDK list
// included) and the SDK-list rows. A change of speed must not change one of them; a change of
// reading rewrites the file with -update and says why in its commit.
const digestsFile = "testdata/analyze_digests.json"

// TestAnalyzeDigests compares the full output of Analyze on every corpus policy, every written
// text of the labelled set, the golden inputs and one long document (the Chinese corpus joined
// into 100 pages, as bench/policies builds it) with the digests in digestsFile. Documents whose
// input is absent (no ../shared) are skipped one by one; the written texts always run.
func TestAnalyzeDigests(t *testing.T) {
	docs := map[string][]byte{}
	add := func(key, path string) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		docs[key] = data
	}
	for _, glob := range []string{"testdata/labelled/texts/*", "testdata/*.html", "testdata/*.md"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			add(filepath.ToSlash(f), f)
		}
	}
	var zh []string
	if s := corpus.SharedDir(); s != "" {
		for _, lang := range []string{"zh", "en"} {
			files, _ := filepath.Glob(filepath.Join(s, "corpus", "policies", lang, "*"))
			sort.Strings(files)
			for _, f := range files {
				key := "corpus/" + lang + "/" + filepath.Base(f)
				add(key, f)
				if lang == "zh" {
					zh = append(zh, key)
				}
			}
		}
	}
	if len(zh) > 0 {
		docs["long/100-pages.html"] = longPolicy(t, zh, docs)
	}

	got := map[string]string{}
	for key, data := range docs {
		got[key] = analysisDigest(t, key, data)
	}
	if *update {
		want := map[string]string{}
		if old, err := os.ReadFile(digestsFile); err == nil {
			_ = json.Unmarshal(old, &want) // keep the digests of documents absent here
		}
		for k, v := range got {
			want[k] = v
		}
		out, err := json.MarshalIndent(want, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(digestsFile, append(out, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	raw, err := os.ReadFile(digestsFile)
	if err != nil {
		t.Fatalf("%s: %v (run with -update)", digestsFile, err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("%s: %v", digestsFile, err)
	}
	compared := 0
	for key, d := range got {
		w, ok := want[key]
		if !ok {
			t.Errorf("%s: no digest in %s (run with -update and review)", key, digestsFile)
			continue
		}
		compared++
		if w != d {
			t.Errorf("%s: Analyze output changed: digest %s, want %s", key, d, w)
		}
	}
	if compared < 10 {
		t.Errorf("only %d documents compared", compared)
	}
	t.Logf("%d documents compared with %s", compared, digestsFile)
}

// analysisDigest hashes the whole output of reading one document.
func analysisDigest(t *testing.T, key string, data []byte) string {
	t.Helper()
	cat := catalogue(t)
	h := sha256.New()
	a, err := Analyze(key, data, "", cat)
	if err != nil {
		fmt.Fprintf(h, "error: %v", err)
		return hex.EncodeToString(h.Sum(nil))
	}
	js, err := a.JSON()
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	h.Write(js)
	for _, v := range []any{a.Document(), SDKList(a, cat.SDKs()),
		SDKListObservations(Observations(a, key, []string{"ref"}, "policies", "1"), a, cat.SDKs(), []string{"ref"}, "policies", "1")} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// longPolicy joins the sections of the Chinese corpus policies into one HTML page of at least 100
// pages of 2,000 characters, as bench/policies does.
func longPolicy(t testing.TB, keys []string, docs map[string][]byte) []byte {
	t.Helper()
	cat := catalogue(t)
	var b strings.Builder
	b.WriteString("<html><head><meta charset=\"utf-8\"><title>长隐私政策</title></head><body>")
	runes := 0
	for runes < 200000 {
		added := 0
		for _, k := range keys {
			a, err := Analyze(k, docs[k], "", cat)
			if err != nil {
				continue
			}
			for _, s := range a.Document().Sections {
				fmt.Fprintf(&b, "<h2>%s</h2>", html.EscapeString(s.Title()))
				for _, bl := range s.Blocks {
					fmt.Fprintf(&b, "<p>%s</p>", html.EscapeString(bl.Text))
					runes += utf8.RuneCountInString(bl.Text)
					added++
				}
			}
			if runes >= 200000 {
				break
			}
		}
		if added == 0 {
			t.Fatal("no Chinese corpus text to build a long policy from")
		}
	}
	b.WriteString("</body></html>")
	return []byte(b.String())
}

// BenchmarkAnalyzeLong is Analyze on the 100-page policy bench/policies measures against a capture.
func BenchmarkAnalyzeLong(b *testing.B) { benchLong(b, false) }

// BenchmarkObservationsLong adds what the inspector builds from the analysis (clauses, SDK list).
func BenchmarkObservationsLong(b *testing.B) { benchLong(b, true) }

// BenchmarkClausesLong is clause detection alone on the same page, analysed once beforehand.
func BenchmarkClausesLong(b *testing.B) {
	a, err := Analyze("long.html", benchLongPage(b), "text/html; charset=utf-8", catalogue(b))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Clauses(a); err != nil {
		b.Fatal(err)
	}
	c0 := processCPU(b)
	n := 0
	for b.Loop() {
		if _, err := Clauses(a); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(processCPU(b)-c0)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}

// benchLongPage is the 100-page policy the long benchmarks read, built from the Chinese corpus.
func benchLongPage(b *testing.B) []byte {
	s := corpus.SharedDir()
	files, _ := filepath.Glob(filepath.Join(s, "corpus", "policies", "zh", "*"))
	if s == "" || len(files) == 0 {
		b.Skip("policies: corpus absent")
	}
	sort.Strings(files)
	docs := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs[f] = data
	}
	return longPolicy(b, files, docs)
}

func benchLong(b *testing.B, clauses bool) {
	cat := catalogue(b)
	page := benchLongPage(b)
	b.SetBytes(int64(len(page)))
	// The machine is shared: CPU time of the process per op is the figure to compare, wall time
	// moves with the neighbours' load.
	c0 := processCPU(b)
	n := 0
	for b.Loop() {
		a, err := Analyze("long.html", page, "text/html; charset=utf-8", cat)
		if err != nil {
			b.Fatal(err)
		}
		if clauses {
			Observations(a, "long.html", nil, "policies", "bench")
		}
		n++
	}
	b.ReportMetric(float64(processCPU(b)-c0)/float64(time.Millisecond)/float64(n), "cpu-ms/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Skipf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
