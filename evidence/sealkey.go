package evidence

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxSealKeyFile bounds what LoadOrCreateSealKey reads: a key is 64 hex digits and a newline.
const maxSealKeyFile = 4 << 10

// LoadOrCreateSealKey returns the seal key kept in path (64 hexadecimal digits, mode 0600),
// generating it on first use; created says it did. The file must lie outside the evidence
// directory: a key beside the sidecars it seals would let whoever edits them reseal them. A key
// file readable by group or others is refused (chmod 600): it may have been copied.
func LoadOrCreateSealKey(path string) (key []byte, created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("evidence: seal key dir: %w", err)
	}
	key, err = readSealKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("evidence: generate seal key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it first: use theirs.
		key, err = readSealKey(path)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("evidence: create seal key %s: %w", path, err)
	}
	_, err = io.WriteString(f, hex.EncodeToString(key)+"\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, false, fmt.Errorf("evidence: write seal key %s: %w", path, err)
	}
	return key, true, nil
}

func readSealKey(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("evidence: seal key %s has mode %v; it must be readable by its owner only (chmod 600)", path, fi.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("evidence: read seal key %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSealKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("evidence: read seal key %s: %w", path, err)
	}
	if len(b) > maxSealKeyFile {
		return nil, fmt.Errorf("evidence: seal key %s: %d bytes or more, not a key file", path, maxSealKeyFile)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < MinSealKeySize {
		return nil, fmt.Errorf("evidence: seal key %s: want at least %d bytes as hexadecimal digits", path, MinSealKeySize)
	}
	return key, nil
}

// Reseal puts the store's key seal on sidecars that carry a valid unkeyed seal (written before the
// store had a key) and returns how many it resealed. It trusts those sidecars as they are now, so
// it is run once, when the key is created; afterwards an unkeyed seal is refused. Sidecars sealed
// with the key are left alone; any other problem is reported (joined) and does not stop the walk.
func (s *Store) Reseal(ctx context.Context) (int, error) {
	if s.opts.SealKey == nil {
		return 0, errors.New("evidence: reseal: the store has no seal key")
	}
	root := filepath.Join(s.dir, blobRoot)
	prefixes, err := os.ReadDir(root)
	if err != nil {
		return 0, fmt.Errorf("evidence: reseal %s: %w", root, err)
	}
	n, otherKey := 0, 0
	var problems []error
	for _, p := range prefixes {
		if !p.IsDir() || len(p.Name()) != 2 || !isLowerHex(p.Name()) {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(root, p.Name()))
		if err != nil {
			problems = append(problems, fmt.Errorf("evidence: reseal %s: %w", p.Name(), err))
			continue
		}
		for _, e := range entries {
			rest, ok := strings.CutSuffix(e.Name(), ".json")
			if !ok || len(rest) != 62 || !isLowerHex(rest) {
				continue
			}
			if err := ctx.Err(); err != nil {
				return n, err
			}
			done, err := s.resealOne(p.Name() + rest)
			switch {
			case errors.Is(err, errOtherKey):
				otherKey++
			case err != nil:
				problems = append(problems, err)
			}
			if done {
				n++
			}
		}
	}
	if otherKey > 0 {
		// One line, not one per sidecar: on a shared evidence volume this is every record another
		// installation sealed, and the cure is one copy of its key.
		problems = append(problems, fmt.Errorf("evidence: reseal %s: %d sidecars are sealed with another key, not with %s; copy keys/evidence-seal.key from the installation that captured them", s.dir, otherKey, SealKeyID(s.opts.SealKey)))
	}
	return n, errors.Join(problems...)
}

// errOtherKey: a sidecar carries a keyed seal that the store's key did not make.
var errOtherKey = errors.New("sealed with another key")

func (s *Store) resealOne(h string) (bool, error) {
	unlock, err := s.lock(h)
	if err != nil {
		return false, fmt.Errorf("evidence: reseal %s: %w", h, err)
	}
	defer unlock()
	p := s.sidecarPath(h)
	f, err := os.Open(p)
	if err != nil {
		return false, fmt.Errorf("evidence: reseal %s: %w", h, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSidecarSize+1))
	f.Close()
	if err != nil {
		return false, fmt.Errorf("evidence: reseal %s: %w", p, err)
	}
	if _, err := decodeSidecarWith(data, h, p, s.opts.SealKey); err == nil {
		return false, nil
	}
	if bytes.Contains(data, []byte(`"seal": "`+keyedSealPrefix)) && !bytes.Contains(data, []byte(`"seal": "`+keyedSealPrefix+SealKeyID(s.opts.SealKey)+":")) {
		return false, fmt.Errorf("evidence: reseal %s: %w", p, errOtherKey)
	}
	rec, err := decodeSidecarWith(data, h, p, nil)
	if err != nil {
		return false, err
	}
	return true, s.writeSidecar(h, rec)
}
