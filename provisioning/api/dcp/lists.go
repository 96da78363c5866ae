package dcp

import (
	"context"
	"errors"
	"strings"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

var (
	errNoPresence = errors.New("dcp: no presence view configured")
	errNoCDRs     = errors.New("dcp: no CDR store configured")
)

func (h *handler) domainList(ctx context.Context, c *call) (*result, error) {
	f := provisioning.DomainFilter{Page: pageOf(c.p)}
	ds, err := h.svc.Domains(ctx, c.sc, f)
	if err != nil {
		return nil, err
	}
	out := make([]domainView, len(ds))
	for i := range ds {
		out[i] = viewDomain(&ds[i])
	}
	res := &result{data: out}
	if len(ds) == f.Limit {
		err := setNext(res, ds[len(ds)-1].ID, func(after int64) (int, error) {
			f.After, f.Limit = after, 1
			more, err := h.svc.Domains(ctx, c.sc, f)
			return len(more), err
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// scopeDomains returns the domains a live-state query may cover: the dcp
// parameter's domain when given (501 when out of scope), else every
// domain of the caller's scope (nil for an admin: no filter). none is
// true when a tenant owns no domain at all, so there is nothing to ask.
func (h *handler) scopeDomains(ctx context.Context, c *call) (one string, all []string, none bool, err error) {
	if name := c.p.get("dcp"); name != "" {
		d, err := h.domain(ctx, c.sc, name)
		if err != nil {
			return "", nil, false, err
		}
		return d.Name, nil, false, nil
	}
	all, err = api.ScopeDomains(ctx, h.svc, c.sc)
	if err != nil {
		return "", nil, false, err
	}
	return "", all, all != nil && len(all) == 0, nil
}

func (h *handler) onlineList(ctx context.Context, c *call) (*result, error) {
	if h.presence == nil {
		return nil, errNoPresence
	}
	one, all, none, err := h.scopeDomains(ctx, c)
	if err != nil {
		return nil, err
	}
	out := []onlineView{}
	if none {
		return &result{data: out}, nil
	}
	regs, next := h.presence.Registrations(presence.RegistrationQuery{
		Domain: one, Domains: all, User: c.p.get("phonenumber"), After: c.p.get("cursor"), Limit: limitOf(c.p),
	})
	for i := range regs {
		out = append(out, viewOnline(&regs[i]))
	}
	return &result{data: out, next: next}, nil
}

func (h *handler) gatewayList(ctx context.Context, c *call) (*result, error) {
	if h.presence == nil {
		return nil, errNoPresence
	}
	f := provisioning.GatewayFilter{Page: pageOf(c.p)}
	gs, err := h.svc.Gateways(ctx, c.sc, f)
	if err != nil {
		return nil, err
	}
	out := make([]gatewayView, len(gs))
	if len(gs) > 0 {
		names := make([]string, len(gs))
		for i := range gs {
			names[i] = gs[i].Name
		}
		live := map[string][]presence.Gateway{}
		for _, g := range h.presence.Gateways(presence.GatewayQuery{Names: names}) {
			live[g.Name] = append(live[g.Name], g)
		}
		for i := range gs {
			var probe *api.ProbeResult
			if h.probes != nil {
				if r, ok := h.probes.ProbeResult(api.ProbeGateway, gs[i].Name); ok {
					probe = &r
				}
			}
			out[i] = viewGateway(&gs[i], live[gs[i].Name], probe)
		}
	}
	res := &result{data: out}
	if len(gs) == f.Limit {
		err := setNext(res, gs[len(gs)-1].ID, func(after int64) (int, error) {
			f.After, f.Limit = after, 1
			more, err := h.svc.Gateways(ctx, c.sc, f)
			return len(more), err
		})
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (h *handler) cdrList(ctx context.Context, c *call) (*result, error) {
	if h.cdrs == nil {
		return nil, errNoCDRs
	}
	f := cdr.Filter{
		Account: c.p.get("phonenumber"), Caller: c.p.get("caller"), CalleePrefix: c.p.get("callee"),
		Limit: limitOf(c.p),
	}
	if v := c.p.get("disposition"); v != "" {
		f.Disposition = dispositions[strings.ToUpper(v)]
	}
	if v := c.p.get("from"); v != "" {
		f.From, _ = parseTime(v) // checked by checkTime
	}
	if v := c.p.get("to"); v != "" {
		f.To, _ = parseTime(v)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return nil, badParam("from", "must be before to")
	}
	f.Before, _ = api.DecodeCDRCursor(c.p.get("cursor")) // checked by checkCDRCursor
	// Scoped by owner, the tenant stamped on each CDR at ingest, never by
	// a domain name, which can change hands. dcp= must name one of the
	// caller's domains now, as for every verb, and then filters within
	// that scope: a domain reused by another tenant brings none of the
	// calls made under its old owner.
	if name := c.p.get("dcp"); name != "" {
		d, err := h.domain(ctx, c.sc, name)
		if err != nil {
			return nil, err
		}
		f.Domain = d.Name
	}
	var err error
	if f.Tenants, err = h.svc.ScopeTenants(ctx, c.sc); err != nil {
		return nil, err
	}
	out := []cdrView{}
	recs, next, err := h.cdrs.Query(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range recs {
		out = append(out, viewCDR(&recs[i]))
	}
	return &result{data: out, next: api.EncodeCDRCursor(next)}, nil
}
