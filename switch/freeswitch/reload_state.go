package freeswitch

// Push states of gateways: whether a managed gateway reached the node.
// FreeSWITCH reads gateways from xml_curl when a profile starts or is
// rescanned, so "applied" means sofia has a gateway of that name after
// the rescan the Reloader sent for the change. Accounts have no such
// state: FreeSWITCH asks xml_curl for them on demand.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// GatewayPushStatus is how far a gateway change reached the node.
type GatewayPushStatus string

// The statuses of GatewayPushState.
const (
	// GatewayPending: the change waits for the Reloader's next round.
	GatewayPending GatewayPushStatus = "pending"
	// GatewayApplied: sofia has the gateway after the rescan.
	GatewayApplied GatewayPushStatus = "applied"
	// GatewayFailed: the rescan failed, or sofia has no gateway of that
	// name after it (a tls gateway on a profile without TLS, a name the
	// profile already uses for a gateway of its own…; FreeSWITCH's log
	// says which).
	GatewayFailed GatewayPushStatus = "failed"
)

// GatewayPushState is the push state of one managed gateway on the node.
// Error is FreeSWITCH's answer, or what was missing.
type GatewayPushState struct {
	Status GatewayPushStatus
	Error  string
	Since  time.Time // when the status last changed
}

// GatewayState returns the push state of gateway id since start; false
// when no change of it reached this Reloader (an observed gateway, or one
// unchanged since start: FreeSWITCH loaded it at its own start, if at
// all, which the live gateway status shows).
func (r *Reloader) GatewayState(id int64) (GatewayPushState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.states[id]
	return st, ok
}

// setState records gateway id's state; r.mu is held.
func (r *Reloader) setState(id int64, st GatewayPushStatus, errText string) {
	if old, ok := r.states[id]; ok && old.Status == st && old.Error == errText {
		return
	}
	r.states[id] = GatewayPushState{Status: st, Error: errText, Since: time.Now()}
}

// checkGateways records, after a round's rescan (ok, or failed with
// rescanErr), whether sofia has each gateway of check. A gateway missing
// at once is asked for again once, a KillSettle later: sofia adds
// gateways of a rescan in the same call, but a killed one leaves its
// hash a tick later.
func (r *Reloader) checkGateways(ctx context.Context, check map[int64]string, ok bool, rescanErr error) {
	if len(check) == 0 {
		return
	}
	results := make(map[int64]string, len(check)) // "" = found
	for id, name := range check {
		if !ok {
			results[id] = fmt.Sprintf("the rescan of profile %s failed: %v", r.cfg.GatewayProfile, rescanErr)
			continue
		}
		results[id] = r.lookGateway(ctx, name)
	}
	missing := false
	for _, e := range results {
		missing = missing || e != ""
	}
	if ok && missing && backoff.Sleep(ctx, min(r.cfg.KillSettle, time.Second)) {
		for id, e := range results {
			if e != "" {
				results[id] = r.lookGateway(ctx, check[id])
			}
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, e := range results {
		if r.pending.check[id] != "" || r.gateways[id] != check[id] {
			continue // changed again since, or deleted: the next round says
		}
		if e == "" {
			r.setState(id, GatewayApplied, "")
			continue
		}
		if old := r.states[id]; old.Status != GatewayFailed || old.Error != e {
			r.log.WarnContext(ctx, "freeswitch: gateway not applied", "gateway", check[id], "err", e)
		}
		r.setState(id, GatewayFailed, e)
	}
}

// lookGateway asks sofia for gateway name and returns "" when it has it,
// else what is wrong.
func (r *Reloader) lookGateway(ctx context.Context, name string) string {
	ans, err := r.cmd.API(ctx, "sofia xmlstatus gateway "+name)
	switch {
	case err != nil:
		return fmt.Sprintf("asking sofia for the gateway: %v", err)
	case strings.Contains(ans, "Invalid Gateway"):
		return fmt.Sprintf("sofia has no gateway %s after the rescan of profile %s (see FreeSWITCH's log: a tls gateway needs a TLS profile; "+
			"a gateway of that name defined in FreeSWITCH's own files wins)", name, r.cfg.GatewayProfile)
	case !strings.Contains(ans, "<gateway"):
		return fmt.Sprintf("unexpected answer to sofia xmlstatus gateway: %.120q", ans)
	}
	return ""
}
