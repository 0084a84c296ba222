package dex

// Where the value of a static field read goes within its method. OnlyPassedTo follows the
// register an sget-object writes along every path of the method's control flow (branches,
// switch cases, exception handlers) and every move-object copy of it, and asks of each
// instruction that reads it whether the use is one the caller accepts. It shares ConstArg's
// reading of the code (site, widths, branchTargets, tries, invokeSlot, wide) and is its converse:
// ConstArg follows a constant forward to one call, OnlyPassedTo follows one value to all its uses.

// maxUseSteps bounds the instructions OnlyPassedTo visits for one read, maxFileUseSteps those
// for all reads of one file (try blocks looked at count too) and maxCopies the registers holding
// the value at once; past any, the answer is false (the value may go anywhere), so a hostile
// file costs reports, not time.
const (
	maxUseSteps     = 1 << 16
	maxFileUseSteps = 1 << 22
	maxCopies       = 64
)

// OnlyPassedTo reports whether the value of the sget-object r is used, on every path of its
// method, only as a parameter of invokes accept approves: accept(method, param) with
// method a method_ids index and param the 0-based parameter (-1 for the receiver). A value
// never used counts as passed nowhere else (true). Any other use (a return, a field or array
// store, a comparison, a throw, a receiver accept refuses, an invoke it refuses), code this
// walk cannot read, or a walk past maxUseSteps or the file's maxFileUseSteps gives false: the
// caller must then assume the value is used.
func (f *File) OnlyPassedTo(r Ref, accept func(method uint32, param int) bool) (only bool) {
	defer func() {
		if recover() != nil {
			only = false
		}
	}()
	if r.Kind != FieldRead || r.Op != 0x62 {
		return false
	}
	if f.useSteps > maxFileUseSteps {
		return false
	}
	code, n, pos, insn, found := f.site(r)
	if !found || insn(pos)&0xff != 0x62 {
		return false
	}
	tries := f.tries(code, n)
	f.useSteps += len(tries)
	// live[i] holds the registers that may hold the value when instruction i starts; a
	// register set only grows, so the walk ends.
	live := map[uint32][]uint32{}
	type item struct {
		at   uint32
		regs []uint32
	}
	var work []item
	flow := func(to uint32, regs []uint32) bool {
		if len(regs) == 0 {
			return true // the value is gone from every register on this path
		}
		if to >= n || len(regs) > maxCopies {
			return false // a path leaves the code (not code the device runs), or copies abound
		}
		merged, grew := union(live[to], regs)
		if grew {
			live[to] = merged
			work = append(work, item{to, merged})
		}
		return true
	}
	// The sget itself may throw (its class's initialiser) only before it writes: its handlers
	// do not receive the value.
	if !flow(pos+2, []uint32{insn(pos) >> 8}) {
		return false
	}
	for steps := 0; len(work) > 0; steps++ {
		f.useSteps += 1 + len(tries)
		if steps >= maxUseSteps || f.useSteps > maxFileUseSteps {
			return false
		}
		it := work[len(work)-1]
		work = work[:len(work)-1]
		i, regs := it.at, it.regs
		u := insn(i)
		op := u & 0xff
		width := uint32(widths[op])
		if width == 0 || op == 0 && u != 0 {
			return false // an unknown opcode or a payload reached by a jump
		}
		out, ok := f.step(insn, i, regs, accept)
		if !ok {
			return false
		}
		// An instruction in a try block may throw before it writes: its handlers receive the
		// registers as they were.
		if !f.handlersFlow(tries, i, regs, flow) {
			return false
		}
		for _, t := range branchTargets(insn, i, n) {
			if !flow(t, out) {
				return false
			}
		}
		switch {
		case op >= 0x0e && op <= 0x11, op == 0x27, op >= 0x28 && op <= 0x2a:
			// return*, throw and goto do not fall through.
		case !flow(i+width, out):
			return false
		}
	}
	return true
}

// handlersFlow passes regs to the handlers of every try block covering instruction i.
func (f *File) handlersFlow(tries []try, i uint32, regs []uint32, flow func(uint32, []uint32) bool) bool {
	for _, t := range tries {
		if i < t.start || i >= t.end {
			continue
		}
		for _, h := range t.handlers {
			if !flow(h, regs) {
				return false
			}
		}
	}
	return true
}

// step applies instruction i to the registers holding the value: a use accept refuses gives
// false; a move-object copy adds its destination; any other write removes its destination.
func (f *File) step(insn func(uint32) uint32, i uint32, regs []uint32, accept func(uint32, int) bool) ([]uint32, bool) {
	u := insn(i)
	op := u & 0xff
	holds := func(r uint32) bool {
		for _, x := range regs {
			if x == r {
				return true
			}
		}
		return false
	}
	switch op {
	case 0x07, 0x08, 0x09: // move-object: the copy holds the value too, or no longer does
		dst, src := (u>>8)&0xf, u>>12
		if op == 0x08 {
			dst, src = u>>8, insn(i+1)
		} else if op == 0x09 {
			dst, src = insn(i+1), insn(i+2)
		}
		if holds(src) {
			out, _ := union(regs, []uint32{dst})
			return out, true
		}
		return without(regs, dst), true
	}
	if (op >= 0x6e && op <= 0x72) || (op >= 0x74 && op <= 0x78) {
		target := insn(i + 1)
		params := f.MethodParams(target)
		recv := uint32(0)
		if op != 0x71 && op != 0x77 {
			recv = 1
		}
		count := u >> 8
		if op <= 0x72 {
			count = u >> 12
		}
		// Every register the invoke passes is matched to its parameter; registers past the
		// declared ones (a descriptor that disagrees with the call) are uses nobody accepts.
		for s := uint32(0); s < count; s++ {
			reg, ok := invokeSlot(insn, i, s)
			if !ok {
				return nil, false
			}
			if holds(reg) && !accept(target, paramOfSlot(params, recv, s)) {
				return nil, false
			}
		}
		return regs, true
	}
	dst, reads, ok := operands(insn, i)
	if !ok || anyOf(reads, holds) {
		return nil, false
	}
	if dst >= 0 {
		regs = without(regs, uint32(dst))
		if wide(op) {
			regs = without(regs, uint32(dst)+1)
		}
	}
	return regs, true
}

// paramOfSlot is the parameter an invoke's argument slot s passes: -1 for the receiver, the
// parameter index, or -2 for the second register of a wide parameter or a slot past them all.
func paramOfSlot(params []string, recv, s uint32) int {
	if s < recv {
		return -1
	}
	at := recv
	for k, t := range params {
		if s == at {
			return k
		}
		at++
		if t == "J" || t == "D" {
			if s == at {
				return -2
			}
			at++
		}
	}
	return -2
}

// invokeSlot is the register in argument slot s of the invoke at i.
func invokeSlot(insn func(uint32) uint32, i, s uint32) (uint32, bool) {
	u := insn(i)
	op := u & 0xff
	switch {
	case op >= 0x6e && op <= 0x72:
		if s >= u>>12 || s >= 5 {
			return 0, false
		}
		w := insn(i + 2)
		return [5]uint32{w & 0xf, (w >> 4) & 0xf, (w >> 8) & 0xf, w >> 12, (u >> 8) & 0xf}[s], true
	case op >= 0x74 && op <= 0x78:
		if s >= u>>8 {
			return 0, false
		}
		return insn(i+2) + s, true
	}
	return 0, false
}

// operands reads the registers a non-invoke instruction writes (dst, -1 when none) and reads.
// Wide reads name only their first register: a register holding an object is never the second
// half of a wide value in code the verifier accepts.
func operands(insn func(uint32) uint32, i uint32) (dst int64, reads []uint32, ok bool) {
	u := insn(i)
	op := u & 0xff
	a4, b4, aa := (u>>8)&0xf, u>>12, u>>8
	switch {
	case op == 0x00 || op == 0x0e || op >= 0x28 && op <= 0x2a || op >= 0x3e && op <= 0x43 || op == 0x73 ||
		op >= 0x79 && op <= 0x7a || op >= 0xe3 && op <= 0xf9:
		return -1, nil, true
	case op == 0x01 || op == 0x04 || op == 0x07 || op == 0x20 || op == 0x21 || op == 0x23 || op >= 0x52 && op <= 0x58 ||
		op >= 0x7b && op <= 0x8f || op >= 0xd0 && op <= 0xd7:
		return int64(a4), []uint32{b4}, true
	case op == 0x02 || op == 0x05 || op == 0x08:
		return int64(aa), []uint32{insn(i + 1)}, true
	case op == 0x03 || op == 0x06 || op == 0x09:
		return int64(insn(i + 1)), []uint32{insn(i + 2)}, true
	case op >= 0x0a && op <= 0x0d, op >= 0x13 && op <= 0x1c, op == 0x22, op >= 0x60 && op <= 0x66,
		op == 0xfe || op == 0xff:
		return int64(aa), nil, true
	case op == 0x12:
		return int64(a4), nil, true
	case op >= 0x0f && op <= 0x11, op == 0x1d, op == 0x1e, op == 0x1f, op == 0x26, op == 0x27, op == 0x2b, op == 0x2c,
		op >= 0x38 && op <= 0x3d, op >= 0x67 && op <= 0x6d:
		return -1, []uint32{aa}, true
	case op >= 0x32 && op <= 0x37, op >= 0x59 && op <= 0x5f:
		return -1, []uint32{a4, b4}, true
	case op >= 0x2d && op <= 0x31, op >= 0x44 && op <= 0x4a, op >= 0x90 && op <= 0xaf:
		w := insn(i + 1)
		return int64(aa), []uint32{w & 0xff, w >> 8}, true
	case op >= 0x4b && op <= 0x51:
		w := insn(i + 1)
		return -1, []uint32{aa, w & 0xff, w >> 8}, true
	case op >= 0xb0 && op <= 0xcf:
		return int64(a4), []uint32{a4, b4}, true
	case op >= 0xd8 && op <= 0xe2:
		return int64(aa), []uint32{insn(i+1) & 0xff}, true
	case op == 0x24 || op == 0xfa || op == 0xfc: // filled-new-array, invoke-polymorphic, invoke-custom
		w := insn(i + 2)
		all := []uint32{w & 0xf, (w >> 4) & 0xf, (w >> 8) & 0xf, w >> 12, (u >> 8) & 0xf}
		c := b4
		if c > 5 {
			return -1, nil, false
		}
		return -1, all[:c], true
	case op == 0x25 || op == 0xfb || op == 0xfd:
		var rs []uint32
		for s := uint32(0); s < aa; s++ {
			rs = append(rs, insn(i+2)+s)
		}
		return -1, rs, true
	}
	return -1, nil, false
}

func anyOf(rs []uint32, holds func(uint32) bool) bool {
	for _, r := range rs {
		if holds(r) {
			return true
		}
	}
	return false
}

// union adds b's registers to a (a new slice when it grows) and says whether it grew.
func union(a, b []uint32) ([]uint32, bool) {
	out := a
	grew := false
	for _, r := range b {
		found := false
		for _, x := range out {
			if x == r {
				found = true
				break
			}
		}
		if !found {
			if !grew {
				out = append([]uint32(nil), a...)
				grew = true
			}
			out = append(out, r)
		}
	}
	return out, grew
}

func without(regs []uint32, r uint32) []uint32 {
	for k, x := range regs {
		if x == r {
			out := append([]uint32(nil), regs[:k]...)
			return append(out, regs[k+1:]...)
		}
	}
	return regs
}
