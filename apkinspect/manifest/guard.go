package manifest

import (
	"encoding/binary"
	"fmt"
)

// androidbinary trusts the counts and offsets of a chunked resource file: a string pool may
// declare 4 billion strings, a table chunk of size 0 loops forever, a start element may declare
// 65535 attributes that lie past the end of the file. validate walks the same chunks first and
// refuses anything the library would read out of bounds or without end, so the library only ever
// sees structurally sane input.

const (
	chunkStringPool = 0x0001
	chunkTable      = 0x0002
	chunkXML        = 0x0003
	chunkXMLStart   = 0x0102
	chunkPackage    = 0x0200
	chunkType       = 0x0201
	chunkTypeSpec   = 0x0202

	maxChunks      = 1 << 20
	maxStringBytes = 64 << 20 // decoded bytes over all string pools of one file
)

type guard struct {
	b       []byte
	chunks  int
	strings int64
	locales map[string]bool
}

func u16(b []byte, off int) uint16 { return binary.LittleEndian.Uint16(b[off:]) }
func u32(b []byte, off int) uint32 { return binary.LittleEndian.Uint32(b[off:]) }

// chunk reads the header of the chunk at off, which must lie within [off, end).
func (g *guard) chunk(off, end int) (typ uint16, hdr, size int, err error) {
	if off < 0 || off+8 > end {
		return 0, 0, 0, fmt.Errorf("chunk header at %d past end %d", off, end)
	}
	typ, hdr, size = u16(g.b, off), int(u16(g.b, off+2)), int(u32(g.b, off+4))
	if hdr < 8 || size < hdr || size > end-off {
		return 0, 0, 0, fmt.Errorf("chunk 0x%04x at %d: header %d, size %d do not fit in %d bytes", typ, off, hdr, size, end-off)
	}
	g.chunks++
	if g.chunks > maxChunks {
		return 0, 0, 0, fmt.Errorf("more than %d chunks", maxChunks)
	}
	return typ, hdr, size, nil
}

// validateXML checks a binary XML file (AndroidManifest.xml or res/xml/*).
func validateXML(b []byte) error {
	g := &guard{b: b}
	typ, hdr, size, err := g.chunk(0, len(b))
	if err != nil {
		return err
	}
	if typ != chunkXML {
		return fmt.Errorf("not binary XML (chunk type 0x%04x)", typ)
	}
	for off := hdr; off < size; {
		ct, ch, cs, err := g.chunk(off, size)
		if err != nil {
			return err
		}
		switch ct {
		case chunkStringPool:
			if err := g.pool(off, cs); err != nil {
				return err
			}
		case chunkXMLStart:
			// ResXMLTreeNode (16) then ResXMLTreeAttrExt (20) at the header's end.
			ext := off + ch
			if ch < 16 || ext+20 > off+cs {
				return fmt.Errorf("start element at %d too short", off)
			}
			start, asize, count := int(u16(b, ext+8)), int(u16(b, ext+10)), int(u16(b, ext+12))
			if count > 0 && (asize < 20 || ch+start+count*asize > cs) {
				return fmt.Errorf("start element at %d: %d attributes of %d bytes at %d overrun the chunk", off, count, asize, start)
			}
		}
		off += cs
	}
	return nil
}

// validateTable checks resources.arsc and collects the locales its type chunks name.
func validateTable(b []byte) (locales map[string]bool, err error) {
	g := &guard{b: b, locales: map[string]bool{}}
	typ, hdr, size, err := g.chunk(0, len(b))
	if err != nil {
		return nil, err
	}
	if typ != chunkTable || hdr < 12 {
		return nil, fmt.Errorf("not a resource table (chunk type 0x%04x)", typ)
	}
	for off := hdr; off < size; {
		ct, _, cs, err := g.chunk(off, size)
		if err != nil {
			return nil, err
		}
		switch ct {
		case chunkStringPool:
			err = g.pool(off, cs)
		case chunkPackage:
			err = g.pkg(off, cs)
		}
		if err != nil {
			return nil, err
		}
		off += cs
	}
	return g.locales, nil
}

func (g *guard) pkg(off, size int) error {
	const pkgHdr = 288 // ResTablePackage as androidbinary reads it
	if size < pkgHdr {
		return fmt.Errorf("package chunk at %d shorter than its header", off)
	}
	hdr := int(u16(g.b, off+2))
	for _, rel := range []int{int(u32(g.b, off+268)), int(u32(g.b, off+276))} {
		if rel <= 0 || rel >= size {
			return fmt.Errorf("package chunk at %d: string pool offset %d out of range", off, rel)
		}
		_, _, ps, err := g.chunk(off+rel, off+size)
		if err != nil {
			return err
		}
		if err := g.pool(off+rel, ps); err != nil {
			return err
		}
	}
	for c := off + hdr; c < off+size; {
		ct, ch, cs, err := g.chunk(c, off+size)
		if err != nil {
			return err
		}
		switch ct {
		case chunkType:
			if ch < 20 {
				return fmt.Errorf("type chunk at %d: header %d too short", c, ch)
			}
			count, entries := int(u32(g.b, c+12)), int(u32(g.b, c+16))
			if count > (cs-ch)/4 {
				return fmt.Errorf("type chunk at %d: %d entries do not fit", c, count)
			}
			if entries > cs {
				return fmt.Errorf("type chunk at %d: entries start %d past its end", c, entries)
			}
			for i := 0; i < count; i++ {
				idx := u32(g.b, c+ch+4*i)
				if idx == 0xffffffff {
					continue
				}
				if uint64(entries)+uint64(idx)+16 > uint64(cs) {
					return fmt.Errorf("type chunk at %d: entry %d at %d past its end", c, i, idx)
				}
			}
			if ch >= 20+12 {
				lang, country := g.b[c+28:c+30], g.b[c+30:c+32]
				if lang[0] >= 'a' && lang[0] <= 'z' && lang[1] >= 'a' && lang[1] <= 'z' {
					loc := string(lang)
					if country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' && country[1] <= 'Z' {
						loc += "-" + string(country)
					}
					g.locales[loc] = true
				}
			}
		case chunkTypeSpec:
			if ch < 16 || int(u32(g.b, c+12)) > (cs-ch)/4 {
				return fmt.Errorf("type spec chunk at %d: entry count does not fit", c)
			}
		}
		c += cs
	}
	return nil
}

// pool checks a ResStringPool chunk: offset tables inside the chunk, every string inside the
// file (where androidbinary reads it), total decoded size bounded.
func (g *guard) pool(off, size int) error {
	if size < 28 {
		return fmt.Errorf("string pool at %d shorter than its header", off)
	}
	hdr := int(u16(g.b, off+2))
	nStr, nSty := uint64(u32(g.b, off+8)), uint64(u32(g.b, off+12))
	flags, strStart := u32(g.b, off+16), uint64(u32(g.b, off+20))
	if uint64(hdr)+4*(nStr+nSty) > uint64(size) {
		return fmt.Errorf("string pool at %d: %d strings and %d styles do not fit in %d bytes", off, nStr, nSty, size)
	}
	if nSty > 0 {
		sty := uint64(u32(g.b, off+24))
		for i := uint64(0); i < nSty; i++ {
			s := uint64(u32(g.b, off+hdr+int(4*(nStr+i))))
			if uint64(off)+sty+s+8 > uint64(len(g.b)) {
				return fmt.Errorf("string pool at %d: style %d out of range", off, i)
			}
		}
	}
	utf8 := flags&(1<<8) != 0
	for i := uint64(0); i < nStr; i++ {
		s := uint64(u32(g.b, off+hdr+int(4*i)))
		p := uint64(off) + strStart + s
		n, err := g.strLen(p, utf8)
		if err != nil {
			return fmt.Errorf("string pool at %d: string %d: %v", off, i, err)
		}
		g.strings += int64(n)
		if g.strings > maxStringBytes {
			return fmt.Errorf("string pools decode to more than %d bytes", maxStringBytes)
		}
	}
	return nil
}

// strLen returns the byte length of the string at p, checked against the file end.
func (g *guard) strLen(p uint64, utf8 bool) (int, error) {
	end := uint64(len(g.b))
	if utf8 {
		q := p
		for k := 0; k < 2; k++ { // UTF-16 length, then UTF-8 length
			if q+1 > end {
				return 0, fmt.Errorf("at %d past end", p)
			}
			n := uint64(g.b[q])
			q++
			if n&0x80 != 0 {
				if q+1 > end {
					return 0, fmt.Errorf("at %d past end", p)
				}
				n = (n&0x7f)<<8 | uint64(g.b[q])
				q++
			}
			if k == 1 {
				if q+n > end {
					return 0, fmt.Errorf("at %d: %d bytes past end", p, n)
				}
				return int(n), nil
			}
		}
	}
	if p+2 > end {
		return 0, fmt.Errorf("at %d past end", p)
	}
	n := uint64(u16(g.b, int(p)))
	q := p + 2
	if n&0x8000 != 0 {
		if q+2 > end {
			return 0, fmt.Errorf("at %d past end", p)
		}
		n = (n&0x7fff)<<16 | uint64(u16(g.b, int(q)))
		q += 2
	}
	if q+2*n > end {
		return 0, fmt.Errorf("at %d: %d UTF-16 units past end", p, n)
	}
	return int(2 * n), nil
}
