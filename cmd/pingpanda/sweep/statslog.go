package sweep

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
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
// log (STORE_STATS_LOG), in CSV (with a header when the file is new) or
// JSON lines. The lines of one sweep are written with a single write.
func appendStatsLog(c config.StatsLog, at time.Time, results []probe.Result, next []state.TargetState) error {
	if dir := filepath.Dir(c.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(c.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	if c.Format == "csv" && st.Size() == 0 {
		cw.Write(statsColumns)
	}
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
			f.Close()
			return err
		}
	}
	cw.Flush()
	if _, err := f.Write(buf.Bytes()); err != nil {
		f.Close()
		return fmt.Errorf("write: %w", err)
	}
	return f.Close()
}
