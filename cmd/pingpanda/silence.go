package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pingpanda/pingpanda/alert/route"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/sweep"
	"github.com/pingpanda/pingpanda/state"
)

// maxSilenceFor is the longest silence `silence add --for` sets.
const maxSilenceFor = 90 * 24 * time.Hour

// silenceOptions are the silence command's arguments and flags.
type silenceOptions struct {
	args []string // the action, then rm's ID

	match, forText, reason string
	all                    bool
	given                  []string // which of the flags above were given

	// Set by check.
	action string
	id     string
	sel    route.Selector
	dur    time.Duration
}

// silenceFlags are the flags only the silence command takes, with the
// actions that take them.
var silenceFlags = map[string]string{"match": "add", "for": "add", "reason": "add", "all": "list"}

// register adds the silence command's flags to fs.
func (o *silenceOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.match, "match", "", "")
	fs.StringVar(&o.forText, "for", "", "")
	fs.StringVar(&o.reason, "reason", "", "")
	fs.BoolVar(&o.all, "all", false, "")
}

// check validates the silence command's arguments once all are parsed;
// command is the command given, asJSON whether --json was.
func (o *silenceOptions) check(command string, asJSON bool) error {
	if command != "silence" {
		if len(o.given) > 0 {
			return fmt.Errorf("--%s applies to the silence command only", o.given[0])
		}
		return nil
	}
	if len(o.args) == 0 {
		return errors.New("silence needs an action: add, list or rm")
	}
	o.action = o.args[0]
	switch o.action {
	case "add", "list", "rm":
	default:
		return fmt.Errorf("unknown silence action %q (want add, list or rm)", o.action)
	}
	for _, f := range o.given {
		if silenceFlags[f] != o.action {
			return fmt.Errorf("--%s applies to silence %s only", f, silenceFlags[f])
		}
	}
	if asJSON && o.action != "list" {
		return errors.New("--json applies to silence list only")
	}
	switch o.action {
	case "rm":
		if len(o.args) != 2 || o.args[1] == "" {
			return errors.New("silence rm needs the silence's ID (pingpanda silence list shows them)")
		}
		o.id = o.args[1]
		return nil
	case "list":
	case "add":
		return o.checkAdd()
	}
	if len(o.args) > 1 {
		return fmt.Errorf("unexpected argument %q", o.args[1])
	}
	return nil
}

func (o *silenceOptions) checkAdd() error {
	if len(o.args) > 1 {
		return fmt.Errorf("unexpected argument %q", o.args[1])
	}
	if strings.TrimSpace(o.match) == "" {
		return errors.New("--match is required: a target ID glob, group=NAME, label:KEY=VALUE or a check name")
	}
	sel, err := route.ParseSelector(o.match)
	if err != nil {
		return fmt.Errorf("--match: %w", err)
	}
	if o.forText == "" {
		return errors.New("--for is required: how long the silence lasts, e.g. 2h, 90m or 3d")
	}
	d, err := parseSilenceFor(o.forText)
	if err != nil {
		return fmt.Errorf("--for: %w", err)
	}
	if strings.TrimSpace(o.reason) == "" {
		return errors.New("--reason is required: say why, for whoever sees the silence")
	}
	o.sel, o.dur = sel, d
	return nil
}

// daysPrefix is the days of a --for like "3d" or "1d12h".
var daysPrefix = regexp.MustCompile(`^([0-9]+)d(.*)$`)

// parseSilenceFor reads --for: a Go duration, or whole days with an
// optional Go duration after them ("3d", "1d12h"); more than zero, at
// most 90 days.
func parseSilenceFor(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration like 2h, 90m or 3d", s)
	var d time.Duration
	rest := s
	if m := daysPrefix.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 90 {
			return 0, fmt.Errorf("%q is longer than 90 days, the longest a silence lasts", s)
		}
		d, rest = time.Duration(days)*24*time.Hour, m[2]
	}
	if rest != "" {
		more, err := time.ParseDuration(rest)
		if err != nil || (more < 0 && d > 0) {
			return 0, bad
		}
		d += more
	}
	switch {
	case d <= 0:
		return 0, fmt.Errorf("%q is not a positive duration", s)
	case d > maxSilenceFor:
		return 0, fmt.Errorf("%q is longer than 90 days, the longest a silence lasts", s)
	}
	return d, nil
}

// runSilence is `pingpanda silence add|list|rm`.
func runSilence(ctx context.Context, cfg *config.Config, sys stdio, o silenceOptions, asJSON bool) int {
	store, err := sweep.OpenStore(ctx, cfg, sweep.StoreEnv{Now: sys.now, Environ: sys.environ, Host: sys.hostname})
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		return exitFailed
	}
	defer store.Close()
	switch o.action {
	case "add":
		return silenceAdd(ctx, cfg, store, sys, o)
	case "list":
		return silenceList(ctx, store, sys, o.all, asJSON)
	default:
		return silenceRemove(ctx, store, sys, o.id)
	}
}

func silenceAdd(ctx context.Context, cfg *config.Config, store state.Store, sys stdio, o silenceOptions) int {
	id, err := newSilenceID()
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: cannot make a silence ID: %v\n", err)
		return exitFailed
	}
	now := sys.now()
	sl := state.Silence{
		ID: id, Match: o.sel.String(), Reason: strings.TrimSpace(o.reason), By: silenceBy(sys),
		Created: now, Expires: now.Add(o.dur),
	}
	if err := store.AddSilence(ctx, sl); err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: state store %s: %v\n", store, err)
		return exitFailed
	}
	fmt.Fprintln(sys.stdout, sl.ID)
	n, total := silencedCount(cfg, o.sel)
	msg := fmt.Sprintf("pingpanda: %s silences %d of %d %s until %s", sl.ID, n, total,
		report.Plural(total, "monitor", "monitors"), sl.Expires.UTC().Format(time.RFC3339))
	if n == 0 {
		msg += fmt.Sprintf("; %s matches none now, and holds back any that match it later", sl.Match)
	}
	fmt.Fprintln(sys.stderr, msg)
	return exitOK
}

// silencedCount is how many of the configured monitors, of every shard,
// sel matches now, and how many there are. A monitor's group is known
// from the monitors file (cfg.Monitors).
func silencedCount(cfg *config.Config, sel route.Selector) (n, total int) {
	groups := make(map[string]string, len(cfg.Monitors))
	for _, m := range cfg.Monitors {
		groups[m.ID] = m.Group
	}
	for _, t := range cfg.AllTargets {
		s := route.Subject{ID: t.ID(), Check: string(t.Check), Target: t.Shown(), Name: t.Name, Group: groups[t.ID()]}
		if t.Spec != nil {
			s.Labels = t.Spec.Labels
		}
		if sel.Matches(s) {
			n++
		}
	}
	return n, len(cfg.AllTargets)
}

// newSilenceID is "s-" and 8 random hex digits.
func newSilenceID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "s-" + hex.EncodeToString(b[:]), nil
}

// silenceBy is who sets a silence: $USER@host.
func silenceBy(sys stdio) string {
	user := ""
	for _, key := range []string{"LOGNAME", "USER"} { // USER wins
		for _, kv := range sys.environ {
			if v, ok := strings.CutPrefix(kv, key+"="); ok && v != "" {
				user = v
			}
		}
	}
	switch {
	case sys.hostname == "":
		return user
	case user == "":
		return "?@" + sys.hostname
	}
	return user + "@" + sys.hostname
}

// silenceJSON is a silence in `silence list --json`.
type silenceJSON struct {
	state.Silence
	Active bool `json:"active"`
}

func silenceList(ctx context.Context, store state.Store, sys stdio, all, asJSON bool) int {
	stored, err := store.Silences(ctx)
	var unreadable *state.UnreadableSilencesError
	if errors.As(err, &unreadable) {
		for _, w := range unreadable.Warnings {
			fmt.Fprintf(sys.stderr, "pingpanda: warning: %v\n", w.Err)
		}
	} else if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: state store %s: %v\n", store, err)
		return exitFailed
	}
	now := sys.now()
	shown := []silenceJSON{}
	for _, sl := range stored {
		if all || now.Before(sl.Expires) {
			shown = append(shown, silenceJSON{Silence: sl, Active: sl.Active(now)})
		}
	}
	if asJSON {
		enc := json.NewEncoder(sys.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(shown); err != nil {
			fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	if err := writeSilenceTable(sys.stdout, shown, now, all); err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// writeSilenceTable writes the silences as a table: ID, MATCH, UNTIL, BY,
// REASON.
func writeSilenceTable(w io.Writer, shown []silenceJSON, now time.Time, all bool) error {
	if len(shown) == 0 {
		msg := "no silences in force (silence list --all shows those that ended)"
		if all {
			msg = "no silences stored"
		}
		_, err := fmt.Fprintln(w, msg)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tMATCH\tUNTIL\tBY\tREASON")
	for _, s := range shown {
		until := s.Expires.UTC().Format(time.RFC3339)
		switch {
		case !now.Before(s.Expires):
			until += " (ended)"
		case now.Before(s.Created):
			until += " (from " + s.Created.UTC().Format(time.RFC3339) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", oneLine(s.ID), oneLine(s.Match), until, oneLine(s.By), oneLine(s.Reason))
	}
	return tw.Flush()
}

// oneLine is s fit for a table cell: control characters (tabs and line
// breaks among them) become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
}

func silenceRemove(ctx context.Context, store state.Store, sys stdio, id string) int {
	ok, err := store.RemoveSilence(ctx, id)
	if err != nil {
		fmt.Fprintf(sys.stderr, "pingpanda: state store %s: %v\n", store, err)
		return exitFailed
	}
	if !ok {
		fmt.Fprintf(sys.stderr, "pingpanda: no silence %s in %s (pingpanda silence list --all shows them)\n", id, store)
		return exitFailed
	}
	fmt.Fprintf(sys.stderr, "pingpanda: silence %s removed\n", id)
	return exitOK
}
