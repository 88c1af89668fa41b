package sweep

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert/route"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/probe"
	"github.com/pingpanda/pingpanda/state"
)

func TestEventsOfOneSweepKeepTheirOrderInTheOutbox(t *testing.T) {
	routing := config.Routing{Channels: []config.Channel{{Name: "slack", Type: "slack", URL: "https://hooks.slack.test/x"}}, Table: route.Default([]string{"slack"})}
	target, err := probe.ParseTarget(probe.HTTP, "https://web.test")
	if err != nil {
		t.Fatal(err)
	}
	notifiers, err := newNotifiers(routing, nil)
	if err != nil {
		t.Fatal(err)
	}
	sw := &sweep{Sweeper: &Sweeper{notifiers: notifiers, cfg: &config.Config{Routing: routing}, log: slog.New(slog.DiscardHandler)},
		targets: []probe.Target{target}, next: []state.TargetState{{ID: target.ID()}}}
	at := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	var events []state.Event
	for i, k := range []state.Kind{state.KindFlapResolved, state.KindDown, state.KindCertWarning} {
		// IDs that sort against the order the events happened in.
		events = append(events, state.Event{ID: strings.Repeat("f", 3-i), Kind: k, TargetID: target.ID()})
	}
	// Through a real store: the order is what Save hands delivery.
	st, err := state.NewFileStore(filepath.Join(t.TempDir(), "state.json"), state.FileOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	lease, err := st.Lock(ctx, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := st.Save(ctx, lease, state.SaveRequest{Enqueue: sw.routeEvents(events, at)})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range saved.Outbox {
		kinds = append(kinds, string(e.Event.Kind))
	}
	if strings.Join(kinds, " ") != "flap_resolved down cert_warning" {
		t.Fatalf("outbox order %v; want the order the events happened in", kinds)
	}
}
