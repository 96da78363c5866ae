package main

import (
	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// tariffSource returns what prices CDRs for the daemon's pipeline, cdr
// import and rerate: the provisioning service's tariff plans (per tenant
// and per DID) once it provides them. nil means nothing does: the
// pipeline and import store CDRs unpriced (no price, no reason) and
// rerate refuses to run. Tests replace it with a fake.
var tariffSource = func(svc *provisioning.Service) cdr.Tariffs { return nil }
