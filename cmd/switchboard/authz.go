package main

import (
	"github.com/switchboard-voip/switchboard/provisioning/authz"
)

// newAuthorizer is the daemon's call authorizer (provisioning/authz) over
// the provisioning tariffs and limits and the CDR store's balances; its
// refusal metrics are registered on reg.
//
// Not yet asked by any switch: the wiring of the switches
// (freeswitch.XMLCurlConfig.Authorizer/Node/AuthzFailClosed, the
// Asterisk PushOptions.Authz URL with authz.Handler mounted on the main
// listener, the pipeline's Writer wrapped in authz.ReleaseOnStore) and of the
// billing settings (authz.BillingCredit(c.svc) once BillingPolicy is merged: until then every tenant is
// prepaid) come with the node configuration of the lead's merge.
func newAuthorizer(c *components) *authz.Authorizer {
	a := authz.New(c.svc, authz.StoreBalances(c.cdrStore), nil, authz.ProvisioningLimits(c.svc), nil, authz.Config{})
	c.reg.MustRegister(a.Collector())
	return a
}
