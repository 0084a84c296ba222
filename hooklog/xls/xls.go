// Package xls reads legacy Excel 97–2003 workbooks (.xls: BIFF8 records in an OLE2 compound
// file) as display text, row by row, within fixed limits. It is written for the runtime hook
// logs that test-phone tools export (camille through Python's xlwt, PrivacySentry through
// JExcelApi), which are hostile input like every other file pilmon reads: every size and index
// in the file is checked, every allocation is bounded by Limits, and a malformed file yields an
// *Error, never a panic or a hang.
//
// Open reads the container and the workbook globals (sheet list and shared strings); Rows streams
// one sheet's records from the file without holding the sheet. The shared-string table is
// global to the workbook and is held, bounded by MaxTotalBytes.
//
// Cell text: strings as stored; numbers as xlrd users print them (integral values "3", others
// the shortest repr, "0.1"); booleans "TRUE"/"FALSE"; errors "#DIV/0!" etc.; formulas their
// cached result. Dates are numbers in BIFF and stay numbers here (the serial day count, as xlrd's
// cell value): the hook-log writers store times as text, and guessing dates from number formats
// would put a format's interpretation into evidence text. Blank cells are "".
package xls

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// Limits bound every allocation; zero fields take the defaults.
type Limits struct {
	MaxFileBytes  int64 // whole file (default 256 MiB)
	MaxRows       int   // per sheet: row indices at or above it are an error (default 65536, BIFF8's limit)
	MaxCols       int   // per row: column indices at or above it are an error (default 256, BIFF8's limit)
	MaxCellBytes  int   // one cell's text after decoding to UTF-8 (default 1 MiB)
	MaxTotalBytes int64 // all decoded text: the shared strings (16 bytes more each) plus one Rows call's inline text (default 512 MiB)
}

func (l Limits) withDefaults() Limits {
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = 256 << 20
	}
	if l.MaxRows <= 0 {
		l.MaxRows = 65536
	}
	if l.MaxCols <= 0 {
		l.MaxCols = 256
	}
	if l.MaxCellBytes <= 0 {
		l.MaxCellBytes = 1 << 20
	}
	if l.MaxTotalBytes <= 0 {
		l.MaxTotalBytes = 512 << 20
	}
	return l
}

// Error is every error this package returns. Row is the 0-based row index as Rows passes it to
// fn, or -1 when the error concerns no row; Sheet is "" for workbook-level errors.
type Error struct {
	File   string
	Sheet  string
	Row    int
	Reason string
}

func (e *Error) Error() string {
	s := e.File + ":"
	if e.Sheet != "" {
		s += " sheet " + strconv.Quote(e.Sheet)
	}
	if e.Row >= 0 {
		s += " row " + strconv.Itoa(e.Row)
	}
	if e.Sheet != "" || e.Row >= 0 {
		s += ":"
	}
	return s + " " + e.Reason
}

type sheet struct {
	name   string
	offset int64
	end    int64 // the next sheet's offset, or the stream's end: where this substream must have ended
	typ    byte  // BOUNDSHEET dt: 0 worksheet, 1 macro sheet, 2 chart, 6 VBA module
}

// Workbook is an opened .xls file. Its methods may be called from several goroutines when the
// io.ReaderAt given to Open allows concurrent reads (an *os.File does).
type Workbook struct {
	name     string
	lim      Limits
	stream   io.ReaderAt // the Workbook stream
	size     int64
	sheets   []sheet
	sst      []string
	sstBytes int64
	// Date1904 reports the workbook's date system (DATEMODE): serial day numbers count from
	// 1904-01-01 instead of 1899-12-30.
	Date1904 bool
	// CodePage is the CODEPAGE record's value; BIFF8 strings are Unicode whatever it says, so it
	// is informational only.
	CodePage int
}

// Open reads the CFB container and the Workbook stream's globals (sheets, SST, formats). name is
// only used in error messages.
func Open(r io.ReaderAt, size int64, name string, lim Limits) (*Workbook, error) {
	lim = lim.withDefaults()
	fail := func(err error) (*Workbook, error) {
		return nil, &Error{File: name, Row: -1, Reason: err.Error()}
	}
	if size > lim.MaxFileBytes {
		return fail(fmt.Errorf("the file has %d bytes, over the limit of %d", size, lim.MaxFileBytes))
	}
	c, err := openCFB(r, size)
	if err != nil {
		return fail(err)
	}
	e, which := c.rootStream("Workbook", "Book")
	if e == nil {
		if p, _ := c.rootStream("EncryptedPackage"); p != nil {
			return fail(errors.New("not an .xls file: a password-protected .xlsx (an OLE2 file holding an EncryptedPackage stream)"))
		}
		return fail(errors.New("no Workbook stream: the compound file is not an Excel workbook"))
	}
	if which == "Book" {
		return fail(errors.New("a BIFF5 or older workbook (Excel 95 or earlier, stream \"Book\"): only BIFF8 (Excel 97–2003) is read"))
	}
	st, n, err := c.openStream(e)
	if err != nil {
		return fail(err)
	}
	w := &Workbook{name: name, lim: lim, stream: st, size: n}
	if err := w.readGlobals(); err != nil {
		return fail(err)
	}
	if err := w.bound(); err != nil {
		return fail(err)
	}
	return w, nil
}

// bound gives each sheet the end of its substream: the next sheet's offset. Substreams follow
// one another in the stream, so reading is confined to [offset, end) and reading every sheet
// costs one pass over the stream at most. Without it, thousands of BOUNDSHEETs pointing at the
// same offset, or at fake BOF records inside string data, would each read to the stream's end.
func (w *Workbook) bound() error {
	offs := make([]int64, len(w.sheets))
	for i, s := range w.sheets {
		offs[i] = s.offset
	}
	slices.Sort(offs)
	for i := 1; i < len(offs); i++ {
		if offs[i] == offs[i-1] {
			return fmt.Errorf("two sheets start at the same offset %d", offs[i])
		}
	}
	for i := range w.sheets {
		s := &w.sheets[i]
		s.end = w.size
		if j, _ := slices.BinarySearch(offs, s.offset); j+1 < len(offs) {
			s.end = min(offs[j+1], w.size)
		}
	}
	return nil
}

// Sheets lists the sheet names in workbook order (worksheets, and chart or macro sheets, which
// have no cells).
func (w *Workbook) Sheets() []string {
	out := make([]string, len(w.sheets))
	for i, s := range w.sheets {
		out[i] = s.name
	}
	return out
}

// checkBOF accepts only a BIFF8 BOF and names what older versions are.
func checkBOF(rr *recReader) (dt uint16, err error) {
	switch rr.typ {
	case recBOF:
	case 0x0009, 0x0209, 0x0409:
		return 0, fmt.Errorf("a BIFF2–4 workbook (Excel 2–4): only BIFF8 (Excel 97–2003) is read")
	default:
		return 0, fmt.Errorf("offset %d: expected a BOF record, found record 0x%04X", rr.pos, rr.typ)
	}
	if len(rr.data) < 4 {
		return 0, fmt.Errorf("offset %d: BOF record of %d bytes", rr.pos, len(rr.data))
	}
	switch v := binary.LittleEndian.Uint16(rr.data); v {
	case 0x0600:
	case 0x0500:
		return 0, fmt.Errorf("a BIFF5 workbook (Excel 5/95): only BIFF8 (Excel 97–2003) is read")
	default:
		return 0, fmt.Errorf("unsupported BIFF version 0x%04X in BOF (only BIFF8, 0x0600, is read)", v)
	}
	return binary.LittleEndian.Uint16(rr.data[2:]), nil
}

func (w *Workbook) readGlobals() error {
	rr := newRecReader(w.stream, w.size, 0)
	if err := rr.read(); err != nil {
		if err == io.EOF {
			return errors.New("the Workbook stream is empty")
		}
		return err
	}
	if dt, err := checkBOF(rr); err != nil {
		return err
	} else if dt != 0x0005 {
		return fmt.Errorf("the Workbook stream starts with a BOF of type 0x%04X, not workbook globals", dt)
	}
	var scratch []byte
	for {
		if err := rr.read(); err != nil {
			if err == io.EOF {
				return errors.New("truncated: the workbook globals end without an EOF record")
			}
			return err
		}
		d := rr.data
		switch rr.typ {
		case recEOF:
			return nil
		case recFilePass:
			return errors.New("the workbook is encrypted (FILEPASS record): it cannot be read without its password")
		case recCodePage:
			if len(d) >= 2 {
				w.CodePage = int(binary.LittleEndian.Uint16(d))
			}
		case recDateMode:
			if len(d) >= 2 {
				w.Date1904 = binary.LittleEndian.Uint16(d) == 1
			}
		case recBoundSheet:
			if len(d) < 8 {
				return fmt.Errorf("offset %d: BOUNDSHEET record of %d bytes", rr.pos, len(d))
			}
			if len(w.sheets) >= 65536 {
				return errors.New("more than 65536 sheets")
			}
			cr := newContReader(rr, 6)
			var err error
			scratch, err = cr.unicodeString(scratch[:0], 1, 255*3)
			if err != nil {
				return fmt.Errorf("offset %d: sheet name: %v", rr.pos, err)
			}
			w.sheets = append(w.sheets, sheet{name: string(scratch), offset: int64(binary.LittleEndian.Uint32(d)), typ: d[5]})
		case recSST:
			if err := w.readSST(rr); err != nil {
				return fmt.Errorf("shared strings (SST at offset %d): %v", rr.pos, err)
			}
		}
	}
}

// readSST reads the shared-string table. Its declared count is not trusted for allocation: the
// strings actually present are read, and a count larger than what the records hold ends the
// table early (a LABELSST past the end is then reported where it is used).
func (w *Workbook) readSST(rr *recReader) error {
	if w.sst != nil {
		return errors.New("a second SST record")
	}
	if len(rr.data) < 8 {
		return fmt.Errorf("record of %d bytes", len(rr.data))
	}
	count := binary.LittleEndian.Uint32(rr.data[4:])
	w.sst = make([]string, 0, min(int(count), 1<<16))
	cr := newContReader(rr, 8)
	var scratch []byte
	for i := uint32(0); i < count; i++ {
		if len(cr.cur) == 0 {
			ok, err := cr.more()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			// No option byte at the start of a continuation that begins a new string.
		}
		var err error
		scratch, err = cr.unicodeString(scratch[:0], 2, w.lim.MaxCellBytes)
		if err != nil {
			return fmt.Errorf("string %d: %v", i, err)
		}
		// A string counts its text and its 16-byte header: a table of millions of empty
		// strings is bounded too.
		w.sstBytes += int64(len(scratch)) + 16
		if w.sstBytes > w.lim.MaxTotalBytes {
			return fmt.Errorf("the shared strings exceed the limit of %d bytes of text", w.lim.MaxTotalBytes)
		}
		w.sst = append(w.sst, string(scratch))
	}
	// Skip CONTINUE records left over (a count lower than the data).
	for {
		ok, err := cr.more()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
}

// rowWindow is how many rows Rows buffers before delivering the lowest. BIFF8 writers put cells
// in row order within blocks of 32 rows; the window lets cells of a block arrive in any order
// and still reach fn sorted, while memory stays bounded by the window.
const rowWindow = 64

// Rows calls fn once per non-empty row of sheet in row order, cells as display text ("" for
// empty), stopping at fn's error, which it returns unchanged. A row is non-empty when a cell
// has text; cells has one entry per column up to the row's last non-empty cell, and fn may
// keep it. Rows that arrive more than rowWindow rows out of order are an error.
func (w *Workbook) Rows(sheetName string, fn func(row int, cells []string) error) error {
	idx := slices.IndexFunc(w.sheets, func(s sheet) bool { return s.name == sheetName })
	if idx < 0 {
		return &Error{File: w.name, Sheet: sheetName, Row: -1, Reason: "no such sheet"}
	}
	s := w.sheets[idx]
	sr := &sheetReader{w: w, name: s.name, delivered: -1,
		budget: w.lim.MaxTotalBytes - w.sstBytes, fn: fn}
	err := sr.run(s)
	var fe fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// fnError carries fn's error through the reader untouched.
type fnError struct{ err error }

func (e fnError) Error() string { return e.err.Error() }

type pendingRow struct {
	row   int
	cells []string
}

type sheetReader struct {
	w         *Workbook
	name      string
	pending   []pendingRow // sorted by row, at most rowWindow
	delivered int          // highest row delivered to fn
	budget    int64
	fn        func(int, []string) error
	scratch   []byte
}

func (sr *sheetReader) fail(row int, format string, a ...any) error {
	return &Error{File: sr.w.name, Sheet: sr.name, Row: row, Reason: fmt.Sprintf(format, a...)}
}

func (sr *sheetReader) run(s sheet) error {
	if s.offset+4 > sr.w.size {
		return sr.fail(-1, "the sheet's offset %d is outside the Workbook stream (%d bytes)", s.offset, sr.w.size)
	}
	rr := newRecReader(sr.w.stream, s.end, s.offset)
	if err := rr.read(); err != nil {
		return sr.fail(-1, "%v", err)
	}
	dt, err := checkBOF(rr)
	if err != nil {
		return sr.fail(-1, "%v", err)
	}
	if dt == 0x0005 {
		return sr.fail(-1, "the sheet's offset %d points at the workbook globals", s.offset)
	}
	depth := 1
	strRow, strCol := -1, -1 // a formula whose string result follows in a STRING record
	for {
		if err := rr.read(); err != nil {
			if err == io.EOF {
				return sr.fail(-1, "truncated: no EOF record before offset %d (the next sheet or the end of the stream)", s.end)
			}
			return sr.fail(-1, "%v", err)
		}
		d := rr.data
		if depth > 1 {
			// Inside an embedded substream (a chart on the sheet): no cells of this sheet.
			switch rr.typ {
			case recBOF:
				if depth++; depth > 16 {
					return sr.fail(-1, "offset %d: substreams nested more than 16 deep", rr.pos)
				}
			case recEOF:
				depth--
			}
			continue
		}
		cell := func(minLen int) (int, int, error) {
			if len(d) < minLen {
				return 0, 0, sr.fail(-1, "offset %d: record 0x%04X of %d bytes, needs %d", rr.pos, rr.typ, len(d), minLen)
			}
			return int(binary.LittleEndian.Uint16(d)), int(binary.LittleEndian.Uint16(d[2:])), nil
		}
		switch rr.typ {
		case recNumber, recRK, recMulRK, recLabelSST, recLabel, recRString, recBoolErr, recBlank, recMulBlank:
			// A STRING record belongs to the formula right before it (SHRFMLA or ARRAY may sit
			// between them); after another cell it is stray.
			strRow, strCol = -1, -1
		}
		switch rr.typ {
		case recBOF:
			depth++
		case recEOF:
			return sr.flush(-1)
		case recDBCell:
			if err := sr.flush(-1); err != nil {
				return err
			}
		case recNumber:
			r, c, err := cell(14)
			if err != nil {
				return err
			}
			if err := sr.set(r, c, formatNumber(floatAt(d[6:]))); err != nil {
				return err
			}
		case recRK:
			r, c, err := cell(10)
			if err != nil {
				return err
			}
			if err := sr.set(r, c, formatNumber(rkValue(binary.LittleEndian.Uint32(d[6:])))); err != nil {
				return err
			}
		case recMulRK:
			r, c, err := cell(6)
			if err != nil {
				return err
			}
			for i := 4; i+6 <= len(d)-2; i += 6 {
				if err := sr.set(r, c, formatNumber(rkValue(binary.LittleEndian.Uint32(d[i+2:])))); err != nil {
					return err
				}
				c++
			}
		case recLabelSST:
			r, c, err := cell(10)
			if err != nil {
				return err
			}
			i := binary.LittleEndian.Uint32(d[6:])
			if uint64(i) >= uint64(len(sr.w.sst)) {
				return sr.fail(r, "column %d: shared string %d does not exist (the table has %d)", c, i, len(sr.w.sst))
			}
			if err := sr.set(r, c, sr.w.sst[i]); err != nil {
				return err
			}
		case recLabel, recRString:
			r, c, err := cell(8)
			if err != nil {
				return err
			}
			t, err := sr.inline(rr, 6, r, c)
			if err != nil {
				return err
			}
			if err := sr.set(r, c, t); err != nil {
				return err
			}
		case recBoolErr:
			r, c, err := cell(8)
			if err != nil {
				return err
			}
			t := boolText(d[6])
			if d[7] != 0 {
				t = errorText(d[6])
			}
			if err := sr.set(r, c, t); err != nil {
				return err
			}
		case recFormula:
			r, c, err := cell(20)
			if err != nil {
				return err
			}
			strRow, strCol = -1, -1
			var t string
			if d[12] == 0xFF && d[13] == 0xFF {
				switch d[6] {
				case 0:
					strRow, strCol = r, c
					continue
				case 1:
					t = boolText(d[8])
				case 2:
					t = errorText(d[8])
				}
			} else {
				t = formatNumber(floatAt(d[6:]))
			}
			if err := sr.set(r, c, t); err != nil {
				return err
			}
		case recString:
			if strRow < 0 {
				continue // a STRING record not after a string formula: nothing to attach it to
			}
			t, err := sr.inline(rr, 0, strRow, strCol)
			if err != nil {
				return err
			}
			if err := sr.set(strRow, strCol, t); err != nil {
				return err
			}
			strRow, strCol = -1, -1
		}
	}
}

func floatAt(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) }

// inline decodes a string stored in the cell record itself (LABEL, RSTRING, STRING), counting
// it against the Rows call's text budget.
func (sr *sheetReader) inline(rr *recReader, from, r, c int) (string, error) {
	cr := newContReader(rr, from)
	var err error
	sr.scratch, err = cr.unicodeString(sr.scratch[:0], 2, sr.w.lim.MaxCellBytes)
	if err != nil {
		return "", sr.fail(r, "column %d: %v", c, err)
	}
	if sr.budget -= int64(len(sr.scratch)); sr.budget < 0 {
		return "", sr.fail(r, "the workbook's text exceeds the limit of %d bytes", sr.w.lim.MaxTotalBytes)
	}
	return string(sr.scratch), nil
}

// set stores a cell's text in its pending row, delivering the lowest rows when the window is full.
func (sr *sheetReader) set(r, c int, text string) error {
	if r >= sr.w.lim.MaxRows {
		return sr.fail(r, "row index over the limit of %d rows", sr.w.lim.MaxRows)
	}
	if c >= sr.w.lim.MaxCols {
		return sr.fail(r, "column %d over the limit of %d columns", c, sr.w.lim.MaxCols)
	}
	if r <= sr.delivered {
		return sr.fail(r, "a cell (column %d) after row %d was delivered: rows more than %d out of order", c, sr.delivered, rowWindow)
	}
	// Cells come in row order almost always: the row is the last pending one or a new last.
	i := len(sr.pending)
	if i == 0 || sr.pending[i-1].row != r {
		i, _ = slices.BinarySearchFunc(sr.pending, r, func(p pendingRow, r int) int { return p.row - r })
	} else {
		i--
	}
	if i == len(sr.pending) || sr.pending[i].row != r {
		if text == "" {
			return nil
		}
		if len(sr.pending) >= rowWindow {
			if i == 0 {
				return sr.fail(r, "a cell (column %d) below all %d buffered rows: rows more than %d out of order", c, rowWindow, rowWindow)
			}
			if err := sr.flush(1); err != nil {
				return err
			}
			i--
		}
		sr.pending = slices.Insert(sr.pending, i, pendingRow{row: r})
	}
	p := &sr.pending[i]
	if c >= len(p.cells) {
		if text == "" {
			return nil
		}
		p.cells = append(p.cells, make([]string, c+1-len(p.cells))...)
	}
	p.cells[c] = text
	return nil
}

// flush delivers the n lowest pending rows in order, all of them when n is -1.
func (sr *sheetReader) flush(n int) error {
	if n < 0 || n > len(sr.pending) {
		n = len(sr.pending)
	}
	for _, p := range sr.pending[:n] {
		sr.delivered = p.row
		row := p.cells
		for len(row) > 0 && row[len(row)-1] == "" {
			row = row[:len(row)-1]
		}
		if len(row) == 0 {
			continue
		}
		if err := sr.fn(p.row, row); err != nil {
			return fnError{err}
		}
	}
	sr.pending = slices.Delete(sr.pending, 0, n)
	return nil
}
