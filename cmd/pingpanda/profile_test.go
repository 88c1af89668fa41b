package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProfileWritesAPprofProfileOfTheSweep(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tests := []struct {
		name    string
		args    []string
		environ func(file string) []string
	}{
		{name: "--profile cpu:FILE writes a CPU profile", args: []string{"--profile", "cpu:"}},
		{name: "--profile mem:FILE writes a heap profile", args: []string{"--profile", "mem:"}},
		{name: "PINGPANDA_PROFILE asks for one too", environ: func(file string) []string { return []string{profileEnv + "=cpu:" + file} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "sweep.pprof")
			env := loopbackEnv(srv.URL)
			args := []string{"--dry-run"}
			if tt.args != nil {
				args = append(args, tt.args[0], tt.args[1]+file)
			}
			if tt.environ != nil {
				env = append(env, tt.environ(file)...)
			}
			code, _, errOut := runCLI(t, env, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatalf("no profile written: %v\n%s", err, errOut)
			}
			defer f.Close()
			// pprof's format is a gzipped protocol buffer.
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("profile is not gzipped: %v", err)
			}
			if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
				t.Fatalf("profile unreadable (%d bytes, %v)", n, err)
			}
			if !strings.Contains(errOut, "profile written") {
				t.Errorf("log does not say the profile was written:\n%s", errOut)
			}
		})
	}
}

func TestProfileMistakesAreUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown kind", []string{"--profile", "block:/tmp/x"}, `profile "block:/tmp/x" is not cpu:FILE or mem:FILE`},
		{"no file", []string{"--profile", "cpu:"}, `profile "cpu:" is not cpu:FILE or mem:FILE`},
		{"a command that is not one sweep", []string{"serve", "--profile", "cpu:/tmp/x"}, "applies to the sweep command only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCLI(t, nil, tt.args...)
			if code != exitUsageErr || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want 2 with %q", code, errOut, tt.want)
			}
		})
	}
}
