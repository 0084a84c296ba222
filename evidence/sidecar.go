package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
// Seal is the SHA-256 of the compact encoding of the other fields; it catches a careless edit, not
// a deliberate one (anyone who can write the file can recompute it). Proof against deliberate
// tampering is the signed casefile bundle.
type sidecar struct {
	Format   string    `json:"format"`
	Ref      Ref       `json:"ref"`
	Captures []Capture `json:"captures"`
	Seal     string    `json:"seal"`
}

func seal(rec Record) (string, error) {
	b, err := json.Marshal(struct {
		Format   string    `json:"format"`
		Ref      Ref       `json:"ref"`
		Captures []Capture `json:"captures"`
	}{sidecarFormat, rec.Ref, rec.Captures})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// encodeSidecar returns the canonical bytes of rec's sidecar.
func encodeSidecar(rec Record) ([]byte, error) {
	sl, err := seal(rec)
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

// decodeSidecar parses and checks a sidecar that should describe the blob addressed by h. Errors
// wrap ErrTampered and name h and the reason.
func decodeSidecar(data []byte, h string) (Record, error) {
	bad := func(format string, args ...any) (Record, error) {
		return Record{}, fmt.Errorf("evidence: sidecar of %s: %w: "+format, append([]any{h, ErrTampered}, args...)...)
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
	want, err := seal(rec)
	if err != nil {
		return bad("%v", err)
	}
	if sc.Seal != want {
		return bad("seal %q does not match its content (edited after it was written)", truncate(sc.Seal))
	}
	canon, err := encodeSidecar(rec)
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
	return decodeSidecar(data, h)
}

// writeSidecar replaces h's sidecar atomically: temporary file, fsync, rename, fsync the directory.
// The caller holds h's prefix lock.
func (s *Store) writeSidecar(h string, rec Record) error {
	data, err := encodeSidecar(rec)
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
