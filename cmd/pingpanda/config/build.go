package config

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// build parses and validates every key, then the rules between keys.
func (l *loader) build(ctx context.Context) *Config {
	cfg := &Config{values: l.values}
	l.resolveSecrets(ctx)

	// Type-check every key, including those later features will use, so a
	// bad value is reported now rather than replaced by a default.
	for _, k := range keys {
		switch k.kind {
		case kBool:
			l.bool(k.name)
		case kInt:
			l.int(k.name)
		case kFloat:
			l.float(k.name)
		case kEnum:
			l.enum(k.name)
		}
		if l.values[k.name].source == "default" {
			continue
		}
		switch {
		case k.ignored != "":
			l.warn("%s is no longer used and is ignored: %s", k.name, k.ignored)
		case k.pending != "":
			l.warn("%s is set, but %s is not part of this version yet: the value is checked and otherwise ignored", k.name, k.pending)
		}
	}

	l.buildChecks(cfg)
	cfg.Log = l.logConfig()
	l.buildState(cfg) // the monitors' defaults come from the policy
	cfg.Targets = l.targets(ctx, cfg)
	cfg.AllTargets = cfg.Targets
	cfg.Targets = shardTargets(cfg.AllTargets, l.int("SHARD_INDEX"), l.int("SHARD_COUNT"))
	l.buildOutputs(cfg)
	return cfg
}

// buildChecks reads how the checks run: certificates, codes, DNS, ping,
// timeouts, retries, concurrency.
func (l *loader) buildChecks(cfg *Config) {
	cfg.SSLWarnDays = l.float("SSL_WARN_DAYS")
	cfg.SSLCriticalDays = l.float("SSL_CRITICAL_DAYS")
	if cfg.SSLCriticalDays >= cfg.SSLWarnDays && cfg.SSLWarnDays > 0 {
		l.problem("SSL_CRITICAL_DAYS: %s must be less than SSL_WARN_DAYS (%s)", l.raw("SSL_CRITICAL_DAYS"), l.raw("SSL_WARN_DAYS"))
	}
	if codes, err := probe.ParseCodes(l.raw("SUCCESS_HTTP_CODES")); err != nil {
		l.problem("SUCCESS_HTTP_CODES: %v", err)
	} else {
		cfg.SuccessCodes = codes
	}
	cfg.SSLCAFile = l.raw("SSL_CA_FILE")
	if cfg.SSLCAFile != "" {
		pool, err := probe.LoadCertPool(cfg.SSLCAFile)
		if err != nil {
			l.problem("SSL_CA_FILE: %v", err)
		}
		cfg.RootCAs = pool
	}
	cfg.DNSServer = l.dnsServer()
	rt := strings.ToUpper(l.raw("DNS_RECORD_TYPE"))
	if t, ok := dns.StringToType[rt]; ok && rt != "ANY" && rt != "AXFR" && rt != "IXFR" && rt != "OPT" {
		cfg.DNSRecordType = t
	} else {
		l.problem("DNS_RECORD_TYPE: %q is not a record type (A, AAAA, CNAME, MX, TXT, NS, …)", l.raw("DNS_RECORD_TYPE"))
	}
	cfg.PingMode = probe.PingMode(l.enum("PING_MODE"))
	cfg.PingCount = l.int("PING_COUNT")
	cfg.PingTCPPort = l.int("PING_TCP_PORT")
	cfg.Timeouts = map[probe.Check]time.Duration{
		probe.DNS:  l.seconds("DNS_TIMEOUT_SECONDS"),
		probe.Ping: l.seconds("PING_TIMEOUT_SECONDS"),
		probe.HTTP: l.seconds("HTTP_TIMEOUT_SECONDS"),
		probe.TLS:  l.seconds("SSL_TIMEOUT_SECONDS"),
		probe.TCP:  l.seconds("TCP_TIMEOUT_SECONDS"),
	}
	cfg.RetryCount = l.int("RETRY_COUNT")
	cfg.SweepTimeout = l.seconds("SWEEP_TIMEOUT_SECONDS")
	cfg.SweepTimeoutSet = l.values["SWEEP_TIMEOUT_SECONDS"].source != "default"
	cfg.Concurrency = l.int("CONCURRENCY")
	cfg.ShowOnlySuccess = l.bool("SHOW_ONLY_SUCCESS")
	cfg.ShowOnlyFailure = l.bool("SHOW_ONLY_FAILURE")
	if cfg.ShowOnlySuccess && cfg.ShowOnlyFailure {
		l.problem("SHOW_ONLY_SUCCESS and SHOW_ONLY_FAILURE: both are true; set at most one")
	}
	if l.float("BACKOFF_MIN_SECONDS") > l.float("BACKOFF_MAX_SECONDS") {
		l.problem("BACKOFF_MIN_SECONDS: %s is more than BACKOFF_MAX_SECONDS (%s)", l.raw("BACKOFF_MIN_SECONDS"), l.raw("BACKOFF_MAX_SECONDS"))
	}
	if l.int("SHARD_INDEX") >= l.int("SHARD_COUNT") && l.int("SHARD_COUNT") > 0 {
		l.problem("SHARD_INDEX: %s must be less than SHARD_COUNT (%s)", l.raw("SHARD_INDEX"), l.raw("SHARD_COUNT"))
	}
}

// buildState reads the alert policy and where state lives.
func (l *loader) buildState(cfg *Config) {
	cfg.Policy = state.Policy{
		AlertThreshold:   l.int("ALERT_THRESHOLD"),
		NotifyRecovery:   l.bool("NOTIFY_RECOVERY"),
		RealertInterval:  l.seconds("REALERT_INTERVAL_SECONDS"),
		FlapThreshold:    l.int("FLAP_THRESHOLD"),
		FlapWindow:       l.seconds("FLAP_WINDOW_SECONDS"),
		Backoff:          l.bool("ENABLE_ADAPTIVE_BACKOFF"),
		BackoffMin:       l.seconds("BACKOFF_MIN_SECONDS"),
		BackoffMax:       l.seconds("BACKOFF_MAX_SECONDS"),
		BreakerThreshold: l.int("CIRCUIT_BREAKER_THRESHOLD"),
		BreakerCooldown:  l.seconds("CIRCUIT_BREAKER_COOLDOWN_SECONDS"),
		Retention:        l.seconds("STATE_RETENTION_SECONDS"),
	}
	cfg.RedisURL = l.redisURL()
	cfg.StateFile = l.raw("STATE_FILE")
	cfg.Namespace = l.raw("STATE_NAMESPACE")
	if cfg.Namespace == "" || strings.ContainsAny(cfg.Namespace, "{}: \t") {
		l.problem("STATE_NAMESPACE: %q must be non-empty, without braces, colons or blanks", cfg.Namespace)
	}
	cfg.Shard = fmt.Sprintf("%d-of-%d", l.int("SHARD_INDEX"), l.int("SHARD_COUNT"))
}

// buildOutputs reads where results go: alerts, metrics, serve mode, the
// stats log.
func (l *loader) buildOutputs(cfg *Config) {
	cfg.Alerts = Alerts{
		SlackURL:        l.webhookURL("SLACK_WEBHOOK_URL"),
		SlackChannel:    l.raw("SLACK_CHANNEL"),
		SlackUsername:   l.raw("SLACK_USERNAME"),
		SlackIcon:       l.raw("SLACK_ICON_EMOJI"),
		TeamsURL:        l.webhookURL("TEAMS_WEBHOOK_URL"),
		DiscordURL:      l.webhookURL("DISCORD_WEBHOOK_URL"),
		DiscordUsername: l.raw("DISCORD_USERNAME"),
		DiscordAvatar:   l.raw("DISCORD_AVATAR_URL"),
		SourceName:      l.raw("ALERT_SOURCE_NAME"),
		Attempts:        l.int("NOTIFICATION_RETRY_ATTEMPTS"),
		Backoff:         l.seconds("NOTIFICATION_RETRY_BACKOFF_SECONDS"),
		Outbox:          state.OutboxPolicy{MaxEntries: l.int("OUTBOX_MAX_ENTRIES"), MaxAge: l.seconds("OUTBOX_MAX_AGE_SECONDS")},
	}
	l.buildRouting(cfg)
	cfg.Metrics = Metrics{
		PushgatewayURL: l.pushgatewayURL(),
		Job:            l.raw("PUSHGATEWAY_JOB"),
		Username:       l.raw("PUSHGATEWAY_USERNAME"),
		Password:       l.raw("PUSHGATEWAY_PASSWORD"),
		Textfile:       l.raw("METRICS_TEXTFILE"),
	}
	if cfg.Metrics.Job == "" {
		l.problem("PUSHGATEWAY_JOB: empty")
	}
	cfg.Serve = Serve{
		Interval:        l.seconds("INTERVAL"),
		Jitter:          l.seconds("JITTER_SECONDS"),
		SummaryInterval: l.seconds("SUMMARY_INTERVAL_SECONDS"),
		Listen:          l.bool("ENABLE_PROMETHEUS"),
		Addr:            net.JoinHostPort(l.raw("PROMETHEUS_BIND_ADDRESS"), strconv.Itoa(l.int("PROMETHEUS_PORT"))),
	}
	cfg.StatsLog = l.statsLogConfig()
}

// statsLogConfig reads the stats log's keys. A relative STATS_LOG_FILE is
// in LOG_DIR, where the original put it.
func (l *loader) statsLogConfig() StatsLog {
	sc := StatsLog{
		Enabled:     l.bool("STORE_STATS_LOG"),
		Path:        l.raw("STATS_LOG_FILE"),
		Format:      l.enum("STATS_LOG_FORMAT"),
		MaxSize:     int64(l.int("STATS_LOG_MAX_SIZE")),
		BackupCount: l.int("STATS_LOG_BACKUP_COUNT"),
	}
	if sc.Path == "" {
		if sc.Enabled {
			l.problem("STATS_LOG_FILE: empty, but STORE_STATS_LOG is true")
		}
		return sc
	}
	if !filepath.IsAbs(sc.Path) {
		sc.Path = filepath.Join(l.raw("LOG_DIR"), sc.Path)
	}
	return sc
}

func (l *loader) logConfig() Log {
	lc := Log{
		Verbose:     l.bool("VERBOSE"),
		Format:      l.enum("LOG_FORMAT"),
		ToTerminal:  l.bool("LOG_TO_TERMINAL"),
		ToFile:      l.bool("LOG_TO_FILE"),
		Path:        filepath.Join(l.raw("LOG_DIR"), l.raw("LOG_FILE")),
		MaxSize:     int64(l.int("MAX_LOG_SIZE")),
		BackupCount: l.int("LOG_BACKUP_COUNT"),
	}
	switch l.enum("LOG_LEVEL") {
	case "DEBUG":
		lc.Level = slog.LevelDebug
	case "WARNING", "WARN":
		lc.Level = slog.LevelWarn
	case "ERROR", "CRITICAL":
		lc.Level = slog.LevelError
	}
	if lc.Verbose {
		lc.Level = slog.LevelDebug
	}
	if lc.ToFile && l.raw("LOG_FILE") == "" {
		l.problem("LOG_FILE: empty, but LOG_TO_FILE is true")
	}
	return lc
}
