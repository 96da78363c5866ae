package provisioning_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

type dest = provisioning.Destination

func acct(a *provisioning.Account) dest { return dest{Kind: provisioning.DestAccount, ID: a.ID} }
func ext(e *provisioning.Extension) dest {
	return dest{Kind: provisioning.DestExtension, ID: e.ID}
}

// routingFixture is a tenant with a domain and three phones, and a
// sibling tenant with one.
type routingFixture struct {
	t, other     *provisioning.Tenant
	a1, a2, a3   *provisioning.Account
	otherAccount *provisioning.Account
	tenantAdmin  provisioning.Scope
}

func newRoutingFixture(t *testing.T, e *env) *routingFixture {
	f := &routingFixture{t: e.tenant(t, "acme", nil), other: e.tenant(t, "globex", nil)}
	d := e.domain(t, "acme.example", f.t)
	f.a1, f.a2, f.a3 = e.account(t, "201", d), e.account(t, "202", d), e.account(t, "203", d)
	f.otherAccount = e.account(t, "201", e.domain(t, "globex.example", f.other))
	f.tenantAdmin = provisioning.Scope{Role: provisioning.RoleTenantAdmin, TenantID: f.t.ID, Path: f.t.Path}
	return f
}

func (f *routingFixture) extension(t *testing.T, e *env, number string, to dest) *provisioning.Extension {
	t.Helper()
	x := &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: number, Name: "ext " + number, Destination: to}
	must(t, e.svc.CreateExtension(e.ctx, f.tenantAdmin, x))
	return x
}

// wantField checks that err is of kind sentinel and names field.
func wantField(t *testing.T, err, sentinel error, field, text string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("err = %v, want %v", err, sentinel)
	}
	var fe *provisioning.FieldError
	var re *provisioning.RefError
	var ce *provisioning.ConflictError
	got := ""
	switch {
	case errors.As(err, &fe):
		got = fe.Field
	case errors.As(err, &re):
		got = re.Field
	case errors.As(err, &ce):
		got = ce.Field
	}
	if got != field {
		t.Errorf("err %q names field %q, want %q", err, got, field)
	}
	if !strings.Contains(err.Error(), text) {
		t.Errorf("err %q does not say %q", err, text)
	}
}

func TestRoutingNumberingPlan(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		x := f.extension(t, e, "100", acct(f.a1))
		hg := &provisioning.HuntGroup{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: "100", Name: "sales",
			Strategy: provisioning.HuntRingAll, Members: []provisioning.HuntMember{{Destination: acct(f.a2)}}}
		wantField(t, e.svc.CreateHuntGroup(e.ctx, f.tenantAdmin, hg), provisioning.ErrConflict, "number", "100 is already in this tenant's numbering plan")
		if hg.ID != 0 {
			t.Errorf("refused hunt group got id %d", hg.ID)
		}
		hg.Number = "500"
		must(t, e.svc.CreateHuntGroup(e.ctx, f.tenantAdmin, hg))

		// The same number in another tenant's plan is another number.
		other := &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{TenantID: f.other.ID}, Number: "100", Destination: acct(f.otherAccount)}
		must(t, e.svc.CreateExtension(e.ctx, admin, other))

		// Renumbering onto a taken number is refused and writes nothing.
		_, err := e.svc.UpdateExtension(e.ctx, f.tenantAdmin, x.ID, func(x *provisioning.Extension) error { x.Number = "500"; return nil })
		wantField(t, err, provisioning.ErrConflict, "number", "500")
		got, err := e.svc.Extension(e.ctx, f.tenantAdmin, x.ID)
		must(t, err)
		if got.Number != "100" || got.Destination != acct(f.a1) {
			t.Errorf("after a refused update: %+v", got)
		}

		list, err := e.svc.Extensions(e.ctx, f.tenantAdmin, provisioning.RoutingFilter{})
		must(t, err)
		if len(list) != 1 || list[0].ID != x.ID {
			t.Errorf("tenant-admin lists %d extensions, want its own one", len(list))
		}
		if _, err := e.svc.Extension(e.ctx, f.tenantAdmin, other.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("another tenant's extension: err = %v, want not found", err)
		}
		if _, err := e.svc.HuntGroup(e.ctx, admin, x.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("an extension's id read as a hunt group: err = %v, want not found", err)
		}
	})
}

func TestRoutingReferences(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		mk := func(to dest) *provisioning.Extension {
			return &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: "300", Destination: to}
		}
		// Another tenant's phone: invisible to a tenant-admin, refused by name for an admin.
		wantField(t, e.svc.CreateExtension(e.ctx, f.tenantAdmin, mk(acct(f.otherAccount))), provisioning.ErrNotFound, "destination", "account")
		wantField(t, e.svc.CreateExtension(e.ctx, admin, mk(acct(f.otherAccount))), provisioning.ErrInvalid, "destination", "belongs to another tenant")
		wantField(t, e.svc.CreateExtension(e.ctx, admin, mk(dest{Kind: provisioning.DestHuntGroup, ID: 9999})), provisioning.ErrNotFound, "destination", "hunt_group 9999")
		wantField(t, e.svc.CreateExtension(e.ctx, admin, mk(dest{Kind: "pigeon", ID: 1})), provisioning.ErrInvalid, "destination.type", "must be one of")
		wantField(t, e.svc.CreateExtension(e.ctx, admin, mk(dest{Kind: provisioning.DestExternal})), provisioning.ErrInvalid, "destination.number", "number to dial")
		otherExt := &provisioning.Extension{RoutingMeta: provisioning.RoutingMeta{TenantID: f.other.ID}, Number: "100", Destination: acct(f.otherAccount)}
		must(t, e.svc.CreateExtension(e.ctx, admin, otherExt))
		wantField(t, e.svc.CreateExtension(e.ctx, admin, mk(ext(otherExt))), provisioning.ErrInvalid, "destination", "another tenant's numbering plan")

		// A hunt group member that is a condition is not a phone to ring.
		hg := &provisioning.HuntGroup{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: "500", Name: "sales", Strategy: provisioning.HuntSequential,
			Members: []provisioning.HuntMember{{Destination: acct(f.a1)}, {Destination: dest{Kind: provisioning.DestCondition, ID: 1}}}}
		wantField(t, e.svc.CreateHuntGroup(e.ctx, f.tenantAdmin, hg), provisioning.ErrInvalid, "members[1].destination.type", "here")

		// A route through another tenant's gateway is refused; a shared one is fine.
		shared, theirs := e.gateway(t, "shared", nil), e.gateway(t, "theirs", f.other)
		r := &provisioning.OutboundRoute{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Name: "national",
			Patterns: []provisioning.DialPattern{"0Z."}, GatewayIDs: []int64{shared.ID, theirs.ID}}
		wantField(t, e.svc.CreateOutboundRoute(e.ctx, admin, r), provisioning.ErrInvalid, "gateway_ids[1]", "another tenant")
		r.GatewayIDs = []int64{shared.ID}
		must(t, e.svc.CreateOutboundRoute(e.ctx, f.tenantAdmin, r))
		if err := e.svc.DeleteGateway(e.ctx, admin, shared.ID); !errors.Is(err, provisioning.ErrConflict) || !strings.Contains(err.Error(), "outbound_route") {
			t.Errorf("deleting a gateway a route uses: err = %v, want a conflict naming the route", err)
		}
	})
}

func TestRoutingLoopsAndDepth(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		x := f.extension(t, e, "100", acct(f.a1))
		hg := &provisioning.HuntGroup{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: "500", Name: "sales", Strategy: provisioning.HuntRingAll,
			Members: []provisioning.HuntMember{{Destination: ext(x)}, {Destination: acct(f.a2)}}}
		must(t, e.svc.CreateHuntGroup(e.ctx, f.tenantAdmin, hg))
		_, err := e.svc.UpdateExtension(e.ctx, f.tenantAdmin, x.ID, func(x *provisioning.Extension) error {
			x.Destination = dest{Kind: provisioning.DestHuntGroup, ID: hg.ID}
			return nil
		})
		wantField(t, err, provisioning.ErrInvalid, "destination", "calls would loop: extension")

		// Through a forward: 202 forwards to extension 100 on no answer,
		// and extension 100 rings 202.
		_, err = e.svc.UpdateExtension(e.ctx, f.tenantAdmin, x.ID, func(x *provisioning.Extension) error { x.Destination = acct(f.a2); return nil })
		must(t, err)
		fw := &provisioning.Forward{AccountID: ptr(f.a2.ID), On: provisioning.ForwardNoAnswer, Destination: ext(x), Enabled: true}
		wantField(t, e.svc.CreateForward(e.ctx, f.tenantAdmin, fw), provisioning.ErrInvalid, "destination", "calls would loop: account")
		fw.Enabled = false // a disabled forward sends nothing anywhere
		must(t, e.svc.CreateForward(e.ctx, f.tenantAdmin, fw))
		if fw.TenantID != f.t.ID || fw.AfterSecs != provisioning.DefaultNoAnswerSecs {
			t.Errorf("forward tenant %d after %d s, want the account's tenant and the default", fw.TenantID, fw.AfterSecs)
		}
		dup := &provisioning.Forward{AccountID: ptr(f.a2.ID), On: provisioning.ForwardNoAnswer, Destination: dest{Kind: provisioning.DestHangup}}
		wantField(t, e.svc.CreateForward(e.ctx, f.tenantAdmin, dup), provisioning.ErrConflict, "on", "already has a forward")

		// A chain of conditions longer than the cap is refused at the link that makes it too long.
		prev := dest{Kind: provisioning.DestHangup}
		var err2 error
		for i := range provisioning.MaxRoutingDepth + 1 {
			c := &provisioning.Condition{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Name: "c", Manual: provisioning.ManualMatch,
				Match: prev, Miss: dest{Kind: provisioning.DestBusy}}
			if err2 = e.svc.CreateCondition(e.ctx, f.tenantAdmin, c); err2 != nil {
				if i != provisioning.MaxRoutingDepth {
					t.Fatalf("condition %d refused: %v", i, err2)
				}
				break
			}
			prev = dest{Kind: provisioning.DestCondition, ID: c.ID}
		}
		wantField(t, err2, provisioning.ErrInvalid, "destination", "at most 16")
	})
}

func TestRoutingDeletes(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *env) {
		f := newRoutingFixture(t, e)
		hg := &provisioning.HuntGroup{RoutingMeta: provisioning.RoutingMeta{TenantID: f.t.ID}, Number: "500", Name: "sales", Strategy: provisioning.HuntRingAll,
			Members: []provisioning.HuntMember{{Destination: acct(f.a1)}, {Destination: acct(f.a2)}}}
		must(t, e.svc.CreateHuntGroup(e.ctx, f.tenantAdmin, hg))
		did := &provisioning.DID{TenantID: f.t.ID, Number: "+15145550100", Destination: &dest{Kind: provisioning.DestHuntGroup, ID: hg.ID}}
		must(t, e.svc.CreateDID(e.ctx, f.tenantAdmin, did))
		if did.AccountID != nil {
			t.Errorf("a DID routed to a hunt group has account_id %d", *did.AccountID)
		}

		err := e.svc.DeleteHuntGroup(e.ctx, f.tenantAdmin, hg.ID)
		wantField(t, err, provisioning.ErrConflict, "", "DID +15145550100")
		err = e.svc.DeleteAccount(e.ctx, admin, f.a1.ID)
		wantField(t, err, provisioning.ErrConflict, "", "hunt_group")

		// An account's forwards go with it.
		fw := &provisioning.Forward{AccountID: ptr(f.a3.ID), On: provisioning.ForwardBusy, Destination: acct(f.a2), Enabled: true}
		must(t, e.svc.CreateForward(e.ctx, f.tenantAdmin, fw))
		must(t, e.svc.DeleteAccount(e.ctx, admin, f.a3.ID))
		if _, err := e.svc.Forward(e.ctx, admin, fw.ID); !errors.Is(err, provisioning.ErrNotFound) {
			t.Errorf("the deleted account's forward: err = %v, want not found", err)
		}

		// The DID moves to an account the way dcp sets it (account_id), then the group can go.
		_, err = e.svc.UpdateDID(e.ctx, f.tenantAdmin, did.ID, func(d *provisioning.DID) error { d.AccountID = ptr(f.a1.ID); return nil })
		must(t, err)
		got, err := e.svc.DID(e.ctx, admin, did.ID)
		must(t, err)
		if got.Destination == nil || *got.Destination != acct(f.a1) || got.AccountID == nil || *got.AccountID != f.a1.ID {
			t.Errorf("DID after account_id update: destination %v account %v", got.Destination, got.AccountID)
		}
		must(t, e.svc.DeleteHuntGroup(e.ctx, f.tenantAdmin, hg.ID))

		changes := e.sink.take()
		var routing int
		for _, c := range changes {
			if c.Routing != nil {
				routing++
				if c.Routing.TenantID != f.t.ID {
					t.Errorf("routing change of tenant %d, want %d", c.Routing.TenantID, f.t.ID)
				}
			}
		}
		if routing != 3 { // hunt group created, forward created, hunt group deleted
			t.Errorf("%d routing changes reached the sink, want 3", routing)
		}
	})
}
