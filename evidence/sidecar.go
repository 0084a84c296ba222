package evidence

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Record is everything the store knows about one artifact: its Ref and every capture of its bytes,
// oldest first. Captures[0] is the first capture and is never changed.
type Record struct {
	Ref      Ref       `json:"ref"`
	Captures []Capture `json:"captures"`
}

// First returns the Meta of the first capture.
func (r Record) First() Meta {
	if len(r.Captures) == 0 {
		return Meta{}
	}
	return r.Captures[0].Meta
}

// Capture is one custody event: the bytes were obtained (again) as Meta describes.
type Capture struct {
	// Seq numbers captures from 1 in the order the store recorded them.
	Seq int `json:"seq"`
	Meta
}

// sidecarFormat names the sidecar schema; a reader refuses any other.
const sidecarFormat = "pilmon-evidence-sidecar/1"

const (
	maxSidecarSize = 64 << 20
	maxCaptures    = 100_000
)

// sidecar is the on-disk form (<blob>.json). It is canonical: two-space indented encoding/json of
// this struct in field order, with a trailing newline; a reader re-encodes what it decoded and
// refuses a file that differs by a byte, so hand edits, duplicate keys or reordered fields show.
//
// Seal covers the compact encoding of the other fields. In a store opened with Options.SealKey
// (every pilmon command: keys/evidence-seal.key in the data dir) it is
// "hmac-sha256:<key id>:<HMAC-SHA256 under that key>", written at capture time with every
// capture: whoever can edit the evidence folder but not read the key cannot make an edited
// sidecar pass, and every read (Stat, so the dashboard, scans and exports) checks it. A keyed MAC
// rather than a digest in the Redis custody log, because evidence is written and read by commands
// that have no Redis (pilmon scan without --store, pilmon policy), and because the check needs
// nothing but the data dir, offline. Without a key (tests, benchmarks, throwaway stores) the seal
// is the plain SHA-256, which catches a careless edit, not a deliberate one.
type sidecar struct {
	Format   string    `json:"format"`
	Ref      Ref       `json:"ref"`
	Captures []Capture `json:"captures"`
	Seal     string    `json:"seal"`
}

// keyedSealPrefix starts a seal made with a key.
const keyedSealPrefix = "hmac-sha256:"

// MinSealKeySize is the shortest Options.SealKey accepted.
const MinSealKeySize = 32

// SealKeyID names a seal key in seals and errors without revealing it: the first 8 bytes of its
// SHA-256, in hex.
func SealKeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

func seal(rec Record) (string, error) { return sealWith(rec, nil) }

func sealWith(rec Record, key []byte) (string, error) {
	b, err := json.Marshal(struct {
		Format   string    `json:"format"`
		Ref      Ref       `json:"ref"`
		Captures []Capture `json:"captures"`
	}{sidecarFormat, rec.Ref, rec.Captures})
	if err != nil {
		return "", err
	}
	if key == nil {
		sum := sha256.Sum256(b)
		return hex.EncodeToString(sum[:]), nil
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return keyedSealPrefix + SealKeyID(key) + ":" + hex.EncodeToString(m.Sum(nil)), nil
}

// encodeSidecar returns the canonical bytes of rec's sidecar with an unkeyed seal.
func encodeSidecar(rec Record) ([]byte, error) { return encodeSidecarWith(rec, nil) }

// encodeSidecarWith returns the canonical bytes of rec's sidecar, sealed with key (nil: unkeyed).
func encodeSidecarWith(rec Record, key []byte) ([]byte, error) {
	sl, err := sealWith(rec, key)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(sidecar{Format: sidecarFormat, Ref: rec.Ref, Captures: rec.Captures, Seal: sl}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// decodeSidecar parses and checks an unkeyed sidecar that should describe the blob addressed by h.
func decodeSidecar(data []byte, h string) (Record, error) { return decodeSidecarWith(data, h, "", nil) }

// decodeSidecarWith parses and checks a sidecar that should describe the blob addressed by h,
// read from file (named in errors when not empty), whose seal must be made with key (nil: an
// unkeyed seal). Errors wrap ErrTampered and name h, the file and the reason.
func decodeSidecarWith(data []byte, h, file string, key []byte) (Record, error) {
	where := h
	if file != "" {
		where = h + " (" + file + ")"
	}
	bad := func(format string, args ...any) (Record, error) {
		return Record{}, fmt.Errorf("evidence: sidecar of %s: %w: "+format, append([]any{where, ErrTampered}, args...)...)
	}
	if len(data) > maxSidecarSize {
		return bad("%d bytes, more than the %d a sidecar may have", len(data), maxSidecarSize)
	}
	var sc sidecar
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return bad("not valid sidecar JSON: %v", err)
	}
	if sc.Format != sidecarFormat {
		return bad("format %q, want %q", truncate(sc.Format), sidecarFormat)
	}
	rec := Record{Ref: sc.Ref, Captures: sc.Captures}
	switch {
	case rec.Ref.SHA256 != h:
		return bad("it describes sha256 %q", truncate(rec.Ref.SHA256))
	case len(rec.Ref.SM3) != 64 || !isLowerHex(rec.Ref.SM3):
		return bad("sm3 %q is not 64 lowercase hex characters", truncate(rec.Ref.SM3))
	case rec.Ref.Size < 0:
		return bad("negative size %d", rec.Ref.Size)
	case len(rec.Captures) == 0:
		return bad("no capture recorded")
	case len(rec.Captures) > maxCaptures:
		return bad("%d captures, more than %d", len(rec.Captures), maxCaptures)
	}
	for i, c := range rec.Captures {
		switch {
		case c.Seq != i+1:
			return bad("capture %d has seq %d", i+1, c.Seq)
		case c.Method == "":
			return bad("capture %d has no method", i+1)
		case c.CapturedAt.IsZero() || c.CapturedAt.Location() != time.UTC:
			return bad("capture %d time %s is not a UTC time", i+1, c.CapturedAt.Format(time.RFC3339Nano))
		}
	}
	keyed := strings.HasPrefix(sc.Seal, keyedSealPrefix)
	switch {
	case key != nil && !keyed:
		return bad("封存校验失败 / seal check failed: it has no keyed seal (the installation's key %s did not seal it: edited, or written before keyed seals and not resealed)", SealKeyID(key))
	case key == nil && keyed:
		return bad("封存校验失败 / seal check failed: it is sealed with a key and this store was opened without one")
	case keyed:
		if id, _, _ := strings.Cut(strings.TrimPrefix(sc.Seal, keyedSealPrefix), ":"); id != SealKeyID(key) {
			return bad("封存校验失败 / seal check failed: sealed with key %q, this installation's key is %s (copy keys/evidence-seal.key from the installation that captured it)", truncate(id), SealKeyID(key))
		}
	}
	want, err := sealWith(rec, key)
	if err != nil {
		return bad("%v", err)
	}
	if !hmac.Equal([]byte(sc.Seal), []byte(want)) {
		return bad("封存校验失败 / seal check failed: seal %q does not match its content (edited after it was written)", truncate(sc.Seal))
	}
	canon, err := encodeSidecarWith(rec, key)
	if err != nil {
		return bad("%v", err)
	}
	if !bytes.Equal(canon, data) {
		return bad("not in canonical form (edited after it was written)")
	}
	return rec, nil
}

// readSidecar reads and checks h's sidecar; ErrNotFound if there is none.
func (s *Store) readSidecar(h string) (Record, error) {
	p := s.sidecarPath(h)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		if _, berr := os.Lstat(s.blobPath(h)); berr == nil {
			return Record{}, fmt.Errorf("evidence: blob %s: %w: its sidecar is missing (a Put was interrupted, or the sidecar was removed)", h, ErrNotFound)
		}
		return Record{}, fmt.Errorf("evidence: blob %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("evidence: sidecar of %s: %w", h, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSidecarSize+1))
	if err != nil {
		return Record{}, fmt.Errorf("evidence: sidecar of %s: %w", h, err)
	}
	return decodeSidecarWith(data, h, p, s.opts.SealKey)
}

// writeSidecar replaces h's sidecar atomically: temporary file, fsync, rename, fsync the directory.
// The caller holds h's prefix lock.
func (s *Store) writeSidecar(h string, rec Record) error {
	data, err := encodeSidecarWith(rec, s.opts.SealKey)
	if err != nil {
		return fmt.Errorf("sidecar of %s: %w", h, err)
	}
	tmp, err := s.createTemp("sidecar-")
	if err != nil {
		return fmt.Errorf("sidecar of %s: %w", h, err)
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("sidecar of %s: %w", h, err)
	}
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("sidecar of %s: %w", h, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sidecar of %s: fsync: %w", h, err)
	}
	final := s.sidecarPath(h)
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("sidecar of %s: %w", h, err)
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("sidecar of %s: %w", h, err)
	}
	return nil
}
