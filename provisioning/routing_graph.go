package provisioning

import (
	"context"
	"fmt"
	"strings"
)

// routingNode is a place in a tenant's routing graph: a routing object,
// an account or a user (whose forwards are edges).
type routingNode struct {
	Kind DestKind
	ID   int64
}

func (n routingNode) String() string { return fmt.Sprintf("%s %d", n.Kind, n.ID) }

type routingEdge struct {
	to    routingNode
	field string
	owner int64 // the forward that makes the edge (0: the node's own field)
}

// routingGraph is where calls can go from each node of one tenant's
// routing: loops and depth are checked on it before a write.
type routingGraph struct {
	s     *Service
	ctx   context.Context
	edges map[routingNode][]routingEdge
	// objects are the tenant's routing objects, by node.
	objects map[routingNode]routingObject
	// accountOwner caches the user of each account met (0: none).
	accountOwner map[int64]int64
	err          error
}

// loadRoutingGraph reads the routing objects of tenant t, and the
// forwards of t's subtree (its accounts may be a sub-tenant's).
func (s *Service) loadRoutingGraph(ctx context.Context, t *Tenant) (*routingGraph, error) {
	rs, err := s.routingStore()
	if err != nil {
		return nil, err
	}
	g := &routingGraph{s: s, ctx: ctx, edges: map[routingNode][]routingEdge{}, objects: map[routingNode]routingObject{}, accountOwner: map[int64]int64{}}
	add := func(f RoutingFilter) error {
		for {
			recs, err := rs.Routings(ctx, f)
			if err != nil {
				return err
			}
			for i := range recs {
				r := &recs[i]
				if r.Kind == KindForward && f.Kind != KindForward {
					continue // read by the subtree pass
				}
				o, err := decodeAny(r)
				if err != nil {
					return err
				}
				g.set(o)
				g.objects[routingNode{DestKind(o.kind()), o.meta().ID}] = o
			}
			if len(recs) < MaxLimit {
				return nil
			}
			f.After = recs[len(recs)-1].ID
		}
	}
	if err := add(RoutingFilter{TenantID: t.ID, Page: Page{Limit: MaxLimit}}); err != nil {
		return nil, err
	}
	if err := add(RoutingFilter{Subtree: t.Path, Kind: KindForward, Page: Page{Limit: MaxLimit}}); err != nil {
		return nil, err
	}
	return g, nil
}

// decodeAny decodes a record of any kind.
func decodeAny(r *RoutingRecord) (routingObject, error) {
	switch r.Kind {
	case KindExtension:
		return decode[Extension](r)
	case KindHuntGroup:
		return decode[HuntGroup](r)
	case KindCondition:
		return decode[Condition](r)
	case KindCustom:
		return decode[CustomDestination](r)
	case KindForward:
		return decode[Forward](r)
	case KindOutboundRoute:
		return decode[OutboundRoute](r)
	case KindIVR:
		return decode[IVRMenu](r)
	case KindVoicemail:
		return decode[VoicemailBox](r)
	case KindFax:
		return decode[FaxBox](r)
	case KindRecordingPolicy:
		return decode[RecordingPolicy](r)
	}
	return nil, fmt.Errorf("provisioning: routing object %d of unknown kind %q", r.ID, r.Kind)
}

// nodeOf is the node an object is (a forward is its owner's edge).
func nodeOf(o routingObject) routingNode {
	if f, ok := o.(*Forward); ok {
		if f.AccountID != nil {
			return routingNode{DestAccount, *f.AccountID}
		}
		return routingNode{refUser, *f.UserID}
	}
	return routingNode{DestKind(o.kind()), o.meta().ID}
}

// set puts o's edges in the graph, replacing those o had.
func (g *routingGraph) set(o routingObject) {
	n := nodeOf(o)
	f, isForward := o.(*Forward)
	kept := g.edges[n][:0:0]
	for _, e := range g.edges[n] {
		if isForward && e.owner != o.meta().ID || !isForward && e.owner != 0 {
			kept = append(kept, e)
		}
	}
	for _, r := range o.refs() {
		if !r.Target || r.Interactive || r.Kind == refGateway || r.Kind == refSound {
			continue
		}
		e := routingEdge{to: routingNode{r.Kind, r.ID}, field: r.Field}
		if isForward {
			if !f.Enabled {
				continue
			}
			e.owner = o.meta().ID
			if e.owner == 0 {
				e.owner = -1 // the forward being created
			}
		}
		kept = append(kept, e)
	}
	g.edges[n] = kept
}

// next returns where calls go from n: its edges, and for an account the
// forwards of its owner.
func (g *routingGraph) next(n routingNode) []routingEdge {
	out := g.edges[n]
	if n.Kind == DestAccount {
		owner, ok := g.accountOwner[n.ID]
		if !ok {
			if a, err := g.s.store.Account(g.ctx, n.ID); err == nil && a.UserID != nil {
				owner = *a.UserID
			} else if err != nil && g.err == nil {
				g.err = err
			}
			g.accountOwner[n.ID] = owner
		}
		if owner != 0 && len(g.edges[routingNode{refUser, owner}]) > 0 {
			out = append(out[:len(out):len(out)], routingEdge{to: routingNode{refUser, owner}, field: "user"})
		}
	}
	return out
}

// check refuses o if, with it, calls could loop or a chain would be
// deeper than MaxRoutingDepth.
func (g *routingGraph) check(o routingObject) error {
	g.set(o)
	start := nodeOf(o)
	// A loop through o: a path from start back to start.
	if path, field := g.loopFrom(start); path != nil {
		names := make([]string, len(path))
		for i, n := range path {
			names[i] = n.String()
		}
		return Invalid(field, "calls would loop: %s", strings.Join(names, " → "))
	}
	if g.err != nil {
		return g.err
	}
	depth := map[routingNode]int{}
	var longest func(n routingNode, on map[routingNode]bool) int
	longest = func(n routingNode, on map[routingNode]bool) int {
		if d, ok := depth[n]; ok {
			return d
		}
		if on[n] {
			return 0 // an older loop elsewhere; not this write's
		}
		if len(g.edges[n]) == 0 && n.Kind != DestAccount {
			return 1
		}
		on[n] = true
		best := 1 // n itself
		for _, e := range g.next(n) {
			best = max(best, 1+longest(e.to, on))
		}
		delete(on, n)
		depth[n] = best
		return best
	}
	if d := longest(start, map[routingNode]bool{}); d > MaxRoutingDepth {
		return Invalid("destination", "the chain from %s would pass %d objects; at most %d", start, d, MaxRoutingDepth)
	}
	// Chains that reach start from above grow too: every node's.
	for n := range g.edges {
		if d := longest(n, map[routingNode]bool{}); d > MaxRoutingDepth {
			return Invalid("destination", "the chain from %s would pass %d objects; at most %d", n, d, MaxRoutingDepth)
		}
	}
	return g.err
}

// loopFrom returns a path start → … → start and the field of start that
// begins it, or nil.
func (g *routingGraph) loopFrom(start routingNode) ([]routingNode, string) {
	seen := map[routingNode]bool{}
	var path []routingNode
	var walk func(n routingNode) bool
	walk = func(n routingNode) bool {
		for _, e := range g.next(n) {
			if e.to == start {
				path = append(path, e.to)
				return true
			}
			if seen[e.to] {
				continue
			}
			seen[e.to] = true
			path = append(path, e.to)
			if walk(e.to) {
				return true
			}
			path = path[:len(path)-1]
		}
		return false
	}
	for _, e := range g.next(start) {
		path = []routingNode{start, e.to}
		if e.to == start {
			return path, e.field
		}
		if seen[e.to] {
			continue
		}
		seen[e.to] = true
		if walk(e.to) {
			return path, e.field
		}
	}
	return nil, ""
}
