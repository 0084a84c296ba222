package casefile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
)

// FuzzVerify feeds Verify hostile zips: it must never panic and must either refuse the input or
// report on it; a bundle that is not exactly what was signed must never verify.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	bundle := fx.export(f, fx.deps(true))
	f.Add(bundle)
	f.Add(bundle[:len(bundle)/2])
	f.Add([]byte("PK\x05\x06" + string(make([]byte, 18))))
	f.Add([]byte{})
	pub := testKey().Public().(ed25519.PublicKey)
	signed := sha256Hex(member(f, bundle, ManifestName))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := Verify(bytes.NewReader(data), int64(len(data)), VerifyOptions{PublicKey: pub})
		if err != nil {
			return
		}
		if rep.OK && !bytes.Equal(data, bundle) {
			// Only the zip container may differ (comments, order, compression); the signed manifest
			// and every listed member were re-checked, so the content is the signed one.
			if rep.ManifestSHA256 != signed {
				t.Fatalf("a bundle with another manifest verified")
			}
		}
	})
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hexString(s[:])
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// FuzzVerifyTimestamp feeds the RFC 3161 / CMS parser hostile DER.
func FuzzVerifyTimestamp(f *testing.F) {
	f.Add([]byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x02})
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Add([]byte{})
	digest := sha256.Sum256([]byte("manifest"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := VerifyTimestamp(data, digest[:], nil)
		if err == nil && info.GenTime.IsZero() {
			t.Fatal("a token without a time verified")
		}
	})
}
