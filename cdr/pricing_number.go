package cdr

import "strings"

// sentNumber is the number an outbound leg is priced on: the number it
// was sent to its gateway as, the part of Destination before
// "@<Gateway>" (both switch adapters write a gateway leg's destination so,
// from the Dial or bridge target, after the outbound route's strip and
// prepend), else Dialed. A phone dials 0033…, the route sends +33…: the
// real-time authorizer rates the number as sent (provisioning/authz), so
// the CDR must too, or a call authorized and cut at the second its money
// allowed would be stored unpriced (no_rate, seen live on FreeSWITCH) or
// at another rate.
func sentNumber(r *Record) string {
	if r.Gateway == "" {
		return r.Dialed
	}
	if n, ok := strings.CutSuffix(r.Destination, "@"+r.Gateway); ok && n != "" {
		return n
	}
	return r.Dialed
}
