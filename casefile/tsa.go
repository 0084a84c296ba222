package casefile

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	_ "crypto/sha1" // TSAs may still answer with SHA-1 digests of their signed attributes
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// RFC 3161 (Time-Stamp Protocol) and RFC 5652 (CMS), the parts a client needs, in encoding/asn1.

var (
	oidSHA1          = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidRSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
)

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	Nonce          *big.Int `asn1:"optional"`
	CertReq        bool     `asn1:"optional"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []asn1.RawValue `asn1:"optional"`
	FailInfo     asn1.BitString  `asn1:"optional"`
}

type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,optional,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        time.Time     `asn1:"generalized"`
	Accuracy       accuracy      `asn1:"optional"`
	Ordering       bool          `asn1:"optional"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional,explicit,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

// TimestampInfo is what a verified RFC 3161 token says.
type TimestampInfo struct {
	GenTime time.Time `json:"gen_time"`
	Serial  string    `json:"serial"`
	Policy  string    `json:"policy"`
	Signer  string    `json:"signer"`
	// ChainVerified is true when the signer's certificate chains to a CA the verifier was given.
	ChainVerified bool `json:"chain_verified"`
}

const maxTSAResponse = 1 << 20

// requestTimestamp asks the TSA at url for a token over the SHA-256 digest, checks the answer
// (status, imprint, nonce, signature) and returns the DER TimeStampResp as received.
func requestTimestamp(ctx context.Context, client *http.Client, url string, digest []byte) ([]byte, TimestampInfo, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, TimestampInfo{}, err
	}
	req, err := asn1.Marshal(timeStampReq{Version: 1, MessageImprint: messageImprint{
		HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}, HashedMessage: digest},
		Nonce: nonce, CertReq: true})
	if err != nil {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: timestamp request: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(req))
	if err != nil {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: %w", url, err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	hr.Header.Set("Accept", "application/timestamp-reply")
	resp, err := client.Do(hr)
	if err != nil {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAResponse+1))
	if err != nil {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: HTTP %s", url, resp.Status)
	}
	if len(body) > maxTSAResponse {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: response larger than %d bytes", url, maxTSAResponse)
	}
	info, tst, err := checkTimestamp(body, digest, nil)
	if err != nil {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: %w", url, err)
	}
	if tst.Nonce == nil || tst.Nonce.Cmp(nonce) != 0 {
		return nil, TimestampInfo{}, fmt.Errorf("casefile: TSA %s: the token does not carry the request's nonce", url)
	}
	return body, info, nil
}

// VerifyTimestamp checks a DER TimeStampResp (or a bare TimeStampToken) over the SHA-256 digest:
// granted status, matching message imprint, the TSA's signature over the signed attributes, the
// message digest of the TSTInfo and, when roots is not nil, the signer's chain with the
// timeStamping extended key usage at the token's time.
func VerifyTimestamp(der, digest []byte, roots *x509.CertPool) (TimestampInfo, error) {
	info, _, err := checkTimestamp(der, digest, roots)
	return info, err
}

func checkTimestamp(der, digest []byte, roots *x509.CertPool) (TimestampInfo, tstInfo, error) {
	var info TimestampInfo
	var tst tstInfo
	token := der
	var resp timeStampResp
	if rest, err := asn1.Unmarshal(der, &resp); err == nil && len(rest) == 0 && resp.TimeStampToken.FullBytes != nil {
		if resp.Status.Status != 0 && resp.Status.Status != 1 {
			return info, tst, fmt.Errorf("timestamp refused: PKIStatus %d", resp.Status.Status)
		}
		token = resp.TimeStampToken.FullBytes
	} else if err == nil && resp.TimeStampToken.FullBytes == nil {
		return info, tst, fmt.Errorf("timestamp refused: PKIStatus %d, no token", resp.Status.Status)
	}
	var ci contentInfo
	if rest, err := asn1.Unmarshal(token, &ci); err != nil || len(rest) != 0 {
		return info, tst, fmt.Errorf("timestamp token: not a CMS ContentInfo: %v", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return info, tst, fmt.Errorf("timestamp token: content type %v, want signedData", ci.ContentType)
	}
	var sd signedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(rest) != 0 {
		return info, tst, fmt.Errorf("timestamp token: SignedData: %v", err)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return info, tst, fmt.Errorf("timestamp token: content %v, want TSTInfo", sd.EncapContentInfo.EContentType)
	}
	if rest, err := asn1.Unmarshal(sd.EncapContentInfo.EContent, &tst); err != nil || len(rest) != 0 {
		return info, tst, fmt.Errorf("timestamp token: TSTInfo: %v", err)
	}
	h, err := hashFor(tst.MessageImprint.HashAlgorithm.Algorithm)
	if err != nil {
		return info, tst, fmt.Errorf("timestamp token: message imprint: %w", err)
	}
	if h != crypto.SHA256 || !bytes.Equal(tst.MessageImprint.HashedMessage, digest) {
		return info, tst, errors.New("timestamp token: its message imprint is not the SHA-256 of manifest.json")
	}
	info.GenTime = tst.GenTime.UTC()
	if tst.SerialNumber != nil {
		info.Serial = tst.SerialNumber.String()
	}
	info.Policy = tst.Policy.String()
	if len(sd.SignerInfos) != 1 {
		return info, tst, fmt.Errorf("timestamp token: %d signers, want 1", len(sd.SignerInfos))
	}
	var certs []*x509.Certificate
	if len(sd.Certificates.Bytes) > 0 {
		if certs, err = x509.ParseCertificates(sd.Certificates.Bytes); err != nil {
			return info, tst, fmt.Errorf("timestamp token: certificates: %w", err)
		}
	}
	si := sd.SignerInfos[0]
	cert, err := signerCert(si, certs)
	if err != nil {
		return info, tst, err
	}
	info.Signer = cert.Subject.String()
	if err := checkSignerInfo(si, cert, sd.EncapContentInfo.EContent); err != nil {
		return info, tst, err
	}
	hasTS := false
	for _, u := range cert.ExtKeyUsage {
		hasTS = hasTS || u == x509.ExtKeyUsageTimeStamping
	}
	if !hasTS {
		return info, tst, fmt.Errorf("timestamp token: signer %s lacks the timeStamping extended key usage", info.Signer)
	}
	if roots != nil {
		inter := x509.NewCertPool()
		for _, c := range certs {
			inter.AddCert(c)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: info.GenTime,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
			return info, tst, fmt.Errorf("timestamp token: signer %s: %w", info.Signer, err)
		}
		info.ChainVerified = true
	}
	return info, tst, nil
}

func signerCert(si signerInfo, certs []*x509.Certificate) (*x509.Certificate, error) {
	if si.SID.Class == asn1.ClassContextSpecific && si.SID.Tag == 0 {
		for _, c := range certs {
			if bytes.Equal(c.SubjectKeyId, si.SID.Bytes) {
				return c, nil
			}
		}
		return nil, errors.New("timestamp token: no certificate with the signer's key identifier (was certReq honoured?)")
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(si.SID.FullBytes, &ias); err != nil {
		return nil, fmt.Errorf("timestamp token: signer identifier: %w", err)
	}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && c.SerialNumber.Cmp(ias.Serial) == 0 {
			return c, nil
		}
	}
	return nil, errors.New("timestamp token: the signer's certificate is not in the token")
}

// checkSignerInfo verifies the signature over the DER SET of signed attributes and that they
// name the TSTInfo content type and its digest.
func checkSignerInfo(si signerInfo, cert *x509.Certificate, econtent []byte) error {
	if len(si.SignedAttrs.FullBytes) == 0 {
		return errors.New("timestamp token: no signed attributes")
	}
	h, err := hashFor(si.DigestAlgorithm.Algorithm)
	if err != nil {
		return fmt.Errorf("timestamp token: digest algorithm: %w", err)
	}
	var gotCT, gotMD bool
	rest := si.SignedAttrs.Bytes
	for len(rest) > 0 {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return fmt.Errorf("timestamp token: signed attribute: %w", err)
		}
		switch {
		case a.Type.Equal(oidContentType):
			var ct asn1.ObjectIdentifier
			if _, err := asn1.Unmarshal(a.Values.Bytes, &ct); err != nil || !ct.Equal(oidTSTInfo) {
				return errors.New("timestamp token: content-type attribute is not TSTInfo")
			}
			gotCT = true
		case a.Type.Equal(oidMessageDigest):
			var md []byte
			if _, err := asn1.Unmarshal(a.Values.Bytes, &md); err != nil {
				return fmt.Errorf("timestamp token: message-digest attribute: %w", err)
			}
			hh := h.New()
			hh.Write(econtent)
			if !bytes.Equal(md, hh.Sum(nil)) {
				return errors.New("timestamp token: message-digest attribute does not match the TSTInfo")
			}
			gotMD = true
		}
	}
	if !gotCT || !gotMD {
		return errors.New("timestamp token: content-type or message-digest attribute missing")
	}
	// The signature covers the attributes encoded as a SET, not with their [0] IMPLICIT tag.
	signed := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	hh := h.New()
	hh.Write(signed)
	sum := hh.Sum(nil)
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if si.SignatureAlgorithm.Algorithm.Equal(oidRSAPSS) {
			err = rsa.VerifyPSS(pub, h, sum, si.Signature, nil)
		} else {
			err = rsa.VerifyPKCS1v15(pub, h, sum, si.Signature)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, sum, si.Signature) {
			err = errors.New("ecdsa signature mismatch")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, signed, si.Signature) {
			err = errors.New("ed25519 signature mismatch")
		}
	default:
		err = fmt.Errorf("unsupported key type %T", pub)
	}
	if err != nil {
		return fmt.Errorf("timestamp token: TSA signature by %s does not verify: %w", strings.TrimSpace(cert.Subject.String()), err)
	}
	return nil
}

func hashFor(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	case oid.Equal(oidSHA1):
		return crypto.SHA1, nil
	}
	return 0, fmt.Errorf("unsupported hash algorithm %v", oid)
}
