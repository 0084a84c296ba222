package safezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

type zent struct {
	name string
	data []byte
}

func mkzip(t testing.TB, ents ...zent) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range ents {
		f, err := w.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(e.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func open(t testing.TB, b []byte, lim Limits) (*Archive, error) {
	return Open(bytes.NewReader(b), int64(len(b)), "test.zip", lim)
}

func TestReadGood(t *testing.T) {
	b := mkzip(t, zent{"AndroidManifest.xml", []byte("hello")}, zent{"classes.dex", bytes.Repeat([]byte("x"), 5000)})
	a, err := open(t, b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Entries()) != 2 || len(a.Problems) != 0 {
		t.Fatalf("entries %d problems %v", len(a.Entries()), a.Problems)
	}
	got, err := a.ReadFile("AndroidManifest.xml", 0)
	if err != nil || string(got) != "hello" {
		t.Fatalf("got %q %v", got, err)
	}
	if _, err := a.ReadFile("missing", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v", err)
	}
	if a.Inflated() != 5 {
		t.Fatalf("inflated %d", a.Inflated())
	}
}

func TestBomb(t *testing.T) {
	b := mkzip(t, zent{"bomb", make([]byte, 20<<20)})
	a, err := open(t, b, Limits{MaxEntrySize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadFile("bomb", 0); !errors.Is(err, ErrBomb) || !strings.Contains(err.Error(), "test.zip: bomb") {
		t.Fatalf("declared size: %v", err)
	}
	a, _ = open(t, b, Limits{MaxRatio: 100})
	if _, err := a.ReadFile("bomb", 0); !errors.Is(err, ErrBomb) || !strings.Contains(err.Error(), "ratio") {
		t.Fatalf("ratio: %v", err)
	}
	a, _ = open(t, b, Limits{MaxTotalSize: 1 << 20})
	if _, err := a.ReadFile("bomb", 0); !errors.Is(err, ErrBomb) {
		t.Fatalf("total: %v", err)
	}
}

// TestLyingSize declares 10 bytes for an entry that inflates to 1 MiB.
func TestLyingSize(t *testing.T) {
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.BestCompression)
	fw.Write(bytes.Repeat([]byte("A"), 1<<20))
	fw.Close()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	f, err := w.CreateRaw(&zip.FileHeader{Name: "liar", Method: zip.Deflate, CompressedSize64: uint64(comp.Len()), UncompressedSize64: 10, CRC32: 1})
	if err != nil {
		t.Fatal(err)
	}
	f.Write(comp.Bytes())
	w.Close()
	a, err := open(t, buf.Bytes(), Limits{MaxRatio: 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.ReadFile("liar", 0)
	// archive/zip's own check or ours may fire first; either way the read stops early.
	if !errors.Is(err, ErrSizeMismatch) && !errors.Is(err, zip.ErrFormat) {
		t.Fatalf("want size mismatch, got %v", err)
	}
	if a.Inflated() > 11+32<<10 {
		t.Fatalf("read %d bytes past a 10-byte declaration", a.Inflated())
	}
}

func TestDuplicateAndNames(t *testing.T) {
	b := mkzip(t,
		zent{"classes.dex", []byte("one")}, zent{"classes.dex", []byte("two")},
		zent{"../evil", nil}, zent{"/abs", nil}, zent{`a\b`, nil}, zent{"a\x00b", nil}, zent{"C:x", nil},
		zent{"ok/file", []byte("fine")})
	a, err := open(t, b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadFile("classes.dex", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("duplicate must be unreadable: %v", err)
	}
	if len(a.Entries()) != 1 || a.Entries()[0].Name != "ok/file" {
		t.Fatalf("entries: %+v", a.Entries())
	}
	joined := strings.Join(a.Problems, "\n")
	for _, want := range []string{"duplicate", "\"..\"", "absolute", "backslash", "NUL", "drive"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems lack %q:\n%s", want, joined)
		}
	}
}

// TestOverlap builds a central directory whose two records point at the same local header.
func TestOverlap(t *testing.T) {
	b := mkzip(t, zent{"a", bytes.Repeat([]byte("z"), 1000)}, zent{"b", []byte("b")})
	// Rewrite the second central record's local-header offset to 0.
	cd := bytes.LastIndex(b, []byte("PK\x01\x02"))
	binary.LittleEndian.PutUint32(b[cd+42:], 0)
	binary.LittleEndian.PutUint16(b[cd+28:], 1) // keep name length; name "b" vs local "a" is fine for DataOffset
	_, err := open(t, b, Limits{})
	if !errors.Is(err, ErrOverlap) {
		t.Fatalf("want overlap, got %v", err)
	}
}

func TestTooManyEntries(t *testing.T) {
	ents := make([]zent, 100000)
	for i := range ents {
		ents[i].name = "f" + string(rune('a'+i%26)) + "/" + itoa(i)
	}
	b := mkzip(t, ents...)
	if _, err := open(t, b, Limits{}); !errors.Is(err, ErrTooMany) {
		t.Fatalf("100000 entries: %v", err)
	}
	if a, err := open(t, b, Limits{MaxEntries: 200000}); err != nil || len(a.Entries()) != 100000 {
		t.Fatalf("with a higher limit: %v", err)
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

func TestTruncatedAndTooLarge(t *testing.T) {
	b := mkzip(t, zent{"a", []byte("hello world")})
	for _, n := range []int{0, 10, len(b) / 2, len(b) - 1} {
		if _, err := open(t, b[:n], Limits{}); err == nil || !strings.Contains(err.Error(), "test.zip") {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
	if _, err := open(t, b, Limits{MaxArchiveSize: 10}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
}

func TestCorpusMalformed(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(corpus.SharedDir(), "corpus", "apks", "malformed_*.apk"))
	if len(files) == 0 {
		t.Skip("shared corpus (../shared/corpus/apks) absent")
	}
	want := map[string]string{
		"malformed_empty-unsigned.apk":           "",
		"malformed_v2-only-truncated-cd.apk":     "not a readable zip",
		"malformed_CertChain_no_manifest.apk":    "",
		"malformed_weird-compression-method.apk": "",
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(f)
		a, err := Open(bytes.NewReader(b), int64(len(b)), base, Limits{})
		if w := want[base]; w != "" {
			if err == nil || !strings.Contains(err.Error(), w) || !strings.Contains(err.Error(), base) {
				t.Errorf("%s: want %q, got %v", base, w, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		if base == "malformed_weird-compression-method.apk" && !strings.Contains(strings.Join(a.Problems, ";"), "method 21 read as deflate") {
			t.Errorf("%s: problems %v", base, a.Problems)
		}
		for _, e := range a.Entries() {
			_, err := a.Read(e, 0)
			if err != nil {
				t.Errorf("%s: %v", base, err)
			}
		}
	}
}

func FuzzSafeZip(f *testing.F) {
	f.Add(mkzip(f, zent{"AndroidManifest.xml", []byte("hello")}, zent{"a/b", bytes.Repeat([]byte("q"), 300)}))
	f.Add(mkzip(f, zent{"x", nil}, zent{"x", nil}, zent{"../y", []byte("1")}))
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Open(bytes.NewReader(b), int64(len(b)), "fuzz.zip", Limits{MaxEntrySize: 1 << 20, MaxTotalSize: 4 << 20})
		if err != nil {
			return
		}
		for _, e := range a.Entries() {
			a.Read(e, 0)
		}
		if a.Inflated() > 4<<20+64<<10 {
			t.Fatalf("inflated %d past the budget", a.Inflated())
		}
	})
}

// TestBlockReaderSameBytes reads a file through blockReader at offsets and lengths around its
// block boundaries and the end of the file, and compares every result with the file's own reader.
func TestBlockReaderSameBytes(t *testing.T) {
	data := make([]byte, 2*readBlock+777)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	src := bytes.NewReader(data)
	br := newBlockReader(src, int64(len(data)))
	offs := []int64{0, 1, 4095, readBlock - 1, readBlock, readBlock + 5, 2*readBlock - 3, int64(len(data)) - 10, int64(len(data)) - 1, int64(len(data)), int64(len(data)) + 9, 3}
	lens := []int{0, 1, 17, 4096, readBlock/2 - 1, readBlock / 2, readBlock + 3}
	for _, off := range offs {
		for _, n := range lens {
			want, got := make([]byte, n), make([]byte, n)
			wn, werr := src.ReadAt(want, off)
			gn, gerr := br.ReadAt(got, off)
			if gn != wn || !bytes.Equal(got[:gn], want[:wn]) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d bytes, want %d (or different bytes)", n, off, gn, wn)
			}
			// (An empty read may or may not say EOF: readers differ, and the zip reader never asks.)
			if n > 0 && (gerr == nil) != (werr == nil) {
				t.Fatalf("ReadAt(%d bytes at %d) error %v, want %v", n, off, gerr, werr)
			}
		}
	}
	if n, err := br.ReadAt(make([]byte, 4), -1); err == nil {
		t.Fatalf("ReadAt at -1 read %d bytes without error", n)
	}
}

// TestBlockReaderShortFile: a file shorter than the size it was opened with (truncated after the
// size was taken) reads as an error, not as zeros or a loop.
func TestBlockReaderShortFile(t *testing.T) {
	br := newBlockReader(bytes.NewReader([]byte("0123456789")), 100)
	p := make([]byte, 20)
	n, err := br.ReadAt(p, 5)
	if n != 5 || err == nil || string(p[:n]) != "56789" {
		t.Fatalf("ReadAt past the real end = %d %q %v, want 5 \"56789\" and an error", n, p[:n], err)
	}
}

// TestReadIntoReuses: ReadInto fills a large enough buffer in place and allocates when it is not;
// the bytes are the entry's either way.
func TestReadIntoReuses(t *testing.T) {
	body := bytes.Repeat([]byte("dex\n"), 1000)
	a, err := open(t, mkzip(t, zent{"classes.dex", body}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := a.Lookup("classes.dex")
	buf := make([]byte, 0, 2*len(body))
	got, err := a.ReadInto(e, 0, buf)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("ReadInto = %d bytes, %v", len(got), err)
	}
	if &got[:1][0] != &buf[:1][0] {
		t.Fatal("ReadInto allocated although the buffer was large enough")
	}
	small := make([]byte, 0, 10)
	got, err = a.ReadInto(e, 0, small)
	if err != nil || !bytes.Equal(got, body) || cap(got) <= cap(small) {
		t.Fatalf("ReadInto with a small buffer = %d bytes (cap %d), %v", len(got), cap(got), err)
	}
}
