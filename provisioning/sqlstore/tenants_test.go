package sqlstore_test

import (
	"context"
	"reflect"
	"strconv"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

func TestTenantRoundTrip(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		root := tenant(t, s, "Root", nil)
		child := tenant(t, s, "Child", root)
		grand := tenant(t, s, "Grandchild", child)
		for _, tc := range []struct {
			tn   *provisioning.Tenant
			path string
		}{
			{root, "/" + itoa(root.ID) + "/"},
			{child, "/" + itoa(root.ID) + "/" + itoa(child.ID) + "/"},
			{grand, "/" + itoa(root.ID) + "/" + itoa(child.ID) + "/" + itoa(grand.ID) + "/"},
		} {
			if tc.tn.Path != tc.path {
				t.Errorf("tenant %s: path %q, want %q", tc.tn.Name, tc.tn.Path, tc.path)
			}
			got, err := s.Tenant(ctx, tc.tn.ID)
			must(t, err)
			if !reflect.DeepEqual(got, tc.tn) {
				t.Errorf("read back\n got %+v\nwant %+v", got, tc.tn)
			}
		}

		grand.Name = "Renamed"
		must(t, s.UpdateTenant(ctx, grand))
		got, err := s.Tenant(ctx, grand.ID)
		must(t, err)
		if !reflect.DeepEqual(got, grand) {
			t.Errorf("after rename\n got %+v\nwant %+v", got, grand)
		}

		must(t, s.DeleteTenant(ctx, grand.ID))
		_, err = s.Tenant(ctx, grand.ID)
		wantNotFound(t, err, "tenant")
		wantNotFound(t, s.DeleteTenant(ctx, grand.ID), "tenant")
		wantNotFound(t, s.UpdateTenant(ctx, &provisioning.Tenant{ID: 9999, Name: "x"}), "tenant")
		wantRef(t, s.CreateTenant(ctx, &provisioning.Tenant{Name: "orphan", ParentID: ptr(int64(9999))}), "parent_id")
	})
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

func TestTenantMove(t *testing.T) {
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		// r ─┬─ a ── a1 ── a11
		//    └─ b
		// x (another root)
		r := tenant(t, s, "r", nil)
		a := tenant(t, s, "a", r)
		a1 := tenant(t, s, "a1", a)
		a11 := tenant(t, s, "a11", a1)
		b := tenant(t, s, "b", r)
		x := tenant(t, s, "x", nil)

		paths := func() map[string]string {
			all, err := s.Tenants(ctx, provisioning.TenantFilter{})
			must(t, err)
			out := map[string]string{}
			for _, tn := range all {
				out[tn.Name] = tn.Path
			}
			return out
		}
		p := func(ts ...*provisioning.Tenant) string {
			out := ""
			for _, tn := range ts {
				out = provisioning.TenantPath(out, tn.ID)
			}
			return out
		}

		// a moves under b: a, a1 and a11 follow.
		a.ParentID = ptr(b.ID)
		must(t, s.UpdateTenant(ctx, a))
		want := map[string]string{
			"r": p(r), "b": p(r, b), "a": p(r, b, a), "a1": p(r, b, a, a1), "a11": p(r, b, a, a1, a11), "x": p(x),
		}
		if got := paths(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after moving a under b:\n got %v\nwant %v", got, want)
		}
		if a.Path != want["a"] {
			t.Errorf("a.Path = %q, want %q", a.Path, want["a"])
		}

		// Refused: a under itself, under its child, under its grandchild.
		for _, target := range []*provisioning.Tenant{a, a1, a11} {
			moved := *a
			moved.ParentID = ptr(target.ID)
			wantConflict(t, s.UpdateTenant(ctx, &moved), "parent_id")
		}
		if got := paths(); !reflect.DeepEqual(got, want) {
			t.Fatalf("a refused move changed paths:\n got %v\nwant %v", got, want)
		}

		// Under a missing parent.
		moved := *a
		moved.ParentID = ptr(int64(9999))
		wantRef(t, s.UpdateTenant(ctx, &moved), "parent_id")

		// a1 becomes a root, then moves under x (another tree).
		a1.ParentID = nil
		must(t, s.UpdateTenant(ctx, a1))
		want["a1"], want["a11"] = p(a1), p(a1, a11)
		if got := paths(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after making a1 a root:\n got %v\nwant %v", got, want)
		}
		a1.ParentID = ptr(x.ID)
		must(t, s.UpdateTenant(ctx, a1))
		want["a1"], want["a11"] = p(x, a1), p(x, a1, a11)
		if got := paths(); !reflect.DeepEqual(got, want) {
			t.Fatalf("after moving a1 under x:\n got %v\nwant %v", got, want)
		}
		got, err := s.Tenant(ctx, a1.ID)
		must(t, err)
		if got.ParentID == nil || *got.ParentID != x.ID {
			t.Errorf("a1 parent = %v, want %d", got.ParentID, x.ID)
		}
	})
}

func TestTenantPathPrefixIsNotNumericPrefix(t *testing.T) {
	// Tenant 1's subtree must not include tenant 10, 11...: the range is on
	// "/1/", not "/1".
	ctx := context.Background()
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		var roots []*provisioning.Tenant
		for i := 0; i < 12; i++ {
			roots = append(roots, tenant(t, s, "root", nil))
		}
		child := tenant(t, s, "child of 1", roots[0])
		got, err := s.Tenants(ctx, provisioning.TenantFilter{Subtree: roots[0].Path})
		must(t, err)
		if g, w := ids(got, func(t provisioning.Tenant) int64 { return t.ID }), []int64{roots[0].ID, child.ID}; !reflect.DeepEqual(g, w) {
			t.Errorf("subtree of %s = %v, want %v", roots[0].Path, g, w)
		}
	})
}
