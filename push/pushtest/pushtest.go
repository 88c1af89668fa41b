// Package pushtest runs a real Prometheus Pushgateway for tests, on a free
// loopback port and without persistence, and stops it when the test ends.
// Without the binary (Debian's prometheus-pushgateway, or upstream's
// pushgateway) on PATH a test is skipped, except when PINGPANDA_CI is set:
// there every integration test must run, so a missing gateway fails it.
package pushtest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/servertest"
)

// Gateway is a running Pushgateway.
type Gateway struct {
	// Addr is host:port on 127.0.0.1.
	Addr string

	bin  string
	mu   sync.Mutex
	proc *servertest.Process // nil while killed
}

// binaries are the names the Pushgateway goes by: Debian's, upstream's.
var binaries = []string{"prometheus-pushgateway", "pushgateway"}

// Start runs a Pushgateway for the rest of the test.
func Start(t testing.TB) *Gateway {
	t.Helper()
	var bin string
	for _, name := range binaries {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		Need(t, "the Pushgateway is not installed (Debian: apt-get install prometheus-pushgateway)")
	}
	g := &Gateway{bin: bin}
	var lastErr error
	for range 5 {
		g.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(servertest.FreePort(t)))
		if lastErr = g.start(); lastErr == nil {
			t.Cleanup(g.Kill)
			return g
		}
	}
	t.Fatalf("pushgateway did not start: %v", lastErr)
	return nil
}

// URL is the gateway's base URL, http://127.0.0.1:port.
func (g *Gateway) URL() string { return "http://" + g.Addr }

func (g *Gateway) start() error {
	// An empty --persistence.file keeps the groups in memory only;
	// Debian's build would otherwise default to a file under
	// /var/lib/prometheus, shared by every gateway started.
	proc, err := servertest.Start(g.bin, "--web.listen-address="+g.Addr, "--persistence.file=", "--log.level=warn")
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.proc = proc
	g.mu.Unlock()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	ready := func() bool {
		resp, err := client.Get(g.URL() + "/-/ready")
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	if err := proc.WaitReady(10*time.Second, 20*time.Millisecond, ready); err != nil {
		return fmt.Errorf("pushgateway on %s: %w", g.Addr, err)
	}
	return nil
}

// Metrics returns the gateway's /metrics page in the text format: every
// group pushed, with its job and grouping labels, and the gateway's own
// metrics.
func (g *Gateway) Metrics(t testing.TB) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, g.URL()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("scrape the pushgateway: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape the pushgateway: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape the pushgateway: HTTP %d: %s", resp.StatusCode, body)
	}
	return body
}

// Kill stops the gateway at once and waits for it to exit. Calling it
// again is harmless.
func (g *Gateway) Kill() {
	g.mu.Lock()
	proc := g.proc
	g.proc = nil
	g.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
}

// Need skips a test whose environment is missing — or fails it when
// PINGPANDA_CI is set.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	servertest.Need(t, format, args...)
}
