package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

// TestTheJSONReportIsWhatTheEncoderWrites: the report, written a result at
// a time, is byte for byte what json.Encoder writes of it whole.
func TestTheJSONReportIsWhatTheEncoderWrites(t *testing.T) {
	start := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	results := []probe.Result{
		{Target: probe.Target{Check: probe.HTTP, Address: "http://a.example/?q=<x>&y", Name: "a \"quoted\"\nname"}, Status: probe.StatusUp,
			Latency: 12 * time.Millisecond, Attempts: 1, HTTP: &probe.HTTPDetail{StatusCode: 200, FinalURL: "http://a.example/"}},
		{Target: probe.Target{Check: probe.DNS, Address: "b.example"}, Status: probe.StatusDown, Error: "no answer", Attempts: 3},
		{Target: probe.Target{Check: probe.TLS, Address: "c.example:443"}, Status: probe.StatusSkipped, Error: "backing off"},
	}
	for _, c := range []struct {
		name string
		rep  *report
	}{
		{"no results", newReport(start, start.Add(time.Second), nil)},
		{"one result", newReport(start, start.Add(time.Second), results[:1])},
		{"results with awkward strings, and a trigger", func() *report {
			r := newReport(start, start.Add(time.Second), results)
			r.Trigger = &triggerReport{Kind: "schedule", Warnings: []string{`"results": [],`}}
			r.PushFailed, r.PushError = true, "\n  \"results\": [],\n"
			return r
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(c.rep); err != nil {
				t.Fatal(err)
			}
			if err := writeReport(&got, c.rep, &Config{}, true); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("got\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
}
