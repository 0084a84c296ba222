package sm3

import (
	"bytes"
	"encoding"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The two examples of GB/T 32905-2016 Appendix A.
var standardVectors = []struct{ in, want string }{
	{"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"},
	{strings.Repeat("abcd", 16), "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"},
}

func TestStandardVectors(t *testing.T) {
	for _, v := range standardVectors {
		if got := hex.EncodeToString(func() []byte { s := Sum([]byte(v.in)); return s[:] }()); got != v.want {
			t.Errorf("Sum(%q) = %s, want %s", v.in, got, v.want)
		}
		h := New()
		for i := 0; i < len(v.in); i++ { // one byte at a time exercises the partial-block path
			h.Write([]byte{v.in[i]})
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != v.want {
			t.Errorf("bytewise New().Write(%q) = %s, want %s", v.in, got, v.want)
		}
	}
}

func TestSumDoesNotChangeState(t *testing.T) {
	h := New()
	h.Write([]byte("ab"))
	first := h.Sum(nil)
	if again := h.Sum(nil); !bytes.Equal(first, again) {
		t.Fatalf("Sum changed the state: %x then %x", first, again)
	}
	h.Write([]byte("c"))
	if got := hex.EncodeToString(h.Sum([]byte{0xff})[1:]); got != standardVectors[0].want {
		t.Fatalf("after Sum and more Write: %s, want %s", got, standardVectors[0].want)
	}
	h.Reset()
	h.Write([]byte("abc"))
	if got := hex.EncodeToString(h.Sum(nil)); got != standardVectors[0].want {
		t.Fatalf("after Reset: %s", got)
	}
	if h.Size() != Size || h.BlockSize() != BlockSize {
		t.Fatalf("Size/BlockSize = %d/%d", h.Size(), h.BlockSize())
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 50)
	for _, cut := range []int{0, 1, 63, 64, 65, 200, len(data)} {
		h := New()
		h.Write(data[:cut])
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		h2 := New()
		if err := h2.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		h2.Write(data[cut:])
		want := Sum(data)
		if !bytes.Equal(h2.Sum(nil), want[:]) {
			t.Fatalf("cut %d: restored state gives a different digest", cut)
		}
	}
	if err := New().(encoding.BinaryUnmarshaler).UnmarshalBinary([]byte("nope")); err == nil {
		t.Fatal("UnmarshalBinary accepted garbage")
	}
}

// TestAgainstOpenSSL compares with `openssl dgst -sm3` on random inputs of many lengths, fed to
// this implementation in random-sized writes.
func TestAgainstOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (Debian package openssl); skipping the SM3 cross-check")
	}
	if out, err := exec.Command(openssl, "dgst", "-sm3", "/dev/null").CombinedOutput(); err != nil {
		t.Skipf("this openssl has no SM3 (%v: %s); skipping the cross-check", err, bytes.TrimSpace(out))
	}
	rng := rand.New(rand.NewPCG(32905, 2016))
	var lengths []int
	for n := 0; n <= 260; n++ {
		lengths = append(lengths, n)
	}
	for i := 0; i < 40; i++ {
		lengths = append(lengths, rng.IntN(1<<20))
	}
	lengths = append(lengths, 1<<20, 3<<20+17)

	dir := t.TempDir()
	inputs := make(map[string][]byte)
	args := []string{"dgst", "-sm3", "-r"}
	for i, n := range lengths {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		name := filepath.Join(dir, fmt.Sprintf("in%03d", i))
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		inputs[name] = b
		args = append(args, name)
	}
	out, err := exec.Command(openssl, args...).Output()
	if err != nil {
		t.Fatalf("openssl dgst -sm3: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// -r output: "<hex> *<file>"
		sum, name, ok := strings.Cut(line, " ")
		if !ok {
			t.Fatalf("unexpected openssl output line %q", line)
		}
		name = strings.TrimPrefix(name, "*")
		data, ok := inputs[name]
		if !ok {
			t.Fatalf("openssl named an unknown file in %q", line)
		}
		h := New()
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(200))
			h.Write(rest[:k])
			rest = rest[k:]
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != sum {
			t.Errorf("length %d: sm3 %s, openssl %s", len(data), got, sum)
		}
		checked++
	}
	if checked != len(lengths) {
		t.Fatalf("checked %d inputs, want %d", checked, len(lengths))
	}
}

func BenchmarkSM3(b *testing.B) {
	for _, size := range []int{64, 1024, 8 << 10, 1 << 20} {
		buf := make([]byte, size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			h := New()
			var out [Size]byte
			for b.Loop() {
				h.Reset()
				h.Write(buf)
				h.Sum(out[:0])
			}
		})
	}
}
