// Package redistest runs a real redis-server for tests, on a free loopback
// port, and stops it when the test ends. Without redis-server on PATH a
// test is skipped, except when PINGPANDA_CI is set: there every
// integration test must run, so a missing server fails it.
package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options shape the server.
type Options struct {
	// Persist turns on the append-only file with an fsync per write, so
	// that a server killed and restarted (Kill, Restart) comes back with
	// every acknowledged write.
	Persist bool
}

// Server is a running redis-server.
type Server struct {
	// Addr is host:port on 127.0.0.1.
	Addr string

	bin  string
	dir  string
	opts Options

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncBuffer
}

// Start runs a redis-server for the rest of the test.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Need(t, "redis-server is not installed (Debian: apt-get install redis-server)")
	}
	s := &Server{bin: bin, dir: t.TempDir(), opts: opts}
	var lastErr error
	for range 5 {
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
		if lastErr = s.start(); lastErr == nil {
			t.Cleanup(s.Kill)
			return s
		}
	}
	t.Fatalf("redis-server did not start: %v", lastErr)
	return nil
}

// URL is the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	args := []string{"--port", port, "--bind", "127.0.0.1", "--protected-mode", "yes",
		"--dir", s.dir, "--loglevel", "warning", "--save", ""}
	if s.opts.Persist {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	out := &syncBuffer{}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test binary
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s.mu.Lock()
	s.cmd, s.exited, s.out = cmd, exited, out
	s.mu.Unlock()

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %s exited: %s", port, strings.TrimSpace(out.String()))
		default:
		}
		if Ping(s.Addr) {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill()
	return fmt.Errorf("redis-server on port %s did not answer PING within 5 s: %s", port, strings.TrimSpace(out.String()))
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. Calling it again is harmless.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-exited
}

// Restart starts a killed server again on the same port and directory;
// with Persist, its data comes back.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	// The port may be held for a moment (a connection of the dead server
	// closing); try again briefly rather than fail the test.
	var err error
	for range 10 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("restart: %v", err)
}

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

// Ping reports whether a Redis at addr answers PING.
func Ping(addr string) bool {
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
