package dcp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// testLifecycle drives every write verb through every encoding and both
// mounts: create a user and two numbers, update, list, remove, and end
// with the store as it began. Values full of SQL metacharacters are stored
// verbatim.
func testLifecycle(t *testing.T, f *fixture) {
	before := f.dump(t)
	const sqlName = `Robert'); DROP TABLE users;--`
	const sqlDesc = `'; DELETE FROM accounts WHERE '1'='1`
	for i, e := range allEncs {
		for j, mount := range mounts {
			t.Run(fmt.Sprintf("%s at %q", e, mount), func(t *testing.T) {
				accid := fmt.Sprintf("life.%d%d@acme", i, j)
				res := ok(t, f.call(t, mount, e, "user/create", "A", map[string]any{
					"accid": accid, "password": "first-pass", "email": "life@example.com",
					"firstname": sqlName, "lastname": "Tables",
				}))
				var u map[string]any
				res.data(t, &u)
				if u["accid"] != accid || u["firstname"] != sqlName || u["tenant"] != float64(f.tenantA) || u["role"] != "user" {
					t.Fatalf("user/create: %s", res.Raw)
				}
				if strings.Contains(res.Raw, "password") {
					t.Errorf("user/create shows the password: %s", res.Raw)
				}

				res = ok(t, f.call(t, mount, e, "user/update", "A", map[string]any{"accid": accid, "lastname": "", "password": "second-pass"}))
				res.data(t, &u)
				if u["lastname"] != "" || u["firstname"] != sqlName {
					t.Errorf("user/update: %s", res.Raw)
				}
				got, err := f.svc.UserByLogin(context.Background(), provisioning.AdminScope(), accid)
				must(t, err)
				if !provisioning.CheckPassword(got, "second-pass") {
					t.Error("user/update did not change the password")
				}

				res = ok(t, f.call(t, mount, e, "user/list", "A", map[string]any{"dcp": "a.example.com"}))
				if !slices.Contains(names(t, res, "accid"), accid) {
					t.Errorf("user/list lacks %s: %s", accid, res.Raw)
				}

				// The next free number after 1500 in a.example.com.
				res = ok(t, f.call(t, mount, e, "phonenumber/create", "A", map[string]any{
					"user": accid, "dcp": "a.example.com", "desc": sqlDesc, "callerid_name": "Life", "callerid_number": "+4930999",
				}))
				var p map[string]any
				res.data(t, &p)
				secret, _ := p["secret"].(string)
				if p["phonenumber"] != "1501" || p["dcp"] != "a.example.com" || p["user"] != accid || p["desc"] != sqlDesc || len(secret) != 20 {
					t.Fatalf("phonenumber/create: %s", res.Raw)
				}
				acct, err := f.svc.AccountByUsername(context.Background(), provisioning.AdminScope(), "a.example.com", "1501")
				must(t, err)
				if acct.Secret != secret || acct.Description != sqlDesc {
					t.Errorf("stored secret %q desc %q, answered %q %q", acct.Secret, acct.Description, secret, sqlDesc)
				}

				// A number given as a JSON number, as legacy clients send it.
				var number any = "84901234567"
				if e == encJSON {
					number = 84901234567
				}
				res = ok(t, f.call(t, mount, e, "phonenumber/create", "A", map[string]any{
					"user": accid, "dcp": "a.example.com", "phonenumber": number, "secret": "given-secret",
				}))
				p = nil
				res.data(t, &p)
				if p["phonenumber"] != "84901234567" || p["secret"] != nil {
					t.Errorf("phonenumber/create with a secret: %s", res.Raw)
				}

				res = ok(t, f.call(t, mount, e, "phonenumber/update", "A", map[string]any{
					"user": accid, "dcp": "a.example.com", "phonenumber": "1501", "desc": "", "secret": "new-secret",
				}))
				p = nil
				res.data(t, &p)
				if p["desc"] != "" || p["callerid_name"] != "Life" || p["secret"] != nil {
					t.Errorf("phonenumber/update: %s", res.Raw)
				}
				acct, err = f.svc.AccountByUsername(context.Background(), provisioning.AdminScope(), "a.example.com", "1501")
				must(t, err)
				if acct.Secret != "new-secret" || acct.HA1 != provisioning.HA1("1501", "a.example.com", "new-secret") {
					t.Errorf("phonenumber/update stored secret %q", acct.Secret)
				}

				res = ok(t, f.call(t, mount, e, "phonenumber/list", "A", map[string]any{"user": accid, "dcp": "a.example.com"}))
				if got := names(t, res, "phonenumber"); !slices.Equal(got, []string{"1501", "84901234567"}) {
					t.Errorf("phonenumber/list: %v", got)
				}
				if strings.Contains(res.Raw, "secret") {
					t.Errorf("phonenumber/list shows secrets: %s", res.Raw)
				}

				for _, n := range []string{"1501", "84901234567"} {
					res = ok(t, f.call(t, mount, e, "phonenumber/remove", "A", map[string]any{"user": accid, "dcp": "a.example.com", "phonenumber": n}))
					if want := fmt.Sprintf(`{"dcp":"a.example.com","phonenumber":%q,"user":%q}`, n, accid); string(res.Data) != want {
						t.Errorf("phonenumber/remove: %s, want %s", res.Data, want)
					}
				}
				res = ok(t, f.call(t, mount, e, "user/remove", "A", map[string]any{"accid": accid, "email": "LIFE@example.com"}))
				if want := fmt.Sprintf(`{"accid":%q}`, accid); string(res.Data) != want {
					t.Errorf("user/remove: %s, want %s", res.Data, want)
				}
			})
		}
	}
	if after := f.dump(t); after != before {
		t.Errorf("the lifecycle left something behind:\nbefore %s\nafter  %s", before, after)
	}
}

// testUserCreateTargets checks where user/create puts a user, and that a
// number created without an explicit phonenumber in an empty DCP is 1000.
func testUserCreateTargets(t *testing.T, f *fixture) {
	before := f.dump(t)
	cases := []struct {
		tok    string
		params map[string]any
		tenant int64
	}{
		{"A", map[string]any{}, f.tenantA},
		{"admin", map[string]any{"dcp": "b.example.com"}, f.tenantB},
		{"admin", map[string]any{"tenant": f.tenantA}, f.tenantA},
		{"B", map[string]any{"dcp": "B.EXAMPLE.COM"}, f.tenantB},
	}
	for i, tc := range cases {
		accid := fmt.Sprintf("target%d", i)
		tc.params["accid"], tc.params["password"] = accid, "password"
		res := ok(t, f.call(t, "", encJSON, "user/create", tc.tok, tc.params))
		var u map[string]any
		res.data(t, &u)
		if u["tenant"] != float64(tc.tenant) {
			t.Errorf("%s %v: tenant %v, want %d", tc.tok, tc.params, u["tenant"], tc.tenant)
		}
		dcp := "a2.example.com"
		if tc.tenant == f.tenantB {
			dcp = "b.example.com"
		}
		res = ok(t, f.call(t, "", encForm, "phonenumber/create", "admin", map[string]any{"user": accid, "dcp": dcp}))
		var p map[string]any
		res.data(t, &p)
		want := "1000"
		if dcp == "b.example.com" {
			want = "2001"
		}
		if p["phonenumber"] != want {
			t.Errorf("allocated %v in %s, want %s", p["phonenumber"], dcp, want)
		}
		ok(t, f.call(t, "", encGET, "phonenumber/remove", "admin", map[string]any{"user": accid, "dcp": dcp, "phonenumber": want}))
		ok(t, f.call(t, "", encGET, "user/remove", "admin", map[string]any{"accid": accid}))
	}
	if after := f.dump(t); after != before {
		t.Errorf("left something behind:\nbefore %s\nafter  %s", before, after)
	}
}

// testAllocation creates numbers concurrently without a phonenumber in a
// DCP that already holds the 20- and 21-digit numbers that used to end
// allocation there for good (issue 11): each of 20 parallel requests gets
// its own number from 1000 up, none a 409.
func testAllocation(t *testing.T, f *fixture) {
	before := f.dump(t)
	ctx, admin := context.Background(), provisioning.AdminScope()
	amy, err := f.svc.UserByLogin(ctx, admin, "amy")
	must(t, err)
	var blockers []int64
	for _, n := range []string{"99999999999999999999", "100000000000000000000", "desk"} {
		a := &provisioning.Account{Domain: "a2.example.com", Username: n, UserID: &amy.ID}
		must(t, f.svc.CreateAccount(ctx, admin, a))
		blockers = append(blockers, a.ID)
	}
	const n = 20
	var wg sync.WaitGroup
	got := make([]string, n)
	for i := range n {
		wg.Go(func() {
			r := newRequest(t, "", allEncs[i%len(allEncs)], "phonenumber/create", map[string]any{"token": f.tok["A"], "user": "amy", "dcp": "a2.example.com"})
			rec := httptest.NewRecorder()
			f.handler.ServeHTTP(rec, r)
			if rec.Code != http.StatusOK {
				t.Errorf("concurrent create: %d %s", rec.Code, rec.Body)
				return
			}
			var p struct {
				Data struct{ Phonenumber string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Error(err)
			}
			got[i] = p.Data.Phonenumber
		})
	}
	wg.Wait()
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(1000+i))
	}
	if !slices.Equal(sorted(got), want) {
		t.Errorf("allocated %v, want %v", sorted(got), want)
	}
	for _, num := range got {
		ok(t, f.call(t, "", encGET, "phonenumber/remove", "A", map[string]any{"user": "amy", "dcp": "a2.example.com", "phonenumber": num}))
	}
	for _, id := range blockers {
		must(t, f.svc.DeleteAccount(ctx, admin, id))
	}
	if after := f.dump(t); after != before {
		t.Errorf("left something behind:\nbefore %s\nafter  %s", before, after)
	}
}

// testLists checks scoping and paging of the provisioning lists.
func testLists(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		verb, tok, key string
		params         map[string]any
		want           []string
	}{
		{"domain/list", "A", "dcp", nil, []string{"a.example.com", "a2.example.com"}},
		{"domain/list", "B", "dcp", nil, []string{"b.example.com"}},
		{"domain/list", "admin", "dcp", nil, []string{"a.example.com", "a2.example.com", "b.example.com"}},
		{"domain/list", "userA", "dcp", nil, []string{"a.example.com", "a2.example.com"}},
		{"user/list", "A", "accid", nil, []string{"alice", "amy"}},
		{"user/list", "admin", "accid", map[string]any{"dcp": "b.example.com"}, []string{"bob"}},
		{"user/list", "admin", "accid", nil, []string{"alice", "amy", "bob"}},
		{"phonenumber/list", "A", "phonenumber", nil, []string{"1000", "1001", "1500"}},
		{"phonenumber/list", "A", "phonenumber", map[string]any{"user": "alice"}, []string{"1000", "1001"}},
		{"phonenumber/list", "A", "phonenumber", map[string]any{"dcp": "a2.example.com"}, []string{}},
		{"phonenumber/list", "admin", "user", nil, []string{"alice", "alice", "amy", "bob"}},
		{"phonenumber/list", "B", "phonenumber", nil, []string{"2000"}},
	} {
		for _, e := range allEncs {
			// Page through with limit 1: every item once, in order, and no
			// next on the last page.
			var all []string
			var cursor string
			for page := 0; ; page++ {
				p := map[string]any{"limit": 1}
				for k, v := range tc.params {
					p[k] = v
				}
				if cursor != "" {
					p["cursor"] = cursor
				}
				res := ok(t, f.call(t, mounts[page%2], e, tc.verb, tc.tok, p))
				got := names(t, res, tc.key)
				if len(got) > 1 || (len(got) == 0 && page > 0) {
					t.Fatalf("%s %v page %d: %s", tc.verb, tc.params, page, res.Raw)
				}
				all = append(all, got...)
				if cursor = res.Next; cursor == "" {
					break
				}
			}
			if all == nil {
				all = []string{}
			}
			if !slices.Equal(all, tc.want) {
				t.Errorf("%s %s %v by %s: %v, want %v", e, tc.verb, tc.params, tc.tok, all, tc.want)
			}
		}
		// One page of everything: no next.
		res := ok(t, f.call(t, "", encGET, tc.verb, tc.tok, tc.params))
		if res.Next != "" || len(names(t, res, tc.key)) != len(tc.want) {
			t.Errorf("%s %v: %s", tc.verb, tc.params, res.Raw)
		}
	}

	res := ok(t, f.call(t, "", encGET, "domain/list", "A", nil))
	var ds []map[string]any
	res.data(t, &ds)
	if ds[0]["desc"] != "Acme main" || ds[0]["tenant"] != float64(f.tenantA) || ds[0]["created"] == "" {
		t.Errorf("domain/list: %s", res.Raw)
	}
}

func testOnline(t *testing.T, f *fixture) {
	res := ok(t, f.call(t, "/dcp", encJSON, "onlinephone/list", "A", map[string]any{"dcp": "a.example.com", "phonenumber": 1000}))
	var regs []map[string]any
	res.data(t, &regs)
	want := map[string]any{
		"phonenumber": "1000", "dcp": "a.example.com", "contact": "sip:1000@10.0.0.5:5062", "ip": "10.0.0.5",
		"port": float64(5062), "transport": "udp", "user_agent": "Yealink T46U", "expires": f.now.Add(time.Hour).Format(time.RFC3339),
		"status": "reachable", "rtt_ms": 12.5, "switch": "ast1",
	}
	if len(regs) != 1 || fmt.Sprint(regs[0]) != fmt.Sprint(want) {
		t.Errorf("onlinephone/list 1000:\n got %v\nwant %v", regs, want)
	}

	for _, tc := range []struct {
		tok    string
		params map[string]any
		want   []string
	}{
		{"A", nil, []string{"1000", "1001", "1500"}},
		{"userA", nil, []string{"1000", "1001", "1500"}},
		{"B", nil, []string{"2000"}},
		{"admin", nil, []string{"1000", "1001", "1500", "2000"}},
		{"admin", map[string]any{"dcp": "b.example.com"}, []string{"2000"}},
		{"A", map[string]any{"dcp": "a2.example.com"}, []string{}},
		{"A", map[string]any{"phonenumber": "2000"}, []string{}},
	} {
		for _, e := range allEncs {
			var all []string
			cursor := ""
			for page := 0; page < 10; page++ {
				p := map[string]any{"limit": 2}
				for k, v := range tc.params {
					p[k] = v
				}
				if cursor != "" {
					p["cursor"] = cursor
				}
				res := ok(t, f.call(t, mounts[page%2], e, "onlinephone/list", tc.tok, p))
				all = append(all, names(t, res, "phonenumber")...)
				if cursor = res.Next; cursor == "" {
					break
				}
			}
			if all == nil {
				all = []string{}
			}
			if !slices.Equal(all, tc.want) {
				t.Errorf("%s onlinephone/list %v by %s: %v, want %v", e, tc.params, tc.tok, all, tc.want)
			}
		}
	}

	// The IPv6 registration without expiry or RTT.
	res = ok(t, f.call(t, "", encGET, "onlinephone/list", "A", map[string]any{"phonenumber": "1001"}))
	res.data(t, &regs)
	if len(regs) != 1 || regs[0]["ip"] != "2001:db8::1" || regs[0]["port"] != float64(5060) || regs[0]["expires"] != nil || regs[0]["rtt_ms"] != nil || regs[0]["switch"] != "fs1" {
		t.Errorf("onlinephone/list 1001: %s", res.Raw)
	}
}

func testGateways(t *testing.T, f *fixture) {
	for _, tc := range []struct {
		tok  string
		want []string
	}{
		{"A", []string{"gw-a", "gw-shared"}},
		{"B", []string{"gw-b", "gw-shared"}},
		{"admin", []string{"gw-a", "gw-b", "gw-shared"}},
	} {
		for i, e := range allEncs {
			res := ok(t, f.call(t, mounts[i%2], e, "gateway/list", tc.tok, nil))
			if got := sorted(names(t, res, "name")); !slices.Equal(got, tc.want) {
				t.Errorf("%s gateway/list by %s: %v, want %v", e, tc.tok, got, tc.want)
			}
			if strings.Contains(res.Raw, "secret") {
				t.Errorf("gateway/list shows a secret: %s", res.Raw)
			}
		}
	}
	res := ok(t, f.call(t, "", encGET, "gateway/list", "admin", nil))
	var gws []map[string]any
	res.data(t, &gws)
	byName := map[string]map[string]any{}
	for _, g := range gws {
		byName[g["name"].(string)] = g
	}
	a := byName["gw-a"]
	if a["status"] != "up" || a["registration"] != "registered" || a["rtt_ms"] != 20.0 || a["switch"] != "ast1" ||
		a["host"] != "sip.carrier-a.net" || a["port"] != 5060.0 || a["transport"] != "udp" || a["tenant"] != float64(f.tenantA) {
		t.Errorf("gw-a: %v", a)
	}
	if sw := a["switches"].([]any); len(sw) != 2 || sw[1].(map[string]any)["status"] != "down" || sw[1].(map[string]any)["detail"] != "FAIL_WAIT" {
		t.Errorf("gw-a switches: %v", a["switches"])
	}
	s := byName["gw-shared"]
	if s["status"] != "unknown" || s["registration"] != "unknown" || s["rtt_ms"] != nil || s["switch"] != "" ||
		s["tenant"] != nil || s["port"] != 5061.0 || s["transport"] != "tls" || len(s["switches"].([]any)) != 0 {
		t.Errorf("gw-shared: %v", s)
	}
	b := byName["gw-b"]
	if b["status"] != "up" || b["port"] != 5080.0 || b["transport"] != "tcp" {
		t.Errorf("gw-b: %v", b)
	}
	// Paging.
	res = ok(t, f.call(t, "", encGET, "gateway/list", "admin", map[string]any{"limit": 2}))
	res2 := ok(t, f.call(t, "", encGET, "gateway/list", "admin", map[string]any{"limit": 2, "cursor": res.Next}))
	if got := append(names(t, res, "name"), names(t, res2, "name")...); len(got) != 3 || res2.Next != "" {
		t.Errorf("gateway/list pages: %v next %q", got, res2.Next)
	}
}

func testCDRs(t *testing.T, f *fixture) {
	ids := func(res response) []string { return names(t, res, "call_id") }
	for _, tc := range []struct {
		tok    string
		params map[string]any
		want   []string
	}{
		{"A", nil, []string{"call-6", "call-4", "call-2", "call-1", "call-0"}},
		{"userA", nil, []string{"call-6", "call-4", "call-2", "call-1", "call-0"}},
		{"B", nil, []string{"call-5", "call-3"}},
		{"admin", map[string]any{"dcp": "b.example.com"}, []string{"call-5", "call-3"}},
		{"admin", map[string]any{"callee": "004930111"}, []string{"call-5", "call-0"}},
		{"A", map[string]any{"callee": "004930111"}, []string{"call-0"}},
		{"A", map[string]any{"phonenumber": "1001"}, []string{"call-4", "call-1"}},
		{"A", map[string]any{"caller": "+4930555"}, []string{"call-4"}},
		{"A", map[string]any{"disposition": "no answer"}, []string{"call-1"}},
		{"A", map[string]any{"disposition": "ANSWERED"}, []string{"call-6", "call-4", "call-2", "call-0"}},
		{"A", map[string]any{"from": "2024-03-01T12:00:00Z", "to": "2024-03-01 15:00:00"}, []string{"call-4", "call-2"}},
		{"A", map[string]any{"from": "1709294400"}, []string{"call-6", "call-4", "call-2"}}, // 2024-03-01 12:00 UTC
		{"A", map[string]any{"to": "2024-03-01T12:00:00+01:00"}, []string{"call-0"}},
		{"A", map[string]any{"dcp": "a2.example.com"}, []string{}},
		{"A", map[string]any{"callee": "' OR 1=1 --"}, []string{}},
	} {
		for i, e := range allEncs {
			res := ok(t, f.call(t, mounts[i%2], e, "cdr/list", tc.tok, tc.params))
			if got := ids(res); !slices.Equal(got, tc.want) {
				t.Errorf("%s cdr/list %v by %s: %v, want %v", e, tc.params, tc.tok, got, tc.want)
			}
		}
	}
	// Paging with the store's cursor.
	var all []string
	cursor := ""
	for page := 0; page < 5; page++ {
		p := map[string]any{"limit": 2}
		if cursor != "" {
			p["cursor"] = cursor
		}
		res := ok(t, f.call(t, "", encJSON, "cdr/list", "A", p))
		all = append(all, ids(res)...)
		if cursor = res.Next; cursor == "" {
			break
		}
	}
	if want := []string{"call-6", "call-4", "call-2", "call-1", "call-0"}; !slices.Equal(all, want) {
		t.Errorf("cdr/list pages: %v, want %v", all, want)
	}
	// One record in full.
	res := ok(t, f.call(t, "", encGET, "cdr/list", "A", map[string]any{"limit": 1}))
	var recs []map[string]any
	res.data(t, &recs)
	r := recs[0]
	if r["dcp"] != "a.example.com" || r["phonenumber"] != "1000" || r["caller"] != "1000" || r["callee"] != "0049309999" ||
		r["start"] != "2024-03-01T16:00:00Z" || r["answer"] != "2024-03-01T16:00:10Z" || r["end"] != "2024-03-01T16:01:00Z" ||
		r["duration"] != 60.0 || r["billsec"] != 50.0 || r["disposition"] != "ANSWERED" || r["direction"] != "outbound" {
		t.Errorf("cdr/list record: %v", r)
	}
}

// testAuth checks the ways a token may be given.
func testAuth(t *testing.T, f *fixture) {
	r := httptest.NewRequest(http.MethodGet, "/domain/list", nil)
	r.Header.Set("Authorization", "Bearer "+f.tok["B"])
	if res := ok(t, f.serve(t, r)); !slices.Equal(names(t, res, "dcp"), []string{"b.example.com"}) {
		t.Errorf("bearer: %s", res.Raw)
	}
	// The token parameter wins over the header.
	r = httptest.NewRequest(http.MethodPost, "/dcp/domain/list?token="+f.tok["A"], nil)
	r.Header.Set("Authorization", "Bearer "+f.tok["B"])
	if res := ok(t, f.serve(t, r)); len(names(t, res, "dcp")) != 2 {
		t.Errorf("token parameter: %s", res.Raw)
	}
	// A token in the query string of a form POST.
	r = httptest.NewRequest(http.MethodPost, "/domain/list?token="+f.tok["B"], strings.NewReader("limit=5"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	ok(t, f.serve(t, r))
	// A bad Bearer is refused even on a verb with no parameters.
	r = httptest.NewRequest(http.MethodGet, "/gateway/list", nil)
	r.Header.Set("Authorization", "Bearer sbt_forged")
	if res := f.serve(t, r); res.Code != http.StatusForbidden || res.Message != "Invalid token" {
		t.Errorf("forged bearer: %s", res.Raw)
	}
}
