//go:build !unix

package evidence

import (
	"os"
	"time"
)

// Without flock there is no cross-process lock: on these systems only one process may write to a
// store at a time (the in-process mutex still serialises goroutines).
func lockFile(*os.File) error { return nil }

func tryLockLive(*os.File) (bool, error) { return true, nil }

// removeIfAbandoned cannot ask a lock whether a writer is alive, so it only removes files untouched
// for a day.
func removeIfAbandoned(p string) (bool, error) {
	fi, err := os.Lstat(p)
	if err != nil || time.Since(fi.ModTime()) < 24*time.Hour {
		return false, nil
	}
	return os.Remove(p) == nil, nil
}
