package push

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

func parseText(t *testing.T, b []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not the text format: %v\n%s", err, b)
	}
	return fams
}

func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pingpanda.prom")
	sweep := realisticSweep(t)
	if err := WriteTextfile(path, sweep); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("writes WriteText's exposition", func(t *testing.T) {
		if want := text(t, sweep); !bytes.Equal(got, want) {
			t.Errorf("file holds\n%s\nwant\n%s", got, want)
		}
		if fams := parseText(t, got); len(fams) != len(MetricNames()) {
			t.Errorf("file parses to %d families; want %d", len(fams), len(MetricNames()))
		}
	})
	t.Run("with mode 0644, for node_exporter running as another user", func(t *testing.T) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("mode %v; want 0644", fi.Mode().Perm())
		}
	})
	t.Run("leaves no temporary file behind", func(t *testing.T) {
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			t.Errorf("directory holds %v; want only pingpanda.prom", names)
		}
	})
	t.Run("a relative path lands in the working directory", func(t *testing.T) {
		t.Chdir(dir)
		if err := WriteTextfile("relative.prom", sweep); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "relative.prom")); err != nil {
			t.Error(err)
		}
	})
}

func TestWriteTextfileIsAtomic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pingpanda.prom")
	// Two sweeps of different sizes, so a torn file would show.
	small := Sweep{At: sweepAt}
	large := realisticSweep(t)
	want := map[string]bool{string(text(t, small)): true, string(text(t, large)): true}
	if err := WriteTextfile(path, small); err != nil {
		t.Fatal(err)
	}

	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		reads atomic.Int64
		torn  atomic.Value
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			b, err := os.ReadFile(path)
			if err != nil {
				torn.Store("read: " + err.Error())
				return
			}
			if !want[string(b)] {
				torn.Store(string(b))
				return
			}
			reads.Add(1)
		}
	}()
	deadline := time.Now().Add(300 * time.Millisecond)
	for i := 0; time.Now().Before(deadline) || i < 20; i++ {
		sweep := small
		if i%2 == 0 {
			sweep = large
		}
		if err := WriteTextfile(path, sweep); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	if v := torn.Load(); v != nil {
		t.Fatalf("a reader saw neither the old file nor the new one:\n%v", v)
	}
	if reads.Load() == 0 {
		t.Error("the reader never read the file")
	}
}

func TestWriteTextfileErrors(t *testing.T) {
	t.Run("a directory that does not exist is named in the error", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "pingpanda.prom")
		err := WriteTextfile(path, Sweep{At: sweepAt})
		if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v; want an error naming %s, wrapping ErrNotExist", err, path)
		}
	})
	t.Run("a path that is a directory is refused and the temporary file removed", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "pingpanda.prom")
		if err := os.Mkdir(path, 0o755); err != nil {
			t.Fatal(err)
		}
		tg := target(t, probe.DNS, "example.com")
		sweep := Sweep{At: sweepAt, Results: []probe.Result{{Target: tg, Status: probe.StatusUp, Attempts: 1}},
			States: []state.TargetState{{Status: state.Up}}}
		err := WriteTextfile(path, sweep)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("got %v; want an error naming %s", err, path)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory holds %d entries; want only the directory in the way", len(entries))
		}
	})
}
