package sweep

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/cmd/pingpanda/config"
	"github.com/pingpanda/pingpanda/state"
)

func TestEventsOfOneSweepKeepTheirOrderInTheOutbox(t *testing.T) {
	sw := &Sweeper{notifiers: newNotifiers(config.Alerts{SlackURL: "https://hooks.slack.test/x"})}
	at := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	var events []state.Event
	for i, k := range []state.Kind{state.KindFlapResolved, state.KindDown, state.KindCertWarning} {
		// IDs that sort against the order the events happened in.
		events = append(events, state.Event{ID: strings.Repeat("f", 3-i), Kind: k})
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
	saved, err := st.Save(ctx, lease, state.SaveRequest{Enqueue: sw.enqueue(events, at)})
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
