package cdrstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// base is a fixed instant with microseconds, so that precision loss shows.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)

func newStore(t testing.TB, db *sqldb.DB) *cdrstore.Store {
	t.Helper()
	if err := cdrstore.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return cdrstore.NewStore(db)
}

// leg returns a minimal valid record ending at end.
var leg = cdrtest.Minimal

func mustInsert(t testing.TB, s *cdrstore.Store, recs []cdr.Record) int {
	t.Helper()
	n, err := s.Insert(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t testing.TB, s *cdrstore.Store) int64 {
	t.Helper()
	n, err := s.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func callIDs(recs []cdr.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.CallID
	}
	return out
}

func TestMigrateTwice(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		for range 2 {
			if err := cdrstore.Migrate(ctx, db); err != nil {
				t.Fatal(err)
			}
		}
		var applied int
		if err := db.GetContext(ctx, &applied, `SELECT COUNT(*) FROM schema_migrations WHERE component = 'cdr'`); err != nil {
			t.Fatal(err)
		}
		files, err := os.ReadDir(filepath.Join("migrations", string(db.Engine)))
		if err != nil {
			t.Fatal(err)
		}
		if applied != len(files) {
			t.Errorf("schema_migrations has %d cdr rows, want one per migration, %d", applied, len(files))
		}
		s := cdrstore.NewStore(db)
		if n := mustInsert(t, s, []cdr.Record{leg("pbx1", "a", "example.com", base)}); n != 1 {
			t.Errorf("inserted %d, want 1", n)
		}
	})
}

func TestInsertQueryRoundTrip(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.FixedZone("CET", 3600)
	}
	answer := base.Add(-50 * time.Second).In(paris)
	full := cdr.Record{
		Switch: "pbx1", CallID: "1741964966.42", LinkedID: "1741964966.41",
		Direction: cdr.DirectionOutbound, Domain: "example.com", Account: "alice",
		Gateway: "carrier-a", CallerNumber: "+33123456789", CallerName: "Alice Ünïcode",
		Dialed: "0049301234567", Destination: "+49301234567",
		Start: base.Add(-time.Minute).In(paris), Answer: &answer, End: base.In(paris),
		Duration: 60, Billsec: 50, Disposition: cdr.Answered,
		Cause: 16, CauseText: "NORMAL_CLEARING", SIPStatus: 200,
		Codec: "opus", UserAgent: "Yealink SIP-T54W 96.86.0.100",
		Raw:      json.RawMessage(`{"uniqueid": "1741964966.42",  "billsec":50, "nested":{"z":1,"a":[true,null]}}`),
		TenantID: owner(7),
		// The leg to the gateway: its carrier's price, next to its own.
		Cost: ptr(money.Amount(0)), SupplierCost: ptr(money.MustParse("0.0123")), SupplierCurrency: "EUR",
		SupplierPrefix: "4930", SupplierPlan: "carrier-a wholesale",
	}
	unanswered := cdr.Record{
		Switch: "pbx1", CallID: "1741964966.43", Direction: cdr.DirectionInbound,
		Domain: "example.com", Account: "bob", Gateway: "carrier-b", CallerNumber: "+4930999",
		Dialed: "bob", Destination: "sip:bob@example.com",
		Start: base.Add(-30 * time.Second), End: base.Add(-time.Second),
		Duration: 29, Disposition: cdr.NoAnswer, Cause: 19, CauseText: "NO_ANSWER", SIPStatus: 480,
		SupplierUnpriced: cdr.UnpricedNoPlan,
	}
	nanos := leg("pbx2", "nanos", "example.org", base.Add(123*time.Nanosecond))

	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		if n := mustInsert(t, s, []cdr.Record{full, unanswered, nanos}); n != 3 {
			t.Fatalf("inserted %d, want 3", n)
		}
		got, next, err := s.Query(context.Background(), cdr.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if next != nil {
			t.Errorf("next cursor %+v on the only page", next)
		}
		// Newest first: nanos and full end in the same microsecond; full
		// came first in the batch, so it has the smaller ID.
		if want := []string{"nanos", "1741964966.42", "1741964966.43"}; !slices.Equal(callIDs(got), want) {
			t.Fatalf("order %v, want %v", callIDs(got), want)
		}
		want := map[string]cdr.Record{}
		for _, r := range []cdr.Record{full, unanswered, nanos} {
			r.Start, r.End = r.Start.UTC().Truncate(time.Microsecond), r.End.UTC().Truncate(time.Microsecond)
			if r.Answer != nil {
				a := r.Answer.UTC()
				r.Answer = &a
			}
			want[r.CallID] = r
		}
		for _, g := range got {
			if g.ID <= 0 {
				t.Errorf("%s: ID %d, want > 0", g.CallID, g.ID)
			}
			w := want[g.CallID]
			w.ID = g.ID
			if !reflect.DeepEqual(g, w) {
				t.Errorf("round trip of %s:\n got %+v\nwant %+v", g.CallID, g, w)
			}
			if g.End.Location() != time.UTC || g.Start.Location() != time.UTC {
				t.Errorf("%s: times not in UTC: %v", g.CallID, g.End.Location())
			}
		}
	})
}

func TestInsertExactlyOnce(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		var batch []cdr.Record
		for i := range 50 {
			batch = append(batch, leg("pbx1", fmt.Sprintf("c%03d", 49-i), "example.com", base.Add(time.Duration(i)*time.Second)))
		}
		before := slices.Clone(batch)

		steps := []struct {
			name      string
			recs      []cdr.Record
			wantNew   int
			wantCount int64
		}{
			{"first", batch, 50, 50},
			{"replay", batch, 0, 50},
			{"replay changed", func() []cdr.Record {
				c := slices.Clone(batch)
				for i := range c {
					c[i].Duration, c[i].Billsec = 999, 999
				}
				return c
			}(), 0, 50},
			{"overlap", append(slices.Clone(batch[40:]), leg("pbx1", "new1", "example.com", base), leg("pbx1", "new2", "example.com", base)), 2, 52},
			{"same call id, other switch", []cdr.Record{leg("pbx2", "c000", "example.com", base)}, 1, 53},
			{"duplicates within a batch", []cdr.Record{leg("pbx3", "d", "x", base), leg("pbx3", "d", "x", base.Add(time.Hour)), leg("pbx3", "d", "x", base)}, 1, 54},
			{"empty", nil, 0, 54},
		}
		for _, st := range steps {
			n, err := s.Insert(ctx, st.recs)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if n != st.wantNew {
				t.Errorf("%s: inserted %d, want %d", st.name, n, st.wantNew)
			}
			if c := count(t, s); c != st.wantCount {
				t.Errorf("%s: count %d, want %d", st.name, c, st.wantCount)
			}
		}
		if !reflect.DeepEqual(batch, before) {
			t.Error("Insert modified or reordered its argument")
		}
		// The first copy wins: the replay with billsec 999 changed nothing.
		got, _, err := s.Query(ctx, cdr.Filter{Switch: "pbx1", MinBillsec: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("a replay overwrote %d stored records", len(got))
		}
		// Put is Insert.
		var sink cdr.Sink = s
		if err := sink.Put(ctx, leg("pbx1", "put", "example.com", base), leg("pbx1", "c001", "example.com", base)); err != nil {
			t.Fatal(err)
		}
		if c := count(t, s); c != 55 {
			t.Errorf("after Put: count %d, want 55", c)
		}
	})
}

// TestInsertNew checks what InsertNew returns, batch after batch: exactly
// the legs that were new, in input order, with ascending IDs, as stored
// (as Query returns them). Replays in between switch the store to its
// slower path for stored keys and back.
func TestInsertNew(t *testing.T) {
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Second) }
	l := func(callID string, i int) cdr.Record { return leg("pbx1", callID, "example.com", at(i)) }
	changed := l("d1", 9)
	changed.Duration, changed.Billsec = 99, 99
	odd := leg("pbx1", "odd", "example.com", base.Add(123*time.Nanosecond).In(time.FixedZone("X", 3600)))
	odd.CallerName, odd.Raw = "Ren\xe9e", json.RawMessage("{\"name\":\"Ren\xe9e\"}")

	steps := []struct {
		name string
		recs []cdr.Record
		want []string // call ids returned, in order
	}{
		{"all new", []cdr.Record{l("a3", 3), l("a1", 1), l("a2", 2)}, []string{"a3", "a1", "a2"}},
		{"replay", []cdr.Record{l("a1", 1), l("a2", 2), l("a3", 3)}, []string{}},
		{"some new", []cdr.Record{l("a1", 1), l("b1", 4), l("a2", 2), l("b2", 5)}, []string{"b1", "b2"}},
		{"new after a replay", []cdr.Record{l("c2", 7), l("c1", 6)}, []string{"c2", "c1"}},
		{"new again", []cdr.Record{l("c3", 8)}, []string{"c3"}},
		{"duplicates within the batch", []cdr.Record{l("d1", 9), changed, l("d2", 10), l("d1", 11)}, []string{"d1", "d2"}},
		{"keys equal once mended", []cdr.Record{l("k\xff", 12), l("k\xfe", 13)}, []string{"k\uFFFD"}},
		{"odd text and times", []cdr.Record{odd}, []string{"odd"}},
		{"empty", nil, []string{}},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		var lastID int64
		returned := map[string]cdr.Record{}
		for _, st := range steps {
			before := slices.Clone(st.recs)
			fresh, err := s.InsertNew(ctx, st.recs)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if !slices.Equal(callIDs(fresh), st.want) {
				t.Errorf("%s: returned %q, want %q", st.name, callIDs(fresh), st.want)
			}
			for _, r := range fresh {
				if r.ID <= lastID {
					t.Errorf("%s: %s has ID %d, not above %d", st.name, r.CallID, r.ID, lastID)
				}
				lastID = r.ID
				returned[r.CallID] = r
			}
			if !reflect.DeepEqual(st.recs, before) {
				t.Errorf("%s: InsertNew modified its argument", st.name)
			}
		}
		if d1 := returned["d1"]; d1.Billsec != 0 {
			t.Errorf("d1 returned with billsec %d: the first copy in the batch must win", d1.Billsec)
		}
		if o := returned["odd"]; o.CallerName != "Ren\uFFFDe" || string(o.Raw) != "{\"name\":\"Ren\uFFFDe\"}" ||
			o.End.Location() != time.UTC || o.End.Nanosecond()%1000 != 0 {
			t.Errorf("odd returned as %q, raw %s, end %v: not as stored", o.CallerName, o.Raw, o.End)
		}
		// What InsertNew returned is what Query returns.
		stored, _, err := s.Query(ctx, cdr.Filter{Limit: cdr.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) != len(returned) {
			t.Errorf("%d rows stored, %d returned as new", len(stored), len(returned))
		}
		for _, r := range stored {
			if !reflect.DeepEqual(r, returned[r.CallID]) {
				t.Errorf("stored %+v\nreturned %+v", r, returned[r.CallID])
			}
		}
	})
}

// TestInsertOddText stores text PostgreSQL would refuse as such: a
// caller name in Latin-1, a NUL in a user agent, raw JSON with a stray
// byte. The leg is kept, with U+FFFD in place of what cannot be stored.
func TestInsertOddText(t *testing.T) {
	odd := leg("pbx1", "odd", "example.com", base)
	odd.CallerName = "Ren\xe9e"
	odd.UserAgent = "Phone\x00X"
	odd.Raw = json.RawMessage("{\"name\":\"Ren\xe9e\"}")
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		if n := mustInsert(t, s, []cdr.Record{odd}); n != 1 {
			t.Fatalf("inserted %d, want 1", n)
		}
		got, _, err := s.Query(context.Background(), cdr.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%d records, want 1", len(got))
		}
		g := got[0]
		if g.CallerName != "Ren\uFFFDe" || g.UserAgent != "Phone\uFFFDX" || string(g.Raw) != "{\"name\":\"Ren\uFFFDe\"}" {
			t.Errorf("got caller name %q, user agent %q, raw %s", g.CallerName, g.UserAgent, g.Raw)
		}
	})
}

// TestInsertConcurrent has several writers store the same legs in
// opposite orders at once, as a live stream and a reconnect resync may:
// every leg is stored once and returned as new by exactly one writer, and
// no writer deadlocks.
func TestInsertConcurrent(t *testing.T) {
	const writers, rounds, legs = 4, 5, 200
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		ids := map[int64]bool{}
		for round := range rounds {
			batch := make([]cdr.Record, legs)
			for i := range batch {
				batch[i] = leg("pbx1", fmt.Sprintf("%d-%d", round, i), "example.com", base.Add(time.Duration(i)*time.Second))
			}
			var wg sync.WaitGroup
			fresh := make([][]cdr.Record, writers)
			errs := make([]error, writers)
			for w := range writers {
				wg.Go(func() {
					mine := slices.Clone(batch)
					if w%2 == 1 {
						slices.Reverse(mine)
					}
					if w == writers-1 {
						// One writer also repeats another round's legs.
						mine = append(mine, leg("pbx1", "0-0", "example.com", base))
					}
					fresh[w], errs[w] = s.InsertNew(context.Background(), mine)
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			// Every leg of the round returned as new by exactly one
			// writer, with an ID no other row has.
			byCallID := map[string]int64{}
			for w := range writers {
				for _, r := range fresh[w] {
					if _, dup := byCallID[r.CallID]; dup {
						t.Errorf("round %d: %s returned as new twice", round, r.CallID)
					}
					if r.ID <= 0 || ids[r.ID] {
						t.Errorf("round %d: %s has ID %d, zero or taken", round, r.CallID, r.ID)
					}
					byCallID[r.CallID], ids[r.ID] = r.ID, true
				}
			}
			if len(byCallID) != legs {
				t.Errorf("round %d: %d legs returned as new, want %d", round, len(byCallID), legs)
			}
		}
		if c := count(t, s); c != rounds*legs {
			t.Errorf("count %d, want %d", c, rounds*legs)
		}
	})
}

// TestInsertLargeBatch crosses SQLite's per-statement row limit, so one
// Insert runs several statements in one transaction.
func TestInsertLargeBatch(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		recs := make([]cdr.Record, 2000)
		for i := range recs {
			recs[i] = leg("pbx1", fmt.Sprint(i), "example.com", base.Add(time.Duration(i)*time.Millisecond))
		}
		if n := mustInsert(t, s, recs); n != len(recs) {
			t.Errorf("inserted %d, want %d", n, len(recs))
		}
		if n := mustInsert(t, s, recs); n != 0 {
			t.Errorf("replay inserted %d, want 0", n)
		}
		if c := count(t, s); c != int64(len(recs)) {
			t.Errorf("count %d, want %d", c, len(recs))
		}
	})
}

func TestInsertInvalid(t *testing.T) {
	good := leg("pbx1", "good", "example.com", base)
	tests := []struct {
		name   string
		mutate func(*cdr.Record)
	}{
		{"no switch", func(r *cdr.Record) { r.Switch = "" }},
		{"no call id", func(r *cdr.Record) { r.CallID = "" }},
		{"no end", func(r *cdr.Record) { r.End = time.Time{} }},
		{"raw not json", func(r *cdr.Record) { r.Raw = json.RawMessage(`uniqueid=1,billsec=2`) }},
		{"raw truncated", func(r *cdr.Record) { r.Raw = json.RawMessage(`{"a":`) }},
		{"duration beyond int32", func(r *cdr.Record) { r.Duration = 1 << 40 }},
		{"sip status beyond int32", func(r *cdr.Record) { r.SIPStatus = -1 << 40 }},
		{"billsec above duration", func(r *cdr.Record) { r.Billsec = 1 }},
		{"no disposition", func(r *cdr.Record) { r.Disposition = "" }},
		{"call id too long", func(r *cdr.Record) { r.CallID = strings.Repeat("x", cdr.MaxCallIDLen+1) }},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				bad := leg("pbx1", "bad", "example.com", base)
				tt.mutate(&bad)
				n, err := s.Insert(context.Background(), []cdr.Record{good, bad})
				if !errors.Is(err, cdr.ErrInvalidRecord) {
					t.Errorf("err = %v, want ErrInvalidRecord", err)
				}
				if n != 0 {
					t.Errorf("inserted %d, want 0", n)
				}
				if c := count(t, s); c != 0 {
					t.Errorf("count %d: a refused batch was partly written", c)
				}
			})
		}
	})
}

func TestQueryFilters(t *testing.T) {
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	mk := func(id, sw, domain, account, caller, dialed, gw string, dir cdr.Direction, disp cdr.Disposition, billsec, end int) cdr.Record {
		r := leg(sw, id, domain, at(end))
		r.Account, r.CallerNumber, r.Dialed, r.Gateway = account, caller, dialed, gw
		r.Direction, r.Disposition, r.Billsec, r.Duration = dir, disp, billsec, billsec+10
		r.TenantID = owner(map[string]int64{"a.example": 1, "b.example": 2, "c.example": 3}[domain])
		return r
	}
	fixture := []cdr.Record{
		mk("a1", "pbx1", "a.example", "alice", "100", "0049301", "", cdr.DirectionInternal, cdr.Answered, 30, 1),
		mk("a2", "pbx1", "a.example", "alice", "100", "0033123", "gw1", cdr.DirectionOutbound, cdr.Answered, 120, 2),
		mk("a3", "pbx1", "a.example", "bob", "+4930", "bob", "gw1", cdr.DirectionInbound, cdr.NoAnswer, 0, 3),
		mk("b1", "pbx2", "b.example", "alice", "200", "0049302", "gw2", cdr.DirectionOutbound, cdr.Busy, 0, 4),
		mk("b2", "pbx2", "b.example", "carol", "201", "00%_49", "gw2", cdr.DirectionOutbound, cdr.Answered, 60, 5),
		mk("c1", "pbx2", "c.example", "dave", "300", "ABC", "", cdr.DirectionInternal, cdr.Failed, 0, 6),
		mk("c2", "pbx2", "c.example", "dave", "300", "abc", "", cdr.DirectionInternal, cdr.Answered, 5, 7),
	}
	tests := []struct {
		name string
		f    cdr.Filter
		want []string
	}{
		{"all, newest first", cdr.Filter{}, []string{"c2", "c1", "b2", "b1", "a3", "a2", "a1"}},
		{"from inclusive", cdr.Filter{From: at(5)}, []string{"c2", "c1", "b2"}},
		{"to exclusive", cdr.Filter{To: at(3)}, []string{"a2", "a1"}},
		{"from and to", cdr.Filter{From: at(2), To: at(4)}, []string{"a3", "a2"}},
		{"from in another zone", cdr.Filter{From: at(6).In(time.FixedZone("X", -5*3600))}, []string{"c2", "c1"}},
		{"from between microseconds", cdr.Filter{From: at(6).Add(time.Nanosecond)}, []string{"c2"}},
		{"to between microseconds", cdr.Filter{To: at(1).Add(time.Nanosecond)}, []string{"a1"}},
		{"one tenant", cdr.Filter{Tenants: []int64{2}}, []string{"b2", "b1"}},
		{"two tenants", cdr.Filter{Tenants: []int64{3, 1}}, []string{"c2", "c1", "a3", "a2", "a1"}},
		{"tenants repeated", cdr.Filter{Tenants: []int64{2, 1, 2}}, []string{"b2", "b1", "a3", "a2", "a1"}},
		{"one tenant repeated", cdr.Filter{Tenants: []int64{2, 2}}, []string{"b2", "b1"}},
		{"more tenants than read one by one", cdr.Filter{Tenants: manyTenants(3, 1)}, []string{"c2", "c1", "a3", "a2", "a1"}},
		{"many tenants with a filter", cdr.Filter{Tenants: manyTenants(3, 1), Account: "alice"}, []string{"a2", "a1"}},
		{"unknown tenant", cdr.Filter{Tenants: []int64{99}}, []string{}},
		{"no tenants (a scope without any)", cdr.Filter{Tenants: []int64{}}, []string{}},
		{"one domain", cdr.Filter{Domain: "b.example"}, []string{"b2", "b1"}},
		{"unknown domain", cdr.Filter{Domain: "z.example"}, []string{}},
		{"domain within the tenants", cdr.Filter{Tenants: []int64{1, 2}, Domain: "b.example"}, []string{"b2", "b1"}},
		{"domain within many tenants", cdr.Filter{Tenants: manyTenants(1, 2), Domain: "b.example"}, []string{"b2", "b1"}},
		{"domain outside the tenants", cdr.Filter{Tenants: []int64{1}, Domain: "b.example"}, []string{}},
		{"domain with injection", cdr.Filter{Domain: "a.example' OR '1'='1"}, []string{}},
		{"switch", cdr.Filter{Switch: "pbx1"}, []string{"a3", "a2", "a1"}},
		{"account", cdr.Filter{Account: "alice"}, []string{"b1", "a2", "a1"}},
		{"account within domain", cdr.Filter{Domain: "a.example", Account: "alice"}, []string{"a2", "a1"}},
		{"caller exact", cdr.Filter{Caller: "100"}, []string{"a2", "a1"}},
		{"caller not a prefix", cdr.Filter{Caller: "10"}, []string{}},
		{"callee prefix", cdr.Filter{CalleePrefix: "0049"}, []string{"b1", "a1"}},
		{"callee prefix whole", cdr.Filter{CalleePrefix: "bob"}, []string{"a3"}},
		{"callee prefix wildcards literal", cdr.Filter{CalleePrefix: "00%_"}, []string{"b2"}},
		{"callee prefix underscore not a wildcard", cdr.Filter{CalleePrefix: "0_"}, []string{}},
		{"callee prefix case-sensitive", cdr.Filter{CalleePrefix: "A"}, []string{"c1"}},
		{"disposition", cdr.Filter{Disposition: cdr.Answered}, []string{"c2", "b2", "a2", "a1"}},
		{"disposition with space", cdr.Filter{Disposition: cdr.NoAnswer}, []string{"a3"}},
		{"gateway", cdr.Filter{Gateway: "gw2"}, []string{"b2", "b1"}},
		{"direction", cdr.Filter{Direction: cdr.DirectionOutbound}, []string{"b2", "b1", "a2"}},
		{"min billsec", cdr.Filter{MinBillsec: 60}, []string{"b2", "a2"}},
		{"min billsec inclusive", cdr.Filter{MinBillsec: 5}, []string{"c2", "b2", "a2", "a1"}},
		{"combined", cdr.Filter{Tenants: []int64{1, 2}, Direction: cdr.DirectionOutbound, Disposition: cdr.Answered, MinBillsec: 1, From: at(1)}, []string{"b2", "a2"}},
		{"limit", cdr.Filter{Limit: 2}, []string{"c2", "c1"}},
	}
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		s := newStore(t, db)
		mustInsert(t, s, fixture)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, _, err := s.Query(context.Background(), tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(callIDs(got), tt.want) {
					t.Errorf("got %v, want %v", callIDs(got), tt.want)
				}
			})
		}
	})
}

func TestQueryPaging(t *testing.T) {
	const total = 1000
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		recs := make([]cdr.Record, total)
		for i := range recs {
			// Seven legs share each end time, and the domains interleave.
			recs[i] = leg("pbx1", fmt.Sprintf("%04d", i), fmt.Sprintf("d%d.example", i%3), base.Add(time.Duration(i/7)*time.Second))
			recs[i].TenantID = owner(int64(i%3 + 1))
		}
		mustInsert(t, s, recs)

		tests := []struct {
			name  string
			f     cdr.Filter
			want  int
			pages int
		}{
			{"default limit", cdr.Filter{}, total, 10},
			{"limit 37", cdr.Filter{Limit: 37}, total, 28},
			{"limit above max", cdr.Filter{Limit: 5000}, total, 1},
			{"limit 1", cdr.Filter{Limit: 1, From: base.Add(130 * time.Second)}, total - 130*7, total - 130*7},
			{"one domain", cdr.Filter{Domain: "d1.example", Limit: 50}, 333, 7},
			{"one tenant", cdr.Filter{Tenants: []int64{2}, Limit: 50}, 333, 7},
			{"two tenants", cdr.Filter{Tenants: []int64{1, 3}, Limit: 64}, 667, 11},
			{"many tenants", cdr.Filter{Tenants: manyTenants(1, 3), Limit: 64}, 667, 11},
			{"exact multiple of limit", cdr.Filter{Limit: 250}, total, 4},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := tt.f
				var all []cdr.Record
				pages := 0
				for {
					page, next, err := s.Query(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					all = append(all, page...)
					if next == nil {
						break
					}
					if last := page[len(page)-1]; next.ID != last.ID || !next.End.Equal(last.End) {
						t.Fatalf("cursor %+v is not the last record (%d, %v)", next, last.ID, last.End)
					}
					if pages > total+1 {
						t.Fatal("paging does not end")
					}
					f.Before = next
				}
				if pages != tt.pages {
					t.Errorf("%d pages, want %d", pages, tt.pages)
				}
				if len(all) != tt.want {
					t.Errorf("collected %d records, want %d", len(all), tt.want)
				}
				seen := map[string]bool{}
				for i, r := range all {
					if seen[r.CallID] {
						t.Fatalf("%s collected twice", r.CallID)
					}
					seen[r.CallID] = true
					if i > 0 {
						p := all[i-1]
						if !r.End.Before(p.End) && !(r.End.Equal(p.End) && r.ID < p.ID) {
							t.Fatalf("out of order at %d: (%v, %d) after (%v, %d)", i, r.End, r.ID, p.End, p.ID)
						}
					}
				}
			})
		}
	})
}

// manyTenants returns real plus enough unknown tenants to pass the number
// Query reads one by one, so that the IN list is used.
func manyTenants(real ...int64) []int64 {
	out := slices.Clone(real)
	for i := range int64(40) {
		out = append(out, 1000+i)
	}
	return out
}

// owner returns a TenantID of id, nil for 0.
func owner(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// TestRawCeiling runs the load tool's measure on both engines: it takes
// time, and leaves neither its scratch table nor any row behind.
func TestRawCeiling(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		recs := make([]cdr.Record, 1500)
		for i := range recs {
			recs[i] = benchRecord(i, "example.com", base.Add(time.Duration(i)*time.Second))
		}
		elapsed, err := cdrstore.RawCeiling(ctx, db, recs)
		if err != nil {
			t.Fatal(err)
		}
		if elapsed <= 0 {
			t.Errorf("elapsed %v", elapsed)
		}
		var tables []string
		q := `SELECT name FROM sqlite_master WHERE name LIKE 'cdrs%'`
		if db.Engine == sqldb.Postgres {
			q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'cdrs%'`
		}
		if err := db.SelectContext(ctx, &tables, q); err != nil {
			t.Fatal(err)
		}
		for _, name := range tables {
			if strings.Contains(name, "ceiling") {
				t.Errorf("scratch table %s left behind", name)
			}
		}
		if c := count(t, s); c != 0 {
			t.Errorf("%d rows in cdrs", c)
		}
	})
}

// TestQueryByID: the API reads one CDR by its id (to list its recordings),
// inside the caller's scope like every other read.
func TestQueryByID(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		one, two := int64(1), int64(2)
		a, b := leg("pbx1", "a", "a.example", base), leg("pbx1", "b", "b.example", base.Add(time.Second))
		a.TenantID, b.TenantID = &one, &two
		mustInsert(t, s, []cdr.Record{a, b})
		all, _, err := s.Query(ctx, cdr.Filter{})
		if err != nil || len(all) != 2 {
			t.Fatalf("%d CDRs, %v", len(all), err)
		}
		target := all[0] // b, newest first
		for _, tt := range []struct {
			name string
			f    cdr.Filter
			want []string
		}{
			{"by id", cdr.Filter{ID: target.ID}, []string{target.CallID}},
			{"by id in its owner's scope", cdr.Filter{ID: target.ID, Tenants: []int64{*target.TenantID}}, []string{target.CallID}},
			{"by id outside the scope", cdr.Filter{ID: target.ID, Tenants: []int64{3}}, []string{}},
			{"unknown id", cdr.Filter{ID: target.ID + 100}, []string{}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				got, _, err := s.Query(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(callIDs(got), tt.want) {
					t.Errorf("got %v, want %v", callIDs(got), tt.want)
				}
			})
		}
	})
}
