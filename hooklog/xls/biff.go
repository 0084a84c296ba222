package xls

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// BIFF8 record types read here ([MS-XLS] 2.3).
const (
	recFormula    = 0x0006
	recEOF        = 0x000A
	recDateMode   = 0x0022
	recFilePass   = 0x002F
	recContinue   = 0x003C
	recCodePage   = 0x0042
	recBoundSheet = 0x0085
	recMulRK      = 0x00BD
	recMulBlank   = 0x00BE
	recRString    = 0x00D6
	recDBCell     = 0x00D7
	recSST        = 0x00FC
	recLabelSST   = 0x00FD
	recDimensions = 0x0200
	recBlank      = 0x0201
	recNumber     = 0x0203
	recLabel      = 0x0204
	recBoolErr    = 0x0205
	recString     = 0x0207
	recRK         = 0x027E
	recBOF        = 0x0809
)

// recReader reads BIFF records sequentially from the Workbook stream. A record's data lives in
// a buffer reused by the next call, so at most one record (≤ 64 KiB by its 16-bit length) is
// held at a time.
type recReader struct {
	br     *bufio.Reader
	pos    int64 // stream offset of the current record's header
	next   int64 // stream offset of the next record's header
	size   int64
	typ    uint16
	data   []byte
	unread bool
	hdr    [4]byte
}

func newRecReader(r io.ReaderAt, size, off int64) *recReader {
	// The buffer is no larger than what is left to read: a workbook of thousands of tiny
	// sheets costs thousands of small buffers, not thousands of 64 KiB ones.
	buf := int(min(64<<10, max(size-off, 16)))
	return &recReader{br: bufio.NewReaderSize(io.NewSectionReader(r, off, size-off), buf), next: off, size: size}
}

// read moves to the next record; io.EOF when the stream has no room for another header.
func (rr *recReader) read() error {
	if rr.unread {
		rr.unread = false
		return nil
	}
	if rr.size-rr.next < 4 {
		return io.EOF
	}
	if _, err := io.ReadFull(rr.br, rr.hdr[:]); err != nil {
		return fmt.Errorf("offset %d: reading a record header: %v", rr.next, err)
	}
	rr.pos = rr.next
	rr.typ = binary.LittleEndian.Uint16(rr.hdr[:])
	n := int64(binary.LittleEndian.Uint16(rr.hdr[2:]))
	if rr.pos+4+n > rr.size {
		return fmt.Errorf("offset %d: record 0x%04X claims %d bytes, %d remain before offset %d (the next sheet or the end of the stream)", rr.pos, rr.typ, n, rr.size-rr.pos-4, rr.size)
	}
	if cap(rr.data) < int(n) {
		rr.data = make([]byte, n, max(n, 1024))
	}
	rr.data = rr.data[:n]
	if _, err := io.ReadFull(rr.br, rr.data); err != nil {
		return fmt.Errorf("offset %d: reading record 0x%04X: %v", rr.pos, rr.typ, err)
	}
	rr.next = rr.pos + 4 + n
	return nil
}

// contReader reads a record's data followed by its CONTINUE records as one sequence, applying
// BIFF8's rule that character data split at a record boundary restarts with a new option byte
// (compressed or UTF-16) in the continuation.
type contReader struct {
	rr  *recReader
	cur []byte
}

func newContReader(rr *recReader, from int) *contReader {
	return &contReader{rr: rr, cur: rr.data[from:]}
}

// more loads the next CONTINUE record; false at the end of the sequence (the following record
// is left for the caller).
func (c *contReader) more() (bool, error) {
	if err := c.rr.read(); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	if c.rr.typ != recContinue {
		c.rr.unread = true
		return false, nil
	}
	c.cur = c.rr.data
	return true, nil
}

// raw copies n bytes that are not character data (lengths, flags), across records if need be.
func (c *contReader) raw(dst []byte) error {
	for i := 0; i < len(dst); {
		if len(c.cur) == 0 {
			ok, err := c.more()
			if err != nil {
				return err
			}
			if !ok {
				return errTruncString
			}
			continue
		}
		k := copy(dst[i:], c.cur)
		c.cur = c.cur[k:]
		i += k
	}
	return nil
}

// skip skips n bytes of rich-text runs or extended (phonetic) data, across records.
func (c *contReader) skip(n int64) error {
	for n > 0 {
		if len(c.cur) == 0 {
			ok, err := c.more()
			if err != nil {
				return err
			}
			if !ok {
				return errTruncString
			}
			continue
		}
		k := min(n, int64(len(c.cur)))
		c.cur = c.cur[k:]
		n -= k
	}
	return nil
}

var errTruncString = fmt.Errorf("a string runs past the end of its record and CONTINUE records")

// chars decodes cch characters to UTF-8, appended to dst. high is the option byte's fHighByte:
// UTF-16LE code units, otherwise one byte per character (the low byte of U+0000–U+00FF, i.e.
// Latin-1). Surrogate pairs are joined even when a continuation splits them; lone surrogates
// become U+FFFD.
func (c *contReader) chars(dst []byte, cch int, high bool) ([]byte, error) {
	var hi rune // a pending high surrogate
	for cch > 0 {
		if len(c.cur) == 0 {
			ok, err := c.more()
			if err != nil {
				return dst, err
			}
			if !ok || len(c.cur) == 0 {
				return dst, errTruncString
			}
			high = c.cur[0]&1 != 0
			c.cur = c.cur[1:]
			continue
		}
		if !high {
			k := min(cch, len(c.cur))
			for _, b := range c.cur[:k] {
				if hi != 0 {
					dst = utf8.AppendRune(dst, utf8.RuneError)
					hi = 0
				}
				if b < 0x80 {
					dst = append(dst, b)
				} else {
					dst = utf8.AppendRune(dst, rune(b))
				}
			}
			c.cur = c.cur[k:]
			cch -= k
			continue
		}
		k := min(cch, len(c.cur)/2)
		if k == 0 {
			// One odd byte left: a code unit cannot be split, the record is malformed.
			return dst, fmt.Errorf("a UTF-16 character is split across records")
		}
		for i := 0; i < k; i++ {
			u := rune(binary.LittleEndian.Uint16(c.cur[2*i:]))
			switch {
			case u >= 0xD800 && u < 0xDC00:
				if hi != 0 {
					dst = utf8.AppendRune(dst, utf8.RuneError)
				}
				hi = u
			case u >= 0xDC00 && u < 0xE000:
				if hi != 0 {
					dst = utf8.AppendRune(dst, 0x10000+(hi-0xD800)<<10+(u-0xDC00))
					hi = 0
				} else {
					dst = utf8.AppendRune(dst, utf8.RuneError)
				}
			default:
				if hi != 0 {
					dst = utf8.AppendRune(dst, utf8.RuneError)
					hi = 0
				}
				if u < 0x80 {
					dst = append(dst, byte(u))
				} else {
					dst = utf8.AppendRune(dst, u)
				}
			}
		}
		c.cur = c.cur[2*k:]
		cch -= k
	}
	if hi != 0 {
		dst = utf8.AppendRune(dst, utf8.RuneError)
	}
	return dst, nil
}

// unicodeString reads an XLUnicodeRichExtendedString (SST entries) or, when lenBytes is 1 or the
// string has no rich/extended flags, the plain XLUnicodeString forms, skipping formatting runs
// and phonetic data. lenBytes is 1 (BOUNDSHEET names) or 2. The decoded text is appended to
// scratch; maxBytes bounds it.
func (c *contReader) unicodeString(scratch []byte, lenBytes int, maxBytes int) ([]byte, error) {
	var b [4]byte
	if err := c.raw(b[:lenBytes+1]); err != nil {
		return scratch, err
	}
	cch := int(b[0])
	flags := b[1]
	if lenBytes == 2 {
		cch = int(binary.LittleEndian.Uint16(b[:]))
		flags = b[2]
	}
	var runs, ext int64
	if flags&0x08 != 0 {
		if err := c.raw(b[:2]); err != nil {
			return scratch, err
		}
		runs = 4 * int64(binary.LittleEndian.Uint16(b[:]))
	}
	if flags&0x04 != 0 {
		if err := c.raw(b[:4]); err != nil {
			return scratch, err
		}
		ext = int64(binary.LittleEndian.Uint32(b[:]))
	}
	if cch > maxBytes {
		return scratch, fmt.Errorf("a string of %d characters is over the cell limit of %d bytes", cch, maxBytes)
	}
	start := len(scratch)
	scratch, err := c.chars(scratch, cch, flags&0x01 != 0)
	if err != nil {
		return scratch, err
	}
	if len(scratch)-start > maxBytes {
		return scratch, fmt.Errorf("a string of %d bytes is over the cell limit of %d bytes", len(scratch)-start, maxBytes)
	}
	if err := c.skip(runs + ext); err != nil {
		return scratch, err
	}
	return scratch, nil
}

// formatNumber renders a cell's number as xlrd users see it: integral values as integers
// ("3", never "3.0", exact digits however large), others as the shortest representation that
// reads back to the same float (Python's repr). Go switches to exponent form at exponent 21,
// Python at 16; only integral values reach 1e16, so the two agree on everything printed here.
func formatNumber(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v == 0:
		return "0"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// rkValue decodes an RK number ([MS-XLS] 2.5.217): a 30-bit integer or the high 30 bits of a
// double, optionally divided by 100.
func rkValue(rk uint32) float64 {
	var v float64
	if rk&2 != 0 {
		v = float64(int32(rk) >> 2)
	} else {
		v = math.Float64frombits(uint64(rk&0xFFFFFFFC) << 32)
	}
	if rk&1 != 0 {
		v /= 100
	}
	return v
}

// errorText is Excel's display of a BoolErr/formula error code.
func errorText(code byte) string {
	switch code {
	case 0x00:
		return "#NULL!"
	case 0x07:
		return "#DIV/0!"
	case 0x0F:
		return "#VALUE!"
	case 0x17:
		return "#REF!"
	case 0x1D:
		return "#NAME?"
	case 0x24:
		return "#NUM!"
	case 0x2A:
		return "#N/A"
	}
	return fmt.Sprintf("#ERR%02X", code)
}

func boolText(b byte) string {
	if b != 0 {
		return "TRUE"
	}
	return "FALSE"
}
