// Package dex indexes Dalvik executables (classes*.dex) for one purpose: which class calls which
// method or reads which field, and which string constants the code loads. It is written from
// the documented format (source.android.com/docs/core/runtime/dex-format) and treats every file
// as hostile: each table, offset and count is checked against the file before use, allocations
// are bounded by the file size and explicit limits, the instruction walk knows the width of every
// opcode (payload pseudo-instructions included) so it never desynchronises, and each code item is
// walked once however many classes point at it.
package dex

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits bound one dex file.
type Limits struct {
	MaxSize    int64 // bytes
	MaxStrings int
	MaxClasses int
	MaxRefs    int // recorded references (invokes + field reads + string loads) over the file
}

// DefaultLimits fit the largest real dex files (a dex holds at most 65536 methods; big apps stay
// under 20 MiB per dex).
func DefaultLimits() Limits {
	return Limits{MaxSize: 128 << 20, MaxStrings: 1 << 22, MaxClasses: 1 << 18, MaxRefs: 1 << 24}
}

// RefKind says what an instruction referenced.
type RefKind uint8

const (
	Invoke      RefKind = iota + 1 // invoke-* of a method
	FieldRead                      // sget-* / iget-* of a field
	StringConst                    // const-string(/jumbo)
	// The call graph's kinds: a class is initialised (its <clinit> runs) when it is instantiated,
	// a static method of it is called or a static field of it is read or written; an
	// instantiated class's callbacks can run; const-class names a class for reflection.
	NewInstance // new-instance of a type (Target: type_ids index)
	ConstClass  // const-class of a type (Target: type_ids index)
	StaticWrite // sput-* of a field
)

// Ref is one reference from code: Caller is a method_ids index, Target a method, field or
// string index according to Kind.
type Ref struct {
	Kind RefKind
	// Op is the instruction's opcode: for an Invoke it says how the target is dispatched (see
	// InvokeKind); for a FieldRead whether the field is static.
	Op     uint8
	Caller uint32
	Target uint32
	// Pos is the file offset of the instruction (ConstArg reads the call site from it).
	Pos uint32
}

// Dispatch is how an invoke finds the method it runs.
type Dispatch uint8

const (
	Virtual   Dispatch = iota + 1 // invoke-virtual(/range): the receiver's class decides
	Super                         // invoke-super(/range): the named method, looked up from the named class
	Direct                        // invoke-direct(/range): constructors and private methods, no dispatch
	Static                        // invoke-static(/range)
	Interface                     // invoke-interface(/range): the receiver's class decides
)

// InvokeKind is the dispatch of an Invoke reference (0 for other kinds).
func (r Ref) InvokeKind() Dispatch {
	if r.Kind != Invoke {
		return 0
	}
	switch {
	case r.Op >= 0x6e && r.Op <= 0x72:
		return Dispatch(r.Op - 0x6e + 1)
	case r.Op >= 0x74 && r.Op <= 0x78:
		return Dispatch(r.Op - 0x74 + 1)
	}
	return 0
}

// StaticField reports whether a FieldRead or StaticWrite reads or writes a static field.
func (r Ref) StaticField() bool {
	return r.Kind == StaticWrite || r.Kind == FieldRead && r.Op >= 0x60 && r.Op <= 0x66
}

// Class is one class definition with the references of its code, in code order.
type Class struct {
	Type  uint32 // type_ids index
	Super uint32 // type_ids index, NoIndex when none
	// Interfaces are the type_ids indices the class implements directly (class_def interfaces_off).
	Interfaces []uint32
	// Direct and Virtual are the method_ids indices of the methods the class defines
	// (class_data direct_methods: constructors, static and private methods; virtual_methods).
	Direct, Virtual []uint32
	Refs            []Ref
}

// NoIndex marks an absent index.
const NoIndex = 0xffffffff

// File is an indexed dex file.
type File struct {
	Name     string
	Version  string
	Checksum uint32
	// ChecksumOK is false when the Adler-32 in the header does not match the file.
	ChecksumOK bool
	Classes    []Class
	// Problems are per-class errors that did not stop the rest (bad code item, unknown opcode).
	Problems []string

	b                                                    []byte
	nStrings, strOff, nTypes, typeOff, nProtos, protoOff uint32
	nFields, fieldOff, nMethods, methodOff               uint32
	// typeSlot and typeNames cache decoded type descriptors (read per class and per rendered
	// reference); other strings are decoded on each call, since callers read each at most a few
	// times. typeSlot holds 1 + the descriptor's index in typeNames (0: not decoded yet): an array
	// rather than a map since every class reads it, 4 bytes per type as type_ids takes in the file.
	typeSlot    []uint32
	typeNames   []string
	methodCache map[uint32]string
	// codeOf is, per caller (method_ids index), the offset of the code item walked for it + 1
	// (0: none); 4 bytes per method_ids entry, which takes 8 in the file.
	codeOf []uint32
	// strBudget bounds the bytes scanned decoding strings over the file's life: a hostile file
	// can point many string ids at long unterminated data.
	strBudget int64
	// useSteps counts the instructions OnlyPassedTo has visited over the file's life (see
	// maxFileUseSteps): a hostile file can read a provider URI at every unit of a huge method.
	useSteps int
}

type header struct {
	fileSize, headerSize, endian                          uint32
	stringIdsSize, stringIdsOff, typeIdsSize, typeIdsOff  uint32
	protoIdsSize, protoIdsOff, fieldIdsSize, fieldIdsOff  uint32
	methodIdsSize, methodIdsOff, classDefsSize, classDefs uint32
}

func le32(b []byte, off uint32) uint32 { return binary.LittleEndian.Uint32(b[off:]) }
func le16(b []byte, off uint32) uint16 { return binary.LittleEndian.Uint16(b[off:]) }

// Parse indexes the dex file b. name is used in errors. The returned File keeps b.
// A non-nil File may come with an error: what was indexed before the error is kept.
func Parse(ctx context.Context, name string, b []byte, lim Limits) (f *File, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s: dex parser panicked: %v", name, p)
		}
	}()
	d := DefaultLimits()
	if lim.MaxSize <= 0 {
		lim.MaxSize = d.MaxSize
	}
	if lim.MaxStrings <= 0 {
		lim.MaxStrings = d.MaxStrings
	}
	if lim.MaxClasses <= 0 {
		lim.MaxClasses = d.MaxClasses
	}
	if lim.MaxRefs <= 0 {
		lim.MaxRefs = d.MaxRefs
	}
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%s: %s", name, fmt.Sprintf(format, a...))
	}
	if int64(len(b)) > lim.MaxSize {
		return nil, fail("%d bytes > limit %d", len(b), lim.MaxSize)
	}
	if len(b) < 0x70 {
		return nil, fail("%d bytes, shorter than a dex header", len(b))
	}
	if string(b[:4]) != "dex\n" || b[7] != 0 || b[4] != '0' || b[5] != '3' || b[6] < '5' || b[6] > '9' {
		if string(b[:4]) == "dex\n" && string(b[4:7]) == "040" {
			// 040 changes nothing the index reads.
		} else {
			return nil, fail("bad magic %q (want dex\\n035..040)", b[:8])
		}
	}
	f = &File{Name: name, Version: string(b[4:7]), Checksum: le32(b, 8), b: b}
	f.ChecksumOK = adler32.Checksum(b[12:]) == f.Checksum
	var h header
	h.fileSize, h.headerSize, h.endian = le32(b, 32), le32(b, 36), le32(b, 40)
	if h.endian != 0x12345678 {
		return nil, fail("endian tag 0x%08x (only little-endian 0x12345678 exists in practice)", h.endian)
	}
	if h.fileSize != uint32(len(b)) {
		if h.fileSize > uint32(len(b)) {
			return nil, fail("header says %d bytes, file has %d (truncated)", h.fileSize, len(b))
		}
		f.Problems = append(f.Problems, fmt.Sprintf("header says %d bytes, file has %d", h.fileSize, len(b)))
	}
	if h.headerSize < 0x70 || h.headerSize > uint32(len(b)) {
		return nil, fail("header size %d", h.headerSize)
	}
	table := func(what string, sizeOff, offOff int, item uint32, max uint32) (n, off uint32, err error) {
		n, off = le32(b, uint32(sizeOff)), le32(b, uint32(offOff))
		if n == 0 {
			return 0, 0, nil
		}
		if n > max {
			return 0, 0, fail("%d %s > limit %d", n, what, max)
		}
		if uint64(off)+uint64(n)*uint64(item) > uint64(len(b)) {
			return 0, 0, fail("%s table (%d × %d bytes at %d) runs past the end of the file", what, n, item, off)
		}
		return n, off, nil
	}
	if f.nStrings, f.strOff, err = table("strings", 56, 60, 4, uint32(lim.MaxStrings)); err != nil {
		return nil, err
	}
	if f.nTypes, f.typeOff, err = table("types", 64, 68, 4, 1<<24); err != nil {
		return nil, err
	}
	if f.nProtos, f.protoOff, err = table("protos", 72, 76, 12, 1<<24); err != nil {
		return nil, err
	}
	if f.nFields, f.fieldOff, err = table("fields", 80, 84, 8, 1<<24); err != nil {
		return nil, err
	}
	if f.nMethods, f.methodOff, err = table("methods", 88, 92, 8, 1<<24); err != nil {
		return nil, err
	}
	nClasses, classOff, err := table("classes", 96, 100, 32, uint32(lim.MaxClasses))
	if err != nil {
		return nil, err
	}
	f.typeSlot = make([]uint32, f.nTypes)
	f.strBudget = 8*int64(len(b)) + 1<<20
	f.methodCache = make(map[uint32]string)
	f.codeOf = make([]uint32, f.nMethods)
	// Code items are 4-aligned, class_data items are not: one bit per possible start.
	w := walker{f: f, seenCode: newBitset(len(b) / 4), seenData: newBitset(len(b)), maxRefs: lim.MaxRefs}
	f.Classes = make([]Class, 0, nClasses)
	// References go into chunks of one slice each, a class's references contiguous in one chunk
	// (its Refs window). A chunk is never regrown: when one fills, the class being walked moves
	// to a new chunk, so the file's references are never copied or cleared again as a whole
	// (doubling one slice of millions does both, several times over). Real files
	// hold one reference per 20-30 bytes, generated ones one per 13: a first chunk of a
	// 32nd of the file and further ones of a 64th waste little either way.
	w.chunk = max(min(len(b)/64, lim.MaxRefs), 1024)
	w.refs = make([]Ref, 0, min(len(b)/32, lim.MaxRefs))
	for i := uint32(0); i < nClasses; i++ {
		if i%256 == 0 && ctx.Err() != nil {
			return f, fail("stopped after %d of %d classes: %v", i, nClasses, ctx.Err())
		}
		off := classOff + 32*i
		c := Class{Type: le32(b, off), Super: le32(b, off+8)}
		if c.Type >= f.nTypes {
			f.Problems = append(f.Problems, fmt.Sprintf("class_def %d: type index %d out of range", i, c.Type))
			continue
		}
		if c.Super != NoIndex && c.Super >= f.nTypes {
			c.Super = NoIndex
		}
		if err := f.interfaces(&c, le32(b, off+12)); err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("class %s: %v", f.TypeName(c.Type), err))
		}
		if dataOff := le32(b, off+24); dataOff != 0 {
			w.start = len(w.refs)
			err := w.classData(dataOff, &c)
			if len(w.refs) > w.start {
				c.Refs = w.refs[w.start:len(w.refs):len(w.refs)]
			}
			if err != nil {
				if errors.Is(err, errRefBudget) {
					f.Classes = append(f.Classes, c)
					return f, fail("%v", err)
				}
				f.Problems = append(f.Problems, fmt.Sprintf("class %s: %v", f.TypeName(c.Type), err))
			}
		}
		f.Classes = append(f.Classes, c)
	}
	return f, nil
}

var errRefBudget = errors.New("reference budget exhausted")

// maxInterfaces bounds the interfaces one class lists (Java allows 65535).
const maxInterfaces = 1 << 16

// interfaces reads the type_list at off into c.Interfaces, dropping out-of-range entries.
func (f *File) interfaces(c *Class, off uint32) error {
	if off == 0 {
		return nil
	}
	b := f.b
	if off%4 != 0 || uint64(off)+4 > uint64(len(b)) {
		return fmt.Errorf("interfaces at %d out of range", off)
	}
	n := le32(b, off)
	if n > maxInterfaces || uint64(off)+4+2*uint64(n) > uint64(len(b)) {
		return fmt.Errorf("interfaces at %d: %d entries run past the end", off, n)
	}
	if n == 0 {
		return nil
	}
	c.Interfaces = make([]uint32, 0, n)
	for k := uint32(0); k < n; k++ {
		if t := uint32(le16(b, off+4+2*k)); t < f.nTypes {
			c.Interfaces = append(c.Interfaces, t)
		}
	}
	return nil
}

type walker struct {
	f        *File
	seenCode bitset
	seenData bitset
	refs     []Ref // the chunk being filled
	start    int   // where the class being walked starts in refs
	chunk    int   // size of a new chunk
	nRefs    int   // references in the chunks before refs
	maxRefs  int
}

type bitset []uint64

func newBitset(n int) bitset { return make(bitset, n/64+1) }

// testAndSet reports whether bit i was set, and sets it.
func (s bitset) testAndSet(i uint32) bool {
	w, m := i/64, uint64(1)<<(i%64)
	if int(w) >= len(s) {
		return false
	}
	was := s[w]&m != 0
	s[w] |= m
	return was
}

// uleb reads an unsigned LEB128 of at most 5 bytes at *p.
func (w *walker) uleb(p *uint32) (uint32, error) {
	v, ok := uleb(w.f.b, p)
	if !ok {
		return 0, errors.New("uleb128 past the end of the file or longer than 5 bytes")
	}
	return v, nil
}

func (w *walker) classData(off uint32, c *Class) error {
	if w.seenData.testAndSet(off) {
		return fmt.Errorf("class_data at %d shared with another class; not walked twice", off)
	}
	p := off
	var counts [4]uint32
	for i := range counts {
		v, err := w.uleb(&p)
		if err != nil {
			return fmt.Errorf("class_data at %d: %v", off, err)
		}
		counts[i] = v
	}
	left := uint64(uint32(len(w.f.b)) - min(p, uint32(len(w.f.b))))
	if uint64(counts[0])+uint64(counts[1]) > left/2 || uint64(counts[2])+uint64(counts[3]) > left/3 {
		return fmt.Errorf("class_data at %d: member counts %v exceed the file", off, counts)
	}
	for i := uint32(0); i < 2*(counts[0]+counts[1]); i++ { // fields: idx diff, access flags
		if _, err := w.uleb(&p); err != nil {
			return fmt.Errorf("class_data at %d: %v", off, err)
		}
	}
	for list := 2; list < 4; list++ {
		var idx uint32
		for i := uint32(0); i < counts[list]; i++ {
			diff, err := w.uleb(&p)
			if err == nil {
				_, err = w.uleb(&p)
			}
			var code uint32
			if err == nil {
				code, err = w.uleb(&p)
			}
			if err != nil {
				return fmt.Errorf("class_data at %d: %v", off, err)
			}
			if i == 0 {
				idx = diff
			} else {
				idx += diff
			}
			if idx >= w.f.nMethods {
				return fmt.Errorf("class_data at %d: method index %d out of range", off, idx)
			}
			if list == 2 {
				c.Direct = append(c.Direct, idx)
			} else {
				c.Virtual = append(c.Virtual, idx)
			}
			if code == 0 {
				continue
			}
			if err := w.code(code, idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// newChunk moves the class being walked to a new chunk of references (see Parse), twice the
// class's size when it fills a chunk by itself.
func (w *walker) newChunk() {
	cur := w.refs[w.start:]
	w.nRefs += w.start
	n := max(min(max(w.chunk, 2*len(cur)), w.maxRefs-w.nRefs), len(cur)+1)
	c := make([]Ref, len(cur), n)
	copy(c, cur)
	w.refs, w.start = c, 0
}

// code walks one code_item's instructions and appends the references it makes to w.refs.
func (w *walker) code(off, caller uint32) error {
	b := w.f.b
	if off%4 != 0 || uint64(off)+16 > uint64(len(b)) {
		return fmt.Errorf("code_item at %d out of range", off)
	}
	if w.seenCode.testAndSet(off / 4) {
		return nil
	}
	w.f.codeOf[caller] = off + 1 // caller < nMethods (classData checks)
	n := le32(b, off+12)
	start := off + 16
	if uint64(start)+2*uint64(n) > uint64(len(b)) {
		return fmt.Errorf("code_item at %d: %d code units run past the end", off, n)
	}
	insn := func(i uint32) uint32 { return uint32(le16(b, start+2*i)) }
	var i, op uint32
	add := func(k RefKind, t uint32) error {
		if w.nRefs+len(w.refs) >= w.maxRefs {
			return fmt.Errorf("%w: more than %d references", errRefBudget, w.maxRefs)
		}
		if len(w.refs) == cap(w.refs) {
			w.newChunk()
		}
		w.refs = append(w.refs, Ref{Kind: k, Op: uint8(op), Caller: caller, Target: t, Pos: start + 2*i})
		return nil
	}
	for i = 0; i < n; {
		u := insn(i)
		op = u & 0xff
		width := uint32(widths[op])
		if op == 0 && u != 0 {
			// Payload pseudo-instructions live in the stream after the code that uses them.
			var size uint64
			switch u {
			case 0x0100: // packed-switch-payload: ident, size, first_key(2), targets(2*size)
				if i+2 > n {
					return fmt.Errorf("code_item at %d: packed-switch payload at %d truncated", off, i)
				}
				size = 4 + 2*uint64(insn(i+1))
			case 0x0200: // sparse-switch-payload: ident, size, keys(2*size), targets(2*size)
				if i+2 > n {
					return fmt.Errorf("code_item at %d: sparse-switch payload at %d truncated", off, i)
				}
				size = 2 + 4*uint64(insn(i+1))
			case 0x0300: // fill-array-data-payload: ident, element_width, size(2), data
				if i+4 > n {
					return fmt.Errorf("code_item at %d: fill-array-data payload at %d truncated", off, i)
				}
				elems := uint64(insn(i+2)) | uint64(insn(i+3))<<16
				size = 4 + (elems*uint64(insn(i+1))+1)/2
			default:
				size = 1
			}
			if uint64(i)+size > uint64(n) {
				return fmt.Errorf("code_item at %d: payload at %d (%d units) runs past the code", off, i, size)
			}
			i += uint32(size)
			continue
		}
		if width == 0 {
			return fmt.Errorf("code_item at %d: unknown opcode 0x%02x at %d", off, op, i)
		}
		if i+width > n {
			return fmt.Errorf("code_item at %d: instruction 0x%02x at %d runs past the code", off, op, i)
		}
		var err error
		switch {
		case op >= 0x6e && op <= 0x72, op >= 0x74 && op <= 0x78:
			if t := insn(i + 1); t < w.f.nMethods {
				err = add(Invoke, t)
			}
		case op >= 0x52 && op <= 0x58, op >= 0x60 && op <= 0x66:
			if t := insn(i + 1); t < w.f.nFields {
				err = add(FieldRead, t)
			}
		case op == 0x1a:
			if t := insn(i + 1); t < w.f.nStrings {
				err = add(StringConst, t)
			}
		case op == 0x1b:
			if t := insn(i+1) | insn(i+2)<<16; t < w.f.nStrings {
				err = add(StringConst, t)
			}
		case op == 0x22:
			if t := insn(i + 1); t < w.f.nTypes {
				err = add(NewInstance, t)
			}
		case op == 0x1c:
			if t := insn(i + 1); t < w.f.nTypes {
				err = add(ConstClass, t)
			}
		case op >= 0x67 && op <= 0x6d:
			if t := insn(i + 1); t < w.f.nFields {
				err = add(StaticWrite, t)
			}
		}
		if err != nil {
			return err
		}
		i += width
	}
	return nil
}

// widths is the size in 16-bit code units of every opcode; 0 marks opcodes no valid dex uses
// beyond the unused ranges (which are 1 unit, format 10x).
var widths = func() [256]uint8 {
	var w [256]uint8
	set := func(lo, hi int, n uint8) {
		for op := lo; op <= hi; op++ {
			w[op] = n
		}
	}
	set(0x00, 0x01, 1) // nop, move
	set(0x02, 0x02, 2) // move/from16
	set(0x03, 0x03, 3) // move/16
	set(0x04, 0x04, 1)
	set(0x05, 0x05, 2)
	set(0x06, 0x06, 3)
	set(0x07, 0x07, 1)
	set(0x08, 0x08, 2)
	set(0x09, 0x09, 3)
	set(0x0a, 0x12, 1) // move-result*, move-exception, return*, const/4
	set(0x13, 0x13, 2) // const/16
	set(0x14, 0x14, 3) // const
	set(0x15, 0x16, 2) // const/high16, const-wide/16
	set(0x17, 0x17, 3) // const-wide/32
	set(0x18, 0x18, 5) // const-wide
	set(0x19, 0x1a, 2) // const-wide/high16, const-string
	set(0x1b, 0x1b, 3) // const-string/jumbo
	set(0x1c, 0x1c, 2) // const-class
	set(0x1d, 0x1e, 1) // monitor-enter/exit
	set(0x1f, 0x20, 2) // check-cast, instance-of
	set(0x21, 0x21, 1) // array-length
	set(0x22, 0x23, 2) // new-instance, new-array
	set(0x24, 0x26, 3) // filled-new-array(/range), fill-array-data
	set(0x27, 0x28, 1) // throw, goto
	set(0x29, 0x29, 2) // goto/16
	set(0x2a, 0x2c, 3) // goto/32, packed-switch, sparse-switch
	set(0x2d, 0x3d, 2) // cmp*, if-*
	set(0x3e, 0x43, 1) // unused
	set(0x44, 0x6d, 2) // aget/aput, iget/iput, sget/sput
	set(0x6e, 0x72, 3) // invoke-kind
	set(0x73, 0x73, 1) // unused
	set(0x74, 0x78, 3) // invoke-kind/range
	set(0x79, 0x7a, 1) // unused
	set(0x7b, 0x8f, 1) // unop
	set(0x90, 0xaf, 2) // binop
	set(0xb0, 0xcf, 1) // binop/2addr
	set(0xd0, 0xe2, 2) // binop/lit16, binop/lit8
	set(0xe3, 0xf9, 1) // unused
	set(0xfa, 0xfb, 4) // invoke-polymorphic(/range)
	set(0xfc, 0xfd, 3) // invoke-custom(/range)
	set(0xfe, 0xff, 2) // const-method-handle, const-method-type
	return w
}()

// String returns string_ids[i] decoded from MUTF-8 ("" when out of range).
func (f *File) String(i uint32) string {
	if i >= f.nStrings {
		return ""
	}
	return f.decodeString(le32(f.b, f.strOff+4*i))
}

// StringCount is the size of string_ids.
func (f *File) StringCount() int { return int(f.nStrings) }

// ProtoCount is the size of proto_ids.
func (f *File) ProtoCount() int { return int(f.nProtos) }

// MethodCount is the size of method_ids.
func (f *File) MethodCount() int { return int(f.nMethods) }

// Size is the file's length in bytes.
func (f *File) Size() int { return len(f.b) }

func (f *File) decodeString(off uint32) string {
	return DecodeMUTF8(f.rawString(off))
}

// StringData returns string_ids[i] as its MUTF-8 bytes without the terminator (nil when out of
// range); the bytes are the file's, not to be modified. Interning by these bytes saves decoding
// strings seen before.
func (f *File) StringData(i uint32) []byte {
	if i >= f.nStrings {
		return nil
	}
	b := f.rawString(le32(f.b, f.strOff+4*i))
	for k, c := range b {
		if c == 0 {
			return b[:k]
		}
	}
	return b
}

// ProtoTypes appends to dst the type_ids of proto_ids[i]: the return type, then the parameters.
func (f *File) ProtoTypes(i uint32, dst []uint32) ([]uint32, bool) {
	if i >= f.nProtos {
		return dst, false
	}
	off := f.protoOff + 12*i
	dst = append(dst, le32(f.b, off+4))
	params := le32(f.b, off+8)
	if params != 0 && uint64(params)+4 <= uint64(len(f.b)) {
		n := le32(f.b, params)
		if uint64(params)+4+2*uint64(n) > uint64(len(f.b)) || n > 255 {
			return dst, false
		}
		for k := uint32(0); k < n; k++ {
			dst = append(dst, uint32(le16(f.b, params+4+2*k)))
		}
	}
	return dst, true
}

// rawString returns the bytes of the string data at off, up to the end its length allows,
// within the file's decoding budget.
func (f *File) rawString(off uint32) []byte {
	b := f.b
	if off >= uint32(len(b)) {
		return nil
	}
	p := off
	// utf16_size (uleb128): a string takes at most three bytes per UTF-16 unit before its NUL.
	var units uint64
	for k := 0; k < 5 && p < uint32(len(b)); k++ {
		c := b[p]
		p++
		units |= uint64(c&0x7f) << (7 * k)
		if c&0x80 == 0 {
			break
		}
	}
	end := uint64(p) + 3*units + 1
	if end > uint64(len(b)) {
		end = uint64(len(b))
	}
	if f.strBudget < int64(end-uint64(p)) {
		if f.strBudget >= 0 {
			f.Problems = append(f.Problems, "string decoding budget exhausted; later strings read as empty")
			f.strBudget = -1
		}
		return nil
	}
	f.strBudget -= int64(end - uint64(p))
	return b[p:end]
}

// DecodeMUTF8 decodes modified UTF-8 up to its NUL terminator (or the end of b): 0xC0 0x80 is
// NUL, supplementary characters are surrogate pairs each written as three bytes.
func DecodeMUTF8(b []byte) string {
	// Fast path: plain ASCII.
	ascii := true
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		// No terminator in b (StringData's bytes): the whole of b.
		return string(b)
	}
	var units []uint16
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == 0:
			return string(utf16.Decode(units))
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c&0xe0 == 0xc0 && i+1 < len(b) && b[i+1]&0xc0 == 0x80:
			units = append(units, uint16(c&0x1f)<<6|uint16(b[i+1]&0x3f))
			i += 2
		case c&0xf0 == 0xe0 && i+2 < len(b) && b[i+1]&0xc0 == 0x80 && b[i+2]&0xc0 == 0x80:
			units = append(units, uint16(c&0x0f)<<12|uint16(b[i+1]&0x3f)<<6|uint16(b[i+2]&0x3f))
			i += 3
		default:
			units = append(units, utf8.RuneError)
			i++
		}
	}
	return string(utf16.Decode(units))
}

// TypeName returns the descriptor of type_ids[i] ("Lcom/foo/Bar;").
func (f *File) TypeName(i uint32) string {
	if i >= f.nTypes {
		return ""
	}
	if k := f.typeSlot[i]; k != 0 {
		return f.typeNames[k-1]
	}
	s := f.String(le32(f.b, f.typeOff+4*i))
	f.typeNames = append(f.typeNames, s)
	f.typeSlot[i] = uint32(len(f.typeNames))
	return s
}

// TypeCount is the size of type_ids.
func (f *File) TypeCount() int { return int(f.nTypes) }

// FieldCount is the size of field_ids.
func (f *File) FieldCount() int { return int(f.nFields) }

// MethodClassType is the type_ids index of the class of method_ids[i] (NoIndex when out of
// range): callers filter on it before rendering descriptors.
func (f *File) MethodClassType(i uint32) uint32 {
	if i >= f.nMethods {
		return NoIndex
	}
	return uint32(le16(f.b, f.methodOff+8*i))
}

// FieldClassType is the type_ids index of the class of field_ids[i] (NoIndex when out of range).
func (f *File) FieldClassType(i uint32) uint32 {
	if i >= f.nFields {
		return NoIndex
	}
	return uint32(le16(f.b, f.fieldOff+8*i))
}

// MethodClass, MethodName and MethodDescriptor read method_ids[i].
func (f *File) MethodClass(i uint32) string {
	if i >= f.nMethods {
		return ""
	}
	return f.TypeName(uint32(le16(f.b, f.methodOff+8*i)))
}

// MethodName is the name of method_ids[i].
func (f *File) MethodName(i uint32) string {
	if i >= f.nMethods {
		return ""
	}
	return f.String(le32(f.b, f.methodOff+8*i+4))
}

// MethodDescriptor renders method_ids[i] as "Lpkg/Class;->name(args)ret".
func (f *File) MethodDescriptor(i uint32) string {
	if i >= f.nMethods {
		return ""
	}
	if s, ok := f.methodCache[i]; ok {
		return s
	}
	s := f.MethodClass(i) + "->" + f.MethodName(i) + f.proto(uint32(le16(f.b, f.methodOff+8*i+2)))
	f.methodCache[i] = s
	return s
}

func (f *File) proto(i uint32) string {
	if i >= f.nProtos {
		return "(?)?"
	}
	off := f.protoOff + 12*i
	ret := f.TypeName(le32(f.b, off+4))
	params := le32(f.b, off+8)
	var s strings.Builder
	s.WriteByte('(')
	if params != 0 && uint64(params)+4 <= uint64(len(f.b)) {
		n := le32(f.b, params)
		if uint64(params)+4+2*uint64(n) <= uint64(len(f.b)) && n <= 255 {
			for k := uint32(0); k < n; k++ {
				s.WriteString(f.TypeName(uint32(le16(f.b, params+4+2*k))))
			}
		}
	}
	s.WriteByte(')')
	s.WriteString(ret)
	return s.String()
}

// FieldDescriptor renders field_ids[i] as "Lpkg/Class;->name:Type".
func (f *File) FieldDescriptor(i uint32) string {
	if i >= f.nFields {
		return ""
	}
	off := f.fieldOff + 8*i
	return f.TypeName(uint32(le16(f.b, off))) + "->" + f.String(le32(f.b, off+4)) + ":" + f.TypeName(uint32(le16(f.b, off+2)))
}

// JavaName turns "Lcom/foo/Bar;" into "com.foo.Bar" (arrays and primitives unchanged).
func JavaName(desc string) string {
	if len(desc) < 3 || desc[0] != 'L' || desc[len(desc)-1] != ';' {
		return desc
	}
	out := []byte(desc[1 : len(desc)-1])
	for i, c := range out {
		if c == '/' {
			out[i] = '.'
		}
	}
	return string(out)
}

// IsDexName reports whether an APK entry is a primary or secondary dex: classes.dex,
// classes2.dex, classes3.dex… at the archive root.
func IsDexName(name string) bool {
	if name == "classes.dex" {
		return true
	}
	mid, ok := strings.CutPrefix(name, "classes")
	if !ok {
		return false
	}
	mid, ok = strings.CutSuffix(mid, ".dex")
	if !ok || mid == "" || mid[0] == '0' || len(mid) > 4 {
		return false
	}
	for _, c := range mid {
		if c < '0' || c > '9' {
			return false
		}
	}
	return mid != "1"
}

// MethodID returns the parts of method_ids[i]: its class (type_ids index), its proto (proto_ids
// index) and its name (string_ids index); ok is false when i is out of range. A call graph
// interns methods by these parts instead of rendering every descriptor.
func (f *File) MethodID(i uint32) (class, proto, name uint32, ok bool) {
	if i >= f.nMethods {
		return 0, 0, 0, false
	}
	off := f.methodOff + 8*i
	return uint32(le16(f.b, off)), uint32(le16(f.b, off+2)), le32(f.b, off+4), true
}

// Proto renders proto_ids[i] as "(args)ret".
func (f *File) Proto(i uint32) string { return f.proto(i) }
