package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// PingMode chooses how ping checks reach their targets.
type PingMode string

// Ping modes (PING_MODE).
const (
	// PingAuto uses a raw ICMP socket when permitted, else an
	// unprivileged datagram ICMP socket.
	PingAuto PingMode = "auto"
	// PingPrivileged uses a raw ICMP socket (root, or CAP_NET_RAW on
	// Linux).
	PingPrivileged PingMode = "privileged"
	// PingUnprivileged uses a datagram ICMP socket (on Linux the process's
	// group must be inside net.ipv4.ping_group_range; macOS lets every
	// user have one; Windows offers none, so this mode fails there).
	PingUnprivileged PingMode = "unprivileged"
	// PingTCP measures the time to connect to PingOptions.TCPPort; for
	// places with no ICMP at all, such as AWS Lambda.
	PingTCP PingMode = "tcp"
)

// PingDetail is what a ping check records.
type PingDetail struct {
	Addr     string   // address pinged, after resolving a host name
	Mode     PingMode // the mode actually used (privileged, unprivileged or tcp)
	Sent     int      // echo requests sent, or connections tried (tcp)
	Received int      // echo replies received, or connections made (tcp)
	LossPct  float64  // 0–100
	MinRTT   time.Duration
	AvgRTT   time.Duration
	MaxRTT   time.Duration
}

// PingOptions configures the ping check.
type PingOptions struct {
	Mode  PingMode // empty means PingAuto
	Count int      // echoes (or tcp connections) per attempt; below 1 means 1
	// TCPPort is the port PingTCP connects to.
	TCPPort int
	// Timeout bounds one attempt's echoes (PING_TIMEOUT_SECONDS). Zero
	// means only ctx bounds it.
	Timeout time.Duration
}

// Timing of the echoes within one attempt.
const (
	// pingInterval is the gap between echoes; shorter when Count echoes
	// would not otherwise fit in the first half of the attempt.
	pingInterval    = 100 * time.Millisecond
	minPingInterval = 10 * time.Millisecond
	// pingWait bounds an attempt whose context has no deadline.
	pingWait = 2 * time.Second
)

// What PingAuto has learned, remembered across attempts. It only ever
// advances: once raw sockets are refused they are not tried again.
const (
	autoRawFirst int32 = iota // try raw sockets, then datagram
	autoDatagram              // raw refused; datagram sockets only
	autoNeither               // both refused
)

// PingProber pings over raw ICMP sockets, one per address family shared
// by all its pings in flight (icmp.go); over datagram ICMP sockets with
// pro-bing, one per ping, which the kernel gives only that ping's
// replies; or connects over TCP. One PingProber may probe many targets at
// once.
type PingProber struct {
	opts       PingOptions
	auto       atomic.Int32 // PingAuto's outcome so far
	raw4, raw6 icmpListener
}

var _ Prober = (*PingProber)(nil)

// NewPing returns the ping check.
func NewPing(o PingOptions) *PingProber {
	if o.Mode == "" {
		o.Mode = PingAuto
	}
	o.Count = max(o.Count, 1)
	p := &PingProber{opts: o}
	p.raw6.v6 = true
	return p
}

// Probe makes one attempt: it resolves t.Address once (IPv4 preferred
// unless the target is an IPv6 address) and sends Count echoes, or makes
// Count TCP connections in PingTCP mode. It is up when at least one reply
// came back. When ICMP is not permitted in the configured mode the result
// is unsupported and final, and its error says how to fix that. Result.Ping
// is set once the target has been resolved.
//
// A target's PingSpec may send another count, and with MaxLoss at 0 or
// above it is up only when the loss is at most MaxLoss percent.
func (p *PingProber) Probe(ctx context.Context, t Target) Result {
	start := time.Now()
	mode := p.opts.Mode
	switch mode {
	case PingAuto, PingPrivileged, PingUnprivileged, PingTCP:
	default:
		return Result{Status: StatusDown, Error: fmt.Sprintf("ping mode %q is not auto, privileged, unprivileged or tcp", mode), final: true}
	}
	if mode == PingTCP && (p.opts.TCPPort < 1 || p.opts.TCPPort > 65535) {
		return Result{Status: StatusDown, Error: fmt.Sprintf("PING_MODE=tcp needs PING_TCP_PORT from 1 to 65535 (have %d)", p.opts.TCPPort), final: true}
	}
	if mode == PingAuto && p.auto.Load() == autoNeither {
		return unsupported("raw and datagram sockets", nil, start)
	}

	// A monitor's own timeout replaces PING_TIMEOUT_SECONDS.
	timeout := p.opts.Timeout
	if t.Spec != nil && t.Spec.Timeout > 0 {
		timeout = t.Spec.Timeout
	}
	rctx, cancel := p.withTimeout(ctx, timeout)
	addr, err := resolvePingAddr(rctx, t.Address)
	cancel()
	if err != nil {
		return Result{Status: StatusDown, Latency: time.Since(start),
			Error: fmt.Sprintf("resolve %q: %s", t.Address, describeErr(err, time.Since(start)))}
	}
	count, maxLoss := p.opts.Count, -1.0
	if spec := t.Spec; spec != nil && spec.Ping != nil {
		if spec.Ping.Count > 0 {
			count = spec.Ping.Count
		}
		maxLoss = spec.Ping.MaxLoss
	}
	var res Result
	if mode == PingTCP {
		res = p.probeTCP(ctx, addr, count, timeout, start)
	} else {
		res = p.probeICMP(ctx, addr, count, timeout, start)
	}
	if d := res.Ping; res.Status == StatusUp && d != nil && maxLoss >= 0 && d.LossPct > maxLoss {
		res.Status, res.Latency = StatusDown, time.Since(start)
		res.Error = fmt.Sprintf("loss %s%% above max_loss %s%% (%d of %d replies)",
			lossText(d.LossPct, maxLoss), strconv.FormatFloat(maxLoss, 'f', -1, 64), d.Received, d.Sent)
	}
	return res
}

// lossText writes a loss in percent, to the unit when that still shows it
// above maxLoss ("67"), with decimals when it takes them ("34.5" above 34).
func lossText(loss, maxLoss float64) string {
	for prec := range 3 {
		s := strconv.FormatFloat(loss, 'f', prec, 64)
		if v, _ := strconv.ParseFloat(s, 64); v > maxLoss {
			return s
		}
	}
	return strconv.FormatFloat(loss, 'f', -1, 64)
}

// probeICMP pings addr count times in the configured ICMP mode; PingAuto
// falls back from raw to datagram sockets and remembers what it learned.
func (p *PingProber) probeICMP(ctx context.Context, addr netip.Addr, count int, timeout time.Duration, start time.Time) Result {
	switch p.opts.Mode {
	case PingPrivileged:
		res, denied := p.echo(ctx, addr, true, count, timeout, start)
		if denied {
			return unsupported("raw socket", res.Ping, start)
		}
		return res
	case PingUnprivileged:
		res, denied := p.echo(ctx, addr, false, count, timeout, start)
		if denied {
			return unsupported("datagram socket", res.Ping, start)
		}
		return res
	}
	if p.auto.Load() == autoRawFirst {
		res, denied := p.echo(ctx, addr, true, count, timeout, start)
		if !denied {
			return res
		}
		p.advanceAuto(autoDatagram)
	}
	res, denied := p.echo(ctx, addr, false, count, timeout, start)
	if denied {
		p.advanceAuto(autoNeither)
		return unsupported("raw and datagram sockets", res.Ping, start)
	}
	return res
}

// advanceAuto records a later PingAuto outcome; concurrent attempts never
// move it backwards.
func (p *PingProber) advanceAuto(to int32) {
	for {
		cur := p.auto.Load()
		if cur >= to || p.auto.CompareAndSwap(cur, to) {
			return
		}
	}
}

// echo sends count echoes to addr over a raw (privileged) or datagram
// socket. denied reports that the socket could not be opened for lack of
// permission, in which case only res.Ping's Addr and Mode are meaningful.
func (p *PingProber) echo(ctx context.Context, addr netip.Addr, privileged bool, count int, timeout time.Duration, start time.Time) (res Result, denied bool) {
	mode := PingUnprivileged
	if privileged {
		mode = PingPrivileged
	}
	detail := &PingDetail{Addr: addr.String(), Mode: mode}
	res = Result{Status: StatusDown, Ping: detail}
	ctx, cancel := p.withTimeout(ctx, timeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		res.Latency, res.Error = time.Since(start), "ping: "+describeErr(err, time.Since(start))
		return res, false
	}

	wait := pingWait + time.Duration(count)*pingInterval
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	wait = max(wait, time.Millisecond) // pro-bing panics on a zero timeout
	interval := pingInterval
	if count > 1 && time.Duration(count)*interval > wait/2 {
		interval = max(wait/time.Duration(2*count), minPingInterval)
	}

	var runErr error
	if privileged {
		runErr = p.echoRaw(ctx, addr, count, interval, wait, detail)
	} else {
		runErr = echoDatagram(ctx, addr, count, interval, wait, detail)
	}
	if socketDenied(runErr) {
		return res, true
	}
	if detail.Received > 0 {
		res.Status, res.Latency = StatusUp, detail.AvgRTT
		return res, false
	}
	res.Latency = time.Since(start)
	switch {
	case runErr != nil && ctx.Err() == nil:
		res.Error = fmt.Sprintf("ping %s: %s", addr, describeErr(runErr, res.Latency))
	case detail.Sent == 0:
		res.Error = fmt.Sprintf("ping %s: no echo request sent before the attempt ended", addr)
	default:
		res.Error = fmt.Sprintf("ping %s: no reply to %d echo request%s in %s", addr, detail.Sent, plural(detail.Sent), res.Latency.Round(time.Millisecond))
	}
	return res, false
}

// echoRaw sends count echoes to addr, interval apart, over the prober's
// shared raw socket, and waits for their replies for at most wait or
// until ctx is done. It fills in detail's counts and RTTs, and returns
// the error that stopped it early, if any.
func (p *PingProber) echoRaw(ctx context.Context, addr netip.Addr, count int, interval, wait time.Duration, detail *PingDetail) error {
	l := &p.raw4
	if addr.Is6() {
		l = &p.raw6
	}
	s, err := l.open(addr, count)
	if err != nil {
		return err
	}
	defer s.close()

	// The attempt's context ends it, or, when it has no deadline, wait.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	var tick <-chan time.Time
	if count > 1 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	sent := make([]time.Time, count)
	var total time.Duration
	send := func() error {
		sent[detail.Sent] = time.Now()
		if err := s.send(detail.Sent); err != nil {
			return err
		}
		detail.Sent++
		return nil
	}
	defer func() {
		detail.LossPct = float64(detail.Sent-detail.Received) / float64(max(detail.Sent, 1)) * 100
		if detail.Received > 0 {
			detail.AvgRTT = total / time.Duration(detail.Received)
		}
	}()
	if err := send(); err != nil {
		return err
	}
	for detail.Sent < count || detail.Received < detail.Sent {
		select {
		case r := <-s.replies:
			rtt := max(r.at.Sub(sent[r.i]), time.Nanosecond)
			detail.Received++
			total += rtt
			if detail.Received == 1 || rtt < detail.MinRTT {
				detail.MinRTT = rtt
			}
			detail.MaxRTT = max(detail.MaxRTT, rtt)
		case <-tick:
			if detail.Sent < count {
				if err := send(); err != nil {
					return err
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// echoDatagram pings addr with pro-bing over an unprivileged datagram
// socket of its own, as echoRaw does over the shared raw socket.
func echoDatagram(ctx context.Context, addr netip.Addr, count int, interval, wait time.Duration, detail *PingDetail) error {
	pinger := probing.New("")
	pinger.SetLogger(probing.NoopLogger{})
	pinger.SetIPAddr(&net.IPAddr{IP: addr.AsSlice(), Zone: addr.Zone()})
	pinger.SetPrivileged(false)
	pinger.Count = count
	pinger.Interval = interval
	pinger.Timeout = wait
	pinger.RecordRtts, pinger.RecordTTLs = false, false

	// pro-bing's receiver polls with reads of up to ~100 ms, so it can
	// finish that long after ctx ends; rather than wait, take the counts
	// as they stand and let it wind down on its own.
	finished := make(chan error, 1)
	go func() { finished <- pinger.RunWithContext(ctx) }()
	var runErr error
	select {
	case runErr = <-finished:
	case <-ctx.Done():
		select {
		case runErr = <-finished:
		default:
		}
	}
	if socketDenied(runErr) {
		return runErr
	}
	st := pinger.Statistics()
	detail.Sent, detail.Received = st.PacketsSent, st.PacketsRecv
	detail.LossPct = st.PacketLoss
	detail.MinRTT, detail.AvgRTT, detail.MaxRTT = st.MinRtt, st.AvgRtt, st.MaxRtt
	return runErr
}

// withTimeout bounds ctx by the attempt's Timeout, if any.
func (p *PingProber) withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// probeTCP connects to addr:TCPPort count times, one after another; each
// connection's set-up time is one round trip.
func (p *PingProber) probeTCP(ctx context.Context, addr netip.Addr, count int, timeout time.Duration, start time.Time) Result {
	ctx, cancel := p.withTimeout(ctx, timeout)
	defer cancel()
	detail := &PingDetail{Addr: addr.String(), Mode: PingTCP}
	hostPort := net.JoinHostPort(addr.String(), strconv.Itoa(p.opts.TCPPort))
	var (
		d       net.Dialer
		total   time.Duration
		lastErr error
	)
	for range count {
		if deadlinePassed(ctx) {
			// A dial's deadline, taken from ctx, passes a moment
			// before ctx's own timer fires: the next dial would
			// fail at once, a connection never tried.
			break
		}
		detail.Sent++
		t0 := time.Now()
		conn, err := d.DialContext(ctx, "tcp", hostPort)
		rtt := time.Since(t0)
		if err != nil {
			lastErr = err
			continue
		}
		conn.Close()
		detail.Received++
		total += rtt
		if detail.Received == 1 || rtt < detail.MinRTT {
			detail.MinRTT = rtt
		}
		detail.MaxRTT = max(detail.MaxRTT, rtt)
	}
	if detail.Sent > 0 {
		detail.LossPct = float64(detail.Sent-detail.Received) / float64(detail.Sent) * 100
	}
	res := Result{Status: StatusDown, Ping: detail}
	if detail.Received > 0 {
		detail.AvgRTT = total / time.Duration(detail.Received)
		res.Status, res.Latency = StatusUp, detail.AvgRTT
		return res
	}
	res.Latency = time.Since(start)
	if lastErr == nil {
		lastErr = ctx.Err()
	}
	res.Error = fmt.Sprintf("tcp connect to %s: %s", hostPort, describeErr(lastErr, res.Latency))
	return res
}

// resolvePingAddr turns a ping target into the one address to ping: an IP
// address as it is, a host name looked up under ctx with its first IPv4
// address preferred.
func resolvePingAddr(ctx context.Context, host string) (netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap(), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return netip.Addr{}, err
	}
	if len(ips) == 0 {
		return netip.Addr{}, errors.New("no addresses")
	}
	for _, ip := range ips {
		if ip.Unmap().Is4() {
			return ip.Unmap(), nil
		}
	}
	return ips[0], nil
}

// socketDenied reports whether err is the kernel refusing to open an ICMP
// socket: EPERM for a raw socket without CAP_NET_RAW, EACCES for a datagram
// socket whose group is outside ping_group_range. pro-bing returns these
// from socket(2) as an *os.SyscallError (datagram) or inside a
// *net.OpError with Op "listen" (raw). Permission errors from sending, such
// as a firewall rejecting the packet, are not this: they say nothing about
// whether ICMP is allowed.
func socketDenied(err error) bool {
	if err == nil || !errors.Is(err, os.ErrPermission) {
		return false
	}
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) && sysErr.Syscall == "socket" {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "listen"
}

// unsupported is the result for ICMP the kernel will not allow; tried
// names the sockets that were refused, and icmpPermissionHelp what this
// system needs for each mode.
func unsupported(tried string, d *PingDetail, start time.Time) Result {
	return Result{
		Status:  StatusUnsupported,
		Latency: time.Since(start),
		Ping:    d,
		Error:   fmt.Sprintf("icmp not permitted (%s refused): %s", tried, icmpPermissionHelp()),
		final:   true,
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
