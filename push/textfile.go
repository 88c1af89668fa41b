package push

import (
	"fmt"
	"io"

	"github.com/pingpanda/pingpanda/state/atomicfile"
)

// WriteTextfile writes the sweep's metrics to path in the text exposition
// format, as WriteText writes them, for node_exporter's textfile
// collector. It is atomic (atomicfile.Write): the metrics go to a
// temporary file in the same directory (named .<name>.*.tmp, which the
// collector ignores), are synced to disk, and the file is renamed over
// path with mode 0644, for a collector running as another user; a reader
// sees the old file or the new one, never a part. If writing fails, path
// is left as it was. Errors name the path.
func WriteTextfile(path string, s Sweep) error {
	err := atomicfile.Write(path, func(w io.Writer) error { return WriteText(w, s) }, atomicfile.Options{Perm: 0o644})
	if err != nil {
		return fmt.Errorf("metrics textfile %s: %w", path, err)
	}
	return nil
}
