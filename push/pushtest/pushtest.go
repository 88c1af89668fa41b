// Package pushtest runs a real Prometheus Pushgateway for tests, on a free
// loopback port and without persistence, and stops it when the test ends.
// Without the binary (Debian's prometheus-pushgateway, or upstream's
// pushgateway) on PATH a test is skipped, except when PINGPANDA_CI is set:
// there every integration test must run, so a missing gateway fails it.
package pushtest

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Gateway is a running Pushgateway.
type Gateway struct {
	// Addr is host:port on 127.0.0.1.
	Addr string

	bin    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncBuffer
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
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		g.Addr = l.Addr().String()
		l.Close()
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
	out := &syncBuffer{}
	// An empty --persistence.file keeps the groups in memory only;
	// Debian's build would otherwise default to a file under
	// /var/lib/prometheus, shared by every gateway started.
	cmd := exec.Command(g.bin, "--web.listen-address="+g.Addr, "--persistence.file=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	g.mu.Lock()
	g.cmd, g.exited, g.out = cmd, exited, out
	g.mu.Unlock()

	client := &http.Client{Timeout: 500 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("pushgateway on %s exited: %s", g.Addr, strings.TrimSpace(out.String()))
		default:
		}
		if resp, err := client.Get(g.URL() + "/-/ready"); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	g.Kill()
	return fmt.Errorf("pushgateway on %s was not ready within 10 s: %s", g.Addr, strings.TrimSpace(out.String()))
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
	cmd, exited := g.cmd, g.exited
	g.cmd = nil
	g.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Need skips a test whose environment is missing — or fails it when
// PINGPANDA_CI is set.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("PINGPANDA_CI") != "" {
		t.Fatalf("PINGPANDA_CI is set, so this must run: %s", msg)
	}
	t.Skip(msg)
}

// syncBuffer collects a child's output, written from os/exec's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
