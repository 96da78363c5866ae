package sip

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
)

// enableICMPErrors asks the kernel to report ICMP errors on the unconnected
// socket (IP_RECVERR): without it Linux reports them only on connected
// sockets, and a probe to a closed port could only time out.
func enableICMPErrors(c *net.UDPConn) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_RECVERR, 1)
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IPV6, syscall.IPV6_RECVERR, 1)
	})
}

// isICMPError reports whether a read failed because an ICMP error is
// pending on the socket.
func isICMPError(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.EHOSTDOWN:
		return true
	}
	return false
}

// drainICMPErrors reads the socket's error queue: each entry names the
// destination of the datagram that drew the ICMP error (msg_name) and the
// error (sock_extended_err.ee_errno, the first 4 bytes of the control
// message).
func (c *probeConn) drainICMPErrors() {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	var buf [64]byte
	var oob [256]byte
	_ = rc.Read(func(fd uintptr) bool {
		for range 64 { // bounded: a flood of errors must not starve responses
			_, oobn, _, from, err := syscall.Recvmsg(int(fd), buf[:], oob[:], syscall.MSG_ERRQUEUE|syscall.MSG_DONTWAIT)
			if err != nil {
				return true // EAGAIN: queue empty
			}
			c.reportICMP(from, oob[:oobn])
		}
		return true
	})
}

func (c *probeConn) reportICMP(from syscall.Sockaddr, oob []byte) {
	var dest netip.AddrPort
	switch sa := from.(type) {
	case *syscall.SockaddrInet4:
		dest = netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *syscall.SockaddrInet6:
		dest = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port))
	default:
		return
	}
	errno := syscall.ECONNREFUSED
	if msgs, err := syscall.ParseSocketControlMessage(oob); err == nil {
		for _, m := range msgs {
			isErr := (m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_RECVERR) ||
				(m.Header.Level == syscall.IPPROTO_IPV6 && m.Header.Type == syscall.IPV6_RECVERR)
			if isErr && len(m.Data) >= 4 {
				errno = syscall.Errno(binary.NativeEndian.Uint32(m.Data[:4]))
			}
		}
	}
	if c.unreachable != nil {
		c.unreachable(dest, errno)
	}
}
