package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFaultWebhooks makes the webhook misbehave while a down alert is due,
// then heals it: the sweep ends by its deadline with exit 0, the alert
// waits in the outbox, and the next sweep delivers it once, under the
// same event ID.
func TestFaultWebhooks(t *testing.T) {
	const timeout = 3 * time.Second
	tests := []struct {
		class string
		mode  func(w http.ResponseWriter, r *http.Request) bool
		// late: the webhook took the alert although the sender gave up,
		// so the next sweep's copy is a second delivery of the same ID.
		late bool
	}{
		{class: "webhook-500", mode: func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusInternalServerError)
			return false
		}},
		{class: "webhook-429", mode: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return false
		}},
		{class: "webhook-hangs", mode: func(w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done()
			return false
		}},
		{class: "webhook-resets-connection", mode: func(w http.ResponseWriter, r *http.Request) bool {
			c, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				c.(*net.TCPConn).SetLinger(0) // close with RST
				c.Close()
			}
			return false
		}},
		{class: "webhook-answers-after-deadline", late: true, mode: func(w http.ResponseWriter, r *http.Request) bool {
			<-r.Context().Done() // the sender gave up; the provider posts the message all the same
			return true
		}},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			f := fault(t, tt.class)
			w := newFaultWorld(t, "STATE_FILE="+t.TempDir()+"/state.json", "ALERT_THRESHOLD=1", "NOTIFICATION_RETRY_ATTEMPTS=2")
			w.hook.setMode(tt.mode)
			w.down.Store(true)
			start := time.Now()
			rep, _ := w.mustSweep(t, exitOK, nil, "--timeout", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
			took := time.Since(start)
			if took > timeout+500*time.Millisecond {
				t.Fatalf("the sweep took %v with --timeout %v", took, timeout)
			}
			if rep.Alerts.Pending != 1 || rep.Alerts.Delivered != 0 {
				t.Fatalf("alerts %+v; want the alert pending in the outbox", rep.Alerts)
			}
			w.hook.setMode(nil)
			rep, _ = w.mustSweep(t, exitOK, nil)
			if rep.Alerts.Delivered != 1 || rep.Alerts.Pending != 0 {
				t.Fatalf("after the webhook healed: alerts %+v; want the queued alert delivered", rep.Alerts)
			}
			w.mustSweep(t, exitOK, nil)
			seen, accepted, distinct := w.hook.counts()
			want := 1
			if tt.late {
				want = 2
			}
			if distinct != 1 || accepted != want {
				t.Fatalf("%d deliveries of %d event IDs (%d requests); want %d of one event ID", accepted, distinct, seen, want)
			}
			f.set("exit 0 in %v (deadline %v), alert pending then delivered: %d requests, %d accepted, 1 event ID",
				took.Round(10*time.Millisecond), timeout, seen, accepted)
		})
	}
}

// TestFaultPushgateway points the sweep at a Pushgateway that is down, or
// that refuses the push with 400: the sweep still saves and alerts, exits
// 0, and reports the failed push without its password.
func TestFaultPushgateway(t *testing.T) {
	refuses := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte("pushed metrics are invalid or inconsistent with existing metrics: hunter2"))
	}))
	t.Cleanup(refuses.Close)
	for _, tt := range []struct {
		class, url string
	}{
		{"pushgateway-down", "http://pp:hunter2@127.0.0.1:" + strconv.Itoa(freePort(t))},
		{"pushgateway-400", strings.Replace(refuses.URL, "http://", "http://pp:hunter2@", 1)},
	} {
		t.Run(tt.class, func(t *testing.T) {
			f := fault(t, tt.class)
			w := newFaultWorld(t, "STATE_FILE="+t.TempDir()+"/state.json", "ALERT_THRESHOLD=1", "PUSHGATEWAY_URL="+tt.url)
			w.down.Store(true)
			start := time.Now()
			code, rep, log := w.sweep(t, nil, "--timeout", "3s")
			took := time.Since(start)
			if code != exitOK || rep.Alerts.Delivered != 1 {
				t.Fatalf("exit %d, alerts %+v; want 0 and the alert delivered:\n%s", code, rep.Alerts, log)
			}
			if !rep.PushFailed || !strings.Contains(rep.PushError, "PUSHGATEWAY_URL") {
				t.Fatalf("the report should say the push failed: %v %q", rep.PushFailed, rep.PushError)
			}
			if _, out, _ := runCLI(t, w.env, "status", "--json"); !strings.Contains(out, `"checks": 1`) {
				t.Fatalf("the state should be saved:\n%s", out)
			}
			if _, accepted, _ := w.hook.counts(); accepted != 1 {
				t.Fatalf("%d alerts, want 1", accepted)
			}
			f.set("exit 0 in %v, state saved, 1 alert, push failure reported", took.Round(10*time.Millisecond))
		})
	}
}
