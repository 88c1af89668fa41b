package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
)

// TestTheJSONReportIsWhatTheEncoderWrites: the Report, written a result at
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
		rep  *Report
	}{
		{"no results", New("test", start, start.Add(time.Second), nil)},
		{"one result", New("test", start, start.Add(time.Second), results[:1])},
		{"results with awkward strings, and a trigger", func() *Report {
			r := New("test", start, start.Add(time.Second), results)
			r.Trigger = &Trigger{Kind: "schedule", Warnings: []string{`"results": [],`}}
			r.PushFailed, r.PushError = true, "\n  \"results\": [],\n"
			return r
		}()},
		{"degraded and tcp results, and events", goldenReport(t)},
	} {
		t.Run(c.name, func(t *testing.T) {
			var want, got bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			if err := enc.Encode(c.rep); err != nil {
				t.Fatal(err)
			}
			if err := Write(&got, c.rep, &config.Config{}, true); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("got\n%s\nwant\n%s", got.String(), want.String())
			}
		})
	}
}

func TestAMonitorsLabelsAreInItsJSONResult(t *testing.T) {
	spec := &probe.Spec{Labels: map[string]string{"team": "payments", "severity": "page"}}
	rep := New("test", time.Unix(0, 0), time.Unix(1, 0), []probe.Result{
		{Target: probe.Target{Check: probe.HTTP, Address: "https://pay.example.com/", Spec: spec}, Status: probe.StatusUp, Attempts: 1},
		{Target: probe.Target{Check: probe.HTTP, Address: "https://env.example.com/"}, Status: probe.StatusUp, Attempts: 1},
	})
	b, err := json.Marshal(rep.Results)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.Contains(got, `"labels":{"severity":"page","team":"payments"}`) || strings.Count(got, `"labels"`) != 1 {
		t.Errorf("results %s: want the monitor's labels on its result alone", got)
	}
}
