package config

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTheStatsLogIsInLogDirUnlessItsPathIsAbsolute(t *testing.T) {
	abs := filepath.Join(t.TempDir(), "stats.csv")
	tests := []struct {
		name    string
		environ []string
		want    string
	}{
		{"the default is in the default LOG_DIR", nil, "/logs/pingpanda_stats.csv"},
		{"the default follows LOG_DIR", []string{"LOG_DIR=/var/log/pingpanda"}, "/var/log/pingpanda/pingpanda_stats.csv"},
		{"a relative name is in LOG_DIR", []string{"LOG_DIR=/var/log/pingpanda", "STATS_LOG_FILE=sub/stats.jsonl"}, "/var/log/pingpanda/sub/stats.jsonl"},
		{"an absolute path is kept", []string{"LOG_DIR=/var/log/pingpanda", "STATS_LOG_FILE=" + abs}, abs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _, err := loadConfig(Sources{Environ: append([]string{"STORE_STATS_LOG=true"}, tt.environ...)})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.StatsLog.Path != tt.want {
				t.Errorf("stats log path = %q, want %q", cfg.StatsLog.Path, tt.want)
			}
		})
	}
}

func TestTheStatsLogRotatesWithItsOwnKeys(t *testing.T) {
	t.Run("the defaults are the original's", func(t *testing.T) {
		cfg, _, err := loadConfig(Sources{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.StatsLog.MaxSize != 1048576 || cfg.StatsLog.BackupCount != 5 {
			t.Errorf("STATS_LOG_MAX_SIZE, STATS_LOG_BACKUP_COUNT = %d, %d; want 1048576, 5", cfg.StatsLog.MaxSize, cfg.StatsLog.BackupCount)
		}
	})
	t.Run("they are read, and leave the main log alone", func(t *testing.T) {
		cfg, _, err := loadConfig(Sources{Environ: []string{"STATS_LOG_MAX_SIZE=4096", "STATS_LOG_BACKUP_COUNT=0"}})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.StatsLog.MaxSize != 4096 || cfg.StatsLog.BackupCount != 0 {
			t.Errorf("stats log rotation = %d bytes, %d backups; want 4096, 0", cfg.StatsLog.MaxSize, cfg.StatsLog.BackupCount)
		}
		if cfg.Log.MaxSize != 1048576 || cfg.Log.BackupCount != 5 {
			t.Errorf("main log rotation = %d bytes, %d backups; want the defaults", cfg.Log.MaxSize, cfg.Log.BackupCount)
		}
	})
	for _, old := range []string{"LOG_ROTATION_SIZE", "STATS_LOG_SIZE"} {
		t.Run("the original's "+old+" is the stats log's size, with a warning", func(t *testing.T) {
			cfg, warnings, err := loadConfig(Sources{Environ: []string{old + "=2048"}})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.StatsLog.MaxSize != 2048 || cfg.Log.MaxSize != 1048576 {
				t.Errorf("stats log %d bytes, main log %d; want 2048 and the default", cfg.StatsLog.MaxSize, cfg.Log.MaxSize)
			}
			want := old + " (environment) is deprecated: use STATS_LOG_MAX_SIZE"
			if !slices.Contains(warnings, want) {
				t.Errorf("warnings = %q; want %q", warnings, want)
			}
		})
	}
	t.Run("the new name wins over the old one, in either order", func(t *testing.T) {
		environ := []string{"STATS_LOG_SIZE=2048", "STATS_LOG_MAX_SIZE=8192"}
		for range 2 {
			cfg, _, err := loadConfig(Sources{Environ: environ})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.StatsLog.MaxSize != 8192 {
				t.Errorf("%q: STATS_LOG_MAX_SIZE = %d, want 8192", environ, cfg.StatsLog.MaxSize)
			}
			slices.Reverse(environ)
		}
	})
}

func TestBadStatsLogValuesNameTheirKey(t *testing.T) {
	_, _, err := loadConfig(Sources{Environ: []string{
		"STORE_STATS_LOG=true", "STATS_LOG_FILE=", "STATS_LOG_MAX_SIZE=1m", "STATS_LOG_BACKUP_COUNT=-1",
	}})
	if err == nil {
		t.Fatal("loaded; want errors")
	}
	for _, want := range []string{
		`STATS_LOG_FILE: empty, but STORE_STATS_LOG is true`,
		`STATS_LOG_MAX_SIZE: "1m" is not a whole number`,
		`STATS_LOG_BACKUP_COUNT: -1 is out of range (0 to 1000)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%s", want, err)
		}
	}
}
