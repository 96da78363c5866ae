package sip

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
)

// probeConn is the prober's one UDP socket as sipgo sees it. It changes two
// things about a plain socket, both so that memory does not grow with the
// number of peers ever probed:
//
//   - every datagram that is not a SIP response is dropped before sipgo
//     parses it: the prober serves no requests, and sipgo would otherwise
//     keep a connection-pool entry per source address;
//   - responses are reported as coming from the socket's own address.
//     sipgo matches a response to its transaction by Via branch, never by
//     source, but it remembers every source address it has read from, in a
//     map that lives as long as the socket: contacts behind NAT change
//     ports all day, so that map would only grow.
//
// It also turns ICMP errors into answers (on Linux, see udp_linux.go): a
// "port unreachable" for a destination fails the probes in flight to it at
// once, as "connection refused", instead of leaving them to time out; and
// an ICMP error is never handed to sipgo, whose read loop would stop.
type probeConn struct {
	*net.UDPConn
	self net.Addr
	// unreachable is told of each ICMP error: the destination of the
	// datagram that caused it and the error (syscall.ECONNREFUSED, …).
	unreachable func(dest netip.AddrPort, err error)
}

func newProbeConn(c *net.UDPConn, unreachable func(netip.AddrPort, error)) *probeConn {
	pc := &probeConn{UDPConn: c, self: c.LocalAddr(), unreachable: unreachable}
	enableICMPErrors(c)
	return pc
}

var sipResponsePrefix = []byte("SIP/2.0 ")

// ReadFrom returns the next SIP response read from the socket, with the
// socket's own address as source (see probeConn).
func (c *probeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, _, err := c.UDPConn.ReadFrom(b)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return n, nil, err
			}
			if isICMPError(err) {
				c.drainICMPErrors()
				continue
			}
			return n, nil, err
		}
		if !bytes.HasPrefix(b[:n], sipResponsePrefix) {
			continue
		}
		return n, c.self, nil
	}
}
