package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/logfile"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// statsLine is one target's line in the stats log. The fields from
// UptimeSeconds on are the Python original's columns, from the target's
// stored Stats; they come after ours so that ours keep their places.
type statsLine struct {
	Time                string   `json:"time"`
	ID                  string   `json:"id"`
	Check               string   `json:"check"`
	Target              string   `json:"target"`
	Status              string   `json:"status"`
	LatencySeconds      float64  `json:"latency_seconds"`
	Attempts            int      `json:"attempts"`
	ConsecutiveFailures int      `json:"consecutive_failures"`
	AvailabilityPercent *float64 `json:"availability_percent"`
	Error               string   `json:"error"`
	UptimeSeconds       float64  `json:"uptime_seconds"`
	DowntimeSeconds     float64  `json:"downtime_seconds"`
	DowntimeEvents      int64    `json:"downtime_events"`
	// LastStatusChange and StatusDurationSeconds are null until the
	// target has had a status.
	LastStatusChange      *string  `json:"last_status_change"`
	StatusDurationSeconds *float64 `json:"status_duration_seconds"`
	Flapping              bool     `json:"flapping"`
}

// overallID is the ID of the overall line; no target's ID ("<check>:…")
// can be it.
const overallID = "OVERALL"

// statsOverall is a sweep's last line, the original's OVERALL row: totals
// over the sweep's targets. Up and Down count the targets' statuses after
// the sweep (a skipped target keeps its last one).
type statsOverall struct {
	Time                string   `json:"time"`
	ID                  string   `json:"id"`     // overallID
	Status              string   `json:"status"` // "summary"
	Targets             int      `json:"targets"`
	Up                  int      `json:"up"`
	Down                int      `json:"down"`
	AvailabilityPercent *float64 `json:"availability_percent"`
	UptimeSeconds       float64  `json:"uptime_seconds"`
	DowntimeSeconds     float64  `json:"downtime_seconds"`
	DowntimeEvents      int64    `json:"downtime_events"`
	FlappingTargets     int      `json:"flapping_targets"`
}

// statsColumns are the stats log's CSV header, in row's order.
var statsColumns = []string{"time", "id", "check", "target", "status", "latency_seconds", "attempts",
	"consecutive_failures", "availability_percent", "error",
	"uptime_seconds", "downtime_seconds", "downtime_events", "last_status_change", "status_duration_seconds", "flapping"}

// row is the line as CSV fields, in statsColumns' order.
func (l statsLine) row() []string {
	return []string{l.Time, l.ID, l.Check, l.Target, l.Status, formatFloat(l.LatencySeconds),
		strconv.Itoa(l.Attempts), strconv.Itoa(l.ConsecutiveFailures), formatOptional(l.AvailabilityPercent), l.Error,
		formatFloat(l.UptimeSeconds), formatFloat(l.DowntimeSeconds), strconv.FormatInt(l.DowntimeEvents, 10),
		optionalString(l.LastStatusChange), formatOptional(l.StatusDurationSeconds), strconv.FormatBool(l.Flapping)}
}

// row is the overall line as CSV fields, in statsColumns' order. As in the
// original's OVERALL row, its flapping column counts the flapping targets.
func (o statsOverall) row() []string {
	return []string{o.Time, o.ID, "", "", o.Status, "", "", "", formatOptional(o.AvailabilityPercent), "",
		formatFloat(o.UptimeSeconds), formatFloat(o.DowntimeSeconds), strconv.FormatInt(o.DowntimeEvents, 10),
		"", "", strconv.Itoa(o.FlappingTargets)}
}

// appendStatsLog appends one line per target for this sweep to the stats
// log (STORE_STATS_LOG), then the overall line, in CSV (under a header row
// at the top of every file) or JSON lines, rotating it by size
// (STATS_LOG_MAX_SIZE, STATS_LOG_BACKUP_COUNT). The lines of one sweep are
// written with a single write, so a rotation never splits them. at is the
// sweep's start. Errors name STATS_LOG_FILE.
func appendStatsLog(c config.StatsLog, at time.Time, results []probe.Result, next []state.TargetState) error {
	lines, overall := statsLines(at, results, next)
	b, err := encodeStatsLog(c.Format, lines, overall)
	if err != nil {
		return fmt.Errorf("STATS_LOG_FILE: %w", err)
	}
	opts := logfile.RotatingOptions{MaxSize: c.MaxSize, Backups: c.BackupCount}
	if c.Format == "csv" {
		opts.Header = csvHeader()
	}
	f, err := logfile.OpenRotating(c.Path, opts)
	if err != nil {
		return statsLogError(err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return statsLogError(err)
	}
	if err := f.Close(); err != nil {
		return statsLogError(err)
	}
	return nil
}

// statsLines are the sweep's lines: one per result, with its target's
// next state, and the totals.
func statsLines(at time.Time, results []probe.Result, next []state.TargetState) ([]statsLine, statsOverall) {
	when := stamp(at)
	lines := make([]statsLine, len(results))
	overall := statsOverall{Time: when, ID: overallID, Status: "summary", Targets: len(results)}
	for i, r := range results {
		var s state.TargetState
		if i < len(next) {
			s = next[i]
		}
		l := statsLine{
			Time: when, ID: r.Target.ID(), Check: string(r.Target.Check),
			Target: r.Target.Shown(), Status: string(r.Status), LatencySeconds: report.Round(r.Latency.Seconds(), 6),
			Attempts: r.Attempts, ConsecutiveFailures: s.ConsecutiveFailures, Error: r.Error,
			AvailabilityPercent: percent(s.Stats.Availability()),
			UptimeSeconds:       report.Round(s.Stats.UptimeSeconds, 3),
			DowntimeSeconds:     report.Round(s.Stats.DowntimeSeconds, 3),
			DowntimeEvents:      s.Stats.DowntimeEvents,
			Flapping:            s.Flapping,
		}
		if !s.Since.IsZero() {
			since := stamp(s.Since)
			d := report.Round(max(at.Sub(s.Since).Seconds(), 0), 3)
			l.LastStatusChange, l.StatusDurationSeconds = &since, &d
		}
		lines[i] = l

		switch s.Status {
		case state.Up:
			overall.Up++
		case state.Down:
			overall.Down++
		}
		overall.UptimeSeconds += s.Stats.UptimeSeconds
		overall.DowntimeSeconds += s.Stats.DowntimeSeconds
		overall.DowntimeEvents += s.Stats.DowntimeEvents
		if s.Flapping {
			overall.FlappingTargets++
		}
	}
	overall.AvailabilityPercent = percent(state.Stats{UptimeSeconds: overall.UptimeSeconds, DowntimeSeconds: overall.DowntimeSeconds}.Availability())
	overall.UptimeSeconds = report.Round(overall.UptimeSeconds, 3)
	overall.DowntimeSeconds = report.Round(overall.DowntimeSeconds, 3)
	return lines, overall
}

// encodeStatsLog is the sweep's lines in format, csv (without the header)
// or json (one object a line).
func encodeStatsLog(format string, lines []statsLine, overall statsOverall) ([]byte, error) {
	var buf bytes.Buffer
	if format == "csv" {
		cw := csv.NewWriter(&buf)
		for _, l := range lines {
			cw.Write(l.row())
		}
		cw.Write(overall.row())
		cw.Flush()
		return buf.Bytes(), cw.Error()
	}
	enc := json.NewEncoder(&buf)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return nil, err
		}
	}
	if err := enc.Encode(overall); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// csvHeader is the header row of every CSV stats log file.
func csvHeader() []byte {
	var b bytes.Buffer
	cw := csv.NewWriter(&b)
	cw.Write(statsColumns)
	cw.Flush()
	return b.Bytes()
}

// statsLogError names the key, and for a permission error says what to do.
func statsLogError(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("STATS_LOG_FILE: %w (a relative STATS_LOG_FILE is in LOG_DIR: point either at a directory this user may write, such as a mounted volume)", err)
	}
	return fmt.Errorf("STATS_LOG_FILE: %w", err)
}

// stamp is t as the stats log writes times: RFC 3339 in UTC, to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// percent is an availability rounded for the log, or nil when unknown (<0).
func percent(a float64) *float64 {
	if a < 0 {
		return nil
	}
	a = report.Round(a, 3)
	return &a
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// formatOptional is f, or empty when nil.
func formatOptional(f *float64) string {
	if f == nil {
		return ""
	}
	return formatFloat(*f)
}

func optionalString(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
