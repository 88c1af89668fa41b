// Package config owns pingpanda's configuration: the keys (keys.go, the one
// source of their defaults, validation and the README's table), where values
// come from (the environment, .env, -c FILE, flags), secret references
// (file:, ssm:, secretsmanager:, s3://), and validation of the whole, every
// problem listed at once, each naming its key.
package config

import (
	"context"
	"crypto/x509"
	"log/slog"
	"strings"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/awsref"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// Config is the validated configuration of one run.
type Config struct {
	// Targets are this shard's share of AllTargets.
	Targets    []probe.Target
	AllTargets []probe.Target

	SuccessCodes    probe.CodeSet
	SSLWarnDays     float64
	SSLCriticalDays float64
	SSLCAFile       string
	// RootCAs verifies tls and https targets: the system roots plus
	// SSL_CA_FILE's, or nil for the system roots alone.
	RootCAs       *x509.CertPool
	DNSServer     string
	DNSRecordType uint16
	PingMode      probe.PingMode
	PingCount     int
	PingTCPPort   int
	Timeouts      map[probe.Check]time.Duration
	RetryCount    int

	SweepTimeout time.Duration
	// SweepTimeoutSet: SWEEP_TIMEOUT_SECONDS (or --timeout) was given, so
	// it bounds even a sweep with a deadline of its own (Lambda).
	SweepTimeoutSet bool
	Concurrency     int
	ShowOnlySuccess bool
	ShowOnlyFailure bool

	Log Log

	// Policy drives state.Apply: alert threshold, flapping, backoff.
	Policy state.Policy
	// Where state lives: Redis when RedisURL is set, else StateFile.
	RedisURL  string
	StateFile string
	Namespace string
	// Shard names this process's share of the targets (SHARD_INDEX of
	// SHARD_COUNT); each shard has its own lease.
	Shard string

	StatsLog StatsLog

	Alerts Alerts
	// Routing is where alerts go: channels, routes, maintenance.
	Routing Routing
	Metrics Metrics
	Serve   Serve

	// Monitors explains each monitor of the monitors file, field by
	// field, when Sources.ExplainMonitors asked for it.
	Monitors []Monitor

	// values holds every key's effective value and where it came from,
	// for `pingpanda config`.
	values map[string]setting
}

type Metrics struct {
	PushgatewayURL, Job, Username, Password string
	Textfile                                string
}

type Serve struct {
	Interval, Jitter, SummaryInterval time.Duration
	Listen                            bool   // ENABLE_PROMETHEUS
	Addr                              string // PROMETHEUS_BIND_ADDRESS:PROMETHEUS_PORT
}

type Alerts struct {
	SlackURL, SlackChannel, SlackUsername, SlackIcon string
	TeamsURL                                         string
	DiscordURL, DiscordUsername, DiscordAvatar       string
	SourceName                                       string // ALERT_SOURCE_NAME; empty: decided at start-up
	Attempts                                         int
	Backoff                                          time.Duration
	Outbox                                           state.OutboxPolicy
}

type StatsLog struct {
	Enabled bool
	// Path is STATS_LOG_FILE, joined to LOG_DIR when relative.
	Path        string
	Format      string // csv or json
	MaxSize     int64  // STATS_LOG_MAX_SIZE
	BackupCount int    // STATS_LOG_BACKUP_COUNT
}

type Log struct {
	Level       slog.Level
	Verbose     bool
	Format      string // auto, json, text
	ToTerminal  bool
	ToFile      bool
	Path        string
	MaxSize     int64
	BackupCount int
}

// setting is one key's effective value and its source.
type setting struct {
	value  string
	source string
	// ref is the reference (file:, ssm:, secretsmanager:) the value was
	// read through, for a secret key given as one.
	ref string
}

// Sources are the inputs of Load, lowest precedence first.
type Sources struct {
	// DotEnv is the path of the working directory's .env; a missing file
	// is not an error. It never overrides the environment.
	DotEnv string
	// Environ is the process environment, as os.Environ returns it.
	Environ []string
	// EnvFile is the -c FILE argument; it overrides the environment.
	EnvFile string
	// Flags are the command line's settings, keyed by configuration key.
	Flags map[string]string
	// NewAWS makes the AWS client that resolves ssm:, secretsmanager: and
	// s3:// references; nil means awsref.New. It is called only when a
	// reference is present.
	NewAWS awsref.NewFunc
	// ExplainMonitors keeps, for `pingpanda config --monitors`, every
	// monitor's fields and where each came from (Config.Monitors).
	ExplainMonitors bool
}

// Error lists every problem in a configuration. Its message has one
// problem per line.
type Error struct {
	Problems []string
	// Transient is set when a problem may go away on its own (AWS
	// throttling, a timeout, a 5xx): loading again later may succeed.
	Transient bool
}

func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Load merges the sources, resolves secret references,
// validates every value and returns the configuration and the warnings to
// log. On invalid input the error is a *Error listing every problem,
// each naming its key.
func Load(ctx context.Context, src Sources) (*Config, []string, error) {
	l := loader{values: map[string]setting{}, environ: src.Environ, newAWS: src.NewAWS, explain: src.ExplainMonitors}
	for _, k := range keys {
		l.values[k.name] = setting{value: k.def, source: "default"}
	}
	envKeys := map[string]bool{}
	for _, kv := range src.Environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !l.known(k) {
			continue
		}
		envKeys[k] = true
		l.set(k, v, "environment", 0)
	}
	if src.DotEnv != "" {
		l.readFile(src.DotEnv, ".env", false, envKeys)
	}
	if src.EnvFile != "" {
		l.readFile(src.EnvFile, src.EnvFile, true, envKeys)
	}
	for k, v := range src.Flags {
		l.set(k, v, "flag", 0)
	}
	// A Kubernetes Indexed Job gives each pod its index; it is the shard
	// unless SHARD_INDEX says otherwise.
	if l.values["SHARD_INDEX"].source == "default" {
		for _, kv := range src.Environ {
			if v, ok := strings.CutPrefix(kv, "JOB_COMPLETION_INDEX="); ok {
				l.values["SHARD_INDEX"] = setting{value: v, source: "JOB_COMPLETION_INDEX"}
			}
		}
	}
	cfg := l.build(ctx)
	if len(l.problems) > 0 {
		return nil, l.warnings, &Error{Problems: l.problems, Transient: l.transient}
	}
	return cfg, l.warnings, nil
}
