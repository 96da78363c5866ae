package cdrstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
)

// TestReservations: rows written, overwritten by their release, deleted;
// a row whose CDR is stored is not read back and is pruned, as are the
// rows that ended before the cut; the switch filter.
func TestReservations(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		res := func(sw, id string, start time.Time) cdrstore.Reservation {
			return cdrstore.Reservation{Switch: sw, CallID: id, TenantID: 3, UserID: 7, Direction: "outbound", Destination: "4930123",
				Reserved: money.MustParse("1.25"), Currency: "EUR", MaxSeconds: 125, Start: start, Expires: start.Add(125*time.Second + 2*time.Minute)}
		}
		live, ended, cdrd, gone := res("fs1", "live", at), res("fs1", "ended", at.Add(time.Second)), res("fs1", "cdr-stored", at.Add(2*time.Second)), res("ast1", "gone", at.Add(3*time.Second))
		live.Start = live.Start.Add(123456 * time.Nanosecond) // truncated to the µs
		bad := res("fs1", "bad\xff", at.Add(4*time.Second))   // mended as CDR keys are
		bad.UserID, bad.Of = 0, "parent"                      // a leg authorized ahead of dialling
		if err := s.SaveReservations(ctx, []cdrstore.Reservation{live, ended, cdrd, gone, bad}, nil); err != nil {
			t.Fatal(err)
		}
		// ended is released after 30 s, costing 0.30; gone is dropped; a
		// key never written is dropped harmlessly.
		ended.Released, ended.Settled = at.Add(31*time.Second), money.MustParse("0.30")
		if err := s.SaveReservations(ctx, []cdrstore.Reservation{ended},
			[]cdrstore.ReservationKey{{Switch: "ast1", CallID: "gone"}, {Switch: "fs1", CallID: "never"}}); err != nil {
			t.Fatal(err)
		}
		// cdr-stored's CDR is stored, its release not written (a crash).
		mustInsert(t, s, []cdr.Record{leg("fs1", "cdr-stored", "acme.example", at.Add(time.Minute))})

		got, err := s.Reservations(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		live.Start = live.Start.Truncate(time.Microsecond)
		bad.CallID = "bad\uFFFD"
		want := []cdrstore.Reservation{live, ended, bad}
		if !slices.Equal(got, want) {
			t.Fatalf("reservations\n got %+v\nwant %+v", got, want)
		}
		if got, err := s.Reservations(ctx, []string{"ast1", "nowhere"}); err != nil || len(got) != 0 {
			t.Errorf("of ast1: %+v %v, want none", got, err)
		}
		if got, err := s.Reservations(ctx, []string{"fs1"}); err != nil || len(got) != 3 {
			t.Errorf("of fs1: %d rows %v, want 3", len(got), err)
		}

		// Pruning at ended's release + 1 µs: cdr-stored (CDR) and ended go.
		n, err := s.PruneReservations(ctx, ended.Released.Add(time.Microsecond))
		if err != nil || n != 2 {
			t.Fatalf("pruned %d %v, want 2", n, err)
		}
		if got, _ := s.Reservations(ctx, nil); !slices.Equal(got, []cdrstore.Reservation{live, bad}) {
			t.Fatalf("after prune: %+v", got)
		}
		// Past every expiry: nothing is left.
		if n, err := s.PruneReservations(ctx, at.Add(time.Hour)); err != nil || n != 2 {
			t.Fatalf("pruned %d %v, want 2", n, err)
		}
		if err := s.SaveReservations(ctx, nil, nil); err != nil {
			t.Errorf("empty save: %v", err)
		}
	})
}

// TestReservationsMany: a write of 100 rows and of their 100 deletions,
// more than one statement each (SQLite cuts them in 64, 8 and 1 rows).
func TestReservationsMany(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		s := newStore(t, db)
		at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		var put []cdrstore.Reservation
		var drop []cdrstore.ReservationKey
		for i := range 100 {
			id := fmt.Sprintf("c%03d", i)
			put = append(put, cdrstore.Reservation{Switch: "fs1", CallID: id, TenantID: 1, Direction: "inbound", MaxSeconds: 60,
				Start: at.Add(time.Duration(i) * time.Second), Expires: at.Add(time.Hour)})
			drop = append(drop, cdrstore.ReservationKey{Switch: "fs1", CallID: id})
		}
		if err := s.SaveReservations(ctx, put, nil); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Reservations(ctx, nil); err != nil || !slices.Equal(got, put) {
			t.Fatalf("read back %d rows %v, want the 100 written in order", len(got), err)
		}
		if err := s.SaveReservations(ctx, nil, drop[:99]); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Reservations(ctx, nil); err != nil || len(got) != 1 || got[0].CallID != "c099" {
			t.Fatalf("after deleting 99: %+v %v", got, err)
		}
	})
}
