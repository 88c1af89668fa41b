package state

import (
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/probe"
)

// slowSpec is an http monitor's spec with warn_latency 300ms and an alert
// threshold of 2.
var slowSpec = &probe.Spec{
	Alert: probe.AlertSpec{Threshold: 2, NotifyRecovery: true},
	HTTP:  &probe.HTTPSpec{WarnLatency: 300 * time.Millisecond},
}

func TestDegradedIsRaisedAtTheThresholdAndResolvedOnce(t *testing.T) {
	tests := []struct {
		name  string
		steps []string // fast, slow, down
		want  []string // each sweep's events
	}{
		{"two slow answers in a row raise degraded once", []string{"slow", "slow", "slow", "slow"},
			[]string{"", "degraded", "", ""}},
		{"the first fast answer resolves it", []string{"slow", "slow", "fast", "fast"},
			[]string{"", "degraded", "degraded_resolved", ""}},
		{"one slow answer between fast ones raises nothing", []string{"fast", "slow", "fast", "slow", "fast"},
			[]string{"", "", "", "", ""}},
		{"a failure breaks the run before the threshold", []string{"slow", "down", "slow", "fast"},
			[]string{"", "", "", ""}},
		{"a failure keeps the latch; a fast answer after it resolves", []string{"slow", "slow", "down", "down", "fast"},
			[]string{"", "degraded", "", "down", "recovered degraded_resolved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prev []TargetState
			for i, st := range tt.steps {
				r := probe.Result{Target: probe.Target{Check: probe.HTTP, Address: "https://example.com/", Spec: slowSpec}, Attempts: 1, Status: probe.StatusUp, Latency: 100 * time.Millisecond}
				switch st {
				case "slow":
					r.Latency, r.Degraded = 412*time.Millisecond, true
				case "down":
					r.Status, r.Error = probe.StatusDown, "status 503"
				}
				now := t0.Add(time.Duration(i) * time.Minute)
				next, events := Apply(prev, []probe.Result{r}, now, noBackoff())
				var kinds []string
				for _, e := range events {
					kinds = append(kinds, string(e.Kind))
					if e.Kind == KindDegraded && e.Message != "latency 412ms above warn_latency 300ms, 2 in a row" {
						t.Errorf("degraded message %q", e.Message)
					}
				}
				if got := strings.Join(kinds, " "); got != tt.want[i] {
					t.Errorf("sweep %d (%s): events %q, want %q", i+1, st, got, tt.want[i])
				}
				prev = next
			}
		})
	}
}

func TestDegradedAndItsResolutionShareAnIncidentID(t *testing.T) {
	var prev []TargetState
	var ids []string
	for i, slow := range []bool{true, true, false} {
		r := probe.Result{Target: probe.Target{Check: probe.HTTP, Address: "https://example.com/", Spec: slowSpec},
			Attempts: 1, Status: probe.StatusUp, Latency: 100 * time.Millisecond, Degraded: slow}
		next, events := Apply(prev, []probe.Result{r}, t0.Add(time.Duration(i)*time.Minute), noBackoff())
		for _, e := range events {
			ids = append(ids, e.Since.Format(time.RFC3339))
			if e.Kind == KindDegradedResolved && e.Duration != 2*time.Minute {
				t.Errorf("degraded for %s, want 2m (since the first slow answer)", e.Duration)
			}
		}
		prev = next
	}
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] != t0.Format(time.RFC3339) {
		t.Errorf("degraded and degraded_resolved since %v, want both the first slow answer's time", ids)
	}
}

func TestAMonitorsOwnThresholdAndRecoverySettingApply(t *testing.T) {
	quiet := &probe.Spec{Alert: probe.AlertSpec{Threshold: 1, NotifyRecovery: false}}
	patient := &probe.Spec{Alert: probe.AlertSpec{Threshold: 4, NotifyRecovery: true}}
	targets := []probe.Target{
		{Check: probe.HTTP, Address: "https://pay.example.com/", Spec: quiet},
		{Check: probe.HTTP, Address: "https://blog.example.com/", Spec: patient},
		{Check: probe.HTTP, Address: "https://env.example.com/"}, // the policy's 3
	}
	var prev []TargetState
	var got []string
	for i, status := range []probe.Status{probe.StatusDown, probe.StatusDown, probe.StatusDown, probe.StatusDown, probe.StatusUp} {
		rs := make([]probe.Result, len(targets))
		for j, tg := range targets {
			rs[j] = probe.Result{Target: tg, Status: status, Attempts: 1, Error: "x"}
		}
		next, events := Apply(prev, rs, t0.Add(time.Duration(i)*time.Minute), noBackoff())
		for _, e := range events {
			got = append(got, e.Target+" "+string(e.Kind)+" @"+string(rune('1'+i)))
		}
		prev = next
	}
	want := []string{
		"https://pay.example.com/ down @1",
		"https://env.example.com/ down @3",
		"https://blog.example.com/ down @4",
		"https://blog.example.com/ recovered @5",
		"https://env.example.com/ recovered @5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant (pay pages at once and recovers quietly, the blog after four):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestACustomIDKeepsItsStateWhenTheTargetChanges(t *testing.T) {
	first := probe.Target{Check: probe.HTTP, Address: "https://old.example.com/", CustomID: "login"}
	next, _ := Apply(nil, []probe.Result{{Target: first, Status: probe.StatusDown, Attempts: 1}}, t0, noBackoff())
	moved := probe.Target{Check: probe.HTTP, Address: "https://new.example.com/", CustomID: "login"}
	next, _ = Apply(next, []probe.Result{{Target: moved, Status: probe.StatusDown, Attempts: 1}}, t0.Add(time.Minute), noBackoff())
	s := next[0]
	if s.ID != "login" || s.Target != "https://new.example.com/" || s.ConsecutiveFailures != 2 {
		t.Errorf("state %s %s with %d failures, want login, the new target, 2 failures", s.ID, s.Target, s.ConsecutiveFailures)
	}
	other := probe.Target{Check: probe.HTTP, Address: "https://new.example.com/", CustomID: "signup"}
	next, _ = Apply(next, []probe.Result{{Target: other, Status: probe.StatusDown, Attempts: 1}}, t0.Add(2*time.Minute), noBackoff())
	if next[0].ID != "signup" || next[0].ConsecutiveFailures != 1 {
		t.Errorf("another ID took over login's state: %s with %d failures", next[0].ID, next[0].ConsecutiveFailures)
	}
}

func TestDueEvery(t *testing.T) {
	last := t0
	tests := []struct {
		name  string
		every time.Duration
		last  time.Time
		now   time.Time
		due   bool
		note  string
	}{
		{"never probed", 5 * time.Minute, time.Time{}, t0, true, ""},
		{"no every", 0, last, t0.Add(time.Second), true, ""},
		{"a minute after", 5 * time.Minute, last, t0.Add(time.Minute), false, "not due until 2026-11-24T03:05:00Z"},
		{"at every", 5 * time.Minute, last, t0.Add(5 * time.Minute), true, ""},
		{"a tenth early is forgiven", 5 * time.Minute, last, t0.Add(4*time.Minute + 31*time.Second), true, ""},
		{"more than a tenth early is not", 5 * time.Minute, last, t0.Add(4*time.Minute + 29*time.Second), false, "not due until 2026-11-24T03:05:00Z"},
		{"at most 30 s is forgiven", time.Hour, last, t0.Add(59*time.Minute + 29*time.Second), false, "not due until 2026-11-24T04:00:00Z"},
		{"a last probe in the future (clock went back) is due", 5 * time.Minute, t0.Add(time.Hour), t0, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			due, note := DueEvery(&TargetState{LastProbeAt: tt.last}, tt.every, tt.now)
			if due != tt.due || note != tt.note {
				t.Errorf("DueEvery = %v %q, want %v %q", due, note, tt.due, tt.note)
			}
		})
	}
}

func TestTheDegradedTailRoundTripsAndOldRecordsReadWithoutIt(t *testing.T) {
	s := TargetState{V: Version, ID: "tcp:db.example.com:5432", Check: "tcp", Target: "db.example.com:5432", Status: Up,
		Circuit: Closed, ConsecutiveDegraded: 3, Degraded: true, DegradedSince: t0}
	b, err := Encode(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if got.ConsecutiveDegraded != 3 || !got.Degraded || !got.DegradedSince.Equal(t0) || got.Check != "tcp" {
		t.Errorf("round trip lost the degraded run: %+v", got)
	}
	s.ConsecutiveDegraded, s.Degraded, s.DegradedSince = 0, false, time.Time{}
	plain, _ := Encode(s)
	if strings.Count(string(plain), ",") >= strings.Count(string(b), ",") {
		t.Errorf("a target never degraded still writes the tail: %s", plain)
	}
}

func TestNotifyRecoveryFalseSilencesDegradedResolvedToo(t *testing.T) {
	quiet := &probe.Spec{Alert: probe.AlertSpec{Threshold: 1, NotifyRecovery: false}, HTTP: &probe.HTTPSpec{WarnLatency: time.Millisecond}}
	var prev []TargetState
	var kinds []string
	for i, slow := range []bool{true, false} {
		r := probe.Result{Target: probe.Target{Check: probe.HTTP, Address: "https://example.com/", Spec: quiet},
			Attempts: 1, Status: probe.StatusUp, Latency: 5 * time.Millisecond, Degraded: slow}
		next, events := Apply(prev, []probe.Result{r}, t0.Add(time.Duration(i)*time.Minute), noBackoff())
		for _, e := range events {
			kinds = append(kinds, string(e.Kind))
		}
		prev = next
	}
	if strings.Join(kinds, " ") != "degraded" || prev[0].Degraded {
		t.Errorf("events %v, latch %v; want degraded alone, the latch cleared quietly", kinds, prev[0].Degraded)
	}
}
