package api

import (
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// ConfigStatus is how far an account's or gateway's configuration
// reached one switch.
type ConfigStatus string

// The statuses of ConfigState.
const (
	// ConfigApplied: the switch holds the object as provisioned (Asterisk:
	// every PJSIP object pushed; FreeSWITCH: sofia has the gateway after
	// the rescan, or had it since the switch loaded it).
	ConfigApplied ConfigStatus = "applied"
	// ConfigPending: a change is on its way, or the switch has not been
	// reached since Switchboard started.
	ConfigPending ConfigStatus = "pending"
	// ConfigFailed: the switch refused the object (Error has its answer)
	// or could not be reached.
	ConfigFailed ConfigStatus = "failed"
	// ConfigNotApplied: part of a gateway failed, so none of it was left
	// on the switch (Asterisk); or the switch has no gateway of that name
	// (FreeSWITCH, when no push since start says more).
	ConfigNotApplied ConfigStatus = "not_applied"
	// ConfigConflict: the switch has an object of that name that is not
	// Switchboard's (pjsip.conf, another tool); it was left alone.
	ConfigConflict ConfigStatus = "conflict"
	// ConfigOnDemand: the switch asks Switchboard for the object when it
	// needs it (FreeSWITCH accounts, through xml_curl): nothing is pushed.
	ConfigOnDemand ConfigStatus = "on_demand"
)

// ConfigStatuses lists every ConfigStatus, for documentation.
var ConfigStatuses = []string{string(ConfigApplied), string(ConfigPending), string(ConfigFailed),
	string(ConfigNotApplied), string(ConfigConflict), string(ConfigOnDemand)}

// ConfigState is an account's or gateway's push state on one switch.
// Error is the switch's answer (or what was wrong) when the status is
// not applied; it may name the switch's internal addresses, so dialects
// show it to admins only. Since is when the status last changed (zero
// when unknown).
type ConfigState struct {
	Switch string
	Status ConfigStatus
	Error  string
	Since  time.Time
}

// ConfigStates reads the push state of accounts and gateways on every
// configured switch that serves them. Declared here, for the dialects,
// in plain fields: the daemon adapts the switch packages' pushers to it
// (cmd/switchboard). An observed gateway has no state: it is never
// pushed.
type ConfigStates interface {
	AccountStates(a *provisioning.Account) []ConfigState
	GatewayStates(g *provisioning.Gateway) []ConfigState
}
