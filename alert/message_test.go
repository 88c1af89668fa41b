package alert

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state"
)

// fixedAt is the instant every test event happens at, so that goldens are
// stable.
var fixedAt = time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)

// alertKinds are the kinds announced to people (Kind.Alert() is true).
var alertKinds = []state.Kind{
	state.KindDown, state.KindReminder, state.KindRecovered,
	state.KindFlapping, state.KindFlapResolved,
	state.KindCertWarning, state.KindCertCritical, state.KindCertExpired, state.KindCertOK,
	state.KindDegraded, state.KindDegradedResolved,
}

// testEvent is a realistic event of kind, at fixedAt, with a fixed ID.
func testEvent(kind state.Kind) state.Event {
	e := state.Event{
		ID:       "0123456789abcdef01234567",
		Kind:     kind,
		TargetID: "http:https://shop.example.com/health",
		Check:    "http",
		Target:   "https://shop.example.com/health",
		Name:     "Shop",
		At:       fixedAt,
		Since:    fixedAt,
	}
	switch kind {
	case state.KindDown:
		e.Since = fixedAt.Add(-3 * time.Minute)
		e.Message = "HTTP 503 Service Unavailable"
	case state.KindReminder:
		e.Since = fixedAt.Add(-(2*time.Hour + 5*time.Minute))
		e.Message = "HTTP 503 Service Unavailable"
		e.Duration = 2*time.Hour + 5*time.Minute
	case state.KindRecovered:
		e.Since = fixedAt.Add(-4 * time.Minute)
		e.Duration = 4 * time.Minute
	case state.KindFlapping:
		e.Message = "5 status changes in 5m0s"
	case state.KindFlapResolved:
		e.Since = fixedAt.Add(-(12*time.Minute + 30*time.Second))
		e.Message = "2 status changes in 5m0s"
	case state.KindDegraded:
		e.Since = fixedAt.Add(-10 * time.Minute)
		e.Message = "latency 412ms above warn_latency 300ms, 3 in a row"
	case state.KindDegradedResolved:
		e.Since = fixedAt.Add(-(25*time.Minute + 10*time.Second))
		e.Duration = 25*time.Minute + 10*time.Second
		e.Message = "latency 120ms is back under warn_latency 300ms"
	case state.KindCertWarning, state.KindCertCritical, state.KindCertExpired, state.KindCertOK:
		days := map[state.Kind]float64{
			state.KindCertWarning:  21.5,
			state.KindCertCritical: 3.25,
			state.KindCertExpired:  -2,
			state.KindCertOK:       89.75,
		}[kind]
		notAfter := fixedAt.Add(time.Duration(days * float64(24*time.Hour)))
		e.TargetID, e.Check, e.Target, e.Name = "tls:example.com:443", "tls", "example.com:443", ""
		e.CertLevel = strings.TrimPrefix(string(kind), "cert_")
		e.DaysLeft = days
		e.Message = state.CertExpiryMessage(notAfter, days)
	}
	return e
}

func TestNewMessage(t *testing.T) {
	tests := []struct {
		kind      state.Kind
		title     string
		severity  Severity
		status    string
		bodyHas   []string
		bodyLacks []string
	}{
		{state.KindDown, "PingPanda: 🔴 HTTP check for Shop (https://shop.example.com/health)", SeverityDanger, "DOWN",
			[]string{"Host: prober-1", "Time: 2026-11-24T03:00:00Z", "Status: DOWN", "Message: HTTP 503 Service Unavailable", "Down since: 2026-11-24T02:57:00Z"}, []string{"Outage"}},
		{state.KindReminder, "PingPanda: 🔴 HTTP check for Shop (https://shop.example.com/health)", SeverityDanger, "STILL DOWN",
			[]string{"Status: STILL DOWN", "Down for: 2 h 5 min", "Down since: 2026-11-24T00:55:00Z"}, nil},
		{state.KindRecovered, "PingPanda: ✅ HTTP check for Shop (https://shop.example.com/health)", SeverityGood, "RECOVERED",
			[]string{"Status: RECOVERED", "Outage: 4 min", "Down since: 2026-11-24T02:56:00Z"}, []string{"Message:"}},
		{state.KindFlapping, "PingPanda: ⚠️ HTTP check for Shop (https://shop.example.com/health)", SeverityWarning, "FLAPPING",
			[]string{"Message: 5 status changes in 5m0s"}, nil},
		{state.KindFlapResolved, "PingPanda: ✅ HTTP check for Shop (https://shop.example.com/health)", SeverityGood, "STABLE",
			[]string{"Flapped for: 12 min 30 s"}, nil},
		{state.KindCertWarning, "PingPanda: ⚠️ TLS check for example.com:443", SeverityWarning, "CERTIFICATE EXPIRING",
			[]string{"Days left: 21.5", "Expires: 2026-12-15 15:00 UTC"}, nil},
		{state.KindCertCritical, "PingPanda: 🔴 TLS check for example.com:443", SeverityDanger, "CERTIFICATE EXPIRING SOON",
			[]string{"Days left: 3.2", "Expires: 2026-11-27 09:00 UTC"}, nil},
		{state.KindCertExpired, "PingPanda: 🔴 TLS check for example.com:443", SeverityDanger, "CERTIFICATE EXPIRED",
			[]string{"Message: certificate expired 2.0 days ago (2026-11-22T03:00:00Z)", "Expired: 2026-11-22 03:00 UTC"}, []string{"Days left", "-2.0"}},
		{state.KindCertOK, "PingPanda: ✅ TLS check for example.com:443", SeverityGood, "CERTIFICATE RENEWED",
			[]string{"Days left: 89.8", "Expires: 2027-02-21 21:00 UTC"}, nil},
		{state.KindDegraded, "PingPanda: ⚠️ HTTP check for Shop (https://shop.example.com/health)", SeverityWarning, "DEGRADED",
			[]string{"Status: DEGRADED", "Message: latency 412ms above warn_latency 300ms, 3 in a row", "Degraded since: 2026-11-24T02:50:00Z"},
			[]string{"Degraded for", "Outage", "Down"}},
		{state.KindDegradedResolved, "PingPanda: ✅ HTTP check for Shop (https://shop.example.com/health)", SeverityGood, "LATENCY RECOVERED",
			[]string{"Status: LATENCY RECOVERED", "Message: latency 120ms is back under warn_latency 300ms",
				"Degraded for: 25 min 10 s", "Degraded since: 2026-11-24T02:34:50Z"},
			[]string{"Outage", "Down"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+" reads as a "+string(tt.severity)+" message", func(t *testing.T) {
			m := NewMessage(testEvent(tt.kind), "prober-1")
			if m.Title != tt.title {
				t.Errorf("title = %q, want %q", m.Title, tt.title)
			}
			if m.Severity != tt.severity || m.Status != tt.status {
				t.Errorf("severity, status = %q, %q; want %q, %q", m.Severity, m.Status, tt.severity, tt.status)
			}
			if m.EventID != "0123456789abcdef01234567" || m.Kind != tt.kind || !m.At.Equal(fixedAt) {
				t.Errorf("event ID, kind, at = %q, %q, %v", m.EventID, m.Kind, m.At)
			}
			for _, s := range append(tt.bodyHas, "Event ID: 0123456789abcdef01234567") {
				if !strings.Contains(m.Text, s) {
					t.Errorf("body lacks %q:\n%s", s, m.Text)
				}
			}
			for _, s := range tt.bodyLacks {
				if strings.Contains(m.Text, s) {
					t.Errorf("body has %q:\n%s", s, m.Text)
				}
			}
		})
	}
}

func TestEveryAlertKindHasItsOwnPresentation(t *testing.T) {
	for _, k := range alertKinds {
		if !k.Alert() {
			t.Fatalf("%s is in alertKinds but Kind.Alert() is false", k)
		}
		if _, ok := kindInfo[k]; !ok {
			t.Errorf("kind %s has no severity and status of its own", k)
		}
	}
}

func TestNewMessageCopesWithSparseEvents(t *testing.T) {
	t.Run("an event without a name shows the bare target", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindDown, Check: "dns", Target: "example.com", At: fixedAt}, "")
		if m.Title != "PingPanda: 🔴 DNS check for example.com" {
			t.Errorf("title = %q", m.Title)
		}
		if strings.Contains(m.Text, "Host:") || strings.Contains(m.Text, "Message:") {
			t.Errorf("empty fields are shown:\n%s", m.Text)
		}
	})
	t.Run("a name equal to the target is not repeated", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindDown, Check: "ping", Target: "1.1.1.1", Name: "1.1.1.1", At: fixedAt}, "h")
		if m.Target != "1.1.1.1" || m.Check != "Ping" {
			t.Errorf("target, check = %q, %q", m.Target, m.Check)
		}
	})
	t.Run("a tcp target's check reads TCP", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindDown, Check: "tcp", Target: "db.example.com:5432", At: fixedAt}, "h")
		if m.Title != "PingPanda: 🔴 TCP check for db.example.com:5432" {
			t.Errorf("title = %q", m.Title)
		}
	})
	t.Run("a degraded alert raised by its first slow result has no since line", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindDegraded, Check: "http", Target: "x", At: fixedAt, Since: fixedAt}, "h")
		if strings.Contains(m.Text, "since") {
			t.Errorf("body:\n%s", m.Text)
		}
	})
	t.Run("a latency recovery without a duration measures it from since", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindDegradedResolved, Check: "http", Target: "x", At: fixedAt, Since: fixedAt.Add(-90 * time.Second)}, "h")
		if !strings.Contains(m.Text, "Degraded for: 1 min 30 s") {
			t.Errorf("body:\n%s", m.Text)
		}
	})
	t.Run("a recovery without a duration measures it from since", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindRecovered, Check: "http", Target: "x", At: fixedAt, Since: fixedAt.Add(-62 * time.Minute)}, "h")
		if !strings.Contains(m.Text, "Outage: 1 h 2 min") {
			t.Errorf("body:\n%s", m.Text)
		}
	})
	t.Run("a kind not meant for people still reads as a warning", func(t *testing.T) {
		m := NewMessage(state.Event{Kind: state.KindCircuitOpened, Check: "tls", Target: "x", At: fixedAt}, "h")
		if m.Severity != SeverityWarning || m.Status != "CIRCUIT OPENED" || !strings.HasPrefix(m.Title, "PingPanda: ⚠️ TLS") {
			t.Errorf("message = %+v", m)
		}
	})
	t.Run("the time is shown in UTC whatever the event's zone", func(t *testing.T) {
		at := fixedAt.In(time.FixedZone("X", 5*3600))
		m := NewMessage(state.Event{Kind: state.KindDown, Check: "http", Target: "x", At: at}, "h")
		if !strings.Contains(m.Text, "Time: 2026-11-24T03:00:00Z") || m.At.Location() != time.UTC {
			t.Errorf("body:\n%s", m.Text)
		}
	})
}

func TestHumanDuration(t *testing.T) {
	for _, tt := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0 s"},
		{-time.Minute, "0 s"},
		{900 * time.Millisecond, "0 s"},
		{45 * time.Second, "45 s"},
		{4 * time.Minute, "4 min"},
		{4*time.Minute + 30*time.Second, "4 min 30 s"},
		{time.Hour, "1 h"},
		{time.Hour + 2*time.Minute + 59*time.Second, "1 h 2 min"},
		{time.Hour + 5*time.Second, "1 h"},
		{3*24*time.Hour + 4*time.Hour + 5*time.Minute, "3 d 4 h"},
	} {
		t.Run(tt.in.String()+" reads as "+tt.want, func(t *testing.T) {
			if got := HumanDuration(tt.in); got != tt.want {
				t.Errorf("HumanDuration(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"too long", 5, "too …"},
		{"ünïcödé", 4, "ünï…"},
		{"x", 0, ""},
	} {
		t.Run(fmt.Sprintf("%q cut to %d runes", tt.in, tt.n), func(t *testing.T) {
			if got := truncate(tt.in, tt.n); got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}
