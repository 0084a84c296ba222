// Package dexgen writes Dalvik executables (classes*.dex) directly, without smali or the SDK,
// so that tests and benchmarks can build dex files of any shape: tens of thousands of distinct
// classes for a realistic big APK, or hostile ones (a million methods, class chains thousands
// deep, cyclic calls) that no toolchain would produce on request.
//
// Two layers:
//   - Builder takes classes, methods and instructions by name and lays out a complete dex file
//     (header, string/type/proto/field/method ids sorted as the format requires, class_defs with
//     superclasses first, class_data, code items, type lists, map_list, Adler-32 checksum and
//     SHA-1 signature) that ART's verifier (dexdump) accepts;
//   - Generate builds a program from Options (class count, methods per class, hierarchy depth,
//     call edges, framework and sensitive-API calls) over one or more dex files, seeded and
//     deterministic.
//
// The format is the one documented at source.android.com/docs/core/runtime/dex-format (version
// 035). Strings must hold only characters of the Basic Multilingual Plane other than NUL, so
// that their byte order is their UTF-16 order.
package dexgen

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/adler32"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Access flags used by generated code.
const (
	AccPublic      = 0x1
	AccPrivate     = 0x2
	AccStatic      = 0x8
	AccFinal       = 0x10
	AccInterface   = 0x200
	AccAbstract    = 0x400
	AccConstructor = 0x10000
)

// Method names a method: its class descriptor ("Lpkg/C;"), name, parameter and return
// descriptors.
type Method struct {
	Class, Name string
	Params      []string
	Return      string
}

func (m Method) String() string {
	return m.Class + "->" + m.Name + "(" + strings.Join(m.Params, "") + ")" + m.Return
}

// Field names a field: class descriptor, name and type descriptor.
type Field struct {
	Class, Name, Type string
}

// FieldDef is a field a class defines.
type FieldDef struct {
	Name, Type string
	Access     uint32
}

// MethodDef is a method a class defines. Code nil makes it abstract or native (Access says
// which). The registers are Locals followed by the ins (this, when not static, then the
// parameters, wide ones taking two).
type MethodDef struct {
	Name   string
	Params []string
	Return string
	Access uint32
	Locals int
	Code   []Insn
}

// ClassDef is one class.
type ClassDef struct {
	Name       string // descriptor, "Lpkg/C;"
	Super      string // descriptor; "" only for java/lang/Object
	Interfaces []string
	Access     uint32
	Source     string // source file name; "" for none
	Static     []FieldDef
	Instance   []FieldDef
	Direct     []MethodDef // constructors, static and private methods
	Virtual    []MethodDef
}

// Op is an instruction kind Builder encodes.
type Op uint8

// The instructions Builder encodes (opcode values as in the format).
const (
	OpNop              Op = 0x00
	OpMoveObject       Op = 0x07 // A ← B (4-bit registers)
	OpMoveResult       Op = 0x0a
	OpMoveResultObject Op = 0x0c
	OpReturnVoid       Op = 0x0e
	OpReturn           Op = 0x0f
	OpReturnObject     Op = 0x11
	OpConst4           Op = 0x12 // A ← Lit (-8..7)
	OpConstString      Op = 0x1a // A ← Str; written as const-string/jumbo when the index needs it
	OpNewInstance      Op = 0x22 // A ← new Type
	OpGoto16           Op = 0x29 // to Label
	OpIfEqz            Op = 0x38 // if A == 0 go to Label
	OpIfNez            Op = 0x39
	OpIgetObject       Op = 0x54 // A ← B.Field
	OpIputObject       Op = 0x5b // B.Field ← A
	OpSgetObject       Op = 0x62 // A ← Field
	OpSputObject       Op = 0x69 // Field ← A
	OpInvokeVirtual    Op = 0x6e // Regs: receiver then arguments; range form when needed
	OpInvokeSuper      Op = 0x6f
	OpInvokeDirect     Op = 0x70
	OpInvokeStatic     Op = 0x71
	OpInvokeInterface  Op = 0x72
	OpAddIntLit8       Op = 0xd8 // A ← B + Lit
	opLabel            Op = 0xff // pseudo-instruction: a branch target, no code
)

// Insn is one instruction. Only the operands its Op uses are read.
type Insn struct {
	Op    Op
	A, B  int
	Lit   int
	Regs  []int // invoke arguments (consecutive registers are written in range form when needed)
	Str   string
	Type  string
	Field *Field
	Meth  *Method
	Label string
}

// Label marks a branch target.
func Label(name string) Insn { return Insn{Op: opLabel, Label: name} }

// ConstString loads s into register a.
func ConstString(a int, s string) Insn { return Insn{Op: OpConstString, A: a, Str: s} }

// Invoke calls m with the registers regs (the receiver first unless op is OpInvokeStatic).
func Invoke(op Op, m Method, regs ...int) Insn { return Insn{Op: op, Meth: &m, Regs: regs} }

// Builder collects classes and writes one dex file.
type Builder struct {
	classes []ClassDef
	names   map[string]bool
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{names: map[string]bool{}} }

// Add adds a class; a class defined twice is an error.
func (b *Builder) Add(c ClassDef) error {
	if b.names[c.Name] {
		return fmt.Errorf("dexgen: class %s defined twice", c.Name)
	}
	b.names[c.Name] = true
	b.classes = append(b.classes, c)
	return nil
}

// Classes is the number of classes added.
func (b *Builder) Classes() int { return len(b.classes) }

type protoKey struct {
	ret    string
	params string // descriptors joined with ","
}

type pool struct {
	strings map[string]uint32
	types   map[string]uint32
	protos  map[protoKey]uint32
	fields  map[Field]uint32
	methods map[string]uint32 // Method.String()
	// sorted tables
	strs  []string
	typs  []string
	pros  []protoKey
	flds  []Field
	meths []Method
}

func isWide(t string) bool { return t == "J" || t == "D" }

func shorty(t string) byte {
	if t[0] == '[' {
		return 'L'
	}
	return t[0]
}

func splitParams(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func validDesc(t string) bool {
	if t == "" {
		return false
	}
	for t[0] == '[' {
		t = t[1:]
		if t == "" {
			return false
		}
	}
	switch t[0] {
	case 'V', 'Z', 'B', 'S', 'C', 'I', 'J', 'F', 'D':
		return len(t) == 1
	case 'L':
		return len(t) > 2 && t[len(t)-1] == ';' && !strings.ContainsAny(t[1:len(t)-1], ";.[ ")
	}
	return false
}

// utf16Less orders strings by UTF-16 code units, the order string_ids must follow. With only
// BMP characters that is the code-point order Go's string comparison gives.
func utf16Less(a, b string) bool { return a < b }

func checkString(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("dexgen: string %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if r == 0 || r > 0xffff {
			return fmt.Errorf("dexgen: string %q holds NUL or a character outside the BMP", s)
		}
	}
	return nil
}

// collect interns every string, type, proto, field and method the classes name, then sorts the
// tables as the format requires.
func (b *Builder) collect() (*pool, error) {
	p := &pool{strings: map[string]uint32{}, types: map[string]uint32{}, protos: map[protoKey]uint32{},
		fields: map[Field]uint32{}, methods: map[string]uint32{}}
	var err error
	str := func(s string) {
		if _, ok := p.strings[s]; !ok {
			if e := checkString(s); e != nil && err == nil {
				err = e
			}
			p.strings[s] = 0
		}
	}
	typ := func(t string) {
		if !validDesc(t) && err == nil {
			err = fmt.Errorf("dexgen: bad type descriptor %q", t)
		}
		str(t)
		p.types[t] = 0
	}
	proto := func(params []string, ret string) {
		k := protoKey{ret: ret, params: strings.Join(params, ",")}
		if _, ok := p.protos[k]; ok {
			return
		}
		p.protos[k] = 0
		typ(ret)
		sh := []byte{shorty(ret)}
		for _, t := range params {
			typ(t)
			if t == "V" && err == nil {
				err = errors.New("dexgen: V as a parameter type")
			}
			sh = append(sh, shorty(t))
		}
		str(string(sh))
	}
	method := func(m Method) {
		if _, ok := p.methods[m.String()]; ok {
			return
		}
		p.methods[m.String()] = 0
		p.meths = append(p.meths, m)
		typ(m.Class)
		str(m.Name)
		proto(m.Params, m.Return)
	}
	field := func(f Field) {
		if _, ok := p.fields[f]; ok {
			return
		}
		p.fields[f] = 0
		p.flds = append(p.flds, f)
		typ(f.Class)
		typ(f.Type)
		str(f.Name)
	}
	for _, c := range b.classes {
		typ(c.Name)
		if c.Super != "" {
			typ(c.Super)
		}
		for _, i := range c.Interfaces {
			typ(i)
		}
		if c.Source != "" {
			str(c.Source)
		}
		for _, fs := range [][]FieldDef{c.Static, c.Instance} {
			for _, fd := range fs {
				field(Field{c.Name, fd.Name, fd.Type})
			}
		}
		for _, ms := range [][]MethodDef{c.Direct, c.Virtual} {
			for _, md := range ms {
				method(Method{c.Name, md.Name, md.Params, md.Return})
				for _, in := range md.Code {
					switch in.Op {
					case OpConstString:
						str(in.Str)
					case OpNewInstance:
						typ(in.Type)
					case OpIgetObject, OpIputObject, OpSgetObject, OpSputObject:
						if in.Field == nil {
							return nil, fmt.Errorf("dexgen: %s.%s: field instruction without a Field", c.Name, md.Name)
						}
						field(*in.Field)
					case OpInvokeVirtual, OpInvokeSuper, OpInvokeDirect, OpInvokeStatic, OpInvokeInterface:
						if in.Meth == nil {
							return nil, fmt.Errorf("dexgen: %s.%s: invoke without a Meth", c.Name, md.Name)
						}
						method(*in.Meth)
					}
				}
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for s := range p.strings {
		p.strs = append(p.strs, s)
	}
	sort.Slice(p.strs, func(i, j int) bool { return utf16Less(p.strs[i], p.strs[j]) })
	for i, s := range p.strs {
		p.strings[s] = uint32(i)
	}
	for t := range p.types {
		p.typs = append(p.typs, t)
	}
	sort.Slice(p.typs, func(i, j int) bool { return p.strings[p.typs[i]] < p.strings[p.typs[j]] })
	for i, t := range p.typs {
		p.types[t] = uint32(i)
	}
	for k := range p.protos {
		p.pros = append(p.pros, k)
	}
	plist := func(k protoKey) []uint32 {
		var out []uint32
		for _, t := range splitParams(k.params) {
			out = append(out, p.types[t])
		}
		return out
	}
	sort.Slice(p.pros, func(i, j int) bool {
		a, b := p.pros[i], p.pros[j]
		if ra, rb := p.types[a.ret], p.types[b.ret]; ra != rb {
			return ra < rb
		}
		return slices.Compare(plist(a), plist(b)) < 0
	})
	for i, k := range p.pros {
		p.protos[k] = uint32(i)
	}
	sort.Slice(p.flds, func(i, j int) bool {
		a, b := p.flds[i], p.flds[j]
		if x, y := p.types[a.Class], p.types[b.Class]; x != y {
			return x < y
		}
		if x, y := p.strings[a.Name], p.strings[b.Name]; x != y {
			return x < y
		}
		return p.types[a.Type] < p.types[b.Type]
	})
	for i, f := range p.flds {
		p.fields[f] = uint32(i)
	}
	pidx := func(m Method) uint32 { return p.protos[protoKey{m.Return, strings.Join(m.Params, ",")}] }
	sort.Slice(p.meths, func(i, j int) bool {
		a, b := p.meths[i], p.meths[j]
		if x, y := p.types[a.Class], p.types[b.Class]; x != y {
			return x < y
		}
		if x, y := p.strings[a.Name], p.strings[b.Name]; x != y {
			return x < y
		}
		return pidx(a) < pidx(b)
	})
	for i, m := range p.meths {
		p.methods[m.String()] = uint32(i)
	}
	if len(p.typs) > 0xffff {
		return nil, fmt.Errorf("dexgen: %d types; method and field ids name their class in 16 bits", len(p.typs))
	}
	if len(p.pros) > 0xffff {
		return nil, fmt.Errorf("dexgen: %d protos > 65535", len(p.pros))
	}
	return p, nil
}

// order puts every class after its superclass and interfaces when they are defined here, as the
// verifier requires, keeping the added order otherwise.
func (b *Builder) order() ([]ClassDef, error) {
	idx := map[string]int{}
	for i, c := range b.classes {
		idx[c.Name] = i
	}
	state := make([]uint8, len(b.classes)) // 0 new, 1 on the stack, 2 placed
	out := make([]ClassDef, 0, len(b.classes))
	// Iterative depth-first walk: hierarchies may be far deeper than the goroutine stack likes.
	for i := range b.classes {
		if state[i] != 0 {
			continue
		}
		stack := []int{i}
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			if state[k] == 0 {
				state[k] = 1
			}
			pushed := false
			c := b.classes[k]
			for _, dep := range append([]string{c.Super}, c.Interfaces...) {
				j, ok := idx[dep]
				if !ok || dep == "" {
					continue
				}
				if state[j] == 1 && j != k {
					return nil, fmt.Errorf("dexgen: class %s is its own ancestor", c.Name)
				}
				if j == k {
					return nil, fmt.Errorf("dexgen: class %s extends itself", c.Name)
				}
				if state[j] == 0 {
					stack = append(stack, j)
					pushed = true
					break
				}
			}
			if !pushed {
				stack = stack[:len(stack)-1]
				if state[k] != 2 {
					state[k] = 2
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

type buf struct{ bytes.Buffer }

func (w *buf) u16(v uint32) { w.Write([]byte{byte(v), byte(v >> 8)}) }
func (w *buf) u32(v uint32) { w.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (w *buf) uleb(v uint32) {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			w.WriteByte(c | 0x80)
			continue
		}
		w.WriteByte(c)
		return
	}
}
func (w *buf) align4() {
	for w.Len()%4 != 0 {
		w.WriteByte(0)
	}
}

// mutf8 encodes a BMP string as modified UTF-8 (no NUL inside, by checkString).
func mutf8(s string) []byte { return []byte(s) }

func utf16Len(s string) uint32 { return uint32(utf8.RuneCountInString(s)) }

func insWords(m MethodDef) int {
	n := 0
	if m.Access&AccStatic == 0 {
		n = 1
	}
	for _, t := range m.Params {
		n++
		if isWide(t) {
			n++
		}
	}
	return n
}

// encode writes the instructions of one method; outs is the largest argument word count.
func (p *pool) encode(md MethodDef) (units []uint16, outs int, err error) {
	// Pass 1: widths and label positions.
	width := func(in Insn) int {
		switch in.Op {
		case opLabel:
			return 0
		case OpNop, OpMoveObject, OpMoveResult, OpMoveResultObject, OpReturnVoid, OpReturn, OpReturnObject, OpConst4:
			return 1
		case OpConstString:
			if p.strings[in.Str] > 0xffff {
				return 3
			}
			return 2
		case OpInvokeVirtual, OpInvokeSuper, OpInvokeDirect, OpInvokeStatic, OpInvokeInterface:
			return 3
		}
		return 2
	}
	labels := map[string]int{}
	pc := 0
	for _, in := range md.Code {
		if in.Op == opLabel {
			labels[in.Label] = pc
		}
		pc += width(in)
	}
	reg4 := func(r int) bool { return r >= 0 && r < 16 }
	reg8 := func(r int) bool { return r >= 0 && r < 256 }
	bad := func(in Insn) error { return fmt.Errorf("operands of 0x%02x out of range", uint8(in.Op)) }
	pc = 0
	for _, in := range md.Code {
		op := uint16(in.Op)
		switch in.Op {
		case opLabel:
			continue
		case OpNop, OpReturnVoid:
			units = append(units, op)
		case OpMoveResult, OpMoveResultObject, OpReturn, OpReturnObject:
			if !reg8(in.A) {
				return nil, 0, bad(in)
			}
			units = append(units, op|uint16(in.A)<<8)
		case OpMoveObject:
			if !reg4(in.A) || !reg4(in.B) {
				return nil, 0, bad(in)
			}
			units = append(units, op|uint16(in.A)<<8|uint16(in.B)<<12)
		case OpConst4:
			if !reg4(in.A) || in.Lit < -8 || in.Lit > 7 {
				return nil, 0, bad(in)
			}
			units = append(units, op|uint16(in.A)<<8|uint16(in.Lit&0xf)<<12)
		case OpConstString:
			if !reg8(in.A) {
				return nil, 0, bad(in)
			}
			s := p.strings[in.Str]
			if s > 0xffff {
				units = append(units, 0x1b|uint16(in.A)<<8, uint16(s), uint16(s>>16))
			} else {
				units = append(units, op|uint16(in.A)<<8, uint16(s))
			}
		case OpNewInstance:
			if !reg8(in.A) {
				return nil, 0, bad(in)
			}
			units = append(units, op|uint16(in.A)<<8, uint16(p.types[in.Type]))
		case OpGoto16, OpIfEqz, OpIfNez:
			to, ok := labels[in.Label]
			if !ok {
				return nil, 0, fmt.Errorf("label %q undefined", in.Label)
			}
			off := to - pc
			if off < -32768 || off > 32767 || off == 0 {
				return nil, 0, fmt.Errorf("branch to %q: offset %d", in.Label, off)
			}
			if in.Op == OpGoto16 {
				units = append(units, op, uint16(int16(off)))
			} else {
				if !reg8(in.A) {
					return nil, 0, bad(in)
				}
				units = append(units, op|uint16(in.A)<<8, uint16(int16(off)))
			}
		case OpIgetObject, OpIputObject:
			if !reg4(in.A) || !reg4(in.B) {
				return nil, 0, bad(in)
			}
			f := p.fields[*in.Field]
			if f > 0xffff {
				return nil, 0, fmt.Errorf("field index %d > 65535", f)
			}
			units = append(units, op|uint16(in.A)<<8|uint16(in.B)<<12, uint16(f))
		case OpSgetObject, OpSputObject:
			if !reg8(in.A) {
				return nil, 0, bad(in)
			}
			f := p.fields[*in.Field]
			if f > 0xffff {
				return nil, 0, fmt.Errorf("field index %d > 65535", f)
			}
			units = append(units, op|uint16(in.A)<<8, uint16(f))
		case OpAddIntLit8:
			if !reg8(in.A) || !reg8(in.B) || in.Lit < -128 || in.Lit > 127 {
				return nil, 0, bad(in)
			}
			units = append(units, op|uint16(in.A)<<8, uint16(in.B)|uint16(uint8(int8(in.Lit)))<<8)
		case OpInvokeVirtual, OpInvokeSuper, OpInvokeDirect, OpInvokeStatic, OpInvokeInterface:
			m := p.methods[in.Meth.String()]
			if m > 0xffff {
				return nil, 0, fmt.Errorf("invoke of %s: method index %d > 65535 cannot be encoded", in.Meth, m)
			}
			words := len(in.Meth.Params)
			if in.Op != OpInvokeStatic {
				words++
			}
			for _, t := range in.Meth.Params {
				if isWide(t) {
					words++
				}
			}
			if words != len(in.Regs) {
				return nil, 0, fmt.Errorf("invoke of %s: %d registers for %d argument words", in.Meth, len(in.Regs), words)
			}
			outs = max(outs, words)
			short := len(in.Regs) <= 5
			for _, r := range in.Regs {
				short = short && reg4(r)
			}
			if short {
				var r [5]int
				copy(r[:], in.Regs)
				units = append(units, op|uint16(len(in.Regs))<<12|uint16(r[4])<<8, uint16(m),
					uint16(r[0]|r[1]<<4|r[2]<<8|r[3]<<12))
			} else {
				for k, r := range in.Regs {
					if r != in.Regs[0]+k || !reg8(len(in.Regs)) || r > 0xffff {
						return nil, 0, fmt.Errorf("invoke of %s: registers %v neither 4-bit nor a range", in.Meth, in.Regs)
					}
				}
				units = append(units, (op+6)|uint16(len(in.Regs))<<8, uint16(m), uint16(in.Regs[0]))
			}
		default:
			return nil, 0, fmt.Errorf("opcode 0x%02x not supported", uint8(in.Op))
		}
		pc = len(units)
	}
	return units, outs, nil
}

// Bytes lays out and returns the dex file.
func (b *Builder) Bytes() ([]byte, error) {
	classes, err := b.order()
	if err != nil {
		return nil, err
	}
	p, err := b.collect()
	if err != nil {
		return nil, err
	}
	const headerSize = 0x70
	nS, nT, nP, nF, nM, nC := len(p.strs), len(p.typs), len(p.pros), len(p.flds), len(p.meths), len(classes)
	offS := uint32(headerSize)
	offT := offS + 4*uint32(nS)
	offP := offT + 4*uint32(nT)
	offF := offP + 12*uint32(nP)
	offM := offF + 8*uint32(nF)
	offC := offM + 8*uint32(nM)
	dataOff := offC + 32*uint32(nC)

	// The data section, written after the id tables: type lists, code items, string data,
	// class data, map list. Offsets in it are absolute: data is written into out directly.
	out := &buf{}
	out.Write(make([]byte, dataOff))
	type section struct {
		kind  uint16
		count uint32
		off   uint32
	}
	var sections []section
	mark := func(kind uint16, count uint32, off uint32) {
		if count > 0 {
			sections = append(sections, section{kind, count, off})
		}
	}

	// Type lists: proto parameters and class interfaces, each distinct list once.
	lists := map[string]uint32{}
	out.align4()
	listStart, nLists := uint32(out.Len()), uint32(0)
	addList := func(ts []string) {
		k := strings.Join(ts, ",")
		if len(ts) == 0 {
			return
		}
		if _, ok := lists[k]; ok {
			return
		}
		out.align4()
		lists[k] = uint32(out.Len())
		out.u32(uint32(len(ts)))
		for _, t := range ts {
			out.u16(p.types[t])
		}
		nLists++
	}
	for _, k := range p.pros {
		addList(splitParams(k.params))
	}
	for _, c := range classes {
		addList(c.Interfaces)
	}
	mark(0x1001, nLists, listStart)

	// Code items, one per method with code, in class order.
	out.align4()
	codeStart, nCode := uint32(out.Len()), uint32(0)
	codeOff := map[string]uint32{}
	for _, c := range classes {
		for _, ms := range [][]MethodDef{c.Direct, c.Virtual} {
			for _, md := range ms {
				m := Method{c.Name, md.Name, md.Params, md.Return}
				if md.Code == nil {
					if md.Access&(AccAbstract|0x100) == 0 {
						return nil, fmt.Errorf("dexgen: %s has no code and is neither abstract nor native", m)
					}
					continue
				}
				units, outs, err := p.encode(md)
				if err != nil {
					return nil, fmt.Errorf("dexgen: %s: %v", m, err)
				}
				ins := insWords(md)
				regs := md.Locals + ins
				if md.Locals < 0 || regs > 0xffff {
					return nil, fmt.Errorf("dexgen: %s: %d registers", m, regs)
				}
				out.align4()
				codeOff[m.String()] = uint32(out.Len())
				out.u16(uint32(regs))
				out.u16(uint32(ins))
				out.u16(uint32(outs))
				out.u16(0) // tries
				out.u32(0) // debug_info_off
				out.u32(uint32(len(units)))
				for _, u := range units {
					out.u16(uint32(u))
				}
				nCode++
			}
		}
	}
	mark(0x2001, nCode, codeStart)

	// String data, in string_ids order.
	strOff := make([]uint32, nS)
	sdStart := uint32(out.Len())
	for i, s := range p.strs {
		strOff[i] = uint32(out.Len())
		out.uleb(utf16Len(s))
		out.Write(mutf8(s))
		out.WriteByte(0)
	}
	mark(0x2002, uint32(nS), sdStart)

	// Class data.
	dataOf := make([]uint32, nC)
	cdStart, nCD := uint32(out.Len()), uint32(0)
	for i, c := range classes {
		if len(c.Static)+len(c.Instance)+len(c.Direct)+len(c.Virtual) == 0 {
			continue
		}
		dataOf[i] = uint32(out.Len())
		nCD++
		out.uleb(uint32(len(c.Static)))
		out.uleb(uint32(len(c.Instance)))
		out.uleb(uint32(len(c.Direct)))
		out.uleb(uint32(len(c.Virtual)))
		for _, fs := range [][]FieldDef{c.Static, c.Instance} {
			idx := make([]uint32, len(fs))
			for k, fd := range fs {
				idx[k] = p.fields[Field{c.Name, fd.Name, fd.Type}]
			}
			ord := sortedBy(idx)
			prev := uint32(0)
			for n, k := range ord {
				if n > 0 && idx[k] == prev {
					return nil, fmt.Errorf("dexgen: %s defines field %s twice", c.Name, fs[k].Name)
				}
				out.uleb(idx[k] - prev)
				out.uleb(fs[k].Access)
				prev = idx[k]
			}
		}
		for _, ms := range [][]MethodDef{c.Direct, c.Virtual} {
			idx := make([]uint32, len(ms))
			for k, md := range ms {
				idx[k] = p.methods[Method{c.Name, md.Name, md.Params, md.Return}.String()]
			}
			ord := sortedBy(idx)
			prev := uint32(0)
			for n, k := range ord {
				if n > 0 && idx[k] == prev {
					return nil, fmt.Errorf("dexgen: %s defines method %s twice", c.Name, ms[k].Name)
				}
				out.uleb(idx[k] - prev)
				out.uleb(ms[k].Access)
				out.uleb(codeOff[Method{c.Name, ms[k].Name, ms[k].Params, ms[k].Return}.String()])
				prev = idx[k]
			}
		}
	}
	mark(0x2000, nCD, cdStart)

	out.align4()
	mapOff := uint32(out.Len())
	all := []section{{0x0000, 1, 0}}
	for _, s := range []section{{0x0001, uint32(nS), offS}, {0x0002, uint32(nT), offT}, {0x0003, uint32(nP), offP},
		{0x0004, uint32(nF), offF}, {0x0005, uint32(nM), offM}, {0x0006, uint32(nC), offC}} {
		if s.count > 0 {
			all = append(all, s)
		}
	}
	all = append(all, sections...)
	all = append(all, section{0x1000, 1, mapOff})
	out.u32(uint32(len(all)))
	for _, s := range all {
		out.u16(uint32(s.kind))
		out.u16(0)
		out.u32(s.count)
		out.u32(s.off)
	}

	f := out.Bytes()
	put := func(off uint32, v uint32) { binary.LittleEndian.PutUint32(f[off:], v) }
	copy(f, "dex\n035\x00")
	put(32, uint32(len(f)))
	put(36, headerSize)
	put(40, 0x12345678)
	put(52, mapOff)
	tbl := func(at uint32, n int, off uint32) {
		if n > 0 {
			put(at, uint32(n))
			put(at+4, off)
		}
	}
	tbl(56, nS, offS)
	tbl(64, nT, offT)
	tbl(72, nP, offP)
	tbl(80, nF, offF)
	tbl(88, nM, offM)
	tbl(96, nC, offC)
	put(104, uint32(len(f))-dataOff)
	put(108, dataOff)
	for i := range p.strs {
		put(offS+4*uint32(i), strOff[i])
	}
	for i, t := range p.typs {
		put(offT+4*uint32(i), p.strings[t])
	}
	for i, k := range p.pros {
		o := offP + 12*uint32(i)
		sh := []byte{shorty(k.ret)}
		for _, t := range splitParams(k.params) {
			sh = append(sh, shorty(t))
		}
		put(o, p.strings[string(sh)])
		put(o+4, p.types[k.ret])
		put(o+8, lists[k.params])
	}
	for i, fl := range p.flds {
		o := offF + 8*uint32(i)
		binary.LittleEndian.PutUint16(f[o:], uint16(p.types[fl.Class]))
		binary.LittleEndian.PutUint16(f[o+2:], uint16(p.types[fl.Type]))
		put(o+4, p.strings[fl.Name])
	}
	for i, m := range p.meths {
		o := offM + 8*uint32(i)
		binary.LittleEndian.PutUint16(f[o:], uint16(p.types[m.Class]))
		binary.LittleEndian.PutUint16(f[o+2:], uint16(p.protos[protoKey{m.Return, strings.Join(m.Params, ",")}]))
		put(o+4, p.strings[m.Name])
	}
	const noIndex = 0xffffffff
	for i, c := range classes {
		o := offC + 32*uint32(i)
		put(o, p.types[c.Name])
		put(o+4, c.Access)
		put(o+8, noIndex)
		if c.Super != "" {
			put(o+8, p.types[c.Super])
		}
		put(o+12, lists[strings.Join(c.Interfaces, ",")])
		put(o+16, noIndex)
		if c.Source != "" {
			put(o+16, p.strings[c.Source])
		}
		put(o+20, 0) // annotations
		put(o+24, dataOf[i])
		put(o+28, 0) // static values
	}
	sum := sha1.Sum(f[32:])
	copy(f[12:32], sum[:])
	put(8, adler32.Checksum(f[12:]))
	return f, nil
}

// sortedBy returns the positions of idx in increasing order of their values.
func sortedBy(idx []uint32) []int {
	ord := make([]int, len(idx))
	for i := range ord {
		ord[i] = i
	}
	sort.SliceStable(ord, func(a, b int) bool { return idx[ord[a]] < idx[ord[b]] })
	return ord
}
