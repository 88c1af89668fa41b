// Package report owns what pingpanda prints for people and scripts: the
// sweep's report (its document, and its renderings as a table or as the
// --json document of SPEC §7) and the `status` view of the stored state.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// Report is what a sweep prints: the --json document of SPEC §7.
type Report struct {
	Version         string    `json:"version"`
	StartedAt       time.Time `json:"started_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	DryRun          bool      `json:"dry_run"`
	// Interrupted is set when a signal ended the sweep early.
	Interrupted bool `json:"interrupted,omitempty"`
	// Locked is set when another sweep held the lease, so this one did
	// nothing.
	Locked bool `json:"locked,omitempty"`
	// Partial is set when a Lambda event selected some of the targets;
	// such a sweep publishes no metrics.
	Partial bool `json:"partial,omitempty"`
	// Trigger describes the Lambda event that started the sweep.
	Trigger *Trigger `json:"trigger,omitempty"`
	Summary Summary  `json:"summary"`
	Results []Result `json:"results"`
	Events  []Event  `json:"events"`
	Alerts  Alerts   `json:"alerts"`
	// PushFailed is set when the sweep's metrics could not be published
	// (Pushgateway or textfile); PushError says why.
	PushFailed bool   `json:"push_failed"`
	PushError  string `json:"push_error,omitempty"`
}

// Trigger is the Lambda event's part of the report.
type Trigger struct {
	Kind      string     `json:"kind"`
	RequestID string     `json:"request_id,omitempty"`
	Schedule  string     `json:"schedule,omitempty"`
	Scheduled *time.Time `json:"scheduled_time,omitempty"`
	// LagSeconds is how long after the scheduled time the sweep started.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	Attempt    int      `json:"attempt,omitempty"`
	// Warnings say what in the event was ignored.
	Warnings []string `json:"warnings,omitempty"`
}

type Summary struct {
	Targets     int `json:"targets"`
	Up          int `json:"up"`
	Down        int `json:"down"`
	Skipped     int `json:"skipped"`
	Unsupported int `json:"unsupported"`
	// Degraded counts the up results slower than their warn_latency
	// (among Up).
	Degraded int `json:"degraded,omitempty"`
	// StillDown counts skipped targets whose last known status is down
	// (backing off, or circuit open): down, though not probed this sweep.
	StillDown int `json:"still_down"`
	// Silenced counts the targets a silence or a maintenance window
	// holds: probed, their alerts held.
	Silenced int `json:"silenced,omitempty"`
}

// Event is a change to announce (down, recovered, flapping, …).
type Event struct {
	ID              string  `json:"id"`
	Kind            string  `json:"kind"`
	TargetID        string  `json:"target_id"` // the results' id: a monitor's own id, when it has one
	Check           string  `json:"check"`
	Target          string  `json:"target"`
	Name            string  `json:"name,omitempty"`
	Since           string  `json:"since"`
	Message         string  `json:"message,omitempty"`
	DurationSeconds float64 `json:"duration_seconds,omitempty"`
	DaysLeft        float64 `json:"days_left,omitempty"`
}

// NoteStillDown records, for skipped targets, the status they keep.
func (rep *Report) NoteStillDown(next []state.TargetState) {
	for i := range rep.Results {
		r := &rep.Results[i]
		if r.Status != string(probe.StatusSkipped) || i >= len(next) {
			continue
		}
		if st := next[i].Status; st != "" {
			r.LastStatus = string(st)
			if st == state.Down {
				rep.Summary.StillDown++
			}
		}
	}
}

// MarkSilenced records that the i-th result's alerts are held until
// until, by by.
func (rep *Report) MarkSilenced(i int, until time.Time, by string) {
	if i >= len(rep.Results) || until.IsZero() {
		return
	}
	r := &rep.Results[i]
	r.SilencedUntil, r.SilencedBy = until.UTC().Format(time.RFC3339), by
	rep.Summary.Silenced++
	r.detail = strings.TrimPrefix(r.detail+"; silenced until "+r.SilencedUntil+" ("+by+")", "; ")
}

// AddEvents adds the events that are announced; the circuit breaker's
// transitions are only logged.
func (rep *Report) AddEvents(events []state.Event) {
	for _, e := range events {
		if !e.Kind.Alert() {
			continue
		}
		rep.Events = append(rep.Events, Event{
			ID: e.ID, Kind: string(e.Kind), TargetID: e.TargetID, Check: e.Check, Target: e.Target, Name: e.Name,
			Since: e.Since.UTC().Format(time.RFC3339), Message: e.Message,
			DurationSeconds: Round(e.Duration.Seconds(), 3), DaysLeft: Round(e.DaysLeft, 3),
		})
	}
}

// Result is one target's line of the report. Check-specific fields
// are present only for their check.
type Result struct {
	ID     string `json:"id"`
	Check  string `json:"check"`
	Target string `json:"target"`
	Name   string `json:"name,omitempty"`
	// Labels are the monitor's, from the monitors file.
	Labels         map[string]string `json:"labels,omitempty"`
	Status         string            `json:"status"`
	LatencySeconds float64           `json:"latency_seconds"`
	Error          string            `json:"error"`
	Attempts       int               `json:"attempts"`
	TimedOut       bool              `json:"timed_out,omitempty"`
	Degraded       bool              `json:"degraded,omitempty"`    // up, but slower than its warn_latency
	Reason         string            `json:"reason,omitempty"`      // why a check was skipped
	LastStatus     string            `json:"last_status,omitempty"` // the status a skipped target keeps
	DaysLeft       *float64          `json:"days_left,omitempty"`
	CertLevel      string            `json:"cert_level,omitempty"`
	NotAfter       string            `json:"not_after,omitempty"`
	HTTPStatus     *int              `json:"http_status,omitempty"`
	FinalURL       string            `json:"final_url,omitempty"`
	DNSRcode       string            `json:"dns_rcode,omitempty"`
	DNSAnswers     *int              `json:"dns_answers,omitempty"`
	PingAddress    string            `json:"ping_address,omitempty"`
	PingMode       string            `json:"ping_mode,omitempty"`
	PingLossPct    *float64          `json:"ping_loss_percent,omitempty"`
	TCPReadBytes   *int              `json:"tcp_read_bytes,omitempty"` // bytes read, when the check sends or expects anything
	TCPTLS         *bool             `json:"tcp_tls,omitempty"`        // the connection completed a TLS handshake
	// SilencedUntil is when the silence or maintenance window holding
	// the target's alerts ends; SilencedBy names it (a silence's ID, or
	// "maintenance monitors.yaml:40").
	SilencedUntil string `json:"silenced_until,omitempty"`
	SilencedBy    string `json:"silenced_by,omitempty"`

	detail string // the table's detail column
}

// New is the report of a sweep by pingpanda version that ran from start to
// end and found results.
func New(version string, start, end time.Time, results []probe.Result) *Report {
	rep := &Report{
		Version:         version,
		StartedAt:       start.UTC(),
		DurationSeconds: Round(end.Sub(start).Seconds(), 6),
		Results:         make([]Result, 0, len(results)),
		Events:          []Event{},
	}
	for _, r := range results {
		rep.Results = append(rep.Results, toResult(r))
		rep.Summary.Targets++
		switch r.Status {
		case probe.StatusUp:
			rep.Summary.Up++
			if r.Degraded {
				rep.Summary.Degraded++
			}
		case probe.StatusUnsupported:
			rep.Summary.Unsupported++
		case probe.StatusSkipped:
			rep.Summary.Skipped++
		default:
			rep.Summary.Down++
		}
	}
	return rep
}

func toResult(r probe.Result) Result {
	rr := Result{
		ID:             r.Target.ID(),
		Check:          string(r.Target.Check),
		Target:         r.Target.Shown(),
		Name:           r.Target.Name,
		Status:         string(r.Status),
		LatencySeconds: Round(r.Latency.Seconds(), 6),
		Error:          r.Error,
		Attempts:       r.Attempts,
		TimedOut:       r.TimedOut,
		Degraded:       r.Degraded && r.Status == probe.StatusUp,
	}
	if r.Target.Spec != nil {
		rr.Labels = r.Target.Spec.Labels
	}
	switch {
	case r.DNS != nil:
		rr.DNSRcode, rr.DNSAnswers = r.DNS.Rcode, &r.DNS.Answers
		rr.detail = fmt.Sprintf("%s: %d %s %s via %s", r.DNS.Rcode, r.DNS.Answers, r.DNS.Type,
			Plural(r.DNS.Answers, "record", "records"), r.DNS.Server)
	case r.Ping != nil:
		loss := Round(r.Ping.LossPct, 2)
		rr.PingAddress, rr.PingMode, rr.PingLossPct = r.Ping.Addr, string(r.Ping.Mode), &loss
		if r.Ping.Mode == probe.PingTCP {
			rr.detail = fmt.Sprintf("tcp connect to %s", r.Ping.Addr)
		} else if r.Ping.Sent > 0 {
			rr.detail = fmt.Sprintf("%d/%d replies from %s (%s)", r.Ping.Received, r.Ping.Sent, r.Ping.Addr, r.Ping.Mode)
		}
	case r.HTTP != nil:
		if r.HTTP.StatusCode != 0 {
			rr.HTTPStatus = &r.HTTP.StatusCode
			rr.detail = fmt.Sprintf("%d %s", r.HTTP.StatusCode, r.HTTP.FinalURL)
		}
		rr.FinalURL = r.HTTP.FinalURL
	case r.TLS != nil && !r.TLS.NotAfter.IsZero():
		days := Round(r.TLS.DaysLeft, 3)
		rr.DaysLeft, rr.CertLevel = &days, string(r.TLS.Level)
		rr.NotAfter = r.TLS.NotAfter.UTC().Format(time.RFC3339)
		rr.detail = fmt.Sprintf("%.1f days left (%s)", r.TLS.DaysLeft, r.TLS.Level)
	case r.TCP != nil:
		rr.TCPTLS = &r.TCP.TLS
		rr.detail = "connected"
		if r.TCP.TLS {
			rr.detail = "connected over TLS"
		}
		if sp := r.Target.Spec; r.TCP.Read > 0 || (sp != nil && sp.TCP != nil && (sp.TCP.Send != "" || sp.TCP.Expect != "")) {
			rr.TCPReadBytes = &r.TCP.Read
			rr.detail += fmt.Sprintf(", %d %s read", r.TCP.Read, Plural(r.TCP.Read, "byte", "bytes"))
		}
	}
	if r.Status == probe.StatusSkipped {
		rr.Reason, rr.Error = r.Error, ""
	}
	if r.Status != probe.StatusUp {
		rr.detail = r.Error
	}
	if rr.Degraded {
		rr.detail = strings.TrimSuffix(degradedDetail(r)+"; "+rr.detail, "; ")
	}
	return rr
}

// degradedDetail is the table's note on a degraded result: "degraded
// (latency 412ms above warn_latency 300ms)".
func degradedDetail(r probe.Result) string {
	d := "degraded (latency " + formatLatency(r.Latency.Seconds())
	if sp := r.Target.Spec; sp != nil && sp.HTTP != nil && sp.HTTP.WarnLatency > 0 {
		d += " above warn_latency " + sp.HTTP.WarnLatency.String()
	}
	return d + ")"
}

// Write prints the JSON document, or the table and a Summary line.
func Write(w io.Writer, rep *Report, cfg *config.Config, asJSON bool) error {
	if asJSON {
		return writeReportJSON(w, rep)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tSTATUS\tLATENCY\tDETAIL")
	for _, r := range rep.Results {
		up := r.Status == string(probe.StatusUp)
		if (cfg.ShowOnlySuccess && !up) || (cfg.ShowOnlyFailure && up) {
			continue
		}
		target := r.Target
		if r.Name != "" {
			target = r.Name + " (" + r.Target + ")"
		}
		latency := "-"
		if r.LatencySeconds > 0 {
			latency = formatLatency(r.LatencySeconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Check, target, strings.ToUpper(r.Status), latency, OneLine(r.detail))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	s := rep.Summary
	line := fmt.Sprintf("%d %s: %d up", s.Targets, Plural(s.Targets, "target", "targets"), s.Up)
	if s.Degraded > 0 {
		line += fmt.Sprintf(" (%d degraded)", s.Degraded)
	}
	line += fmt.Sprintf(", %d down", s.Down)
	if s.Skipped > 0 {
		line += fmt.Sprintf(", %d skipped", s.Skipped)
		if s.StillDown > 0 {
			line += fmt.Sprintf(" (%d still down)", s.StillDown)
		}
	}
	if s.Unsupported > 0 {
		line += fmt.Sprintf(", %d unsupported", s.Unsupported)
	}
	if s.Silenced > 0 {
		line += fmt.Sprintf("; %d silenced", s.Silenced)
	}
	if rep.Locked {
		line = "another sweep is in progress; this one did nothing"
	}
	for _, e := range rep.Events {
		fmt.Fprintf(w, "\nevent %s: %s %s", e.Kind, e.Check, e.Target)
		if e.Message != "" {
			fmt.Fprintf(w, " (%s)", OneLine(e.Message))
		}
	}
	if len(rep.Events) > 0 {
		fmt.Fprintln(w)
	}
	if err := rep.Alerts.writeProblems(w); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s in %.2fs\n", line, rep.DurationSeconds)
	return err
}

func formatLatency(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// writeReportJSON prints the Report as json.Encoder with a two-space indent
// would, but a result at a time: at 10,000 targets the whole document,
// which the Encoder builds compact and then again indented before writing
// it, is tens of megabytes at the end of the sweep, when the process's
// memory peaks.
func writeReportJSON(w io.Writer, rep *Report) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // URLs keep their & and <>
	enc.SetIndent("", "  ")
	head := *rep
	head.Results = []Result{}
	if err := enc.Encode(&head); err != nil {
		return err
	}
	// The results are the document's only "results": [] at this depth
	// (a JSON string cannot hold a raw newline).
	const empty = "\n  \"results\": [],\n"
	doc := buf.Bytes()
	at := bytes.Index(doc, []byte(empty))
	if at < 0 || len(rep.Results) == 0 {
		_, err := w.Write(doc)
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(doc[:at+len(empty)-3]) // up to and with the '['
	rest := doc[at+len(empty)-2:]   // from the ','
	var row bytes.Buffer
	renc := json.NewEncoder(&row)
	renc.SetEscapeHTML(false)
	renc.SetIndent("    ", "  ")
	for i := range rep.Results {
		row.Reset()
		if err := renc.Encode(&rep.Results[i]); err != nil {
			return err
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(row.Bytes(), []byte("\n")))
	}
	bw.WriteString("\n  ]")
	bw.Write(rest)
	return bw.Flush()
}
