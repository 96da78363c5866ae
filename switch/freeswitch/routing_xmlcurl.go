package freeswitch

// Call routing over mod_xml_curl: with a Router, the handler answers the
// tenants' contexts (sb-t<id>) from provisioning's cached TenantPlan,
// sends DIDs that have a destination into their tenant's context, and
// gives every phone its tenant's context as its user_context. The rendering of a plan is kept as long as the
// plan is (TenantPlan hands out the same *Plan until a change drops it),
// so an answer is a map lookup and a copy.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Router is what the routing answers read of provisioning
// (ServiceRouter adapts the Service).
type Router interface {
	// TenantPlan returns the tenant's plan (cached: asked on every call).
	TenantPlan(ctx context.Context, tenantID int64) (*provisioning.Plan, error)
	// DIDByNumber returns the DID with that number (E.164 with +), with
	// its Destination; provisioning.ErrNotFound when there is none.
	DIDByNumber(ctx context.Context, number string) (*provisioning.DID, error)
}

type serviceRouter struct{ svc *provisioning.Service }

// ServiceRouter adapts the provisioning Service to Router.
func ServiceRouter(svc *provisioning.Service) Router { return serviceRouter{svc: svc} }

func (r serviceRouter) TenantPlan(ctx context.Context, id int64) (*provisioning.Plan, error) {
	return r.svc.TenantPlan(ctx, id)
}

func (r serviceRouter) DIDByNumber(ctx context.Context, number string) (*provisioning.DID, error) {
	return r.svc.DIDByNumber(ctx, provisioning.AdminScope(), number)
}

// renderCache keeps the last rendering of each tenant's plan.
type renderCache struct {
	o  renderOptions
	mu sync.Mutex
	m  map[int64]renderEntry
}

type renderEntry struct {
	plan *provisioning.Plan
	r    *routingRender
}

func newRenderCache(o renderOptions) *renderCache {
	return &renderCache{o: o, m: map[int64]renderEntry{}}
}

// get returns p rendered, rendering it when p is not the plan rendered
// last for its tenant.
func (c *renderCache) get(p *provisioning.Plan) *routingRender {
	c.mu.Lock()
	e, ok := c.m[p.Tenant.ID]
	c.mu.Unlock()
	if ok && e.plan == p {
		return e.r
	}
	r := renderPlan(p, c.o)
	c.mu.Lock()
	c.m[p.Tenant.ID] = renderEntry{plan: p, r: r}
	c.mu.Unlock()
	return r
}

// routingDialplan answers a lookup in a tenant's context; ok is false
// when dpContext is not one.
func (h *xmlCurlHandler) routingDialplan(ctx context.Context, dpContext, dest string, f url.Values) (doc string, ok bool, err error) {
	id, isTenant := routingContextTenant(dpContext)
	if !isTenant || h.router == nil {
		return "", false, nil
	}
	p, err := h.router.TenantPlan(ctx, id)
	if errors.Is(err, provisioning.ErrNotFound) {
		return xmlNotFound, true, nil
	}
	if err != nil {
		return "", true, fmt.Errorf("freeswitch: routing plan of tenant %d: %w", id, err)
	}
	r := h.renders.get(p)
	if doc, ok := h.outboundAnswer(ctx, p, r, dest, f); ok {
		return doc, true, nil
	}
	if doc, ok := h.gatewayLegsAnswer(ctx, p, r, dest, f); ok { // routing_extlegs.go
		return doc, true, nil
	}
	return r.document(dest), true, nil
}

// routedDID answers a DID that has a destination: into its tenant's
// context. ok is false for a DID without one (or no Router): the
// account answer (xmlDIDDocument) applies.
func (h *xmlCurlHandler) routedDID(ctx context.Context, dpContext, dest, number string) (doc string, ok bool, err error) {
	if h.router == nil {
		return "", false, nil
	}
	d, err := h.router.DIDByNumber(ctx, number)
	switch {
	case errors.Is(err, provisioning.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("freeswitch: DID %s: %w", number, err)
	case d.Destination == nil:
		return "", false, nil
	}
	var b xmlBuilder
	b.open(0, "document", "type", "freeswitch/xml")
	b.open(1, "section", "name", "dialplan", "description", "Switchboard DIDs")
	b.open(2, "context", "name", dpContext)
	b.raw(didTransferXML(dest, number, *d, h.renders.o.RecordingsDir))
	b.close(2, "context")
	b.close(1, "section")
	b.close(0, "document")
	return b.String(), true, nil
}

// didTransferXML is the extension of a DID with a destination, live and
// in the fallback file: it runs the destination in the tenant's context
// as an entry point does. expr is the number as matched (dest as
// dialled, or the number with an optional + for the file). A DID that
// records (DID.Record) starts the recording into recDir first
// (routing_recording.go): the call enters there, so there is no
// recording to check for.
func didTransferXML(dest, number string, d provisioning.DID, recDir string) string {
	r := &renderer{ctx: RoutingContext(d.TenantID)}
	body := []act{r.run(*d.Destination)}
	if d.Record && recDir != "" {
		body = append(recordActs(recDir, d.TenantID), body...)
	}
	c := cond{field: "destination_number", expr: "^" + strings.ReplaceAll(dest, "+", `\+`) + "$", acts: entry(body...)}
	return extXML("did-"+number, false, c)
}

// userContextOf is the user_context of account a: with routing on, its
// tenant's context, whether or not the tenant has a numbering plan yet (a
// number the plan does not route goes on to the configured context,
// sb-else). It does not depend on the plan on purpose: FreeSWITCH keeps
// a cacheable sip_auth answer for directory_cache_ms, and a context that
// changed with the tenant's first extension would reach its phones only
// when their cached entries expire.
func (h *xmlCurlHandler) userContextOf(a *provisioning.Account) string {
	if h.router == nil || a.TenantID == 0 {
		return h.userContext
	}
	return RoutingContext(a.TenantID)
}
