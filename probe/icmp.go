package probe

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// An icmpListener is one raw ICMP socket of one address family, shared by
// every privileged ping in flight. The kernel gives every raw ICMP socket
// a copy of every ICMP packet the host receives; with a socket per ping, a
// sweep's cost grows as pings × pings in flight and the copies overflow
// the sockets' buffers, losing replies. One socket, with a filter that
// lets in echo replies alone and a large receive buffer, reads each reply
// once.
//
// The socket opens with the first ping in flight and closes, its reader
// goroutine gone, when the last one ends: nothing outlives the probes.
// Replies reach the ping that sent the request by the socket's echo
// identifier, the sequence number, unique among the pings in flight, and
// the address the reply came from.
type icmpListener struct {
	v6 bool

	mu      sync.Mutex
	refs    int // sessions open
	conn    *net.IPConn
	id      uint16
	done    chan struct{} // closed when conn's reader has returned
	nextSeq uint16
	waiting map[uint16]echoWaiter // by sequence number
}

// echoWaiter is where a reply with one sequence number goes: the i'th echo
// of a session pinging from.
type echoWaiter struct {
	from    netip.Addr
	i       int
	replies chan<- echoReply
}

// echoReply is the arrival of the reply to a session's i'th echo.
type echoReply struct {
	i  int
	at time.Time
}

// icmpRcvBuf is the receive buffer asked for: a sweep's worth of replies
// arriving at once must not overflow it while the reader is descheduled.
const icmpRcvBuf = 16 << 20

// icmpSession is one ping's use of the shared socket: count sequence
// numbers, reserved until close.
type icmpSession struct {
	l       *icmpListener
	conn    *net.IPConn
	id      uint16
	to      netip.Addr
	seqs    []uint16
	replies chan echoReply
	msg     []byte
}

// open reserves count sequence numbers for pings of to, opening the
// socket if no other ping has it open. Its error is the kernel's when the
// socket cannot be opened (socketDenied tells a refusal).
func (l *icmpListener) open(to netip.Addr, count int) (*icmpSession, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiting)+count > 1<<16 {
		return nil, errors.New("too many echo requests in flight")
	}
	if l.refs == 0 {
		conn, err := listenICMP(l.v6)
		if err != nil {
			return nil, err
		}
		l.conn, l.id, l.done = conn, uint16(rand.Uint32()), make(chan struct{})
		l.nextSeq = uint16(rand.Uint32())
		if l.waiting == nil {
			l.waiting = map[uint16]echoWaiter{}
		}
		go l.read(conn, l.id, l.done)
	}
	l.refs++
	s := &icmpSession{l: l, conn: l.conn, id: l.id, to: to, seqs: make([]uint16, count), replies: make(chan echoReply, count)}
	for i := range s.seqs {
		for {
			l.nextSeq++
			if _, busy := l.waiting[l.nextSeq]; !busy {
				break
			}
		}
		s.seqs[i] = l.nextSeq
		l.waiting[l.nextSeq] = echoWaiter{from: to, i: i, replies: s.replies}
	}
	return s, nil
}

// close frees the session's sequence numbers and, when it was the last
// session, closes the socket and waits for its reader to return.
func (s *icmpSession) close() {
	l := s.l
	l.mu.Lock()
	for _, seq := range s.seqs {
		if w, ok := l.waiting[seq]; ok && w.replies == s.replies {
			delete(l.waiting, seq)
		}
	}
	l.refs--
	if l.refs > 0 {
		l.mu.Unlock()
		return
	}
	conn, done := l.conn, l.done
	l.conn, l.done = nil, nil
	l.mu.Unlock()
	conn.Close()
	<-done
}

// send sends echo request i.
func (s *icmpSession) send(i int) error {
	if s.msg == nil {
		s.msg = make([]byte, 32) // 8 bytes of header, 24 of payload, as ping(8) and pro-bing send
	}
	m := s.msg
	clear(m)
	m[0] = byte(ipv4.ICMPTypeEcho)
	if s.l.v6 {
		m[0] = byte(ipv6.ICMPTypeEchoRequest) // the kernel fills in the checksum
	}
	binary.BigEndian.PutUint16(m[4:], s.id)
	binary.BigEndian.PutUint16(m[6:], s.seqs[i])
	if !s.l.v6 {
		binary.BigEndian.PutUint16(m[2:], icmpChecksum(m))
	}
	_, err := s.conn.WriteToIP(m, &net.IPAddr{IP: s.to.AsSlice(), Zone: s.to.Zone()})
	return err
}

// read hands every echo reply on conn to its session until conn closes.
func (l *icmpListener) read(conn *net.IPConn, id uint16, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFromIP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient error (ENOBUFS, say) loses one packet, not the socket
		}
		src, _ := netip.AddrFromSlice(from.IP)
		l.deliver(id, src.WithZone(from.Zone), buf[:n], time.Now())
	}
}

// deliver passes msg, an ICMP message from src received at, to the
// session waiting for it, if it is an echo reply to one of ours. Each
// sequence number is delivered once; duplicates are dropped.
func (l *icmpListener) deliver(id uint16, src netip.Addr, msg []byte, at time.Time) {
	reply := byte(ipv4.ICMPTypeEchoReply)
	if l.v6 {
		reply = byte(ipv6.ICMPTypeEchoReply)
	}
	if len(msg) < 8 || msg[0] != reply || msg[1] != 0 || binary.BigEndian.Uint16(msg[4:]) != id {
		return
	}
	seq := binary.BigEndian.Uint16(msg[6:])
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.waiting[seq]
	if !ok || w.from.WithZone("") != src.Unmap().WithZone("") {
		return
	}
	delete(l.waiting, seq)
	select {
	case w.replies <- echoReply{i: w.i, at: at}:
	default: // cannot happen: one slot per sequence number
	}
}

// listenICMP opens a raw ICMP socket that receives echo replies alone.
func listenICMP(v6 bool) (*net.IPConn, error) {
	network, addr := "ip4:icmp", "0.0.0.0"
	if v6 {
		network, addr = "ip6:ipv6-icmp", "::"
	}
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	conn := pc.(*net.IPConn)
	// The filter only spares the reader other ICMP traffic; deliver
	// checks type and identifier itself, so a kernel that refuses it
	// (some sandboxes do) costs a little CPU, not the ping.
	if v6 {
		var f ipv6.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv6.ICMPTypeEchoReply)
		_ = ipv6.NewPacketConn(conn).SetICMPFilter(&f)
	} else {
		var f ipv4.ICMPFilter
		f.SetAll(true)
		f.Accept(ipv4.ICMPTypeEchoReply)
		_ = ipv4.NewPacketConn(conn).SetICMPFilter(&f)
	}
	setICMPRcvBuf(conn)
	return conn, nil
}

// icmpChecksum is the Internet checksum (RFC 1071) of b.
func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}
