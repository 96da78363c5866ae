// Package sip is Switchboard's own SIP prober, built on sipgo. A switch
// says whether its gateways and phones are reachable, but only from where
// the switch stands and only as often as it bothers to ask; the Prober asks
// for itself:
//
//   - OPTIONS qualify of every gateway, of each switch's SIP listener and,
//     where a domain opts in, of each registered contact (Target), on an
//     interval per target, over UDP, TCP or TLS;
//   - a synthetic registration per switch (RegisterCheck): a probe account
//     REGISTERs with digest authentication, then un-REGISTERs.
//
// Results are kept in memory (Results, Result, RegisterResults), exported
// as Prometheus series (RegisterMetrics) and written into the presence
// view under source "sip" (WatchPresence).
//
// # Liveness rules
//
// Any final response proves the target alive: 200, but also 401, 403, 404,
// 405 (a gateway that does not implement OPTIONS) and 5xx. A 503 from a
// gateway means alive but overloaded; the prober reports it reachable with
// Code 503 and leaves the routing decision to the caller. Only silence
// (timeout), an ICMP error (port or host unreachable, seen on UDP as
// "connection refused") and a transport error (TCP refused, TLS handshake
// failure) count as misses. Misses consecutive misses turn a target
// unreachable; one answer turns it back. An answer slower than LagThreshold
// is "lagged", which is still up.
//
// # Scale
//
// One sipgo UserAgent carries every probe. UDP uses one bound socket for
// all requests and responses, whatever the number of targets; TCP and TLS
// keep one connection per remote address, reused across probes. The
// scheduler is a heap of due times: each target is probed at a fixed phase
// of its interval (a hash of its kind and name), so 10,000 targets at 30 s
// are spread evenly instead of bursting, and a restart keeps the phases.
// Probe state is updated in place: nothing a probe allocates is kept.
package sip
