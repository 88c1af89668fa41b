package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pingpanda/pingpanda/state/atomicfile"
)

// The silences of a FileStore are not in the state file: a sweep rewrites
// that from what it loaded, and would lose a silence added in between.
// They live beside it, in "<path>.silences":
//
//	{"v":1,"silences":[<silence>,…]}
//
// which AddSilence and RemoveSilence rewrite (through atomicfile, so a
// reader sees the old file or the new one) under a short flock of
// "<path>.silences.lock" of their own: never the sweep's lease, which a
// sweep holds for its whole run. Neither file is followed if it is a
// symbolic link.

// silencesFileVersion is the version of the silences file's document.
const silencesFileVersion = 1

// silencesFileMax bounds what is read of the silences file: MaxSilences
// silences take far less.
const silencesFileMax = 16 << 20

// silencesLockWait is how long AddSilence and RemoveSilence wait for
// another writer of the silences file, which holds its lock for a read
// and a write.
const silencesLockWait = 5 * time.Second

// silencesDoc is the silences file's document; its silences are kept
// verbatim, so that one this build cannot read is rewritten as it was.
type silencesDoc struct {
	V        int               `json:"v"`
	Silences []json.RawMessage `json:"silences"`
}

func (s *FileStore) silencesPath() string     { return s.path + ".silences" }
func (s *FileStore) silencesLockPath() string { return s.path + ".silences.lock" }

// openNoFollow opens path for flag without following a symbolic link,
// and insists on a regular file.
func openNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link, which is not followed", path)
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", path)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readSilencesFile returns the silences file's entries, none when there is
// no file. An error is a file that cannot be read or is no silences
// document of this version.
func (s *FileStore) readSilencesFile(ctx context.Context) ([]json.RawMessage, error) {
	path := s.silencesPath()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	f, err := openNoFollow(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, silencesFileMax+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > silencesFileMax {
		return nil, fmt.Errorf("silences file %s is larger than %d bytes", path, silencesFileMax)
	}
	return parseSilencesFile(path, b)
}

// parseSilencesFile reads a silences document.
func parseSilencesFile(path string, b []byte) ([]json.RawMessage, error) {
	var doc silencesDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("silences file %s is not a silences document: %w", path, err)
	}
	if doc.V != silencesFileVersion {
		return nil, fmt.Errorf("silences file %s: %w %d (this build reads %d)", path, ErrVersion, doc.V, silencesFileVersion)
	}
	return doc.Silences, nil
}

// decodeSilenceEntries reads the silences file's entries, sorted; of two
// of the same ID, the later counts.
func decodeSilenceEntries(raws []json.RawMessage) ([]Silence, []Warning) {
	byID := map[string]Silence{}
	bad := map[string]Warning{}
	var anonymous []Warning
	for _, raw := range raws {
		sl, err := decodeSilence("", raw)
		if err != nil {
			w := unreadableSilence("", raw, err)
			if w.ID == "?" {
				anonymous = append(anonymous, w)
				continue
			}
			delete(byID, w.ID)
			bad[w.ID] = w
			continue
		}
		delete(bad, sl.ID)
		byID[sl.ID] = sl
	}
	out := make([]Silence, 0, len(byID))
	for _, sl := range byID {
		out = append(out, sl)
	}
	sortSilences(out)
	var warns []Warning
	for _, id := range sortedKeys(bad) {
		warns = append(warns, bad[id])
	}
	return out, append(warns, anonymous...)
}

// loadSilences is Load's part: the silences, and warnings instead of an
// error, so that an unreadable silences file never stops a sweep.
func (s *FileStore) loadSilences(ctx context.Context) ([]Silence, []Warning) {
	raws, err := s.readSilencesFile(ctx)
	if err != nil {
		return nil, []Warning{{ID: "*", Err: fmt.Errorf("silences left out: %w", err)}}
	}
	return decodeSilenceEntries(raws)
}

// Silences returns every silence in the silences file.
func (s *FileStore) Silences(ctx context.Context) ([]Silence, error) {
	raws, err := s.readSilencesFile(ctx)
	if err != nil {
		return nil, err
	}
	out, warns := decodeSilenceEntries(raws)
	if len(warns) > 0 {
		return out, &UnreadableSilencesError{Warnings: warns}
	}
	return out, nil
}

// AddSilence rewrites the silences file with sl added, under the silences
// file's lock. A silences file it cannot read is an error, not replaced:
// that would lose what it holds.
func (s *FileStore) AddSilence(ctx context.Context, sl Silence) error {
	raw, err := encodeSilence(sl)
	if err != nil {
		return fmt.Errorf("add silence to %s: %w", s.silencesPath(), err)
	}
	return s.rewriteSilences(ctx, func(entries []json.RawMessage) ([]json.RawMessage, error) {
		cutoff := sl.Created.Add(-ExpiredSilencesKept)
		kept := entries[:0]
		for _, e := range entries {
			if storedSilenceID(e) == sl.ID {
				continue // replaced
			}
			if old, err := decodeSilence("", e); err == nil && old.Expires.Before(cutoff) {
				continue // purged
			}
			kept = append(kept, e)
		}
		if len(kept) >= MaxSilences {
			return nil, tooManySilences(s.silencesPath())
		}
		return append(kept, raw), nil
	})
}

// RemoveSilence rewrites the silences file without the silence id, under
// the silences file's lock.
func (s *FileStore) RemoveSilence(ctx context.Context, id string) (bool, error) {
	found := false
	err := s.rewriteSilences(ctx, func(entries []json.RawMessage) ([]json.RawMessage, error) {
		kept := entries[:0]
		for _, e := range entries {
			if storedSilenceID(e) == id {
				found = true
				continue
			}
			kept = append(kept, e)
		}
		if !found {
			return nil, nil
		}
		return kept, nil
	})
	return found, err
}

// rewriteSilences replaces the silences file's entries with what change
// makes of them, under its lock; a nil result with a nil error writes
// nothing.
func (s *FileStore) rewriteSilences(ctx context.Context, change func([]json.RawMessage) ([]json.RawMessage, error)) error {
	unlock, err := s.lockSilences(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	entries, err := s.readSilencesFile(ctx)
	if err != nil {
		return fmt.Errorf("%w; remove it or move it aside to store silences again", err)
	}
	next, err := change(entries)
	if err != nil || next == nil {
		return err
	}
	doc := silencesDoc{V: silencesFileVersion, Silences: next}
	err = atomicfile.Write(s.silencesPath(), func(w io.Writer) error {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			return err
		}
		_, err := w.Write(buf.Bytes())
		return err
	}, atomicfile.Options{Ready: ctx.Err})
	if err != nil {
		return fmt.Errorf("write %s: %w", s.silencesPath(), err)
	}
	return nil
}

// lockSilences takes the silences file's flock, waiting for another
// writer up to silencesLockWait, and returns its release.
func (s *FileStore) lockSilences(ctx context.Context) (func(), error) {
	path := s.silencesLockPath()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, silencesLockWait)
	defer cancel()
	const poll = 10 * time.Millisecond
	for {
		f, err := openNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			if same, err := samePath(f, path); err == nil && same {
				return func() { f.Close() }, nil
			}
			// Replaced since we opened it: a lock on it guards nothing.
		} else if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		f.Close()
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			if err := parent.Err(); err != nil {
				return nil, fmt.Errorf("lock %s: %w", path, err)
			}
			return nil, fmt.Errorf("lock %s: another writer of the silences has held it for %v", path, silencesLockWait)
		case <-t.C:
		}
	}
}
