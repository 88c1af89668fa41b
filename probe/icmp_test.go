package probe

import (
	"context"
	"encoding/binary"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// icmpEcho builds an ICMP echo message of type typ with id and seq.
func icmpEcho(typ byte, id, seq uint16) []byte {
	m := make([]byte, 16)
	m[0] = typ
	binary.BigEndian.PutUint16(m[4:], id)
	binary.BigEndian.PutUint16(m[6:], seq)
	return m
}

func TestICMPListenerDeliversEachReplyToItsPingOnce(t *testing.T) {
	const id, seq = 0x1234, 7
	target := netip.MustParseAddr("127.0.0.9")
	tests := []struct {
		name string
		v6   bool
		to   netip.Addr
		from netip.Addr
		msg  []byte
		want bool
	}{
		{name: "an echo reply from the target is delivered", to: target, from: target, msg: icmpEcho(0, id, seq), want: true},
		{name: "a reply from another address is not", to: target, from: netip.MustParseAddr("127.0.0.10"), msg: icmpEcho(0, id, seq)},
		{name: "a reply to another identifier is not", to: target, from: target, msg: icmpEcho(0, id+1, seq)},
		{name: "a reply to another sequence number is not", to: target, from: target, msg: icmpEcho(0, id, seq+1)},
		{name: "an echo request is not", to: target, from: target, msg: icmpEcho(8, id, seq)},
		{name: "a message too short to be an echo is not", to: target, from: target, msg: icmpEcho(0, id, seq)[:6]},
		{name: "an ICMPv6 echo reply is delivered", v6: true, to: netip.MustParseAddr("::1"), from: netip.MustParseAddr("::1"), msg: icmpEcho(129, id, seq), want: true},
		{name: "an ICMPv4 echo reply type on an ICMPv6 socket is not", v6: true, to: netip.MustParseAddr("::1"), from: netip.MustParseAddr("::1"), msg: icmpEcho(0, id, seq)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			replies := make(chan echoReply, 2)
			l := &icmpListener{v6: tt.v6, waiting: map[uint16]echoWaiter{seq: {from: tt.to, i: 1, replies: replies}}}
			at := time.Now()
			l.deliver(id, tt.from, tt.msg, at)
			l.deliver(id, tt.from, tt.msg, at) // a duplicate
			if got := len(replies); got != map[bool]int{true: 1, false: 0}[tt.want] {
				t.Fatalf("%d replies delivered, want %v", got, tt.want)
			}
			if tt.want {
				if r := <-replies; r.i != 1 || !r.at.Equal(at) {
					t.Errorf("reply %+v, want echo 1 at %v", r, at)
				}
				if len(l.waiting) != 0 {
					t.Errorf("sequence number still reserved after its reply")
				}
			}
		})
	}
}

func TestICMPChecksum(t *testing.T) {
	// An echo request, id 1, seq 1, no payload: 0x0800 + 0x0001 + 0x0001.
	if got, want := icmpChecksum([]byte{8, 0, 0, 0, 0, 1, 0, 1}), uint16(0xf7fd); got != want {
		t.Errorf("checksum %#04x, want %#04x", got, want)
	}
	// An odd length pads with a zero byte: 0x0802 + 0xff00 = 0x10702,
	// folded 0x0703.
	if got, want := icmpChecksum([]byte{8, 0, 0, 0, 0, 1, 0, 1, 0xff}), uint16(0xf8fc); got != want {
		t.Errorf("odd-length checksum %#04x, want %#04x", got, want)
	}
}

func TestPingsInFlightShareOneRawSocketAndLeaveNothingBehind(t *testing.T) {
	const n, count = 300, 2
	p := NewPing(PingOptions{Mode: PingPrivileged, Count: count, Timeout: 3 * time.Second})
	before := runtime.NumGoroutine()

	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results = make([]Result, n)
		maxRefs int
	)
	for i := range n {
		wg.Go(func() {
			results[i] = p.Probe(t.Context(), pingTarget(farmPingAddr(i)))
			p.raw4.mu.Lock()
			r := p.raw4.refs
			p.raw4.mu.Unlock()
			mu.Lock()
			maxRefs = max(maxRefs, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	if results[0].Status == StatusUnsupported {
		unavailable(t, "raw ICMP sockets are not permitted here: %s", results[0].Error)
	}
	for i, res := range results {
		if res.Status != StatusUp || res.Ping == nil || res.Ping.Received != count || res.Ping.Addr != farmPingAddr(i) {
			t.Fatalf("ping %d: %s %q %+v, want up with %d replies", i, res.Status, res.Error, res.Ping, count)
		}
	}
	t.Logf("at most %d pings shared the socket", maxRefs)
	if maxRefs < 2 {
		t.Errorf("no two pings were ever in flight on the socket at once")
	}

	p.raw4.mu.Lock()
	conn, refs, waiting := p.raw4.conn, p.raw4.refs, len(p.raw4.waiting)
	p.raw4.mu.Unlock()
	if conn != nil || refs != 0 || waiting != 0 {
		t.Errorf("after the last ping: socket %v, %d sessions, %d sequence numbers held; want none", conn, refs, waiting)
	}
	// The reader goroutine is gone by the time the last Probe returns
	// (closing the socket waits for it). Other goroutines, such as those
	// the WaitGroup above started, may still be on their way out, so look
	// for the reader itself rather than counting.
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "(*icmpListener).read") {
		t.Errorf("the socket's reader outlived the last ping (%d goroutines before, %d after):\n%s", before, runtime.NumGoroutine(), stacks)
	}
}

func TestPingRawFitsItsEchoesIntoAShortAttempt(t *testing.T) {
	p := NewPing(PingOptions{Mode: PingPrivileged, Count: 3})
	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	res := p.Probe(ctx, pingTarget("127.0.0.1"))
	if res.Status == StatusUnsupported {
		unavailable(t, "raw ICMP sockets are not permitted here: %s", res.Error)
	}
	// 3 echoes 100 ms apart do not fit in 150 ms: the interval shrinks to
	// 25 ms so all three go out, and all three come back.
	if d := res.Ping; res.Status != StatusUp || d.Sent != 3 || d.Received != 3 || d.LossPct != 0 {
		t.Fatalf("%s %q %+v, want up with 3 of 3", res.Status, res.Error, d)
	}
}
