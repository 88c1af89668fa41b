package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/state"
)

// StatusTarget is one target's line of `pingpanda status --json`.
type StatusTarget struct {
	ID                  string   `json:"id"`
	Check               string   `json:"check"`
	Target              string   `json:"target"`
	Name                string   `json:"name,omitempty"`
	Configured          bool     `json:"configured"`
	Status              string   `json:"status"`
	Since               string   `json:"since,omitempty"`
	AvailabilityPercent *float64 `json:"availability_percent"`
	Checks              int64    `json:"checks"`
	Failures            int64    `json:"failures"`
	DowntimeEvents      int64    `json:"downtime_events"`
	ConsecutiveFailures int      `json:"consecutive_failures"`
	LatencyLastSeconds  float64  `json:"latency_last_seconds"`
	LatencyMinSeconds   float64  `json:"latency_min_seconds"`
	LatencyMaxSeconds   float64  `json:"latency_max_seconds"`
	Circuit             string   `json:"circuit"`
	Flapping            bool     `json:"flapping"`
	Degraded            bool     `json:"degraded"`                 // the stored latch: from the degraded alert to degraded_resolved
	DegradedSince       string   `json:"degraded_since,omitempty"` // its first slow result, while degraded
	CertLevel           string   `json:"cert_level,omitempty"`
	CertDaysLeft        *float64 `json:"cert_days_left,omitempty"`
	LastError           string   `json:"last_error,omitempty"`
	LastProbeAt         string   `json:"last_probe_at,omitempty"`
	// SilencedUntil and SilencedBy say which silence or maintenance
	// window holds the target's alerts now, and until when.
	SilencedUntil string `json:"silenced_until,omitempty"`
	SilencedBy    string `json:"silenced_by,omitempty"`
}

// StatusSilence is one silence in force, for `pingpanda status`.
type StatusSilence struct {
	ID      string `json:"id"`
	Match   string `json:"match"`
	Reason  string `json:"reason"`
	By      string `json:"by,omitempty"`
	Created string `json:"created"`
	Expires string `json:"expires"`
	// Monitors counts the configured monitors it holds.
	Monitors int `json:"monitors"`
}

type StatusSummary struct {
	Targets             int      `json:"targets"`
	Up                  int      `json:"up"`
	Down                int      `json:"down"`
	Unknown             int      `json:"unknown"`
	AvailabilityPercent *float64 `json:"availability_percent"`
}

// StatusRows are the rows of `pingpanda status`: the configured targets
// first, in configuration order, then those the store still remembers.
// now dates the certificates' days left.
func StatusRows(cfg *config.Config, all map[string]state.TargetState, now time.Time) ([]StatusTarget, StatusSummary) {
	var ids []string
	configured := map[string]bool{}
	for _, t := range cfg.AllTargets {
		ids = append(ids, t.ID())
		configured[t.ID()] = true
	}
	var others []string
	for id := range all {
		if !configured[id] {
			others = append(others, id)
		}
	}
	sort.Strings(others)
	ids = append(ids, others...)

	var (
		rows             []StatusTarget
		sum              StatusSummary
		up, down         float64
		checks, failures int64
	)
	for _, id := range ids {
		s, ok := all[id]
		if !ok {
			s = state.TargetState{ID: id, Status: state.Unknown}
			for _, t := range cfg.AllTargets {
				if t.ID() == id {
					s.Check, s.Target, s.Name = string(t.Check), t.Shown(), t.Name
				}
			}
		}
		row := StatusTarget{
			ID: id, Check: s.Check, Target: s.Target, Name: s.Name, Configured: configured[id],
			Status: string(s.Status), Checks: s.Stats.Checks, Failures: s.Stats.Failures,
			DowntimeEvents: s.Stats.DowntimeEvents, ConsecutiveFailures: s.ConsecutiveFailures,
			LatencyLastSeconds: s.Stats.LatencyLast, LatencyMinSeconds: s.Stats.LatencyMin, LatencyMaxSeconds: s.Stats.LatencyMax,
			Circuit: string(s.Circuit), Flapping: s.Flapping, Degraded: s.Degraded, CertLevel: s.CertLevel, LastError: s.LastError,
		}
		if s.Degraded && !s.DegradedSince.IsZero() {
			row.DegradedSince = s.DegradedSince.UTC().Format(time.RFC3339)
		}
		if row.Status == "" {
			row.Status = string(state.Unknown)
		}
		if row.Circuit == "" {
			row.Circuit = string(state.Closed)
		}
		if !s.Since.IsZero() {
			row.Since = s.Since.UTC().Format(time.RFC3339)
		}
		if !s.LastProbeAt.IsZero() {
			row.LastProbeAt = s.LastProbeAt.UTC().Format(time.RFC3339)
		}
		if a := s.AvailabilityAt(now); a >= 0 {
			a = Round(a, 3)
			row.AvailabilityPercent = &a
		}
		if !s.NotAfter.IsZero() {
			d := Round(s.NotAfter.Sub(now).Hours()/24, 2)
			row.CertDaysLeft = &d
		}
		rows = append(rows, row)
		sum.Targets++
		switch s.Status {
		case state.Up:
			sum.Up++
		case state.Down:
			sum.Down++
		default:
			sum.Unknown++
		}
		u, d := s.TimeAt(now)
		up, down = up+u, down+d
		checks, failures = checks+s.Stats.Checks, failures+s.Stats.Failures
	}
	// Overall, as for one target: the time known, else the checks.
	var a float64
	switch {
	case up+down > 0:
		a = 100 * up / (up + down)
	case checks > 0:
		a = 100 * float64(checks-failures) / float64(checks)
	default:
		return rows, sum
	}
	a = Round(a, 3)
	sum.AvailabilityPercent = &a
	return rows, sum
}

// WriteStatus prints the status rows and alert channels of the named store
// as a table or as the JSON document of `pingpanda status --json`.
func WriteStatus(w io.Writer, store string, rows []StatusTarget, sum StatusSummary, channels []StatusChannel, silences []StatusSilence, asJSON bool) error {
	if silences == nil {
		silences = []StatusSilence{}
	}
	if !asJSON {
		if err := writeStatusTable(w, rows, sum); err != nil {
			return err
		}
		if err := writeSilences(w, silences); err != nil {
			return err
		}
		return writeChannels(w, channels)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs keep their & and <>
	return enc.Encode(struct {
		Store    string          `json:"store"`
		Targets  []StatusTarget  `json:"targets"`
		Summary  StatusSummary   `json:"summary"`
		Channels []StatusChannel `json:"channels"`
		Silences []StatusSilence `json:"silences"`
	}{store, rows, sum, channels, silences})
}

// writeSilences lists the silences in force.
func writeSilences(w io.Writer, silences []StatusSilence) error {
	if len(silences) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\n%d %s in force:\n", len(silences), Plural(len(silences), "silence", "silences"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range silences {
		fmt.Fprintf(tw, "  %s\t%s\tuntil %s\t%d %s\t%s\t%s\n", s.ID, s.Match, s.Expires, s.Monitors, Plural(s.Monitors, "monitor", "monitors"),
			s.By, Truncate(OneLine(s.Reason), 60))
	}
	return tw.Flush()
}

func writeStatusTable(w io.Writer, rows []StatusTarget, sum StatusSummary) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tSTATUS\tSINCE\tAVAIL\tOUTAGES\tLATENCY last/min/max\tCIRCUIT\tFLAPPING\tDEGRADED\tCERT DAYS\tLAST ERROR")
	for _, r := range rows {
		target := r.Target
		if r.Name != "" {
			target = r.Name + " (" + r.Target + ")"
		}
		if !r.Configured {
			target += " [not configured]"
		}
		if r.SilencedUntil != "" {
			target += " [silenced until " + r.SilencedUntil + "]"
		}
		avail := "-"
		if r.AvailabilityPercent != nil {
			avail = fmt.Sprintf("%.2f%%", *r.AvailabilityPercent)
		}
		latency := "-"
		if r.Checks > r.Failures {
			latency = strings.Join([]string{formatLatency(r.LatencyLastSeconds), formatLatency(r.LatencyMinSeconds), formatLatency(r.LatencyMaxSeconds)}, "/")
		}
		cert := "-"
		if r.CertDaysLeft != nil {
			cert = fmt.Sprintf("%.1f (%s)", *r.CertDaysLeft, r.CertLevel)
		}
		flapping := "no"
		if r.Flapping {
			flapping = "yes"
		}
		degraded := "no"
		if r.Degraded {
			degraded = "yes"
		}
		since := r.Since
		if since == "" {
			since = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Check, target, strings.ToUpper(r.Status), since,
			avail, r.DowntimeEvents, latency, r.Circuit, flapping, degraded, cert, Truncate(OneLine(r.LastError), 60))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	line := fmt.Sprintf("%d %s: %d up, %d down, %d unknown", sum.Targets, Plural(sum.Targets, "target", "targets"), sum.Up, sum.Down, sum.Unknown)
	if sum.AvailabilityPercent != nil {
		line += fmt.Sprintf("; availability %.2f%%", *sum.AvailabilityPercent)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", line)
	return err
}
