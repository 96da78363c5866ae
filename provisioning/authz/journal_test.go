package authz

import (
	"context"
	"errors"
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

// flakyJournal is the CDR store as a ReservationStore that fails while
// down (the database unreachable) and counts the writes that reached it.
type flakyJournal struct {
	*cdrstore.Store
	mu     sync.Mutex
	down   bool
	saves  int
	rows   int
	pruned int64
}

var errDown = errors.New("database down")

func (j *flakyJournal) SaveReservations(ctx context.Context, put []cdrstore.Reservation, drop []cdrstore.ReservationKey) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.down {
		return errDown
	}
	j.saves++
	j.rows += len(put) + len(drop)
	return j.Store.SaveReservations(ctx, put, drop)
}

func (j *flakyJournal) setDown(down bool) { j.mu.Lock(); j.down = down; j.mu.Unlock() }

// journalRig is a store, the fake sources (prepaid, 1.00 EUR at 0.60 a
// minute: 100 s of money; at most 2 calls at once, 60 s each) and a clock
// shared by the Authorizers a test "restarts".
type journalRig struct {
	t     *testing.T
	store *cdrstore.Store
	j     *flakyJournal
	f     *fakeSources
	clk   *clock
}

func newJournalRig(t *testing.T, db *sqldb.DB) *journalRig {
	if err := cdrstore.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	store := cdrstore.NewStore(db)
	f := &fakeSources{prepaid: true, balance: money.MustParse("1.00"), tenant: Limits{Concurrent: 2}, user: Limits{MaxCallSeconds: 60}}
	f.tariff = testTariff(t)
	return &journalRig{t: t, store: store, j: &flakyJournal{Store: store}, f: f,
		clk: &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}}
}

// start is a daemon starting: a new Authorizer over the same store,
// restored.
func (r *journalRig) start() *Authorizer {
	r.t.Helper()
	a := New(r.f, r.f, r.f, r.f, nil, Config{Journal: r.j, Now: r.clk.Now})
	if _, err := a.Restore(context.Background(), nil); err != nil {
		r.t.Fatal(err)
	}
	return a
}

func (r *journalRig) authorize(a *Authorizer, id string) Decision {
	r.t.Helper()
	d, err := a.Authorize(context.Background(), call(id))
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *journalRig) flush(a *Authorizer) {
	r.t.Helper()
	if err := a.Flush(context.Background()); err != nil {
		r.t.Fatal(err)
	}
}

// storeCDR stores call id's priced CDR (billsec s) through w.
func (r *journalRig) storeCDR(w cdr.Writer, id string, s int) {
	r.t.Helper()
	rec := cdrtest.Minimal("fs1", id, "example.com", r.clk.Now())
	cost := money.MustParse("0.01") * money.Amount(s)
	rec.Direction, rec.TenantID, rec.Billsec, rec.Duration, rec.Cost, rec.Currency = cdr.DirectionOutbound, ptr(int64(1)), s, s+2, &cost, "EUR"
	if _, err := w.InsertNew(context.Background(), []cdr.Record{rec}); err != nil {
		r.t.Fatal(err)
	}
}

// A call live when the daemon restarts still holds its concurrent slot
// and its money in the restarted one, until its CDR is stored.
func TestJournalRestartKeepsLiveCalls(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newJournalRig(t, db)
		a := r.start()
		if d := r.authorize(a, "1"); !d.Allowed || d.MaxSeconds != 60 {
			t.Fatalf("first call: %+v", d)
		}
		r.flush(a)
		r.clk.Add(10 * time.Second)

		a = r.start() // SIGKILL and start again: call 1 is still up
		if a.Live(1, 0) != 1 || a.Live(1, 7) != 1 {
			t.Fatalf("restored live: tenant %d user %d, want 1 and 1", a.Live(1, 0), a.Live(1, 7))
		}
		if d := r.authorize(a, "2"); !d.Allowed || d.MaxSeconds != 40 {
			t.Fatalf("second call after the restart: %+v, want the 40 s call 1 left", d)
		}
		if d := r.authorize(a, "3"); d.Reason != ReasonConcurrent {
			t.Fatalf("third call: %+v, want concurrent_limit (call 1 restored + call 2)", d)
		}
		// The same call id asked again (a switch retrying) is the
		// restored decision, not a second slot.
		if d := r.authorize(a, "1"); !d.Allowed || d.MaxSeconds != 60 || a.Live(1, 0) != 2 {
			t.Fatalf("call 1 asked again: %+v, live %d", d, a.Live(1, 0))
		}

		// Call 1's CDR is stored: released, and its row with it.
		w := ReleaseOnStore(r.store, a)
		r.storeCDR(w, "1", 20)
		r.flush(a)
		if a.Live(1, 0) != 1 {
			t.Fatalf("live after call 1's CDR: %d, want 1", a.Live(1, 0))
		}
		rows, err := r.store.Reservations(context.Background(), nil)
		if err != nil || len(rows) != 1 || rows[0].CallID != "2" {
			t.Fatalf("rows %+v %v, want call 2's only", rows, err)
		}
		// Restarted again: only call 2 is live.
		a = r.start()
		if a.Live(1, 0) != 1 {
			t.Fatalf("second restart: live %d, want 1", a.Live(1, 0))
		}
	})
}

// Calls that ended around a restart: an expired call frees its slot (its
// reservation stays deducted for the settle window, as without a
// restart); a call whose CDR was stored before the restart, its release
// not written, is not loaded; a call released with its billsec keeps that
// cost deducted until booked.
func TestJournalRestartEndedCalls(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		r := newJournalRig(t, db)
		r.f.balance = money.MustParse("10")
		a := r.start()
		for _, id := range []string{"expiring", "cdr-stored"} {
			if d := r.authorize(a, id); !d.Allowed {
				t.Fatalf("%s: %+v", id, d)
			}
		}
		r.flush(a)
		// cdr-stored's CDR is stored but the process dies before the
		// release is written.
		r.storeCDR(r.store, "cdr-stored", 5)
		r.clk.Add(60*time.Second + 2*time.Minute + time.Second) // past expiring's 60 s + grace

		a = r.start()
		if a.Live(1, 0) != 0 {
			t.Fatalf("live %d, want 0 (one expired, one with its CDR)", a.Live(1, 0))
		}
		if rows, _ := r.store.Reservations(ctx, nil); len(rows) != 1 || rows[0].CallID != "expiring" {
			t.Fatalf("rows %+v: the CDR-stored row must be pruned, the expired one kept for the settle window", rows)
		}
		// The expired call's 0.60 is deducted until the window passes.
		if d := r.authorize(a, "a"); d.MaxSeconds != 60 || d.Reserved != money.MustParse("0.6") {
			t.Fatalf("after expiry: %+v", d)
		}
		if err := a.Release("fs1", "a", 30); err != nil { // hung up after 30 s: 0.30 settling
			t.Fatal(err)
		}
		r.f.mu.Lock()
		r.f.balance = money.MustParse("1.00")
		r.f.mu.Unlock()
		r.flush(a)

		a = r.start()
		// 1.00 less expiring's 0.60 and a's 0.30, both settling: 10 s.
		if d := r.authorize(a, "b"); !d.Allowed || d.MaxSeconds != 10 {
			t.Fatalf("after the second restart: %+v, want 10 s", d)
		}
		a.Release("fs1", "b", Unanswered) //nolint:errcheck
		r.flush(a)
		r.clk.Add(2*time.Minute + time.Second) // the settle window passed
		a = r.start()
		if d := r.authorize(a, "c"); d.MaxSeconds != 60 {
			t.Fatalf("after the settle window: %+v, want 60 s", d)
		}
		if rows, _ := r.store.Reservations(ctx, nil); len(rows) != 0 {
			t.Fatalf("rows after the settle window: %+v, want none (pruned; c not written yet)", rows)
		}
	})
}

// The journal writes behind: a call reserved and released between two
// writes is never written; a write that fails (the database down) fails
// no authorization, is counted and retried with what changed since.
func TestJournalWriteBehindAndFailures(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		r := newJournalRig(t, db)
		a := r.start()
		r.authorize(a, "short")
		if err := a.ReleaseBooked("fs1", "short"); err != nil {
			t.Fatal(err)
		}
		r.flush(a)
		if r.j.saves != 0 {
			t.Fatalf("a call reserved and released before a write made %d writes", r.j.saves)
		}

		r.authorize(a, "1")
		r.flush(a)
		r.j.setDown(true)
		if d := r.authorize(a, "2"); !d.Allowed || d.MaxSeconds != 40 {
			t.Fatalf("with the database down: %+v", d)
		}
		if err := a.ReleaseBooked("fs1", "1"); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(ctx); !errors.Is(err, errDown) {
			t.Fatalf("flush while down: %v", err)
		}
		if err := a.Flush(ctx); !errors.Is(err, errDown) || a.JournalFailures() != 2 {
			t.Fatalf("second flush while down: %v, failures %d", err, a.JournalFailures())
		}
		// Call 2 is released while the write of its row is pending, and
		// call 3 comes.
		if err := a.Release("fs1", "2", 10); err != nil {
			t.Fatal(err)
		}
		r.authorize(a, "3")
		r.j.setDown(false)
		r.flush(a)
		rows, err := r.store.Reservations(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, row := range rows {
			got[row.CallID] = row.Released.IsZero()
		}
		if len(got) != 2 || got["2"] || !got["3"] {
			t.Fatalf("rows after the database came back: %+v; want 2 released, 3 live, 1 gone", rows)
		}
	})
}

// RunJournal writes within its period and what is left when stopped.
func TestRunJournal(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newJournalRig(t, db)
		a := New(r.f, r.f, r.f, r.f, nil, Config{Journal: r.j, JournalEvery: 10 * time.Millisecond, Now: r.clk.Now})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- a.RunJournal(ctx) }()
		r.authorize(a, "1")
		deadline := time.Now().Add(5 * time.Second)
		for {
			rows, err := r.store.Reservations(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the reservation was not written within 5 s")
			}
			time.Sleep(5 * time.Millisecond)
		}
		r.authorize(a, "2")
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if rows, _ := r.store.Reservations(context.Background(), nil); len(rows) != 2 {
			t.Fatalf("after stop: %d rows, want 2 (the last write on the way out)", len(rows))
		}
	})
}

// The calls started in the last minute before a restart and still live
// count in the restarted daemon's calls per minute, until their start is
// a minute old.
func TestJournalRestartCallsPerMinute(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newJournalRig(t, db)
		r.f.balance, r.f.tenant = money.MustParse("10"), Limits{CallsPerMinute: 2}
		a := r.start()
		r.authorize(a, "1")
		r.clk.Add(20 * time.Second)
		r.authorize(a, "2")
		r.flush(a)
		r.clk.Add(10 * time.Second)

		a = r.start()
		if d := r.authorize(a, "3"); d.Reason != ReasonCallsPerMinute {
			t.Fatalf("third call 30 s after the first: %+v, want calls_per_minute", d)
		}
		r.clk.Add(30 * time.Second) // call 1 started a minute ago
		if d := r.authorize(a, "4"); !d.Allowed {
			t.Fatalf("a minute after the first call: %+v, want allowed", d)
		}
		if d := r.authorize(a, "5"); d.Reason != ReasonCallsPerMinute {
			t.Fatalf("then: %+v, want calls_per_minute (calls 2 and 4 in the last minute)", d)
		}
	})
}

// A leg authorized ahead of dialling (Call.Of: a hunt group's member)
// that is live at the restart is released, after it, by its call's CDR,
// as it would have been without the restart.
func TestJournalRestartKeepsLegs(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		r := newJournalRig(t, db)
		r.f.balance = money.MustParse("10")
		a := r.start()
		for _, id := range []string{"m1", "m2"} {
			c := call(id)
			c.Of = "caller"
			if d, err := a.Authorize(context.Background(), c); err != nil || !d.Allowed {
				t.Fatalf("member %s: %+v %v", id, d, err)
			}
		}
		r.flush(a)

		a = r.start()
		if a.Live(1, 0) != 2 {
			t.Fatalf("restored %d live legs, want 2", a.Live(1, 0))
		}
		r.storeCDR(ReleaseOnStore(r.store, a), "caller", 30) // the caller's CDR: no member was dialled
		if a.Live(1, 0) != 0 {
			t.Fatalf("after the caller's CDR: %d live, want 0", a.Live(1, 0))
		}
		r.flush(a)
		if rows, err := r.store.Reservations(context.Background(), nil); err != nil || len(rows) != 0 {
			t.Fatalf("rows %+v %v, want none", rows, err)
		}
	})
}
