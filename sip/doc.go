// Package sip is Switchboard's own SIP stack, built on sipgo: OPTIONS
// probing of gateways, switches and phones, and synthetic checks
// (REGISTER, INVITE) run against the managed switch. It feeds the presence
// view like the switch adapters do.
//
// The package is laid out here so the import graph is visible from the
// start; its probes arrive with the SIP issue.
package sip
