package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/rating"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// tariffSource returns what prices CDRs for the daemon's pipeline, cdr
// import and rerate: the provisioning service's tariff plans (per tenant,
// inherited down the tree, and per DID). nil means nothing does: the
// pipeline and import store CDRs unpriced and rerate refuses to run.
// Tests replace it with a fake.
var tariffSource = func(svc *provisioning.Service) cdr.Tariffs { return serviceTariffs{svc} }

// serviceTariffs is the provisioning Service as the CDR side's Tariffs:
// a tenant or a number provisioning does not know has no plan
// (cdr.ErrNoTariff: the CDR is stored unpriced, not counted as a failed
// lookup), which is what a CDR of a deleted tenant or of a number that is
// no DID is.
type serviceTariffs struct{ svc *provisioning.Service }

func (t serviceTariffs) TenantTariff(ctx context.Context, tenantID int64) (*rating.Tariff, error) {
	tf, err := t.svc.TenantTariff(ctx, tenantID)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, fmt.Errorf("tenant %d: %w", tenantID, cdr.ErrNoTariff)
	}
	return tf, err
}

func (t serviceTariffs) DIDTariff(ctx context.Context, number string) (*rating.Tariff, int64, error) {
	tf, tenant, err := t.svc.DIDTariff(ctx, number)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, 0, fmt.Errorf("DID %s: %w", number, cdr.ErrNoTariff)
	}
	return tf, tenant, err
}

var _ cdr.SupplierTariffs = serviceTariffs{}

// GatewayTariff is a gateway's supplier plan (nil, nil: none), which
// prices the supplier cost of the legs it carried; a gateway provisioning
// no longer knows has none.
func (t serviceTariffs) GatewayTariff(ctx context.Context, name string) (*rating.Tariff, error) {
	tf, err := t.svc.GatewayTariffByName(ctx, name)
	if errors.Is(err, provisioning.ErrNotFound) {
		return nil, fmt.Errorf("gateway %s: %w", name, cdr.ErrNoTariff)
	}
	return tf, err
}
