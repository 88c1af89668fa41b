package probe

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func pingTarget(addr string) Target { return Target{Check: Ping, Address: addr} }

func TestPingPrivilegedICMP(t *testing.T) {
	tests := []struct {
		name   string
		mode   PingMode
		target string
	}{
		{name: "privileged mode pings 127.0.0.1 over a raw socket", mode: PingPrivileged, target: "127.0.0.1"},
		{name: "auto mode uses a raw socket when it may", mode: PingAuto, target: "127.0.0.1"},
		{name: "privileged mode pings ::1 over a raw ICMPv6 socket", mode: PingPrivileged, target: "::1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.target == "::1" && !pingHaveIPv6Loopback() {
				t.Skip("no IPv6 loopback address here")
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()

			res := NewPing(PingOptions{Mode: tt.mode, Count: 3}).Probe(ctx, pingTarget(tt.target))

			if res.Status == StatusUnsupported {
				unavailable(t, "raw ICMP sockets are not permitted here: %s", res.Error)
			}
			if res.Status != StatusUp || res.Error != "" {
				t.Fatalf("status = %q, error = %q, want up", res.Status, res.Error)
			}
			d := res.Ping
			if d == nil {
				t.Fatal("ping detail is nil")
			}
			want := PingDetail{Addr: tt.target, Mode: PingPrivileged, Sent: 3, Received: 3}
			if d.Addr != want.Addr || d.Mode != want.Mode || d.Sent != want.Sent || d.Received != want.Received || d.LossPct != 0 {
				t.Errorf("detail = %+v, want %+v with no loss", *d, want)
			}
			if !(0 < d.MinRTT && d.MinRTT <= d.AvgRTT && d.AvgRTT <= d.MaxRTT) {
				t.Errorf("RTTs min %v avg %v max %v, want 0 < min ≤ avg ≤ max", d.MinRTT, d.AvgRTT, d.MaxRTT)
			}
			if res.Latency != d.AvgRTT {
				t.Errorf("latency = %v, want the average RTT %v", res.Latency, d.AvgRTT)
			}
		})
	}
}

func TestPingTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	openPort := ln.Addr().(*net.TCPAddr).Port
	_, closed, _ := net.SplitHostPort(tlsClosedPort(t))
	closedPort, _ := strconv.Atoi(closed)

	tests := []struct {
		name      string
		target    string
		port      int
		count     int
		status    Status
		received  int
		errSubstr string
	}{
		{name: "a listening port is up", target: "127.0.0.1", port: openPort, count: 2, status: StatusUp, received: 2},
		{name: "a host name is resolved to its IPv4 address", target: "localhost", port: openPort, count: 1, status: StatusUp, received: 1},
		{name: "a closed port is down and may be retried", target: "127.0.0.1", port: closedPort, count: 2, status: StatusDown, errSubstr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.target == "localhost" {
				if ips, err := net.DefaultResolver.LookupNetIP(t.Context(), "ip4", "localhost"); err != nil || len(ips) == 0 || ips[0].Unmap().String() != "127.0.0.1" {
					t.Skipf("localhost does not resolve to 127.0.0.1 here (%v, %v)", ips, err)
				}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()

			res := NewPing(PingOptions{Mode: PingTCP, Count: tt.count, TCPPort: tt.port}).Probe(ctx, pingTarget(tt.target))
			t.Logf("status %s, error %q", res.Status, res.Error)

			if res.Status != tt.status || res.final {
				t.Fatalf("status = %q (error %q), final = %v, want %q and retryable", res.Status, res.Error, res.final, tt.status)
			}
			if !strings.Contains(res.Error, tt.errSubstr) {
				t.Errorf("error = %q, want it to contain %q", res.Error, tt.errSubstr)
			}
			d := res.Ping
			if d == nil {
				t.Fatal("ping detail is nil")
			}
			if d.Addr != "127.0.0.1" || d.Mode != PingTCP || d.Sent != tt.count || d.Received != tt.received {
				t.Errorf("detail = %+v, want addr 127.0.0.1, mode tcp, %d sent, %d received", *d, tt.count, tt.received)
			}
			wantLoss := float64(tt.count-tt.received) / float64(tt.count) * 100
			if d.LossPct != wantLoss {
				t.Errorf("loss = %v%%, want %v%%", d.LossPct, wantLoss)
			}
			if tt.status == StatusUp && (res.Latency != d.AvgRTT || d.AvgRTT <= 0) {
				t.Errorf("latency = %v, avg RTT = %v, want the same positive connect time", res.Latency, d.AvgRTT)
			}
		})
	}
}

func TestPingMisconfigurationIsFinal(t *testing.T) {
	tests := []struct {
		name      string
		opts      PingOptions
		errSubstr string
	}{
		{name: "an unknown mode is refused", opts: PingOptions{Mode: "carrier-pigeon"}, errSubstr: `ping mode "carrier-pigeon"`},
		{name: "tcp mode without a port is refused", opts: PingOptions{Mode: PingTCP}, errSubstr: "PING_TCP_PORT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := NewPing(tt.opts).Probe(t.Context(), pingTarget("127.0.0.1"))
			if res.Status != StatusDown || !res.final || !strings.Contains(res.Error, tt.errSubstr) {
				t.Errorf("status = %q, final = %v, error = %q, want down, final, mentioning %q", res.Status, res.final, res.Error, tt.errSubstr)
			}
		})
	}
}

func TestPingReturnsAtOnceWhenTheContextIsDone(t *testing.T) {
	for _, mode := range []PingMode{PingAuto, PingPrivileged, PingUnprivileged, PingTCP} {
		t.Run(string(mode)+" mode gives up on a canceled attempt", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			start := time.Now()

			res := NewPing(PingOptions{Mode: mode, Count: 5, TCPPort: 9}).Probe(ctx, pingTarget("127.0.0.1"))

			if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
				t.Errorf("probe took %v after its context was canceled", elapsed)
			}
			if res.Status != StatusDown || res.final || res.Error == "" {
				t.Errorf("status = %q, final = %v, error = %q, want down, retryable, with a reason", res.Status, res.final, res.Error)
			}
		})
	}
}

func TestPingSocketDenied(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "a refused datagram socket is denied", err: os.NewSyscallError("socket", syscall.EACCES), want: true},
		{name: "a refused raw socket is denied", err: &net.OpError{Op: "listen", Net: "ip4:icmp", Err: os.NewSyscallError("socket", syscall.EPERM)}, want: true},
		{name: "a firewall refusing a send is not denied", err: &net.OpError{Op: "write", Net: "ip4:icmp", Err: os.NewSyscallError("sendto", syscall.EPERM)}, want: false},
		{name: "an unsupported address family is not denied", err: os.NewSyscallError("socket", syscall.EAFNOSUPPORT), want: false},
		{name: "a timeout is not denied", err: context.DeadlineExceeded, want: false},
		{name: "no error is not denied", err: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := socketDenied(tt.err); got != tt.want {
				t.Errorf("socketDenied(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func pingHaveIPv6Loopback() bool {
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func TestPingNotPermittedSaysHowToFixIt(t *testing.T) {
	res := unsupported("raw socket", nil, time.Now())
	if res.Status != StatusUnsupported || !res.final {
		t.Errorf("status = %q, final = %v, want unsupported and final", res.Status, res.final)
	}
	for _, s := range []string{"icmp not permitted (raw socket refused): ", "PING_MODE=privileged", "PING_MODE=unprivileged", "PING_MODE=auto", "PING_MODE=tcp"} {
		if !strings.Contains(res.Error, s) {
			t.Errorf("error = %q, want it to mention %q", res.Error, s)
		}
	}
}
