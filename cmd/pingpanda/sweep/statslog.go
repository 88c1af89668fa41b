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

// statsLine is one target's line in the stats log.
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
}

// row is the line as CSV fields, in statsColumns' order.
func (l statsLine) row() []string {
	avail := ""
	if l.AvailabilityPercent != nil {
		avail = strconv.FormatFloat(*l.AvailabilityPercent, 'f', -1, 64)
	}
	return []string{l.Time, l.ID, l.Check, l.Target, l.Status, strconv.FormatFloat(l.LatencySeconds, 'f', -1, 64),
		strconv.Itoa(l.Attempts), strconv.Itoa(l.ConsecutiveFailures), avail, l.Error}
}

// statsColumns are the stats log's CSV header, in row's order.
var statsColumns = []string{"time", "id", "check", "target", "status", "latency_seconds", "attempts",
	"consecutive_failures", "availability_percent", "error"}

// appendStatsLog appends one line per target for this sweep to the stats
// log (STORE_STATS_LOG), in CSV (under a header row at the top of every
// file) or JSON lines, rotating it by size (STATS_LOG_MAX_SIZE,
// STATS_LOG_BACKUP_COUNT). The lines of one sweep are written with a single
// write, so a rotation never splits them. Errors name STATS_LOG_FILE.
func appendStatsLog(c config.StatsLog, at time.Time, results []probe.Result, next []state.TargetState) error {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	enc := json.NewEncoder(&buf)
	for i, r := range results {
		var s state.TargetState
		if i < len(next) {
			s = next[i]
		}
		line := statsLine{
			Time: at.UTC().Format(time.RFC3339), ID: r.Target.ID(), Check: string(r.Target.Check),
			Target: r.Target.Shown(), Status: string(r.Status), LatencySeconds: report.Round(r.Latency.Seconds(), 6),
			Attempts: r.Attempts, ConsecutiveFailures: s.ConsecutiveFailures, Error: r.Error,
		}
		if a := s.Stats.Availability(); a >= 0 {
			a = report.Round(a, 3)
			line.AvailabilityPercent = &a
		}
		if c.Format == "csv" {
			cw.Write(line.row())
		} else if err := enc.Encode(line); err != nil {
			return fmt.Errorf("STATS_LOG_FILE: %w", err)
		}
	}
	cw.Flush()
	opts := logfile.RotatingOptions{MaxSize: c.MaxSize, Backups: c.BackupCount}
	if c.Format == "csv" {
		opts.Header = csvHeader()
	}
	f, err := logfile.OpenRotating(c.Path, opts)
	if err != nil {
		return statsLogError(err)
	}
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return statsLogError(err)
	}
	if err := f.Close(); err != nil {
		return statsLogError(err)
	}
	return nil
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
