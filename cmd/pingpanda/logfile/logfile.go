// Package logfile owns where pingpanda's logs go: the run's slog logger
// (text on a terminal, JSON elsewhere, and a JSON file beside it) and the
// size-rotated files it and the stats log append to.
package logfile

import (
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
		rf, err := OpenRotating(lc.Path, lc.MaxSize, lc.BackupCount)
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
// path.1 to path.2, and so on, keeping backups of them) once a write would
// take it past maxSize. It is safe for concurrent use.
type Rotating struct {
	mu      sync.Mutex
	path    string
	maxSize int64
	backups int
	f       *os.File
	size    int64
}

func OpenRotating(path string, maxSize int64, backups int) (*Rotating, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("log directory: %w", err)
	}
	r := &Rotating{path: path, maxSize: maxSize, backups: backups}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

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
	return nil
}

func (r *Rotating) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, errors.New("log file is closed")
	}
	if r.size > 0 && r.size+int64(len(p)) > r.maxSize {
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
