package provisioning

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// errNoRoutingStore reports a Store that cannot keep routing objects.
var errNoRoutingStore = errors.New("provisioning: the store cannot keep routing objects")

func (s *Service) routingStore() (RoutingStore, error) {
	rs, ok := s.store.(RoutingStore)
	if !ok {
		return nil, errNoRoutingStore
	}
	return rs, nil
}

// routingPtr is a pointer to a routing object kind (*Extension...).
type routingPtr[E any] interface {
	*E
	routingObject
}

func (m *RoutingMeta) ownerTenant() (int64, bool) { return m.TenantID, true }

// record encodes o for the Store.
func record(o routingObject) (*RoutingRecord, error) {
	body, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("provisioning: encode %s: %w", o.kind(), err)
	}
	m := o.meta()
	r := &RoutingRecord{ID: m.ID, TenantID: m.TenantID, Kind: o.kind(), Name: o.label(), Body: body}
	if k := o.key(); k != "" {
		r.Slot = &k
	}
	return r, nil
}

// decode turns a stored record back into its kind. The object is
// validated again so that derived state (a condition's parsed rules and
// zone) is there; a stored object that no longer validates (a time zone
// removed from the system's database) is an error, not a silent route.
func decode[E any, P routingPtr[E]](r *RoutingRecord) (P, error) {
	p := P(new(E))
	if r.Kind != p.kind() {
		return nil, NotFound(string(p.kind()), r.ID)
	}
	if err := json.Unmarshal(r.Body, p); err != nil {
		return nil, fmt.Errorf("provisioning: decode %s %d: %w", r.Kind, r.ID, err)
	}
	*p.meta() = RoutingMeta{ID: r.ID, TenantID: r.TenantID, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("provisioning: stored %s %d: %w", r.Kind, r.ID, err)
	}
	return p, nil
}

// getRouting returns routing object id of kind P if the scope sees it.
func getRouting[E any, P routingPtr[E]](ctx context.Context, s *Service, sc Scope, id int64) (P, error) {
	rs, err := s.routingStore()
	if err != nil {
		return nil, err
	}
	kind := string(P(new(E)).kind())
	r, err := rs.Routing(ctx, id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			err = NotFound(kind, id)
		}
		return nil, err
	}
	p, err := decode[E, P](r)
	if err != nil {
		return nil, err
	}
	return inScope(ctx, s, sc, kind, p, nil, id)
}

// listRouting lists the routing objects of kind P in scope.
func listRouting[E any, P routingPtr[E]](ctx context.Context, s *Service, sc Scope, f RoutingFilter) ([]P, error) {
	rs, err := s.routingStore()
	if err != nil {
		return nil, err
	}
	f.Subtree, f.Page, f.Kind = sc.subtree(), f.Page.Normalize(), P(new(E)).kind()
	recs, err := rs.Routings(ctx, f)
	if err != nil {
		return nil, err
	}
	out := make([]P, 0, len(recs))
	for i := range recs {
		p, err := decode[E, P](&recs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// createRouting validates o in the caller's scope and stores it.
func createRouting(ctx context.Context, s *Service, sc Scope, o routingObject) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	rs, err := s.routingStore()
	if err != nil {
		return err
	}
	o.meta().ID = 0
	refs, err := s.prepareRouting(ctx, sc, o)
	if err != nil {
		return err
	}
	r, err := record(o)
	if err != nil {
		return err
	}
	if err := rs.CreateRouting(ctx, r, refs); err != nil {
		return err
	}
	m := o.meta()
	m.ID, m.CreatedAt, m.UpdatedAt = r.ID, r.CreatedAt, r.UpdatedAt
	s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: m.TenantID})
	s.notify(ctx, Change{Op: OpUpsert, Routing: &RoutingChange{Kind: o.kind(), ID: m.ID, TenantID: m.TenantID}})
	return nil
}

// updateRouting loads routing object id, lets fn change it and saves it.
// The tenant cannot change.
func updateRouting[E any, P routingPtr[E]](ctx context.Context, s *Service, sc Scope, id int64, fn func(P) error) (P, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	rs, err := s.routingStore()
	if err != nil {
		return nil, err
	}
	p, err := getRouting[E, P](ctx, s, sc, id)
	if err != nil {
		return nil, err
	}
	before := *p.meta()
	if err := fn(p); err != nil {
		return nil, err
	}
	if m := p.meta(); m.TenantID != before.TenantID && m.TenantID != 0 {
		return nil, Invalid("tenant_id", "cannot change: create the object in the other tenant instead")
	}
	*p.meta() = before
	refs, err := s.prepareRouting(ctx, sc, p)
	if err != nil {
		return nil, err
	}
	r, err := record(p)
	if err != nil {
		return nil, err
	}
	if err := rs.UpdateRouting(ctx, r, refs); err != nil {
		return nil, err
	}
	p.meta().UpdatedAt = r.UpdatedAt
	s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: before.TenantID})
	s.notify(ctx, Change{Op: OpUpsert, Routing: &RoutingChange{Kind: p.kind(), ID: id, TenantID: before.TenantID}})
	return p, nil
}

// deleteRouting deletes routing object id of kind P, refused (conflict,
// naming them) while other objects or DIDs send calls to it.
func deleteRouting[E any, P routingPtr[E]](ctx context.Context, s *Service, sc Scope, id int64) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	rs, err := s.routingStore()
	if err != nil {
		return err
	}
	p, err := getRouting[E, P](ctx, s, sc, id)
	if err != nil {
		return err
	}
	if err := rs.DeleteRouting(ctx, id); err != nil {
		return err
	}
	s.changed(ctx, Invalidation{Kind: InvalidateRouting, ID: p.meta().TenantID})
	s.notify(ctx, Change{Op: OpDelete, Routing: &RoutingChange{Kind: p.kind(), ID: id, TenantID: p.meta().TenantID}})
	return nil
}

// RoutingChange names the routing object a Change is about: a switch
// re-renders the tenant's routing.
type RoutingChange struct {
	Kind     RoutingKind
	ID       int64
	TenantID int64
}

// prepareRouting validates o, sets the tenant of a forward from its
// owner, checks that every object o points at is visible to the caller
// and belongs where it must, and that o closes no loop and makes no chain
// too deep. It returns o's references for the Store.
func (s *Service) prepareRouting(ctx context.Context, sc Scope, o routingObject) ([]RoutingRef, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	m := o.meta()
	if f, ok := o.(*Forward); ok {
		owner, err := s.forwardOwnerTenant(ctx, sc, f)
		if err != nil {
			return nil, err
		}
		if m.ID != 0 && m.TenantID != owner {
			return nil, Invalid("account_id", "cannot move a forward to another owner's tenant")
		}
		m.TenantID = owner
	}
	t, err := s.tenantInScope(ctx, sc, m.TenantID)
	if err != nil {
		return nil, fieldNotFound("tenant_id", err)
	}
	refs := o.refs()
	for _, ref := range refs {
		if err := s.checkRoutingRef(ctx, sc, t, ref); err != nil {
			return nil, err
		}
	}
	g, err := s.loadRoutingGraph(ctx, t)
	if err != nil {
		return nil, err
	}
	if err := g.check(o); err != nil {
		return nil, err
	}
	if c, ok := o.(conflicter); ok {
		for n, other := range g.objects {
			if n.ID != m.ID || DestKind(other.kind()) != DestKind(o.kind()) {
				if err := c.conflicts(other); err != nil {
					return nil, err
				}
			}
		}
	}
	return refs, nil
}

// conflicter is a kind with a uniqueness rule beyond its plan number,
// checked against every other routing object of the tenant.
type conflicter interface {
	conflicts(other routingObject) error
}

// forwardOwnerTenant returns the tenant of a forward's owner.
func (s *Service) forwardOwnerTenant(ctx context.Context, sc Scope, f *Forward) (int64, error) {
	if f.AccountID != nil {
		a, err := s.Account(ctx, sc, *f.AccountID)
		if err != nil {
			return 0, fieldNotFound("account_id", err)
		}
		return a.TenantID, nil
	}
	u, err := s.User(ctx, sc, *f.UserID)
	if err != nil {
		return 0, fieldNotFound("user_id", err)
	}
	return u.TenantID, nil
}

// checkRoutingRef checks one reference of an object of tenant t: accounts
// of t or its sub-tenants, gateways shared or of t or an ancestor, routing
// objects of t itself (a numbering plan is one tenant's).
func (s *Service) checkRoutingRef(ctx context.Context, sc Scope, t *Tenant, ref RoutingRef) error {
	switch ref.Kind {
	case DestAccount:
		a, err := s.Account(ctx, sc, ref.ID)
		if err != nil {
			return fieldNotFound(ref.Field, err)
		}
		at, err := s.store.Tenant(ctx, a.TenantID)
		if err != nil {
			return err
		}
		if !strings.HasPrefix(at.Path, t.Path) {
			return Invalid(ref.Field, "account %d belongs to another tenant: use an account of this tenant or its sub-tenants", ref.ID)
		}
	case refUser:
		if _, err := s.User(ctx, sc, ref.ID); err != nil {
			return fieldNotFound(ref.Field, err)
		}
	case refSound:
		snd, err := s.Sound(ctx, sc, ref.ID)
		if err != nil {
			return fieldNotFound(ref.Field, err)
		}
		if snd.TenantID != t.ID {
			return Invalid(ref.Field, "sound %d belongs to another tenant", ref.ID)
		}
	case refGateway:
		g, err := s.Gateway(ctx, sc, ref.ID)
		if err != nil {
			return fieldNotFound(ref.Field, err)
		}
		if g.TenantID != nil {
			gt, err := s.store.Tenant(ctx, *g.TenantID)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(t.Path, gt.Path) {
				return Invalid(ref.Field, "gateway %d belongs to another tenant: use a shared gateway or one of this tenant or its parents", ref.ID)
			}
		}
	default:
		rs, err := s.routingStore()
		if err != nil {
			return err
		}
		r, err := rs.Routing(ctx, ref.ID)
		if err != nil || string(r.Kind) != string(ref.Kind) {
			if err == nil || errors.Is(err, ErrNotFound) {
				err = NotFound(string(ref.Kind), ref.ID)
			}
			return fieldNotFound(ref.Field, err)
		}
		if r.TenantID != t.ID {
			if rt, err := s.store.Tenant(ctx, r.TenantID); err != nil || !sc.Sees(rt.Path) {
				return fieldNotFound(ref.Field, NotFound(string(ref.Kind), ref.ID))
			}
			return Invalid(ref.Field, "%s %d belongs to another tenant's numbering plan", ref.Kind, ref.ID)
		}
	}
	return nil
}
