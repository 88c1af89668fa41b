package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/redistest"
)

// TestTimeDependentPathsFollowTheSweepsClockNotTheWallClock runs the paths
// that judge time (the outbox's age limit, reminders, the lease, the
// retention of targets no longer configured) with a sweep clock years
// ahead of and behind the wall clock, on both stores. Each reads the
// sweep's clock alone: were any to read the wall clock, an alert would be
// dropped as expired (clock behind) or kept past its age (clock ahead), or
// a record would be forgotten too early or never.
func TestTimeDependentPathsFollowTheSweepsClockNotTheWallClock(t *testing.T) {
	wall := time.Now().UTC().Truncate(time.Minute)
	bases := []struct {
		name string
		at   time.Time
	}{
		{"ten years behind the wall clock", wall.AddDate(-10, 0, 0)},
		{"ten years ahead of the wall clock", wall.AddDate(10, 0, 0)},
		{"in the year 2100", time.Date(2100, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	stores := []string{"file", "redis"}
	for _, store := range stores {
		for _, base := range bases {
			t.Run(store+", "+base.name, func(t *testing.T) {
				extra := []string{"ALERT_THRESHOLD=1", "REALERT_INTERVAL_SECONDS=3600",
					"OUTBOX_MAX_AGE_SECONDS=86400", "STATE_RETENTION_SECONDS=172800", "NOTIFICATION_RETRY_ATTEMPTS=1"}
				if store == "redis" {
					extra = append(extra, "REDIS_URL="+redistest.Start(t, redistest.Options{}).URL())
				}
				w := newAlertWorld(t, extra...)
				w.clock = base.at
				checkClockPaths(t, w)
			})
		}
	}
}

func checkClockPaths(t *testing.T, w *alertWorld) {
	refuse := func() int { return http.StatusServiceUnavailable }
	sweepAt := func(at time.Time, env ...string) sweepReport {
		t.Helper()
		w.clock = at
		saved := w.env
		w.env = append(w.env[:len(w.env):len(w.env)], env...)
		defer func() { w.env = saved }()
		rep, log := w.sweep(t)
		if strings.Contains(log, "lease") && strings.Contains(log, "lost") {
			t.Fatalf("the lease was judged by another clock:\n%s", log)
		}
		return rep
	}
	start := w.clock

	// An outage while the webhooks refuse: its alert waits in the outbox.
	w.down(true)
	w.slack.status, w.teams.status, w.discord.status = refuse, refuse, refuse
	rep := sweepAt(start)
	if rep.Alerts.Pending != 3 || rep.Alerts.Dropped != 0 {
		t.Fatalf("at %s: alerts %+v; want the down alert pending for three providers", start, rep.Alerts)
	}
	// Twenty-three hours on by the sweep's clock, within the age limit:
	// delivered, not dropped as expired.
	w.slack.status, w.teams.status, w.discord.status = nil, nil, nil
	rep = sweepAt(start.Add(23 * time.Hour))
	if rep.Alerts.Dropped != 0 || len(w.slack.delivered()) == 0 {
		t.Fatalf("at +23h: alerts %+v; the queued alert must be delivered, not dropped", rep.Alerts)
	}
	// A reminder is due an hour after the last announcement.
	rep = sweepAt(start.Add(24*time.Hour + time.Minute))
	if !hasEvent(rep, "reminder") {
		t.Errorf("at +24h01m: events %+v; want a reminder (REALERT_INTERVAL_SECONDS=3600)", rep.Events)
	}
	w.slack.delivered()

	// A recovery the webhooks refuse, then the clock passes its age limit:
	// dropped as expired by the sweep's clock.
	w.down(false)
	w.slack.status, w.teams.status, w.discord.status = refuse, refuse, refuse
	rep = sweepAt(start.Add(25 * time.Hour))
	if !hasEvent(rep, "recovered") || rep.Alerts.Pending == 0 {
		t.Fatalf("at +25h: events %+v alerts %+v; want a recovery pending", rep.Events, rep.Alerts)
	}
	rep = sweepAt(start.Add(50 * time.Hour))
	if rep.Alerts.Dropped != 1 || rep.Alerts.Tally("slack").Dropped != 1 {
		t.Errorf("at +50h: alerts %+v; the recovery queued 25 hours ago must be dropped (OUTBOX_MAX_AGE_SECONDS=86400)", rep.Alerts)
	}

	// Retention: a target dropped from the configuration is remembered for
	// STATE_RETENTION_SECONDS of the sweep's clock, then forgotten.
	gone := w.env
	w.env = nil
	for _, kv := range gone {
		if strings.HasPrefix(kv, "CHECK_WEBSITE=") {
			kv += ",http://127.0.0.1:1/other"
		}
		w.env = append(w.env, kv)
	}
	sweepAt(start.Add(51 * time.Hour))
	w.env = gone
	remembered := func(at time.Time) bool {
		t.Helper()
		code, out, errOut := runCLIAt(t, func() time.Time { return at }, w.env, "status")
		if code != exitOK {
			t.Fatalf("status exit %d: %s", code, errOut)
		}
		return strings.Contains(out, "127.0.0.1:1/other")
	}
	sweepAt(start.Add(52 * time.Hour))
	if !remembered(start.Add(52 * time.Hour)) {
		t.Errorf("at +52h a target unconfigured an hour ago is already forgotten")
	}
	sweepAt(start.Add(100 * time.Hour))
	if remembered(start.Add(100 * time.Hour)) {
		t.Errorf("at +100h a target unconfigured 49 hours ago is still remembered (STATE_RETENTION_SECONDS=172800)")
	}
}

func hasEvent(rep sweepReport, kind string) bool {
	for _, e := range rep.Events {
		if e.Kind == kind {
			return true
		}
	}
	return false
}
