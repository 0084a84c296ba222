package casefile

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key files under the data dir.
const (
	keyDir      = "keys"
	keyFile     = "casefile-ed25519.pem"
	pubFile     = "casefile-ed25519.pub.pem"
	maxKeyBytes = 16 << 10
)

// LoadOrCreateKey returns the installation's signing key, <dataDir>/keys/casefile-ed25519.pem
// (PKCS#8 PEM, mode 0600), generating it on first use. The public key is written beside it
// (casefile-ed25519.pub.pem) for distribution. A private key file readable by group or others is
// refused: whoever can read it can sign bundles in this installation's name.
func LoadOrCreateKey(dataDir string) (ed25519.PrivateKey, error) {
	dir := filepath.Join(dataDir, keyDir)
	path := filepath.Join(dir, keyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("casefile: key dir %s: %w", dir, err)
	}
	key, err := readKey(path)
	if err == nil {
		return key, writePublic(filepath.Join(dir, pubFile), key.Public().(ed25519.PublicKey))
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("casefile: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("casefile: encode key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		return readKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("casefile: create key %s: %w", path, err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("casefile: write key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("casefile: write key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("casefile: write key %s: %w", path, err)
	}
	return priv, writePublic(filepath.Join(dir, pubFile), priv.Public().(ed25519.PublicKey))
}

func readKey(path string) (ed25519.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("casefile: key %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	if fi.Size() > maxKeyBytes {
		return nil, fmt.Errorf("casefile: key %s: %d bytes, not a key file", path, fi.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("casefile: read key %s: %w", path, err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("casefile: key %s: no PEM PRIVATE KEY block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("casefile: key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("casefile: key %s: %T, want an ed25519 key", path, k)
	}
	return priv, nil
}

func writePublic(path string, pub ed25519.PublicKey) error {
	want := PublicKeyPEM(pub)
	if old, err := os.ReadFile(path); err == nil && string(old) == string(want) {
		return nil
	}
	tmp := path + ".tmp"
	// Public, but inside the private key dir like everything in the data dir; copy it out to distribute.
	if err := os.WriteFile(tmp, want, 0o600); err != nil {
		return fmt.Errorf("casefile: write public key: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("casefile: write public key: %w", err)
	}
	return nil
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), the form openssl reads.
func PublicKeyPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err) // an ed25519.PublicKey always marshals
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// KeyFingerprint is the hex SHA-256 of the 32-byte public key. It is what the dashboard, the PDF
// cover and `pilmon export` show, so that a court can compare it with the key a bundle carries.
func KeyFingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])
}

// GroupFingerprint writes a fingerprint in blocks of four for reading aloud: "ab12 cd34 …".
func GroupFingerprint(fp string) string {
	var b strings.Builder
	for i := 0; i < len(fp); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fp[i:min(i+4, len(fp))])
	}
	return b.String()
}

// ParsePublicKey reads an ed25519 public key given as PEM (PUBLIC KEY), as 64 hex characters or as
// standard base64 of the 32 raw bytes.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(data); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("public key: %T, want ed25519", k)
		}
		return pub, nil
	}
	s := strings.TrimSpace(string(data))
	if b, err := hex.DecodeString(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	if b, err := decodeB64(s); err == nil && len(b) == ed25519.PublicKeySize {
		return ed25519.PublicKey(b), nil
	}
	return nil, errors.New("public key: want PEM, 64 hex characters or base64 of 32 bytes")
}
