package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/sm3"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testMeta(source string) Meta {
	return Meta{
		CapturedAt: time.Date(2024, 3, 15, 10, 30, 0, 123456789, time.FixedZone("CST", 8*3600)),
		Method:     "file_import",
		Source:     source,
		Tool:       "pilmon test",
		Inspector:  "apkinspect/1",
		MediaType:  "application/vnd.android.package-archive",
		Note:       "样本 <1> & \"quoted\"",
	}
}

func readAll(t *testing.T, s *Store, h string) ([]byte, error) {
	t.Helper()
	rc, _, err := s.Get(h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// blobFiles lists the blob files (not sidecars) under the store.
func blobFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(s.Dir(), blobRoot), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasSuffix(p, ".json") {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tmpFiles(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.Dir(), tmpRoot))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRoundTrip(t *testing.T) {
	s := newStore(t, Options{Tool: "pilmon 0.0.0"})
	data := []byte("PK\x03\x04 not really an apk, but bytes are bytes")
	meta := testMeta("samples/demo.apk")
	ref, err := s.Put(bytes.NewReader(data), meta)
	if err != nil {
		t.Fatal(err)
	}
	wantSHA := sha256.Sum256(data)
	wantSM3 := sm3.Sum(data)
	if ref.SHA256 != hex.EncodeToString(wantSHA[:]) || ref.SM3 != hex.EncodeToString(wantSM3[:]) || ref.Size != int64(len(data)) {
		t.Fatalf("Put returned %+v", ref)
	}

	p, err := s.Path(ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(s.Dir(), "sha256", ref.SHA256[:2], ref.SHA256[2:]); p != want {
		t.Fatalf("Path = %s, want %s", p, want)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o400 {
		t.Fatalf("blob mode %v, want 0400", fi.Mode().Perm())
	}

	got, err := readAll(t, s, ref.SHA256)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %q, %v", got, err)
	}
	if err := s.Verify(ref.SHA256); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Stat(ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Ref != ref || len(rec.Captures) != 1 || rec.Captures[0].Seq != 1 {
		t.Fatalf("Stat = %+v", rec)
	}
	first := rec.First()
	if !first.CapturedAt.Equal(meta.CapturedAt) || first.CapturedAt.Location() != time.UTC {
		t.Fatalf("CapturedAt %v, want %v in UTC", first.CapturedAt, meta.CapturedAt)
	}
	first.CapturedAt = meta.CapturedAt
	if first != meta {
		t.Fatalf("capture meta\n got %+v\nwant %+v", first, meta)
	}
	if len(tmpFiles(t, s)) != 0 {
		t.Fatalf("temporary files left: %v", tmpFiles(t, s))
	}

	// The sidecar's exact bytes are the on-disk format other tools read: golden.
	side, err := os.ReadFile(p + ".json")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "sidecar.golden.json")
	if *update {
		if err := os.WriteFile(golden, side, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./evidence -run TestRoundTrip -update to create it)", err)
	}
	if !bytes.Equal(side, want) {
		t.Fatalf("sidecar differs from %s (rerun with -update and review the diff):\n%s", golden, side)
	}
}

func TestDefaults(t *testing.T) {
	s := newStore(t, Options{Tool: "pilmon 9.9"})
	ref, err := s.Put(strings.NewReader(""), Meta{Method: "derived", Source: "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if ref.SHA256 != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || ref.Size != 0 {
		t.Fatalf("empty artifact ref %+v", ref)
	}
	rec, err := s.Stat(ref.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	m := rec.First()
	if m.Tool != "pilmon 9.9" || m.MediaType != "application/octet-stream" || m.CapturedAt.IsZero() || m.CapturedAt.Location() != time.UTC {
		t.Fatalf("defaults not applied: %+v", m)
	}
	if s.opts.MaxSize != DefaultMaxSize {
		t.Fatalf("MaxSize default %d", s.opts.MaxSize)
	}
	unlimited := newStore(t, Options{MaxSize: math.MaxInt64})
	if _, err := unlimited.Put(strings.NewReader("no limit"), Meta{Method: "derived"}); err != nil {
		t.Fatalf("Put with MaxSize = MaxInt64: %v", err)
	}
	if _, err := s.Put(strings.NewReader("x"), Meta{Source: "no method"}); err == nil || !strings.Contains(err.Error(), "no method") {
		t.Fatalf("Put without Method: %v", err)
	}
	bad := Meta{Method: "file_import", Source: "bad\xffutf8"}
	ref, err = s.Put(strings.NewReader("y"), bad)
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := s.Stat(ref.SHA256); err != nil || rec.First().Source != "bad\uFFFDutf8" {
		t.Fatalf("invalid UTF-8 source: %+v, %v", rec, err)
	}
}

func TestSecondCaptureAppends(t *testing.T) {
	s := newStore(t, Options{})
	data := bytes.Repeat([]byte("apk"), 1000)
	m1 := testMeta("/cases/2024-03-15/app.apk")
	ref1, err := s.Put(bytes.NewReader(data), m1)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(ref1.SHA256)
	before, _ := os.Stat(p)
	side1, _ := os.ReadFile(p + ".json")

	m2 := testMeta("https://example.cn/app.apk")
	m2.Method = "http_fetch"
	m2.CapturedAt = m2.CapturedAt.Add(48 * time.Hour)
	ref2, err := s.Put(bytes.NewReader(data), m2)
	if err != nil {
		t.Fatal(err)
	}
	if ref1 != ref2 {
		t.Fatalf("refs differ: %+v %+v", ref1, ref2)
	}
	after, _ := os.Stat(p)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Fatal("the second Put replaced the blob")
	}
	if n := len(blobFiles(t, s)); n != 1 {
		t.Fatalf("%d blobs, want 1", n)
	}
	rec, err := s.Stat(ref1.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Captures) != 2 || rec.Captures[1].Seq != 2 || rec.Captures[1].Source != m2.Source || rec.Captures[1].Method != "http_fetch" {
		t.Fatalf("captures %+v", rec.Captures)
	}
	// The first capture record is byte-for-byte what it was.
	side2, _ := os.ReadFile(p + ".json")
	firstCapture := func(b []byte) string {
		i := bytes.Index(b, []byte(`"captures": [`))
		j := bytes.Index(b, []byte(`"seq": 2`))
		if i < 0 {
			t.Fatalf("no captures in %s", b)
		}
		if j < 0 {
			j = bytes.Index(b, []byte("\n  ],"))
		}
		k := bytes.LastIndex(b[:j], []byte("}"))
		return string(b[i:k])
	}
	if firstCapture(side1) != firstCapture(side2) {
		t.Fatalf("first capture changed:\n%s\n---\n%s", firstCapture(side1), firstCapture(side2))
	}
}

// flipByte changes one byte of a read-only file the way a careless (or malicious) hand would.
func flipByte(t *testing.T, p string, off int64) {
	t.Helper()
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x01
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chmod(p, 0o444); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedBlob(t *testing.T) {
	s := newStore(t, Options{})
	data := bytes.Repeat([]byte("evidence "), 100_000)
	ref, err := s.Put(bytes.NewReader(data), testMeta("a.apk"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(ref.SHA256)
	flipByte(t, p, int64(len(data)/2))

	_, err = readAll(t, s, ref.SHA256)
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), ref.SHA256) {
		t.Fatalf("Get of a tampered blob: %v", err)
	}
	if err := s.Verify(ref.SHA256); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), ref.SHA256) {
		t.Fatalf("Verify of a tampered blob: %v", err)
	}
	// A later capture of the genuine bytes must not quietly attach itself to the altered blob.
	if _, err := s.Put(bytes.NewReader(data), testMeta("b.apk")); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), ref.SHA256) {
		t.Fatalf("Put onto a tampered blob: %v", err)
	}
	if rec, err := s.Stat(ref.SHA256); err != nil || len(rec.Captures) != 1 {
		t.Fatalf("sidecar after refused Put: %+v %v", rec, err)
	}

	// Appending bytes is caught before reading, by size.
	os.Chmod(p, 0o644)
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("extra"))
	f.Close()
	if _, err := s.Stat(ref.SHA256); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), ref.SHA256) {
		t.Fatalf("Stat of a grown blob: %v", err)
	}
	// A removed blob with its sidecar left behind.
	os.Remove(p)
	if _, err := s.Stat(ref.SHA256); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Stat of a removed blob: %v", err)
	}
}

func TestTamperedSidecar(t *testing.T) {
	s := newStore(t, Options{})
	data := []byte("policy page html")
	ref, err := s.Put(bytes.NewReader(data), testMeta("https://example.cn/privacy"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(bytes.NewReader(data), testMeta("https://example.cn/privacy?again")); err != nil {
		t.Fatal(err)
	}
	p, _ := s.Path(ref.SHA256)
	orig, err := os.ReadFile(p + ".json")
	if err != nil {
		t.Fatal(err)
	}
	// reseal recomputes the seal so that a check other than the seal has to catch the edit.
	reseal := func(b []byte) []byte {
		var sc sidecar
		if err := jsonUnmarshal(b, &sc); err != nil {
			t.Fatal(err)
		}
		out, err := encodeSidecar(Record{Ref: sc.Ref, Captures: sc.Captures})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	edits := []struct {
		name, want string
		edit       func([]byte) []byte
	}{
		{"garbage", "not valid sidecar JSON", func([]byte) []byte { return []byte("{not json") }},
		{"empty", "not valid sidecar JSON", func([]byte) []byte { return nil }},
		{"source of first capture", "seal", func(b []byte) []byte {
			return bytes.Replace(b, []byte("example.cn/privacy\""), []byte("example.com/privacy\""), 1)
		}},
		{"sm3 changed and resealed", "sm3", func(b []byte) []byte {
			return reseal(bytes.Replace(b, []byte(ref.SM3), []byte(strings.Repeat("0", 64)), 1))
		}},
		{"size changed and resealed", "bytes on disk", func(b []byte) []byte {
			return reseal(bytes.Replace(b, []byte(`"size": 16`), []byte(`"size": 17`), 1))
		}},
		{"address changed and resealed", "describes sha256", func(b []byte) []byte {
			return reseal(bytes.Replace(b, []byte(ref.SHA256), []byte(strings.Repeat("a", 64)), 1))
		}},
		{"captures reordered and resealed", "seq", func(b []byte) []byte {
			var sc sidecar
			jsonUnmarshal(b, &sc)
			sc.Captures[0], sc.Captures[1] = sc.Captures[1], sc.Captures[0]
			out, _ := encodeSidecar(Record{Ref: sc.Ref, Captures: sc.Captures})
			return out
		}},
		{"non-UTC time resealed", "UTC", func(b []byte) []byte {
			return reseal(bytes.Replace(b, []byte(`.123456789Z"`), []byte(`.123456789+08:00"`), 1))
		}},
		{"reformatted", "canonical", func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("  "), []byte("\t")) }},
		{"duplicate key", "canonical", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"format": `), []byte(`"format": "x", "format": `), 1)
		}},
		{"unknown field", "unknown field", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"format": `), []byte(`"extra": 1, "format": `), 1)
		}},
		{"trailing data", "canonical", func(b []byte) []byte { return append(append([]byte{}, b...), "{}"...) }},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			edited := e.edit(orig)
			if bytes.Equal(edited, orig) {
				t.Fatal("edit changed nothing")
			}
			os.Chmod(p+".json", 0o644)
			if err := os.WriteFile(p+".json", edited, 0o444); err != nil {
				t.Fatal(err)
			}
			defer func() {
				os.Chmod(p+".json", 0o644)
				os.WriteFile(p+".json", orig, 0o444)
			}()
			// Stat does not read the blob, so an altered SM3 is Verify's to find.
			err := s.Verify(ref.SHA256)
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), ref.SHA256) || !strings.Contains(err.Error(), e.want) {
				t.Fatalf("Verify after edit: %v (want ErrTampered naming the hash and %q)", err, e.want)
			}
			if e.want != "sm3" {
				if _, err := s.Stat(ref.SHA256); !errors.Is(err, ErrTampered) {
					t.Fatalf("Stat after edit: %v", err)
				}
				if _, _, err := s.Get(ref.SHA256); !errors.Is(err, ErrTampered) {
					t.Fatalf("Get after edit: %v", err)
				}
			}
			// Put refuses to overwrite a damaged sidecar: it may be the only record of earlier captures.
			if _, err := s.Put(bytes.NewReader(data), testMeta("third")); !errors.Is(err, ErrTampered) {
				t.Fatalf("Put after edit: %v", err)
			}
			if now, _ := os.ReadFile(p + ".json"); !bytes.Equal(now, edited) {
				t.Fatal("Put rewrote a damaged sidecar")
			}
		})
	}
	if rec, err := s.Stat(ref.SHA256); err != nil || len(rec.Captures) != 2 {
		t.Fatalf("restored sidecar: %+v %v", rec, err)
	}
}

func TestConcurrentPutsSameBytes(t *testing.T) {
	s := newStore(t, Options{})
	data := bytes.Repeat([]byte{0xAB, 0xCD}, 300_000)
	const n = 32
	refs := make([]Ref, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			refs[i], errs[i] = s.Put(bytes.NewReader(data), testMeta(fmt.Sprintf("capture-%02d", i)))
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Put %d: %v", i, errs[i])
		}
		if refs[i] != refs[0] {
			t.Fatalf("Put %d returned %+v, Put 0 %+v", i, refs[i], refs[0])
		}
	}
	checkCaptures(t, s, refs[0].SHA256, n, "capture-")
	if len(tmpFiles(t, s)) != 0 {
		t.Fatalf("temporary files left: %v", tmpFiles(t, s))
	}
}

// checkCaptures asserts one blob with exactly n captures numbered 1..n whose sources are distinct
// and carry prefix.
func checkCaptures(t *testing.T, s *Store, h string, n int, prefix string) {
	t.Helper()
	if files := blobFiles(t, s); len(files) != 1 {
		t.Fatalf("%d blobs, want 1: %v", len(files), files)
	}
	if err := s.Verify(h); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Stat(h)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Captures) != n {
		t.Fatalf("%d captures, want %d", len(rec.Captures), n)
	}
	sources := make(map[string]bool)
	for i, c := range rec.Captures {
		if c.Seq != i+1 || !strings.HasPrefix(c.Source, prefix) {
			t.Fatalf("capture %d: %+v", i, c)
		}
		sources[c.Source] = true
	}
	if len(sources) != n {
		t.Fatalf("%d distinct sources among %d captures", len(sources), n)
	}
}

const childEnv = "PILMON_EVIDENCE_TEST_CHILD"

// TestCrossProcessPut runs two copies of this test binary that Put the same bytes into one store at
// the same time; the prefix lock is a flock, so processes exclude each other as goroutines do.
func TestCrossProcessPut(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		t.Skip("running as a child of TestCrossProcessPut")
	}
	s := newStore(t, Options{})
	const procs, perProc = 2, 8
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrossProcessChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), childEnv+"="+s.Dir()+"|"+strconv.Itoa(i)+"|"+strconv.Itoa(perProc))
		out := new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	sum := sha256.Sum256(crossProcessData())
	checkCaptures(t, s, hex.EncodeToString(sum[:]), procs*perProc, "proc-")
}

func crossProcessData() []byte { return bytes.Repeat([]byte("two processes, one blob\n"), 50_000) }

func TestCrossProcessChild(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("helper process for TestCrossProcessPut")
	}
	parts := strings.Split(v, "|")
	perProc, _ := strconv.Atoi(parts[2])
	s, err := Open(parts[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range perProc {
		wg.Go(func() {
			if _, err := s.Put(bytes.NewReader(crossProcessData()), testMeta(fmt.Sprintf("proc-%s-%d", parts[1], i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestSizeLimitAndReadErrors(t *testing.T) {
	s := newStore(t, Options{MaxSize: 1000})
	_, err := s.Put(bytes.NewReader(make([]byte, 1001)), testMeta("https://example.cn/huge.apk"))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "1000") || !strings.Contains(err.Error(), "https://example.cn/huge.apk") {
		t.Fatalf("oversized Put: %v", err)
	}
	if _, err := s.Put(bytes.NewReader(make([]byte, 1000)), testMeta("exactly the limit")); err != nil {
		t.Fatalf("Put at the limit: %v", err)
	}
	_, err = s.Put(&failingReader{n: 500}, testMeta("flaky.har"))
	if err == nil || !strings.Contains(err.Error(), "flaky.har") || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("Put from a failing reader: %v", err)
	}
	if n := len(blobFiles(t, s)); n != 1 {
		t.Fatalf("%d blobs, want only the one at the limit", n)
	}
	if left := tmpFiles(t, s); len(left) != 0 {
		t.Fatalf("failed Puts left temporary files: %v", left)
	}
}

func TestInvalidHashRejected(t *testing.T) {
	s := newStore(t, Options{})
	good := strings.Repeat("ab", 32)
	bad := []string{
		"../../etc/passwd",
		"../" + good[3:],
		strings.ToUpper(good),
		good[:63],
		good + "0",
		"",
		good[:62] + "/x",
		good[:60] + "\x00abc",
		strings.Repeat("g", 64),
		"sha256:" + good,
	}
	for _, h := range bad {
		if _, err := s.Path(h); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("Path(%q): %v", h, err)
		}
		if _, _, err := s.Get(h); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("Get(%q): %v", h, err)
		}
		if err := s.Verify(h); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("Verify(%q): %v", h, err)
		}
		if _, err := s.Stat(h); !errors.Is(err, ErrInvalidHash) {
			t.Errorf("Stat(%q): %v", h, err)
		}
	}
	if _, _, err := s.Get(good); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), good) {
		t.Fatalf("Get of an absent hash: %v", err)
	}
	if _, err := s.Path(good); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Path of an absent hash: %v", err)
	}
}

// TestCrashLeftovers simulates the two states a crash can leave: a temporary file in tmp/ (killed
// while streaming) and a blob without its sidecar (killed between link and sidecar write).
func TestCrashLeftovers(t *testing.T) {
	s := newStore(t, Options{})
	ref, err := s.Put(strings.NewReader("kept"), testMeta("kept.txt"))
	if err != nil {
		t.Fatal(err)
	}

	abandoned, err := s.createTemp("blob-")
	if err != nil {
		t.Fatal(err)
	}
	abandoned.WriteString("half an apk")
	abandoned.Close() // its writer "died": the lock is gone
	live, err := s.createTemp("blob-")
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	orphan := []byte("blob whose sidecar was never written")
	osum := sha256.Sum256(orphan)
	oh := hex.EncodeToString(osum[:])
	os.MkdirAll(filepath.Dir(s.blobPath(oh)), 0o755)
	if err := os.WriteFile(s.blobPath(oh), orphan, 0o444); err != nil {
		t.Fatal(err)
	}

	var listed []string
	err = s.List(context.Background(), func(r Record) error {
		listed = append(listed, r.Ref.SHA256)
		return nil
	})
	if len(listed) != 1 || listed[0] != ref.SHA256 {
		t.Fatalf("List returned %v, want only %s", listed, ref.SHA256)
	}
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), oh) || !strings.Contains(err.Error(), "sidecar is missing") {
		t.Fatalf("List error for the orphan blob: %v", err)
	}

	removed, err := s.Sweep()
	if err != nil || removed != 1 {
		t.Fatalf("Sweep removed %d, %v; want 1", removed, err)
	}
	if _, err := os.Stat(abandoned.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("abandoned temp file still there: %v", err)
	}
	if _, err := os.Stat(live.Name()); err != nil {
		t.Fatalf("Sweep removed a live writer's file: %v", err)
	}

	// Capturing the orphan's bytes again completes it.
	if _, err := s.Put(bytes.NewReader(orphan), testMeta("recaptured")); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := s.List(context.Background(), func(Record) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("List after repair: %d, %v", n, err)
	}
}

func TestListStops(t *testing.T) {
	s := newStore(t, Options{})
	for i := range 5 {
		if _, err := s.Put(strings.NewReader(strconv.Itoa(i)), testMeta("n")); err != nil {
			t.Fatal(err)
		}
	}
	var hashes []string
	if err := s.List(context.Background(), func(r Record) error { hashes = append(hashes, r.Ref.SHA256); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 5 {
		t.Fatalf("listed %d, want 5", len(hashes))
	}
	for i := 1; i < len(hashes); i++ {
		if hashes[i-1] >= hashes[i] {
			t.Fatalf("List not in hash order: %v", hashes)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := s.List(context.Background(), func(Record) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("fn error: %v after %d calls", err, calls)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.List(ctx, func(Record) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled List: %v", err)
	}
}
