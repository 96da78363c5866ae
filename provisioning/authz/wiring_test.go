package authz

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
)

type fakeLister []cdrstore.Balance

func (f fakeLister) Balances(context.Context, int64) ([]cdrstore.Balance, error) { return f, nil }

func TestStoreBalances(t *testing.T) {
	at := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	src := StoreBalances(fakeLister{{Currency: "EUR", Balance: money.MustParse("3"), UpdatedAt: at}, {Currency: "USD", Balance: money.MustParse("-1")}})
	for _, tc := range []struct {
		cur  money.Currency
		want money.Amount
		at   time.Time
	}{{"EUR", money.MustParse("3"), at}, {"USD", money.MustParse("-1"), time.Time{}}, {"GBP", 0, time.Time{}}} {
		got, gotAt, err := src.Balance(context.Background(), 1, tc.cur)
		if err != nil || got != tc.want || !gotAt.Equal(tc.at) {
			t.Errorf("%s: %s %v %v", tc.cur, got, gotAt, err)
		}
	}
}

type fakeWriter struct{ err error }

func (f fakeWriter) InsertNew(_ context.Context, recs []cdr.Record) ([]cdr.Record, error) {
	if f.err != nil {
		return nil, f.err
	}
	return recs[1:], nil // the first one was stored already
}

func (fakeWriter) PutDeadLetters(context.Context, []cdr.DeadLetter) error { return nil }

// A stored CDR of an authorized call frees its slot and keeps nothing
// deducted (its cost is in the balance); a leg stored before or never
// authorized is harmless; a failed write releases nothing.
func TestReleaseOnStore(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("1"), tenant: Limits{Concurrent: 1}}
	a, _ := newTest(t, f)
	ctx := context.Background()
	if d, _ := a.Authorize(ctx, call("leg-a")); !d.Allowed || d.MaxSeconds != 100 {
		t.Fatal(d)
	}
	boom := errors.New("database down")
	if _, err := ReleaseOnStore(fakeWriter{boom}, a).InsertNew(ctx, []cdr.Record{{}, {Switch: "fs1", CallID: "leg-a", Billsec: 5}}); !errors.Is(err, boom) || a.Live(1, 0) != 1 {
		t.Fatalf("failed write: %v, live %d", err, a.Live(1, 0))
	}
	w := ReleaseOnStore(fakeWriter{}, a)
	if _, err := w.InsertNew(ctx, []cdr.Record{{Switch: "fs1", CallID: "dup"}, {Switch: "fs1", CallID: "leg-b"}, {Switch: "fs1", CallID: "leg-a", Billsec: 5}}); err != nil || a.Live(1, 0) != 0 {
		t.Fatalf("stored: %v, live %d", err, a.Live(1, 0))
	}
	// the booked cost is the balance's business: the whole 1.00 is there
	if d, _ := a.Authorize(ctx, call("next")); !d.Allowed || d.MaxSeconds != 100 {
		t.Fatalf("after the CDR: %+v", d)
	}
}

type fakeBilling struct {
	prepaid bool
	credit  *money.Amount
}

func (f fakeBilling) BillingPolicy(context.Context, int64) (bool, *money.Amount, money.Currency, error) {
	return f.prepaid, f.credit, "EUR", nil
}

// The billing settings decide the money: postpaid with a credit limit
// allows balance + credit.
func TestBillingCredit(t *testing.T) {
	f := &fakeSources{balance: money.MustParse("-0.40")}
	f.tariff = testTariff(t)
	a := New(f, f, BillingCredit(fakeBilling{credit: amt("1")}), nil, nil, Config{})
	if d, err := a.Authorize(context.Background(), call("1")); err != nil || d.MaxSeconds != 60 {
		t.Fatalf("postpaid, -0.40 with 1.00 credit: %+v %v, want 60 s", d, err)
	}
	a = New(f, f, BillingCredit(fakeBilling{prepaid: true}), nil, nil, Config{})
	if d, _ := a.Authorize(context.Background(), call("1")); d.Reason != ReasonInsufficientFunds {
		t.Fatalf("prepaid at -0.40: %+v", d)
	}
}
