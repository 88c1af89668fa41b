// Package servertest owns running a server binary for the length of a
// test, for the integration tests' harnesses (state/redistest,
// push/pushtest): a free loopback port, the child started so that it
// never outlives the test binary, its output kept for the error that
// says why it did not come up, and Need, which skips a test whose server
// is not installed, or fails it where PINGPANDA_CI says every
// integration test must run.
package servertest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that is free now, chosen below the
// kernel's ephemeral range (net.ipv4.ip_local_port_range), where no
// outgoing connection takes it as its local port between the check and
// the server's bind, or while a killed server is restarted on it.
func FreePort(t testing.TB) int {
	t.Helper()
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 11000 {
				low = n
			}
		}
	}
	for range 100 {
		port := 10000 + rand.IntN(low-10000)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatalf("no free loopback port found between 10000 and %d", low)
	return 0
}

// Process is a server binary running as a child of the test binary.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the child has exited
	out    *SyncBuffer   // its stdout and stderr
}

// Start runs bin with args. Where the system allows (Linux), the child is
// killed when the test binary dies, so that no server outlives a test run.
func Start(bin string, args ...string) (*Process, error) {
	p := &Process{cmd: exec.Command(bin, args...), exited: make(chan struct{}), out: &SyncBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = dieWithParent()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.cmd.Wait(); close(p.exited) }()
	return p, nil
}

// WaitReady asks ready, every poll, until it says yes, within timeout.
// When the child exits first, or timeout passes, it returns an error
// holding the child's output; on a timeout it kills the child first.
func (p *Process) WaitReady(timeout, poll time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return fmt.Errorf("exited: %s", p.Output())
		default:
		}
		if ready() {
			return nil
		}
		time.Sleep(poll)
	}
	p.Kill()
	return fmt.Errorf("not ready within %v: %s", timeout, p.Output())
}

// Output is what the child has written so far, trimmed.
func (p *Process) Output() string { return strings.TrimSpace(p.out.String()) }

// Kill stops the child at once with SIGKILL, as a crash would, and waits
// for it to exit. Calling it again is harmless.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.exited
}

// SyncBuffer is a buffer safe to write from several goroutines: a child's
// output, written from os/exec's, or a log written from a client's own.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
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
