package dcp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/provisioning/api/dcp"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// docStep is one request of a client written against the dcp document
// (seeds/000_d5d899c2feccea5e.txt): each verb with exactly the document's
// parameter list, plus what a browser client of that era adds (jQuery's
// "_" cache-buster, a form's submit button).
type docStep struct {
	name   string
	verb   string
	tok    string // fixture token name
	params map[string]any
	code   int    // 0: 200
	field  string // for errors
	msg    string // for errors: the message, "…" for any text
	want   map[string]any
	list   []string // for lists: the phonenumber (or accid) of each item
}

// legacyExtras are the parameters an old web client adds that no verb
// takes; they are ignored and reported in X-Ignored-Parameters (in the
// order sent: the test encodes keys sorted).
var legacyExtras = map[string]any{"_": "1733912345678", "submit": "Save"}

const legacyIgnored = "_, submit"

// docSteps is the document's whole user and phone number cycle, with an
// admin token and a handler whose dcp.default_domain is a2.example.com
// (tenant A's empty DCP); accid is made unique per run.
func docSteps(accid string, f *fixture) []docStep {
	email := accid + "@example.com"
	return []docStep{
		{name: "user/create without dcp or tenant goes to the default DCP's tenant", verb: "user/create", tok: "admin",
			params: map[string]any{"accid": accid, "password": "first-pass", "email": email, "firstname": "Doc", "lastname": "Ument"},
			want:   map[string]any{"accid": accid, "tenant": float64(f.tenantA), "firstname": "Doc"}},
		{name: "user/update", verb: "user/update", tok: "admin",
			params: map[string]any{"accid": accid, "password": "second-pass", "email": email, "firstname": "Docu", "lastname": "Ment"},
			want:   map[string]any{"accid": accid, "firstname": "Docu", "lastname": "Ment"}},
		{name: "phonenumber/create allocates", verb: "phonenumber/create", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "secret": "doc-secret", "desc": "desk"},
			want:   map[string]any{"phonenumber": "1000", "dcp": "a2.example.com", "user": accid, "desc": "desk"}},
		{name: "phonenumber/update of the user's only number", verb: "phonenumber/update", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "secret": "new-secret", "desc": "desk 2"},
			want:   map[string]any{"phonenumber": "1000", "desc": "desk 2"}},
		{name: "phonenumber/create in international format", verb: "phonenumber/create", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "phonenumber": "+841001", "desc": "mobile"},
			want:   map[string]any{"phonenumber": "841001", "desc": "mobile"}},
		{name: "phonenumber/update of a user with two numbers updates both", verb: "phonenumber/update", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "secret": "newer-secret", "desc": "desk 3"},
			want:   map[string]any{"phonenumber": "1000", "desc": "desk 3"}},
		{name: "phonenumber/list shows both updated", verb: "phonenumber/list", tok: "admin",
			params: map[string]any{"dcp": "a2.example.com", "user": accid}, list: []string{"1000", "841001"}},
		{name: "phonenumber/update names one in international format", verb: "phonenumber/update", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "phonenumber": "+841001", "desc": "mobile 2"},
			want:   map[string]any{"phonenumber": "841001", "desc": "mobile 2"}},
		{name: "phonenumber/list", verb: "phonenumber/list", tok: "admin",
			params: map[string]any{"dcp": "a2.example.com", "user": accid}, list: []string{"1000", "841001"}},
		{name: "onlinephone/list by an international number", verb: "onlinephone/list", tok: "admin",
			params: map[string]any{"phonenumber": "+1000"}, list: []string{"1000"}},
		{name: "user/list", verb: "user/list", tok: "admin", params: map[string]any{}},
		{name: "domain/list", verb: "domain/list", tok: "admin", params: map[string]any{}},
		{name: "gateway/list", verb: "gateway/list", tok: "admin", params: map[string]any{}},
		{name: "cdr/list", verb: "cdr/list", tok: "admin", params: map[string]any{}},
		{name: "phonenumber/remove in international format", verb: "phonenumber/remove", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "phonenumber": "+841001"},
			want:   map[string]any{"phonenumber": "841001"}},
		{name: "phonenumber/remove", verb: "phonenumber/remove", tok: "admin",
			params: map[string]any{"user": accid, "dcp": "a2.example.com", "phonenumber": "1000"},
			want:   map[string]any{"phonenumber": "1000"}},
		{name: "user/remove by email alone", verb: "user/remove", tok: "admin",
			params: map[string]any{"email": strings.ToUpper(email)}, want: map[string]any{"accid": accid}},
	}
}

// testDocument runs the document's requests through every encoding: each
// is accepted, unknown parameters are ignored and reported, and the store
// ends as it began.
func testDocument(t *testing.T, f *fixture) {
	before := f.dump(t)
	g := *f
	g.handler = dcp.New(api.Deps{Service: f.svc, Presence: f.view, CDRs: f.cdrs,
		Log: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		dcp.WithDefaultDomain("a2.example.com"))
	for i, e := range allEncs {
		for _, st := range docSteps(fmt.Sprintf("doc.%d", i), f) {
			p := map[string]any{}
			for k, v := range legacyExtras {
				p[k] = v
			}
			for k, v := range st.params {
				p[k] = v
			}
			res := g.call(t, "", e, st.verb, st.tok, p)
			label := fmt.Sprintf("%s %s", e, st.name)
			if res.Ignored != legacyIgnored {
				t.Errorf("%s: X-Ignored-Parameters %q, want %q", label, res.Ignored, legacyIgnored)
			}
			if st.code != 0 {
				if res.Code != st.code || res.Field != st.field || !matches(res.Message, st.msg) {
					t.Fatalf("%s: got %d field %q %q, want %d field %q %q", label, res.Code, res.Field, res.Message, st.code, st.field, st.msg)
				}
				continue
			}
			if res.Status != 200 {
				t.Fatalf("%s: %s", label, res.Raw)
			}
			if st.want != nil {
				var got map[string]any
				res.data(t, &got)
				for k, v := range st.want {
					if got[k] != v {
						t.Errorf("%s: %s = %v, want %v (%s)", label, k, got[k], v, res.Raw)
					}
				}
			}
			if st.list != nil {
				if got := names(t, res, "phonenumber"); !slices.Equal(got, st.list) {
					t.Errorf("%s: %v, want %v", label, got, st.list)
				}
			}
		}
	}
	if after := f.dump(t); after != before {
		t.Errorf("the document's cycle left something behind:\nbefore %s\nafter  %s", before, after)
	}

	// A tenant-admin still creates in its own tenant, default or not.
	res := ok(t, g.call(t, "", encForm, "user/create", "B", map[string]any{"accid": "doc.b", "password": "password", "_": "1"}))
	var u map[string]any
	res.data(t, &u)
	if u["tenant"] != float64(f.tenantB) {
		t.Errorf("tenant-admin B with a default DCP of A: %s", res.Raw)
	}
	ok(t, g.call(t, "", encGET, "user/remove", "B", map[string]any{"accid": "doc.b"}))

	// Two users share an e-mail: user/remove by email alone cannot choose.
	for _, accid := range []string{"twin1", "twin2"} {
		ok(t, g.call(t, "", encJSON, "user/create", "A", map[string]any{"accid": accid, "password": "password", "email": "twin@example.com"}))
	}
	mid := f.dump(t)
	res = g.call(t, "", encGET, "user/remove", "A", map[string]any{"email": "twin@example.com"})
	if res.Code != 400 || res.Field != "accid" || res.Message != "Invalid parameter accid: is required: more than one user has email twin@example.com" {
		t.Errorf("ambiguous email: %s", res.Raw)
	}
	if f.dump(t) != mid {
		t.Error("an ambiguous user/remove changed the store")
	}
	for _, accid := range []string{"twin1", "twin2"} {
		ok(t, g.call(t, "", encGET, "user/remove", "A", map[string]any{"accid": accid, "email": "twin@example.com"}))
	}
	if after := f.dump(t); after != before {
		t.Errorf("left something behind:\nbefore %s\nafter  %s", before, after)
	}
}

// TestDefaultDomainMisconfigured: a dcp.default_domain that names no DCP
// is the operator's error: a logged 500 naming the key, nothing written.
func TestDefaultDomainMisconfigured(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		logs := &syncBuffer{}
		f.handler = dcp.New(api.Deps{Service: f.svc, Log: slog.New(slog.NewTextHandler(logs, nil))}, dcp.WithDefaultDomain("gone.example.com"))
		before := f.dump(t)
		res := f.call(t, "", encGET, "user/create", "admin", map[string]any{"accid": "nobody", "password": "password"})
		if res.Code != 500 || res.Message != "Internal error" {
			t.Errorf("got %s", res.Raw)
		}
		if !strings.Contains(logs.String(), `dcp.default_domain \"gone.example.com\"`) {
			t.Errorf("log:\n%s", logs)
		}
		if f.dump(t) != before {
			t.Error("the store changed")
		}
	})
}

// TestUserCreateSoleTenant: with an admin token, no dcp/tenant and no
// dcp.default_domain, user/create of a single-tenant installation (the
// usual migration from the document's system, which had no tenants) puts
// the user in that tenant; with two tenants it is a 400 naming dcp and
// writes nothing.
func TestUserCreateSoleTenant(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		must(t, sqlstore.Migrate(ctx, db))
		svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4))
		admin := provisioning.AdminScope()
		only := &provisioning.Tenant{Name: "only"}
		must(t, svc.CreateTenant(ctx, admin, only))
		secret, _, err := svc.CreateToken(ctx, "admin", provisioning.RoleAdmin, nil)
		must(t, err)
		h := dcp.New(api.Deps{Service: svc, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		create := func(accid string) (int, string) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/user/create?token="+secret+"&accid="+accid+"&password=pass-"+accid+"&_=1733000000000", nil))
			return w.Code, w.Body.String()
		}
		if code, body := create("first"); code != 200 || !strings.Contains(body, `"tenant":`+strconv.FormatInt(only.ID, 10)) {
			t.Fatalf("one tenant: %d %s, want 200 in tenant %d", code, body, only.ID)
		}
		must(t, svc.CreateTenant(ctx, admin, &provisioning.Tenant{Name: "second"}))
		if _, body := create("second"); !strings.Contains(body, `"code":400`) || !strings.Contains(body, `"field":"dcp"`) {
			t.Fatalf("two tenants: %s, want 400 naming dcp", body)
		}
		if _, err := svc.UserByLogin(ctx, admin, "second"); err == nil {
			t.Error("the refused user/create wrote a user")
		}
	})
}

// TestPhoneUpdateEveryNumberOfTheUser: the document's phonenumber/update
// names no number (user and dcp only); for a user with two numbers in the
// DCP both get the change, and nothing else does.
func TestPhoneUpdateEveryNumberOfTheUser(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newFixture(t, db)
		res := ok(t, f.call(t, "", encForm, "phonenumber/update", "A", map[string]any{"user": "alice", "dcp": "a.example.com", "desc": "both"}))
		var got struct{ Phonenumber string }
		res.data(t, &got)
		if got.Phonenumber != "1000" {
			t.Errorf("answer shows %q, want the oldest number 1000", got.Phonenumber)
		}
		var list []struct{ Phonenumber, Desc, User string }
		ok(t, f.call(t, "", encGET, "phonenumber/list", "A", map[string]any{"dcp": "a.example.com"})).data(t, &list)
		for _, p := range list {
			if want := map[bool]string{true: "both", false: "phone " + p.Phonenumber}[p.User == "alice"]; p.Desc != want {
				t.Errorf("%s (%s): desc %q, want %q", p.Phonenumber, p.User, p.Desc, want)
			}
		}
		if len(list) != 3 {
			t.Errorf("%d numbers listed, want 3", len(list))
		}
	})
}
