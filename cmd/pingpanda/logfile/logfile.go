// Package logfile owns where pingpanda's logs go: the run's slog logger
// (text on a terminal, JSON elsewhere, and a JSON file beside it) and the
// size-rotated files it and the stats log append to.
package logfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
)

// New builds the run's logger: text on a terminal, JSON elsewhere
// (Lambda, Kubernetes, cron mail), unless LOG_FORMAT says otherwise; plus a
// size-rotated JSON file when LOG_TO_FILE is true. The returned closer
// closes the file.
func New(lc config.Log, stderr io.Writer, stderrIsTerminal bool) (*slog.Logger, io.Closer, error) {
	opts := &slog.HandlerOptions{Level: lc.Level}
	var handlers []slog.Handler
	if lc.ToTerminal {
		useText := lc.Format == "text" || (lc.Format == "auto" && stderrIsTerminal)
		if useText {
			handlers = append(handlers, slog.NewTextHandler(stderr, opts))
		} else {
			handlers = append(handlers, slog.NewJSONHandler(stderr, opts))
		}
	}
	var closer io.Closer = io.NopCloser(nil)
	if lc.ToFile {
		rf, err := OpenRotating(lc.Path, RotatingOptions{MaxSize: lc.MaxSize, Backups: lc.BackupCount})
		if err != nil {
			return nil, nil, fmt.Errorf("LOG_TO_FILE: %w", err)
		}
		closer = rf
		handlers = append(handlers, slog.NewJSONHandler(rf, opts))
	}
	if len(handlers) == 0 {
		return slog.New(slog.DiscardHandler), closer, nil
	}
	if len(handlers) == 1 {
		return slog.New(handlers[0]), closer, nil
	}
	return slog.New(slog.NewMultiHandler(handlers...)), closer, nil
}

// Rotating is an append-only log file that is renamed to path.1 (and
// path.1 to path.2, and so on, keeping RotatingOptions.Backups of them)
// before a write would take it past RotatingOptions.MaxSize. It rotates
// only between writes, never inside one: a caller that hands it a whole
// record (a sweep's lines, a log entry) in one Write finds that record in
// one file. It is safe for concurrent use within a process; two processes
// appending to one path may lose lines when they rotate it.
type Rotating struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	backups int
	header  []byte
	f       *os.File
	size    int64
}

// RotatingOptions are a Rotating file's limits and the header of its files.
type RotatingOptions struct {
	// MaxSize is the size a write may not take the file past: such a write
	// goes to a new file. A file is larger only when one write (with the
	// header) is larger.
	MaxSize int64
	// Backups is how many rotated files are kept; 0 keeps none, so a
	// rotation discards the file.
	Backups int
	// Header, when set, is written at the top of every new file, the first
	// and each one a rotation starts. It does not count as content: a file
	// holding only the header is never rotated. An existing file that does
	// not begin with it (written with other columns) is rotated away when
	// opened, so that no file mixes two layouts.
	Header []byte
}

// OpenRotating opens (or creates) the file at path, and its directory.
func OpenRotating(path string, o RotatingOptions) (*Rotating, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	r := &Rotating{path: path, maxSize: o.MaxSize, backups: o.Backups, header: o.Header}
	if err := r.open(); err != nil {
		return nil, err
	}
	if r.size > 0 && len(r.header) > 0 {
		ok, err := beginsWith(path, r.header)
		if err == nil && !ok {
			err = r.rotate()
		}
		if err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// beginsWith says whether the file at path begins with prefix.
func beginsWith(path string, prefix []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("log file: %w", err)
	}
	defer f.Close()
	b := make([]byte, len(prefix))
	if _, err := io.ReadFull(f, b); err != nil {
		return false, nil // shorter than the header
	}
	return bytes.Equal(b, prefix), nil
}

// open opens the file at path for appending, writing the header first
// when the file is empty.
func (r *Rotating) open() error {
	f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("log file: %w", err)
	}
	r.f, r.size = f, st.Size()
	if r.size == 0 && len(r.header) > 0 {
		if _, err := f.Write(r.header); err != nil {
			f.Close()
			r.f = nil
			return fmt.Errorf("log file: %w", err)
		}
		r.size = int64(len(r.header))
	}
	return nil
}

// Write appends p to the file, first rotating it if p would take it past
// MaxSize and it holds more than the header.
func (r *Rotating) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, errors.New("log file is closed")
	}
	if r.size > int64(len(r.header)) && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts path.(k) to path.(k+1), drops the oldest, and starts anew.
func (r *Rotating) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	r.f = nil
	if r.backups == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("log file: %w", err)
		}
		return r.open()
	}
	for k := r.backups - 1; k >= 1; k-- {
		from := r.path + "." + strconv.Itoa(k)
		if err := os.Rename(from, r.path+"."+strconv.Itoa(k+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("log file: %w", err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return fmt.Errorf("log file: %w", err)
	}
	return r.open()
}

func (r *Rotating) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
