package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/alert/alerttest"
	"github.com/pingpanda/pingpanda/cmd/pingpanda/report"
)

// tcpRelay listens on a loopback port and joins every connection to the
// backend of the moment: a real server the test can swap for another
// without the channel's URL changing.
type tcpRelay struct {
	ln      net.Listener
	backend atomic.Value // string, host:port
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn // every connection, closed when the test ends
}

// track keeps c to close when the test ends: the sweeps' HTTP client keeps
// idle connections open across sweeps (they run in this process).
func (r *tcpRelay) track(c net.Conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conns = append(r.conns, c)
}

// startRelay listens on addr ("127.0.0.1:0" for any port) until the test
// ends.
func startRelay(t *testing.T, addr, backend string) *tcpRelay {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &tcpRelay{ln: ln}
	r.backend.Store(backend)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer c.Close()
				r.track(c)
				b, err := net.DialTimeout("tcp", r.backend.Load().(string), 2*time.Second)
				if err != nil {
					return
				}
				defer b.Close()
				r.track(b)
				done := make(chan struct{}, 2)
				go func() { io.Copy(b, c); done <- struct{}{} }()
				go func() { io.Copy(c, b); done <- struct{}{} }()
				<-done
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		for _, c := range r.conns {
			c.Close()
		}
		r.mu.Unlock()
		r.wg.Wait()
	})
	return r
}

func (r *tcpRelay) Addr() string { return r.ln.Addr().String() }

// channelFault is one failing channel: its line under channels:, and how
// to heal it and count what reached it.
type channelFault struct {
	channel string // its line under channels:, named "failing"
	env     []string
	heal    func()
	// between, when set, changes how it fails before the second sweep.
	between func()
	// arrived checks what the healed server got, once two sweeps have
	// passed since it healed: the down, once. It returns the figures for
	// the FAULT line.
	arrived func(t *testing.T, w *channelWorld, since time.Time) string
}

// TestFaultChannels makes one channel's server fail for two sweeps while
// a down alert is due for it and for a webhook: the webhook gets the
// alert in the first sweep, unaffected; the failing channel's copy waits
// in the outbox (the report's alerts.pending, `pingpanda status`); once
// the server is back it arrives, exactly once.
func TestFaultChannels(t *testing.T) {
	tests := []struct {
		class string
		setup func(t *testing.T) channelFault
	}{
		{"pagerduty-429-then-500", func(t *testing.T) channelFault {
			pd, srv := startPagerDuty(t)
			var refused, phase atomic.Int32
			pd.setAnswer(func(w http.ResponseWriter, body []byte) bool {
				refused.Add(1)
				switch phase.Load() {
				case 0:
					w.WriteHeader(http.StatusTooManyRequests)
					w.Write([]byte(`{"status":"throttle event","message":"Requests for this service are arriving too quickly.  Please retry later."}`))
				default:
					w.WriteHeader(http.StatusInternalServerError)
				}
				return true
			})
			return channelFault{
				channel: `{type: pagerduty, routing_key: "` + pdRoutingKey + `", url: "` + srv.URL + `/v2/enqueue"}`,
				between: func() { phase.Store(1) }, // "for a while": the second sweep meets a 500
				heal:    func() { pd.setAnswer(nil) },
				arrived: func(t *testing.T, w *channelWorld, since time.Time) string {
					got := pd.take()
					if len(got) != 1 || got[0].EventAction != "trigger" || got[0].DedupKey == "" {
						t.Fatalf("PagerDuty accepted %+v; want one trigger", got)
					}
					return fmt.Sprintf("%d requests refused (429, then 500), then 1 trigger accepted, dedup_key %s", refused.Load(), got[0].DedupKey)
				},
			}
		}},
		{"alertmanager-down", func(t *testing.T) channelFault {
			am := alerttest.StartAlertmanager(t)
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t))) // nothing listens: connection refused
			return channelFault{
				channel: `{type: alertmanager, url: "http://` + addr + `"}`,
				heal:    func() { startRelay(t, addr, am.Addr) },
				arrived: func(t *testing.T, w *channelWorld, since time.Time) string {
					alerts := am.Alerts(t)
					if len(alerts) != 1 || alerts[0].Labels["alertname"] != "PingPandaTargetDown" {
						t.Fatalf("Alertmanager holds %+v; want one PingPandaTargetDown", alerts)
					}
					if !alerts[0].StartsAt.Equal(since) {
						t.Fatalf("startsAt %v; want the incident's start %v, not the delivery's", alerts[0].StartsAt, since)
					}
					return "connection refused for 2 sweeps, then 1 alert in Alertmanager with startsAt = the incident's start"
				},
			}
		}},
		{"smtp-451", func(t *testing.T) channelFault {
			opts := alerttest.SMTPOptions{TLS: "starttls", User: "pp", Password: "smtp-pass"}
			good := alerttest.StartSMTP(t, opts)
			opts.DataReply = "451 4.3.0 try again later"
			refusing := alerttest.StartSMTP(t, opts)
			ca := filepath.Join(t.TempDir(), "ca.pem")
			if err := os.WriteFile(ca, append(slices.Clone(good.RootCAsPEM), refusing.RootCAsPEM...), 0o644); err != nil {
				t.Fatal(err)
			}
			relay := startRelay(t, "127.0.0.1:0", refusing.Addr)
			return channelFault{
				channel: `{type: email, smtp: "smtp://pp:smtp-pass@` + relay.Addr() + `", from: "pp@example.com", to: ["ops@example.com"]}`,
				env:     []string{"SSL_CA_FILE=" + ca},
				heal:    func() { relay.backend.Store(good.Addr) },
				arrived: func(t *testing.T, w *channelWorld, since time.Time) string {
					msgs := good.Messages(t)
					if len(msgs) != 1 {
						t.Fatalf("the mail server accepted %d messages; want 1", len(msgs))
					}
					m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
					if err != nil {
						t.Fatal(err)
					}
					id := m.Header.Get("Message-Id")
					if id == "" {
						t.Fatal("the mail has no Message-ID")
					}
					return "451 to DATA for 2 sweeps, then 1 message accepted, Message-ID " + id
				},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.class, func(t *testing.T) {
			f := fault(t, tt.class)
			cf := tt.setup(t)
			hook, hs := startEventHook(t)
			w := newChannelWorld(t, time.Now().UTC().Add(-10*time.Minute).Truncate(time.Second), fmt.Sprintf(`channels:
  failing: %s
  hook:    {type: webhook, url: "%s/hook"}
monitors:
  - {name: shop, check: http, target: "TARGET/shop", labels: {team: web}}
`, cf.channel, hs.URL), append([]string{"NOTIFICATION_RETRY_ATTEMPTS=2"}, cf.env...)...)
			// The clock is the wall clock's recent past: Alertmanager
			// takes alerts by its own clock, and the test mail server's
			// certificate is valid for an hour around now.
			w.down(true)
			start := time.Now()
			rep, _, log := w.sweep(t, "--timeout", "5s")
			took := time.Since(start)
			if got := hook.take(); len(got) != 1 || got[0] != "down" {
				t.Fatalf("the webhook received %v in the failing sweep; want the down:\n%s", got, log)
			}
			if rep.Alerts.Delivered != 1 || rep.Alerts.Pending != 1 || rep.Alerts.Tally("failing").Pending != 1 || rep.Alerts.Tally("hook").Delivered != 1 {
				t.Fatalf("alerts %+v; want the webhook's delivered, the failing channel's pending", rep.Alerts)
			}
			since, err := time.Parse(time.RFC3339Nano, rep.Events[0].Since)
			if err != nil {
				t.Fatal(err)
			}
			if cf.between != nil {
				cf.between()
			}
			rep, _, _ = w.sweep(t, "--timeout", "5s")
			if rep.Alerts.Pending != 1 || len(hook.take()) != 0 {
				t.Fatalf("second failing sweep: alerts %+v; want the alert still pending, nothing new to the webhook", rep.Alerts)
			}
			if text, _ := w.cli(t, "status"); !strings.Contains(text, "failing: 1 pending") || strings.Contains(text, "not configured") {
				t.Errorf("pingpanda status should show the alert pending for the configured channel:\n%s", text)
			}
			out, _ := w.cli(t, "status", "--json")
			var st struct {
				Channels []report.StatusChannel `json:"channels"`
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			i := slices.IndexFunc(st.Channels, func(c report.StatusChannel) bool { return c.Provider == "failing" })
			if i < 0 || st.Channels[i].Pending != 1 || !st.Channels[i].Configured || st.Channels[i].LastError == "" {
				t.Errorf("status --json channels %+v; want failing configured, 1 pending, its last error", st.Channels)
			}
			cf.heal()
			rep, _, _ = w.sweep(t)
			if rep.Alerts.Pending != 0 || rep.Alerts.Tally("failing").Delivered != 1 {
				t.Fatalf("after the server came back: alerts %+v; want the queued alert delivered", rep.Alerts)
			}
			w.sweep(t)
			if got := hook.take(); len(got) != 0 {
				t.Fatalf("the webhook received %v again", got)
			}
			if ids := hook.ids(); len(ids) != 1 {
				t.Fatalf("the webhook accepted event IDs %v; want one", ids)
			}
			detail := cf.arrived(t, w, since)
			f.set("webhook got the down in the failing sweep (%v), 1 pending for 2 sweeps, then %s", took.Round(10*time.Millisecond), detail)
		})
	}
}
