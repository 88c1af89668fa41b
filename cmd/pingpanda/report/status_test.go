package report

import (
	"fmt"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

func TestStatusAvailabilityCountsWhatTheStoreKnows(t *testing.T) {
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	a := probe.Target{Check: probe.HTTP, Address: "https://a.example/"}
	b := probe.Target{Check: probe.DNS, Address: "b.example"}
	cfg := &config.Config{AllTargets: []probe.Target{a, b}}
	pct := func(p *float64) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", *p)
	}
	tests := []struct {
		name       string
		a, b       state.TargetState
		rowA, rowB string
		overall    string
	}{
		{
			name: "a target down since its last probe counts the time since as down",
			a: state.TargetState{Status: state.Down, LastProbeAt: now.Add(-time.Hour),
				Stats: state.Stats{Checks: 10, Failures: 1, UptimeSeconds: 3600}},
			rowA: "50.00", rowB: "-", overall: "50.00",
		},
		{
			name: "a target that has only failed is 0%, not unknown",
			a:    state.TargetState{Status: state.Unknown, LastProbeAt: now.Add(-time.Minute), Stats: state.Stats{Checks: 2, Failures: 2}},
			rowA: "0.00", rowB: "-", overall: "0.00",
		},
		{
			name: "the overall figure is never 100% while a target is down",
			a:    state.TargetState{Status: state.Up, LastProbeAt: now, Stats: state.Stats{Checks: 100, UptimeSeconds: 86400}},
			b:    state.TargetState{Status: state.Down, LastProbeAt: now.Add(-time.Minute), Stats: state.Stats{Checks: 2, Failures: 2}},
			rowA: "100.00", rowB: "0.00", overall: "99.93",
		},
		{
			name: "nothing observed is unknown",
			rowA: "-", rowB: "-", overall: "-",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all := map[string]state.TargetState{}
			if tt.a.Status != "" {
				tt.a.ID = a.ID()
				all[a.ID()] = tt.a
			}
			if tt.b.Status != "" {
				tt.b.ID = b.ID()
				all[b.ID()] = tt.b
			}
			rows, sum := StatusRows(cfg, all, now)
			if got := pct(rows[0].AvailabilityPercent); got != tt.rowA {
				t.Errorf("first target %s, want %s", got, tt.rowA)
			}
			if got := pct(rows[1].AvailabilityPercent); got != tt.rowB {
				t.Errorf("second target %s, want %s", got, tt.rowB)
			}
			if got := pct(sum.AvailabilityPercent); got != tt.overall {
				t.Errorf("overall %s, want %s", got, tt.overall)
			}
		})
	}
}
