// Package atomicfile owns replacing a file so that a reader, or a machine
// that crashes, sees the old file or the new one and never a part: the
// state file's Save and the node_exporter textfile both write through it.
package atomicfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Options shape a Write.
type Options struct {
	// Perm is the new file's mode; 0 means 0600.
	Perm fs.FileMode
	// Ready, when set, is called once the data is written and synced,
	// just before the rename: an error leaves path as it was (a context
	// that ended while the data was written, say).
	Ready func() error
}

// Write replaces path with what write writes. The data goes to a
// temporary file in path's directory, named .<name>.*.tmp (hidden, and
// without the .prom ending node_exporter's collector reads), which is
// synced, given its mode, and renamed over path; then the directory is
// synced, so that the rename survives a crash. A directory whose file
// system cannot sync directories (EINVAL, ENOTSUP) is not an error: the
// file is written all the same.
//
// When write, a sync or Ready fails, path is left as it was and the
// temporary file is removed; an error syncing the directory comes after
// the rename, which it may not have made durable. Errors are those of
// write, Ready and the os calls, unwrapped: the caller names the file.
func Write(path string, write func(io.Writer) error, opts Options) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if opts.Perm != 0 && opts.Perm != 0o600 {
		if err = f.Chmod(opts.Perm); err != nil {
			return err
		}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if opts.Ready != nil {
		if err = opts.Ready(); err != nil {
			return err
		}
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}
