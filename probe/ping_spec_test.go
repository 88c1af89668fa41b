package probe

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"
)

func TestPingSpecCountOverridesTheProbers(t *testing.T) {
	_, p, _ := net.SplitHostPort(farmServeTCP(t, func(net.Conn) {}))
	port, _ := strconv.Atoi(p)

	tests := []struct {
		name string
		mode PingMode
		spec *PingSpec
		sent int
	}{
		{name: "tcp mode makes the spec's count of connections", mode: PingTCP, spec: &PingSpec{Count: 4, MaxLoss: -1}, sent: 4},
		{name: "tcp mode keeps the prober's count when the spec's is zero", mode: PingTCP, spec: &PingSpec{MaxLoss: -1}, sent: 1},
		{name: "no loss is up with max_loss 0", mode: PingTCP, spec: &PingSpec{Count: 3}, sent: 3},
		{name: "privileged mode sends the spec's count of echoes", mode: PingPrivileged, spec: &PingSpec{Count: 3, MaxLoss: 0}, sent: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			target := pingTarget("127.0.0.1")
			target.Spec = &Spec{Ping: tt.spec}

			res := NewPing(PingOptions{Mode: tt.mode, Count: 1, TCPPort: port}).Probe(ctx, target)

			if res.Status == StatusUnsupported {
				unavailable(t, "raw ICMP sockets are not permitted here: %s", res.Error)
			}
			if res.Status != StatusUp || res.Error != "" {
				t.Fatalf("status = %q, error = %q, want up", res.Status, res.Error)
			}
			if d := res.Ping; d == nil || d.Sent != tt.sent || d.Received != tt.sent || d.LossPct != 0 {
				t.Errorf("detail = %+v, want %d sent and received", d, tt.sent)
			}
		})
	}
}

func TestLossText(t *testing.T) {
	tests := []struct {
		loss, maxLoss float64
		want          string
	}{
		{loss: 200.0 / 3, maxLoss: 34, want: "67"},
		{loss: 50, maxLoss: 0, want: "50"},
		{loss: 100, maxLoss: 99.5, want: "100"},
		{loss: 34.2, maxLoss: 34, want: "34.2"},
		{loss: 100.0 / 3, maxLoss: 33.3, want: "33.33"},
		{loss: 33.3334, maxLoss: 33.333, want: "33.3334"},
	}
	for _, tt := range tests {
		if got := lossText(tt.loss, tt.maxLoss); got != tt.want {
			t.Errorf("lossText(%v, %v) = %q, want %q", tt.loss, tt.maxLoss, got, tt.want)
		}
	}
}
