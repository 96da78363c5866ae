package cdrstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// day returns midnight UTC of 2025-03-d.
func day(d int) time.Time { return time.Date(2025, 3, d, 0, 0, 0, 0, time.UTC) }

// partitions returns the day partitions attached to cdrs, oldest first; nil
// on SQLite.
func partitions(t testing.TB, db *sqldb.DB) []string {
	t.Helper()
	if db.Engine != sqldb.Postgres {
		return nil
	}
	var names []string
	if err := db.SelectContext(context.Background(), &names, `
		SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'cdrs'::regclass ORDER BY c.relname`); err != nil {
		t.Fatal(err)
	}
	return names
}

func TestEnsurePartitions(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		// Twice: the second call finds them all.
		for range 2 {
			if err := s.EnsurePartitions(ctx, day(14).Add(13*time.Hour), day(16).Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.EnsurePartitions(ctx, day(16), day(17)); err != nil {
			t.Fatal(err)
		}
		var want []string
		if db.Engine == sqldb.Postgres {
			want = []string{"cdrs_p20250314", "cdrs_p20250315", "cdrs_p20250316", "cdrs_p20250317"}
		}
		if got := partitions(t, db); !slices.Equal(got, want) {
			t.Errorf("partitions %v, want %v", got, want)
		}
		bad := []struct {
			name     string
			from, to time.Time
		}{
			{"to before from", day(16), day(15)},
			{"more than ten years", day(1), day(1).AddDate(11, 0, 0)},
			{"before 1970", time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC), day(1)},
		}
		for _, b := range bad {
			err := s.EnsurePartitions(ctx, b.from, b.to)
			if (err == nil) != (db.Engine == sqldb.SQLite) {
				t.Errorf("%s: err = %v", b.name, err)
			}
		}
	})
}

// TestInsertCreatesPartitions stores legs of days no partition was made
// for (an old import, a clock far ahead), and a leg of a day whose
// partition another process dropped after this Store saw it: none is
// lost.
func TestInsertCreatesPartitions(t *testing.T) {
	old := time.Date(2019, 6, 1, 23, 59, 59, 999999000, time.UTC)
	future := time.Now().UTC().AddDate(1, 1, 0)
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		recs := []cdr.Record{leg("pbx1", "old", "example.com", old), leg("pbx1", "now", "example.com", base), leg("pbx1", "future", "example.com", future)}
		if n := mustInsert(t, s, recs); n != 3 {
			t.Fatalf("inserted %d, want 3", n)
		}
		if db.Engine == sqldb.Postgres {
			want := []string{"cdrs_p20190601", "cdrs_p20250314", future.Format("cdrs_p20060102")}
			if got := partitions(t, db); !slices.Equal(got, want) {
				t.Errorf("partitions %v, want %v", got, want)
			}
			// Another process's Retain drops base's day behind this
			// Store's back (its key goes too).
			for _, q := range []string{
				`ALTER TABLE cdrs DETACH PARTITION cdrs_p20250314`,
				`DROP TABLE cdrs_p20250314`,
				`DELETE FROM cdr_keys WHERE call_id = 'now'`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatal(err)
				}
			}
			if n := mustInsert(t, s, []cdr.Record{leg("pbx1", "again", "example.com", base.Add(time.Second))}); n != 1 {
				t.Errorf("inserted %d into a dropped day, want 1", n)
			}
		} else {
			mustInsert(t, s, []cdr.Record{leg("pbx1", "again", "example.com", base.Add(time.Second))})
		}
		got, _, err := s.Query(ctx, cdr.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"future", "again", "now", "old"}
		if db.Engine == sqldb.Postgres {
			want = []string{"future", "again", "old"}
		}
		if !slices.Equal(callIDs(got), want) {
			t.Errorf("stored %v, want %v", callIDs(got), want)
		}
	})
}

// TestQueryPagingAcrossDays pages through legs spread over six days (six
// partitions on PostgreSQL), with and without filters that prune some.
func TestQueryPagingAcrossDays(t *testing.T) {
	const days, perDay = 6, 50
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		var recs []cdr.Record
		for d := range days {
			for i := range perDay {
				// Legs in pairs ending at once, across the whole day,
				// the last one a microsecond before midnight.
				end := day(10 + d).Add(time.Duration(i/2+1) * 24 * time.Hour / (perDay/2 + 1))
				if i == perDay-1 {
					end = day(11 + d).Add(-time.Microsecond)
				}
				r := leg("pbx1", fmt.Sprintf("%d-%02d", d, i), fmt.Sprintf("d%d.example", i%3), end)
				r.TenantID = owner(int64(i%3 + 1))
				recs = append(recs, r)
			}
		}
		mustInsert(t, s, recs)
		if got := len(partitions(t, db)); db.Engine == sqldb.Postgres && got != days {
			t.Errorf("%d partitions, want %d", got, days)
		}
		count := func(keep func(cdr.Record) bool) int {
			n := 0
			for _, r := range recs {
				if keep(r) {
					n++
				}
			}
			return n
		}
		tests := []struct {
			name string
			f    cdr.Filter
			keep func(cdr.Record) bool
		}{
			{"every day", cdr.Filter{Limit: 37}, func(cdr.Record) bool { return true }},
			{"one domain", cdr.Filter{Limit: 23, Domain: "d1.example"}, func(r cdr.Record) bool { return r.Domain == "d1.example" }},
			{"one tenant", cdr.Filter{Limit: 23, Tenants: []int64{2}}, func(r cdr.Record) bool { return r.Domain == "d1.example" }},
			{"two tenants", cdr.Filter{Limit: 23, Tenants: []int64{1, 3}}, func(r cdr.Record) bool { return r.Domain != "d1.example" }},
			{"days two to four", cdr.Filter{Limit: 19, From: day(11), To: day(14)}, func(r cdr.Record) bool {
				return !r.End.Before(day(11)) && r.End.Before(day(14))
			}},
			{"one domain, from noon", cdr.Filter{Limit: 7, Tenants: []int64{3}, From: day(13).Add(12 * time.Hour)}, func(r cdr.Record) bool {
				return r.Domain == "d2.example" && !r.End.Before(day(13).Add(12*time.Hour))
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f := tt.f
				var all []cdr.Record
				for pages := 0; ; pages++ {
					if pages > len(recs) {
						t.Fatal("paging does not end")
					}
					page, next, err := s.Query(ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					all = append(all, page...)
					if next == nil {
						break
					}
					f.Before = next
				}
				if want := count(tt.keep); len(all) != want {
					t.Errorf("collected %d records, want %d", len(all), want)
				}
				seen := map[string]bool{}
				for i, r := range all {
					if seen[r.CallID] || !tt.keep(r) {
						t.Fatalf("%s collected twice or not selected", r.CallID)
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

// TestRetain keeps three days out of ten. With the cutoff at midnight both
// engines delete the same legs; with the cutoff at noon PostgreSQL keeps
// the cutoff's whole day. Keys go with their rows: a deleted leg stored
// again is new, a kept one is not.
func TestRetain(t *testing.T) {
	const keep = 3 * 24 * time.Hour
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		var recs []cdr.Record
		for d := 10; d <= 19; d++ {
			for _, h := range []int{0, 6, 18} {
				recs = append(recs, leg("pbx1", fmt.Sprintf("%d-%d", d, h), "example.com", day(d).Add(time.Duration(h)*time.Hour)))
			}
			recs = append(recs, leg("pbx1", fmt.Sprintf("%d-last", d), "example.com", day(d+1).Add(-time.Microsecond)))
		}
		// Enough legs on one day to take SQLite more than one batch.
		for i := range 2100 {
			recs = append(recs, leg("pbx2", fmt.Sprint(i), "example.com", day(12).Add(time.Duration(i)*time.Second)))
		}
		mustInsert(t, s, recs)
		older := func(cutoff time.Time) (n int64) {
			for _, r := range recs {
				if r.End.Before(cutoff) {
					n++
				}
			}
			return n
		}

		if _, err := s.Retain(ctx, 0, day(20)); err == nil {
			t.Error("Retain kept nothing without complaint")
		}

		// Cutoff at midnight of the 17th: the 10th to the 16th go.
		deleted, err := s.Retain(ctx, keep, day(20))
		if err != nil {
			t.Fatal(err)
		}
		if want := older(day(17)); deleted != want {
			t.Errorf("deleted %d, want %d", deleted, want)
		}
		if c, want := count(t, s), int64(len(recs))-older(day(17)); c != want {
			t.Errorf("%d left, want %d", c, want)
		}
		if got, want := partitions(t, db), pgOnly(db, "cdrs_p20250317", "cdrs_p20250318", "cdrs_p20250319"); !slices.Equal(got, want) {
			t.Errorf("partitions %v, want %v", got, want)
		}
		oldest, _, err := s.Query(ctx, cdr.Filter{To: day(17).Add(time.Microsecond)})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(callIDs(oldest), []string{"17-0"}) {
			t.Errorf("oldest left %v, want [17-0]", callIDs(oldest))
		}

		// Keys went with their rows only.
		again := []cdr.Record{leg("pbx1", "16-18", "example.com", day(16).Add(18*time.Hour)), leg("pbx1", "17-0", "example.com", day(17))}
		fresh, err := s.InsertNew(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(callIDs(fresh), []string{"16-18"}) {
			t.Errorf("stored again: %v, want [16-18] (deleted, so new again) and not 17-0 (kept)", callIDs(fresh))
		}

		// Cutoff at noon of the 17th: SQLite deletes to the row,
		// PostgreSQL whole days only, so the 17th stays whole; the leg
		// of the 16th stored again goes on both.
		deleted, err = s.Retain(ctx, keep, day(20).Add(12*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		want := int64(3) // 16-18, 17-0, 17-6
		if db.Engine == sqldb.Postgres {
			want = 1
		}
		if deleted != want {
			t.Errorf("noon cutoff: deleted %d, want %d", deleted, want)
		}
		// Nothing more to do.
		if deleted, err := s.Retain(ctx, keep, day(20).Add(12*time.Hour)); err != nil || deleted != 0 {
			t.Errorf("Retain again: deleted %d, %v; want 0", deleted, err)
		}
	})
}

func pgOnly(db *sqldb.DB, names ...string) []string {
	if db.Engine == sqldb.Postgres {
		return names
	}
	return nil
}

// TestRetainInterrupted resumes the work of a Retain that stopped half
// way on PostgreSQL: a partition left pending detach (DETACH ...
// CONCURRENTLY cancelled) and one detached but not dropped are both
// dropped with their keys; a detached day that is still kept is attached
// again by the next insert of that day, its rows visible and its keys
// still refusing replays.
func TestRetainInterrupted(t *testing.T) {
	dsn, ok := sqldbtest.DSNs(t)[sqldb.Postgres]
	if !ok {
		t.Skip("needs PostgreSQL")
	}
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := newStore(t, db)
	mustInsert(t, s, []cdr.Record{
		leg("pbx1", "10", "example.com", day(10)), leg("pbx1", "11", "example.com", day(11)),
		leg("pbx1", "18", "example.com", day(18)), leg("pbx1", "19", "example.com", day(19)),
	})

	// The 10th: DETACH ... CONCURRENTLY gives up waiting for a reader.
	reader, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.ExecContext(ctx, `SELECT count(*) FROM cdrs`); err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `SET lock_timeout = '100ms'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `ALTER TABLE cdrs DETACH PARTITION cdrs_p20250310 CONCURRENTLY`); err == nil {
		t.Fatal("DETACH CONCURRENTLY did not wait for the reader")
	}
	conn.ExecContext(ctx, `RESET lock_timeout`) //nolint:errcheck // the connection is closed next
	conn.Close()
	reader.Rollback() //nolint:errcheck // read only
	var pending bool
	if err := db.GetContext(ctx, &pending, `SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'cdrs_p20250310'::regclass`); err != nil || !pending {
		t.Fatalf("cdrs_p20250310 pending detach: %v, %v", pending, err)
	}
	// The 11th and the 18th: detached, not dropped.
	for _, p := range []string{"cdrs_p20250311", "cdrs_p20250318"} {
		if _, err := db.ExecContext(ctx, `ALTER TABLE cdrs DETACH PARTITION `+p); err != nil {
			t.Fatal(err)
		}
	}

	deleted, err := s.Retain(ctx, 3*24*time.Hour, day(20))
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 2 {
		t.Errorf("deleted %d, want 2", deleted)
	}
	var tables []string
	if err := db.SelectContext(ctx, &tables, `SELECT relname FROM pg_class WHERE relname LIKE 'cdrs\_p%' AND relkind = 'r'
		AND relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = 'cdrs'::regclass) ORDER BY relname`); err != nil {
		t.Fatal(err)
	}
	if want := []string{"cdrs_p20250318", "cdrs_p20250319"}; !slices.Equal(tables, want) {
		t.Errorf("tables left %v, want %v", tables, want)
	}

	// The 18th comes back with the next leg of that day.
	fresh, err := s.InsertNew(ctx, []cdr.Record{leg("pbx1", "18", "example.com", day(18)), leg("pbx1", "18b", "example.com", day(18).Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(callIDs(fresh), []string{"18b"}) {
		t.Errorf("new: %v, want [18b]", callIDs(fresh))
	}
	got, _, err := s.Query(ctx, cdr.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"19", "18b", "18"}; !slices.Equal(callIDs(got), want) {
		t.Errorf("stored %v, want %v", callIDs(got), want)
	}
	// The keys of the 10th and the 11th went with their rows.
	if n := mustInsert(t, s, []cdr.Record{leg("pbx1", "10", "example.com", day(10)), leg("pbx1", "11", "example.com", day(11))}); n != 2 {
		t.Errorf("legs of dropped days stored again: %d new, want 2", n)
	}
}
