package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// The data dir holds evidence (personal information the investigated party collected), the
// embedded Redis (findings, accounts, sessions, its password), the case-file signing key and the
// analysts' imported and uploaded sources. Only the account pilmon runs as may read any of it:
// directories 0700, files 0600 or tighter (evidence blobs and sidecars 0400).

// ownedEntries are the names in the data dir whose whole tree belongs to pilmon. secureDataDir
// walks only these: a data dir pointed at a folder holding other things (a home directory) keeps
// those things' modes. The signing key is not among them: casefile refuses a private key that
// others could read (it may have been copied), and tightening it here would hide that; only the
// keys directory itself is tightened.
var ownedEntries = []string{"evidence", "redis", "import", "rules-overlay.yaml", "rules-overlay-libchecker.yaml"}

// secureDataDir creates the data dir 0700 and takes group and other permissions off it and off
// everything pilmon keeps in it, saying in the log what it changed. A data dir written by an older
// pilmon (0755 directories, 0444 evidence) is made private on the first start of this one.
func secureDataDir(dataDir string, log *slog.Logger) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("data dir %s: %w", dataDir, err)
	}
	changed := 0
	for _, p := range []string{dataDir, filepath.Join(dataDir, "keys")} {
		n, err := tightenMode(p)
		changed += n
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	for _, name := range ownedEntries {
		n, err := tightenTree(filepath.Join(dataDir, name))
		changed += n
		if err != nil {
			return err
		}
	}
	if changed > 0 {
		log.Warn("收紧了数据目录中 group/other 可访问的权限 / took group and other permissions off data dir entries",
			"dir", dataDir, "entries", changed)
	}
	return nil
}

// tightenTree takes group and other permissions off root and everything below it and returns how
// many entries it changed. A missing root is no error. Symbolic links are not followed (chmod
// would change their target, which may be anywhere); sockets and other special files are left.
func tightenTree(root string) (int, error) {
	changed := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() && !d.Type().IsRegular() {
			return nil
		}
		n, err := tightenMode(p)
		changed += n
		return err
	})
	if err != nil {
		return changed, fmt.Errorf("data dir: tighten %s: %w", root, err)
	}
	return changed, nil
}

// tightenMode removes group and other permissions from one file or directory; 1 if it changed it.
func tightenMode(p string) (int, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, fmt.Errorf("data dir: %w", err) // wraps fs.ErrNotExist for a missing entry
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 || fi.Mode()&fs.ModeSymlink != 0 {
		return 0, nil
	}
	if err := os.Chmod(p, perm&^0o077); err != nil {
		return 0, fmt.Errorf("data dir: %s has mode %v, readable by other accounts, and cannot be tightened: %w", p, perm, err)
	}
	return 1, nil
}
