package push

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteTextfile writes the sweep's metrics to path in the text exposition
// format, as WriteText writes them, for node_exporter's textfile
// collector. It is atomic: the metrics go to a temporary file in the same
// directory (named .<name>.*.tmp, which the collector ignores), are synced
// to disk, and the file is renamed over path with mode 0644; a reader sees
// the old file or the new one, never a part. If writing fails, path is
// left as it was. Errors name the path.
func WriteTextfile(path string, s Sweep) error {
	if err := writeTextfile(path, func(w io.Writer) error { return WriteText(w, s) }); err != nil {
		return fmt.Errorf("metrics textfile %s: %w", path, err)
	}
	return nil
}

// writeTextfile replaces path atomically with what write writes.
func writeTextfile(path string, write func(io.Writer) error) (err error) {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// The rename itself is durable once the directory is synced. A
	// directory that cannot be synced (some file systems refuse) leaves the
	// file written all the same, so that is not an error.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
