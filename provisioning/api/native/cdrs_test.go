package native

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// cdrEnv is an env whose API also has a real CDR store (queries and
// submissions) and a real live feed.
type cdrEnv struct {
	*env
	store *cdrstore.Store
	feed  *cdr.Feed
	srv   *server
}

func newCDREnv(t *testing.T, db *sqldb.DB) *cdrEnv {
	t.Helper()
	e := newEnv(t, db)
	if err := cdrstore.Migrate(context.Background(), db); err != nil {
		t.Fatalf("migrate cdr: %v", err)
	}
	ce := &cdrEnv{env: e, store: cdrstore.NewStore(db), feed: cdr.NewFeed()}
	ce.rebuild(func(d *api.Deps) {})
	return ce
}

// rebuild makes a new handler from the env's deps changed by fn.
func (ce *cdrEnv) rebuild(fn func(d *api.Deps)) {
	d := ce.deps
	d.CDRs, d.CDRFeed, d.CDRIngest = ce.store, ce.feed, ce.store
	fn(&d)
	ce.srv = newServer(d)
	ce.srv.heartbeat = time.Hour // tests that want heartbeats shorten it
	ce.h = ce.srv
}

func eachCDR(t *testing.T, fn func(t *testing.T, ce *cdrEnv)) {
	each(t, func(t *testing.T, e *env) {
		ce := newCDREnv(t, e.db)
		fn(t, ce)
	})
}

// t0 has microseconds, as stored times do.
var t0 = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

// leg is a minimal valid CDR ending minutes after t0.
func leg(callID, domain string, minutes int, mods ...func(*cdr.Record)) cdr.Record {
	end := t0.Add(time.Duration(minutes) * time.Minute)
	r := cdr.Record{Switch: "s1", CallID: callID, Domain: domain, Start: end.Add(-time.Minute), End: end, Duration: 60,
		Direction: cdr.DirectionInternal, Disposition: cdr.Answered}
	for _, m := range mods {
		m(&r)
	}
	return r
}

// insert stores recs as the pipeline would: each stamped with the owner
// of its domain now.
func (ce *cdrEnv) insert(recs ...cdr.Record) {
	ce.t.Helper()
	if _, err := ce.store.Insert(context.Background(), ce.owned(recs...)); err != nil {
		ce.t.Fatal(err)
	}
}

// owned returns recs stamped with the owners of their domains now, as
// the pipeline stamps them at ingest.
func (ce *cdrEnv) owned(recs ...cdr.Record) []cdr.Record {
	ce.t.Helper()
	recs = slices.Clone(recs)
	if err := cdr.StampOwners(context.Background(), ce.svc, recs); err != nil {
		ce.t.Fatal(err)
	}
	return recs
}

func (ce *cdrEnv) count() int64 {
	ce.t.Helper()
	n, err := ce.store.Count(context.Background())
	if err != nil {
		ce.t.Fatal(err)
	}
	return n
}

func callIDsOf(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it["call_id"].(string)
	}
	return out
}

// cdrTree is tree() with one more domain, under A's sub-tenant, and a
// token of a tenant without domains.
type cdrTree struct {
	*tree
	tokEmpty string
}

func (ce *cdrEnv) cdrTree() cdrTree {
	tr := ce.tree()
	ce.create("domains", ce.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"a-sub.example.com"}`, tr.aSub))
	empty := ce.create("tenants", ce.admin, `{"name":"empty"}`)
	return cdrTree{tree: tr, tokEmpty: ce.token("empty", provisioning.RoleUser, &empty)}
}

// seed stores six CDRs, one per minute, with distinct values for every
// filter. a.example.com and b.example.com are tenants A's and B's,
// a-sub.example.com is A's sub-tenant's, unprovisioned.example nobody's.
func (ce *cdrEnv) seed() {
	ce.insert(
		leg("c1", "a.example.com", 1, func(r *cdr.Record) {
			r.Account, r.CallerNumber, r.Dialed, r.Gateway = "1001", "+15550001", "00442071234567", "gw1"
			r.Direction, r.Billsec, r.Duration = cdr.DirectionOutbound, 30, 40
			a := r.End.Add(-30 * time.Second)
			r.Answer = &a
		}),
		leg("c2", "a.example.com", 2, func(r *cdr.Record) {
			r.Switch, r.Account, r.CallerNumber, r.Dialed = "s2", "1002", "+15550002", "0033123"
			r.Disposition = cdr.NoAnswer
		}),
		leg("c3", "b.example.com", 3, func(r *cdr.Record) {
			r.Account, r.CallerNumber, r.Dialed, r.Gateway = "2001", "+15550003", "0044999", "gw2"
			r.Direction, r.Disposition = cdr.DirectionInbound, cdr.Busy
		}),
		leg("c4", "a-sub.example.com", 4, func(r *cdr.Record) {
			r.Account, r.CallerNumber, r.Dialed, r.Gateway = "3001", "+15550001", "1234", "gw1"
			r.Direction, r.Billsec, r.Duration = cdr.DirectionInbound, 120, 130
		}),
		leg("c5", "unprovisioned.example", 5, func(r *cdr.Record) { r.Disposition = cdr.Failed }),
		leg("c6", "a.example.com", 6, func(r *cdr.Record) {
			r.Disposition, r.Raw = cdr.Congestion, json.RawMessage(`{"x":1}`)
		}),
	)
}

func (ce *cdrEnv) listIDs(t *testing.T, tok, query string) []string {
	t.Helper()
	return callIDsOf(ce.do("GET", "/api/v1/cdrs"+query, tok, "").must(t, http.StatusOK).items(t))
}

func ts(minutes int) string {
	return urlQuery(t0.Add(time.Duration(minutes) * time.Minute).Format(time.RFC3339Nano))
}

// Every filter selects what it says, alone and combined; times bound the
// end time, from inclusive and to exclusive.
func TestCDRListFilters(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		ce.seed()
		for _, tc := range []struct {
			query string
			want  string
		}{
			{"", "c6 c5 c4 c3 c2 c1"},
			{"?from=" + ts(2), "c6 c5 c4 c3 c2"},
			{"?to=" + ts(2), "c1"},
			{"?from=" + ts(2) + "&to=" + ts(4), "c3 c2"},
			{"?from=" + urlQuery(t0.Add(2*time.Minute).In(time.FixedZone("x", 3600)).Format(time.RFC3339Nano)), "c6 c5 c4 c3 c2"},
			{"?domain=a.example.com", "c6 c2 c1"},
			{"?domain=A.Example.COM", "c6 c2 c1"},
			{"?domain=unprovisioned.example", "c5"},
			{"?domain=nowhere.example", ""},
			{"?switch=s2", "c2"},
			{"?account=1001", "c1"},
			{"?caller=" + urlQuery("+15550001"), "c4 c1"},
			{"?callee_prefix=0044", "c3 c1"},
			{"?callee_prefix=00442071234567", "c1"},
			{"?disposition=no_answer", "c2"},
			{"?disposition=NO%20ANSWER", "c2"},
			{"?disposition=No-Answer", "c2"},
			{"?disposition=busy", "c3"},
			{"?disposition=ANSWERED", "c4 c1"},
			{"?gateway=gw1", "c4 c1"},
			{"?direction=INBOUND", "c4 c3"},
			{"?direction=outbound", "c1"},
			{"?min_billsec=30", "c4 c1"},
			{"?min_billsec=31", "c4"},
			{"?min_billsec=0", "c6 c5 c4 c3 c2 c1"},
			{"?domain=a.example.com&disposition=answered&gateway=gw1", "c1"},
			{"?switch=s1&direction=inbound&min_billsec=1", "c4"},
			{"?domain=", "c6 c5 c4 c3 c2 c1"}, // empty is no filter
		} {
			if got := strings.Join(ce.listIDs(t, ce.admin, tc.query), " "); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.query, got, tc.want)
			}
		}

		// The fields of an item; raw only on request.
		items := ce.do("GET", "/api/v1/cdrs?account=1001", ce.admin, "").must(t, http.StatusOK).items(t)
		c1 := items[0]
		if c1["switch"] != "s1" || c1["domain"] != "a.example.com" || c1["direction"] != "outbound" || c1["disposition"] != "ANSWERED" ||
			c1["billsec"] != 30.0 || c1["duration"] != 40.0 || c1["end"] != t0.Add(time.Minute).Format(time.RFC3339Nano) ||
			c1["answer"] != t0.Add(30*time.Second).Format(time.RFC3339Nano) || c1["id"].(float64) <= 0 {
			t.Errorf("c1 = %v", jsonStr(c1))
		}
		if _, ok := c1["raw"]; ok {
			t.Errorf("raw without include_raw: %v", jsonStr(c1))
		}
		c6 := ce.do("GET", "/api/v1/cdrs?disposition=congestion", ce.admin, "").must(t, http.StatusOK).items(t)[0]
		if _, ok := c6["raw"]; ok || c6["answer"] != nil {
			t.Errorf("c6 = %v", jsonStr(c6))
		}
		c6 = ce.do("GET", "/api/v1/cdrs?disposition=congestion&include_raw=true", ce.admin, "").must(t, http.StatusOK).items(t)[0]
		if jsonStr(c6["raw"]) != `{"x":1}` {
			t.Errorf("c6 with include_raw: %v", jsonStr(c6))
		}
	})
}

// Malformed filters are refused, naming the parameter, on every route
// that takes them; parameters a route does not take are refused too.
func TestCDRBadParameters(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		for _, tc := range []struct {
			path, field string
		}{
			{"/api/v1/cdrs?from=yesterday", "from"},
			{"/api/v1/cdrs?to=2025-03-14", "to"},
			{"/api/v1/cdrs?from=" + ts(2) + "&to=" + ts(2), "to"},
			{"/api/v1/cdrs?disposition=hung_up", "disposition"},
			{"/api/v1/cdrs?direction=sideways", "direction"},
			{"/api/v1/cdrs?min_billsec=-1", "min_billsec"},
			{"/api/v1/cdrs?min_billsec=ten", "min_billsec"},
			{"/api/v1/cdrs?limit=0", "limit"},
			{"/api/v1/cdrs?limit=1001", "limit"},
			{"/api/v1/cdrs?cursor=nope", "cursor"},
			{"/api/v1/cdrs?cursor=" + urlQuery(api.EncodeCursor(5)), "cursor"},
			{"/api/v1/cdrs?include_raw=maybe", "include_raw"},
			{"/api/v1/cdrs?callee=1", "callee"},
			{"/api/v1/cdrs?switch=a&switch=b", "switch"},
			{"/api/v1/cdrs/export?limit=10", "limit"},
			{"/api/v1/cdrs/export?cursor=x", "cursor"},
			{"/api/v1/cdrs/export?direction=up", "direction"},
			{"/api/v1/cdrs/export?include_raw=true", "include_raw"},
			{"/api/v1/cdrs/stream?from=" + ts(1), "from"},
			{"/api/v1/cdrs/stream?disposition=x", "disposition"},
		} {
			r := ce.do("GET", tc.path, ce.admin, "")
			checkError(t, r, http.StatusBadRequest, codeBadParameter, tc.field)
		}
		for _, p := range []string{"/api/v1/cdrs", "/api/v1/cdrs/export", "/api/v1/cdrs/stream"} {
			checkError(t, ce.do("GET", p, "", ""), http.StatusUnauthorized, codeUnauthenticated, "")
		}
	})
}

// A tenant sees the CDRs of its subtree's domains and nothing else, in
// the list, the export and the stream, however it asks.
func TestCDRScope(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.cdrTree()
		ce.seed()
		for _, tc := range []struct {
			who, tok, query, want string
		}{
			{"admin", ce.admin, "", "c6 c5 c4 c3 c2 c1"},
			{"A", tr.tokA, "", "c6 c4 c2 c1"},
			{"A, its sub-tenant's domain", tr.tokA, "?domain=a-sub.example.com", "c4"},
			{"A, upper case", tr.tokA, "?domain=A.EXAMPLE.COM", "c6 c2 c1"},
			{"A, B's switch", tr.tokA, "?switch=s1&direction=inbound", "c4"},
			{"B", tr.tokB, "", "c3"},
			{"B, A's gateway", tr.tokB, "?gateway=gw1", ""},
			{"root", tr.tokR, "", "c6 c4 c3 c2 c1"},
			{"a tenant without domains", tr.tokEmpty, "", ""},
		} {
			if got := strings.Join(ce.listIDs(t, tc.tok, tc.query), " "); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.who, tc.query, got, tc.want)
			}
			// The export agrees with the list.
			r := ce.do("GET", "/api/v1/cdrs/export"+tc.query, tc.tok, "").must(t, http.StatusOK)
			if got := strings.Join(csvCallIDs(t, r.body), " "); got != tc.want {
				t.Errorf("export %s %s: %q, want %q", tc.who, tc.query, got, tc.want)
			}
		}
		// Naming a domain outside the scope selects nothing, the same way
		// whether it is another tenant's, nobody's or does not exist: the
		// scope is the owner, domain a plain filter within it.
		for _, tok := range []string{tr.tokA, tr.tokEmpty} {
			for _, d := range []string{"b.example.com", "unprovisioned.example", "nowhere.example"} {
				if got := ce.listIDs(t, tok, "?domain="+d); len(got) != 0 {
					t.Errorf("?domain=%s: %v", d, got)
				}
				r := ce.do("GET", "/api/v1/cdrs/export?domain="+d, tok, "").must(t, http.StatusOK)
				if got := csvCallIDs(t, r.body); len(got) != 0 {
					t.Errorf("export ?domain=%s: %v", d, got)
				}
			}
		}
		// The sub-tenant does not see its parent's domains.
		sub := ce.token("sub", provisioning.RoleUser, &tr.aSub)
		if got := strings.Join(ce.listIDs(t, sub, ""), " "); got != "c4" {
			t.Errorf("A's sub-tenant sees %q", got)
		}
	})
}

// Keyset paging walks every CDR once, newest first, also through ties on
// the end time and with filters; a cursor outlives inserts of newer CDRs.
func TestCDRPaging(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.cdrTree()
		var recs []cdr.Record
		for i := range 25 {
			domain := "a.example.com"
			if i%5 == 0 {
				domain = "b.example.com"
			}
			recs = append(recs, leg(fmt.Sprintf("p%02d", i), domain, i/3)) // three CDRs per end time
		}
		ce.insert(recs...)
		walk := func(tok, query string, limit int) []string {
			t.Helper()
			var out []string
			cursor := ""
			for pages := 0; ; pages++ {
				if pages > 30 {
					t.Fatal("paging does not end")
				}
				r := ce.do("GET", fmt.Sprintf("/api/v1/cdrs?limit=%d&cursor=%s%s", limit, urlQuery(cursor), query), tok, "").must(t, http.StatusOK)
				items := r.items(t)
				if len(items) > limit {
					t.Fatalf("page of %d, limit %d", len(items), limit)
				}
				out = append(out, callIDsOf(items)...)
				if cursor = r.m["next_cursor"].(string); cursor == "" {
					return out
				}
				if pages == 0 {
					// A CDR newer than the walk does not shift it.
					ce.insert(leg("late", "a.example.com", 100))
				}
			}
		}
		all := ce.listIDs(t, ce.admin, "?limit=1000&to="+ts(50))
		if len(all) != 25 {
			t.Fatalf("%d CDRs", len(all))
		}
		for _, limit := range []int{1, 2, 7, 25} {
			if got := walk(ce.admin, "&to="+ts(50), limit); !slices.Equal(got, all) {
				t.Errorf("limit %d: %v, want %v", limit, got, all)
			}
		}
		var wantA []string
		for _, id := range all {
			var n int
			fmt.Sscanf(id, "p%d", &n)
			if n%5 != 0 {
				wantA = append(wantA, id)
			}
		}
		if got := walk(tr.tokA, "&to="+ts(50), 3); !slices.Equal(got, wantA) {
			t.Errorf("A walks %v, want %v", got, wantA)
		}
		// Ties are broken by id, newest (largest) first: p24 ends alone,
		// p23 and p22 together.
		items := ce.do("GET", "/api/v1/cdrs?to="+ts(50)+"&limit=3", ce.admin, "").must(t, http.StatusOK).items(t)
		if items[1]["end"] != items[2]["end"] || items[1]["id"].(float64) <= items[2]["id"].(float64) {
			t.Errorf("ties not by descending id: %v", jsonStr(items))
		}
	})
}

func csvCallIDs(t *testing.T, body string) []string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	if len(rows) == 0 || rows[0][2] != "call_id" {
		t.Fatalf("export has no header: %q", body)
	}
	out := []string{}
	for _, row := range rows[1:] {
		out = append(out, row[2])
	}
	return out
}

// flushCounter is a ResponseWriter that counts flushes.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

// The export streams every matching row, page by page with a flush after
// each, as RFC 4180 CSV that encoding/csv reads back, with spreadsheet
// formulas defused.
func TestCDRExport(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.cdrTree()
		const n = 5000
		recs := make([]cdr.Record, 0, n+1)
		for i := range n {
			recs = append(recs, leg(fmt.Sprintf("x%04d", i), "a.example.com", 0, func(r *cdr.Record) {
				r.End = t0.Add(time.Duration(i) * time.Second)
				r.Start = r.End.Add(-time.Minute)
				r.CallerNumber, r.CallerName = "+15551234567", fmt.Sprintf("Caller, \"%d\"\nline two", i)
			}))
		}
		recs = append(recs, leg("other", "b.example.com", 0))
		ce.insert(recs...)

		req := httptest.NewRequest("GET", "/api/v1/cdrs/export", nil)
		req.Header.Set("Authorization", "Bearer "+tr.tokA)
		w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
		ce.h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("export: %d %s", w.Code, w.Body)
		}
		for h, want := range map[string]string{
			"Content-Type":        "text/csv; charset=utf-8",
			"Content-Disposition": `attachment; filename="cdrs.csv"`,
			"Cache-Control":       "no-store",
		} {
			if got := w.Header().Get(h); got != want {
				t.Errorf("%s: %q, want %q", h, got, want)
			}
		}
		if w.flushes < n/cdr.MaxLimit {
			t.Errorf("%d flushes for %d rows: the export is not streamed page by page", w.flushes, n)
		}
		rows, err := csv.NewReader(w.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		wantHeader := "id,switch,call_id,linked_id,direction,domain,account,gateway,caller_number,caller_name,dialed,destination," +
			"start,answer,end,duration,billsec,disposition,cause,cause_text,sip_status,codec,user_agent," +
			"cost,currency,rate_prefix,rate_destination,rate_group,plan,unpriced," +
			"supplier_cost,supplier_currency,supplier_prefix,supplier_plan,supplier_unpriced"
		if got := strings.Join(rows[0], ","); got != wantHeader {
			t.Errorf("header %s", got)
		}
		if len(rows) != n+1 {
			t.Fatalf("%d rows, want %d and a header", len(rows)-1, n)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		for i, row := range rows[1:] {
			k := n - 1 - i // newest first
			if row[col["call_id"]] != fmt.Sprintf("x%04d", k) {
				t.Fatalf("row %d is %s, want x%04d", i, row[col["call_id"]], k)
			}
			if i%997 == 0 {
				end := t0.Add(time.Duration(k) * time.Second)
				if row[col["end"]] != end.Format(time.RFC3339Nano) || row[col["start"]] != end.Add(-time.Minute).Format(time.RFC3339Nano) ||
					row[col["answer"]] != "" || row[col["caller_name"]] != fmt.Sprintf("Caller, \"%d\"\nline two", k) ||
					row[col["caller_number"]] != "+15551234567" || row[col["disposition"]] != "ANSWERED" || row[col["domain"]] != "a.example.com" {
					t.Errorf("row %d: %q", i, row)
				}
			}
		}
	})
}

// Text cells that a spreadsheet would run as a formula get a leading '
// (cdr.CSVRow's guard, E.164 numbers included); other text is left alone.
func TestCDRExportDefusesFormulas(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		cases := map[string]string{ // caller_name → cell
			"=HYPERLINK(\"http://evil\",\"x\")": "'=HYPERLINK(\"http://evil\",\"x\")",
			"@SUM(A1)":                          "'@SUM(A1)",
			"+cmd|' /C calc'!A0":                "'+cmd|' /C calc'!A0",
			"-2+3+cmd|' /C calc'!A0":            "'-2+3+cmd|' /C calc'!A0",
			"\t=1+1":                            "'\t=1+1",
			"\r=1+1":                            "'\r=1+1",
			"+15551234567":                      "+15551234567",
			"Alice = Bob":                       "Alice = Bob",
			"":                                  "",
		}
		var recs []cdr.Record
		i := 0
		for name := range cases {
			i++
			recs = append(recs, leg(fmt.Sprintf("f%02d", i), "a.example.com", i, func(r *cdr.Record) {
				r.CallerName, r.CallerNumber, r.Dialed = name, name, name
			}))
		}
		ce.insert(recs...)
		r := ce.do("GET", "/api/v1/cdrs/export", ce.admin, "").must(t, http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		byCallID := map[string][]string{}
		for _, row := range rows[1:] {
			byCallID[row[2]] = row
		}
		for _, rec := range recs {
			want := cases[rec.CallerName]
			row := byCallID[rec.CallID]
			if row[8] != want || row[9] != want || row[10] != want {
				t.Errorf("%q: caller_number %q caller_name %q dialed %q, want %q", rec.CallerName, row[8], row[9], row[10], want)
			}
		}
		// The JSON answers carry the text as it is.
		items := ce.do("GET", "/api/v1/cdrs?caller="+urlQuery("@SUM(A1)"), ce.admin, "").must(t, http.StatusOK).items(t)
		if len(items) != 1 || items[0]["caller_name"] != "@SUM(A1)" {
			t.Errorf("JSON: %v", jsonStr(items))
		}
	})
}

// failingCDRs is the real store that fails from its second query on, as a
// database that goes away in the middle of an export.
type failingCDRs struct {
	*cdrstore.Store
	mu    sync.Mutex
	calls int
}

func (f *failingCDRs) Query(ctx context.Context, fl cdr.Filter) ([]cdr.Record, *cdr.Cursor, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if n > 1 {
		return nil, nil, errors.New("database went away")
	}
	return f.Store.Query(ctx, fl)
}

// An export that fails after its first page is cut off, so the client
// cannot take the rows it got for the whole file.
func TestCDRExportFailureTruncates(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		recs := make([]cdr.Record, 1500)
		for i := range recs {
			recs[i] = leg(fmt.Sprint(i), "a.example.com", i)
		}
		ce.insert(recs...)
		ce.rebuild(func(d *api.Deps) { d.CDRs = &failingCDRs{Store: ce.store} })
		srv := httptest.NewServer(api.Instrument(ce.srv.log, ce.h))
		defer srv.Close()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/cdrs/export", nil)
		req.Header.Set("Authorization", "Bearer "+ce.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		body, err := io.ReadAll(resp.Body)
		if err == nil {
			t.Fatalf("the export ended cleanly after %d bytes: the client cannot tell it is short", len(body))
		}
		if !strings.Contains(ce.logs.String(), "CDR export cut short") {
			t.Errorf("the failure is not logged: %s", ce.logs.String())
		}
	})
}

// sseEvent is one Server-Sent Event, or a comment.
type sseEvent struct {
	id, event, data, comment string
}

// sseReader reads events off a stream in a goroutine, so that a test can
// wait for the next one with a timeout.
type sseReader struct {
	events chan sseEvent
	done   chan error
}

func readSSE(body io.Reader) *sseReader {
	s := &sseReader{events: make(chan sseEvent, 100), done: make(chan error, 1)}
	go func() {
		br := bufio.NewReader(body)
		var ev sseEvent
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				close(s.events)
				s.done <- err
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				s.events <- ev
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
				ev.comment = strings.TrimSpace(line[1:])
			default:
				k, v, _ := strings.Cut(line, ": ")
				switch k {
				case "id":
					ev.id = v
				case "event":
					ev.event = v
				case "data":
					ev.data = v
				default:
					ev.comment = "unknown field " + line
				}
			}
		}
	}()
	return s
}

// next returns the next event that is not a heartbeat.
func (s *sseReader) next(t *testing.T) sseEvent {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatal("the stream ended")
			}
			if ev.comment == "heartbeat" {
				continue
			}
			return ev
		case <-timeout:
			t.Fatal("no event within 5 s")
		}
	}
}

// ended waits for the stream to end.
func (s *sseReader) ended(t *testing.T) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatal("the stream did not end within 5 s")
		}
	}
}

// openStream GETs a stream over real HTTP and waits for its first comment,
// sent once the subscription is live.
func openStream(t *testing.T, ctx context.Context, url, tok string) (*http.Response, *sseReader) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	sr := readSSE(resp.Body)
	if ev := sr.next(t); ev.comment != "connected" {
		t.Fatalf("first event %+v", ev)
	}
	return resp, sr
}

// waitSubscribers waits until the feed has n subscribers: a stream's
// handler closes its subscription when it ends.
func waitSubscribers(t *testing.T, f *cdr.Feed, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", f.Subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func published(id int64, r cdr.Record) cdr.Record { r.ID = id; return r }

// CDRs published on the feed reach the streams whose scope and filters
// select them, as id/event/data events; others never do; heartbeats
// flow; a client that goes away ends its handler.
func TestCDRStream(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.cdrTree()
		ce.srv.heartbeat = 20 * time.Millisecond
		srv := httptest.NewServer(api.Instrument(ce.srv.log, ce.h))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()

		_, all := openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream", tr.tokA)
		_, filtered := openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream?disposition=answered&min_billsec=10&include_raw=true", tr.tokA)
		_, guessed := openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream?switch=s1", tr.tokB)
		_, admin := openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream?domain=unprovisioned.example", ce.admin)
		if n := ce.feed.Subscribers(); n != 4 {
			t.Fatalf("%d subscribers", n)
		}

		bRec := published(1, leg("b1", "b.example.com", 1, func(r *cdr.Record) { r.Switch = "s2" }))
		a1 := published(2, leg("a1", "a.example.com", 2, func(r *cdr.Record) { r.Billsec, r.Raw = 5, json.RawMessage(`{"r":1}`) }))
		a2 := published(3, leg("a2", "a.example.com", 3, func(r *cdr.Record) { r.Billsec, r.Raw = 50, json.RawMessage(`{"r":2}`) }))
		sub := published(4, leg("s1", "a-sub.example.com", 4, func(r *cdr.Record) { r.Disposition, r.Billsec = cdr.Busy, 60 }))
		unprov := published(5, leg("u1", "unprovisioned.example", 5))
		ce.feed.Publish(ce.owned(bRec, a1))
		ce.feed.Publish(ce.owned(a2, sub, unprov))

		for _, want := range []cdr.Record{a1, a2, sub} {
			ev := all.next(t)
			var got cdr.Record
			if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
				t.Fatalf("data %q: %v", ev.data, err)
			}
			if ev.event != "cdr" || ev.id != fmt.Sprint(want.ID) || got.CallID != want.CallID || !got.End.Equal(want.End) || got.Raw != nil {
				t.Errorf("A's stream: %+v, want %s", ev, want.CallID)
			}
		}
		ev := filtered.next(t)
		if !strings.Contains(ev.data, `"call_id":"a2"`) || !strings.Contains(ev.data, `"raw":{"r":2}`) {
			t.Errorf("filtered stream: %+v, want a2 with raw", ev)
		}
		if ev := admin.next(t); !strings.Contains(ev.data, `"call_id":"u1"`) {
			t.Errorf("admin's stream: %+v", ev)
		}
		// B's stream got nothing of A's: the next CDR it gets is its own.
		ce.feed.Publish(ce.owned(published(6, leg("b2", "b.example.com", 6))))
		if ev := guessed.next(t); !strings.Contains(ev.data, `"call_id":"b2"`) {
			t.Errorf("B's stream: %+v, want only b2", ev)
		}
		// Nothing else arrived on A's filtered stream either.
		ce.feed.Publish(ce.owned(published(7, leg("a3", "a.example.com", 7, func(r *cdr.Record) { r.Billsec = 10 }))))
		if ev := filtered.next(t); !strings.Contains(ev.data, `"call_id":"a3"`) {
			t.Errorf("filtered stream: %+v, want a3", ev)
		}

		// Heartbeats are comments.
		deadline := time.After(5 * time.Second)
	heartbeat:
		for {
			select {
			case ev := <-all.events:
				if ev.comment == "heartbeat" && ev.event == "" && ev.data == "" {
					break heartbeat
				}
			case <-deadline:
				t.Fatal("no heartbeat")
			}
		}

		// The clients go away: every handler ends and unsubscribes.
		cancel()
		waitSubscribers(t, ce.feed, 0)
	})
}

// blockingWriter is a ResponseWriter whose writes after the first wait
// until released, as a client that stopped reading.
type blockingWriter struct {
	header  http.Header
	mu      sync.Mutex
	body    strings.Builder
	writes  int
	wrote   chan struct{} // a write other than the first started
	release chan struct{}
}

func newBlockingWriter() *blockingWriter {
	return &blockingWriter{header: http.Header{}, wrote: make(chan struct{}, 100), release: make(chan struct{})}
}

func (b *blockingWriter) Header() http.Header { return b.header }
func (b *blockingWriter) WriteHeader(int)     {}
func (b *blockingWriter) Flush()              {}
func (b *blockingWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	b.writes++
	first := b.writes == 1
	b.mu.Unlock()
	if !first {
		b.wrote <- struct{}{}
		<-b.release
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.body.Write(p)
}

func (b *blockingWriter) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.body.String()
}

// A stream that falls a whole buffer behind gets what was buffered, then
// event: lagged, and ends; the feed never waited for it.
func TestCDRStreamLagged(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		ce.srv.feedBuffer = 4
		w := newBlockingWriter()
		req := httptest.NewRequest("GET", "/api/v1/cdrs/stream", nil)
		req.Header.Set("Authorization", "Bearer "+ce.admin)
		done := make(chan struct{})
		go func() { defer close(done); ce.h.ServeHTTP(w, req) }()
		waitSubscribers(t, ce.feed, 1)

		ce.feed.Publish([]cdr.Record{published(1, leg("first", "a.example.com", 1))})
		<-w.wrote // the handler is stuck writing the first CDR
		var burst []cdr.Record
		for i := range 10 {
			burst = append(burst, published(int64(10+i), leg(fmt.Sprint("burst", i), "a.example.com", 2)))
		}
		ce.feed.Publish(burst) // returns at once although nobody reads
		close(w.release)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the lagged stream did not end")
		}
		out := w.String()
		if !strings.HasSuffix(out, laggedEvent) {
			t.Errorf("the stream does not end with event: lagged:\n%s", out)
		}
		if n := strings.Count(out, "event: cdr\n"); n != 1+4 {
			t.Errorf("%d CDRs before lagged, want the first and the 4 buffered:\n%s", n, out)
		}
		if ce.feed.Subscribers() != 0 {
			t.Error("the lagged subscription is still counted")
		}
	})
}

// A stream ends when its request's context does, and when the server
// shuts down, without holding the shutdown up.
func TestCDRStreamEnds(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		// Context cancelled (the client went away, or the server
		// closed the connection).
		ctx, cancel := context.WithCancel(context.Background())
		req := httptest.NewRequest("GET", "/api/v1/cdrs/stream", nil).WithContext(ctx)
		req.Header.Set("Authorization", "Bearer "+ce.admin)
		w := newBlockingWriter()
		close(w.release)
		done := make(chan struct{})
		go func() { defer close(done); ce.h.ServeHTTP(w, req) }()
		waitSubscribers(t, ce.feed, 1)
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the handler did not return after its context ended")
		}
		waitSubscribers(t, ce.feed, 0)

		// Server shutdown: http.Server.Shutdown does not cancel
		// requests, so the stream must notice by itself.
		srv := httptest.NewServer(ce.h)
		defer srv.Close()
		_, s1 := openStream(t, context.Background(), srv.URL+"/api/v1/cdrs/stream", ce.admin)
		_, s2 := openStream(t, context.Background(), srv.URL+"/api/v1/cdrs/stream?direction=inbound", ce.admin)
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		start := time.Now()
		if err := srv.Config.Shutdown(sctx); err != nil {
			t.Fatalf("shutdown: %v after %v", err, time.Since(start))
		}
		s1.ended(t)
		s2.ended(t)
		waitSubscribers(t, ce.feed, 0)
		srv.Config.Shutdown(sctx) //nolint:errcheck // a second Shutdown must only not panic (the hook closes its channel once)
	})
}

// Without a feed, or without a store, the routes say so.
func TestCDRUnavailable(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		ce.rebuild(func(d *api.Deps) { d.CDRs, d.CDRFeed, d.CDRIngest = nil, nil, nil })
		for _, p := range []string{"/api/v1/cdrs", "/api/v1/cdrs/export", "/api/v1/cdrs/stream"} {
			checkError(t, ce.do("GET", p, ce.admin, ""), http.StatusServiceUnavailable, codeUnavailable, "")
		}
		r := ce.do("POST", "/api/v1/cdrs", ce.admin, jsonStr(leg("x", "a.example.com", 1)))
		checkError(t, r, http.StatusServiceUnavailable, codeUnavailable, "")
	})
}

// Submissions: admin only, all or nothing, exactly once, answered only
// once stored.
func TestCDRSubmit(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.cdrTree()
		batch := []cdr.Record{
			leg("p1", "a.example.com", 1, func(r *cdr.Record) { r.Raw = json.RawMessage(`{"uuid":"p1"}`) }),
			leg("p2", "b.example.com", 2, func(r *cdr.Record) {
				a := r.End.Add(-10 * time.Second)
				r.Answer, r.Billsec, r.SIPStatus = &a, 10, 200
			}),
			leg("p3", "a.example.com", 3, func(r *cdr.Record) { r.Direction = "" }),
		}
		// As a Go client marshals cdr.Record (with "id":0), then with the
		// ids left out, then with made-up ids: each time the same legs.
		for _, body := range []string{jsonStr(batch), submission(batch), strings.ReplaceAll(jsonStr(batch), `"id":0`, `"id":424242`)} {
			r := ce.do("POST", "/api/v1/cdrs", ce.admin, body).must(t, http.StatusOK)
			if r.m["accepted"] != 3.0 {
				t.Errorf("answer %s", r.body)
			}
			if n := ce.count(); n != 3 {
				t.Errorf("%d CDRs stored, want 3", n)
			}
		}
		// One object, already stored as part of the batch: still once.
		ce.do("POST", "/api/v1/cdrs", ce.admin, strings.Trim(submission(batch[1:2]), "[]")).must(t, http.StatusOK)
		ce.do("POST", "/api/v1/cdrs", ce.admin, `[]`).must(t, http.StatusOK)
		if n := ce.count(); n != 3 {
			t.Errorf("%d CDRs stored, want 3", n)
		}
		items := ce.do("GET", "/api/v1/cdrs?include_raw=true", ce.admin, "").must(t, http.StatusOK).items(t)
		if got := strings.Join(callIDsOf(items), " "); got != "p3 p2 p1" {
			t.Fatalf("stored %s", got)
		}
		if items[0]["id"] == 424242.0 || items[2]["raw"].(map[string]any)["uuid"] != "p1" || items[1]["answer"] == nil || items[1]["sip_status"] != 200.0 || items[0]["direction"] != "" {
			t.Errorf("stored %s", jsonStr(items))
		}

		// Only admin tokens submit.
		for _, tok := range []string{tr.tokA, tr.tokR, ce.token("reader", provisioning.RoleUser, &tr.a.tenant)} {
			checkError(t, ce.do("POST", "/api/v1/cdrs", tok, submission([]cdr.Record{leg("t1", "a.example.com", 9)})), http.StatusForbidden, codeForbidden, "")
		}
		checkError(t, ce.do("POST", "/api/v1/cdrs", "", `[]`), http.StatusUnauthorized, codeUnauthenticated, "")
		if n := ce.count(); n != 3 {
			t.Errorf("%d CDRs stored after refused submissions", n)
		}
	})
}

// submission renders recs as a POST body, without their ids.
func submission(recs []cdr.Record) string {
	var parts []string
	for _, r := range recs {
		var m map[string]any
		json.Unmarshal([]byte(jsonStr(r)), &m) //nolint:errcheck // our own JSON
		delete(m, "id")
		parts = append(parts, jsonStr(m))
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Every refused submission names its culprit and writes nothing, even
// when the other records are valid.
func TestCDRSubmitRefused(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		valid := strings.Trim(submission([]cdr.Record{leg("ok", "a.example.com", 1)}), "[]")
		// with sets the fields of kv, replacing valid's: a key given twice
		// is refused for that alone.
		with := func(kv string) string {
			var set, m map[string]json.RawMessage
			json.Unmarshal([]byte("{"+strings.ToValidUTF8(kv, "")+"}"), &set) //nolint:errcheck // our own JSON
			json.Unmarshal([]byte(valid), &m)                                 //nolint:errcheck // our own JSON
			for k := range set {
				delete(m, k)
			}
			return strings.TrimSuffix(jsonStr(m), "}") + "," + kv + "}"
		}
		without := func(key string) string {
			var m map[string]any
			json.Unmarshal([]byte(valid), &m) //nolint:errcheck // our own JSON
			delete(m, key)
			return jsonStr(m)
		}
		tooMany := make([]string, maxCDRsPerPost+1)
		for i := range tooMany {
			tooMany[i] = fmt.Sprintf(`{"switch":"s","call_id":"%d","end":"2025-01-01T00:00:00Z","disposition":"BUSY"}`, i)
		}
		for _, tc := range []struct {
			name, ctype, body string
			status            int
			code, field       string
		}{
			{"no call_id in the second", "", "[" + valid + "," + without("call_id") + "]", 400, codeInvalid, "[1].call_id"},
			{"no switch", "", "[" + without("switch") + "]", 400, codeInvalid, "[0].switch"},
			{"no end", "", without("end"), 400, codeInvalid, "end"},
			{"empty call_id", "", with(`"call_id":""`), 400, codeInvalid, "call_id"},
			{"call_id too long", "", with(`"call_id":"` + strings.Repeat("x", 200) + `"`), 400, codeInvalid, "call_id"},
			{"no disposition", "", "[" + valid + "," + without("disposition") + "]", 400, codeInvalid, "[1].disposition"},
			{"billsec over duration", "", with(`"billsec":61`), 400, codeInvalid, "billsec"},
			{"end before 1970", "", with(`"start":"1969-12-31T23:58:00Z","end":"1969-12-31T23:59:00Z"`), 400, codeInvalid, "end"},
			{"unknown field", "", "[" + valid + "," + with(`"bogus":1`) + "]", 400, codeUnknownField, "[1].bogus"},
			{"id as string", "", "[" + with(`"id":"7"`) + "]", 400, codeInvalid, "[0].id"},
			{"field in another case", "", with(`"Codec":"pcmu"`), 400, codeUnknownField, "Codec"},
			{"time not RFC 3339", "", "[" + with(`"start":"yesterday"`) + "]", 400, codeInvalid, "[0].start"},
			{"time as number", "", with(`"answer":1700000000`), 400, codeInvalid, "answer"},
			{"string for integer", "", "[" + with(`"duration":"5"`) + "]", 400, codeInvalid, "[0].duration"},
			{"fraction", "", with(`"billsec":1.5`), 400, codeInvalid, "billsec"},
			{"null switch", "", "[" + with(`"switch":null`) + "]", 400, codeInvalid, "[0].switch"},
			{"null integer", "", with(`"cause":null`), 400, codeInvalid, "cause"},
			{"direction", "", with(`"direction":"sideways"`), 400, codeInvalid, "direction"},
			{"disposition in lower case", "", with(`"disposition":"answered"`), 400, codeInvalid, "disposition"},
			{"negative billsec", "", with(`"billsec":-1`), 400, codeInvalid, "billsec"},
			{"int32 overflow", "", with(`"sip_status":4294967296`), 400, codeInvalid, "sip_status"},
			{"start after end", "", with(`"start":"2030-01-01T00:00:00Z"`), 400, codeInvalid, "start"},
			{"not an object", "", "[" + valid + ",5]", 400, codeMalformedBody, "[1]"},
			{"string body", "", `"x"`, 400, codeMalformedBody, ""},
			{"empty body", "application/json", "", 400, codeMalformedBody, ""},
			{"truncated", "", "[" + valid + `,{"switch":`, 400, codeMalformedBody, ""},
			{"unclosed array", "", "[" + valid, 400, codeMalformedBody, ""},
			{"trailing data", "", "[" + valid + "] []", 400, codeMalformedBody, ""},
			{"two objects", "", valid + valid, 400, codeMalformedBody, ""},
			{"invalid UTF-8", "", with("\"codec\":\"\xff\""), 400, codeMalformedBody, "codec"},
			{"invalid UTF-8 in raw", "", "[" + valid + "," + with("\"raw\":{\"a\":[\"\xff\"]}") + "]", 400, codeMalformedBody, "[1].raw.a[0]"},
			{"key given twice", "", "[" + valid + "," + strings.TrimSuffix(valid, "}") + `,"switch":"other"}]`, 400, codeMalformedBody, "[1].switch"},
			{"key given twice inside raw", "", with(`"raw":{"a":{"b":1,"b":2}}`), 400, codeMalformedBody, "raw.a.b"},
			{"key given twice, escaped", "", with(`"raw":{"role":"user","r\u006fle":"admin"}`), 400, codeMalformedBody, "raw.role"},
			{"lone surrogate", "", with(`"caller_name":"\ud800x"`), 400, codeMalformedBody, "caller_name"},
			{"text/plain", "text/plain", "[" + valid + "]", 415, codeUnsupportedMedia, ""},
			{"too many records", "", "[" + strings.Join(tooMany, ",") + "]", 413, codeBodyTooLarge, ""},
		} {
			req := httptest.NewRequest("POST", "/api/v1/cdrs", strings.NewReader(tc.body))
			ct := tc.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			r := ce.send(req, ce.admin)
			if r.code != tc.status {
				t.Errorf("%s: %d %s, want %d", tc.name, r.code, r.body, tc.status)
				continue
			}
			checkError(t, r, tc.status, tc.code, tc.field)
		}
		if n := ce.count(); n != 0 {
			t.Errorf("refused submissions stored %d CDRs", n)
		}
		// null raw is no raw.
		ce.do("POST", "/api/v1/cdrs", ce.admin, with(`"raw":null`)).must(t, http.StatusOK)
		if it := ce.do("GET", "/api/v1/cdrs?include_raw=true", ce.admin, "").must(t, http.StatusOK).items(t); len(it) != 1 || it[0]["raw"] != nil {
			t.Errorf("raw null: %v", jsonStr(it))
		}
	})
}

// A 10 MB body is refused with 413 without being read whole, announced or
// not (chunked); a body over the provisioning limit but within the CDR
// limit is taken.
func TestCDRSubmitBodyLimit(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		big := `[{"switch":"s","call_id":"big","end":"2025-01-01T00:00:00Z","disposition":"FAILED","raw":"` + strings.Repeat("x", 10<<20) + `"}]`
		for _, chunked := range []bool{false, true} {
			req := httptest.NewRequest("POST", "/api/v1/cdrs", strings.NewReader(big))
			req.Header.Set("Content-Type", "application/json")
			if chunked {
				req.ContentLength = -1
			}
			checkError(t, ce.send(req, ce.admin), http.StatusRequestEntityTooLarge, codeBodyTooLarge, "")
		}
		// 2 MiB: over http.max_body_bytes' default, within the CDR limit.
		mid := `[{"switch":"s","call_id":"mid","end":"2025-01-01T00:00:00Z","disposition":"FAILED","raw":"` + strings.Repeat("x", 2<<20) + `"}]`
		ce.do("POST", "/api/v1/cdrs", ce.admin, mid).must(t, http.StatusOK)
		if n := ce.count(); n != 1 {
			t.Errorf("%d CDRs stored, want 1", n)
		}
	})
}

// When the sink fails, the client is told to retry (503 with
// Retry-After): its CDRs may not be durable.
func TestCDRSubmitSinkFails(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		// A real store on a database that has gone away.
		dead, err := sqldb.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "dead.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := cdrstore.Migrate(context.Background(), dead); err != nil {
			t.Fatal(err)
		}
		dead.Close()
		ce.rebuild(func(d *api.Deps) { d.CDRIngest = cdrstore.NewStore(dead) })
		r := ce.do("POST", "/api/v1/cdrs", ce.admin, submission([]cdr.Record{leg("x", "a.example.com", 1)}))
		checkError(t, r, http.StatusServiceUnavailable, codeUnavailable, "")
		if r.hdr.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if !strings.Contains(ce.logs.String(), "CDR submission not stored") {
			t.Errorf("the failure is not logged: %s", ce.logs.String())
		}
	})
}

// The CDR answers have exactly the fields their schemas list.
func TestCDROpenAPISchemas(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		body, doc := fetchDoc(t, ce.h)
		conf := newConformance(t, body)
		ce.seed()
		check := func(schema string, answer map[string]any) {
			t.Helper()
			sc := doc.Components.Schemas[schema]
			var got, want []string
			for k := range answer {
				got = append(got, k)
			}
			for k := range sc.Properties {
				want = append(want, k)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: answer fields %v, schema properties %v", schema, got, want)
			}
			for _, r := range sc.Required {
				if _, ok := answer[r]; !ok {
					t.Errorf("%s: required %s missing", schema, r)
				}
			}
			conf.check(t, schema, answer)
		}
		list := ce.do("GET", "/api/v1/cdrs?include_raw=true&disposition=congestion", ce.admin, "").must(t, http.StatusOK)
		check("CDRList", list.m)
		check("CDR", list.items(t)[0])
		check("CDRsAccepted", ce.do("POST", "/api/v1/cdrs", ce.admin, `[]`).must(t, http.StatusOK).m)
		sub := doc.Components.Schemas["CDRSubmission"]
		if len(sub.Properties) != len(recordFields) {
			t.Errorf("CDRSubmission properties: %v", sub.Properties)
		}
	})
}

// Open streams are bounded; a stream that ends frees its place. HEAD
// answers the headers without waiting for CDRs.
func TestCDRStreamLimit(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		ce.srv.maxStreams = 1
		srv := httptest.NewServer(ce.h)
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream", ce.admin)

		r := ce.do("GET", "/api/v1/cdrs/stream", ce.admin, "")
		checkError(t, r, http.StatusServiceUnavailable, codeUnavailable, "")
		if r.hdr.Get("Retry-After") == "" {
			t.Error("no Retry-After")
		}
		if n := ce.feed.Subscribers(); n != 1 {
			t.Errorf("%d subscribers: the refused stream subscribed", n)
		}
		cancel()
		waitSubscribers(t, ce.feed, 0)
		deadline := time.Now().Add(5 * time.Second)
		for ce.srv.streams.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		ctx, cancel = context.WithCancel(context.Background())
		defer cancel() // before srv.Close, which waits for open requests
		openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream", ce.admin)

		req := httptest.NewRequest("HEAD", "/api/v1/cdrs/stream", nil)
		ce.srv.maxStreams = 2
		if r := ce.send(req, ce.admin); r.code != http.StatusOK || r.hdr.Get("Content-Type") != "text/event-stream" {
			t.Errorf("HEAD: %d %v", r.code, r.hdr)
		}
	})
}
