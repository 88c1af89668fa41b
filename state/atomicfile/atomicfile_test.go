package atomicfile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// entries names what dir holds.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantMode fs.FileMode
	}{
		{"without options the file is private", Options{}, 0o600},
		{"a mode is given to the new file", Options{Perm: 0o644}, 0o644},
		{"a Ready that agrees lets the file be replaced", Options{Ready: func() error { return nil }}, 0o600},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := Write(path, writeString("new"), tc.opts); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil || string(got) != "new" {
				t.Errorf("file holds %q, %v; want new", got, err)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != tc.wantMode {
				t.Errorf("mode %v, %v; want %v", fi.Mode().Perm(), err, tc.wantMode)
			}
			if names := entries(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v; want the file alone", names)
			}
		})
	}
	t.Run("a relative path lands in the working directory", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		if err := Write("relative.prom", writeString("x"), Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "relative.prom")); err != nil {
			t.Error(err)
		}
	})
}

func TestAFailedWriteLeavesTheFileAsItWas(t *testing.T) {
	diskFull := errors.New("disk full")
	tests := []struct {
		name  string
		write func(io.Writer) error
		opts  Options
	}{
		{"write fails half way", func(w io.Writer) error {
			io.WriteString(w, "half")
			return diskFull
		}, Options{}},
		{"Ready refuses after the data is synced", writeString("new"), Options{Ready: func() error { return diskFull }}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "pingpanda.prom")
			if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := Write(path, tc.write, tc.opts); err != diskFull {
				t.Errorf("got %v; want the error itself", err)
			}
			if got, _ := os.ReadFile(path); string(got) != "old" {
				t.Errorf("the file holds %q; want it unchanged", got)
			}
			if names := entries(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v; want the old file alone", names)
			}
		})
	}
	t.Run("a directory that does not exist is an error", func(t *testing.T) {
		err := Write(filepath.Join(t.TempDir(), "missing", "f"), writeString("x"), Options{})
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("got %v; want ErrNotExist", err)
		}
	})
	t.Run("a path that is a directory is refused and the temporary file removed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "f")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Write(path, writeString("x"), Options{}); err == nil {
			t.Error("a directory was replaced")
		}
		if names := entries(t, dir); len(names) != 1 {
			t.Errorf("directory holds %v; want only the directory in the way", names)
		}
	})
}

func TestAReaderSeesTheOldFileOrTheNewOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	small, large := "small\n", string(bytes.Repeat([]byte("large\n"), 50_000))
	if err := Write(path, writeString(small), Options{}); err != nil {
		t.Fatal(err)
	}
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		reads atomic.Int64
		torn  atomic.Value
	)
	wg.Go(func() {
		for !stop.Load() {
			b, err := os.ReadFile(path)
			if err != nil {
				torn.Store("read: " + err.Error())
				return
			}
			if s := string(b); s != small && s != large {
				torn.Store(len(s))
				return
			}
			reads.Add(1)
		}
	})
	deadline := time.Now().Add(200 * time.Millisecond)
	for i := 0; time.Now().Before(deadline) || i < 20; i++ {
		content := small
		if i%2 == 0 {
			content = large
		}
		if err := Write(path, writeString(content), Options{}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := torn.Load(); v != nil {
		t.Fatalf("a reader saw neither the old file nor the new one: %v", v)
	}
	if reads.Load() == 0 {
		t.Error("the reader never read the file")
	}
}
