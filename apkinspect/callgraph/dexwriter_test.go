package callgraph

import (
	"encoding/binary"
	"hash/adler32"
)

// A minimal dex writer for tests: enough tables for the graph (strings, types, one proto per
// method shape, methods, class definitions with direct and virtual methods and their code).
// The output passes dex.Parse; it is not meant to pass the platform's verifier.

type tMethod struct {
	class int    // index into tDex.types
	name  string // method name
	ret   string // return type descriptor; the prototype has no parameters
}

type tDef struct {
	method int      // index into tDex.methods
	code   []uint16 // nil: no code (abstract)
	share  int      // non-zero: every def with the same share points at one code item
}

type tClass struct {
	typ     int // index into tDex.types
	super   int // -1 for none
	ifaces  []int
	direct  []tDef
	virtual []tDef
}

type tDex struct {
	types   []string
	methods []tMethod
	classes []tClass
	typeIdx map[string]int
}

func (d *tDex) typ(desc string) int {
	if d.typeIdx == nil {
		d.typeIdx = map[string]int{}
	}
	if i, ok := d.typeIdx[desc]; ok {
		return i
	}
	d.typeIdx[desc] = len(d.types)
	d.types = append(d.types, desc)
	return len(d.types) - 1
}

func (d *tDex) method(class, name, ret string) int {
	d.methods = append(d.methods, tMethod{d.typ(class), name, ret})
	return len(d.methods) - 1
}

// Instructions.
func invokeStatic(m int) []uint16  { return []uint16{0x0071, uint16(m), 0} }
func invokeDirect(m int) []uint16  { return []uint16{0x1070, uint16(m), 0} }
func invokeVirtual(m int) []uint16 { return []uint16{0x106e, uint16(m), 0} }
func newInstance(t int) []uint16   { return []uint16{0x0022, uint16(t)} }
func returnVoid() []uint16         { return []uint16{0x000e} }

func code(parts ...[]uint16) []uint16 {
	var c []uint16
	for _, p := range parts {
		c = append(c, p...)
	}
	return append(c, returnVoid()...)
}

func (d *tDex) bytes() []byte {
	le := binary.LittleEndian
	// Strings: type descriptors, method names, shorties.
	strIdx := map[string]int{}
	var strs []string
	str := func(s string) int {
		if i, ok := strIdx[s]; ok {
			return i
		}
		strIdx[s] = len(strs)
		strs = append(strs, s)
		return len(strs) - 1
	}
	for _, t := range d.types {
		str(t)
	}
	protoIdx := map[string]int{}
	var protos []string
	for _, m := range d.methods {
		str(m.name)
		if _, ok := protoIdx[m.ret]; !ok {
			protoIdx[m.ret] = len(protos)
			protos = append(protos, m.ret)
			d.typ(m.ret)
			str(m.ret)
		}
	}
	shorty := func(ret string) string {
		if ret[0] == 'L' || ret[0] == '[' {
			return "L"
		}
		return ret[:1]
	}
	for _, p := range protos {
		str(shorty(p))
	}
	ns, nt, np, nm, nc := len(strs), len(d.types), len(protos), len(d.methods), len(d.classes)
	strOff := 0x70
	typeOff := strOff + 4*ns
	protoOff := typeOff + 4*nt
	methodOff := protoOff + 12*np
	classOff := methodOff + 8*nm
	dataOff := classOff + 32*nc
	b := make([]byte, dataOff, dataOff+16*ns+64*nm)
	for i, s := range strs {
		le.PutUint32(b[strOff+4*i:], uint32(len(b)))
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(append(b, s...), 0)
	}
	for i, t := range d.types {
		le.PutUint32(b[typeOff+4*i:], uint32(strIdx[t]))
	}
	for i, p := range protos {
		le.PutUint32(b[protoOff+12*i:], uint32(strIdx[shorty(p)]))
		le.PutUint32(b[protoOff+12*i+4:], uint32(d.typeIdx[p]))
	}
	for i, m := range d.methods {
		le.PutUint16(b[methodOff+8*i:], uint16(m.class))
		le.PutUint16(b[methodOff+8*i+2:], uint16(protoIdx[m.ret]))
		le.PutUint32(b[methodOff+8*i+4:], uint32(strIdx[m.name]))
	}
	align := func() {
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	shared := map[int]uint64{}
	codeOff := func(c []uint16, share int) uint64 {
		if c == nil {
			return 0
		}
		if off, ok := shared[share]; ok && share != 0 {
			return off
		}
		align()
		shared[share] = uint64(len(b))
		off := len(b)
		b = le.AppendUint16(b, 4) // registers
		b = le.AppendUint16(b, 0) // ins
		b = le.AppendUint16(b, 1) // outs
		b = le.AppendUint16(b, 0) // tries
		b = le.AppendUint32(b, 0) // debug info
		b = le.AppendUint32(b, uint32(len(c)))
		for _, u := range c {
			b = le.AppendUint16(b, u)
		}
		return uint64(off)
	}
	for i, c := range d.classes {
		o := classOff + 32*i
		le.PutUint32(b[o:], uint32(c.typ))
		le.PutUint32(b[o+4:], 1) // public
		super := uint32(0xffffffff)
		if c.super >= 0 {
			super = uint32(c.super)
		}
		le.PutUint32(b[o+8:], super)
		le.PutUint32(b[o+16:], 0xffffffff) // no source file
		if len(c.ifaces) > 0 {
			align()
			le.PutUint32(b[o+12:], uint32(len(b)))
			b = le.AppendUint32(b, uint32(len(c.ifaces)))
			for _, t := range c.ifaces {
				b = le.AppendUint16(b, uint16(t))
			}
		}
		offs := make([][]uint64, 2)
		for k, list := range [][]tDef{c.direct, c.virtual} {
			for _, m := range list {
				offs[k] = append(offs[k], codeOff(m.code, m.share))
			}
		}
		le.PutUint32(b[o+24:], uint32(len(b)))
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, 0)
		b = binary.AppendUvarint(b, uint64(len(c.direct)))
		b = binary.AppendUvarint(b, uint64(len(c.virtual)))
		for k, list := range [][]tDef{c.direct, c.virtual} {
			prev := 0
			for j, m := range list {
				b = binary.AppendUvarint(b, uint64(m.method-prev))
				prev = m.method
				b = binary.AppendUvarint(b, 1)
				b = binary.AppendUvarint(b, offs[k][j])
			}
		}
	}
	align()
	copy(b, "dex\n035\x00")
	le.PutUint32(b[32:], uint32(len(b)))
	le.PutUint32(b[36:], 0x70)
	le.PutUint32(b[40:], 0x12345678)
	for _, t := range []struct{ at, n, off int }{{56, ns, strOff}, {64, nt, typeOff}, {72, np, protoOff}, {88, nm, methodOff}, {96, nc, classOff}} {
		le.PutUint32(b[t.at:], uint32(t.n))
		le.PutUint32(b[t.at+4:], uint32(t.off))
	}
	le.PutUint32(b[104:], uint32(len(b)-dataOff))
	le.PutUint32(b[108:], uint32(dataOff))
	le.PutUint32(b[8:], adler32.Checksum(b[12:]))
	return b
}
