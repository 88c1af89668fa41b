package state

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// needIntegration skips a test whose environment is missing — except in
// CI, where PINGPANDA_CI is set and every integration test must run, so a
// missing piece is a failure. (As probe's unavailable.)
func needIntegration(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("PINGPANDA_CI") != "" {
		t.Fatalf("PINGPANDA_CI is set, so this must run: %s", msg)
	}
	t.Skip(msg)
}

// startRedis runs a real redis-server on a free loopback port, with no
// persistence, for the rest of the test. stop kills it at once (SIGKILL,
// as a crash would) and waits for it to exit; it is safe to call more than
// once, and the test's cleanup calls it. Without redis-server on PATH the
// test is skipped (failed under PINGPANDA_CI).
func startRedis(t testing.TB) (addr string, stop func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		needIntegration(t, "redis-server is not installed (Debian: apt-get install redis-server)")
	}
	var lastErr error
	for range 5 {
		addr, stop, err := tryStartRedis(t, bin)
		if err == nil {
			t.Cleanup(stop)
			return addr, stop
		}
		lastErr = err
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return "", nil
}

// tryStartRedis starts redis-server on a port that was free a moment ago;
// it fails when another process took the port in between.
func tryStartRedis(t testing.TB, bin string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)

	var out syncBuffer
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "yes", "--dir", t.TempDir(), "--loglevel", "warning")
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Kill()
			<-exited
		})
	}

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return "", nil, fmt.Errorf("redis-server on port %s exited: %s", port, strings.TrimSpace(out.String()))
		default:
		}
		if pingRedis(addr) {
			return addr, stop, nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on port %s did not answer PING within 5 s: %s", port, strings.TrimSpace(out.String()))
}

// pingRedis reports whether a Redis at addr answers PING.
func pingRedis(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
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

func TestStartRedis(t *testing.T) {
	addr, stop := startRedis(t)
	if host, port, _ := net.SplitHostPort(addr); host != "127.0.0.1" || port == "" {
		t.Errorf("address %s, want a loopback port", addr)
	}
	if !pingRedis(addr) {
		t.Fatal("no PONG")
	}
	stop()
	if pingRedis(addr) {
		t.Error("redis-server still answers after stop")
	}
	stop() // a second stop is harmless
}
