package xls

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
)

// Compound File Binary ([MS-CFB]) container: just enough to find the Workbook stream and read it
// through its sector chain without loading it. Every index read from the file is checked against
// the file's sector count, and every chain walk is bounded by the number of sectors, so a cycle or
// a lying size ends in an error instead of a loop or an allocation.

var cfbMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}

const (
	secDIFAT = 0xFFFFFFFC
	secFAT   = 0xFFFFFFFD
	secEnd   = 0xFFFFFFFE
	secFree  = 0xFFFFFFFF
	noStream = 0xFFFFFFFF // a directory sibling/child that does not exist

	// A workbook's directory holds a handful of entries (Workbook, SummaryInformation, …); 4096
	// sectors are 16,384 entries or more, far beyond any writer, and keep the directory's memory
	// small whatever the file claims.
	maxDirSectors = 4096
)

type dirEntry struct {
	name               string
	typ                byte // 1 storage, 2 stream, 5 root
	left, right, child uint32
	start              uint32
	size               uint64
}

type cfb struct {
	r          io.ReaderAt
	size       int64
	ss         int64 // sector size, 512 (v3) or 4096 (v4)
	nsec       uint32
	fat        []uint32
	dir        []dirEntry
	miniCutoff uint64
	miniFATAt  uint32
	nMiniFAT   uint32
}

// corruptf is a container or record error; the caller wraps it into an *Error with the file name.
func corruptf(format string, a ...any) error { return fmt.Errorf(format, a...) }

func openCFB(r io.ReaderAt, size int64) (*cfb, error) {
	var h [512]byte
	n, err := r.ReadAt(h[:], 0)
	if n < 8 || !bytes.Equal(h[:8], cfbMagic) {
		if n >= 4 && string(h[:4]) == "PK\x03\x04" {
			return nil, corruptf("not an .xls (OLE2) file: it is a zip archive (an .xlsx is a zip; read it as .xlsx)")
		}
		if err != nil && err != io.EOF {
			return nil, corruptf("reading the header: %v", err)
		}
		return nil, corruptf("not an .xls (OLE2) file: no compound-file signature")
	}
	if n < 512 {
		return nil, corruptf("truncated: the compound-file header needs 512 bytes, the file has %d", n)
	}
	le := binary.LittleEndian
	major := le.Uint16(h[26:])
	shift := le.Uint16(h[30:])
	c := &cfb{r: r, size: size}
	switch {
	case major == 3 && shift == 9:
		c.ss = 512
	case major == 4 && shift == 12:
		c.ss = 4096
	default:
		return nil, corruptf("unsupported compound-file version %d with sector shift %d (want 3/9 or 4/12)", major, shift)
	}
	if le.Uint16(h[28:]) != 0xFFFE {
		return nil, corruptf("compound-file byte order mark is not little-endian")
	}
	if le.Uint16(h[32:]) != 6 {
		return nil, corruptf("unsupported mini sector shift %d (want 6)", le.Uint16(h[32:]))
	}
	nsec := (size - c.ss + c.ss - 1) / c.ss // sectors after the header sector, the last one possibly short
	if nsec <= 0 {
		return nil, corruptf("truncated: no sectors after the compound-file header")
	}
	if nsec >= secDIFAT {
		return nil, corruptf("file too large for a compound file")
	}
	c.nsec = uint32(nsec)
	nFAT := le.Uint32(h[44:])
	dirStart := le.Uint32(h[48:])
	c.miniCutoff = uint64(le.Uint32(h[56:]))
	c.miniFATAt = le.Uint32(h[60:])
	c.nMiniFAT = le.Uint32(h[64:])
	// The header's DIFAT sector count (offset 72) is not needed: the FAT count bounds the chain.
	difatAt := le.Uint32(h[68:])
	if nFAT > c.nsec {
		return nil, corruptf("header claims %d FAT sectors, the file has %d sectors", nFAT, c.nsec)
	}

	// The FAT's own sectors: 109 in the header, the rest in a chain of DIFAT sectors, each holding
	// ss/4-1 entries and the next DIFAT sector's index last.
	fatSecs := make([]uint32, 0, min(int(nFAT), 109))
	for i := 0; i < 109 && uint32(len(fatSecs)) < nFAT; i++ {
		fatSecs = append(fatSecs, le.Uint32(h[76+4*i:]))
	}
	per := int(c.ss/4) - 1
	buf := make([]byte, c.ss)
	seen := map[uint32]bool{} // at most nFAT/127 entries: every DIFAT sector adds FAT sectors
	for s := difatAt; uint32(len(fatSecs)) < nFAT; {
		if s == secEnd || s == secFree {
			return nil, corruptf("DIFAT chain ends after %d of %d FAT sectors", len(fatSecs), nFAT)
		}
		if seen[s] {
			return nil, corruptf("DIFAT chain visits sector %d twice (a cycle)", s)
		}
		seen[s] = true
		if err := c.readSector(s, buf); err != nil {
			return nil, corruptf("DIFAT sector %d: %v", s, err)
		}
		for i := 0; i < per && uint32(len(fatSecs)) < nFAT; i++ {
			fatSecs = append(fatSecs, le.Uint32(buf[4*i:]))
		}
		s = le.Uint32(buf[4*per:])
	}
	// Entries past the file's last sector can never be followed (the chain walk rejects such
	// indices), so the FAT is kept to nsec entries however many FAT sectors the header claims:
	// its memory is a 128th of the file, not the file's size in a file made of FAT sectors.
	c.fat = make([]uint32, 0, min(len(fatSecs)*int(c.ss/4), int(c.nsec)))
	for _, s := range fatSecs {
		if uint32(len(c.fat)) >= c.nsec {
			break
		}
		if err := c.readSector(s, buf); err != nil {
			return nil, corruptf("FAT sector %d: %v", s, err)
		}
		for i := 0; i < int(c.ss/4) && uint32(len(c.fat)) < c.nsec; i++ {
			c.fat = append(c.fat, le.Uint32(buf[4*i:]))
		}
	}

	dirSecs, err := c.chain(c.fat, dirStart, int(min(c.nsec, maxDirSectors)), "directory", false)
	if err != nil {
		return nil, err
	}
	for _, s := range dirSecs {
		if err := c.readSector(s, buf); err != nil {
			return nil, corruptf("directory sector %d: %v", s, err)
		}
		for off := 0; off+128 <= len(buf); off += 128 {
			c.dir = append(c.dir, parseDirEntry(buf[off:off+128], c.ss == 512))
		}
	}
	if len(c.dir) == 0 || c.dir[0].typ != 5 {
		return nil, corruptf("the directory has no root entry")
	}
	return c, nil
}

func parseDirEntry(b []byte, v3 bool) dirEntry {
	le := binary.LittleEndian
	nb := int(le.Uint16(b[64:]))
	if nb > 64 {
		nb = 64
	}
	u := make([]uint16, 0, 32)
	for i := 0; i+1 < nb; i += 2 {
		if c := le.Uint16(b[i:]); c != 0 {
			u = append(u, c)
		} else {
			break
		}
	}
	e := dirEntry{name: string(utf16.Decode(u)), typ: b[66], left: le.Uint32(b[68:]), right: le.Uint32(b[72:]),
		child: le.Uint32(b[76:]), start: le.Uint32(b[116:]), size: le.Uint64(b[120:])}
	if v3 {
		// [MS-CFB] 2.6.3: in version 3 files the high 32 bits of the size may hold garbage.
		e.size &= 0xFFFFFFFF
	}
	return e
}

func (c *cfb) readSector(s uint32, buf []byte) error {
	if s >= c.nsec {
		return fmt.Errorf("sector index %d out of range (the file has %d sectors)", s, c.nsec)
	}
	off := (int64(s) + 1) * c.ss
	n, err := c.r.ReadAt(buf, off)
	if n < len(buf) {
		if off+int64(n) >= c.size {
			// The last sector of a file may be short; the rest reads as zeros.
			clear(buf[n:])
			return nil
		}
		return err
	}
	return nil
}

// chain follows a FAT (or mini FAT) chain from start and returns at most max indices. A stream
// of known size needs only max sectors and the walk stops there (sized); a chain of unknown
// length that goes on past max (the sector count) is a cycle and reported.
func (c *cfb) chain(table []uint32, start uint32, max int, what string, sized bool) ([]uint32, error) {
	var out []uint32
	seen := make([]uint64, (len(table)+63)/64)
	for s := start; s != secEnd; s = table[s] {
		if len(out) >= max {
			if sized {
				break
			}
			return nil, corruptf("%s chain longer than %d sectors (a cycle, or past the limit)", what, max)
		}
		if s >= uint32(len(table)) {
			return nil, corruptf("%s chain: sector index %#x out of range (%d entries)", what, s, len(table))
		}
		if seen[s/64]&(1<<(s%64)) != 0 {
			return nil, corruptf("%s chain visits sector %d twice (a cycle)", what, s)
		}
		seen[s/64] |= 1 << (s % 64)
		out = append(out, s)
	}
	return out, nil
}

// rootStream finds a stream among the root storage's children (a red-black tree of siblings) by
// name, case-insensitively as [MS-CFB] compares names. Streams inside sub-storages (embedded
// objects) are deliberately not searched.
func (c *cfb) rootStream(names ...string) (*dirEntry, string) {
	stack := []uint32{c.dir[0].child}
	visited := make(map[uint32]bool)
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i == noStream || i >= uint32(len(c.dir)) || visited[i] {
			continue
		}
		visited[i] = true
		e := &c.dir[i]
		if e.typ == 2 {
			for _, n := range names {
				if strings.EqualFold(e.name, n) {
					return e, n
				}
			}
		}
		stack = append(stack, e.left, e.right)
	}
	return nil, ""
}

// openStream returns a reader over a stream's bytes: small streams are read whole from the mini
// stream (they are under the cutoff, 4096 bytes), big ones are read through their sector list.
func (c *cfb) openStream(e *dirEntry) (io.ReaderAt, int64, error) {
	if e.size > uint64(c.size) {
		return nil, 0, corruptf("stream %q claims %d bytes, the file has %d", e.name, e.size, c.size)
	}
	size := int64(e.size)
	if e.size < c.miniCutoff {
		root := &c.dir[0]
		if root.size > uint64(c.size) {
			return nil, 0, corruptf("mini stream claims %d bytes, the file has %d", root.size, c.size)
		}
		miniSecs, err := c.chain(c.fat, root.start, int((int64(root.size)+c.ss-1)/c.ss), "mini stream", true)
		if err != nil {
			return nil, 0, err
		}
		mfSecs, err := c.chain(c.fat, c.miniFATAt, int(c.nsec), "mini FAT", false)
		if err != nil {
			return nil, 0, err
		}
		buf := make([]byte, c.ss)
		var minifat []uint32
		for _, s := range mfSecs {
			if err := c.readSector(s, buf); err != nil {
				return nil, 0, corruptf("mini FAT sector %d: %v", s, err)
			}
			for i := 0; i < len(buf); i += 4 {
				minifat = append(minifat, binary.LittleEndian.Uint32(buf[i:]))
			}
		}
		need := int((size + 63) / 64)
		ms, err := c.chain(minifat, e.start, need, "mini stream "+e.name, true)
		if err != nil {
			return nil, 0, err
		}
		if len(ms) < need {
			return nil, 0, corruptf("stream %q claims %d bytes, its mini chain holds %d", e.name, size, len(ms)*64)
		}
		container := &sectorStream{c: c, secs: miniSecs, size: root.size}
		out := make([]byte, len(ms)*64)
		for i, m := range ms {
			if _, err := container.ReadAt(out[i*64:(i+1)*64], int64(m)*64); err != nil {
				return nil, 0, corruptf("stream %q: mini sector %d: %v", e.name, m, err)
			}
		}
		return bytes.NewReader(out[:size]), size, nil
	}
	need := int((size + c.ss - 1) / c.ss)
	secs, err := c.chain(c.fat, e.start, need, "stream "+e.name, true)
	if err != nil {
		return nil, 0, err
	}
	if len(secs) < need {
		return nil, 0, corruptf("stream %q claims %d bytes, its sector chain holds %d", e.name, size, int64(len(secs))*c.ss)
	}
	return &sectorStream{c: c, secs: secs, size: uint64(size)}, size, nil
}

// sectorStream reads a stream through its list of sectors, coalescing runs of consecutive
// sectors into one read of the underlying file.
type sectorStream struct {
	c    *cfb
	secs []uint32
	size uint64
}

func (s *sectorStream) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset")
	}
	if uint64(off) >= s.size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := s.size - uint64(off); uint64(want) > rest {
		want = int(rest)
	}
	ss := s.c.ss
	n := 0
	for n < want {
		i := (off + int64(n)) / ss
		in := (off + int64(n)) % ss
		if i >= int64(len(s.secs)) {
			return n, io.ErrUnexpectedEOF
		}
		// Extend over physically consecutive sectors.
		j := i
		for j+1 < int64(len(s.secs)) && s.secs[j+1] == s.secs[j]+1 && (j+1-i)*ss-in < int64(want-n) {
			j++
		}
		sec := s.secs[i]
		if sec >= s.c.nsec {
			return n, fmt.Errorf("sector index %d out of range (the file has %d sectors)", sec, s.c.nsec)
		}
		chunk := min(int64(want-n), (j-i+1)*ss-in)
		fileOff := (int64(sec)+1)*ss + in
		m, err := s.c.r.ReadAt(p[n:n+int(chunk)], fileOff)
		n += m
		if m < int(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, fmt.Errorf("truncated: %w", err)
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
