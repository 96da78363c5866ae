package asterisk

// Push states per account and gateway: the states of the PJSIP objects
// each of them maps to, summed up for the API (one state per switch).

import (
	"slices"
	"strconv"
	"time"
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
