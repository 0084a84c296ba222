package xls

import (
	"encoding/binary"
	"math"
	"unicode/utf16"
)

// Test-side writers: a BIFF8 stream builder and a CFB container writer, so that hostile and
// edge-case files (mini stream, version 4, formulas with string results, MULRK, CONTINUE splits
// at chosen points) are built without Python, and the fuzz seeds come from them. Where Python's
// xlrd is installed the tests also read these files with it, which checks the writers themselves.

type tcell struct {
	row, col int
	kind     string // "sst", "label", "num", "rk", "bool", "err", "fstr", "fnum", "blank"
	s        string
	f        float64
	rk       uint32
	b        byte
}

type tsheet struct {
	name  string
	cells []tcell
	mulrk *[3]int // row, first col, count: a MULRK of integers col*10
	chart bool    // an embedded chart substream (BOF … EOF) among the cells, with a NUMBER inside
}

func rec(typ uint16, data []byte) []byte {
	out := binary.LittleEndian.AppendUint16(nil, typ)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(data)))
	return append(out, data...)
}

func u16(v int) []byte { return binary.LittleEndian.AppendUint16(nil, uint16(v)) }
func u32(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(v)) }

// xlString encodes s as BIFF8 character data with its option byte: compressed when every
// character fits in one byte, UTF-16LE otherwise. It returns the option byte and the units.
func xlString(s string) (high bool, units []uint16) {
	units = utf16.Encode([]rune(s))
	for _, u := range units {
		if u > 0xFF {
			return true, units
		}
	}
	return false, units
}

func charBytes(high bool, units []uint16) []byte {
	var b []byte
	for _, u := range units {
		if high {
			b = binary.LittleEndian.AppendUint16(b, u)
		} else {
			b = append(b, byte(u))
		}
	}
	return b
}

func plainString(s string) []byte {
	high, units := xlString(s)
	b := u16(len(units))
	if high {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return append(b, charBytes(high, units)...)
}

// sstRecords writes the SST with CONTINUE records of at most chunk bytes of data, splitting
// character data mid-string (with the new option byte) the way Excel and xlwt do. Every other
// string gets a rich-text run and phonetic data to skip.
func sstRecords(strs []string, chunk int) []byte {
	var recs [][]byte
	cur := append(u32(len(strs)), u32(len(strs))...)
	flush := func() { recs = append(recs, cur); cur = nil }
	room := func() int { return chunk - len(cur) }
	for i, s := range strs {
		high, units := xlString(s)
		rich, ext := i%2 == 1, i%4 == 1
		hdr := u16(len(units))
		var opt byte
		if high {
			opt |= 1
		}
		if rich {
			opt |= 8
		}
		if ext {
			opt |= 4
		}
		hdr = append(hdr, opt)
		if rich {
			hdr = append(hdr, u16(1)...)
		}
		if ext {
			hdr = append(hdr, u32(6)...)
		}
		if room() < len(hdr)+2 {
			flush()
		}
		cur = append(cur, hdr...)
		w := 1
		if high {
			w = 2
		}
		for len(units) > 0 {
			n := min(len(units), room()/w)
			if n == 0 {
				flush()
				if high {
					cur = append(cur, 1)
				} else {
					cur = append(cur, 0)
				}
				continue
			}
			cur = append(cur, charBytes(high, units[:n])...)
			units = units[n:]
		}
		var tail []byte
		if rich {
			tail = append(tail, 0, 0, 1, 0) // run: first char 0, font 1
		}
		if ext {
			tail = append(tail, 1, 2, 3, 4, 5, 6)
		}
		for len(tail) > 0 { // runs and phonetic data continue raw, no option byte
			if room() == 0 {
				flush()
			}
			n := min(len(tail), room())
			cur = append(cur, tail[:n]...)
			tail = tail[n:]
		}
	}
	flush()
	var out []byte
	for i, r := range recs {
		t := uint16(recContinue)
		if i == 0 {
			t = recSST
		}
		out = append(out, rec(t, r)...)
	}
	return out
}

// buildBIFF writes a BIFF8 Workbook stream: globals (BOF, CODEPAGE, BOUNDSHEETs, SST, EOF) and
// one substream per sheet. Strings of "sst" cells go into the SST in order of appearance.
func buildBIFF(sheets []tsheet, chunk int) []byte {
	var strs []string
	idx := map[string]int{}
	for _, sh := range sheets {
		for _, c := range sh.cells {
			if c.kind == "sst" {
				if _, ok := idx[c.s]; !ok {
					idx[c.s] = len(strs)
					strs = append(strs, c.s)
				}
			}
		}
	}
	bof := func(dt int) []byte {
		return rec(recBOF, append(append(u16(0x0600), u16(dt)...), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
	}
	var subs [][]byte
	for _, sh := range sheets {
		s := bof(0x10)
		s = append(s, rec(recDimensions, make([]byte, 14))...)
		if sh.chart {
			s = append(s, bof(0x20)...)
			s = append(s, rec(recNumber, append(append(u16(0), u16(0)...), 15, 0, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F))...)
			s = append(s, rec(recEOF, nil)...)
		}
		for _, c := range sh.cells {
			rc := append(u16(c.row), u16(c.col)...)
			rc = append(rc, u16(15)...)
			f64 := binary.LittleEndian.AppendUint64(nil, math.Float64bits(c.f))
			switch c.kind {
			case "sst":
				s = append(s, rec(recLabelSST, append(rc, u32(idx[c.s])...))...)
			case "label":
				s = append(s, rec(recLabel, append(rc, plainString(c.s)...))...)
			case "num":
				s = append(s, rec(recNumber, append(rc, f64...))...)
			case "rk":
				s = append(s, rec(recRK, append(rc, u32(int(c.rk))...))...)
			case "bool", "err":
				e := byte(0)
				if c.kind == "err" {
					e = 1
				}
				s = append(s, rec(recBoolErr, append(rc, c.b, e))...)
			case "blank":
				s = append(s, rec(recBlank, rc)...)
			case "fnum", "fstr":
				res := f64
				if c.kind == "fstr" {
					res = []byte{0, 0, 0, 0, 0, 0, 0xFF, 0xFF}
				}
				// result, flags, chn, then the formula 1+2 in RPN (tInt 1, tInt 2, tAdd).
				d := append(append(rc, res...), 0, 0, 0, 0, 0, 0)
				d = append(d, u16(7)...)
				d = append(d, 0x1E, 1, 0, 0x1E, 2, 0, 0x03)
				s = append(s, rec(recFormula, d)...)
				if c.kind == "fstr" {
					s = append(s, rec(recString, plainString(c.s))...)
				}
			}
		}
		if m := sh.mulrk; m != nil {
			d := append(u16(m[0]), u16(m[1])...)
			for i := 0; i < m[2]; i++ {
				d = append(d, u16(15)...)
				d = append(d, u32(((m[1]+i)*10)<<2|2)...)
			}
			d = append(d, u16(m[1]+m[2]-1)...)
			s = append(s, rec(recMulRK, d)...)
		}
		s = append(s, rec(recEOF, nil)...)
		subs = append(subs, s)
	}
	glob := bof(0x05)
	glob = append(glob, rec(recCodePage, u16(1200))...)
	for i := 0; i < 16; i++ { // Excel's 15 style XFs and the default cell XF; xlrd wants them
		xf := make([]byte, 20)
		if i < 15 {
			xf[4] = 0xF5 // style XF
		}
		glob = append(glob, rec(0x00E0, xf)...)
	}
	var bsPos []int
	for _, sh := range sheets {
		bsPos = append(bsPos, len(glob)+4)
		high, units := xlString(sh.name)
		d := append(u32(0), 0, 0, byte(len(units)))
		if high {
			d = append(d, 1)
		} else {
			d = append(d, 0)
		}
		glob = append(glob, rec(recBoundSheet, append(d, charBytes(high, units)...))...)
	}
	if len(strs) > 0 {
		glob = append(glob, sstRecords(strs, chunk)...)
	}
	glob = append(glob, rec(recEOF, nil)...)
	off := len(glob)
	for i, s := range subs {
		binary.LittleEndian.PutUint32(glob[bsPos[i]:], uint32(off))
		off += len(s)
	}
	out := glob
	for _, s := range subs {
		out = append(out, s...)
	}
	return out
}

// writeCFB wraps a Workbook stream in a compound file: version 3 (512-byte sectors) or 4
// (4096), the stream in the mini stream when it is under 4096 bytes, FAT sectors beyond the
// header's 109 listed in DIFAT sectors.
func writeCFB(stream []byte, v4 bool) []byte {
	ss := 512
	if v4 {
		ss = 4096
	}
	per := ss / 4
	mini := len(stream) < 4096
	secs := func(n int) int { return (n + ss - 1) / ss }
	var miniFATSecs, dataSecs int
	if mini {
		nm := (len(stream) + 63) / 64
		miniFATSecs = secs(nm * 4)
		dataSecs = secs(nm * 64)
	} else {
		dataSecs = secs(len(stream))
	}
	fixed := 1 + miniFATSecs + dataSecs // directory + mini FAT + data
	nFAT, nDIF := 0, 0
	for {
		total := fixed + nFAT + nDIF
		f := (total + per - 1) / per
		d := 0
		if f > 109 {
			d = (f - 109 + per - 2) / (per - 1)
		}
		if f == nFAT && d == nDIF {
			break
		}
		nFAT, nDIF = f, d
	}
	// Sector layout: FAT, DIFAT, directory, mini FAT, data.
	fatAt, difAt := 0, nFAT
	dirAt := difAt + nDIF
	mfAt := dirAt + 1
	dataAt := mfAt + miniFATSecs
	total := dataAt + dataSecs
	fat := make([]uint32, nFAT*per)
	for i := range fat {
		fat[i] = secFree
	}
	for i := 0; i < nFAT; i++ {
		fat[fatAt+i] = secFAT
	}
	for i := 0; i < nDIF; i++ {
		fat[difAt+i] = secDIFAT
	}
	chainAt := func(start, n int) {
		for i := 0; i < n; i++ {
			fat[start+i] = uint32(start + i + 1)
		}
		fat[start+n-1] = secEnd
	}
	chainAt(dirAt, 1)
	if miniFATSecs > 0 {
		chainAt(mfAt, miniFATSecs)
	}
	chainAt(dataAt, dataSecs)

	out := make([]byte, (1+total)*ss)
	le := binary.LittleEndian
	h := out[:512]
	copy(h, cfbMagic)
	le.PutUint16(h[24:], 0x3E)
	le.PutUint16(h[26:], 3)
	le.PutUint16(h[30:], 9)
	if v4 {
		le.PutUint16(h[26:], 4)
		le.PutUint16(h[30:], 12)
		le.PutUint32(h[40:], 1) // directory sectors (version 4 only)
	}
	le.PutUint16(h[28:], 0xFFFE)
	le.PutUint16(h[32:], 6)
	le.PutUint32(h[44:], uint32(nFAT))
	le.PutUint32(h[48:], uint32(dirAt))
	le.PutUint32(h[56:], 4096)
	le.PutUint32(h[60:], secEnd)
	if miniFATSecs > 0 {
		le.PutUint32(h[60:], uint32(mfAt))
	}
	le.PutUint32(h[64:], uint32(miniFATSecs))
	le.PutUint32(h[68:], secEnd)
	if nDIF > 0 {
		le.PutUint32(h[68:], uint32(difAt))
	}
	le.PutUint32(h[72:], uint32(nDIF))
	for i := 0; i < 109; i++ {
		v := uint32(secFree)
		if i < nFAT {
			v = uint32(fatAt + i)
		}
		le.PutUint32(h[76+4*i:], v)
	}
	sec := func(i int) []byte { return out[(1+i)*ss : (2+i)*ss] }
	for i := 0; i < nFAT; i++ {
		for j := 0; j < per; j++ {
			le.PutUint32(sec(fatAt + i)[4*j:], fat[i*per+j])
		}
	}
	next := 109
	for i := 0; i < nDIF; i++ {
		s := sec(difAt + i)
		for j := 0; j < per-1; j++ {
			v := uint32(secFree)
			if next < nFAT {
				v = uint32(fatAt + next)
			}
			next++
			le.PutUint32(s[4*j:], v)
		}
		last := uint32(secEnd)
		if i+1 < nDIF {
			last = uint32(difAt + i + 1)
		}
		le.PutUint32(s[4*(per-1):], last)
	}
	dir := sec(dirAt)
	entry := func(i int, name string, typ byte, child, start uint32, size int) {
		e := dir[i*128 : (i+1)*128]
		u := utf16.Encode([]rune(name))
		for j, c := range u {
			le.PutUint16(e[2*j:], c)
		}
		le.PutUint16(e[64:], uint16(2*len(u)+2))
		e[66] = typ
		e[67] = 1
		le.PutUint32(e[68:], noStream)
		le.PutUint32(e[72:], noStream)
		le.PutUint32(e[76:], child)
		le.PutUint32(e[116:], start)
		le.PutUint64(e[120:], uint64(size))
	}
	for i := 0; i < ss/128; i++ {
		entry(i, "", 0, noStream, 0, 0)
	}
	if mini {
		nm := (len(stream) + 63) / 64
		entry(0, "Root Entry", 5, 1, uint32(dataAt), nm*64)
		entry(1, "Workbook", 2, noStream, 0, len(stream))
		mf := make([]uint32, miniFATSecs*per)
		for i := range mf {
			mf[i] = secFree
		}
		for i := 0; i < nm; i++ {
			mf[i] = uint32(i + 1)
		}
		mf[nm-1] = secEnd
		for i, v := range mf {
			le.PutUint32(out[(1+mfAt)*ss+4*i:], v)
		}
	} else {
		entry(0, "Root Entry", 5, 1, secEnd, 0)
		entry(1, "Workbook", 2, noStream, uint32(dataAt), len(stream))
	}
	copy(out[(1+dataAt)*ss:], stream)
	return out
}
