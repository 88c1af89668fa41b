// Package infra is the module of pingpanda's deployment tests; this file
// keeps the README's Deployment section and the files it describes in step.
package infra

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pingpanda/pingpanda/infra/internal/pingpandatest"
)

// deployment returns the README's Deployment section.
func deployment(t *testing.T) string {
	t.Helper()
	readme := string(pingpandatest.ReadFile(t, "README.md"))
	i := strings.Index(readme, "\n## Deployment\n")
	if i < 0 {
		t.Fatal("README.md has no Deployment section")
	}
	sec := readme[i+1:]
	if j := strings.Index(sec[3:], "\n## "); j >= 0 {
		sec = sec[:j+3]
	}
	return sec
}

// TestTheREADMENamesOnlyFilesThatExist checks every infra/… path the
// Deployment section names.
func TestTheREADMENamesOnlyFilesThatExist(t *testing.T) {
	root := pingpandatest.Root(t)
	sec := deployment(t)
	paths := regexp.MustCompile(`infra/[A-Za-z0-9_./-]*[A-Za-z0-9_]`).FindAllString(sec, -1)
	if len(paths) == 0 {
		t.Fatal("the Deployment section names no file under infra/")
	}
	for _, p := range paths {
		if p == "infra/docker/pingpanda.env" {
			continue // the user's copy of pingpanda.env.example
		}
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			t.Errorf("README names %s: %v", p, err)
		}
	}
}

// TestTheREADMEDescribesEveryDeploymentFile requires each file in the
// deployment directories to be named in the Deployment section.
func TestTheREADMEDescribesEveryDeploymentFile(t *testing.T) {
	root := pingpandatest.Root(t)
	sec := deployment(t)
	for _, dir := range []string{"k8s", "cron", "docker"} {
		entries, err := os.ReadDir(filepath.Join(root, "infra", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if e.IsDir() || strings.HasSuffix(name, ".go") {
				continue
			}
			if !strings.Contains(sec, name) {
				t.Errorf("the README's Deployment section does not mention infra/%s/%s", dir, name)
			}
		}
	}
}
