package money

// Rounding says which neighbour a result between two nano-units (or two
// multiples of a step) becomes. Each caller picks the rule its trade
// expects; the rating engine charges calls with Ceil (see package rating).
type Rounding uint8

const (
	// Ceil rounds toward +∞: a charge is never less than its exact price.
	Ceil Rounding = iota
	// Floor rounds toward −∞: what a balance allows is never more than
	// it holds.
	Floor
	// HalfUp rounds to the nearest, halves away from zero (the rule of
	// most VAT laws and of invoices written by hand).
	HalfUp
	// HalfEven rounds to the nearest, halves to the even neighbour
	// (banker's rounding: no drift over many roundings).
	HalfEven
)

// String names the rule as configuration spells it.
func (r Rounding) String() string {
	switch r {
	case Ceil:
		return "ceil"
	case Floor:
		return "floor"
	case HalfUp:
		return "half_up"
	case HalfEven:
		return "half_even"
	}
	return "unknown"
}

// roundsAway reports whether a magnitude q with a non-zero remainder rem
// of divisor d moves one away from zero under r; neg is the result's sign.
func roundsAway(r Rounding, neg bool, rem, d, q uint64) bool {
	switch r {
	case Ceil:
		return !neg
	case Floor:
		return neg
	case HalfUp:
		return rem >= d-rem
	case HalfEven:
		if rem == d-rem {
			return q%2 == 1
		}
		return rem > d-rem
	}
	return false
}
