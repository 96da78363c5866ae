package authz

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// 20 parallel attempts against a concurrent limit of 5: exactly 5 are
// allowed, and a released slot is taken again.
func TestConcurrentLimitUnderRace(t *testing.T) {
	for _, scope := range []string{"tenant", "user"} {
		t.Run(scope, func(t *testing.T) {
			f := &fakeSources{prepaid: false}
			if scope == "tenant" {
				f.tenant.Concurrent = 5
			} else {
				f.user.Concurrent = 5
			}
			a, _ := newTest(t, f)
			var ok, refused atomic.Int32
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					d, err := a.Authorize(context.Background(), call(fmt.Sprint(i)))
					if err != nil {
						t.Error(err)
					}
					if d.Allowed {
						ok.Add(1)
					} else if d.Reason == ReasonConcurrent {
						refused.Add(1)
					}
				}()
			}
			close(start)
			wg.Wait()
			if ok.Load() != 5 || refused.Load() != 15 {
				t.Fatalf("allowed %d, refused %d; want 5 and 15", ok.Load(), refused.Load())
			}
			if got := a.Refused()[ReasonConcurrent]; got != 15 {
				t.Errorf("refused counter %d, want 15", got)
			}
			var released string
			for i := range 20 {
				if a.Release("fs1", fmt.Sprint(i), 10) == nil {
					released = fmt.Sprint(i)
					break
				}
			}
			if released == "" {
				t.Fatal("no call to release")
			}
			if err := a.Release("fs1", released, 10); !errors.Is(err, ErrUnknownCall) {
				t.Errorf("second release: %v, want ErrUnknownCall", err)
			}
			if d, _ := a.Authorize(context.Background(), call("new")); !d.Allowed {
				t.Errorf("after a release: %+v, want allowed", d)
			}
		})
	}
}

// The decisions of single calls against balances, credit and limits.
func TestAuthorizeDecisions(t *testing.T) {
	tests := []struct {
		name     string
		f        *fakeSources
		dest     string
		dir      string
		want     Reason
		wantSecs int
		reserved string
	}{
		{name: "prepaid 1.00 at 0.60/min", f: &fakeSources{prepaid: true, balance: money.MustParse("1.00")}, wantSecs: 100, reserved: "1"},
		{name: "prepaid capped by user max duration", f: &fakeSources{prepaid: true, balance: money.MustParse("1.00"), user: Limits{MaxCallSeconds: 30}}, wantSecs: 30, reserved: "0.3"},
		{name: "prepaid capped by tenant max duration", f: &fakeSources{prepaid: true, balance: money.MustParse("1.00"), tenant: Limits{MaxCallSeconds: 40}}, wantSecs: 40, reserved: "0.4"},
		{name: "prepaid empty", f: &fakeSources{prepaid: true}, want: ReasonInsufficientFunds},
		{name: "prepaid negative", f: &fakeSources{prepaid: true, balance: money.MustParse("-3")}, want: ReasonInsufficientFunds},
		{name: "prepaid one cent short of a second", f: &fakeSources{prepaid: true, balance: money.MustParse("0.009")}, want: ReasonInsufficientFunds},
		{name: "postpaid within credit", f: &fakeSources{balance: money.MustParse("-5"), credit: amt("5.60")}, wantSecs: 60, reserved: "0.6"},
		{name: "postpaid at credit limit", f: &fakeSources{balance: money.MustParse("-5"), credit: amt("5")}, want: ReasonInsufficientFunds},
		{name: "postpaid unlimited", f: &fakeSources{balance: money.MustParse("-500")}, wantSecs: 4 * 3600, reserved: "144"},
		{name: "no rate", f: &fakeSources{prepaid: true, balance: money.MustParse("10")}, dest: "3312345", want: ReasonNoRate},
		{name: "not digits", f: &fakeSources{prepaid: true, balance: money.MustParse("10")}, dest: "abc", want: ReasonNoRate},
		{name: "cost per hour binds", f: &fakeSources{prepaid: true, balance: money.MustParse("10"), tenant: Limits{CostPerHour: money.MustParse("0.50")}, spent: money.MustParse("0.20")}, wantSecs: 30, reserved: "0.3"},
		{name: "cost per hour reached", f: &fakeSources{prepaid: true, balance: money.MustParse("10"), tenant: Limits{CostPerHour: money.MustParse("0.50")}, spent: money.MustParse("0.50")}, want: ReasonCostPerHour},
		{name: "user cost per day reached", f: &fakeSources{prepaid: true, balance: money.MustParse("10"), user: Limits{CostPerDay: money.MustParse("1")}, spent: money.MustParse("2")}, want: ReasonCostPerDay},
		{name: "cost per month on postpaid unlimited", f: &fakeSources{tenant: Limits{CostPerMonth: money.MustParse("100")}, spent: money.MustParse("99.40")}, wantSecs: 60, reserved: "0.6"},
		{name: "inbound: limits only", f: &fakeSources{prepaid: true, user: Limits{MaxCallSeconds: 90}}, dir: Inbound, dest: "", wantSecs: 90},
		{name: "concurrent 0 means none", f: &fakeSources{prepaid: true, balance: money.MustParse("1"), tenant: Limits{Concurrent: 0}}, wantSecs: 100, reserved: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTest(t, tc.f)
			c := call("x")
			if tc.dest != "" {
				c.Destination = tc.dest
			}
			if tc.dir != "" {
				c.Direction = tc.dir
				c.Destination = tc.dest
			}
			d, err := a.Authorize(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if d.Allowed || d.Reason != tc.want {
					t.Fatalf("got %+v, want refusal %s", d, tc.want)
				}
				if a.Live(1, 0) != 0 {
					t.Error("a refused call holds a slot")
				}
				return
			}
			if !d.Allowed || d.MaxSeconds != tc.wantSecs {
				t.Fatalf("got %+v, want allowed for %d s", d, tc.wantSecs)
			}
			if tc.reserved != "" && d.Reserved != money.MustParse(tc.reserved) {
				t.Errorf("reserved %s, want %s", d.Reserved, tc.reserved)
			}
		})
	}
}

// Parallel calls share one prepaid balance: the second sees what the
// first holds; a released call's cost stays deducted until the balance
// shows a later booking.
func TestParallelCallsShareBalance(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("1.00"), user: Limits{MaxCallSeconds: 60}}
	a, clk := newTest(t, f)
	ctx := context.Background()
	d1, _ := a.Authorize(ctx, call("1"))
	if !d1.Allowed || d1.MaxSeconds != 60 {
		t.Fatalf("first: %+v", d1)
	}
	d2, _ := a.Authorize(ctx, call("2"))
	if !d2.Allowed || d2.MaxSeconds != 40 {
		t.Fatalf("second: %+v, want the 40 s the first left", d2)
	}
	if d3, _ := a.Authorize(ctx, call("3")); d3.Allowed || d3.Reason != ReasonInsufficientFunds {
		t.Fatalf("third: %+v, want insufficient funds", d3)
	}
	// Call 1 hangs up after 30 s; its CDR is not booked yet.
	clk.Add(30 * time.Second)
	if err := a.Release("fs1", "1", 30); err != nil {
		t.Fatal(err)
	}
	if d, _ := a.Authorize(ctx, call("4")); d.MaxSeconds != 30 {
		t.Fatalf("before booking: %+v, want 30 s (1.00 - 0.30 spent - 0.40 held)", d)
	}
	a.Release("fs1", "4", Unanswered) //nolint:errcheck
	// The CDR is booked: the balance is 0.70 and changed after the release.
	clk.Add(time.Second)
	f.mu.Lock()
	f.balance, f.balAt = money.MustParse("0.70"), clk.Now()
	f.mu.Unlock()
	// Both releases are older than the balance's change: booked.
	if d, _ := a.Authorize(ctx, call("5")); d.MaxSeconds != 30 {
		t.Fatalf("after booking: %+v, want 30 s (0.70 - 0.40 held)", d)
	}
}

// A call never released frees its slot after its duration and grace;
// the same call id asked twice takes one slot.
func TestExpiryAndIdempotence(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("100"), tenant: Limits{Concurrent: 1, MaxCallSeconds: 60}}
	a, clk := newTest(t, f)
	ctx := context.Background()
	d1, _ := a.Authorize(ctx, call("1"))
	again, _ := a.Authorize(ctx, call("1"))
	if !d1.Allowed || again != d1 || a.Live(1, 0) != 1 {
		t.Fatalf("first %+v, again %+v, live %d", d1, again, a.Live(1, 0))
	}
	if d, _ := a.Authorize(ctx, call("2")); d.Reason != ReasonConcurrent {
		t.Fatalf("second: %+v", d)
	}
	clk.Add(60*time.Second + 2*time.Minute - time.Second)
	if d, _ := a.Authorize(ctx, call("3")); d.Reason != ReasonConcurrent {
		t.Fatalf("before expiry: %+v", d)
	}
	clk.Add(2 * time.Second)
	if d, _ := a.Authorize(ctx, call("4")); !d.Allowed {
		t.Fatalf("after expiry: %+v", d)
	}
	if err := a.Release("fs1", "1", 10); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("late release of an expired call: %v", err)
	}
}

func TestCallsPerMinute(t *testing.T) {
	f := &fakeSources{tenant: Limits{CallsPerMinute: 3}}
	a, clk := newTest(t, f)
	ctx := context.Background()
	for i := range 3 {
		d, _ := a.Authorize(ctx, call(fmt.Sprint(i)))
		a.Release("fs1", fmt.Sprint(i), 1) //nolint:errcheck
		if !d.Allowed {
			t.Fatalf("call %d: %+v", i, d)
		}
		clk.Add(10 * time.Second)
	}
	if d, _ := a.Authorize(ctx, call("3")); d.Reason != ReasonCallsPerMinute {
		t.Fatalf("4th within a minute: %+v", d)
	}
	clk.Add(30 * time.Second) // the first start is now a minute old
	if d, _ := a.Authorize(ctx, call("4")); !d.Allowed {
		t.Fatalf("after the window slid: %+v", d)
	}
}

func TestSourceErrorAndInvalidCall(t *testing.T) {
	boom := errors.New("db down")
	a, _ := newTest(t, &fakeSources{err: boom})
	d, err := a.Authorize(context.Background(), call("1"))
	if !errors.Is(err, boom) || d.Allowed || d.Reason != ReasonError {
		t.Fatalf("got %+v, %v", d, err)
	}
	for _, c := range []Call{{Direction: Outbound, CallID: "x", Destination: "1"}, {TenantID: 1, Direction: Outbound, Destination: "1"},
		{TenantID: 1, CallID: "x", Direction: "sideways"}, {TenantID: 1, CallID: "x", Direction: Outbound}} {
		if _, err := a.Authorize(context.Background(), c); !errors.Is(err, ErrInvalidCall) {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

func TestNoPlanPolicy(t *testing.T) {
	f := &fakeSources{}
	a := New(f, f, nil, nil, nil, Config{})
	if d, err := a.Authorize(context.Background(), call("1")); err != nil || !d.Allowed || d.MaxSeconds != 4*3600 {
		t.Fatalf("default: %+v %v", d, err)
	}
	a = New(f, f, nil, nil, nil, Config{RequirePlan: true})
	if d, _ := a.Authorize(context.Background(), call("1")); d.Reason != ReasonNoPlan {
		t.Fatalf("RequirePlan: %+v", d)
	}
}

// 100 parallel calls from one prepaid account with random hang-ups:
// what the live calls hold plus what they spent never exceeds the
// balance.
func TestBalanceNeverOverspent(t *testing.T) {
	f := &fakeSources{prepaid: true, balance: money.MustParse("5.00"), user: Limits{MaxCallSeconds: 20}}
	a, _ := newTest(t, f)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(i)
			d, err := a.Authorize(context.Background(), call(id))
			if err != nil || !d.Allowed {
				return
			}
			a.Release("fs1", id, i%(d.MaxSeconds+1)) //nolint:errcheck
		}()
	}
	wg.Wait()
	a.mu.Lock()
	s := a.scope[scopeKey{1, 0}]
	total := add(s.reserved, s.unbooked(time.Time{}))
	a.mu.Unlock()
	if total > money.MustParse("5.00") || s.live != 0 {
		t.Fatalf("held+spent %s of 5.00, live %d", total, s.live)
	}
}
