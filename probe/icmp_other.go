//go:build !linux

package probe

import "net"

// What ICMP sockets need on systems other than Linux (macOS, the BSDs,
// Windows); icmp_linux.go has Linux's. The ping modes behave as on Linux:
// a socket the system refuses for lack of permission makes the ping
// unsupported, and PingAuto falls back from raw to datagram sockets.

// setICMPRcvBuf asks for icmpRcvBuf bytes of receive buffer on conn with
// SO_RCVBUF alone: SO_RCVBUFFORCE is Linux's. The system may grant less
// (macOS caps it at kern.ipc.maxsockbuf) or refuse; either leaves a
// working socket that may lose replies in a large sweep.
func setICMPRcvBuf(conn *net.IPConn) {
	_ = conn.SetReadBuffer(icmpRcvBuf)
}

// icmpPermissionHelp says what each ping mode needs here, for the error of
// a ping the system refused. There is no sysctl to name: macOS gives
// every user datagram ICMP sockets, and Windows gives nobody them.
func icmpPermissionHelp() string {
	return "raw sockets (PING_MODE=privileged) need root (an administrator on Windows); " +
		"datagram ping (PING_MODE=unprivileged) needs a system that offers it, as macOS does to every user; " +
		"PING_MODE=auto tries both; or set PING_MODE=tcp"
}
