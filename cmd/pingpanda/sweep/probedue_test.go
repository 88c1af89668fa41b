package sweep

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

// upProber answers up to every probe.
type upProber struct{}

func (upProber) Probe(ctx context.Context, t probe.Target) probe.Result {
	return probe.Result{Status: probe.StatusUp}
}

func TestProbeDueKeepsTargetOrderWhateverIsSkipped(t *testing.T) {
	now := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	targets := make([]probe.Target, 5)
	for i := range targets {
		targets[i] = probe.Target{Check: probe.DNS, Address: fmt.Sprintf("t%d.example", i)}
	}
	sw := &Sweeper{
		cfg:    &config.Config{Policy: state.Policy{Backoff: true, BackoffMin: time.Second, BackoffMax: time.Hour, BreakerThreshold: 100, BreakerCooldown: time.Hour}},
		log:    slog.New(slog.DiscardHandler),
		runner: &probe.Runner{Probers: map[probe.Check]probe.Prober{probe.DNS: upProber{}}, Concurrency: 2},
	}
	for _, skip := range [][]int{nil, {0}, {4}, {1, 3}, {0, 1, 2, 3, 4}} {
		t.Run(fmt.Sprintf("skipping %v", skip), func(t *testing.T) {
			prev := make([]state.TargetState, len(targets))
			skipped := make([]bool, len(targets))
			for _, i := range skip {
				prev[i] = state.TargetState{Status: state.Down, ConsecutiveFailures: 1, NextProbeAt: now.Add(time.Minute)}
				skipped[i] = true
			}
			results := sw.probeDue(context.Background(), targets, prev, now)
			if len(results) != len(targets) {
				t.Fatalf("%d results for %d targets", len(results), len(targets))
			}
			for i, r := range results {
				want := probe.StatusUp
				if skipped[i] {
					want = probe.StatusSkipped
				}
				if r.Target != targets[i] || r.Status != want {
					t.Errorf("result %d: %s %s, want %s %s", i, r.Target.ID(), r.Status, targets[i].ID(), want)
				}
			}
		})
	}
}
