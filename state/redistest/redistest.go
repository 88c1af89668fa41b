// Package redistest runs a real redis-server for tests, on a free loopback
// port, and stops it when the test ends. Without redis-server on PATH a
// test is skipped, except when PINGPANDA_CI is set: there every
// integration test must run, so a missing server fails it.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pingpanda/pingpanda/state/servertest"
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

	mu   sync.Mutex
	proc *servertest.Process // nil while killed
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
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(servertest.FreePort(t)))
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
	proc, err := servertest.Start(s.bin, args...)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = proc
	s.mu.Unlock()
	if err := proc.WaitReady(5*time.Second, 10*time.Millisecond, func() bool { return Ping(s.Addr) }); err != nil {
		return fmt.Errorf("redis-server on port %s: %w", port, err)
	}
	return nil
}

// Kill stops the server at once with SIGKILL, as a crash would, and waits
// for it to exit. Calling it again is harmless.
func (s *Server) Kill() {
	s.mu.Lock()
	proc := s.proc
	s.proc = nil
	s.mu.Unlock()
	if proc != nil {
		proc.Kill()
	}
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

// Need skips a test whose environment is missing — or fails it when
// PINGPANDA_CI is set.
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	servertest.Need(t, format, args...)
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
