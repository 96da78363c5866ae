package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/authz"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
)

// newAuthorizer is the daemon's call authorizer (provisioning/authz) over
// the provisioning tariffs, billing settings and limits and the CDR
// store's balances; its refusal metrics are registered on c.reg. The
// switches whose node sets authz ask it (startSwitches); the pipeline
// releases each call's reservation when its CDR is stored; spending per
// period (cost limits) is the priced CDRs' sum plus the live reservations.
// Its reservations are journaled in the CDR store (authz_reservations),
// written behind by the "authz journal" component and restored at start
// by restoreAuthz.
func newAuthorizer(c *components) *authz.Authorizer {
	a := authz.New(c.svc, authz.StoreBalances(c.cdrStore), authz.BillingCredit(c.svc), authz.ProvisioningLimits(c.svc),
		authz.StoreSpending(c.cdrStore, c.svc, c.svc), authz.Config{Whitelists: c.svc, Journal: c.cdrStore, Log: c.log})
	c.reg.MustRegister(a.Collector())
	return a
}

// restoreAuthz gives the authorizer back the reservations of the calls
// its switches still carry from the last run (a restart, a crash), so
// that their concurrent slots and money count from the first new call.
// runServe calls it before the CDR pipeline runs and the switches
// connect. Only the configured switches' reservations are read: daemons
// sharing a database each restore their own nodes'.
func restoreAuthz(ctx context.Context, cfg Config, a *authz.Authorizer, log *slog.Logger) error {
	if len(cfg.Switches) == 0 {
		return nil
	}
	names := make([]string, len(cfg.Switches))
	for i, sw := range cfg.Switches {
		names[i] = sw.Name
	}
	n, err := a.Restore(ctx, names)
	if err != nil {
		return err
	}
	if n > 0 {
		log.Info("authorization: restored the reservations of live calls", "calls", n)
	}
	return nil
}

// authzHandler is the endpoint an Asterisk node's dialplan asks with
// CURL(): the least-cost order of its routes ordered by cost
// (asterisk.LCRHandler, /lcr) and, when authorize (the node sets authz),
// the call authorization (asterisk.AuthzOptions, /authorize, /release).
// Loopback peers only, since it has no credentials of its own and a
// refusal or a reservation is all it does.
func authzHandler(svc *provisioning.Service, a *authz.Authorizer, prefix string, authorize bool) http.Handler {
	var next http.Handler // without authz: 404
	if authorize {
		next = authz.Handler{A: a, Users: authz.ProvisioningAccountUsers(svc)}
	}
	h := http.StripPrefix(prefix, asterisk.LCRHandler{Source: svc, Next: next})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			http.Error(w, "forbidden: the authorization endpoint answers loopback peers only", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// The node key authz: how a node's calls through gateways are authorized.
const (
	authzFailOpen   = "fail_open"   // asked; dialled without a limit when Switchboard does not answer
	authzFailClosed = "fail_closed" // asked; refused when Switchboard does not answer
)

// fsAuthorizer is what a FreeSWITCH node's xml_curl answers ask: nil (no
// authorization) unless the node sets authz.
func fsAuthorizer(sw SwitchConfig, a *authz.Authorizer) freeswitch.CallAuthorizer {
	if sw.Authz == "" || a == nil {
		return nil
	}
	return a
}
