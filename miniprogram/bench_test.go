package miniprogram

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"pilmon/scanner"
)

// largestCorpusPackage returns the path of the largest plain package of the shared corpus.
func largestCorpusPackage(b *testing.B) string {
	dir := corpusDir(b, "wxapkg")
	entries, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var best string
	var size int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || filepath.Ext(e.Name()) != ".wxapkg" || e.Name()[:2] != "wx" {
			continue
		}
		if info.Size() > size {
			best, size = filepath.Join(dir, e.Name()), info.Size()
		}
	}
	if best == "" {
		b.Skip("no plain package in the corpus")
	}
	return best
}

// BenchmarkReadFloor is the floor: reading the package file once.
func BenchmarkReadFloor(b *testing.B) {
	p := largestCorpusPackage(b)
	for b.Loop() {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}

// BenchmarkUnpackInspect parses the package and inspects every file, from bytes in memory.
func BenchmarkUnpackInspect(b *testing.B) {
	p := largestCorpusPackage(b)
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	cat := catalogueForTest(b)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		pkg, err := Parse(data, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		analyze(context.Background(), pkg.Files, identity{Name: "bench"}, cat, nil)
	}
}

// BenchmarkInspect is the whole Inspector on the file (read, store in an in-memory sink, parse,
// inspect).
func BenchmarkInspect(b *testing.B) {
	p := largestCorpusPackage(b)
	info, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	in := New(catalogueForTest(b), Options{})
	b.SetBytes(info.Size())
	for b.Loop() {
		rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: p}, newMemSink())
		if rep.Status != scanner.StatusSucceeded {
			b.Fatal(rep.Errors)
		}
	}
}
