package push

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// WriteTextfile writes g's families to path in the text exposition format,
// for node_exporter's textfile collector. It is atomic: the families go to
// a temporary file in the same directory (named .<name>.*.tmp, which the
// collector ignores), are synced to disk, and the file is renamed over path
// with mode 0644; a reader sees the old file or the new one, never a part.
// If gathering fails, path is left as it was. Errors name the path.
func WriteTextfile(path string, g prometheus.Gatherer) error {
	if err := writeTextfile(path, g); err != nil {
		return fmt.Errorf("metrics textfile %s: %w", path, err)
	}
	return nil
}

func writeTextfile(path string, g prometheus.Gatherer) (err error) {
	mfs, err := g.Gather()
	if err != nil {
		return err
	}
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
	w := bufio.NewWriter(f)
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
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
