package probe

import (
	"context"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pingListenOnce opens a TCP socket on 127.0.0.1 listening with a backlog
// of 0 and never accepts on it, and returns its port. Linux then completes
// one connection, which waits in the accept queue, and drops the SYN of
// every other, so a dial after the first hangs until its context ends: a
// tcp-mode ping of count 3 within a short attempt connects once, then waits
// for its second connection until the deadline — 1 of 2 replies, 50% loss,
// every time.
func pingListenOnce(t *testing.T) int {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return sa.(*unix.SockaddrInet4).Port
}

func TestPingMaxLoss(t *testing.T) {
	tests := []struct {
		name   string
		spec   *PingSpec
		status Status
		err    string
	}{
		{name: "without a spec one reply is enough", spec: nil, status: StatusUp},
		{name: "the default max_loss lets any loss short of 100% be up", spec: &PingSpec{MaxLoss: -1}, status: StatusUp},
		{name: "loss at max_loss is up", spec: &PingSpec{MaxLoss: 50}, status: StatusUp},
		{name: "loss above max_loss is down", spec: &PingSpec{MaxLoss: 34}, status: StatusDown,
			err: "loss 50% above max_loss 34% (1 of 2 replies)"},
		{name: "a zero PingSpec allows no loss", spec: &PingSpec{}, status: StatusDown,
			err: "loss 50% above max_loss 0% (1 of 2 replies)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const timeout = 300 * time.Millisecond
			ctx, cancel := context.WithTimeout(t.Context(), timeout)
			defer cancel()
			target := pingTarget("127.0.0.1")
			if tt.spec != nil {
				target.Spec = &Spec{Ping: tt.spec}
			}
			start := time.Now()

			res := NewPing(PingOptions{Mode: PingTCP, Count: 3, TCPPort: pingListenOnce(t)}).Probe(ctx, target)
			t.Logf("status %s, error %q, detail %+v", res.Status, res.Error, res.Ping)

			if res.Status != tt.status || res.Error != tt.err || res.final {
				t.Fatalf("got %s %q (final %v), want %s %q, retryable", res.Status, res.Error, res.final, tt.status, tt.err)
			}
			if d := res.Ping; d == nil || d.Sent != 2 || d.Received != 1 || d.LossPct != 50 {
				t.Errorf("detail = %+v, want 1 of 2 received, 50%% loss", d)
			}
			if tt.status == StatusDown && (res.Latency < timeout/2 || res.Latency > time.Since(start)) {
				t.Errorf("latency = %v, want the attempt's duration", res.Latency)
			}
		})
	}
}

// TestAMonitorsTimeoutReplacesPingTimeout: the second connection to a
// listener that completes only one hangs until the attempt's time limit,
// which is the monitor's own (600ms), not PING_TIMEOUT_SECONDS (100ms).
func TestAMonitorsTimeoutReplacesPingTimeout(t *testing.T) {
	for _, tc := range []struct {
		spec    *Spec
		atLeast time.Duration
	}{
		{nil, 100 * time.Millisecond},
		{&Spec{Timeout: 600 * time.Millisecond}, 600 * time.Millisecond},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		target := pingTarget("127.0.0.1")
		target.Spec = tc.spec
		start := time.Now()
		res := NewPing(PingOptions{Mode: PingTCP, Count: 2, TCPPort: pingListenOnce(t), Timeout: 100 * time.Millisecond}).Probe(ctx, target)
		took := time.Since(start)
		cancel()
		if took < tc.atLeast || res.Ping == nil || res.Ping.Received != 1 {
			t.Errorf("spec %+v: the attempt took %v with %+v, want at least %v (its time limit) and 1 reply", tc.spec, took, res.Ping, tc.atLeast)
		}
	}
}
