//go:build !linux

package sip

import "net"

// enableICMPErrors is Linux only: elsewhere a probe to a closed UDP port
// times out.
func enableICMPErrors(*net.UDPConn) {}

func isICMPError(error) bool { return false }

func (c *probeConn) drainICMPErrors() {}
