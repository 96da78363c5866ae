//go:build !unix

package cdr

import (
	"io"
	"os"
	"path/filepath"
)

// lockDir marks the spool directory as in use. Without flock nothing stops
// a second pipeline on the same directory: give each daemon its own.
func lockDir(dir string) (io.Closer, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o640)
}

// syncDir is a no-op where directories cannot be fsynced.
func syncDir(string) error { return nil }
