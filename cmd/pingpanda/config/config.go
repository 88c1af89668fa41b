package config

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

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

	Alerts  Alerts
	Metrics Metrics
	Serve   Serve

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
	Path    string
	Format  string // csv or json
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
	// s3:// references; nil means newAWSClient. It is called only when a
	// reference is present.
	NewAWS newAWSStoreFunc
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
	l := loader{values: map[string]setting{}, environ: src.Environ, newAWS: src.NewAWS}
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

type loader struct {
	values   map[string]setting
	problems []string
	// transient: see Error.
	transient bool
	warnings  []string
	reported  map[string]bool

	environ []string
	newAWS  newAWSStoreFunc
	// targetsRef says TARGETS_FILE is an s3:// or ssm: reference, and
	// targetsData is what it named (nil if it could not be read).
	targetsRef  bool
	targetsData []byte
}

// problem records a problem once, however many times a key is read.
func (l *loader) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.reported == nil {
		l.reported = map[string]bool{}
	}
	if !l.reported[msg] {
		l.reported[msg] = true
		l.problems = append(l.problems, msg)
	}
}

func (l *loader) warn(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

func (l *loader) known(k string) bool {
	_, ok := keyIndex[k]
	_, alias := aliases[k]
	return ok || alias
}

// set records key=value from source, resolving the original's aliases.
func (l *loader) set(key, value, source string, line int) {
	where := source
	if line > 0 {
		where = fmt.Sprintf("%s:%d", source, line)
	}
	if to, ok := aliases[key]; ok {
		l.warn("%s (%s) is deprecated: use %s", key, where, to)
		if cur := l.values[to].source; cur == source || strings.HasPrefix(cur, source+":") {
			// The new name in the same source wins over the old one.
			return
		}
		key = to
	}
	l.values[key] = setting{value: value, source: where}
}

// readFile applies an env-file. override says whether it may replace values
// from the environment (-c does; .env does not).
func (l *loader) readFile(path, label string, override bool, envKeys map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		if !override && errors.Is(err, os.ErrNotExist) {
			return
		}
		l.problem("%s: cannot read env-file: %v", label, unwrapPathError(err))
		return
	}
	defer f.Close()
	entries, err := parseEnvFile(f, label)
	if err != nil {
		l.problems = append(l.problems, strings.Split(err.Error(), "\n")...)
	}
	for _, e := range entries {
		if !l.known(e.Key) {
			if s := closestKey(e.Key); s != "" {
				l.warn("%s: unknown key (%s:%d); did you mean %s?", e.Key, label, e.Line, s)
			} else {
				l.warn("%s: unknown key (%s:%d)", e.Key, label, e.Line)
			}
			continue
		}
		name := e.Key
		if to, ok := aliases[name]; ok {
			name = to
		}
		if !override && envKeys[name] {
			continue
		}
		l.set(e.Key, e.Value, label, e.Line)
	}
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// raw is key's value as written, without surrounding blanks. The typed
// readers below check it against the key's spec and record any problem.
func (l *loader) raw(key string) string {
	return strings.TrimSpace(l.values[key].value)
}

// maxSecretFile bounds a secret read through a file: reference.
const maxSecretFile = 64 << 10

// resolveSecrets replaces the secret keys given as references by the
// values they name: file:/path (Kubernetes and Docker secrets) is read
// here, ssm: and secretsmanager: (and an s3:// or ssm: TARGETS_FILE) by
// resolveAWS. Errors name the key and the reference, never the secret.
func (l *loader) resolveSecrets(ctx context.Context) {
	for _, k := range keys {
		if !k.secret {
			continue
		}
		v := strings.TrimSpace(l.values[k.name].value)
		if path, ok := strings.CutPrefix(v, "file:"); ok {
			b, err := readSmallFile(path, maxSecretFile)
			if err != nil {
				l.problem("%s: cannot read secret file %q: %v", k.name, path, err)
				b = nil
			}
			l.setResolved(k.name, strings.TrimRight(string(b), "\r\n"), v)
		}
	}
	l.resolveAWS(ctx)
}

// shownScheme quotes a URL's scheme for a problem, except that of a value
// read through a reference when it is no well-known scheme: a secret that
// is no URL at all ("token:abc") would show its start.
func (l *loader) shownScheme(key, scheme string) string {
	if l.values[key].ref != "" {
		switch strings.ToLower(scheme) {
		case "", "http", "https", "redis", "rediss", "unix", "tcp", "ws", "wss", "ftp", "file", "ssm", "secretsmanager", "s3":
		default:
			return "(not shown)"
		}
	}
	return strconv.Quote(scheme)
}

// from names where a secret key's value was read, for its problems.
func (l *loader) from(key string) string {
	if ref := l.values[key].ref; ref != "" {
		return " (value read from " + ref + ")"
	}
	return ""
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unwrapPathError(err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, unwrapPathError(err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d KiB", limit>>10)
	}
	return b, nil
}

func (l *loader) bool(key string) bool {
	v := l.raw(key)
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on", "y", "t":
		return true
	case "false", "0", "no", "off", "n", "f", "":
		return false
	}
	l.problem("%s: %q is not true or false", key, v)
	return false
}

func (l *loader) int(key string) int {
	spec := keyIndex[key]
	v := l.raw(key)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		l.problem("%s: %q is not a whole number", key, v)
		return 0
	}
	if float64(n) < spec.min || float64(n) > spec.max {
		l.problem("%s: %d is out of range (%s to %s)", key, n, fmtNum(spec.min), fmtNum(spec.max))
		return 0
	}
	return int(n)
}

func (l *loader) float(key string) float64 {
	spec := keyIndex[key]
	v := l.raw(key)
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		l.problem("%s: %q is not a number", key, v)
		return 0
	}
	if f < spec.min || f > spec.max {
		l.problem("%s: %s is out of range (%s to %s)", key, v, fmtNum(spec.min), fmtNum(spec.max))
		return 0
	}
	return f
}

func (l *loader) seconds(key string) time.Duration {
	return time.Duration(l.float(key) * float64(time.Second))
}

func (l *loader) enum(key string) string {
	spec := keyIndex[key]
	v := l.raw(key)
	for _, e := range spec.enum {
		if strings.EqualFold(v, e) {
			return e
		}
	}
	l.problem("%s: %q is not one of %s", key, v, strings.Join(spec.enum, ", "))
	return spec.enum[0]
}

func (l *loader) list(key string) []string {
	var out []string
	for _, s := range strings.Split(l.raw(key), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

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
	cfg.Log = l.logConfig()
	cfg.Targets = l.targets()
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
	cfg.AllTargets = cfg.Targets
	cfg.Targets = shardTargets(cfg.AllTargets, l.int("SHARD_INDEX"), l.int("SHARD_COUNT"))
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
	cfg.StatsLog = StatsLog{
		Enabled: l.bool("STORE_STATS_LOG"),
		Path:    l.raw("STATS_LOG_FILE"),
		Format:  l.enum("STATS_LOG_FORMAT"),
	}
	if cfg.StatsLog.Enabled && cfg.StatsLog.Path == "" {
		l.problem("STATS_LOG_FILE: empty, but STORE_STATS_LOG is true")
	}
	return cfg
}

// webhookURL checks a webhook URL without ever quoting it: its path holds
// the token.
func (l *loader) webhookURL(key string) string {
	v := l.raw(key)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err == nil && u.Host != "" && !l.cleartextAllowed(u):
		l.problem("%s: http:// to a host other than loopback would send its token unencrypted; use https://, or set ALLOW_INSECURE_URLS=true%s", key, l.from(key))
	case err != nil:
		l.problem("%s: not a URL (value not shown: it holds a token)%s", key, l.from(key))
	case u.Scheme != "https" && u.Scheme != "http":
		l.problem("%s: scheme %s is not https://%s", key, l.shownScheme(key, u.Scheme), l.from(key))
	case u.Host == "":
		l.problem("%s: no host in the URL%s", key, l.from(key))
	default:
		return v
	}
	return ""
}

// cleartextAllowed reports whether u may be used: https://, or http:// to
// a loopback host (localhost, 127.0.0.0/8, ::1), or any http:// when
// ALLOW_INSECURE_URLS is true.
func (l *loader) cleartextAllowed(u *url.URL) bool {
	if u.Scheme != "http" || l.bool("ALLOW_INSECURE_URLS") {
		return true
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// pushgatewayURL checks PUSHGATEWAY_URL without quoting it: it may carry
// credentials.
func (l *loader) pushgatewayURL() string {
	v := l.raw("PUSHGATEWAY_URL")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err == nil && u.Host != "" && !l.cleartextAllowed(u):
		l.problem("PUSHGATEWAY_URL: http:// to a host other than loopback would send metrics and credentials unencrypted; use https://, or set ALLOW_INSECURE_URLS=true%s", l.from("PUSHGATEWAY_URL"))
	case err != nil:
		l.problem("PUSHGATEWAY_URL: not a URL (value not shown: it may hold credentials)%s", l.from("PUSHGATEWAY_URL"))
	case u.Scheme != "https" && u.Scheme != "http":
		l.problem("PUSHGATEWAY_URL: scheme %s is not http:// or https://%s", l.shownScheme("PUSHGATEWAY_URL", u.Scheme), l.from("PUSHGATEWAY_URL"))
	case u.Host == "":
		l.problem("PUSHGATEWAY_URL: no host in the URL%s", l.from("PUSHGATEWAY_URL"))
	default:
		return v
	}
	return ""
}

// redisURL checks REDIS_URL without ever quoting it: it may hold a
// password.
func (l *loader) redisURL() string {
	v := l.raw("REDIS_URL")
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	switch {
	case err != nil:
		l.problem("REDIS_URL: not a URL (value not shown: it may hold a password)%s", l.from("REDIS_URL"))
	case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
		l.problem("REDIS_URL: scheme %s is not redis://, rediss:// or unix://%s", l.shownScheme("REDIS_URL", u.Scheme), l.from("REDIS_URL"))
	case u.Scheme != "unix" && u.Host == "":
		l.problem("REDIS_URL: no host (want redis://[user:password@]host:port[/db])%s", l.from("REDIS_URL"))
	default:
		if err := state.CheckRedisURL(v); err != nil {
			l.problem("REDIS_URL: %v%s", err, l.from("REDIS_URL"))
			return ""
		}
		if skip, _ := strconv.ParseBool(u.Query().Get("skip_verify")); skip && u.Scheme == "rediss" {
			l.warn("REDIS_URL: skip_verify=true turns off verification of the server's certificate")
		}
		return v
	}
	return ""
}

func (l *loader) dnsServer() string {
	s := l.raw("DNS_SERVER")
	if s == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: the whole value is the host.
		host, port = strings.Trim(s, "[]"), "53"
	}
	if host == "" || strings.ContainsAny(host, " /") {
		l.problem("DNS_SERVER: %q is not host:port", s)
		return ""
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		l.problem("DNS_SERVER: %q has port %q, which is not a number from 1 to 65535", s, port)
		return ""
	}
	return net.JoinHostPort(host, port)
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

// targets gathers the enabled env lists and TARGETS_FILE, in that order,
// dropping repeats of the same target ID with a warning.
func (l *loader) targets() []probe.Target {
	var out []probe.Target
	type first struct{ where, address string }
	seen := map[string]first{}
	add := func(t probe.Target, where string) {
		if prev, dup := seen[t.ID()]; dup {
			if prev.address != t.Address {
				// The ID hides the secrets; two targets that differ
				// only in one would share one state record.
				l.problem("%s: %s: this URL and one in %s differ only in a secret, which target IDs hide, "+
					"so they would share one state record; keep one of them", where, t.ID(), prev.where)
				return
			}
			l.warn("%s: %s is listed again (first in %s); checked once", where, t.ID(), prev.where)
			return
		}
		seen[t.ID()] = first{where, t.Address}
		out = append(out, t)
	}
	lists := []struct {
		enable, key string
		check       probe.Check
	}{
		{"ENABLE_DNS", "DOMAINS", probe.DNS},
		{"ENABLE_PING", "PING_IPS", probe.Ping},
		{"ENABLE_WEBSITE_CHECK", "CHECK_WEBSITE", probe.HTTP},
		{"ENABLE_SSL_CHECK", "SSL_CHECK_DOMAINS", probe.TLS},
	}
	for _, ls := range lists {
		raw := l.list(ls.key)
		if !l.bool(ls.enable) {
			if l.values[ls.key].source != "default" && len(raw) > 0 {
				l.warn("%s is set but %s is false: those targets are not checked", ls.key, ls.enable)
			}
			continue
		}
		for _, r := range raw {
			t, err := probe.ParseTarget(ls.check, r)
			if err != nil {
				l.problem("%s: %v", ls.key, err)
				continue
			}
			add(t, ls.key)
		}
	}
	if path := l.raw("TARGETS_FILE"); path != "" {
		var (
			ts  []fileTarget
			err error
		)
		switch {
		case !l.targetsRef:
			ts, err = readTargetsFile(path)
		case l.targetsData != nil:
			ts, err = parseTargetsYAML(l.targetsData, path)
		}
		if err != nil {
			l.problems = append(l.problems, prefixLines("TARGETS_FILE: ", err.Error())...)
		}
		for _, ft := range ts {
			add(ft.Target, fmt.Sprintf("%s:%d", path, ft.line))
		}
	}
	return out
}

func prefixLines(prefix, text string) []string {
	lines := strings.Split(text, "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return lines
}

// closestKey suggests the known key nearest to an unknown one, or "".
func closestKey(k string) string {
	best, bestD := "", 4 // suggest only close matches
	names := make([]string, 0, len(keys)+len(aliases))
	for _, s := range keys {
		names = append(names, s.name)
	}
	slices.Sort(names)
	up := strings.ToUpper(k)
	for _, n := range names {
		if d := EditDistance(up, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance between a and b.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
