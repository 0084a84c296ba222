package casefile

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"strings"
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

// skiaPDF is the skeleton of a PDF as Chromium (Skia) prints it: pages in a two-level page tree
// and the named destinations the contents page links to.
const skiaPDF = "%PDF-1.4\n%\xe2\xe3\n1 0 obj\n<</Type /Page\n/Parent 5 0 R>>\nendobj\n2 0 obj\n<</Filter /FlateDecode\n/Length 3>> stream\nx\x9c\x03\nendstream\nendobj\n" +
	"3 0 obj\n<</Type /Page\n/Parent 5 0 R>>\nendobj\n4 0 obj\n<</Type /Page\n/Parent 6 0 R>>\nendobj\n" +
	"5 0 obj\n<</Type /Pages\n/Count 2\n/Kids [1 0 R 3 0 R]\n/Parent 7 0 R>>\nendobj\n6 0 obj\n<</Type /Pages\n/Count 1\n/Kids [4 0 R]\n/Parent 7 0 R>>\nendobj\n" +
	"7 0 obj\n<</Type /Pages\n/Count 3\n/Kids [5 0 R 6 0 R]>>\nendobj\n8 0 obj\n<</items [3 0 R /XYZ 0 841.91998 0]\n/verify [4 0 R /XYZ 0 841.91998 0]>>\nendobj\n" +
	"9 0 obj\n<</Type /Catalog\n/Pages 7 0 R\n/Dests 8 0 R>>\nendobj\ntrailer\n<</Root 9 0 R>>\n%%EOF\n"

// TestDestPages reads the skeleton: pages in tree order, destinations on their pages; a cyclic
// or missing page tree is an error, not a hang.
func TestDestPages(t *testing.T) {
	got, err := destPages(strings.NewReader(skiaPDF))
	if err != nil || got["items"] != 2 || got["verify"] != 3 || len(got) != 2 {
		t.Fatalf("destPages = %v, %v", got, err)
	}
	cyclic := strings.Replace(skiaPDF, "/Kids [4 0 R]", "/Kids [4 0 R 7 0 R]", 1)
	if _, err := destPages(strings.NewReader(cyclic)); err == nil {
		t.Error("a cyclic page tree was read")
	}
	if _, err := destPages(strings.NewReader("%PDF-1.4\n")); err == nil {
		t.Error("a PDF without pages was read")
	}
}

// FuzzDestPages feeds destPages hostile PDFs: it must never panic or loop, and every page number
// it returns is within the pages it counted.
func FuzzDestPages(f *testing.F) {
	f.Add([]byte(skiaPDF))
	f.Add([]byte(strings.Replace(skiaPDF, "/Kids [4 0 R]", "/Kids [7 0 R]", 1)))
	f.Add([]byte(strings.Repeat("1 0 obj\n<</Type /Pages\n/Kids [1 0 R 1 0 R]>>\nendobj\n", 3)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := destPages(bytes.NewReader(data))
		if err != nil {
			return
		}
		for k, p := range got {
			if p < 1 || p > maxPDFPages {
				t.Fatalf("destination %q on page %d", k, p)
			}
		}
	})
}
