package probe

import (
	"fmt"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// What ICMP sockets need on Linux; icmp_other.go has the same for every
// other system.

// setICMPRcvBuf asks for icmpRcvBuf bytes of receive buffer on conn.
// SO_RCVBUFFORCE passes net.core.rmem_max for root (CAP_NET_ADMIN);
// otherwise SO_RCVBUF, which the kernel caps at rmem_max. A refusal of
// both leaves the kernel's default buffer: replies may be lost in a large
// sweep, but the socket still works.
func setICMPRcvBuf(conn *net.IPConn) {
	forced := false
	if rc, err := conn.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			forced = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, icmpRcvBuf) == nil
		})
	}
	if !forced {
		_ = conn.SetReadBuffer(icmpRcvBuf)
	}
}

// icmpPermissionHelp says what each ping mode needs from Linux, for the
// error of a ping the kernel refused.
func icmpPermissionHelp() string {
	return fmt.Sprintf("raw sockets (PING_MODE=privileged) need root or CAP_NET_RAW; "+
		"datagram ping (PING_MODE=unprivileged) needs the process's group (gid %d) inside net.ipv4.ping_group_range "+
		`(sysctl -w net.ipv4.ping_group_range="0 2147483647"); `+
		"PING_MODE=auto tries both; or set PING_MODE=tcp", os.Getegid())
}
