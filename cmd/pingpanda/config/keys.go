package config

// kind is how a configuration value is parsed.
type kind int

const (
	kString kind = iota
	kBool
	kInt   // whole number within [min, max]
	kFloat // number within [min, max]
	kList  // comma-separated, blanks dropped
	kEnum  // one of enum, case-insensitive
)

// keySpec describes one configuration key. The table below is the single
// source of the defaults, the validation, `pingpanda config` and the README's
// configuration table (a test keeps them in step).
type keySpec struct {
	name     string
	def      string
	kind     kind
	min, max float64
	enum     []string
	help     string
	secret   bool
	// pending names the feature that will use a key this version accepts
	// but does not act on yet; setting it logs a warning saying so.
	pending string
	// ignored explains why a key of the original is accepted and ignored.
	ignored string
}

const maxSeconds = 365 * 24 * 3600

var keys = []keySpec{
	// Checks and targets.
	{name: "ENABLE_DNS", def: "true", kind: kBool, help: "run dns checks on DOMAINS"},
	{name: "ENABLE_PING", def: "true", kind: kBool, help: "run ping checks on PING_IPS"},
	{name: "ENABLE_WEBSITE_CHECK", def: "false", kind: kBool, help: "run http checks on CHECK_WEBSITE"},
	{name: "ENABLE_SSL_CHECK", def: "false", kind: kBool, help: "run tls certificate checks on SSL_CHECK_DOMAINS"},
	{name: "DOMAINS", def: "google.com", kind: kList, help: "names to resolve (comma-separated)"},
	{name: "PING_IPS", def: "1.1.1.1", kind: kList, help: "hosts or IPs to ping (comma-separated)"},
	{name: "CHECK_WEBSITE", def: "", kind: kList, help: "http:// or https:// URLs to fetch (comma-separated)"},
	{name: "SSL_CHECK_DOMAINS", def: "google.com", kind: kList, help: "`host`, `host:port`, `[v6]` or `[v6]:port` whose certificate to check"},
	{name: "TARGETS_FILE", def: "", kind: kString, help: "the monitors file (see Monitors), or a YAML list of more targets (`- {check: http, target: https://…, name: …}`); a path, `s3://bucket/key` or `ssm:/parameter`"},
	{name: "SUCCESS_HTTP_CODES", def: "200", kind: kString, help: "status codes that count as up; ranges allowed (`200-299,301`)"},
	{name: "SSL_WARN_DAYS", def: "30", kind: kFloat, min: 0, max: 3650, help: "certificate level `warning` at or below this many days left"},
	{name: "SSL_CRITICAL_DAYS", def: "7", kind: kFloat, min: 0, max: 3650, help: "certificate level `critical` at or below this many days left (less than SSL_WARN_DAYS)"},
	{name: "SSL_CA_FILE", def: "", kind: kString, help: "PEM file of extra trusted CAs for tls and https checks"},
	{name: "DNS_SERVER", def: "", kind: kString, help: "resolver `host:port` (port 53 if omitted); empty: first nameserver in /etc/resolv.conf"},
	{name: "DNS_RECORD_TYPE", def: "A", kind: kString, help: "record type to ask for: A, AAAA, CNAME, MX, TXT, NS, …"},
	{name: "PING_MODE", def: "auto", kind: kEnum, enum: []string{"auto", "privileged", "unprivileged", "tcp"}, help: "`auto` (raw ICMP if permitted, else datagram ICMP), `privileged`, `unprivileged`, or `tcp` (connect time)"},
	{name: "PING_COUNT", def: "1", kind: kInt, min: 1, max: 100, help: "echo requests per attempt (loss % is reported)"},
	{name: "PING_TIMEOUT_SECONDS", def: "2", kind: kFloat, min: 0.01, max: 3600, help: "time limit of one ping attempt"},
	{name: "PING_TCP_PORT", def: "443", kind: kInt, min: 1, max: 65535, help: "port that PING_MODE=tcp connects to"},
	{name: "HTTP_TIMEOUT_SECONDS", def: "10", kind: kFloat, min: 0.01, max: 3600, help: "time limit of one http attempt"},
	{name: "SSL_TIMEOUT_SECONDS", def: "5", kind: kFloat, min: 0.01, max: 3600, help: "time limit of one tls attempt"},
	{name: "DNS_TIMEOUT_SECONDS", def: "5", kind: kFloat, min: 0.01, max: 3600, help: "time limit of one dns attempt"},
	{name: "TCP_TIMEOUT_SECONDS", def: "5", kind: kFloat, min: 0.01, max: 3600, help: "time limit of one tcp attempt (monitors file `check: tcp`)"},
	{name: "RETRY_COUNT", def: "3", kind: kInt, min: 1, max: 20, help: "attempts per check; waits of 1 s, 2 s, 4 s … (at most 10 s) between them"},

	// The sweep.
	{name: "SWEEP_TIMEOUT_SECONDS", def: "60", kind: kFloat, min: 0.1, max: 86400, help: "deadline of one sweep (`--timeout` overrides)"},
	{name: "CONCURRENCY", def: "512", kind: kInt, min: 1, max: 100000, help: "check attempts in flight at once"},
	{name: "SHOW_ONLY_SUCCESS", def: "false", kind: kBool, help: "show only targets that are up (table rows and per-target log lines only)"},
	{name: "SHOW_ONLY_FAILURE", def: "false", kind: kBool, help: "show only targets that are not up (table rows and per-target log lines only)"},

	// Logging.
	{name: "VERBOSE", def: "false", kind: kBool, help: "log every attempt; lowers LOG_LEVEL to DEBUG"},
	{name: "LOG_LEVEL", def: "INFO", kind: kEnum, enum: []string{"DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL"}, help: "DEBUG, INFO, WARNING or ERROR"},
	{name: "LOG_FORMAT", def: "auto", kind: kEnum, enum: []string{"auto", "json", "text"}, help: "`json`, `text`, or `auto` (JSON unless stderr is a terminal)"},
	{name: "LOG_TO_TERMINAL", def: "true", kind: kBool, help: "log to stderr"},
	{name: "LOG_TO_FILE", def: "false", kind: kBool, help: "also log (JSON) to LOG_DIR/LOG_FILE, rotated by size"},
	{name: "LOG_DIR", def: "/logs", kind: kString, help: "directory of the log file, and of a relative STATS_LOG_FILE"},
	{name: "LOG_FILE", def: "pingpanda.log", kind: kString, help: "log file name"},
	{name: "MAX_LOG_SIZE", def: "1048576", kind: kInt, min: 1024, max: 1 << 40, help: "rotate the log file at this many bytes (the stats log has STATS_LOG_MAX_SIZE)"},
	{name: "LOG_BACKUP_COUNT", def: "5", kind: kInt, min: 0, max: 1000, help: "rotated log files to keep"},

	// Serve mode.
	{name: "INTERVAL", def: "15", kind: kFloat, min: 1, max: maxSeconds, help: "seconds between sweeps in `serve` mode"},
	{name: "JITTER_SECONDS", def: "5.0", kind: kFloat, min: 0, max: maxSeconds, help: "in `serve` mode, each wait is INTERVAL ± JITTER_SECONDS/2, at random"},
	{name: "ENABLE_PROMETHEUS", def: "false", kind: kBool, help: "in `serve` mode, listen on PROMETHEUS_BIND_ADDRESS:PROMETHEUS_PORT for /metrics and /healthz"},
	{name: "PROMETHEUS_PORT", def: "9090", kind: kInt, min: 1, max: 65535, help: "port of /metrics"},
	{name: "PROMETHEUS_BIND_ADDRESS", def: "127.0.0.1", kind: kString, help: "address /metrics listens on (0.0.0.0 in a container)"},

	// Alerts.
	{name: "ALERT_THRESHOLD", def: "3", kind: kInt, min: 1, max: 1000, help: "failed checks in a row before a `down` event"},
	{name: "NOTIFY_RECOVERY", def: "true", kind: kBool, help: "raise a `recovered` event when an alerted target is up again"},
	{name: "REALERT_INTERVAL_SECONDS", def: "0", kind: kFloat, min: 0, max: maxSeconds, help: "raise a `reminder` event this often while still down; 0 never"},
	{name: "ALERT_SOURCE_NAME", def: "", kind: kString, help: "host name shown in alerts (default: host name or Lambda function name)"},
	{name: "SLACK_WEBHOOK_URL", def: "", kind: kString, secret: true, help: "Slack incoming-webhook URL"},
	{name: "SLACK_CHANNEL", def: "", kind: kString, help: "Slack channel override"},
	{name: "SLACK_USERNAME", def: "PingPanda", kind: kString, help: "Slack user name"},
	{name: "SLACK_ICON_EMOJI", def: "", kind: kString, help: "Slack icon, e.g. `:panda_face:`"},
	{name: "TEAMS_WEBHOOK_URL", def: "", kind: kString, secret: true, help: "Microsoft Teams webhook URL (Workflows or legacy connector)"},
	{name: "DISCORD_WEBHOOK_URL", def: "", kind: kString, secret: true, help: "Discord webhook URL"},
	{name: "DISCORD_USERNAME", def: "PingPanda", kind: kString, help: "Discord user name"},
	{name: "DISCORD_AVATAR_URL", def: "", kind: kString, help: "Discord avatar URL"},
	{name: "PAGERDUTY_EVENTS_URL", def: "https://events.pagerduty.com/v2/enqueue", kind: kString, help: "the PagerDuty Events API v2 endpoint of `pagerduty` channels without a `url` (EU accounts: https://events.eu.pagerduty.com/v2/enqueue)"},
	{name: "NOTIFICATION_RETRY_ATTEMPTS", def: "3", kind: kInt, min: 1, max: 20, help: "delivery attempts per alert per provider per sweep; what still fails waits in the outbox for the next sweep"},
	{name: "NOTIFICATION_RETRY_BACKOFF_SECONDS", def: "1.0", kind: kFloat, min: 0, max: 600, help: "first wait between delivery attempts (doubles; a 429's Retry-After wins)"},
	{name: "OUTBOX_MAX_ENTRIES", def: "1000", kind: kInt, min: 1, max: 1000000, help: "undelivered alerts kept for later sweeps; the oldest are dropped beyond it"},
	{name: "OUTBOX_MAX_AGE_SECONDS", def: "86400", kind: kFloat, min: 60, max: 10 * maxSeconds, help: "undelivered alerts older than this are dropped (with an error log)"},

	// State, flapping, backoff, stats.
	{name: "REDIS_URL", def: "", kind: kString, secret: true, help: "`redis://` or `rediss://` (TLS) state store, with `user:password@`; unset: the local STATE_FILE"},
	{name: "STATE_FILE", def: "", kind: kString, help: "local state file when REDIS_URL is unset (empty: `$XDG_STATE_HOME/pingpanda/state.json`, else `~/.local/state/pingpanda/state.json`)"},
	{name: "STATE_NAMESPACE", def: "pingpanda", kind: kString, help: "key prefix in Redis, so several deployments can share one"},
	{name: "STATE_RETENTION_SECONDS", def: "604800", kind: kFloat, min: 60, max: 10 * maxSeconds, help: "forget targets no longer configured after this long"},
	{name: "FLAP_THRESHOLD", def: "5", kind: kInt, min: 0, max: 1000, help: "status changes within FLAP_WINDOW_SECONDS that mean flapping; 0 off"},
	{name: "FLAP_WINDOW_SECONDS", def: "300", kind: kFloat, min: 1, max: maxSeconds, help: "flap detection window"},
	{name: "ENABLE_ADAPTIVE_BACKOFF", def: "true", kind: kBool, help: "probe failing targets less often, and open a circuit breaker on persistent failure"},
	{name: "BACKOFF_MIN_SECONDS", def: "10", kind: kFloat, min: 0, max: maxSeconds, help: "backoff unit: after failure k the next probe waits min(BACKOFF_MIN_SECONDS × 2^k, BACKOFF_MAX_SECONDS)"},
	{name: "BACKOFF_MAX_SECONDS", def: "300", kind: kFloat, min: 0, max: maxSeconds, help: "longest backoff wait"},
	{name: "CIRCUIT_BREAKER_THRESHOLD", def: "5", kind: kInt, min: 1, max: 1000, help: "failures in a row that open the circuit"},
	{name: "CIRCUIT_BREAKER_COOLDOWN_SECONDS", def: "60", kind: kFloat, min: 0, max: maxSeconds, help: "time the circuit stays open"},
	{name: "ENABLE_ADVANCED_STATS", def: "false", kind: kBool, ignored: "uptime and latency statistics are always kept in the state store"},
	{name: "SUMMARY_INTERVAL_SECONDS", def: "0", kind: kFloat, min: 0, max: maxSeconds, help: "log a summary this often in `serve` mode; 0 off"},
	{name: "STORE_STATS_LOG", def: "false", kind: kBool, help: "append one line per target per sweep, and an `OVERALL` line, to STATS_LOG_FILE (see “The stats log”)"},
	{name: "STATS_LOG_FILE", def: "pingpanda_stats.csv", kind: kString, help: "stats log path; a relative path is relative to LOG_DIR (as the original's was), not to the working directory"},
	{name: "STATS_LOG_FORMAT", def: "csv", kind: kEnum, enum: []string{"csv", "json"}, help: "`csv` (with a header row at the top of every file) or `json` (JSON lines)"},
	{name: "STATS_LOG_MAX_SIZE", def: "1048576", kind: kInt, min: 1024, max: 1 << 40, help: "rotate the stats log at this many bytes, between sweeps: one sweep's lines are never split across files"},
	{name: "STATS_LOG_BACKUP_COUNT", def: "5", kind: kInt, min: 0, max: 1000, help: "rotated stats log files to keep (STATS_LOG_FILE.1 is the newest)"},

	// Metrics and deployment.
	{name: "PUSHGATEWAY_URL", def: "", kind: kString, secret: true, help: "Prometheus Pushgateway to push every sweep's metrics to (PUT, grouped by job and instance = shard)"},
	{name: "PUSHGATEWAY_JOB", def: "pingpanda", kind: kString, help: "Pushgateway job name"},
	{name: "PUSHGATEWAY_USERNAME", def: "", kind: kString, help: "Pushgateway basic-auth user"},
	{name: "PUSHGATEWAY_PASSWORD", def: "", kind: kString, secret: true, help: "Pushgateway basic-auth password"},
	{name: "METRICS_TEXTFILE", def: "", kind: kString, help: "write every sweep's metrics to this file (atomically) for node_exporter's textfile collector"},
	{name: "ALLOW_INSECURE_URLS", def: "false", kind: kBool, help: "allow `http://` webhook and Pushgateway URLs to hosts other than loopback (their tokens and passwords then cross the network unencrypted)"},
	{name: "SHARD_INDEX", def: "0", kind: kInt, min: 0, max: 100000, help: "this process's shard, 0 to SHARD_COUNT-1 (default: `JOB_COMPLETION_INDEX` of a Kubernetes Indexed Job); it probes only the targets rendezvous hashing gives it"},
	{name: "SHARD_COUNT", def: "1", kind: kInt, min: 1, max: 100000, help: "number of shards splitting the targets between them"},

	// The original's keys with no use here.
	{name: "PERSIST_STATS", def: "false", kind: kBool, ignored: "state always persists in the state store"},
	{name: "STATS_PERSISTENCE_FILE", kind: kString, ignored: "state lives in the state store (REDIS_URL or STATE_FILE)"},
	{name: "STATUS_DIR", kind: kString, ignored: "state lives in the state store (REDIS_URL or STATE_FILE)"},
}

// aliases are the original's old key names, accepted with a warning.
var aliases = map[string]string{
	"SUMMARY_INTERVAL":     "SUMMARY_INTERVAL_SECONDS",
	"FLAPPING_THRESHOLD":   "FLAP_THRESHOLD",
	"FLAPPING_WINDOW":      "FLAP_WINDOW_SECONDS",
	"ENABLE_STATS_LOGGING": "STORE_STATS_LOG",
	"LOG_ROTATION_SIZE":    "STATS_LOG_MAX_SIZE",
	"STATS_LOG_SIZE":       "STATS_LOG_MAX_SIZE",
}

// keyIndex maps a key's name to its spec.
var keyIndex = func() map[string]*keySpec {
	m := make(map[string]*keySpec, len(keys))
	for i := range keys {
		m[keys[i].name] = &keys[i]
	}
	return m
}()
