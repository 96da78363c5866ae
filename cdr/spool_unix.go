//go:build unix

package cdr

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on the spool directory dir, so that two
// pipelines (two daemons given the same directory) cannot replay and
// delete each other's segments. The lock goes when the returned Closer is
// closed, or when the process dies.
func lockDir(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cdr: spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("cdr: spool %s is in use by another pipeline: %w", dir, err)
	}
	return f, nil
}

// syncDir fsyncs directory dir, making the creation or removal of a file
// in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
