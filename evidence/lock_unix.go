//go:build unix

package evidence

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f, waiting for it. flock locks belong to the open file
// description, so two opens in one process exclude each other as two processes do, and the kernel
// drops the lock when its holder dies.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// tryLockLive takes f's lock without waiting and reports whether f is still linked: a Sweep may
// have locked and removed it since it was created.
func tryLockLive(f *os.File) (bool, error) {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, err
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return false, err
	}
	return st.Nlink > 0, nil
}

// removeIfAbandoned removes p if no process holds its lock. It checks, holding the lock, that p
// still names the file it locked, so it cannot remove a newer file that took the name.
func removeIfAbandoned(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // a live writer
		}
		return false, err
	}
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Lstat(p)
	if err != nil || !os.SameFile(held, now) {
		return false, nil
	}
	if err := os.Remove(p); err != nil {
		return false, err
	}
	return true, nil
}
