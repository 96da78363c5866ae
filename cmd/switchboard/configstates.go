package main

import (
	"sync"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// configStates is api.ConfigStates over the switches' pushers: for each
// configured switch that serves an account or gateway, how far it got
// there. Switches are added as startSwitches builds them.
type configStates struct {
	mu       sync.RWMutex
	switches []switchStates
}

// switchStates is one switch: an Asterisk node's pusher, or a FreeSWITCH
// node's Reloader and the presence view that lists the node's gateways.
type switchStates struct {
	name, domain string
	pusher       *asterisk.ConfigPusher
	reloader     *freeswitch.Reloader
	view         *presence.View
}

var _ api.ConfigStates = (*configStates)(nil)

func (c *configStates) add(s switchStates) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.switches = append(c.switches, s)
}

func (c *configStates) list() []switchStates {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.switches
}

// AccountStates: an Asterisk node serving the account's domain (or every
// domain) has it pushed; a FreeSWITCH node asks for it on demand.
func (c *configStates) AccountStates(a *provisioning.Account) []api.ConfigState {
	var out []api.ConfigState
	for _, sw := range c.list() {
		if sw.domain != "" && a.Domain != sw.domain { // as domainSink
			continue
		}
		if sw.pusher == nil {
			out = append(out, api.ConfigState{Switch: sw.name, Status: api.ConfigOnDemand})
			continue
		}
		u, ok := sw.pusher.AccountState(a.ID)
		out = append(out, asteriskState(sw.name, u, ok))
	}
	return out
}

// GatewayStates: every switch carries every managed gateway; an observed
// one has no state.
func (c *configStates) GatewayStates(g *provisioning.Gateway) []api.ConfigState {
	if g.Observed {
		return nil
	}
	var out []api.ConfigState
	for _, sw := range c.list() {
		if sw.pusher != nil {
			u, ok := sw.pusher.GatewayState(g.ID)
			out = append(out, asteriskState(sw.name, u, ok))
			continue
		}
		if st, ok := sw.reloader.GatewayState(g.ID); ok {
			out = append(out, api.ConfigState{Switch: sw.name, Status: api.ConfigStatus(st.Status), Error: st.Error, Since: st.Since})
			continue
		}
		// Not changed since Switchboard started: FreeSWITCH loaded it
		// (or not) at its own start; its live gateways say which.
		st := api.ConfigState{Switch: sw.name, Status: api.ConfigApplied}
		if len(sw.view.Gateways(presence.GatewayQuery{Names: []string{g.Name}, Switch: sw.name})) == 0 {
			st.Status = api.ConfigNotApplied
			st.Error = "FreeSWITCH reports no sofia gateway " + g.Name + " (sofia reads gateways at profile start and on a rescan, which Switchboard sends on every change of a gateway)"
		}
		out = append(out, st)
	}
	return out
}

// asteriskState maps an Asterisk pusher's state; ok false (never given
// to the pusher since start) is pending.
func asteriskState(name string, u asterisk.UnitState, ok bool) api.ConfigState {
	if !ok {
		return api.ConfigState{Switch: name, Status: api.ConfigPending}
	}
	st := api.ConfigState{Switch: name, Error: u.Error, Since: u.Since}
	switch u.State {
	case asterisk.StateApplied:
		st.Status = api.ConfigApplied
	case asterisk.StateFailed:
		st.Status = api.ConfigFailed
	case asterisk.StateNotApplied:
		st.Status = api.ConfigNotApplied
	case asterisk.StateConflict:
		st.Status = api.ConfigConflict
	default:
		st.Status = api.ConfigPending
	}
	return st
}
