// Package cdrtest holds what the tests and benchmarks of the CDR packages
// share: a realistic record to write in bulk, and a fake tariff source.
package cdrtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// Leg is a realistic leg numbered i, in domain, ending at end: every text
// field set and a raw payload of the size mod_json_cdr sends after
// trimming. Distinct i give distinct keys.
func Leg(i int, domain string, end time.Time) cdr.Record {
	answer := end.Add(-40 * time.Second)
	return cdr.Record{
		Switch: "pbx1", CallID: fmt.Sprintf("%08d-4c1e-4b7a-9a0e-5f1d2c3b4a59", i), LinkedID: fmt.Sprintf("%08d", i),
		Direction: cdr.DirectionOutbound, Domain: domain, Account: fmt.Sprintf("u%d", i%50),
		Gateway: "carrier-a", CallerNumber: "+33123456789", CallerName: "Alice",
		Dialed: "0049301234567", Destination: "+49301234567",
		Start: end.Add(-time.Minute), Answer: &answer, End: end,
		Duration: 60, Billsec: 40, Disposition: cdr.Answered, Cause: 16, CauseText: "NORMAL_CLEARING",
		SIPStatus: 200, Codec: "PCMA", UserAgent: "Yealink SIP-T54W",
		Raw: []byte(`{"variables":{"uuid":"` + fmt.Sprint(i) + `","sip_hangup_disposition":"send_bye","billsec":"40","read_codec":"PCMA","sip_user_agent":"Yealink SIP-T54W"}}`),
	}
}

// Call is Leg as the originating leg of its call (LinkedID = CallID, the
// leg a call is counted and priced on), owned by tenant: an answered
// outbound call of 40 s to 0049301234567.
func Call(i int, domain string, end time.Time, tenant int64) cdr.Record {
	r := Leg(i, domain, end)
	r.LinkedID, r.TenantID = r.CallID, &tenant
	return r
}

// GatewayLeg is Leg owned by tenant: the leg to the gateway carrier-a of
// a call it did not start (its LinkedID is not its CallID), the one a
// supplier plan prices, on its Dialed 0049301234567 for 40 s.
func GatewayLeg(i int, domain string, end time.Time, tenant int64) cdr.Record {
	r := Leg(i, domain, end)
	r.TenantID = &tenant
	return r
}

// Minimal is the smallest valid leg: a key, a domain, an answered minute
// ending at end.
func Minimal(sw, callID, domain string, end time.Time) cdr.Record {
	return cdr.Record{
		Switch: sw, CallID: callID, Domain: domain,
		Start: end.Add(-time.Minute), End: end,
		Direction: cdr.DirectionInternal, Disposition: cdr.Answered,
	}
}

// Tariffs is a fake cdr.Tariffs and cdr.SupplierTariffs built on
// internal/rating: plans per tenant, per DID and per gateway (supplier
// plans), set by the test, and an error every lookup returns while Err is
// set. Safe for concurrent use.
type Tariffs struct {
	mu       sync.Mutex
	tenants  map[int64]*rating.Tariff
	dids     map[string]didPlan
	gateways map[string]*rating.Tariff
	err      error
	lookups  int
}

type didPlan struct {
	tariff *rating.Tariff
	tenant int64
}

var (
	_ cdr.Tariffs         = (*Tariffs)(nil)
	_ cdr.SupplierTariffs = (*Tariffs)(nil)
)

// NewTariffs returns a fake without plans.
func NewTariffs() *Tariffs {
	return &Tariffs{tenants: map[int64]*rating.Tariff{}, dids: map[string]didPlan{}, gateways: map[string]*rating.Tariff{}}
}

// SetGateway gives the gateway named name the supplier plan t (nil:
// none).
func (f *Tariffs) SetGateway(name string, t *rating.Tariff) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gateways[name] = t
}

// SetTenant gives tenant the plan t (nil: none).
func (f *Tariffs) SetTenant(tenant int64, t *rating.Tariff) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[tenant] = t
}

// SetDID gives the DID number, owned by tenant, the plan t.
func (f *Tariffs) SetDID(number string, tenant int64, t *rating.Tariff) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dids[number] = didPlan{t, tenant}
}

// Fail makes every lookup return err (nil: answer again).
func (f *Tariffs) Fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// Lookups is how many lookups were made.
func (f *Tariffs) Lookups() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookups
}

// TenantTariff implements cdr.Tariffs: no plan is an error wrapping
// cdr.ErrNoTariff, as a store's not-found would be.
func (f *Tariffs) TenantTariff(_ context.Context, tenant int64) (*rating.Tariff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return nil, f.err
	}
	if t := f.tenants[tenant]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("tenant %d: %w", tenant, cdr.ErrNoTariff)
}

// DIDTariff implements cdr.Tariffs: no plan is a nil tariff.
func (f *Tariffs) DIDTariff(_ context.Context, number string) (*rating.Tariff, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return nil, 0, f.err
	}
	d := f.dids[number]
	return d.tariff, d.tenant, nil
}

// GatewayTariff implements cdr.SupplierTariffs: no plan is a nil
// tariff.
func (f *Tariffs) GatewayTariff(_ context.Context, gateway string) (*rating.Tariff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookups++
	if f.err != nil {
		return nil, f.err
	}
	return f.gateways[gateway], nil
}

// Tariff compiles a plan named name in currency with rates given as
// "prefix=price_per_minute" (per-second billing, no fee), or panics.
func Tariff(name, currency string, rates ...string) *rating.Tariff {
	p := rating.Plan{Name: name, Currency: money.Currency(currency)}
	for _, r := range rates {
		prefix, price, _ := strings.Cut(r, "=")
		p.Rates = append(p.Rates, rating.Rate{Prefix: prefix, Destination: "Dest " + prefix, Group: "Group " + prefix[:1],
			PricePerMinute: money.MustParse(price), FirstIncrement: 1, NextIncrement: 1})
	}
	t, err := rating.Compile(p)
	if err != nil {
		panic(err)
	}
	return t
}

// BigTariff compiles a plan of n distinct prefixes of 3 to 9 digits (a
// wholesale deck's shape), 30/6 increments, in EUR, one of them "0049"
// so that Leg's dialled number (0049…) finds a rate.
func BigTariff(n int) *rating.Tariff {
	rng := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	rates := make([]rating.Rate, 0, n)
	for len(rates) < n {
		p := strconv.Itoa(1 + rng.IntN(999))
		for len(p) < 2+rng.IntN(8) {
			p += strconv.Itoa(rng.IntN(10))
		}
		if len(rates) == 0 {
			// Not lengthened like the others: 0049 itself must match
			// (a longer 00493… left Leg's number without a rate, and
			// the benchmarks timed no_rate lookups, not prices).
			p = "0049"
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		rates = append(rates, rating.Rate{Prefix: p, Destination: "Destination " + p, Group: "Group " + p[:1],
			PricePerMinute: money.Amount(1 + rng.Int64N(500_000_000)), FirstIncrement: 30, NextIncrement: 6})
	}
	t, err := rating.Compile(rating.Plan{Name: "wholesale", Currency: "EUR", TimeZone: "Europe/Berlin", ChargeStep: money.MustParse("0.0001"), Rates: rates})
	if err != nil {
		panic(err)
	}
	return t
}
