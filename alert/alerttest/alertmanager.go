// Package alerttest runs the real servers the alert channels deliver to,
// for the integration tests: Prometheus Alertmanager (StartAlertmanager)
// and an SMTP server, aiosmtpd (StartSMTP), each on a free loopback port
// and stopped when the test ends. Without the server installed a test is
// skipped, except where PINGPANDA_CI is set: there a missing server fails
// it (servertest.Need).
package alerttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/servertest"
)

// Alertmanager is a running Alertmanager with one route to a receiver that
// notifies no one, and no cluster (gossip is off).
type Alertmanager struct {
	// Addr is host:port on 127.0.0.1.
	Addr string

	bin, config, storage string

	mu   sync.Mutex
	proc *servertest.Process // nil once killed
}

// alertmanagerBinaries are the names Alertmanager goes by: Debian's,
// upstream's.
var alertmanagerBinaries = []string{"prometheus-alertmanager", "alertmanager"}

// alertmanagerConfig routes every alert to a receiver without
// integrations. The waits are long so that nothing but the API is
// exercised.
const alertmanagerConfig = `route:
  receiver: "null"
  group_wait: 1h
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: "null"
`

// StartAlertmanager runs an Alertmanager for the rest of the test.
func StartAlertmanager(t testing.TB) *Alertmanager {
	t.Helper()
	bin := lookPath(alertmanagerBinaries...)
	if bin == "" {
		servertest.Need(t, "Alertmanager is not installed (Debian: apt-get install prometheus-alertmanager)")
	}
	dir := t.TempDir()
	am := &Alertmanager{bin: bin, config: filepath.Join(dir, "alertmanager.yml"), storage: filepath.Join(dir, "data")}
	if err := os.WriteFile(am.config, []byte(alertmanagerConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 5 {
		am.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(servertest.FreePort(t)))
		if lastErr = am.start(); lastErr == nil {
			t.Cleanup(am.Kill)
			return am
		}
	}
	t.Fatalf("alertmanager did not start: %v", lastErr)
	return nil
}

// URL is the base URL, http://127.0.0.1:port, as a channel is given it.
func (am *Alertmanager) URL() string { return "http://" + am.Addr }

func (am *Alertmanager) start() error {
	proc, err := servertest.Start(am.bin,
		"--config.file="+am.config,
		"--storage.path="+am.storage,
		"--web.listen-address="+am.Addr,
		"--cluster.listen-address=", // no gossip, no cluster port
		"--log.level=warn")
	if err != nil {
		return err
	}
	am.mu.Lock()
	am.proc = proc
	am.mu.Unlock()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	ready := func() bool {
		resp, err := client.Get(am.URL() + "/-/ready")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if err := proc.WaitReady(15*time.Second, 20*time.Millisecond, ready); err != nil {
		return fmt.Errorf("alertmanager on %s: %w", am.Addr, err)
	}
	return nil
}

// Alert is an alert as GET /api/v2/alerts returns it.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Status      struct {
		State string `json:"state"` // active, suppressed, unprocessed
	} `json:"status"`
}

// Alerts is every alert Alertmanager holds that has not ended: a resolved
// alert (endsAt in the past) is not among them.
func (am *Alertmanager) Alerts(t testing.TB) []Alert {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(am.URL() + "/api/v2/alerts")
	if err != nil {
		t.Fatalf("list alerts: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("list alerts: HTTP %d, %v: %s", resp.StatusCode, err, body)
	}
	var alerts []Alert
	if err := json.Unmarshal(body, &alerts); err != nil {
		t.Fatalf("list alerts: %v: %s", err, body)
	}
	return alerts
}

// Kill stops Alertmanager at once and waits for it to exit. Calling it
// again is harmless.
func (am *Alertmanager) Kill() {
	am.mu.Lock()
	proc := am.proc
	am.proc = nil
	am.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
}

// lookPath is the path of the first of names found on PATH, or "".
func lookPath(names ...string) string {
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}
