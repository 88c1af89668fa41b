// Command pingpanda checks many targets at once — DNS, ping, HTTP and TLS
// certificates — in one sweep, prints what it found and exits. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/lambda"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/logfile"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/sweep"
	"github.com/pingpanda/pingpanda/state"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes (SPEC §1).
const (
	exitOK       = 0 // the sweep completed; targets may be down
	exitFailed   = 1 // the sweep could not complete
	exitConfig   = 2 // the configuration is invalid
	exitDown     = 3 // --fail-on-down and a target is down
	exitUsageErr = exitConfig
)

// stdio is the process's outside world, injected so tests can run the
// whole command in-process.
type stdio struct {
	stdout, stderr       io.Writer
	stdoutTTY, stderrTTY bool
	environ              []string
	dir                  string // where .env is looked for
	now                  func() time.Time
	hostname             string // named in alerts unless ALERT_SOURCE_NAME is set

	// afterLoad, when set, runs inside the sweep between loading and
	// saving state (tests break the store there).
	afterLoad func()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first signal, a second one gets the default behaviour:
	// it ends the process at once.
	context.AfterFunc(ctx, stop)
	dir, _ := os.Getwd()
	host, _ := os.Hostname()
	sys := stdio{
		hostname:  host,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
		environ:   os.Environ(),
		dir:       dir,
		now:       time.Now,
	}
	var code int
	if inLambda(sys.environ) {
		code = lambda.Run(lambda.Env{Stderr: sys.stderr, Environ: sys.environ, Start: func(ctx context.Context, cfg *config.Config, warnings []string) (*sweep.Sweeper, func(), int) {
			return startSweeper(ctx, cfg, warnings, sys, sweepMode{})
		}})
	} else {
		code = run(ctx, os.Args[1:], sys)
	}
	stop()
	os.Exit(code)
}

// options are the command line's switches that are not configuration keys.
type options struct {
	command    string
	envFile    string
	json       bool
	dryRun     bool
	failOnDown bool
	monitors   bool
	version    bool
	profile    string            // --profile cpu:FILE or mem:FILE
	flags      map[string]string // configuration keys set by flags
	silence    silenceOptions
}

const usage = `usage: pingpanda [command] [flags]

commands:
  sweep    probe every target once, save state, print the report and exit (the default)
  serve    sweep every INTERVAL ± JITTER_SECONDS/2 until stopped; /metrics and /healthz
  status   print every target's stored state: status, since, availability, latency, breaker
  config   check the configuration and print the effective values (secrets redacted);
           config --monitors prints every monitor's settings and where each came from
  silence  hold back the alerts of some monitors for a while, on every runtime:
             silence add --match SELECTOR --for 2h --reason TEXT   prints the silence's ID
             silence list [--all] [--json]                         those in force (--all: ended too)
             silence rm ID
           SELECTOR: a target ID glob, group=NAME, label:KEY=VALUE or a check name

flags:
  -c FILE               read settings from an env-file (overrides the environment)
  --json                print the report as one JSON document
  --dry-run             probe every target and print only: no state read or written
  --timeout DURATION    sweep deadline, e.g. 30s or 2m (SWEEP_TIMEOUT_SECONDS)
  --verbose             log every attempt at DEBUG level (VERBOSE)
  --show-only-success   show only targets that are up (SHOW_ONLY_SUCCESS)
  --show-only-failure   show only targets that are not up (SHOW_ONLY_FAILURE)
  --monitors            (config) print each monitor's effective settings and their sources
  --fail-on-down        exit 3 when the sweep completes with a target down
  --profile cpu:FILE    write a pprof CPU profile of the sweep to FILE (or mem:FILE
                        for its allocations); also PINGPANDA_PROFILE=cpu:FILE
  --match SELECTOR      (silence add) the monitors to silence
  --for DURATION        (silence add) how long: 90m, 2h, 3d; at most 90 days
  --reason TEXT         (silence add) why; required
  --all                 (silence list) list the silences that ended too
  --version             print the version and exit

exit codes: 0 sweep completed (targets may be down), 1 sweep could not complete,
2 configuration error, 3 a target is down and --fail-on-down was given.
`

// parseArgs reads "[command] [flags]"; flags may come before or after the
// command.
func parseArgs(args []string, stderr io.Writer) (options, error) {
	o := options{command: "sweep", flags: map[string]string{}}
	fs := flag.NewFlagSet("pingpanda", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.envFile, "c", "", "")
	fs.BoolVar(&o.json, "json", false, "")
	fs.BoolVar(&o.dryRun, "dry-run", false, "")
	fs.BoolVar(&o.failOnDown, "fail-on-down", false, "")
	fs.BoolVar(&o.monitors, "monitors", false, "")
	fs.BoolVar(&o.version, "version", false, "")
	fs.StringVar(&o.profile, "profile", "", "")
	fs.Func("timeout", "", func(s string) error {
		d, err := parseDuration(s)
		if err != nil {
			return err
		}
		o.flags["SWEEP_TIMEOUT_SECONDS"] = strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		return nil
	})
	boolKey := func(name, key string) {
		fs.BoolFunc(name, "", func(s string) error {
			o.flags[key] = s
			return nil
		})
	}
	boolKey("verbose", "VERBOSE")
	boolKey("show-only-success", "SHOW_ONLY_SUCCESS")
	boolKey("show-only-failure", "SHOW_ONLY_FAILURE")
	o.silence.register(fs)

	seenCommand := false
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stderr, usage)
			}
			return o, err
		}
		args = fs.Args()
		if len(args) == 0 {
			fs.Visit(func(f *flag.Flag) {
				if _, ok := silenceFlags[f.Name]; ok {
					o.silence.given = append(o.silence.given, f.Name)
				}
			})
			if err := o.silence.check(o.command, o.json); err != nil {
				return o, err
			}
			if o.command == "serve" && (o.json || o.failOnDown) {
				return o, errors.New("serve prints no report: --json and --fail-on-down do not apply")
			}
			if o.monitors && o.command != "config" {
				return o, errors.New("--monitors applies to the config command only (pingpanda config --monitors)")
			}
			if o.profile != "" {
				if _, err := parseProfile(o.profile); err != nil {
					return o, err
				}
				if o.command != "sweep" {
					return o, errors.New("--profile profiles one sweep: it applies to the sweep command only")
				}
			}
			return o, nil
		}
		if seenCommand {
			if o.command == "silence" && len(o.silence.args) < 2 {
				o.silence.args = append(o.silence.args, args[0])
				args = args[1:]
				continue
			}
			return o, fmt.Errorf("unexpected argument %q", args[0])
		}
		switch args[0] {
		case "sweep", "config", "status", "serve", "silence":
			o.command = args[0]
		case "help":
			fmt.Fprint(stderr, usage)
			return o, flag.ErrHelp
		default:
			return o, fmt.Errorf("unknown command %q (want sweep, serve, status, config or silence)", args[0])
		}
		seenCommand = true
		args = args[1:]
	}
}

// parseDuration accepts a Go duration ("90s", "2m") or plain seconds ("90").
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f <= 0 {
			return 0, fmt.Errorf("%q is not a positive duration", s)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a duration like 30s or 2m", s)
	}
	return d, nil
}

func run(ctx context.Context, args []string, sys stdio) int {
	opts, err := parseArgs(args, sys.stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n\n%s", err, usage)
		return exitUsageErr
	}
	if opts.version {
		fmt.Fprintf(sys.stdout, "pingpanda %s\n", version)
		return exitOK
	}
	// silence add counts the monitors it silences by group, which only
	// the explained monitors know.
	explain := opts.monitors || (opts.command == "silence" && opts.silence.action == "add")
	src := config.Sources{Environ: sys.environ, EnvFile: opts.envFile, Flags: opts.flags, ExplainMonitors: explain}
	if sys.dir != "" {
		src.DotEnv = sys.dir + string(os.PathSeparator) + ".env"
	}
	cfg, warnings, err := config.Load(ctx, src)
	if err != nil {
		for _, w := range warnings {
			fmt.Fprintf(sys.stderr, "pingpanda: warning: %s\n", w)
		}
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintf(sys.stderr, "pingpanda: the configuration has %d %s:\n  %s\n",
				len(ce.Problems), report.Plural(len(ce.Problems), "problem", "problems"), strings.Join(ce.Problems, "\n  "))
		} else {
			fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		}
		return exitConfig
	}
	if opts.command == "config" {
		for _, w := range warnings {
			fmt.Fprintf(sys.stderr, "pingpanda: warning: %s\n", w)
		}
		print := config.Print
		if opts.monitors {
			print = config.PrintMonitors
		}
		if err := print(sys.stdout, cfg, opts.json); err != nil {
			fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
			return exitFailed
		}
		return exitOK
	}

	switch opts.command {
	case "status":
		return runStatus(ctx, cfg, sys, opts.json)
	case "serve":
		return runServe(ctx, cfg, warnings, sys, opts.dryRun)
	case "silence":
		return runSilence(ctx, cfg, sys, opts.silence, opts.json)
	}
	return runSweep(ctx, cfg, warnings, sys, opts)
}

// runSweep is the sweep command: one sweep (or a dry run's probing), the
// report, the exit code.
func runSweep(ctx context.Context, cfg *config.Config, warnings []string, sys stdio, opts options) int {
	sw, closeAll, code := startSweeper(ctx, cfg, warnings, sys, sweepMode{dryRun: opts.dryRun})
	if sw == nil {
		return code
	}
	defer closeAll()
	log := sw.Log()
	stopProfile, code := startProfile(log, opts.profile, sys.environ)
	if code != exitOK {
		return code
	}
	defer stopProfile()
	var (
		rep *report.Report
		err error
	)
	if opts.dryRun {
		rep, _ = sw.Probe(ctx, cfg.Targets)
	} else {
		rep, err = sw.Sweep(ctx, cfg.Targets, false)
	}
	if rep != nil {
		rep.Interrupted = ctx.Err() != nil
		if werr := report.Write(sys.stdout, rep, cfg, opts.json); werr != nil {
			log.Error("cannot print the report", "err", werr)
			return exitFailed
		}
	}
	if err != nil {
		log.Error("the sweep could not complete", "err", err)
		return exitFailed
	}
	if rep.Interrupted {
		log.Error("sweep interrupted before it completed; checks cut short are reported as timed out")
		return exitFailed
	}
	if opts.failOnDown && rep.Summary.Down+rep.Summary.StillDown > 0 {
		return exitDown
	}
	return exitOK
}

// sweepMode is how a command runs its sweeps: a dry run only probes; serve
// adds its /metrics outlet and keeps connections for its next sweep.
type sweepMode struct {
	dryRun          bool
	outlets         []sweep.Outlet
	keepConnections bool
}

// startSweeper sets up logging, logs the configuration's warnings, builds
// the probers and opens the state store. On failure it has said why and
// returns a nil sweeper and the exit code; closeAll releases the store and
// the log file.
func startSweeper(ctx context.Context, cfg *config.Config, warnings []string, sys stdio, mode sweepMode) (sw *sweep.Sweeper, closeAll func(), code int) {
	logger, closer, err := logfile.New(cfg.Log, sys.stderr, sys.stderrTTY)
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		return nil, nil, exitConfig
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	if cfg.RedisURL != "" {
		state.SetRedisLogger(logger)
	}
	o := sweep.Options{
		Config: cfg, Log: logger, Now: sys.now, Version: version,
		Source:  sweep.SourceName(cfg.Alerts, sys.environ, sys.hostname),
		Outlets: mode.outlets, KeepConnections: mode.keepConnections, AfterLoad: sys.afterLoad,
		Environ: sys.environ, Host: sys.hostname,
	}
	if mode.dryRun {
		sw, err = sweep.NewProber(o)
	} else {
		sw, err = sweep.New(ctx, o)
	}
	if err != nil {
		logger.Error("cannot start the sweep", "err", err)
		closer.Close()
		return nil, nil, exitFailed
	}
	return sw, func() {
		if err := sw.Close(); err != nil {
			logger.Warn("cannot close the state store", "err", err)
		}
		closer.Close()
	}, exitOK
}

// runStatus prints the stored state of every target: the configured ones
// first, in configuration order, then those still remembered.
func runStatus(ctx context.Context, cfg *config.Config, sys stdio, asJSON bool) int {
	store, err := sweep.OpenStore(ctx, cfg, sweep.StoreEnv{Now: sys.now, Environ: sys.environ, Host: sys.hostname})
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		return exitFailed
	}
	defer store.Close()
	all, warnings, err := store.LoadAll(ctx)
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: state store %s: %v\n", store, err)
		return exitFailed
	}
	for _, w := range warnings {
		fmt.Fprintf(sys.stderr, "pingpanda: warning: stored state of %s is unreadable: %v\n", w.ID, w.Err)
	}
	rows, sum := report.StatusRows(cfg, all, sys.now())
	channels := report.StatusChannels(cfg.Routing.ChannelNames(), statusOutbox(ctx, store, warnings, sys))
	if err := report.WriteStatus(sys.stdout, store.String(), rows, sum, channels, asJSON); err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// statusOutbox reads the alert outbox for `pingpanda status`, or nothing
// when the state file is unreadable as a whole (warnings has ID "*"): Load
// would move it aside, which only a sweep holding the lease may do.
func statusOutbox(ctx context.Context, store state.Store, warnings []state.Warning, sys stdio) []state.OutboxEntry {
	for _, w := range warnings {
		if w.ID == "*" {
			return nil
		}
	}
	loaded, err := store.Load(ctx, nil)
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: warning: state store %s: cannot read the alert outbox: %v\n", store, err)
		return nil
	}
	for _, w := range loaded.OutboxWarnings {
		fmt.Fprintf(sys.stderr, "pingpanda: warning: queued alert %s is unreadable: %v\n", w.ID, w.Err)
	}
	return loaded.Outbox
}

// inLambda reports whether the process was started by the AWS Lambda
// runtime.
func inLambda(environ []string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "AWS_LAMBDA_RUNTIME_API="); ok && v != "" {
			return true
		}
	}
	return false
}
