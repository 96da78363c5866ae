package freeswitch

// Least-cost routing (provisioning.RouteOrderCost). The rendered
// context dials a least-cost route's gateways in their listed order;
// the live answer to a number such a route takes (dialled by a phone or
// run as an sb-o<number> label) renders that route alone, for this call,
// with its gateways in the order GatewayOrderer gives for the number as
// it leaves (after strip and prepend): the cheapest first, the next one
// only on congestion, through the same sb-r<route>g<i> failover labels
// as the listed order (the rendering has one for every gateway of a
// least-cost route, so any of them can come second). Nothing else of the
// tenant's context is rendered again.
//
//   - No gateway can carry the number (no supplier of the route rates
//     it): the call is hung up NO_ROUTE_DESTINATION (SIP 404 to a phone),
//     sb_lcr=unrated on the channel for the CDR.
//   - The orderer fails or takes longer than lcrTimeout (its database):
//     the route's listed order, sb_lcr=listed. Least-cost routing never
//     holds a call up; the first failure is logged, and the recovery,
//     not every call.
//   - While Switchboard cannot be reached, the fallback file dials the
//     listed order (it is rendered without prices).
//
// Emergency routes are never ordered by cost: they keep their listed
// order and are never refused. External numbers rung as a hunt group
// member or a follow-me step ring their route's gateways in the listed
// order: those rings are rendered in the tenant's context, not per call.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// GatewayOrderer orders a least-cost route's gateways for one number
// ((*provisioning.Service).GatewaysByCost implements it): the cheapest
// first, gateways without a supplier plan after them in the listed
// order, and none whose supplier has no rate for number (an empty list:
// nothing can carry it).
type GatewayOrderer interface {
	GatewaysByCost(ctx context.Context, gatewayIDs []int64, number string, at time.Time) ([]provisioning.GatewayCost, error)
}

// lcrTimeout bounds the orderer's answer: past it the call goes out in
// the listed order, well before mod_xml_curl's own timeout would send
// FreeSWITCH to the fallback file.
const lcrTimeout = time.Second

// The outcomes of a least-cost lookup: the channel's sb_lcr variable and
// the label of switchboard_freeswitch_lcr_lookups_total.
const (
	lcrCost    = "cost"    // ordered by cost
	lcrListed  = "listed"  // the orderer failed: the listed order
	lcrUnrated = "unrated" // no supplier rates the number: refused
)

// lcrOrder orders least-cost routes for the xml_curl answers.
type lcrOrder struct {
	orderer GatewayOrderer
	now     func() time.Time
	timeout time.Duration // lcrTimeout
	log     *slog.Logger
	// failing: the last lookup failed (the failure is logged once).
	failing atomic.Bool
	lookups *prometheus.CounterVec
}

// newLCROrder returns the ordering of a node's answers, its counter
// registered with reg when reg is not nil (an existing one of the same
// node is reused).
func newLCROrder(o GatewayOrderer, node string, reg prometheus.Registerer, log *slog.Logger) *lcrOrder {
	l := &lcrOrder{orderer: o, now: time.Now, timeout: lcrTimeout, log: log}
	l.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "switchboard", Subsystem: "freeswitch", Name: "lcr_lookups_total",
		Help:        "Calls through a least-cost outbound route, by outcome: cost (gateways ordered by their suppliers' rates), listed (the ordering failed: listed order), unrated (no supplier rates the number: refused).",
		ConstLabels: prometheus.Labels{"switch": node},
	}, []string{"outcome"})
	for _, o := range []string{lcrCost, lcrListed, lcrUnrated} {
		l.lookups.WithLabelValues(o)
	}
	if reg != nil {
		if err := reg.Register(l.lookups); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) {
				if c, ok := dup.ExistingCollector.(*prometheus.CounterVec); ok {
					l.lookups = c
				}
			} else {
				log.Warn("freeswitch: least-cost routing metric not registered", "switch", node, "err", err)
			}
		}
	}
	return l
}

// order returns rt's gateways (indexes into rt.GatewayIDs, those of the
// plan only) in the order to dial number, as it leaves, and the outcome.
func (l *lcrOrder) order(ctx context.Context, p *provisioning.Plan, rt *provisioning.OutboundRoute, number string) ([]int, string) {
	octx, cancel := context.WithTimeout(ctx, l.timeout)
	costs, err := l.orderer.GatewaysByCost(octx, rt.GatewayIDs, number, l.now())
	cancel()
	if err != nil {
		if l.failing.CompareAndSwap(false, true) {
			l.log.WarnContext(ctx, "freeswitch: least-cost routing failed, routing calls in the routes' listed order until it works again",
				"tenant", p.Tenant.ID, "route", rt.ID, "err", err)
		}
		l.lookups.WithLabelValues(lcrListed).Inc()
		var order []int
		for _, i := range listedOrder(rt) {
			if p.Gateways[rt.GatewayIDs[i]] != nil {
				order = append(order, i)
			}
		}
		return order, lcrListed
	}
	if l.failing.CompareAndSwap(true, false) {
		l.log.InfoContext(ctx, "freeswitch: least-cost routing works again")
	}
	index := make(map[int64]int, len(rt.GatewayIDs))
	for i, id := range rt.GatewayIDs {
		index[id] = i
	}
	order := make([]int, 0, len(costs))
	for _, c := range costs {
		i, ok := index[c.GatewayID]
		if !ok || p.Gateways[c.GatewayID] == nil {
			continue // not the route's, or gone from the plan
		}
		delete(index, c.GatewayID) // each once
		order = append(order, i)
	}
	if len(order) == 0 {
		l.lookups.WithLabelValues(lcrUnrated).Inc()
		return nil, lcrUnrated
	}
	l.lookups.WithLabelValues(lcrCost).Inc()
	return order, lcrCost
}

// lcrVar is the set that records the outcome (and the gateways in the
// order dialled) on the channel, for its CDR.
func lcrVar(p *provisioning.Plan, rt *provisioning.OutboundRoute, order []int, outcome string) act {
	names := make([]string, len(order))
	for k, i := range order {
		names[k] = p.Gateways[rt.GatewayIDs[i]].Name
	}
	v := outcome
	if len(names) > 0 {
		v += ":" + strings.Join(names, ",")
	}
	return act{app: "set", data: "sb_lcr=" + v}
}
