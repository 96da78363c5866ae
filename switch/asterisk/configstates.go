package asterisk

// Push states per account and gateway: the states of the PJSIP objects
// each of them maps to, summed up for the API (one state per switch).

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// StatePending: a change of the account or gateway is queued for the
// pusher's worker, or the pusher has not pushed it since start (the node
// was not reached yet).
const StatePending PushState = "pending"

// UnitState is the push state of one account or gateway on the pusher's
// node: the worst state of its objects (failed, then conflict, then
// not_applied, then applied), the error of the object in that state, and
// the latest change of any of them. Objects lists each object's own state.
type UnitState struct {
	State   PushState
	Error   string
	Since   time.Time
	Objects []ObjectState
}

// AccountState returns the push state of account id; false when the
// pusher was never given the account (another domain's, or not yet read).
func (p *ConfigPusher) AccountState(id int64) (UnitState, bool) {
	return p.unitState(kindAccount + ":" + strconv.FormatInt(id, 10))
}

// GatewayState returns the push state of gateway id; false when the
// pusher was never given the gateway, or the gateway is observed.
func (p *ConfigPusher) GatewayState(id int64) (UnitState, bool) {
	return p.unitState(kindGateway + ":" + strconv.FormatInt(id, 10))
}

// stateRank orders states from best to worst.
func stateRank(s PushState) int {
	switch s {
	case StateApplied:
		return 0
	case StatePending:
		return 1
	case StateNotApplied:
		return 2
	case StateConflict:
		return 3
	case StateFailed:
		return 4
	}
	return 1
}

func (p *ConfigPusher) unitState(key string) (UnitState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.unitStateLocked(key)
}

// unitStateLocked is unitState with p.mu held.
func (p *ConfigPusher) unitStateLocked(key string) (UnitState, bool) {
	refs, known := p.sources[key]
	_, queued := p.pending[key]
	if !known && !queued {
		return UnitState{}, false
	}
	u := UnitState{State: StateApplied}
	missing := len(refs) == 0
	for _, r := range refs {
		st, ok := p.states[r]
		if !ok { // not tried: an earlier object stopped the push
			missing = true
			continue
		}
		u.Objects = append(u.Objects, st)
		if st.Since.After(u.Since) {
			u.Since = st.Since
		}
		if stateRank(st.State) > stateRank(u.State) {
			u.State, u.Error = st.State, st.Error
			if st.State == StateConflict {
				u.Error = "res_pjsip/" + st.Ref.String() + " exists on the switch and is not Switchboard's (pjsip.conf or another tool)"
			}
		}
	}
	if missing && u.State == StateApplied {
		u.State = StatePending
	}
	if queued { // what the node holds is the previous version
		u.State, u.Error = StatePending, ""
	}
	slices.SortFunc(u.Objects, func(a, b ObjectState) int { return typeRank(a.Ref.Type) - typeRank(b.Ref.Type) })
	return u, true
}

// MetricPushStates is the gauge of accounts and gateways on the pusher's
// node by push state (label state: applied, pending, failed,
// not_applied, conflict) and kind; every pair is exported, at 0 when
// none, so that an alert on failed or conflict sees the first one.
const MetricPushStates = "switchboard_config_push_states"

// pushStateOrder lists the states MetricPushStates exports.
var pushStateOrder = []PushState{StateApplied, StatePending, StateFailed, StateNotApplied, StateConflict}

// pusherCollector exports MetricPushFailures and MetricPushStates.
type pusherCollector struct {
	p      *ConfigPusher
	states *prometheus.Desc
}

func (c pusherCollector) Describe(ch chan<- *prometheus.Desc) {
	c.p.failures.Describe(ch)
	ch <- c.states
}

func (c pusherCollector) Collect(ch chan<- prometheus.Metric) {
	c.p.failures.Collect(ch)
	counts := map[string]map[PushState]int{kindAccount: {}, kindGateway: {}}
	c.p.mu.Lock()
	keys := make(map[string]bool, len(c.p.sources)+len(c.p.pending))
	for k := range c.p.sources {
		keys[k] = true
	}
	for k := range c.p.pending {
		keys[k] = true
	}
	for k := range keys {
		kind, _, _ := strings.Cut(k, ":")
		if u, ok := c.p.unitStateLocked(k); ok && counts[kind] != nil {
			counts[kind][u.State]++
		}
	}
	c.p.mu.Unlock()
	for _, kind := range []string{kindAccount, kindGateway} {
		for _, st := range pushStateOrder {
			ch <- prometheus.MustNewConstMetric(c.states, prometheus.GaugeValue, float64(counts[kind][st]), kind, string(st))
		}
	}
}
