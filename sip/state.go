package sip

import (
	"net/http"
	"strings"
	"time"
)

// Status is a target's reachability as the prober last decided it.
type Status string

// The statuses. Lagged is up: it answered, only slower than LagThreshold.
const (
	StatusReachable   Status = "reachable"
	StatusUnreachable Status = "unreachable"
	StatusLagged      Status = "lagged"
	StatusUnknown     Status = "unknown" // not probed yet, or fewer misses than Config.Misses since start
)

// Up reports whether s counts as up: reachable or lagged.
func (s Status) Up() bool { return s == StatusReachable || s == StatusLagged }

// Result is the latest word on one target.
type Result struct {
	Target
	Status     Status
	Code       int           // last SIP response code; 0 after a timeout or transport error
	Reason     string        // last reason phrase, or the error ("timeout", "connection refused")
	RTT        time.Duration // round trip of the last answered probe
	Misses     int           // consecutive unanswered probes
	LastProbe  time.Time
	LastChange time.Time // when Status last changed
}

// The reasons of unanswered probes.
const (
	reasonTimeout = "timeout"
	reasonRefused = "connection refused"
)

// outcome is what one probe learnt.
type outcome struct {
	answered bool
	code     int
	reason   string
	rtt      time.Duration
	kind     probeResult // for the probes_total counter
}

// probeResult is the result label of switchboard_sip_probes_total.
type probeResult int

const (
	resultAnswered probeResult = iota
	resultTimeout
	resultError
	numResults
)

func (r probeResult) String() string {
	return [...]string{"answered", "timeout", "error"}[r]
}

func answered(code int, reason string, rtt time.Duration) outcome {
	return outcome{answered: true, code: code, reason: reason, rtt: rtt, kind: resultAnswered}
}

func missed(kind probeResult, reason string) outcome {
	return outcome{kind: kind, reason: reason}
}

// apply records o, a probe that ended at now, into r and reports whether
// Status changed. It is the whole hysteresis: any answer makes the target
// reachable (lagged when slower than lag) at once, and it takes misses
// consecutive misses to make it unreachable. A target that has never
// answered stays unknown until then, so a daemon restart does not report
// every gateway down after one lost datagram.
func (r *Result) apply(o outcome, now time.Time, misses int, lag time.Duration) bool {
	prev := r.Status
	r.LastProbe = now
	if o.answered {
		r.Misses = 0
		r.Code = o.code
		r.Reason = o.reason
		r.RTT = o.rtt
		r.Status = StatusReachable
		if o.rtt > lag {
			r.Status = StatusLagged
		}
	} else {
		r.Misses++
		r.Code = 0
		r.Reason = o.reason
		if r.Misses >= misses {
			r.Status = StatusUnreachable
		} else if r.Status == "" {
			r.Status = StatusUnknown
		}
	}
	if r.Status != prev {
		r.LastChange = now
		return true
	}
	return false
}

// reasonPhrase returns the reason to keep for a response: the standard
// phrase for its code when the peer used it (a constant, so that keeping
// it does not pin the parsed message in memory), else a copy of the
// peer's, capped in length.
func reasonPhrase(code int, reason string) string {
	if std := http.StatusText(code); std != "" && strings.EqualFold(std, reason) {
		return std
	}
	if std := sipReasons[code]; std != "" && strings.EqualFold(std, reason) {
		return std
	}
	return capReason(reason)
}

// capReason copies s, at most 120 bytes of it: a reason is kept per target
// until the next probe and must not hold a large buffer alive.
func capReason(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.Clone(s)
}

// sipReasons are the RFC 3261 phrases that differ from HTTP's.
var sipReasons = map[int]string{
	100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
	183: "Session Progress", 200: "OK", 202: "Accepted", 380: "Alternative Service",
	401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
	407: "Proxy Authentication Required", 408: "Request Timeout", 420: "Bad Extension",
	480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist", 482: "Loop Detected",
	483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here", 487: "Request Terminated",
	488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending", 500: "Server Internal Error",
	501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Server Time-out",
	513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
	606: "Not Acceptable",
}
