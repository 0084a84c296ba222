package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"pilmon/sm3"
)

// DefaultMaxSize is the largest artifact Put accepts unless Options.MaxSize says otherwise.
const DefaultMaxSize int64 = 2 << 30

// Errors are bilingual because they reach prosecutors through `pilmon verify` and the dashboard.
// Every returned error wraps one of these and names the hash (or the source, for Put) and the reason.
var (
	// ErrTampered means stored bytes or their sidecar no longer match what was recorded at capture.
	ErrTampered = errors.New("证据完整性校验失败 / evidence integrity check failed")
	// ErrNotFound means no artifact with that hash is stored.
	ErrNotFound = errors.New("证据不存在 / evidence not found")
	// ErrInvalidHash means a hash argument is not 64 lowercase hexadecimal characters.
	ErrInvalidHash = errors.New("证据哈希格式无效 / invalid evidence hash")
	// ErrTooLarge means an artifact exceeded Options.MaxSize.
	ErrTooLarge = errors.New("证据超过大小上限 / evidence exceeds the size limit")
)

// Options configure a Store.
type Options struct {
	// MaxSize is the largest artifact Put accepts, in bytes; 0 means DefaultMaxSize.
	MaxSize int64
	// Tool fills Meta.Tool when a caller leaves it empty, e.g. "pilmon 0.1.0".
	Tool string
	// SealKey, when set (at least MinSealKeySize bytes, kept outside the store's directory: see
	// LoadOrCreateSealKey), seals every sidecar with an HMAC under it, and every read refuses a
	// sidecar that is not so sealed. See the sidecar type for why.
	SealKey []byte
}

// Store is a directory of write-once artifacts:
//
//	<dir>/sha256/ab/cdef…        the bytes, mode 0400, named by their SHA-256
//	<dir>/sha256/ab/cdef….json   the sidecar: Ref and every capture of those bytes
//	<dir>/tmp/                   files being written (and, after a crash, left for Sweep)
//	<dir>/locks/ab               lock files that serialise sidecar updates across processes
//
// A Store is safe for concurrent use by many goroutines and by several processes sharing dir.
type Store struct {
	dir  string
	opts Options
	// mu serialises, within this process, the goroutines that would otherwise each block an OS
	// thread in flock on the same prefix lock.
	mu [256]sync.Mutex
}

// Open opens (creating if needed) the store rooted at dir.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("evidence: open: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("evidence: open %s: %w", dir, err)
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxSize == math.MaxInt64 {
		opts.MaxSize-- // Put reads MaxSize+1 bytes to detect an oversized input
	}
	if opts.Tool == "" {
		opts.Tool = "pilmon"
	}
	if opts.SealKey != nil && len(opts.SealKey) < MinSealKeySize {
		return nil, fmt.Errorf("evidence: open %s: seal key of %d bytes, want at least %d", abs, len(opts.SealKey), MinSealKeySize)
	}
	for _, d := range []string{abs, filepath.Join(abs, blobRoot), filepath.Join(abs, tmpRoot), filepath.Join(abs, lockRoot)} {
		if err := os.MkdirAll(d, dirMode); err != nil {
			return nil, fmt.Errorf("evidence: open %s: %w", abs, err)
		}
		// A directory that already existed keeps its mode through MkdirAll: a store created by an
		// older pilmon (0755) or in a folder the operator made. Blobs and sidecars below it are
		// tightened by the data-dir check of pilmon's commands; these four gate access to them.
		fi, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("evidence: open %s: %w", d, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(d, dirMode); err != nil {
				return nil, fmt.Errorf("evidence: open %s: mode %v lets other accounts read evidence and it cannot be tightened: %w", d, fi.Mode().Perm(), err)
			}
		}
	}
	return &Store{dir: abs, opts: opts}, nil
}

// Evidence holds personal information of the people whose data the investigated party collected,
// so only the account pilmon runs as may read it: directories 0700, blobs and sidecars 0400
// (write-once: not even the owner writes them after they are placed), lock files 0600.
const (
	dirMode  fs.FileMode = 0o700
	fileMode fs.FileMode = 0o400
)

const (
	blobRoot = "sha256"
	tmpRoot  = "tmp"
	lockRoot = "locks"
	// maxMetaField bounds each Meta string so that a sidecar stays small.
	maxMetaField = 64 << 10
)

// Dir returns the store's root directory.
func (s *Store) Dir() string { return s.dir }

// CheckHash reports whether h can name an artifact: exactly 64 lowercase hexadecimal characters.
// Every method that takes a hash calls it first, so no argument ever becomes a path unchecked.
func CheckHash(h string) error {
	if len(h) != 64 || !isLowerHex(h) {
		q := h
		if len(q) > 80 {
			q = q[:80] + "…"
		}
		return fmt.Errorf("evidence: %w: %q: want 64 lowercase hexadecimal characters", ErrInvalidHash, q)
	}
	return nil
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) blobPath(h string) string    { return filepath.Join(s.dir, blobRoot, h[:2], h[2:]) }
func (s *Store) sidecarPath(h string) string { return s.blobPath(h) + ".json" }

// Path returns the file holding the artifact, for read-only use by exporters. Readers that need
// proof of integrity should use Get or Verify instead.
func (s *Store) Path(h string) (string, error) {
	if err := CheckHash(h); err != nil {
		return "", err
	}
	p := s.blobPath(h)
	if _, err := os.Lstat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("evidence: blob %s: %w", h, ErrNotFound)
		}
		return "", fmt.Errorf("evidence: blob %s: %w", h, err)
	}
	return p, nil
}

// Put stores the bytes of r and records one capture of them. The bytes are hashed (SHA-256 and SM3
// in one pass) while they stream to a temporary file, which is fsynced and then linked into place
// under its SHA-256, so a reader never sees a partial blob. If the bytes are already stored the blob
// is left untouched (after checking it still matches) and meta is appended to its sidecar as one
// more capture: the same APK captured on two days is two custody events.
func (s *Store) Put(r io.Reader, meta Meta) (ref Ref, err error) {
	return s.PutMax(r, meta, s.opts.MaxSize)
}

// PutMax is Put with a tighter size limit for this one artifact (an upload's, or what is left of
// a user's quota): bytes beyond max fail with ErrTooLarge and nothing is stored, since the bytes
// only reach the store's address once all of them have been read and counted. A max of zero or
// above Options.MaxSize means Options.MaxSize.
func (s *Store) PutMax(r io.Reader, meta Meta, max int64) (ref Ref, err error) {
	if max <= 0 || max > s.opts.MaxSize {
		max = s.opts.MaxSize
	}
	meta, err = s.normalize(meta)
	if err != nil {
		return Ref{}, err
	}
	src := meta.Source
	tmp, err := s.createTemp("blob-")
	if err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q: %w", src, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name()) // the blob, if stored, is a second link to the same inode
	}()

	sh, sm := sha256.New(), sm3.New()
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(io.MultiWriter(tmp, sh, sm), io.LimitReader(r, max+1), buf)
	if err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q: after %d bytes: %w", src, n, err)
	}
	if n > max {
		return Ref{}, fmt.Errorf("evidence: put %q: %w of %d bytes", src, ErrTooLarge, max)
	}
	if err := tmp.Chmod(fileMode); err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q: %w", src, err)
	}
	if err := tmp.Sync(); err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q: fsync: %w", src, err)
	}
	ref = Ref{SHA256: hex.EncodeToString(sh.Sum(nil)), SM3: hex.EncodeToString(sm.Sum(nil)), Size: n}
	h := ref.SHA256

	prefixDir := filepath.Join(s.dir, blobRoot, h[:2])
	if err := os.Mkdir(prefixDir, dirMode); err == nil {
		if err := syncDir(filepath.Dir(prefixDir)); err != nil {
			return Ref{}, fmt.Errorf("evidence: put %q as %s: %w", src, h, err)
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return Ref{}, fmt.Errorf("evidence: put %q as %s: %w", src, h, err)
	}

	unlock, err := s.lock(h)
	if err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q as %s: %w", src, h, err)
	}
	defer unlock()

	if err := s.placeBlob(tmp.Name(), ref); err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q: %w", src, err)
	}
	rec, err := s.readSidecar(h)
	switch {
	case errors.Is(err, ErrNotFound):
		rec = Record{Ref: ref}
	case err != nil:
		// Never overwrite a damaged sidecar: it may be the only trace of earlier captures.
		return Ref{}, fmt.Errorf("evidence: put %q: %w", src, err)
	case rec.Ref != ref:
		return Ref{}, fmt.Errorf("evidence: put %q: sidecar of %s: %w: it records sm3 %s size %d, the bytes give sm3 %s size %d",
			src, h, ErrTampered, rec.Ref.SM3, rec.Ref.Size, ref.SM3, ref.Size)
	}
	if len(rec.Captures) >= maxCaptures {
		return Ref{}, fmt.Errorf("evidence: put %q: sidecar of %s already holds %d captures, the limit", src, h, maxCaptures)
	}
	rec.Captures = append(rec.Captures, Capture{Seq: len(rec.Captures) + 1, Meta: meta})
	if err := s.writeSidecar(h, rec); err != nil {
		return Ref{}, fmt.Errorf("evidence: put %q: %w", src, err)
	}
	return ref, nil
}

// placeBlob links the finished temporary file to the blob's address. link(2) fails rather than
// replaces, so even without the lock two writers could not clobber each other's blob.
func (s *Store) placeBlob(tmpName string, ref Ref) error {
	h := ref.SHA256
	final := s.blobPath(h)
	err := os.Link(tmpName, final)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		// Some file systems have no hard links; the prefix lock makes check-then-rename safe.
		if _, serr := os.Lstat(final); errors.Is(serr, fs.ErrNotExist) {
			err = os.Rename(tmpName, final)
		} else if serr == nil {
			err = fs.ErrExist
		}
	}
	switch {
	case err == nil:
		if err := syncDir(filepath.Dir(final)); err != nil {
			return fmt.Errorf("blob %s: %w", h, err)
		}
		return nil
	case errors.Is(err, fs.ErrExist):
		// Already stored: a second capture must not attach itself to bytes that have changed.
		got, err := hashFile(final, ref.Size)
		if err != nil {
			return fmt.Errorf("blob %s: %w", h, err)
		}
		if got.SHA256 != h || got.Size != ref.Size {
			return fmt.Errorf("blob %s: %w: stored file has sha256 %s and %d bytes", h, ErrTampered, got.SHA256, got.Size)
		}
		return nil
	default:
		return fmt.Errorf("blob %s: %w", h, err)
	}
}

// hashFile computes the SHA-256 of a file, reading at most limit+1 bytes.
func hashFile(path string, limit int64) (Ref, error) {
	f, err := os.Open(path)
	if err != nil {
		return Ref{}, err
	}
	defer f.Close()
	sh := sha256.New()
	n, err := io.Copy(sh, io.LimitReader(f, limit+1))
	if err != nil {
		return Ref{}, err
	}
	return Ref{SHA256: hex.EncodeToString(sh.Sum(nil)), Size: n}, nil
}

// normalize fills defaults and bounds Meta, then passes it through its JSON form so that what Put
// appends is exactly what a later reader decodes (UTC time, valid UTF-8).
func (s *Store) normalize(m Meta) (Meta, error) {
	if m.Method == "" {
		return Meta{}, fmt.Errorf("evidence: put %q: Meta.Method is empty (say how the bytes were obtained)", m.Source)
	}
	if m.CapturedAt.IsZero() {
		m.CapturedAt = time.Now()
	}
	m.CapturedAt = m.CapturedAt.UTC()
	if y := m.CapturedAt.Year(); y < 1 || y > 9999 {
		return Meta{}, fmt.Errorf("evidence: put %q: Meta.CapturedAt %v is out of range", m.Source, m.CapturedAt)
	}
	if m.Tool == "" {
		m.Tool = s.opts.Tool
	}
	if m.MediaType == "" {
		m.MediaType = "application/octet-stream"
	}
	for _, f := range []*string{&m.Method, &m.Source, &m.Tool, &m.Inspector, &m.MediaType, &m.Note} {
		if len(*f) > maxMetaField {
			return Meta{}, fmt.Errorf("evidence: put %q: a Meta field is longer than %d bytes", truncate(m.Source), maxMetaField)
		}
		*f = strings.ToValidUTF8(*f, "\uFFFD")
	}
	return m, nil
}

func truncate(s string) string {
	if len(s) > 200 {
		return strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// Stat returns the Ref and every capture of an artifact, after checking the sidecar (well-formed,
// canonical, sealed, matching its address) and that the blob exists with the recorded size. It does
// not read the blob; Verify does.
func (s *Store) Stat(h string) (Record, error) {
	if err := CheckHash(h); err != nil {
		return Record{}, err
	}
	rec, err := s.readSidecar(h)
	if err != nil {
		return Record{}, err
	}
	fi, err := os.Lstat(s.blobPath(h))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Record{}, fmt.Errorf("evidence: blob %s: %w: the sidecar exists but the blob is missing", h, ErrTampered)
	case err != nil:
		return Record{}, fmt.Errorf("evidence: blob %s: %w", h, err)
	case !fi.Mode().IsRegular():
		return Record{}, fmt.Errorf("evidence: blob %s: %w: not a regular file (%v)", h, ErrTampered, fi.Mode().Type())
	case fi.Size() != rec.Ref.Size:
		return Record{}, fmt.Errorf("evidence: blob %s: %w: %d bytes on disk, %d recorded", h, ErrTampered, fi.Size(), rec.Ref.Size)
	}
	return rec, nil
}

// Get opens an artifact for reading. The reader hashes what it returns and, instead of io.EOF,
// fails with an error wrapping ErrTampered and naming the hash if the bytes do not hash to their
// address; a caller must read to EOF before relying on the content.
func (s *Store) Get(h string) (io.ReadCloser, Ref, error) {
	rec, err := s.Stat(h)
	if err != nil {
		return nil, Ref{}, err
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return nil, Ref{}, fmt.Errorf("evidence: blob %s: %w", h, err)
	}
	return &verifyingReader{f: f, h: sha256.New(), want: rec.Ref}, rec.Ref, nil
}

type verifyingReader struct {
	f    *os.File
	h    hash.Hash
	want Ref
	n    int64
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.f.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.want.Size {
		v.err = fmt.Errorf("evidence: blob %s: %w: longer than the recorded %d bytes", v.want.SHA256, ErrTampered, v.want.Size)
		return n, v.err
	}
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.SHA256 || v.n != v.want.Size {
			v.err = fmt.Errorf("evidence: blob %s: %w: content hashes to %s (%d bytes)", v.want.SHA256, ErrTampered, got, v.n)
			return n, v.err
		}
		v.err = io.EOF
	} else if err != nil {
		v.err = fmt.Errorf("evidence: blob %s: %w", v.want.SHA256, err)
	}
	return n, v.err
}

func (v *verifyingReader) Close() error { return v.f.Close() }

// Verify reads an artifact fully and checks its size, SHA-256 and SM3 against the sidecar.
func (s *Store) Verify(h string) error {
	rec, err := s.Stat(h)
	if err != nil {
		return err
	}
	f, err := os.Open(s.blobPath(h))
	if err != nil {
		return fmt.Errorf("evidence: blob %s: %w", h, err)
	}
	defer f.Close()
	sh, sm := sha256.New(), sm3.New()
	n, err := io.Copy(io.MultiWriter(sh, sm), io.LimitReader(f, rec.Ref.Size+1))
	if err != nil {
		return fmt.Errorf("evidence: blob %s: %w", h, err)
	}
	got := Ref{SHA256: hex.EncodeToString(sh.Sum(nil)), SM3: hex.EncodeToString(sm.Sum(nil)), Size: n}
	switch {
	case got.Size != rec.Ref.Size:
		return fmt.Errorf("evidence: blob %s: %w: %d bytes read, %d recorded", h, ErrTampered, got.Size, rec.Ref.Size)
	case got.SHA256 != h:
		return fmt.Errorf("evidence: blob %s: %w: content hashes to sha256 %s", h, ErrTampered, got.SHA256)
	case got.SM3 != rec.Ref.SM3:
		return fmt.Errorf("evidence: blob %s: %w: content hashes to sm3 %s, sidecar records %s", h, ErrTampered, got.SM3, rec.Ref.SM3)
	}
	return nil
}

// List calls fn with the Record of every stored artifact, in hash order. Files being written and
// leftovers of interrupted Puts (under tmp/) are not artifacts and are skipped. An artifact whose
// sidecar or blob fails Stat does not stop the walk; those errors are joined into the result. An
// error from fn or ctx stops the walk and is returned.
func (s *Store) List(ctx context.Context, fn func(Record) error) error {
	root := filepath.Join(s.dir, blobRoot)
	prefixes, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("evidence: list %s: %w", root, err)
	}
	var problems []error
	for _, p := range prefixes {
		if !p.IsDir() || len(p.Name()) != 2 || !isLowerHex(p.Name()) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, p.Name()))
		if err != nil {
			problems = append(problems, fmt.Errorf("evidence: list %s: %w", p.Name(), err))
			continue
		}
		seen := make(map[string]bool)
		for _, e := range entries {
			rest := strings.TrimSuffix(e.Name(), ".json")
			if len(rest) == 62 && isLowerHex(rest) {
				seen[p.Name()+rest] = true
			}
		}
		hashes := make([]string, 0, len(seen))
		for h := range seen {
			hashes = append(hashes, h)
		}
		sort.Strings(hashes)
		for _, h := range hashes {
			if err := ctx.Err(); err != nil {
				return err
			}
			rec, err := s.Stat(h)
			if err != nil {
				problems = append(problems, err)
				continue
			}
			if err := fn(rec); err != nil {
				return err
			}
		}
	}
	return errors.Join(problems...)
}

// Sweep removes what interrupted Puts left in tmp/: files no live writer holds a lock on (a writer's
// lock dies with its process). It returns how many it removed.
func (s *Store) Sweep() (int, error) {
	dir := filepath.Join(s.dir, tmpRoot)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("evidence: sweep %s: %w", dir, err)
	}
	removed := 0
	var problems []error
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		ok, err := removeIfAbandoned(p)
		if err != nil {
			problems = append(problems, fmt.Errorf("evidence: sweep %s: %w", p, err))
		}
		if ok {
			removed++
		}
	}
	return removed, errors.Join(problems...)
}

// createTemp creates a file in tmp/ and takes its lock, so that Sweep in this or another process
// leaves it alone while it is being written.
func (s *Store) createTemp(prefix string) (*os.File, error) {
	dir := filepath.Join(s.dir, tmpRoot)
	for range 100 {
		f, err := os.CreateTemp(dir, prefix)
		if err != nil {
			return nil, err
		}
		ok, err := tryLockLive(f)
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			return nil, err
		}
		if ok {
			return f, nil
		}
		// A Sweep got the lock between create and lock and will delete the file; take another name.
		f.Close()
	}
	return nil, errors.New("could not create a temporary file in " + dir)
}

// lock takes the in-process and the cross-process lock for h's prefix.
func (s *Store) lock(h string) (unlock func(), err error) {
	b, _ := hex.DecodeString(h[:2])
	mu := &s.mu[b[0]]
	mu.Lock()
	f, err := os.OpenFile(filepath.Join(s.dir, lockRoot, h[:2]), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		mu.Unlock()
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		mu.Unlock()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() {
		f.Close() // releases the flock
		mu.Unlock()
	}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}
