package freeswitch

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// serviceDirectory is the Directory of a provisioning Service, read with
// the admin scope: FreeSWITCH serves every tenant's domains.
type serviceDirectory struct{ svc *provisioning.Service }

var _ Directory = serviceDirectory{}

// ServiceDirectory adapts the provisioning Service to Directory. Every
// read goes to the store: an xml_curl answer must reflect a change the
// moment it is committed (a new account registers at once, a changed
// secret is refused at once), and a sip_auth lookup is two indexed reads.
func ServiceDirectory(svc *provisioning.Service) Directory { return serviceDirectory{svc: svc} }

// xmlGatewayPage is how many gateways one read returns; a variable so that
// tests can page with few gateways.
var xmlGatewayPage = provisioning.MaxLimit

func (d serviceDirectory) AccountByUsername(ctx context.Context, domain, username string) (*provisioning.Account, error) {
	a, err := d.svc.AccountByUsername(ctx, provisioning.AdminScope(), domain, username)
	if err != nil {
		return nil, fmt.Errorf("freeswitch: directory: account %s@%s: %w", username, domain, err)
	}
	return a, nil
}

func (d serviceDirectory) Gateways(ctx context.Context) ([]provisioning.Gateway, error) {
	var all []provisioning.Gateway
	page := provisioning.Page{Limit: xmlGatewayPage}
	for {
		gws, err := d.svc.Gateways(ctx, provisioning.AdminScope(), provisioning.GatewayFilter{Page: page})
		if err != nil {
			return nil, fmt.Errorf("freeswitch: directory: gateways: %w", err)
		}
		all = append(all, gws...)
		if len(gws) < page.Limit {
			return all, nil
		}
		page.After = gws[len(gws)-1].ID
	}
}

func (d serviceDirectory) RouteDID(ctx context.Context, number string) (*provisioning.Account, error) {
	did, err := d.svc.DIDByNumber(ctx, provisioning.AdminScope(), number)
	if err != nil {
		return nil, fmt.Errorf("freeswitch: directory: DID %s: %w", number, err)
	}
	if did.AccountID == nil {
		return nil, fmt.Errorf("freeswitch: directory: DID %s routes nowhere: %w", number, provisioning.NotFound("did route", number))
	}
	a, err := d.svc.Account(ctx, provisioning.AdminScope(), *did.AccountID)
	if err != nil {
		return nil, fmt.Errorf("freeswitch: directory: account of DID %s: %w", number, err)
	}
	return a, nil
}

func (d serviceDirectory) DomainExists(ctx context.Context, domain string) (bool, error) {
	_, err := d.svc.DomainByName(ctx, provisioning.AdminScope(), domain)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, provisioning.ErrNotFound):
		return false, nil
	}
	return false, fmt.Errorf("freeswitch: directory: domain %s: %w", domain, err)
}
