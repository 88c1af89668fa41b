package config

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testdataDir is the repository's top-level testdata folder.
const testdataDir = "../../../testdata"

// golden compares got with the file's content, or rewrites it with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestInvalidConfigurationsReportEveryProblemByKey(t *testing.T) {
	// From the repository's root, so that the paths in the messages (and
	// the env-files' own paths) read the same from any package.
	t.Chdir(filepath.Join(testdataDir, ".."))
	files, err := filepath.Glob(filepath.Join("testdata", "config", "invalid-*.env"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".env")
		t.Run(name, func(t *testing.T) {
			_, _, err := loadConfig(Sources{EnvFile: f})
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("loadConfig(%s) = %v; want a *Error", f, err)
			}
			golden(t, strings.TrimSuffix(f, ".env")+".err", err.Error()+"\n")
		})
	}
}

func TestDefaultsAreTheOriginals(t *testing.T) {
	cfg, warnings, err := loadConfig(Sources{})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings with no configuration: %q", warnings)
	}
	var ids []string
	for _, tg := range cfg.Targets {
		ids = append(ids, tg.ID())
	}
	if got := strings.Join(ids, " "); got != "dns:google.com ping:1.1.1.1" {
		t.Errorf("default targets = %q", got)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"RETRY_COUNT", cfg.RetryCount, 3},
		{"CONCURRENCY", cfg.Concurrency, 512},
		{"SWEEP_TIMEOUT_SECONDS", cfg.SweepTimeout, 60 * time.Second},
		{"SSL_WARN_DAYS", cfg.SSLWarnDays, 30.0},
		{"SSL_CRITICAL_DAYS", cfg.SSLCriticalDays, 7.0},
		{"PING_MODE", cfg.PingMode, probe.PingAuto},
		{"PING_COUNT", cfg.PingCount, 1},
		{"HTTP_TIMEOUT_SECONDS", cfg.Timeouts[probe.HTTP], 10 * time.Second},
		{"SSL_TIMEOUT_SECONDS", cfg.Timeouts[probe.TLS], 5 * time.Second},
		{"PING_TIMEOUT_SECONDS", cfg.Timeouts[probe.Ping], 2 * time.Second},
		{"SUCCESS_HTTP_CODES", cfg.SuccessCodes.String(), "200"},
		{"LOG_TO_FILE", cfg.Log.ToFile, false},
		{"LOG_TO_TERMINAL", cfg.Log.ToTerminal, true},
		{"MAX_LOG_SIZE", cfg.Log.MaxSize, int64(1048576)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	dotEnv := write(".env", "RETRY_COUNT=2\n")
	envFile := write("pp.env", "RETRY_COUNT=4\n")
	tests := []struct {
		name       string
		dotEnv     bool
		environ    []string
		envFile    bool
		flags      map[string]string
		want       int
		wantSource string
	}{
		{"the default applies when nothing is set", false, nil, false, nil, 3, "default"},
		{".env overrides the default", true, nil, false, nil, 2, ".env:1"},
		{"the environment wins over .env", true, []string{"RETRY_COUNT=5"}, false, nil, 5, "environment"},
		{"-c FILE wins over the environment", true, []string{"RETRY_COUNT=5"}, true, nil, 4, envFile + ":1"},
		{"a flag wins over everything", true, []string{"RETRY_COUNT=5"}, true, map[string]string{"RETRY_COUNT": "6"}, 6, "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := Sources{Environ: tt.environ, Flags: tt.flags}
			if tt.dotEnv {
				src.DotEnv = dotEnv
			}
			if tt.envFile {
				src.EnvFile = envFile
			}
			cfg, _, err := loadConfig(src)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RetryCount != tt.want || cfg.values["RETRY_COUNT"].source != tt.wantSource {
				t.Errorf("RETRY_COUNT = %d from %q, want %d from %q", cfg.RetryCount, cfg.values["RETRY_COUNT"].source, tt.want, tt.wantSource)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		env  string
		want string
	}{
		{"a misspelt key gets a suggestion", "ALERT_THRESHHOLD=3\n", "ALERT_THRESHHOLD: unknown key (FILE:1); did you mean ALERT_THRESHOLD?"},
		{"a key far from any gets none", "COMPLETELY_DIFFERENT=1\n", "COMPLETELY_DIFFERENT: unknown key (FILE:1)"},
		{"an old name is accepted and named deprecated", "FLAPPING_THRESHOLD=4\n", "FLAPPING_THRESHOLD (FILE:1) is deprecated: use FLAP_THRESHOLD"},
		{"an ignored key of the original says why", "PERSIST_STATS=true\n", "PERSIST_STATS is no longer used and is ignored: state always persists in the state store"},
		{"a list with its check disabled is named", "CHECK_WEBSITE=https://example.com\n", "CHECK_WEBSITE is set but ENABLE_WEBSITE_CHECK is false: those targets are not checked"},
		{"a check enabled with an empty list is named", "ENABLE_SSL_CHECK=true\nSSL_CHECK_DOMAINS=\n", "ENABLE_SSL_CHECK is true but SSL_CHECK_DOMAINS is empty: it adds no tls targets"},
		{"a list emptied under its default switch is named", "DOMAINS=\n", "ENABLE_DNS is true but DOMAINS is empty: it adds no dns targets"},
		{"a repeated target is checked once", "DOMAINS=example.com,EXAMPLE.com.\n", "DOMAINS: dns:example.com is listed again (first in DOMAINS); checked once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "pp.env")
			if err := os.WriteFile(p, []byte(tt.env), 0o644); err != nil {
				t.Fatal(err)
			}
			_, warnings, err := loadConfig(Sources{EnvFile: p})
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tt.want, "FILE", p)
			for _, w := range warnings {
				if w == want {
					return
				}
			}
			t.Errorf("warnings = %q; want one to be %q", warnings, want)
		})
	}
}

func TestAnAliasIsAppliedToTheNewKey(t *testing.T) {
	cfg, _, err := loadConfig(Sources{Environ: []string{"FLAPPING_WINDOW=120"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.FlapWindow != 120*time.Second {
		t.Errorf("FLAP_WINDOW_SECONDS = %v, want 2m0s from FLAPPING_WINDOW", cfg.Policy.FlapWindow)
	}
}

func TestTargetsFileAddsTargetsAfterTheEnvLists(t *testing.T) {
	cfg, _, err := loadConfig(Sources{Environ: []string{
		"TARGETS_FILE=" + filepath.Join(testdataDir, "config", "targets.yaml"), "ENABLE_PING=false",
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range cfg.Targets {
		got = append(got, tg.ID()+"|"+tg.Name)
	}
	want := "dns:google.com| http:https://example.com/|shop dns:example.org| tls:[2001:db8::1]:443| ping:192.0.2.1|router"
	if strings.Join(got, " ") != want {
		t.Errorf("targets = %q\nwant      %q", strings.Join(got, " "), want)
	}
}

func TestVerboseLowersTheLogLevelToDebug(t *testing.T) {
	cfg, _, err := loadConfig(Sources{Environ: []string{"VERBOSE=true", "LOG_LEVEL=ERROR"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Log.Level != -4 {
		t.Errorf("level = %v, want DEBUG", cfg.Log.Level)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"https://hooks.slack.com/services/T000/B000/XXXX", "https://hooks.slack.com/REDACTED"},
		{"rediss://user:hunter2@redis.internal:6380/0", "rediss://user:REDACTED@redis.internal:6380/REDACTED"},
		{"redis://redis:6379", "redis://redis:6379"},
		{"https://example.com/hook?token=abc", "https://example.com/REDACTED"},
		{"not a url", "REDACTED"},
	}
	for _, tt := range tests {
		if got := redact(tt.in); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"ABC", "ABC", 0}, {"ALERT_THRESHHOLD", "ALERT_THRESHOLD", 1}, {"KITTEN", "SITTING", 3}} {
		if got := EditDistance(c.a, c.b); got != c.want {
			t.Errorf("EditDistance(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestAFileReferenceReadsTheSecretAndConfigShowsItRedactedWithTheReference(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "redis-url")
	if err := os.WriteFile(secret, []byte("redis://pp:s3cr3t@127.0.0.1:6379/0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := loadConfig(Sources{Environ: []string{"REDIS_URL=file:" + secret}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RedisURL != "redis://pp:s3cr3t@127.0.0.1:6379/0" {
		t.Errorf("REDIS_URL resolved to %q", cfg.RedisURL)
	}
	out := shown(t, cfg)
	if strings.Contains(out, "s3cr3t") ||
		!regexp.MustCompile(`REDIS_URL=redis://pp:REDACTED@127.0.0.1:6379/REDACTED +# environment, read from file:`+regexp.QuoteMeta(secret)+`\n`).MatchString(out) {
		t.Errorf("config should show the secret redacted and the reference, never the secret:\n%s", out)
	}
}

func TestShardIndexComesFromAnIndexedJob(t *testing.T) {
	targets := "CHECK_WEBSITE=https://a.example,https://b.example,https://c.example,https://d.example"
	env := []string{"ENABLE_WEBSITE_CHECK=true", "ENABLE_DNS=false", "ENABLE_PING=false", targets, "SHARD_COUNT=2"}
	total := 0
	for _, idx := range []string{"0", "1"} {
		cfg, _, err := loadConfig(Sources{Environ: append(env, "JOB_COMPLETION_INDEX="+idx)})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Shard != idx+"-of-2" || cfg.values["SHARD_INDEX"].source != "JOB_COMPLETION_INDEX" || len(cfg.AllTargets) != 4 {
			t.Fatalf("shard %s from %s, %d targets in all", cfg.Shard, cfg.values["SHARD_INDEX"].source, len(cfg.AllTargets))
		}
		total += len(cfg.Targets)
	}
	if total != 4 {
		t.Errorf("the two shards probe %d targets between them, want 4", total)
	}
	cfg, _, err := loadConfig(Sources{Environ: append(env, "JOB_COMPLETION_INDEX=1", "SHARD_INDEX=0")})
	if err != nil || cfg.Shard != "0-of-2" {
		t.Errorf("SHARD_INDEX should win over JOB_COMPLETION_INDEX: %v %v", cfg, err)
	}
}

// shown is what `pingpanda config` prints of cfg.
func shown(t *testing.T, cfg *Config) string {
	t.Helper()
	var b strings.Builder
	if err := Print(&b, cfg, false); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// loadConfig is Load without a deadline of its own.
func loadConfig(src Sources) (*Config, []string, error) {
	return Load(context.Background(), src)
}
