//go:build !linux

package store

import (
	"os"
	"syscall"
)

// On other systems the managed server gets no parent-death signal and the data dir is not locked;
// pilmon targets Debian, these keep the package building elsewhere.
func childSysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

func lockDataDir(path string) (*os.File, bool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	return f, false, err
}

func unlockDataDir(f *os.File) { f.Close() }

func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

func isRedisIn(pid int, dir string) bool { return false }
