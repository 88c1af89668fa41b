// Package pingpandatest gives the deployment tests what they share: the
// repository's root, the pingpanda binary built from it, the set of
// configuration keys that binary knows, and the rule that an integration
// test whose tool is missing skips locally but fails in CI.
package pingpandatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Unavailable skips a test whose environment is missing (a tool, root) —
// except in CI, where PINGPANDA_CI is set and every test must run, so a
// missing piece is a failure.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("PINGPANDA_CI") != "" {
		t.Fatalf("PINGPANDA_CI is set, so this must run: %s", msg)
	}
	t.Skip(msg)
}

// Root is the repository's root: the nearest parent of the working
// directory whose go.mod is pingpanda's own module.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/pingpanda/pingpanda\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no parent directory holds pingpanda's go.mod")
		}
		dir = parent
	}
}

// ReadFile reads a file given by its path from the repository's root.
func ReadFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

// Binary builds ./cmd/pingpanda once per test binary and returns its path.
// The build goes to a directory that Cleanup removes at the end of the
// process (TestMain); tests must not delete it.
func Binary(t testing.TB) string {
	t.Helper()
	root := Root(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "pingpanda-infra-")
		if buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "pingpanda")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", buildBin, "./cmd/pingpanda")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/pingpanda: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// Cleanup removes what Binary built. Call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Config runs `pingpanda config --json` with exactly env as its environment
// (plus HOME, in a temporary directory) and returns the effective settings
// by key. An invalid configuration is an error carrying pingpanda's message.
func Config(t testing.TB, env []string) (map[string]string, error) {
	t.Helper()
	bin := Binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "config", "--json")
	cmd.Env = append([]string{"HOME=" + t.TempDir()}, env...)
	cmd.Dir = t.TempDir() // no .env file here
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("pingpanda config: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var doc struct {
		Settings []struct {
			Key   string `json:"key"`
			Value string `json:"value"`
		} `json:"settings"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		return nil, fmt.Errorf("pingpanda config --json: %w", err)
	}
	settings := make(map[string]string, len(doc.Settings))
	for _, s := range doc.Settings {
		settings[s.Key] = s.Value
	}
	if len(settings) == 0 {
		return nil, fmt.Errorf("pingpanda config --json listed no settings")
	}
	return settings, nil
}

// Keys is the set of configuration keys pingpanda knows, as its own
// `config --json` lists them.
func Keys(t testing.TB) map[string]bool {
	t.Helper()
	settings, err := Config(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := make(map[string]bool, len(settings))
	for k := range settings {
		keys[k] = true
	}
	return keys
}
