// Package sigblock reads the signing certificates of an APK: v1 (the PKCS#7 SignedData in
// META-INF/*.RSA|DSA|EC) and v2/v3 (the APK Signing Block just before the zip central directory).
// It extracts certificates only; it does not verify signatures. The subject of a signing
// certificate often names the operator, the personal-information handler a suit targets.
package sigblock

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// Limits: real signing blocks are a few KiB (a few hundred KiB with source stamps and padding).
const (
	MaxBlockSize = 16 << 20
	MaxCerts     = 64
	maxSigners   = 16
)

// Block ids of the APK Signing Block.
const (
	IDv2  = 0x7109871a
	IDv3  = 0xf05368c0
	IDv31 = 0x1b93ad61
)

// Cert is one signing certificate.
type Cert struct {
	SHA256  string   `json:"sha256"`
	Subject string   `json:"subject_dn"`
	Issuer  string   `json:"issuer_dn"`
	Schemes []string `json:"scheme"`
	DER     []byte   `json:"-"`
}

// NewCert hashes der and reads its names; a certificate Go cannot parse keeps its hash.
func NewCert(der []byte, scheme string) Cert {
	sum := sha256.Sum256(der)
	c := Cert{SHA256: hex.EncodeToString(sum[:]), DER: der, Schemes: []string{scheme}}
	if x, err := x509.ParseCertificate(der); err == nil {
		c.Subject, c.Issuer = x.Subject.String(), x.Issuer.String()
	} else if x, err := parseNames(der); err == nil {
		c.Subject, c.Issuer = x[0], x[1]
	}
	return c
}

// parseNames reads subject and issuer from a certificate x509.ParseCertificate refuses (old
// debug keys with odd extensions or negative serials are common in APKs).
func parseNames(der []byte) ([2]string, error) {
	var cert struct {
		TBS asn1.RawValue
	}
	if _, err := asn1.Unmarshal(der, &cert); err != nil {
		return [2]string{}, err
	}
	var tbs struct {
		Version   asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Serial    asn1.RawValue
		Algo      asn1.RawValue
		Issuer    asn1.RawValue
		Validity  asn1.RawValue
		Subject   asn1.RawValue
		Remainder asn1.RawContent
	}
	if _, err := asn1.Unmarshal(cert.TBS.FullBytes, &tbs); err != nil {
		return [2]string{}, err
	}
	name := func(raw []byte) string {
		var rdn pkixRDN
		if _, err := asn1.Unmarshal(raw, &rdn); err != nil {
			return ""
		}
		return rdn.String()
	}
	return [2]string{name(tbs.Subject.FullBytes), name(tbs.Issuer.FullBytes)}, nil
}

// Merge joins certificates seen by several schemes, keeping first-seen order.
func Merge(lists ...[]Cert) []Cert {
	var out []Cert
	idx := map[string]int{}
	for _, l := range lists {
		for _, c := range l {
			if i, ok := idx[c.SHA256]; ok {
				for _, s := range c.Schemes {
					if !contains(out[i].Schemes, s) {
						out[i].Schemes = append(out[i].Schemes, s)
					}
				}
				continue
			}
			idx[c.SHA256] = len(out)
			c.Schemes = append([]string(nil), c.Schemes...)
			out = append(out, c)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// PKCS7Certificates returns the certificates of a DER PKCS#7 SignedData (a v1 signature file).
func PKCS7Certificates(der []byte) (certs [][]byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			certs, err = nil, fmt.Errorf("pkcs7: panic: %v", p)
		}
	}()
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,optional,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("pkcs7: content info: %v", err)
	}
	if !ci.Type.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}) {
		return nil, fmt.Errorf("pkcs7: content type %v is not signedData", ci.Type)
	}
	// SignedData ::= SEQUENCE { version, digestAlgorithms SET, contentInfo, [0] IMPLICIT certificates
	// OPTIONAL, [1] crls OPTIONAL, signerInfos SET }: walk the elements, keep [0].
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || sd.Tag != asn1.TagSequence {
		return nil, fmt.Errorf("pkcs7: signed data is not a sequence (%v)", err)
	}
	var certSet []byte
	for elems, i := sd.Bytes, 0; len(elems) > 0 && i < 6; i++ {
		var e asn1.RawValue
		if elems, err = asn1.Unmarshal(elems, &e); err != nil {
			return nil, fmt.Errorf("pkcs7: signed data element %d: %v", i, err)
		}
		if e.Class == asn1.ClassContextSpecific && e.Tag == 0 {
			certSet = e.Bytes
			break
		}
	}
	rest := certSet
	for len(rest) > 0 {
		var c asn1.RawValue
		rest, err = asn1.Unmarshal(rest, &c)
		if err != nil {
			return certs, fmt.Errorf("pkcs7: certificate %d: %v", len(certs), err)
		}
		if len(certs) == MaxCerts {
			return certs, fmt.Errorf("pkcs7: more than %d certificates", MaxCerts)
		}
		certs = append(certs, c.FullBytes)
	}
	if len(certs) == 0 {
		return nil, errors.New("pkcs7: no certificates")
	}
	return certs, nil
}

// ErrNoBlock means the APK has no APK Signing Block (v1-only or unsigned).
var ErrNoBlock = errors.New("no APK Signing Block")

// FindBlock locates the APK Signing Block of the zip in r and returns its pairs area.
func FindBlock(r io.ReaderAt, size int64) ([]byte, error) {
	cdOff, err := centralDirOffset(r, size)
	if err != nil {
		return nil, err
	}
	if cdOff < 32 {
		return nil, ErrNoBlock
	}
	var foot [24]byte
	if _, err := r.ReadAt(foot[:], cdOff-24); err != nil {
		return nil, fmt.Errorf("signing block footer: %v", err)
	}
	if string(foot[8:]) != "APK Sig Block 42" {
		return nil, ErrNoBlock
	}
	bsize := binary.LittleEndian.Uint64(foot[:8])
	if bsize < 24 || bsize > MaxBlockSize || int64(bsize)+8 > cdOff {
		return nil, fmt.Errorf("signing block size %d out of range", bsize)
	}
	start := cdOff - int64(bsize) - 8
	buf := make([]byte, bsize+8)
	if _, err := r.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("signing block: %v", err)
	}
	if binary.LittleEndian.Uint64(buf) != bsize {
		return nil, fmt.Errorf("signing block: header size %d != footer size %d", binary.LittleEndian.Uint64(buf), bsize)
	}
	return buf[8 : len(buf)-24], nil
}

func centralDirOffset(r io.ReaderAt, size int64) (int64, error) {
	n := int64(22 + 65535)
	if n > size {
		n = size
	}
	if n < 22 {
		return 0, errors.New("too short for a zip")
	}
	buf := make([]byte, n)
	if _, err := r.ReadAt(buf, size-n); err != nil && err != io.EOF {
		return 0, err
	}
	for i := len(buf) - 22; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == 0x06054b50 {
			off := int64(binary.LittleEndian.Uint32(buf[i+16:]))
			if off > size-n+int64(i) {
				return 0, fmt.Errorf("central directory offset %d past its end record", off)
			}
			return off, nil
		}
	}
	return 0, errors.New("no end-of-central-directory record")
}

// BlockCertificates reads the v2 and v3 (and v3.1) signer certificates from the pairs of a
// signing block.
func BlockCertificates(pairs []byte) (certs []Cert, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("signing block: panic: %v", p)
		}
	}()
	for len(pairs) > 0 {
		if len(pairs) < 12 {
			return certs, errors.New("signing block: truncated pair")
		}
		n := binary.LittleEndian.Uint64(pairs)
		if n < 4 || n > uint64(len(pairs)-8) {
			return certs, fmt.Errorf("signing block: pair length %d out of range", n)
		}
		id := binary.LittleEndian.Uint32(pairs[8:])
		val := pairs[12 : 8+n]
		pairs = pairs[8+n:]
		var scheme string
		switch id {
		case IDv2:
			scheme = "v2"
		case IDv3, IDv31:
			scheme = "v3"
		default:
			continue
		}
		got, err := signerCerts(val, scheme)
		for _, der := range got {
			certs = append(certs, NewCert(der, scheme))
		}
		if err != nil {
			return certs, fmt.Errorf("signing block %s: %v", scheme, err)
		}
	}
	return certs, nil
}

// lp reads one uint32-length-prefixed slice.
func lp(b []byte) (v, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errors.New("truncated length prefix")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil, fmt.Errorf("length %d past end (%d left)", n, len(b)-4)
	}
	return b[4 : 4+n], b[4+n:], nil
}

// signerCerts walks signers -> signer -> signed data -> certificates (same layout in v2 and v3).
func signerCerts(val []byte, scheme string) ([][]byte, error) {
	signers, _, err := lp(val)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for i := 0; len(signers) > 0; i++ {
		if i == maxSigners {
			return out, fmt.Errorf("more than %d signers", maxSigners)
		}
		var signer, sd, digests, certs []byte
		if signer, signers, err = lp(signers); err != nil {
			return out, err
		}
		if sd, _, err = lp(signer); err != nil {
			return out, err
		}
		if digests, sd, err = lp(sd); err != nil {
			return out, err
		}
		_ = digests
		if certs, _, err = lp(sd); err != nil {
			return out, err
		}
		for len(certs) > 0 {
			var c []byte
			if c, certs, err = lp(certs); err != nil {
				return out, err
			}
			if len(out) == MaxCerts {
				return out, fmt.Errorf("more than %d certificates", MaxCerts)
			}
			out = append(out, bytes.Clone(c))
		}
	}
	return out, nil
}

// IsV1SignatureFile reports whether an archive entry is a JAR signature block
// (META-INF/*.RSA, *.DSA or *.EC, directly under META-INF).
func IsV1SignatureFile(name string) bool {
	if len(name) < 10 || name[:9] != "META-INF/" || bytes.IndexByte([]byte(name[9:]), '/') >= 0 {
		return false
	}
	for _, ext := range []string{".RSA", ".DSA", ".EC"} {
		if len(name) > len(ext) && equalFold(name[len(name)-len(ext):], ext) {
			return true
		}
	}
	return false
}

func equalFold(a, b string) bool { return bytes.EqualFold([]byte(a), []byte(b)) }
