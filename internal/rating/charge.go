package rating

import (
	"errors"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Charge is the price of one call and how it was reached, as a priced CDR
// and an invoice line need it.
type Charge struct {
	// Cost is what the call costs, in Currency: the connection fee plus
	// the per-minute price of BilledSeconds, rounded up once to the
	// plan's ChargeStep.
	Cost     money.Amount
	Currency money.Currency
	// Plan is the name of the plan the call was priced with.
	Plan string
	// Rate is the rate the call was priced at (its Prefix, Destination
	// and Group go on the record).
	Rate Rate
	// BilledSeconds is the time charged per minute: the call's seconds
	// less the free seconds, rounded up to whole increments, at least the
	// minimum. Increments counts the increments (the first one included).
	BilledSeconds int
	Increments    int
	// FreeSeconds is how many of the call's seconds were free.
	FreeSeconds int
}

// Rate prices a call to dest that started at start and lasted seconds
// billable (answered) seconds.
//
// The rate in force at the call's start prices the whole call, also when
// the call runs past the end of the rate's time window, past midnight or
// over a daylight-saving change: the price a switch was told before the
// call (MaxDuration) is the price of the call, an invoice shows one rate
// per call, and re-rating gives the same answer from the CDR's start
// alone. (CGRateS instead splits a call into timespans at each rate
// boundary.) seconds are real elapsed seconds: a call over a DST change is
// billed for the time it lasted, not the wall-clock difference.
//
// A call of zero seconds costs nothing (no connection fee either) but
// still needs a rate: ErrNoRate means the call was not allowed.
func (t *Tariff) Rate(dest string, start time.Time, seconds int) (Charge, error) {
	if seconds < 0 || seconds > Unlimited {
		return Charge{}, fmt.Errorf("%w: %d seconds", ErrInvalidDuration, seconds)
	}
	r, err := t.find(dest, start)
	if err != nil {
		return Charge{}, err
	}
	c := Charge{Currency: t.currency, Plan: t.name, Rate: r.Rate}
	if seconds == 0 {
		return c, nil
	}
	c.FreeSeconds = min(seconds, r.FreeSeconds)
	c.BilledSeconds, c.Increments = billed(&r.Rate, seconds-c.FreeSeconds)
	c.Cost, err = t.cost(&r.Rate, c.BilledSeconds)
	if err != nil {
		return Charge{}, fmt.Errorf("rating: %q for %d s: %w", dest, seconds, err)
	}
	return c, nil
}

// billed returns the billed seconds and increments for x seconds past the
// free ones: whole increments (the first, then the next ones), and at
// least the minimum when anything is billed. Both steps only ever round
// up, so the cost never falls as a call gets longer.
func billed(r *Rate, x int) (secs, increments int) {
	if x <= 0 {
		return 0, 0
	}
	secs, increments = r.FirstIncrement, 1
	if x > r.FirstIncrement {
		n := (x - r.FirstIncrement + r.NextIncrement - 1) / r.NextIncrement
		secs += n * r.NextIncrement
		increments += n
	}
	return max(secs, r.MinimumSeconds), increments
}

// cost is the connection fee plus the per-minute price of billed seconds,
// rounded up (money.Ceil) to the plan's step. The exact amount is rounded
// once: the per-second product is rounded up to a nano-unit first, and
// since every step is a whole number of nano-units, rounding that up again
// to the step gives what rounding the exact value would. Rounding up
// (rather than to nearest, or per increment) means a call is never
// charged less than its exact price and the error is at most one step per
// call, never accumulated per increment. Its minimum time works as MOR's:
// a billed call is billed at least that long.
func (t *Tariff) cost(r *Rate, billedSecs int) (money.Amount, error) {
	if billedSecs == 0 {
		return r.ConnectFee.RoundTo(t.step, money.Ceil)
	}
	p, err := r.PricePerMinute.MulDiv(int64(billedSecs), 60, money.Ceil)
	if err != nil {
		return 0, err
	}
	if p, err = p.Add(r.ConnectFee); err != nil {
		return 0, err
	}
	return p.RoundTo(t.step, money.Ceil)
}

// MaxDuration returns the longest call to dest starting at start that
// available money pays for, in seconds, with the rate it would be priced
// at: what a switch sets as the call's limit before connecting it. It is
// exact against Rate: Rate(seconds) costs at most available and
// Rate(seconds+1) costs more (one more increment), except that Unlimited
// is returned for a rate without a per-minute price.
//
// The connection fee is paid first; the free seconds come with it, so a
// balance covering only the fee allows the free seconds.
// ErrInsufficientFunds means not even that (or, without free seconds,
// not the first increment or the minimum).
func (t *Tariff) MaxDuration(dest string, start time.Time, available money.Amount) (int, Rate, error) {
	r, err := t.find(dest, start)
	if err != nil {
		return 0, Rate{}, err
	}
	s, err := t.maxSeconds(&r.Rate, available)
	if err != nil {
		return 0, r.Rate, fmt.Errorf("%q with %s %s: %w", dest, available, t.currency, err)
	}
	return s, r.Rate, nil
}

// maxSeconds solves cost(billed(x)) ≤ m for the largest x. A charge is
// rounded up to the step, so it is at most m exactly when the unrounded
// amount is at most m rounded down to the step (call it M'); then the
// per-minute part may be M = M' − fee, billed seconds at most
// b = ⌊M·60/price⌋, and x the last increment boundary not past b.
func (t *Tariff) maxSeconds(r *Rate, available money.Amount) (int, error) {
	floor, err := available.RoundTo(t.step, money.Floor)
	if err != nil {
		return 0, err
	}
	m, err := floor.Sub(r.ConnectFee)
	if err != nil || m < 0 {
		return 0, ErrInsufficientFunds
	}
	if r.PricePerMinute == 0 {
		return Unlimited, nil
	}
	b, err := m.MulDiv(60, int64(r.PricePerMinute), money.Floor)
	if errors.Is(err, money.ErrOverflow) || b > Unlimited {
		return Unlimited, nil
	}
	if err != nil {
		return 0, err
	}
	bmax := int(b)
	if bmax < max(r.MinimumSeconds, r.FirstIncrement) {
		if r.FreeSeconds > 0 {
			return r.FreeSeconds, nil
		}
		return 0, ErrInsufficientFunds
	}
	x := r.FirstIncrement + (bmax-r.FirstIncrement)/r.NextIncrement*r.NextIncrement
	return min(r.FreeSeconds+x, Unlimited), nil
}
