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

type fakeSink struct{ err error }

func (f fakeSink) Put(context.Context, ...cdr.Record) error { return f.err }

// A stored CDR of an authorized call frees its slot; an unknown leg is
// harmless; a sink that failed releases nothing (the CDR comes again).
func TestReleaseOnCDR(t *testing.T) {
	f := &fakeSources{tenant: Limits{Concurrent: 1}}
	a, _ := newTest(t, f)
	ctx := context.Background()
	if d, _ := a.Authorize(ctx, call("leg-a")); !d.Allowed {
		t.Fatal(d)
	}
	boom := errors.New("spool full")
	if err := ReleaseOnCDR(fakeSink{boom}, a).Put(ctx, cdr.Record{Switch: "fs1", CallID: "leg-a", Billsec: 5}); !errors.Is(err, boom) || a.Live(1, 0) != 1 {
		t.Fatalf("failed sink: %v, live %d", err, a.Live(1, 0))
	}
	if err := ReleaseOnCDR(fakeSink{}, a).Put(ctx, cdr.Record{Switch: "fs1", CallID: "leg-b"}, cdr.Record{Switch: "fs1", CallID: "leg-a", Billsec: 5}); err != nil || a.Live(1, 0) != 0 {
		t.Fatalf("stored: %v, live %d", err, a.Live(1, 0))
	}
	if d, _ := a.Authorize(ctx, call("next")); !d.Allowed {
		t.Fatalf("after the CDR: %+v", d)
	}
}
