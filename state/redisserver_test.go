package state

import (
	"net"
	"testing"

	"github.com/pingpanda/pingpanda/state/redistest"
)

// startRedis runs a real redis-server on a free loopback port, with no
// persistence, for the rest of the test. stop kills it at once (SIGKILL,
// as a crash would); it is safe to call more than once.
func startRedis(t testing.TB) (addr string, stop func()) {
	t.Helper()
	s := redistest.Start(t, redistest.Options{})
	return s.Addr, s.Kill
}

func TestStartRedis(t *testing.T) {
	addr, stop := startRedis(t)
	if host, port, _ := net.SplitHostPort(addr); host != "127.0.0.1" || port == "" {
		t.Errorf("address %s, want a loopback port", addr)
	}
	if !redistest.Ping(addr) {
		t.Fatal("no PONG")
	}
	stop()
	if redistest.Ping(addr) {
		t.Error("redis-server still answers after stop")
	}
	stop() // a second stop is harmless
}
