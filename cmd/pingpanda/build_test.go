package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var bootstrap struct {
	once sync.Once
	path string
	err  error
	out  []byte
	dir  string
}

// buildBootstrap builds the Lambda bootstrap with the lambda.norpc tag, as
// `make lambda` does, for this machine's platform, once per test run, and
// returns its path. It is built with the race detector when the tests are,
// and without -trimpath, so that it shares their build cache: only the
// packages the tag changes are compiled again.
func buildBootstrap(t *testing.T) string {
	t.Helper()
	bootstrap.once.Do(func() {
		bootstrap.dir, bootstrap.err = os.MkdirTemp("", "pingpanda-bootstrap-")
		if bootstrap.err != nil {
			return
		}
		bootstrap.path = filepath.Join(bootstrap.dir, "bootstrap")
		args := []string{"build", "-tags", "lambda.norpc", "-o", bootstrap.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+map[bool]string{true: "1", false: "0"}[raceEnabled])
		bootstrap.out, bootstrap.err = cmd.CombinedOutput()
	})
	if bootstrap.err != nil {
		t.Fatalf("go build -tags lambda.norpc: %v\n%s", bootstrap.err, strings.TrimSpace(string(bootstrap.out)))
	}
	return bootstrap.path
}

// removeBootstrap deletes what buildBootstrap built; TestMain calls it.
func removeBootstrap() {
	if bootstrap.dir != "" {
		os.RemoveAll(bootstrap.dir)
	}
}
