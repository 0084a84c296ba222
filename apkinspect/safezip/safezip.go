// Package safezip reads zip archives (APKs) that come from the party under investigation. It wraps
// archive/zip with its own limits, because archive/zip trusts what an archive declares: entry count,
// declared vs actual sizes, compression ratio (zip bombs), total inflated bytes, duplicate and
// overlapping entries, and names that are not plain relative paths.
package safezip

import (
	"archive/zip"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
)

// Limits bound what one archive may cost. Zero fields take the DefaultLimits value.
type Limits struct {
	MaxArchiveSize int64 // bytes of the archive file
	MaxEntries     int   // central-directory records
	MaxEntrySize   int64 // inflated bytes of one entry
	MaxTotalSize   int64 // inflated bytes read from the whole archive
	MaxRatio       int64 // inflated/compressed, per entry
	MaxNameLen     int   // bytes of one entry name
}

// DefaultLimits fit real APKs (the largest store apps are a few hundred MiB, ratios of text
// resources stay well below 200) and refuse bombs.
func DefaultLimits() Limits {
	return Limits{
		MaxArchiveSize: 512 << 20,
		MaxEntries:     65536,
		MaxEntrySize:   256 << 20,
		MaxTotalSize:   2 << 30,
		MaxRatio:       1000,
		MaxNameLen:     4096,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxArchiveSize <= 0 {
		l.MaxArchiveSize = d.MaxArchiveSize
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxEntrySize <= 0 {
		l.MaxEntrySize = d.MaxEntrySize
	}
	if l.MaxTotalSize <= 0 {
		l.MaxTotalSize = d.MaxTotalSize
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	if l.MaxNameLen <= 0 {
		l.MaxNameLen = d.MaxNameLen
	}
	return l
}

// Errors callers may test with errors.Is.
var (
	ErrTooLarge     = errors.New("archive too large")
	ErrTooMany      = errors.New("too many entries")
	ErrOverlap      = errors.New("overlapping entries")
	ErrBomb         = errors.New("compression ratio or inflated size over limit")
	ErrBadName      = errors.New("unsafe entry name")
	ErrDuplicate    = errors.New("duplicate entry name")
	ErrNotFound     = errors.New("entry not found")
	ErrSizeMismatch = errors.New("actual size differs from declared size")
)

// Entry is one readable entry of the archive.
type Entry struct {
	Name             string
	Method           uint16
	CompressedSize   int64
	UncompressedSize int64
	f                *zip.File
}

// Archive is an opened archive. Problems lists what was wrong with it without making it
// unreadable (duplicate or unsafe names): such entries are never returned by name.
type Archive struct {
	name     string
	lim      Limits
	entries  []*Entry
	byName   map[string]*Entry
	Problems []string

	mu    sync.Mutex
	total int64
}

// Open reads the central directory of r (size bytes). name is only used in error texts.
func Open(r io.ReaderAt, size int64, name string, lim Limits) (a *Archive, err error) {
	defer func() {
		if p := recover(); p != nil {
			a, err = nil, fmt.Errorf("%s: zip reader panicked: %v", name, p)
		}
	}()
	lim = lim.withDefaults()
	if size > lim.MaxArchiveSize {
		return nil, fmt.Errorf("%s: %w: %d bytes > %d", name, ErrTooLarge, size, lim.MaxArchiveSize)
	}
	if n, ok := declaredEntries(r, size); ok && n > uint64(lim.MaxEntries) {
		return nil, fmt.Errorf("%s: %w: %d > %d", name, ErrTooMany, n, lim.MaxEntries)
	}
	zr, err := zip.NewReader(newBlockReader(r, size), size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("%s: not a readable zip: %w", name, err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%s: %w: %d > %d", name, ErrTooMany, len(zr.File), lim.MaxEntries)
	}
	a = &Archive{name: name, lim: lim, byName: make(map[string]*Entry, len(zr.File))}
	if err := checkOverlap(zr.File, size); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Unknown compression methods: apksig (and so apksigner and the platform's verifier) inflate
	// every non-stored entry, so an APK may label deflated data with any method. Read it the same
	// way, and say so.
	odd := map[uint16]bool{}
	for _, f := range zr.File {
		if f.Method != zip.Store && f.Method != zip.Deflate && !odd[f.Method] {
			odd[f.Method] = true
			zr.RegisterDecompressor(f.Method, func(r io.Reader) io.ReadCloser { return flate.NewReader(r) })
		}
	}
	dup := map[string]bool{}
	for _, f := range zr.File {
		if err := CheckName(f.Name, lim.MaxNameLen); err != nil {
			a.Problems = append(a.Problems, fmt.Sprintf("%q: %v", trunc(f.Name), err))
			continue
		}
		if odd[f.Method] {
			a.Problems = append(a.Problems, fmt.Sprintf("%q: compression method %d read as deflate", trunc(f.Name), f.Method))
		}
		e := &Entry{Name: f.Name, Method: f.Method, CompressedSize: int64(f.CompressedSize64), UncompressedSize: int64(f.UncompressedSize64), f: f}
		if _, seen := a.byName[f.Name]; seen {
			if !dup[f.Name] {
				a.Problems = append(a.Problems, fmt.Sprintf("%q: %v", trunc(f.Name), ErrDuplicate))
			}
			dup[f.Name] = true
			continue
		}
		a.byName[f.Name] = e
		a.entries = append(a.entries, e)
	}
	// A duplicated name is ambiguous (Android and other tools disagree on which copy wins): refuse both.
	if len(dup) > 0 {
		kept := a.entries[:0]
		for _, e := range a.entries {
			if dup[e.Name] {
				delete(a.byName, e.Name)
				continue
			}
			kept = append(kept, e)
		}
		a.entries = kept
	}
	return a, nil
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// declaredEntries reads the entry count from the end-of-central-directory record (zip64 aware),
// before archive/zip allocates a File per record.
func declaredEntries(r io.ReaderAt, size int64) (uint64, bool) {
	const eocdLen = 22
	if size < eocdLen {
		return 0, false
	}
	n := int64(eocdLen + 65535)
	if n > size {
		n = size
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0, false
	}
	for i := len(buf) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) != 0x06054b50 {
			continue
		}
		cnt := uint64(binary.LittleEndian.Uint16(buf[i+10:]))
		if cnt != 0xffff || i < 20 {
			return cnt, true
		}
		// zip64 locator sits just before the EOCD.
		loc := buf[i-20:]
		if binary.LittleEndian.Uint32(loc) != 0x07064b50 {
			return cnt, true
		}
		off := int64(binary.LittleEndian.Uint64(loc[8:]))
		if off < 0 || off+56 > size {
			return 0, false
		}
		rec := make([]byte, 56)
		if _, err := r.ReadAt(rec, off); err != nil || binary.LittleEndian.Uint32(rec) != 0x06064b50 {
			return 0, false
		}
		return binary.LittleEndian.Uint64(rec[32:]), true
	}
	return 0, false
}

// checkOverlap refuses archives whose entries share bytes (the "overlapping files" zip bomb) or
// point past the end of the file.
func checkOverlap(files []*zip.File, size int64) error {
	type span struct {
		start, end int64
		name       string
	}
	spans := make([]span, 0, len(files))
	for _, f := range files {
		off, err := f.DataOffset()
		if err != nil {
			// Unreadable local header: the entry fails when read; it cannot overlap what we read.
			continue
		}
		end := off + int64(f.CompressedSize64)
		if end < off || end > size {
			return fmt.Errorf("entry %q: data runs past end of archive", trunc(f.Name))
		}
		spans = append(spans, span{off, end, f.Name})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			return fmt.Errorf("%w: %q and %q", ErrOverlap, trunc(spans[i-1].name), trunc(spans[i].name))
		}
	}
	return nil
}

// CheckName rejects names that are not plain relative slash paths: empty, absolute, with "..",
// backslashes, NUL or other control bytes, drive letters, or longer than maxLen.
func CheckName(name string, maxLen int) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case maxLen > 0 && len(name) > maxLen:
		return fmt.Errorf("%w: %d bytes long", ErrBadName, len(name))
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%w: NUL byte", ErrBadName)
	case strings.Contains(name, `\`):
		return fmt.Errorf("%w: backslash", ErrBadName)
	case strings.HasPrefix(name, "/"):
		return fmt.Errorf("%w: absolute path", ErrBadName)
	case len(name) >= 2 && name[1] == ':':
		return fmt.Errorf("%w: drive letter", ErrBadName)
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return fmt.Errorf("%w: \"..\" component", ErrBadName)
		}
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: control character", ErrBadName)
		}
	}
	return nil
}

// Name is the archive name given to Open.
func (a *Archive) Name() string { return a.name }

// Entries lists the readable entries in central-directory order.
func (a *Archive) Entries() []*Entry { return a.entries }

// Lookup returns the entry called name.
func (a *Archive) Lookup(name string) (*Entry, bool) {
	e, ok := a.byName[name]
	return e, ok
}

// Inflated is the number of bytes read from the archive so far.
func (a *Archive) Inflated() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

// ReadFile reads the entry called name, at most max bytes (0: the entry limit).
func (a *Archive) ReadFile(name string, max int64) ([]byte, error) {
	e, ok := a.byName[name]
	if !ok {
		return nil, fmt.Errorf("%s: %s: %w", a.name, trunc(name), ErrNotFound)
	}
	return a.Read(e, max)
}

// Read reads entry e fully, refusing more than max (0: the entry limit) inflated bytes.
func (a *Archive) Read(e *Entry, max int64) (data []byte, err error) {
	return a.ReadInto(e, max, nil)
}

// ReadInto is Read into buf's storage when it is large enough (a caller reading entries one
// after another, such as the dex files, then allocates and clears one buffer, not one per entry).
// The result aliases buf: the caller must be done with buf's previous contents.
func (a *Archive) ReadInto(e *Entry, max int64, buf []byte) (data []byte, err error) {
	rc, err := a.Open(e, max)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	// Open has bounded the declared size; trust it for the allocation only as far as real
	// compression goes (dex and XML inflate 2-6×), so that a lying header cannot make us
	// allocate the whole limit for a small entry. The reader stops at the declared size + 1.
	want := e.UncompressedSize
	if e.Method != 0 && want > 32*e.CompressedSize+(1<<20) {
		want = 32*e.CompressedSize + (1 << 20)
	}
	if int64(cap(buf)) >= want+1 {
		data = buf[:0]
	} else {
		data = make([]byte, 0, want+1)
	}
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, rerr := rc.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if rerr == io.EOF {
			return data, nil
		}
		if rerr != nil {
			return nil, rerr
		}
	}
}

// Open returns a reader for entry e that stops with an error beyond max (0: the entry limit)
// inflated bytes, beyond its declared size, or beyond the archive's total budget.
func (a *Archive) Open(e *Entry, max int64) (io.ReadCloser, error) {
	if max <= 0 || max > a.lim.MaxEntrySize {
		max = a.lim.MaxEntrySize
	}
	where := a.name + ": " + trunc(e.Name)
	if e.UncompressedSize > max {
		return nil, fmt.Errorf("%s: %w: declared %d bytes > limit %d", where, ErrBomb, e.UncompressedSize, max)
	}
	if e.CompressedSize > 0 && e.UncompressedSize/e.CompressedSize > a.lim.MaxRatio {
		return nil, fmt.Errorf("%s: %w: ratio %d > %d", where, ErrBomb, e.UncompressedSize/e.CompressedSize, a.lim.MaxRatio)
	}
	if e.CompressedSize == 0 && e.UncompressedSize > 0 && e.Method != zip.Store {
		return nil, fmt.Errorf("%s: %w: %d bytes from nothing", where, ErrBomb, e.UncompressedSize)
	}
	rc, err := openRecover(e.f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &limited{a: a, e: e, rc: rc, left: e.UncompressedSize, where: where}, nil
}

func openRecover(f *zip.File) (rc io.ReadCloser, err error) {
	defer func() {
		if p := recover(); p != nil {
			rc, err = nil, fmt.Errorf("zip open panicked: %v", p)
		}
	}()
	return f.Open()
}

// limited is a hard LimitReader: it reads at most the declared size plus one byte (to see an
// overrun) and charges every byte to the archive's total budget.
type limited struct {
	a     *Archive
	e     *Entry
	rc    io.ReadCloser
	left  int64
	where string
}

func (l *limited) Read(p []byte) (int, error) {
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, fmt.Errorf("%s: %w: more than %d bytes", l.where, ErrSizeMismatch, l.e.UncompressedSize)
	}
	l.a.mu.Lock()
	l.a.total += int64(n)
	over := l.a.total > l.a.lim.MaxTotalSize
	l.a.mu.Unlock()
	if over {
		return 0, fmt.Errorf("%s: %w: archive total over %d bytes", l.where, ErrBomb, l.a.lim.MaxTotalSize)
	}
	if err == io.EOF && l.left > 0 {
		return n, fmt.Errorf("%s: %w: %d bytes missing", l.where, ErrSizeMismatch, l.left)
	}
	if err != nil && err != io.EOF {
		return n, fmt.Errorf("%s: %w", l.where, err)
	}
	return n, err
}

func (l *limited) Close() error { return l.rc.Close() }

// readBlock is the size of blockReader's reads.
const readBlock = 256 << 10

// blockReader serves the small reads archive/zip makes (its inflater reads 4 KiB at a time) from
// one block read ahead of them: entries are read front to back, so most reads hit the block, and
// a file-backed APK costs one system call per block instead of one per 4 KiB.
type blockReader struct {
	r    io.ReaderAt
	size int64
	mu   sync.Mutex
	buf  []byte
	off  int64 // file offset of buf[0]
}

func newBlockReader(r io.ReaderAt, size int64) *blockReader {
	return &blockReader{r: r, size: size, off: -1}
}

func (b *blockReader) ReadAt(p []byte, off int64) (int, error) {
	if len(p) >= readBlock/2 || off < 0 {
		return b.r.ReadAt(p, off)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if b.off < 0 || at < b.off || at >= b.off+int64(len(b.buf)) {
			if at >= b.size {
				return n, io.EOF
			}
			if b.buf == nil {
				b.buf = make([]byte, readBlock)
			}
			m, err := b.r.ReadAt(b.buf[:min(int64(readBlock), b.size-at)], at)
			b.buf, b.off = b.buf[:m], at
			if m == 0 {
				b.off = -1
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				return n, err
			}
		}
		n += copy(p[n:], b.buf[at-b.off:])
	}
	return n, nil
}
