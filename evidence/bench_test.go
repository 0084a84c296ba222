package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"testing"

	"pilmon/sm3"
)

// BenchmarkPut64MiB compares Put of a 64 MiB stream (SHA-256 and SM3 in one pass, temp file,
// fsync, link, sidecar) with plain sha256sum-style hashing of the same bytes, and with the two
// hashes alone, so the cost of each layer shows: go test -bench Put64MiB -run '^$' ./evidence
func BenchmarkPut64MiB(b *testing.B) {
	const size = 64 << 20
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < size; i += 8 {
		binary.LittleEndian.PutUint64(data[i:], rng.Uint64())
	}
	b.Run("put", func(b *testing.B) {
		s := newStore(b, Options{})
		b.SetBytes(size)
		i := uint64(0)
		for b.Loop() {
			i++
			binary.LittleEndian.PutUint64(data, i) // new bytes each time, so every Put stores a blob
			if _, err := s.Put(bytes.NewReader(data), Meta{Method: "file_import", Source: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sha256-only", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			h := sha256.New()
			io.Copy(h, bytes.NewReader(data))
			h.Sum(nil)
		}
	})
	b.Run("sha256+sm3", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			h1, h2 := sha256.New(), sm3.New()
			io.Copy(io.MultiWriter(h1, h2), bytes.NewReader(data))
			h1.Sum(nil)
			h2.Sum(nil)
		}
	})
}
