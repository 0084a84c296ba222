package dex

// Constant arguments of a call site. ConstArg reads the method holding an invoke again and
// follows, in code order from the method's start to the invoke, which registers hold a constant:
// const-string(/jumbo), move-object copies, sget-object of a static field, and the result of
// Uri.parse of a constant string. Every other instruction that writes a register forgets it, and
// every branch target and exception handler forgets everything (a join may bring another value),
// so a value is reported only when one straight run of code leads from the constant to the call.

// Arg is what reaches one parameter of a call site.
type Arg struct {
	// Resolved is false when the parameter's value is not a constant of the same method.
	Resolved bool
	// String is the constant string (for Uri.parse("…"), the string parsed).
	String string
	// Field is the descriptor of the static field read into the register ("Lpkg/C;->NAME:Type"),
	// when the value is a field rather than a string.
	Field string
}

// MethodParams lists the parameter type descriptors of method_ids[i].
func (f *File) MethodParams(i uint32) []string {
	if i >= f.nMethods {
		return nil
	}
	p := uint32(le16(f.b, f.methodOff+8*i+2))
	if p >= f.nProtos {
		return nil
	}
	params := le32(f.b, f.protoOff+12*p+8)
	if params == 0 || uint64(params)+4 > uint64(len(f.b)) {
		return nil
	}
	n := le32(f.b, params)
	if n > 255 || uint64(params)+4+2*uint64(n) > uint64(len(f.b)) {
		return nil
	}
	out := make([]string, n)
	for k := uint32(0); k < n; k++ {
		out[k] = f.TypeName(uint32(le16(f.b, params+4+2*k)))
	}
	return out
}

const uriParse = "Landroid/net/Uri;->parse(Ljava/lang/String;)Landroid/net/Uri;"

// ConstArg resolves parameter param (0-based, the receiver not counted) of the invoke r. ok is
// false when r is not an invoke this file can read again or param is not one of its parameters.
func (f *File) ConstArg(r Ref, param int) (a Arg, ok bool) {
	defer func() {
		if recover() != nil {
			a, ok = Arg{}, false
		}
	}()
	if r.Kind != Invoke {
		return Arg{}, false
	}
	code, n, pos, insn, found := f.site(r)
	if !found {
		return Arg{}, false
	}
	params := f.MethodParams(r.Target)
	if param < 0 || param >= len(params) {
		return Arg{}, false
	}
	reg, ok := f.invokeReg(insn, pos, r.Target, param, params)
	if !ok {
		return Arg{}, false
	}

	joins := f.joinPoints(code, insn, n)
	state := map[uint32]Arg{}
	var pending *Arg // the value a following move-result-object receives
	for i := uint32(0); i < pos; {
		u := insn(i)
		op := u & 0xff
		if op == 0 && u != 0 {
			i += payloadSize(insn, i)
			continue
		}
		width := uint32(widths[op])
		if width == 0 {
			return Arg{}, false
		}
		if joins[i] {
			clear(state)
			pending = nil
		}
		next := pending
		pending = nil
		aa, a4 := u>>8, (u>>8)&0xf
		switch {
		case op == 0x1a:
			state[aa] = Arg{Resolved: true, String: f.String(insn(i + 1))}
		case op == 0x1b:
			state[aa] = Arg{Resolved: true, String: f.String(insn(i+1) | insn(i+2)<<16)}
		case op == 0x07:
			copyReg(state, a4, u>>12)
		case op == 0x08:
			copyReg(state, aa, insn(i+1))
		case op == 0x09:
			copyReg(state, insn(i+1), insn(i+2))
		case op == 0x62:
			state[aa] = Arg{Resolved: true, Field: f.FieldDescriptor(insn(i + 1))}
		case op == 0x0c:
			if next != nil {
				state[aa] = *next
			} else {
				delete(state, aa)
			}
		case op == 0x71 || op == 0x77:
			if t := insn(i + 1); f.MethodDescriptor(t) == uriParse {
				if rg, ok := f.invokeReg(insn, i, t, 0, []string{"Ljava/lang/String;"}); ok {
					if v, ok := state[rg]; ok && v.Field == "" {
						pending = &v
					}
				}
			}
		default:
			forget(state, op, u, insn, i)
		}
		i += width
	}
	if v, ok := state[reg]; ok && !joins[pos] {
		return v, true
	}
	return Arg{}, true
}

// site locates the instruction of r in the code of its caller: the code_item's offset, its
// length in code units, the instruction's index and a reader of code units that panics past the
// end (the callers recover). found is false when r does not point at an instruction start of
// code this file walked.
func (f *File) site(r Ref) (code, n, pos uint32, insn func(uint32) uint32, found bool) {
	if int64(r.Caller) >= int64(len(f.codeOf)) || f.codeOf[r.Caller] == 0 {
		return 0, 0, 0, nil, false
	}
	code, found = f.codeOf[r.Caller]-1, true
	if uint64(code)+16 > uint64(len(f.b)) {
		return 0, 0, 0, nil, false
	}
	n = le32(f.b, code+12)
	start := code + 16
	if uint64(start)+2*uint64(n) > uint64(len(f.b)) || r.Pos < start || (r.Pos-start)%2 != 0 || (r.Pos-start)/2 >= n {
		return 0, 0, 0, nil, false
	}
	insn = func(i uint32) uint32 {
		if i >= n {
			panic("past code")
		}
		return uint32(le16(f.b, start+2*i))
	}
	return code, n, (r.Pos - start) / 2, insn, true
}

// invokeReg is the register holding parameter param of the invoke at unit i.
func (f *File) invokeReg(insn func(uint32) uint32, i, target uint32, param int, params []string) (uint32, bool) {
	u := insn(i)
	op := u & 0xff
	slot := uint32(0)
	if op != 0x71 && op != 0x77 {
		slot = 1 // the receiver
	}
	for _, t := range params[:param] {
		slot++
		if t == "J" || t == "D" {
			slot++
		}
	}
	return invokeSlot(insn, i, slot)
}

func copyReg(state map[uint32]Arg, dst, src uint32) {
	if v, ok := state[src]; ok {
		state[dst] = v
	} else {
		delete(state, dst)
	}
}

// forget drops the registers an instruction other than the tracked ones writes.
func forget(state map[uint32]Arg, op, u uint32, insn func(uint32) uint32, i uint32) {
	switch {
	case op == 0x00, op >= 0x0e && op <= 0x11, op == 0x1d, op == 0x1e, op >= 0x24 && op <= 0x2c,
		op >= 0x32 && op <= 0x43, op >= 0x4b && op <= 0x51, op >= 0x59 && op <= 0x5f,
		op >= 0x67 && op <= 0x7a, op >= 0xe3 && op <= 0xfd: // no register written
		return
	}
	var dst uint32
	switch {
	case op == 0x03 || op == 0x06 || op == 0x09:
		dst = insn(i + 1)
	case op == 0x01 || op == 0x04 || op == 0x07 || op == 0x12 || op == 0x20 || op == 0x21 || op == 0x23,
		op >= 0x52 && op <= 0x58, op >= 0x7b && op <= 0x8f, op >= 0xb0 && op <= 0xd7:
		dst = (u >> 8) & 0xf
	default:
		dst = u >> 8
	}
	delete(state, dst)
	if wide(op) {
		delete(state, dst+1)
	}
}

func wide(op uint32) bool {
	switch op {
	case 0x04, 0x05, 0x06, 0x0b, 0x16, 0x17, 0x18, 0x19, 0x45, 0x53, 0x61,
		0x7d, 0x7e, 0x80, 0x81, 0x83, 0x86, 0x88, 0x89, 0x8b:
		return true
	}
	return op >= 0x9b && op <= 0xa5 || op >= 0xab && op <= 0xaf || op >= 0xbb && op <= 0xc5 || op >= 0xcb && op <= 0xcf
}

func payloadSize(insn func(uint32) uint32, i uint32) uint32 {
	switch insn(i) {
	case 0x0100:
		return 4 + 2*insn(i+1)
	case 0x0200:
		return 2 + 4*insn(i+1)
	case 0x0300:
		elems := insn(i+2) | insn(i+3)<<16
		return 4 + (elems*insn(i+1)+1)/2
	}
	return 1
}

// joinPoints marks the code units other code can jump to: branch and switch targets and
// exception handlers.
func (f *File) joinPoints(code uint32, insn func(uint32) uint32, n uint32) map[uint32]bool {
	j := map[uint32]bool{}
	for i := uint32(0); i < n; {
		u := insn(i)
		op := u & 0xff
		if op == 0 && u != 0 {
			i += payloadSize(insn, i)
			continue
		}
		width := uint32(widths[op])
		if width == 0 {
			break
		}
		for _, t := range branchTargets(insn, i, n) {
			j[t] = true
		}
		i += width
	}
	for _, t := range f.tries(code, n) {
		for _, h := range t.handlers {
			j[h] = true
		}
	}
	return j
}

// branchTargets are the code units the instruction at i can jump to (goto, if-*, and the
// cases of a switch whose payload lies inside the code), not counting the next instruction.
func branchTargets(insn func(uint32) uint32, i, n uint32) []uint32 {
	u := insn(i)
	op := u & 0xff
	at := func(off int32) uint32 { return uint32(int64(i) + int64(off)) }
	switch {
	case op == 0x28:
		return []uint32{at(int32(int8(u >> 8)))}
	case op == 0x29, op >= 0x32 && op <= 0x3d:
		return []uint32{at(int32(int16(insn(i + 1))))}
	case op == 0x2a:
		return []uint32{at(int32(insn(i+1) | insn(i+2)<<16))}
	case op == 0x2b || op == 0x2c:
		p := at(int32(insn(i+1) | insn(i+2)<<16))
		if p >= n || p+1 >= n {
			return nil
		}
		size := insn(p + 1)
		first := p + 4
		if op == 0x2c {
			first = p + 2 + 2*size
		}
		var out []uint32
		for k := uint32(0); k < size && first+2*k+1 < n; k++ {
			out = append(out, at(int32(insn(first+2*k)|insn(first+2*k+1)<<16)))
		}
		return out
	}
	return nil
}

// maxHandlers bounds the handler addresses read from one code item's try blocks.
const maxHandlers = 1 << 16

// try is one try_item: the code units [start, end) it covers and the addresses of its handlers.
type try struct {
	start, end uint32
	handlers   []uint32
}

// tries reads the try_items after the code (4-aligned) and their handler lists, at most 1024
// handlers each and maxHandlers in all.
func (f *File) tries(code, n uint32) []try {
	b := f.b
	count := uint32(le16(b, code+6))
	if count == 0 {
		return nil
	}
	t := code + 16 + 2*n
	if n%2 == 1 {
		t += 2
	}
	list := t + 8*count
	if uint64(list) > uint64(len(b)) {
		return nil
	}
	out := make([]try, 0, count)
	total := 0
	for k := uint32(0); k < count; k++ {
		start := le32(b, t+8*k)
		it := try{start: start, end: start + uint32(le16(b, t+8*k+4))}
		p := list + uint32(le16(b, t+8*k+6))
		size, ok := sleb(b, &p)
		if !ok {
			out = append(out, it)
			continue
		}
		pairs := size
		if pairs < 0 {
			pairs = -pairs
		}
		for h := int32(0); h < pairs && h < 1024 && total < maxHandlers; h++ {
			if _, ok := uleb(b, &p); !ok {
				break
			}
			addr, ok := uleb(b, &p)
			if !ok {
				break
			}
			it.handlers = append(it.handlers, addr)
			total++
		}
		if size <= 0 {
			if addr, ok := uleb(b, &p); ok {
				it.handlers = append(it.handlers, addr)
			}
		}
		out = append(out, it)
	}
	return out
}

// uleb reads an unsigned LEB128 of at most 5 bytes at *p; false past the end or when longer.
func uleb(b []byte, p *uint32) (uint32, bool) {
	var v uint32
	for k := 0; k < 5; k++ {
		if *p >= uint32(len(b)) {
			return 0, false
		}
		c := b[*p]
		*p++
		v |= uint32(c&0x7f) << (7 * k)
		if c&0x80 == 0 {
			return v, true
		}
	}
	return 0, false
}

func sleb(b []byte, p *uint32) (int32, bool) {
	var v uint32
	for k := 0; k < 5; k++ {
		if *p >= uint32(len(b)) {
			return 0, false
		}
		c := b[*p]
		*p++
		v |= uint32(c&0x7f) << (7 * k)
		if c&0x80 == 0 {
			if shift := 7 * (k + 1); shift < 32 && c&0x40 != 0 {
				v |= ^uint32(0) << shift
			}
			return int32(v), true
		}
	}
	return 0, false
}
