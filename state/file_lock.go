package state

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// fileLease is the flock a FileStore holds.
type fileLease struct {
	f     *os.File
	token string
}

// lockHolder is what the holder of a lock writes into the lock file.
type lockHolder struct {
	PID   int       `json:"pid"`
	Host  string    `json:"host"`
	Since time.Time `json:"since"`
}

// Lock takes the flock on "<path>.lock". It never waits: when another
// process (or another FileStore) holds it, it returns an error wrapping
// ErrLocked that names the holder's pid, host and start time.
func (s *FileStore) Lock(ctx context.Context, ttl time.Duration) (Lease, error) {
	if ttl <= 0 {
		return Lease{}, fmt.Errorf("lock %s: ttl %v is not positive", s.lockPath(), ttl)
	}
	if err := ctx.Err(); err != nil {
		return Lease{}, fmt.Errorf("lock %s: %w", s.lockPath(), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		return Lease{}, fmt.Errorf("%w: %s is already held by this store", ErrLocked, s.lockPath())
	}
	f, err := s.flock()
	if err != nil {
		return Lease{}, err
	}
	now := s.now()
	info, _ := json.Marshal(lockHolder{PID: os.Getpid(), Host: s.host, Since: now.UTC()})
	if err := writeHolder(f, append(info, '\n')); err != nil {
		f.Close() // releases the flock
		return Lease{}, fmt.Errorf("lock %s: %w", s.lockPath(), err)
	}
	s.held = &fileLease{f: f, token: rand.Text()}
	return Lease{Token: s.held.token, Expires: now.Add(ttl)}, nil
}

// flock opens the lock file and locks it, retrying when the file it
// locked was replaced in the meantime (a lock on an unlinked file guards
// nothing).
func (s *FileStore) flock() (*os.File, error) {
	path := s.lockPath()
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("%w: %s is held by %s", ErrLocked, path, holder)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if same, err := samePath(f, path); err != nil || !same {
			f.Close()
			continue
		}
		return f, nil
	}
	return nil, fmt.Errorf("lock %s: the lock file keeps being replaced", path)
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(fi, pi), nil
}

func writeHolder(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt(b, 0)
	return err
}

// readHolder describes the holder recorded in a lock file.
func readHolder(f *os.File) string {
	b := make([]byte, 1024)
	n, _ := f.ReadAt(b, 0)
	var h lockHolder
	if err := json.Unmarshal(b[:n], &h); err != nil || h.PID == 0 {
		return "a process that has not said who it is"
	}
	return fmt.Sprintf("pid %d on %s since %s", h.PID, h.Host, h.Since.UTC().Format(time.RFC3339))
}

// holds reports whether lease is the flock this store holds on the lock
// file now at its path.
func (s *FileStore) holds(lease Lease) bool {
	if s.held == nil || lease.Token == "" || lease.Token != s.held.token {
		return false
	}
	same, err := samePath(s.held.f, s.lockPath())
	return err == nil && same
}

// Unlock releases the flock if lease is the one this store holds;
// otherwise it does nothing.
func (s *FileStore) Unlock(ctx context.Context, lease Lease) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil || lease.Token != s.held.token {
		return nil
	}
	return s.release()
}

// release drops the held flock. The lock file stays: removing it would let
// two processes lock two different files of the same name.
func (s *FileStore) release() error {
	f := s.held.f
	s.held = nil
	if same, _ := samePath(f, s.lockPath()); same {
		_ = f.Truncate(0)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("unlock %s: %w", s.lockPath(), err)
	}
	return nil
}

// Close releases the flock if held.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		return nil
	}
	return s.release()
}
