package state

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

var t0 = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// fixedClock is a clock that always reads at.
func fixedClock(at time.Time) func() time.Time { return func() time.Time { return at } }

// defaults is the policy the configuration's defaults give.
func defaults() Policy {
	return Policy{
		AlertThreshold: 3, NotifyRecovery: true,
		FlapThreshold: 5, FlapWindow: 300 * time.Second,
		Backoff: true, BackoffMin: 10 * time.Second, BackoffMax: 300 * time.Second,
		BreakerThreshold: 5, BreakerCooldown: 60 * time.Second,
		Retention: 7 * 24 * time.Hour,
	}
}

// noBackoff is defaults without backoff, so every step is probed.
func noBackoff() Policy { p := defaults(); p.Backoff = false; return p }

var testTarget = probe.Target{Check: probe.HTTP, Address: "https://example.com/"}

// step is one sweep: at seconds after t0, the target's result.
type step struct {
	at   float64
	res  string // up, down, skip, unsupported, unstarted, or cert level for a tls up: ok, warning, critical, expired
	want string // the events' kinds, space-separated
}

func result(res string) probe.Result {
	r := probe.Result{Target: testTarget, Attempts: 1, Latency: 20 * time.Millisecond}
	switch res {
	case "up":
		r.Status = probe.StatusUp
	case "down":
		r.Status, r.Error = probe.StatusDown, "status 503 not in success codes 200"
	case "skip":
		r.Status, r.Error, r.Attempts = probe.StatusSkipped, "backing off", 0
	case "unsupported":
		r.Status, r.Error = probe.StatusUnsupported, "icmp not permitted"
	case "unstarted":
		r.Status, r.Error, r.Attempts, r.TimedOut = probe.StatusDown, "sweep deadline reached before the check started", 0, true
	default:
		r.Target = probe.Target{Check: probe.TLS, Address: "example.com:443"}
		r.Status = probe.StatusUp
		days := map[string]float64{"ok": 90, "warning": 20, "critical": 5, "expired": -1}[res]
		r.TLS = &probe.TLSDetail{NotAfter: t0.Add(time.Duration(days * 24 * float64(time.Hour))), DaysLeft: days, Level: probe.CertLevel(res)}
		if res == "expired" {
			r.Status, r.Error = probe.StatusDown, "certificate expired 1.0 days ago"
		}
	}
	return r
}

func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

// play applies the steps in turn, each as its own sweep, checking each
// sweep's events; it returns the final state and every event.
func play(t *testing.T, p Policy, steps []step) (TargetState, []Event) {
	t.Helper()
	var prev []TargetState
	var all []Event
	var last TargetState
	for _, st := range steps {
		r := result(st.res)
		next, events := Apply(prev, []probe.Result{r}, at(st.at), p)
		var kinds []string
		for _, e := range events {
			kinds = append(kinds, string(e.Kind))
		}
		if got := strings.Join(kinds, " "); got != st.want {
			t.Fatalf("at %gs (%s): events %q, want %q", st.at, st.res, got, st.want)
		}
		all = append(all, events...)
		prev = next
		last = next[0]
	}
	return last, all
}

func TestApplyTransitions(t *testing.T) {
	withRealert := noBackoff()
	withRealert.RealertInterval = 60 * time.Second
	noRecovery := noBackoff()
	noRecovery.NotifyRecovery = false
	flappy := noBackoff()
	flappy.AlertThreshold, flappy.FlapThreshold = 1, 3
	noFlap := flappy
	noFlap.FlapThreshold = 0

	tests := []struct {
		name  string
		p     Policy
		steps []step
	}{
		{"a failing target alerts exactly once, at the threshold", noBackoff(), []step{
			{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {45, "down", ""}, {60, "down", ""}, {600, "down", ""},
		}},
		{"a success before the threshold resets the count and alerts nothing", noBackoff(), []step{
			{0, "down", ""}, {15, "down", ""}, {30, "up", ""}, {45, "down", ""}, {60, "down", ""}, {75, "up", ""},
		}},
		{"a target still down is reminded at the interval, once each time", withRealert, []step{
			{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {45, "down", ""}, {89, "down", ""},
			{90, "down", "reminder"}, {100, "down", ""}, {150, "down", "reminder"},
		}},
		{"recovery is announced once, after an outage begun in earlier sweeps", noBackoff(), []step{
			{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {3600, "up", "recovered"}, {3615, "up", ""},
		}},
		{"without NOTIFY_RECOVERY the latch clears silently and the next outage alerts again", noRecovery, []step{
			{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {45, "up", ""},
			{60, "down", ""}, {75, "down", ""}, {90, "down", "down"},
		}},
		{"flapping is announced once, holds alerts back, and ends on a stable target", flappy, []step{
			{0, "down", "down"}, {10, "up", "recovered"}, {20, "down", "down"},
			{30, "up", "flapping"}, {40, "down", ""}, {50, "up", ""}, {60, "up", ""},
			{329, "up", ""}, {331, "up", "flap_resolved recovered"}, {400, "up", ""},
		}},
		{"flapping ends while the target is skipped, and the held-back down follows", flappy, []step{
			{0, "up", ""}, {10, "down", "down"}, {20, "up", "recovered"}, {30, "down", "flapping"},
			{40, "up", ""}, {50, "down", ""}, {400, "skip", "flap_resolved down"}, {415, "down", ""},
		}},
		{"FLAP_THRESHOLD 0 turns flap detection off", noFlap, []step{
			{0, "down", "down"}, {10, "up", "recovered"}, {20, "down", "down"}, {30, "up", "recovered"},
		}},
		{"a certificate warns once, then is critical once, then renewed", noBackoff(), []step{
			{0, "ok", ""}, {60, "ok", ""}, {120, "warning", "cert_warning"}, {180, "warning", ""},
			{240, "critical", "cert_critical"}, {300, "critical", ""}, {360, "ok", "cert_ok"}, {420, "ok", ""},
		}},
		{"a certificate already near expiry at first sight is announced", noBackoff(), []step{
			{0, "warning", "cert_warning"}, {60, "warning", ""},
		}},
		{"an expired certificate is announced once and fails like any check", noBackoff(), []step{
			{0, "ok", ""}, {60, "expired", "cert_expired"}, {120, "expired", ""}, {180, "expired", "down"},
		}},
		{"skipped, unsupported and unstarted checks change nothing", noBackoff(), []step{
			{0, "down", ""}, {15, "skip", ""}, {30, "unsupported", ""}, {45, "unstarted", ""}, {60, "down", ""}, {75, "down", "down"},
		}},
		{"the circuit opens on the 5th failure, and a half-open success closes it", defaults(), []step{
			{0, "down", ""}, {20, "down", ""}, {60, "down", "down"}, {140, "down", ""}, {300, "down", "circuit_opened"},
			{360, "down", "circuit_opened"}, {420, "up", "recovered circuit_closed"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { play(t, tt.p, tt.steps) })
	}
}

func TestCertExpiryMessage(t *testing.T) {
	hours := func(h float64) float64 { return h / 24 }
	tests := []struct {
		name     string
		daysLeft float64
		want     string
	}{
		{"a certificate weeks from expiry expires in days", 21.5, "certificate expires 2026-12-15T15:00:00Z (in 21.5 days)"},
		{"a certificate a day from expiry expires in 1.0 days", 1, "certificate expires 2026-11-25T03:00:00Z (in 1.0 days)"},
		{"a certificate hours from expiry expires in whole hours", hours(5.5), "certificate expires 2026-11-24T08:30:00Z (in 5 hours)"},
		{"a certificate just over an hour from expiry expires in 1 hour", hours(1.5), "certificate expires 2026-11-24T04:30:00Z (in 1 hour)"},
		{"a certificate minutes from expiry expires in less than an hour", hours(0.25), "certificate expires 2026-11-24T03:15:00Z (in less than an hour)"},
		{"zero days left is still valid: it expires in less than an hour", 0, "certificate expires 2026-11-24T03:00:00Z (in less than an hour)"},
		{"a certificate expired minutes ago expired less than an hour ago", -hours(0.25), "certificate expired less than an hour ago (2026-11-24T02:45:00Z)"},
		{"a certificate expired hours ago says how many", -hours(7), "certificate expired 7 hours ago (2026-11-23T20:00:00Z)"},
		{"a certificate expired days ago says how many, never a negative number", -2, "certificate expired 2.0 days ago (2026-11-22T03:00:00Z)"},
		{"a certificate expired long ago says so in days", -400.25, "certificate expired 400.2 days ago (2025-10-19T21:00:00Z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			notAfter := t0.Add(time.Duration(tt.daysLeft * float64(24*time.Hour)))
			if got := CertExpiryMessage(notAfter, tt.daysLeft); got != tt.want {
				t.Errorf("CertExpiryMessage(%s, %v) = %q, want %q", notAfter.Format(time.RFC3339), tt.daysLeft, got, tt.want)
			}
		})
	}
	t.Run("a cert_expired event of Apply reads expired 1.0 days ago", func(t *testing.T) {
		_, events := play(t, noBackoff(), []step{{0, "ok", ""}, {60, "expired", "cert_expired"}})
		if want := "certificate expired 1.0 days ago (2026-11-23T03:00:00Z)"; events[0].Message != want {
			t.Errorf("message %q, want %q", events[0].Message, want)
		}
	})
}

func TestBackoffWaitsDoubleAndTheCircuitOpensAtTheThreshold(t *testing.T) {
	p := defaults()
	var prev []TargetState
	now := t0
	wantWaits := []time.Duration{20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second}
	for i, want := range wantWaits {
		next, _ := Apply(prev, []probe.Result{result("down")}, now, p)
		s := &next[0]
		if got := s.NextProbeAt.Sub(now); got != want || s.Circuit != Closed {
			t.Fatalf("after failure %d: wait %v, circuit %s; want %v, closed", i+1, got, s.Circuit, want)
		}
		if due, why := Due(s, now.Add(want-time.Second), p); due || !strings.Contains(why, "backing off") {
			t.Fatalf("after failure %d: due a second early (%q)", i+1, why)
		}
		if due, _ := Due(s, now.Add(want), p); !due {
			t.Fatalf("after failure %d: not due once the wait passed", i+1)
		}
		prev, now = next, now.Add(want)
	}
	next, events := Apply(prev, []probe.Result{result("down")}, now, p)
	s := &next[0]
	if s.Circuit != Open || len(events) != 1 || events[0].Kind != KindCircuitOpened {
		t.Fatalf("5th failure: circuit %s, events %v; want open", s.Circuit, events)
	}
	if due, why := Due(s, now.Add(59*time.Second), p); due || !strings.HasPrefix(why, "circuit open until ") {
		t.Fatalf("due during the cooldown (%q)", why)
	}
	if due, why := Due(s, now.Add(60*time.Second), p); !due || why != "circuit half-open: one trial probe" {
		t.Fatalf("after the cooldown: due %v (%q); want the half-open probe", due, why)
	}
	// A half-open failure re-opens for another cooldown.
	now = now.Add(60 * time.Second)
	next, _ = Apply(next, []probe.Result{result("down")}, now, p)
	if s := next[0]; s.Circuit != Open || !s.OpenedAt.Equal(now) {
		t.Fatalf("half-open failure: circuit %s opened %v; want re-opened now", s.Circuit, s.OpenedAt)
	}
	// A half-open success closes it and resets the backoff.
	now = now.Add(60 * time.Second)
	next, _ = Apply(next, []probe.Result{result("up")}, now, p)
	if s := next[0]; s.Circuit != Closed || !s.NextProbeAt.IsZero() || s.BackoffMultiplier != 0 || s.ConsecutiveFailures != 0 {
		t.Fatalf("half-open success: %+v; want closed and reset", s)
	}
}

func TestBackoffIsCappedAtTheMaximum(t *testing.T) {
	p := defaults()
	p.BreakerThreshold = 100
	var prev []TargetState
	for i := range 10 {
		prev, _ = Apply(prev, []probe.Result{result("down")}, at(float64(i*1000)), p)
	}
	s := prev[0]
	if got := s.NextProbeAt.Sub(at(9000)); got != 300*time.Second || s.BackoffMultiplier != 32 {
		t.Fatalf("wait %v, multiplier %d; want 300s and 32", got, s.BackoffMultiplier)
	}
}

func TestRecoveryCarriesTheIncidentAndItsDuration(t *testing.T) {
	_, events := play(t, noBackoff(), []step{
		{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {3600, "up", "recovered"},
	})
	down, rec := events[0], events[1]
	if !down.Since.Equal(t0) || !rec.Since.Equal(t0) {
		t.Errorf("down since %v, recovered since %v; both should be the first failure %v", down.Since, rec.Since, t0)
	}
	if rec.Duration != time.Hour {
		t.Errorf("outage duration %v, want 1h", rec.Duration)
	}
	if down.ID == rec.ID || down.ID == "" {
		t.Errorf("ids %q and %q should differ and be set", down.ID, rec.ID)
	}
	if down.Message != "status 503 not in success codes 200" {
		t.Errorf("down message %q", down.Message)
	}
}

func TestEventIDsAreDeterministic(t *testing.T) {
	steps := []step{{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {45, "up", "recovered"}}
	_, a := play(t, noBackoff(), steps)
	_, b := play(t, noBackoff(), steps)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same inputs gave different events:\n%v\n%v", a, b)
	}
	// The same incident seen by a sweep that repeats it (a retried
	// invocation) gets the same ID.
	var prev []TargetState
	for _, sec := range []float64{0, 15} {
		prev, _ = Apply(prev, []probe.Result{result("down")}, at(sec), noBackoff())
	}
	_, e1 := Apply(slices.Clone(prev), []probe.Result{result("down")}, at(30), noBackoff())
	_, e2 := Apply(slices.Clone(prev), []probe.Result{result("down")}, at(31), noBackoff())
	if e1[0].ID != e2[0].ID {
		t.Errorf("the same incident alerted at 30s and 31s got ids %s and %s", e1[0].ID, e2[0].ID)
	}
}

func TestStatsAccumulate(t *testing.T) {
	s, _ := play(t, noBackoff(), []step{
		{0, "up", ""}, {60, "up", ""}, {120, "down", ""}, {180, "down", ""}, {240, "down", "down"}, {300, "up", "recovered"},
	})
	st := s.Stats
	if st.Checks != 6 || st.Failures != 3 || st.DowntimeEvents != 1 {
		t.Errorf("checks %d failures %d downtime events %d; want 6, 3, 1", st.Checks, st.Failures, st.DowntimeEvents)
	}
	// up 0→120 (120 s), down 120→300 (180 s).
	if st.UptimeSeconds != 120 || st.DowntimeSeconds != 180 {
		t.Errorf("uptime %v downtime %v; want 120 and 180", st.UptimeSeconds, st.DowntimeSeconds)
	}
	if got := fmt.Sprintf("%.0f", st.Availability()); got != "40" {
		t.Errorf("availability %s%%, want 40", got)
	}
	if len(st.Outages) != 1 || !st.Outages[0].Start.Equal(at(120)) || !st.Outages[0].End.Equal(at(300)) {
		t.Errorf("outages %v; want one from 120s to 300s", st.Outages)
	}
	if st.LatencyLast != 0.02 || st.LatencyMin != 0.02 || st.LatencyMax != 0.02 {
		t.Errorf("latency %+v", st)
	}
	if s.Status != Up || !s.Since.Equal(at(300)) || s.LastError != "" {
		t.Errorf("status %s since %v, error %q", s.Status, s.Since, s.LastError)
	}
}

func TestClockJumps(t *testing.T) {
	p := noBackoff()
	p.RealertInterval = 60 * time.Second
	t.Run("a clock moving backwards gives no negative durations and no reminder burst", func(t *testing.T) {
		s, events := play(t, p, []step{
			{0, "down", ""}, {15, "down", ""}, {30, "down", "down"},
			{-3600, "down", ""}, {-3590, "down", ""}, {-3530, "down", "reminder"}, {-3500, "up", "recovered"},
		})
		for _, e := range events {
			if e.Duration < 0 {
				t.Errorf("%s has negative duration %v", e.Kind, e.Duration)
			}
		}
		if s.Stats.UptimeSeconds < 0 || s.Stats.DowntimeSeconds < 0 {
			t.Errorf("negative stats %+v", s.Stats)
		}
	})
	t.Run("a clock jumping hours ahead gives one reminder, not one per missed interval", func(t *testing.T) {
		play(t, p, []step{{0, "down", ""}, {15, "down", ""}, {30, "down", "down"}, {30 + 6*3600, "down", "reminder"}, {31 + 6*3600, "down", ""}})
	})
	t.Run("a backoff set before the clock went back does not hold the target for hours", func(t *testing.T) {
		d := defaults()
		next, _ := Apply(nil, []probe.Result{result("down")}, t0, d)
		if due, _ := Due(&next[0], t0.Add(-3*time.Hour), d); !due {
			t.Error("not due after the clock went back 3 h")
		}
	})
}

func TestApplyDoesNotChangeItsInput(t *testing.T) {
	// A target down, with room to spare in its slices: an append that
	// wrote into them would change prev, or one next through another.
	prev, _ := Apply(nil, []probe.Result{result("up")}, t0, noBackoff())
	prev, _ = Apply(prev, []probe.Result{result("down")}, at(60), noBackoff())
	prev[0].StatusChanges = slices.Grow(prev[0].StatusChanges, 8)
	prev[0].Stats.Outages = slices.Grow(prev[0].Stats.Outages, 8)
	before := fmt.Sprintf("%+v", prev)

	a, _ := Apply(prev, []probe.Result{result("up")}, at(120), noBackoff())
	b, _ := Apply(prev, []probe.Result{result("up")}, at(180), noBackoff())
	if after := fmt.Sprintf("%+v", prev); after != before {
		t.Fatalf("Apply changed prev:\n%s\n%s", before, after)
	}
	if o := a[0].Stats.Outages; len(o) != 1 || !o[0].End.Equal(at(120)) {
		t.Errorf("first next's outages %v, want one ending at 120 s (a later Apply wrote into it?)", o)
	}
	if o := b[0].Stats.Outages; len(o) != 1 || !o[0].End.Equal(at(180)) {
		t.Errorf("second next's outages %v, want one ending at 180 s", o)
	}
	if c := a[0].StatusChanges; len(c) != 2 || !c[1].Equal(at(120)) {
		t.Errorf("first next's status changes %v, want the last at 120 s", c)
	}
}

func TestApplyTakesPrevShorterThanResults(t *testing.T) {
	prev, _ := Apply(nil, []probe.Result{result("down")}, t0, defaults())
	other := probe.Result{Target: probe.Target{Check: probe.DNS, Address: "other.example"}, Status: probe.StatusDown, Attempts: 1}
	next, _ := Apply(prev, []probe.Result{result("down"), other}, at(60), defaults())
	if len(next) != 2 || next[0].ConsecutiveFailures != 2 || next[1].ConsecutiveFailures != 1 || next[1].ID != other.Target.ID() {
		t.Fatalf("next: %+v", next)
	}
}

func TestApplyDoesNotCarryAnotherTargetsState(t *testing.T) {
	prev, _ := Apply(nil, []probe.Result{result("down")}, t0, noBackoff())
	other := probe.Target{Check: probe.HTTP, Address: "https://other.example/"}
	next, events := Apply(prev, []probe.Result{{Target: other, Status: probe.StatusUp, Attempts: 1}}, at(60), noBackoff())
	s := next[0]
	if s.ID != other.ID() || s.Stats.Checks != 1 || s.Stats.Failures != 0 || s.Status != Up || len(events) != 0 {
		t.Fatalf("state of %s carried over to %s: %+v, events %v", testTarget.ID(), other.ID(), s, events)
	}
}

func TestEncodeDecodeRoundTripAndVersions(t *testing.T) {
	s, _ := play(t, noBackoff(), []step{{0, "down", ""}, {15, "up", ""}})
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil || !reflect.DeepEqual(got, s) {
		t.Fatalf("round trip: %v\n%+v\n%+v", err, got, s)
	}
}

// FuzzDecode: whatever bytes a record holds, Decode never panics, and a
// state it returns encodes, and reads back as the same state.
func FuzzDecode(f *testing.F) {
	good, _ := Encode(TargetState{ID: "dns:x", Status: Up})
	rich, _ := Encode(richState(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)))
	old := encodeV1(f, richState(time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)))
	for _, s := range []string{string(good), string(rich), string(old), `{"v":1}`, `{"v":1,"status_changes":[1]}`, `[]`, `{"v":"1"}`,
		`[2,"a\u00e9\"","b"]`, `[2,"x"` + strings.Repeat(`,0`, 40) + `]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		e, err := Encode(s)
		if err != nil {
			t.Fatalf("decoded %q but cannot encode it: %v", b, err)
		}
		back, err := Decode(e)
		if err != nil {
			t.Fatalf("decoded %q, encoded it as %q, which does not decode: %v", b, e, err)
		}
		if !reflect.DeepEqual(inUTC(back), inUTC(s)) {
			t.Fatalf("decoded %q as\n%+v\nbut its encoding %q reads back as\n%+v", b, s, e, back)
		}
	})
}
