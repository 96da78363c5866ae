package rating

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Plan is a tariff plan as it is stored and edited: its rates in deck
// order and the settings that apply to all of them.
type Plan struct {
	Name string
	// Currency is the currency of every price in the plan.
	Currency money.Currency
	// TimeZone is the IANA zone (America/New_York) in which Days and
	// time windows are read; empty means UTC.
	TimeZone string
	// ChargeStep is the granularity of a call's charge: each charge is
	// rounded up to a multiple of it (0.0001 for hundredths of a cent).
	// Zero keeps the nano-unit precision of money.Amount.
	ChargeStep money.Amount
	Rates      []Rate
}

// Tariff is a compiled Plan: immutable, safe for concurrent use by any
// number of goroutines, with a lookup that walks a digit trie once per
// destination whatever the number of prefixes.
type Tariff struct {
	name     string
	currency money.Currency
	loc      *time.Location
	step     money.Amount
	nodes    []node
	rates    []compiledRate // grouped by prefix, each group in precedence order
}

// node is one digit of the trie: its children by digit (0 = none, as the
// root is never a child) and the range of rates whose prefix ends here.
type node struct {
	child  [10]int32
	lo, hi int32
}

// compiledRate is a Rate with its effective bounds as Unix nanoseconds,
// so that the lookup compares integers.
type compiledRate struct {
	Rate
	from, to int64
}

// maxDigits bounds prefixes and destinations: E.164 numbers have at most
// 15 digits, and a switch's dialled string with a tech prefix a few more.
const maxDigits = 32

// Unlimited is what MaxDuration returns when the money allows any
// duration (a free destination): the largest duration a switch's timer
// takes (int32 seconds, 68 years). The caller applies its own maximum
// call duration on top.
const Unlimited = math.MaxInt32

// Compile checks a plan and builds its Tariff. A rate that fails Validate
// is reported with its index in Rates; two rates a lookup could not tell
// apart (same prefix, effective_from, days and window) with ErrDuplicateRate.
func Compile(p Plan) (*Tariff, error) {
	cur, err := money.ParseCurrency(string(p.Currency))
	if err != nil {
		return nil, fmt.Errorf("%w: currency: %w", ErrInvalidPlan, err)
	}
	loc := time.UTC
	if p.TimeZone != "" {
		if loc, err = time.LoadLocation(p.TimeZone); err != nil {
			return nil, fmt.Errorf("%w: time zone %q: %w", ErrInvalidPlan, p.TimeZone, err)
		}
	}
	if p.ChargeStep < 0 {
		return nil, fmt.Errorf("%w: charge step %s is negative", ErrInvalidPlan, p.ChargeStep)
	}
	t := &Tariff{name: p.Name, currency: cur, loc: loc, step: max(p.ChargeStep, 1)}
	order := make([]int32, len(p.Rates))
	for i := range p.Rates {
		if err := p.Rates[i].Validate(); err != nil {
			return nil, fmt.Errorf("rate %d (prefix %q): %w", i+1, p.Rates[i].Prefix, err)
		}
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		return precedence(&p.Rates[a], &p.Rates[b])
	})
	t.rates = make([]compiledRate, len(order))
	t.nodes = make([]node, 1, len(order)+1)
	for i, idx := range order {
		r := &p.Rates[idx]
		t.rates[i] = compiledRate{Rate: *r, from: bound(r.EffectiveFrom, math.MinInt64), to: bound(r.EffectiveTo, math.MaxInt64)}
	}
	seen := map[slot]int32{}
	for lo := 0; lo < len(order); {
		hi := lo + 1
		for hi < len(order) && t.rates[hi].Prefix == t.rates[lo].Prefix {
			hi++
		}
		if hi-lo > 1 {
			clear(seen)
			for i := lo; i < hi; i++ {
				k := slot{t.rates[i].from, t.rates[i].Days, t.rates[i].TimeFrom, t.rates[i].TimeTo}
				if j, dup := seen[k]; dup {
					return nil, fmt.Errorf("%w: rates %d and %d: prefix %q with the same effective_from, days and times",
						ErrDuplicateRate, j+1, order[i]+1, t.rates[i].Prefix)
				}
				seen[k] = order[i]
			}
		}
		n := t.insert(t.rates[lo].Prefix)
		t.nodes[n].lo, t.nodes[n].hi = int32(lo), int32(hi)
		lo = hi
	}
	return t, nil
}

// slot is what tells two rates of one prefix apart for a lookup.
type slot struct {
	effective  int64
	days       Weekdays
	start, end TimeOfDay
}

// precedence orders rates by prefix and then by which of two rates for
// the same prefix, both in force, a lookup takes: the later
// effective_from (a newer deck replaces an older one), then the narrower
// weekly window (a night or weekend variant over the all-day rate), then
// deck order (the stable sort keeps it).
func precedence(a, b *Rate) int {
	if c := cmp.Compare(a.Prefix, b.Prefix); c != 0 {
		return c
	}
	if c := b.EffectiveFrom.Compare(a.EffectiveFrom); c != 0 {
		return c
	}
	return cmp.Compare(a.windowSeconds(), b.windowSeconds())
}

func bound(t time.Time, open int64) int64 {
	if t.IsZero() {
		return open
	}
	return t.UnixNano()
}

func (t *Tariff) insert(prefix string) int32 {
	n := int32(0)
	for i := 0; i < len(prefix); i++ {
		d := prefix[i] - '0'
		c := t.nodes[n].child[d]
		if c == 0 {
			c = int32(len(t.nodes))
			t.nodes = append(t.nodes, node{})
			t.nodes[n].child[d] = c
		}
		n = c
	}
	return n
}

// Name is the plan's name.
func (t *Tariff) Name() string { return t.name }

// Currency is the currency of every amount the tariff charges.
func (t *Tariff) Currency() money.Currency { return t.currency }

// Find returns the rate a call to dest starting at start is priced at:
// the longest prefix of dest that has a rate in force at start (effective
// dates, and days and time window in the plan's zone), and among that
// prefix's rates in force the one precedence puts first. A longer prefix
// whose rates are all out of force (a weekday-only rate at the weekend, a
// rate effective next month) does not hide a shorter one.
//
// The destination is digits with an optional leading '+'.
func (t *Tariff) Find(dest string, start time.Time) (Rate, error) {
	r, err := t.find(dest, start)
	if err != nil {
		return Rate{}, err
	}
	return r.Rate, nil
}

func (t *Tariff) find(dest string, start time.Time) (*compiledRate, error) {
	digits := dest
	if len(digits) > 0 && digits[0] == '+' {
		digits = digits[1:]
	}
	if digits == "" || len(digits) > maxDigits {
		return nil, fmt.Errorf("%w: %q", ErrInvalidDestination, dest)
	}
	var path [maxDigits]int32
	depth := 0
	n := int32(0)
	for i := 0; i < len(digits); i++ {
		c := digits[i] - '0'
		if c > 9 {
			return nil, fmt.Errorf("%w: %q", ErrInvalidDestination, dest)
		}
		if n = t.nodes[n].child[c]; n == 0 {
			for i++; i < len(digits); i++ {
				if c := digits[i] - '0'; c > 9 {
					return nil, fmt.Errorf("%w: %q", ErrInvalidDestination, dest)
				}
			}
			break
		}
		if t.nodes[n].hi > t.nodes[n].lo {
			path[depth] = n
			depth++
		}
	}
	at := start.UnixNano()
	var local clock
	for depth > 0 {
		depth--
		nd := &t.nodes[path[depth]]
		for i := nd.lo; i < nd.hi; i++ {
			r := &t.rates[i]
			if at < r.from || at >= r.to {
				continue
			}
			if r.Days != 0 || !r.allDay() {
				if !local.set {
					local = localClock(start, t.loc)
				}
				if !r.Days.Has(local.day) || !r.inWindow(local.sec) {
					continue
				}
			}
			return r, nil
		}
	}
	return nil, fmt.Errorf("%w: %q at %s", ErrNoRate, dest, start.In(t.loc).Format(time.RFC3339))
}

// clock is a call start in the plan's zone: its weekday and wall-clock
// seconds since midnight, computed only when a candidate rate needs it.
type clock struct {
	set bool
	day time.Weekday
	sec TimeOfDay
}

func localClock(start time.Time, loc *time.Location) clock {
	l := start.In(loc)
	h, m, s := l.Clock()
	return clock{set: true, day: l.Weekday(), sec: TimeOfDay(h*3600 + m*60 + s)}
}
