package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// builds holds the binaries built by this test run, by build tags.
var builds struct {
	mu   sync.Mutex
	dir  string
	bins map[string]*built
}

type built struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildBinary builds this command with the given build tags ("" for none)
// once per test run and returns its path. It is built with the race
// detector when the tests are, and without -trimpath, so that it shares
// their build cache: only the packages the tags change are compiled again.
func buildBinary(t *testing.T, tags string) string {
	t.Helper()
	builds.mu.Lock()
	if builds.bins == nil {
		builds.bins = map[string]*built{}
	}
	b := builds.bins[tags]
	if b == nil {
		b = &built{}
		builds.bins[tags] = b
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "pingpanda-build-")
		if err != nil {
			builds.mu.Unlock()
			t.Fatal(err)
		}
		builds.dir = dir
	}
	dir := builds.dir
	builds.mu.Unlock()

	b.once.Do(func() {
		b.path = filepath.Join(dir, "pingpanda"+strings.ReplaceAll("-"+tags, ",", "-"))
		args := []string{"build", "-o", b.path}
		if tags != "" {
			args = append(args, "-tags", tags)
		}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+map[bool]string{true: "1", false: "0"}[raceEnabled])
		b.out, b.err = cmd.CombinedOutput()
	})
	if b.err != nil {
		t.Fatalf("go build (tags %q): %v\n%s", tags, b.err, strings.TrimSpace(string(b.out)))
	}
	return b.path
}

// buildBootstrap builds the Lambda bootstrap: the command with the
// lambda.norpc tag, as `make lambda` builds it, for this machine.
func buildBootstrap(t *testing.T) string { return buildBinary(t, "lambda.norpc") }

// removeBuilds deletes what buildBinary built; TestMain calls it.
func removeBuilds() {
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
}
