package sweep

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
)

// TestTheStateFilesDefaultPlaceComesFromTheGivenEnvironment: the default
// state file is found from the environment the store is given, never from
// the process's, so a test (or an embedding program) decides it.
func TestTheStateFilesDefaultPlaceComesFromTheGivenEnvironment(t *testing.T) {
	dir := t.TempDir()
	now := func() time.Time { return time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC) }
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"XDG_STATE_HOME", []string{"HOME=/nonexistent", "XDG_STATE_HOME=" + dir}, filepath.Join(dir, "pingpanda", "state.json")},
		{"HOME, the last of two", []string{"HOME=/nonexistent", "HOME=" + dir}, filepath.Join(dir, ".local", "state", "pingpanda", "state.json")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := OpenStore(context.Background(), &config.Config{}, StoreEnv{Now: now, Environ: tt.environ, Host: "probe-1"})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := st.String(); got != "file "+tt.want {
				t.Errorf("store %s, want file %s", got, tt.want)
			}
		})
	}
	if _, err := OpenStore(context.Background(), &config.Config{}, StoreEnv{Now: now}); err == nil {
		t.Error("a store opened with neither STATE_FILE, XDG_STATE_HOME nor HOME")
	}
}
