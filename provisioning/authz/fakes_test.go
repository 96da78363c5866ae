package authz

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// fakeSources is every source in memory, guarded for parallel tests.
type fakeSources struct {
	mu      sync.Mutex
	tariff  *rating.Tariff
	balance money.Amount
	balAt   time.Time
	prepaid bool
	credit  *money.Amount
	tenant  Limits
	user    Limits
	spent   money.Amount
	err     error
}

func (f *fakeSources) TenantTariff(context.Context, int64) (*rating.Tariff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tariff, f.err
}

func (f *fakeSources) Balance(context.Context, int64, money.Currency) (money.Amount, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.balance, f.balAt, f.err
}

func (f *fakeSources) CreditPolicy(context.Context, int64) (bool, *money.Amount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.prepaid, f.credit, f.err
}

func (f *fakeSources) Limits(context.Context, int64, int64) (Limits, Limits, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tenant, f.user, f.err
}

func (f *fakeSources) Spent(context.Context, int64, int64, time.Time) (money.Amount, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spent, f.err
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testTariff prices 49… at 0.60 a minute, per second (1/1), no fee:
// 1.00 pays for exactly 100 s.
func testTariff(t testing.TB) *rating.Tariff {
	t.Helper()
	rates, err := rating.ReadDeck(strings.NewReader("prefix,destination,price_per_minute,connect_fee,first_increment,next_increment\n49,Germany,0.60,,1,1\n"), rating.DeckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := rating.Compile(rating.Plan{Name: "test", Currency: "EUR", ChargeStep: money.MustParse("0.0001"), Rates: rates})
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newTest(t testing.TB, f *fakeSources) (*Authorizer, *clock) {
	c := &clock{t: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)}
	if f.tariff == nil {
		f.tariff = testTariff(t)
	}
	return New(f, f, f, f, f, Config{Now: c.Now}), c
}

func call(id string) Call {
	return Call{TenantID: 1, UserID: 7, Destination: "4930123", Direction: Outbound, Switch: "fs1", CallID: id}
}

func amt(s string) *money.Amount { a := money.MustParse(s); return &a }
