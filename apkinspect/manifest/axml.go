package manifest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// The tolerant decoder reads binary XML the way the device does (ResXMLTree and ResXMLParser in
// frameworks/base libs/androidfw/ResourceTypes.cpp), not the way the file describes itself. Packers
// and hardeners write manifests that install and run but break parsers which trust the file:
//
//   - the file chunk's type is not RES_XML_TYPE (ResXMLTree::setTo never reads it);
//   - bytes appended after the declared document size (the device reads up to the declared size);
//   - chunks of unknown types between the real ones (skipped by their size);
//   - attribute names blanked or replaced, and attribute namespaces pointing at strings that no
//     namespace chunk declares: the framework identifies android: attributes by the resource id
//     the resource map gives for the name's string index, never by the name;
//   - header sizes larger than the structs (the extension starts at headerSize), attribute records
//     at any attributeStart and attributeSize;
//   - string pools after the first element (the device has already taken its pool; androidbinary
//     would switch to the decoy), odd byte offsets into UTF-16 pools (the device rounds down), and
//     attribute strings out of range or without their terminator (the device reads them as absent).
//
// Where the device refuses a file (chunks that overrun the document, misaligned chunk sizes, a
// string pool whose tables do not fit) the decoder refuses it too and says why. Every count is
// checked against the bytes that hold it before anything is allocated for it.

const (
	chunkXMLStartNS = 0x0100
	chunkXMLEndNS   = 0x0101
	chunkXMLEnd     = 0x0103
	chunkXMLFirst   = 0x0100
	chunkXMLLast    = 0x017f
	chunkXMLResMap  = 0x0180

	// maxAXMLAttributes bounds the attributes read over a whole document: attributeSize may be 0,
	// which makes 65535 attributes fit in 20 bytes.
	maxAXMLAttributes = 1 << 20
	// maxAXMLNotes bounds the oddities recorded per kind.
	maxAXMLNotes = 3

	noIndex = 0xffffffff
)

// Res_value data types (ResourceTypes.h).
const (
	typeNull      = 0x00
	typeReference = 0x01
	typeAttribute = 0x02
	typeString    = 0x03
	typeFloat     = 0x04
	typeIntDec    = 0x10
	typeIntHex    = 0x11
	typeIntBool   = 0x12
	typeColorLo   = 0x1c
	typeColorHi   = 0x1f
)

// androidAttrs names the framework attributes the manifest decoder reads, by resource id
// (android.R.attr; TestAttrIDsMatchAapt checks each one against `aapt dump xmltree`).
var androidAttrs = map[uint32]string{
	0x01010000: "theme",
	0x01010001: "label",
	0x01010002: "icon",
	0x01010003: "name",
	0x01010006: "permission",
	0x01010007: "readPermission",
	0x01010008: "writePermission",
	0x01010009: "protectionLevel",
	0x0101000b: "sharedUserId",
	0x0101000e: "enabled",
	0x0101000f: "debuggable",
	0x01010010: "exported",
	0x01010011: "process",
	0x01010018: "authorities",
	0x01010024: "value",
	0x01010025: "resource",
	0x01010202: "targetActivity",
	0x0101020c: "minSdkVersion",
	0x0101021b: "versionCode",
	0x0101021c: "versionName",
	0x01010270: "targetSdkVersion",
	0x01010271: "maxSdkVersion",
	0x01010280: "allowBackup",
	0x010102b7: "installLocation",
	0x010104ec: "usesCleartextTraffic",
	0x01010527: "networkSecurityConfig",
	0x0101057a: "appComponentFactory",
}

// axmlAttr is one attribute of a start element.
type axmlAttr struct {
	// Key is how the manifest decoder looks the attribute up: the framework name for a known
	// android attribute resource id, else the name string.
	Key   string
	NS    string // namespace URI string, "" when none or out of range
	Name  string // name string as the pool has it
	ResID uint32 // resource id from the resource map, 0 when none
	Value string // formatted as androidbinary formats it, so both decoders feed one reader
	// rank orders attributes that share a Key: the highest wins, the first among equals. The
	// device reads an android attribute by its id and package only without a namespace.
	rank int
}

// axmlEvent is a start element (Start true), an end element, or text.
type axmlEvent struct {
	Start bool
	End   bool
	Name  string
	Attrs []axmlAttr
	Text  string
}

// axmlDoc is a decoded binary XML document.
type axmlDoc struct {
	Events []axmlEvent
	// Notes are the oddities the device tolerates and the decoder met: the marks of a hardener.
	Notes []string
	// Truncated says why decoding stopped before the end of the document, "" when it did not.
	Truncated string
	noteCount map[string]int
}

func (d *axmlDoc) note(kind, format string, a ...any) {
	if d.noteCount == nil {
		d.noteCount = map[string]int{}
	}
	d.noteCount[kind]++
	if n := d.noteCount[kind]; n <= maxAXMLNotes {
		d.Notes = append(d.Notes, fmt.Sprintf(format, a...))
	} else if n == maxAXMLNotes+1 {
		d.Notes = append(d.Notes, kind+": more of the same not listed")
	}
}

// stringPool reads strings of a ResStringPool chunk on demand, as ResStringPool::stringAt does.
type stringPool struct {
	b        []byte // the pool's chunk
	entries  int    // offset of the string offset table in b
	count    uint32
	strings  int // offset of the string data in b
	poolSize int // in characters (bytes for UTF-8, uint16 for UTF-16)
	utf8     bool
	cache    map[uint32]string
	budget   *int // decoded bytes left for the whole document
	overrun  bool
}

// newStringPool applies ResStringPool::setTo's checks to the chunk b.
func newStringPool(b []byte, budget *int) (*stringPool, error) {
	if len(b) < 28 {
		return nil, fmt.Errorf("string pool of %d bytes, shorter than its header", len(b))
	}
	hdr := int(u16(b, 2))
	if hdr < 28 || hdr > len(b) {
		return nil, fmt.Errorf("string pool header size %d outside [28, %d]", hdr, len(b))
	}
	p := &stringPool{b: b, entries: hdr, count: u32(b, 8), utf8: u32(b, 16)&(1<<8) != 0, budget: budget, cache: map[uint32]string{}}
	nStyles, stringsStart, stylesStart := uint64(u32(b, 12)), uint64(u32(b, 20)), uint64(u32(b, 24))
	if p.count == 0 {
		return p, nil
	}
	if uint64(hdr)+4*uint64(p.count) > uint64(len(b)) {
		return nil, fmt.Errorf("string pool declares %d strings; their offsets do not fit in %d bytes", p.count, len(b))
	}
	if uint64(hdr)+4*(uint64(p.count)+nStyles) > uint64(len(b)) {
		return nil, fmt.Errorf("string pool declares %d styles; their offsets do not fit in %d bytes", nStyles, len(b))
	}
	if stringsStart >= uint64(len(b))-2 {
		return nil, fmt.Errorf("string data starts at %d, past the pool's %d bytes", stringsStart, len(b))
	}
	end := uint64(len(b))
	if nStyles > 0 {
		if stylesStart >= uint64(len(b))-2 || stylesStart <= stringsStart {
			return nil, fmt.Errorf("style data at %d is not between the string data at %d and the pool's end %d", stylesStart, stringsStart, len(b))
		}
		end = stylesStart
	}
	p.strings = int(stringsStart)
	char := uint64(2)
	if p.utf8 {
		char = 1
	}
	p.poolSize = int((end - stringsStart) / char)
	if p.poolSize == 0 {
		return nil, errors.New("string pool declares strings but holds no string data")
	}
	return p, nil
}

// get returns string i; ok is false when i is out of range or the string is malformed, which the
// device reads as "no string".
func (p *stringPool) get(i uint32) (s string, ok bool) {
	if p == nil || i >= p.count {
		return "", false
	}
	if s, ok := p.cache[i]; ok {
		return s, true
	}
	raw := int64(u32(p.b, p.entries+4*int(i)))
	var n int
	if p.utf8 {
		s, n, ok = p.utf8At(raw)
	} else {
		s, n, ok = p.utf16At(raw / 2)
	}
	if !ok {
		return "", false
	}
	if *p.budget -= n; *p.budget < 0 {
		p.overrun = true
		return "", false
	}
	p.cache[i] = s
	return s, true
}

func (p *stringPool) utf16At(off int64) (string, int, bool) {
	if off >= int64(p.poolSize-1) {
		return "", 0, false
	}
	at := func(k int64) uint16 { return u16(p.b, p.strings+2*int(k)) }
	n := int64(at(off))
	off++
	if n&0x8000 != 0 {
		n = (n&0x7fff)<<16 | int64(at(off))
		off++
	}
	if off+n >= int64(p.poolSize) || at(off+n) != 0 {
		// Past the pool, or not 0-terminated: stringAt returns NULL.
		return "", 0, false
	}
	units := make([]uint16, n)
	for k := range units {
		units[k] = at(off + int64(k))
	}
	return string(utf16.Decode(units)), int(2 * n), true
}

func (p *stringPool) utf8At(off int64) (string, int, bool) {
	size := int64(p.poolSize)
	if off >= size-1 {
		return "", 0, false
	}
	at := func(k int64) int64 { return int64(p.b[p.strings+int(k)]) }
	length := func() (int64, bool) {
		if off >= size {
			return 0, false
		}
		n := at(off)
		off++
		if n&0x80 != 0 {
			if off >= size {
				return 0, false
			}
			n = (n&0x7f)<<8 | at(off)
			off++
		}
		return n, true
	}
	if _, ok := length(); !ok { // UTF-16 length, unused
		return "", 0, false
	}
	n, ok := length()
	if !ok || off+n >= size || at(off+n) != 0 {
		return "", 0, false
	}
	b := p.b[p.strings+int(off) : p.strings+int(off+n)]
	if !utf8.Valid(b) {
		// The device decodes modified UTF-8 and replaces what it cannot; so does this.
		return string([]rune(string(b))), int(n), true
	}
	return string(b), int(n), true
}

// decodeAXML reads a binary XML document. It returns an error when the device would refuse the
// document before its first element; a fault after that ends decoding with Truncated set and the
// events read so far.
func decodeAXML(b []byte) (*axmlDoc, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%d bytes, shorter than a chunk header", len(b))
	}
	hdr, size := int(u16(b, 2)), int64(u32(b, 4))
	if hdr < 8 || int64(hdr) > size || size > int64(len(b)) {
		return nil, fmt.Errorf("document header size %d or total size %d does not fit in %d bytes", hdr, size, len(b))
	}
	d := &axmlDoc{}
	if typ := u16(b, 0); typ != chunkXML {
		d.note("file type", "document chunk type 0x%04x, not RES_XML_TYPE 0x0003 (the device does not check it)", typ)
	}
	if int64(len(b)) > size {
		d.note("appended", "%d bytes after the declared document size %d (the device ignores them)", int64(len(b))-size, size)
	}
	b = b[:size]
	budget := maxStringBytes
	var pool *stringPool
	var resIDs []byte
	off := hdr
	// Before the first element: string pool, resource map, anything else skipped (ResXMLTree::setTo).
	for {
		if off+8 > len(b) {
			return nil, errors.New("no element: the document ends before its first node")
		}
		typ, ch, cs, err := axmlChunk(b, off, 8)
		if err != nil {
			return nil, err
		}
		if typ >= chunkXMLFirst && typ <= chunkXMLLast {
			break
		}
		switch typ {
		case chunkStringPool:
			if pool != nil {
				d.note("pools", "more than one string pool before the first element; the device uses the last, at %d", off)
			}
			pool, err = newStringPool(b[off:off+cs], &budget)
			if err != nil {
				return nil, fmt.Errorf("chunk at %d: %v", off, err)
			}
		case chunkXMLResMap:
			resIDs = b[off+ch : off+cs]
		default:
			d.note("unknown chunk", "chunk of unknown type 0x%04x at %d skipped", typ, off)
		}
		off += cs
	}
	if pool == nil {
		return nil, errors.New("no string pool before the first element")
	}
	str := func(i uint32) string {
		s, _ := pool.get(i)
		return s
	}
	resID := func(name uint32) uint32 {
		if uint64(name) < uint64(len(resIDs)/4) {
			return u32(resIDs, 4*int(name))
		}
		return 0
	}
	attrs, elements, depth := 0, 0, 0
	stop := func(format string, a ...any) {
		d.Truncated = fmt.Sprintf("at %d: ", off) + fmt.Sprintf(format, a...)
	}
	// From the first element on: nodes only (ResXMLParser::nextNode).
	for off+8 <= len(b) {
		typ, ch, cs, err := axmlChunk(b, off, 16)
		if err != nil {
			stop("%v", err)
			break
		}
		ext, extLen := off+ch, cs-ch
		need := map[uint16]int{chunkXMLStartNS: 8, chunkXMLEndNS: 8, chunkXMLStart: 20, chunkXMLEnd: 8, chunkXMLCData: 12}[typ]
		if need == 0 {
			if typ == chunkStringPool {
				d.note("late pool", "string pool at %d after the first element (the device ignores it)", off)
			} else {
				d.note("unknown chunk", "chunk of unknown type 0x%04x at %d skipped", typ, off)
			}
			off += cs
			continue
		}
		if extLen < need {
			stop("node type 0x%04x of %d bytes has no room for its %d-byte extension", typ, cs, need)
			break
		}
		switch typ {
		case chunkXMLStart:
			elements++
			depth++
			if elements > maxElements || depth > maxDepth {
				stop("more than %d elements or deeper than %d", maxElements, maxDepth)
				break
			}
			start, asize, count := int(u16(b, ext+8)), int(u16(b, ext+10)), int(u16(b, ext+12))
			if start+asize*count > extLen {
				stop("%d attributes of %d bytes at %d overrun the element's %d bytes", count, asize, start, extLen)
				break
			}
			if attrs += count; attrs > maxAXMLAttributes {
				stop("more than %d attributes", maxAXMLAttributes)
				break
			}
			name, ok := pool.get(u32(b, ext+4))
			if !ok {
				// PackageParser dereferences the element name: the device refuses the file.
				stop("element name string %d unreadable", u32(b, ext+4))
				break
			}
			ev := axmlEvent{Start: true, Name: name}
			for i := 0; i < count; i++ {
				a := ext + start + i*asize
				if a+20 > len(b) {
					stop("attribute %d of element %q past the document end", i, ev.Name)
					break
				}
				ev.Attrs = append(ev.Attrs, d.attr(b[a:a+20], pool, resID, ev.Name))
			}
			if d.Truncated == "" {
				d.Events = append(d.Events, ev)
			}
		case chunkXMLEnd:
			depth--
			d.Events = append(d.Events, axmlEvent{End: true, Name: str(u32(b, ext+4))})
		case chunkXMLCData:
			d.Events = append(d.Events, axmlEvent{Text: str(u32(b, ext))})
		case chunkXMLStartNS, chunkXMLEndNS:
			// Namespaces play no part: attributes are identified by resource id, or by a name
			// the device compares without its namespace prefix.
		}
		if d.Truncated != "" {
			break
		}
		off += cs
	}
	if pool.overrun {
		return nil, fmt.Errorf("strings decode to more than %d bytes", maxStringBytes)
	}
	return d, nil
}

// axmlChunk applies validate_chunk: header at least minHdr, chunk at least its header, both
// 4-aligned, inside the document.
func axmlChunk(b []byte, off, minHdr int) (typ uint16, hdr, size int, err error) {
	if off+8 > len(b) {
		return 0, 0, 0, fmt.Errorf("chunk header at %d past the document end %d", off, len(b))
	}
	typ, hdr, size = u16(b, off), int(u16(b, off+2)), int(u32(b, off+4))
	switch {
	case hdr < minHdr || size < hdr:
		return 0, 0, 0, fmt.Errorf("chunk 0x%04x at %d: header size %d, chunk size %d", typ, off, hdr, size)
	case (hdr|size)&3 != 0:
		return 0, 0, 0, fmt.Errorf("chunk 0x%04x at %d: header size %d or chunk size %d not a multiple of 4", typ, off, hdr, size)
	case size > len(b)-off:
		return 0, 0, 0, fmt.Errorf("chunk 0x%04x at %d: %d bytes overrun the document end %d", typ, off, size, len(b))
	}
	return typ, hdr, size, nil
}

// attr reads a ResXMLTree_attribute: ns, name, rawValue (string indexes), then Res_value
// {size u16, res0 u8, dataType u8, data u32}. An android attribute is read by the framework through
// TypedArray, which takes the typed value (a string by its index in data); any other attribute
// (package) through XmlPullParser.getAttributeValue, which takes the raw string first. A file whose
// raw and typed strings differ shows one value to aapt and another to the device: noted.
func (d *axmlDoc) attr(r []byte, pool *stringPool, resID func(uint32) uint32, element string) axmlAttr {
	str := func(i uint32) string { s, _ := pool.get(i); return s }
	nameIdx := u32(r, 4)
	a := axmlAttr{NS: str(u32(r, 0)), Name: str(nameIdx), ResID: resID(nameIdx)}
	a.Key, a.rank = a.Name, 1
	if a.NS == "" {
		a.rank = 2
	}
	known, android := androidAttrs[a.ResID]
	if android {
		a.Key, a.rank = known, 3
		if a.Name != known {
			d.note("attr name", "<%s> attribute named %q has the resource id of android:%s (0x%08x); read by its id, as the device does", element, a.Name, known, a.ResID)
		}
	}
	typ, data := r[15], u32(r, 16)
	raw, hasRaw := pool.get(u32(r, 8))
	typed := formatTyped(typ, data)
	if typ == typeString {
		typed, _ = pool.get(data)
	}
	if hasRaw && typ != typeNull && raw != typed && (typ == typeString || android) {
		d.note("raw value", "<%s> %s: raw string %q differs from the typed value %q; the device reads the %s one", element, a.Key, raw,
			typed, map[bool]string{true: "typed", false: "raw"}[android])
	}
	switch {
	case android && typ != typeNull, !hasRaw:
		a.Value = typed
	default:
		a.Value = raw
	}
	return a
}

// formatTyped renders a typed value the way androidbinary does for the types the manifest reader
// interprets (references as "@0x%08X", integers, booleans) and keeps every other type visibly raw.
func formatTyped(typ uint8, data uint32) string {
	switch {
	case typ == typeNull:
		return ""
	case typ == typeReference:
		return fmt.Sprintf("@0x%08X", data)
	case typ == typeAttribute:
		return fmt.Sprintf("?0x%08X", data)
	case typ == typeIntDec:
		return strconv.FormatInt(int64(int32(data)), 10)
	case typ == typeIntHex:
		return fmt.Sprintf("0x%08X", data)
	case typ == typeIntBool:
		return strconv.FormatBool(data != 0)
	case typ == typeFloat:
		return strconv.FormatFloat(float64(math.Float32frombits(data)), 'g', -1, 32)
	case typ >= typeColorLo && typ <= typeColorHi:
		return fmt.Sprintf("#%08X", data)
	}
	return fmt.Sprintf("(type 0x%02x)0x%08X", typ, data)
}

// disagreement lists the facts findings rest on that a and b read differently, "" when none:
// identity, SDK levels, requested permissions, components and the application flags. Components
// are compared with their actions, so a set holds no commas of its own.
func disagreement(a, b *Manifest) string {
	var d []string
	diff := func(what string, x, y any) {
		if x != y && len(d) < 6 {
			d = append(d, fmt.Sprintf("%s %q vs %q", what, fmt.Sprint(x), fmt.Sprint(y)))
		}
	}
	diff("package", a.Package, b.Package)
	diff("versionCode", a.VersionCode, b.VersionCode)
	diff("versionName", a.VersionName, b.VersionName)
	diff("minSdkVersion", a.MinSDK, b.MinSDK)
	diff("targetSdkVersion", a.TargetSDK, b.TargetSDK)
	setDiff := func(what, x, y string) {
		if x == y || len(d) >= 6 {
			return
		}
		only := func(p, q string) []string {
			in := map[string]bool{}
			for _, s := range strings.Split(q, ",") {
				in[s] = true
			}
			var out []string
			for _, s := range strings.Split(p, ",") {
				if !in[s] && len(out) < 3 {
					out = append(out, s)
				}
			}
			return out
		}
		d = append(d, fmt.Sprintf("%s: only in the first reading %q, only in the second %q", what, only(x, y), only(y, x)))
	}
	setDiff("permissions", permSet(a), permSet(b))
	setDiff("components", compSet(a), compSet(b))
	diff("debuggable", a.Debuggable, b.Debuggable)
	diff("allowBackup", a.AllowBackup, b.AllowBackup)
	diff("usesCleartextTraffic", a.CleartextTraffic, b.CleartextTraffic)
	return strings.Join(d, "; ")
}

func permSet(m *Manifest) string {
	var s []string
	for _, p := range m.Permissions {
		s = append(s, p.Element+":"+p.Name+":"+strconv.Itoa(p.MaxSDK))
	}
	sort.Strings(s)
	return strings.Join(slices.Compact(s), ",")
}

func compSet(m *Manifest) string {
	var s []string
	for _, c := range m.Components {
		s = append(s, fmt.Sprintf("%s:%s:%t:%t:%s:%v", c.Type, c.Name, c.Exported, c.Explicit, c.Permission, c.Actions))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}
