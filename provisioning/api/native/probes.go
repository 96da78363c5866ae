package native

import (
	"cmp"
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// probeStatus is a probe result's status; its own type so that the
// document lists the values.
type probeStatus string

var probeStatuses = []string{api.ProbeReachable, api.ProbeLagged, api.ProbeUnreachable, api.ProbeUnknown, api.ProbeOK, api.ProbeFailed}

var probeKinds = []string{string(api.ProbeGateway), string(api.ProbeSwitch), string(api.ProbeContact), string(api.ProbeRegisterCheck)}

// probe is one result of Switchboard's own SIP probing. The fields of the
// other kind are null: rtt_ms and misses belong to OPTIONS probes, ok,
// duration_ms and failures to register checks.
type probe struct {
	Kind           api.ProbeKind `json:"kind"`
	Name           string        `json:"name"`
	URI            string        `json:"uri"`
	Address        string        `json:"address"`
	Transport      string        `json:"transport"`
	Domain         string        `json:"domain"`
	TenantID       *int64        `json:"tenant_id"`
	Status         probeStatus   `json:"status"`
	Code           int           `json:"code"`
	Reason         string        `json:"reason"`
	RTTMillis      *float64      `json:"rtt_ms"`
	Misses         *int          `json:"misses"`
	OK             *bool         `json:"ok"`
	DurationMillis *float64      `json:"duration_ms"`
	Failures       *int          `json:"failures"`
	LastProbe      *time.Time    `json:"last_probe"`
	LastChange     *time.Time    `json:"last_change"`
}

// probeList is the list envelope plus whether probing is on at all, so an
// empty list of a daemon that does not probe is not mistaken for a daemon
// whose probes all vanished.
type probeList struct {
	Items      []probe `json:"items"`
	NextCursor string  `json:"next_cursor"`
	Probing    bool    `json:"probing"`
}

func viewProbe(r api.ProbeResult) probe {
	p := probe{
		Kind: r.Kind, Name: r.Name, URI: r.URI, Address: r.Address, Transport: r.Transport, Domain: r.Domain,
		TenantID: r.TenantID, Status: probeStatus(r.Status), Code: r.Code, Reason: r.Reason,
	}
	if r.Kind == api.ProbeRegisterCheck {
		ok, d, f := r.Status == api.ProbeOK, millis(r.Duration), r.Failures
		p.OK, p.DurationMillis, p.Failures = &ok, &d, &f
	} else {
		rtt, m := millis(r.RTT), r.Misses
		p.RTTMillis, p.Misses = &rtt, &m
	}
	if !r.LastProbe.IsZero() {
		t := r.LastProbe.UTC()
		p.LastProbe = &t
	}
	if !r.LastChange.IsZero() {
		t := r.LastChange.UTC()
		p.LastChange = &t
	}
	return p
}

func (s *server) probeRoutes() []*route {
	return []*route{{
		method: http.MethodGet, path: Prefix + "/probes", op: "listProbes", tag: "live",
		summary: "List the results of Switchboard's own SIP probing in the caller's scope",
		doc: "OPTIONS probes of gateways, switch listeners and registered contacts, and synthetic REGISTER checks, sorted by kind then name. " +
			"An admin sees every result; another token sees the gateways of its tenant's subtree and the shared ones, and the contacts of its domains. " +
			"When probing is disabled (sip.enabled false) the list is empty and probing is false.",
		query: append([]param{
			{name: "kind", typ: "string", doc: "only results of this kind", enum: probeKinds},
			{name: "status", typ: "string", doc: "only results with this status", enum: probeStatuses},
		}, pageParams...),
		resp:    response{status: http.StatusOK, typ: reflect.TypeFor[probeList](), name: "ProbeList"},
		handler: s.probes,
	}}
}

// probes pages through the probe results in memory, by (kind, name).
func (s *server) probes(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, err := c.limit()
	if err != nil {
		return err
	}
	kind, status := c.str("kind"), c.str("status")
	if kind != "" && !slices.Contains(probeKinds, kind) {
		return badParam("kind", "must be one of %s", strings.Join(probeKinds, ", "))
	}
	if status != "" && !slices.Contains(probeStatuses, status) {
		return badParam("status", "must be one of %s", strings.Join(probeStatuses, ", "))
	}
	after, err := api.DecodeKeyCursor(c.str("cursor"), 2)
	if err != nil {
		return badParam("cursor", "malformed cursor: pass back a next_cursor unchanged")
	}
	out := probeList{Items: []probe{}, Probing: s.d.Probes != nil}
	if s.d.Probes == nil {
		return writeJSON(w, http.StatusOK, out)
	}
	visible, err := s.probeScope(r.Context(), c.scope)
	if err != nil {
		return err
	}
	results := s.d.Probes.ProbeResults()
	// ProbeResults promises this order; sorting again costs little and
	// keeps paging right whatever the implementation.
	slices.SortFunc(results, func(a, b api.ProbeResult) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	for _, res := range results {
		if after != nil && cmp.Or(strings.Compare(string(res.Kind), after[0]), strings.Compare(res.Name, after[1])) <= 0 {
			continue
		}
		if kind != "" && string(res.Kind) != kind || status != "" && res.Status != status || !visible(res) {
			continue
		}
		if len(out.Items) == limit {
			last := out.Items[len(out.Items)-1]
			out.NextCursor = api.EncodeKeyCursor(string(last.Kind), last.Name)
			break
		}
		out.Items = append(out.Items, viewProbe(res))
	}
	return writeJSON(w, http.StatusOK, out)
}

// probeScope returns which results a scope may see: an admin every one;
// another token the gateways the Service lists for it (its subtree's and
// the shared ones) and the contacts of its domains, never switches or
// register checks (the infrastructure is the operator's).
func (s *server) probeScope(ctx context.Context, sc provisioning.Scope) (func(api.ProbeResult) bool, error) {
	if sc.All() {
		return func(api.ProbeResult) bool { return true }, nil
	}
	gateways := map[string]bool{}
	f := provisioning.GatewayFilter{Page: provisioning.Page{Limit: provisioning.MaxLimit}}
	for {
		gws, err := s.svc.Gateways(ctx, sc, f)
		if err != nil {
			return nil, err
		}
		for _, g := range gws {
			gateways[g.Name] = true
		}
		if len(gws) < f.Limit {
			break
		}
		f.After = gws[len(gws)-1].ID
	}
	names, err := api.ScopeDomains(ctx, s.svc, sc)
	if err != nil {
		return nil, err
	}
	domains := map[string]bool{}
	for _, d := range names {
		domains[d] = true
	}
	return func(r api.ProbeResult) bool {
		switch r.Kind {
		case api.ProbeGateway:
			return gateways[r.Name]
		case api.ProbeContact:
			return domains[strings.ToLower(r.Domain)]
		}
		return false
	}, nil
}
