// Package sm3 implements the SM3 cryptographic hash function of GB/T 32905-2016
// (also GM/T 0004-2012 and ISO/IEC 10118-3:2018).
//
// pilmon records an SM3 digest beside the SHA-256 address of every artifact because Chinese courts
// and forensic labs (司法鉴定) expect it. The implementation follows the text of the standard
// directly: padding as in §5.2, message expansion as in §5.3.2 and the compression function CF of
// §5.3.3; it is checked against the standard's Appendix A examples and against OpenSSL.
package sm3

import (
	"encoding/binary"
	"errors"
	"hash"
	"math/bits"
)

// Size is the size of an SM3 digest in bytes.
const Size = 32

// BlockSize is the block size of SM3 in bytes.
const BlockSize = 64

// iv is the initial value IV of §4.1.
var iv = [8]uint32{
	0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600,
	0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e,
}

// tRot[j] is T_j <<< (j mod 32) (§4.2 and §5.3.3), precomputed so the round does one addition.
var tRot = func() (t [64]uint32) {
	for j := range t {
		c := uint32(0x79cc4519)
		if j >= 16 {
			c = 0x7a879d8a
		}
		t[j] = bits.RotateLeft32(c, j%32)
	}
	return t
}()

type digest struct {
	v   [8]uint32
	buf [BlockSize]byte
	nx  int
	len uint64
}

// New returns a new hash.Hash computing the SM3 checksum.
func New() hash.Hash {
	d := new(digest)
	d.Reset()
	return d
}

// Sum returns the SM3 digest of data.
func Sum(data []byte) [Size]byte {
	var d digest
	d.Reset()
	d.Write(data)
	return d.checkSum()
}

func (d *digest) Reset() {
	d.v = iv
	d.nx = 0
	d.len = 0
}

func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return BlockSize }

func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.nx > 0 {
		c := copy(d.buf[d.nx:], p)
		d.nx += c
		p = p[c:]
		if d.nx == BlockSize {
			block(&d.v, d.buf[:])
			d.nx = 0
		}
	}
	if len(p) >= BlockSize {
		m := len(p) &^ (BlockSize - 1)
		block(&d.v, p[:m])
		p = p[m:]
	}
	if len(p) > 0 {
		d.nx = copy(d.buf[:], p)
	}
	return n, nil
}

// Sum appends the digest of the data written so far to b; it does not change the hash state.
func (d *digest) Sum(b []byte) []byte {
	d0 := *d
	s := d0.checkSum()
	return append(b, s[:]...)
}

// checkSum pads as in §5.2: a single 1 bit, zeros to 448 mod 512 bits, then the 64-bit big-endian
// bit length.
func (d *digest) checkSum() [Size]byte {
	bitLen := d.len << 3
	var pad [BlockSize + 8]byte
	pad[0] = 0x80
	n := 56 - int(d.len%BlockSize)
	if n <= 0 {
		n += BlockSize
	}
	binary.BigEndian.PutUint64(pad[n:], bitLen)
	d.Write(pad[:n+8])
	if d.nx != 0 {
		panic("sm3: internal error: padding did not end on a block boundary")
	}
	var out [Size]byte
	for i, x := range d.v {
		binary.BigEndian.PutUint32(out[i*4:], x)
	}
	return out
}

const (
	magic         = "sm3\x03"
	marshaledSize = len(magic) + 8*4 + BlockSize + 8
)

// MarshalBinary saves the hash state, like the standard library's hashes, so a long capture can be
// checkpointed.
func (d *digest) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, marshaledSize))
}

func (d *digest) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, magic...)
	for _, x := range d.v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	b = append(b, d.buf[:d.nx]...)
	b = append(b, make([]byte, len(d.buf)-d.nx)...)
	b = binary.BigEndian.AppendUint64(b, d.len)
	return b, nil
}

func (d *digest) UnmarshalBinary(b []byte) error {
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return errors.New("sm3: invalid hash state identifier")
	}
	if len(b) != marshaledSize {
		return errors.New("sm3: invalid hash state size")
	}
	b = b[len(magic):]
	for i := range d.v {
		d.v[i] = binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	copy(d.buf[:], b[:BlockSize])
	b = b[BlockSize:]
	d.len = binary.BigEndian.Uint64(b)
	d.nx = int(d.len % BlockSize)
	return nil
}

func p0(x uint32) uint32        { return x ^ bits.RotateLeft32(x, 9) ^ bits.RotateLeft32(x, 17) }
func maj(x, y, z uint32) uint32 { return (x & y) | (z & (x | y)) }
func ch(x, y, z uint32) uint32  { return z ^ (x & (y ^ z)) }
func p1(x uint32) uint32        { return x ^ bits.RotateLeft32(x, 15) ^ bits.RotateLeft32(x, 23) }

// block applies the compression function CF (§5.3.3) to every 64-byte block of p.
func block(v *[8]uint32, p []byte) {
	var w [68]uint32
	for len(p) >= BlockSize {
		// Message expansion, §5.3.2. W'_j = W_j xor W_{j+4} is formed inside the rounds.
		for j := 0; j < 16; j++ {
			w[j] = binary.BigEndian.Uint32(p[4*j:])
		}
		for j := 16; j < 68; j++ {
			w[j] = p1(w[j-16]^w[j-9]^bits.RotateLeft32(w[j-3], 15)) ^ bits.RotateLeft32(w[j-13], 7) ^ w[j-6]
		}

		a, b, c, d, e, f, g, h := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		for j := 0; j < 64; j++ {
			a12 := bits.RotateLeft32(a, 12)
			ss1 := bits.RotateLeft32(a12+e+tRot[j], 7)
			ss2 := ss1 ^ a12
			var tt1, tt2 uint32
			if j < 16 { // FF_j = GG_j = X xor Y xor Z
				tt1 = (a ^ b ^ c) + d + ss2 + (w[j] ^ w[j+4])
				tt2 = (e ^ f ^ g) + h + ss1 + w[j]
			} else { // FF_j: majority, GG_j: choice
				tt1 = maj(a, b, c) + d + ss2 + (w[j] ^ w[j+4])
				tt2 = ch(e, f, g) + h + ss1 + w[j]
			}
			d = c
			c = bits.RotateLeft32(b, 9)
			b = a
			a = tt1
			h = g
			g = bits.RotateLeft32(f, 19)
			f = e
			e = p0(tt2)
		}
		v[0] ^= a
		v[1] ^= b
		v[2] ^= c
		v[3] ^= d
		v[4] ^= e
		v[5] ^= f
		v[6] ^= g
		v[7] ^= h
		p = p[BlockSize:]
	}
}
