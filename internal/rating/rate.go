package rating

import (
	"fmt"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Rate is one line of a tariff: the price of calls to the destinations
// starting with Prefix, in force from EffectiveFrom until EffectiveTo and,
// when Days or a time window is set, only at those local times.
type Rate struct {
	// Prefix is the dialled-digit prefix the rate applies to ("4915"); the
	// longest prefix with a rate in force wins.
	Prefix string
	// Destination names the prefix on a call record ("Germany Mobile
	// Vodafone"); Group gathers destinations on an invoice line ("Germany
	// Mobile"). Both are free text.
	Destination string
	Group       string

	// PricePerMinute is charged per minute of billed time, pro rata per
	// second; ConnectFee once per answered call.
	PricePerMinute money.Amount
	ConnectFee     money.Amount

	// FirstIncrement is the first slice of billed time and NextIncrement
	// every slice after it, in seconds: 60/60 bills whole minutes, 30/6
	// half a minute then 6-second steps, 1/1 per second.
	FirstIncrement int
	NextIncrement  int
	// MinimumSeconds is the least billed time of a call that is billed at
	// all (not covered by FreeSeconds).
	MinimumSeconds int
	// FreeSeconds are the first seconds of each call, not billed (the
	// connection fee still is).
	FreeSeconds int

	// Days restricts the rate to these weekdays of the call's local start
	// date; zero means every day.
	Days Weekdays
	// TimeFrom and TimeTo restrict the rate to local start times in
	// [TimeFrom, TimeTo); a window with TimeFrom after TimeTo runs over
	// midnight (22:00–06:00). Both zero means all day.
	TimeFrom, TimeTo TimeOfDay

	// EffectiveFrom (inclusive) and EffectiveTo (exclusive) bound the
	// instants of call start the rate is in force; zero means unbounded.
	EffectiveFrom, EffectiveTo time.Time
}

// Limits on a rate's seconds: a slice of billed time, a minimum or a free
// allowance longer than a day is a typing error, not a tariff.
const maxRateSeconds = 86400

// Validate reports the first field of r that no tariff can mean, as an
// ErrInvalidRate naming it. Compile and the deck reader both call it, so a
// bad row is refused with its line and a bad API value with its field.
func (r *Rate) Validate() error {
	if r.Prefix == "" {
		return fieldError("prefix", "is empty")
	}
	for i := 0; i < len(r.Prefix); i++ {
		if c := r.Prefix[i]; c < '0' || c > '9' {
			return fieldError("prefix", fmt.Sprintf("%q is not all digits", r.Prefix))
		}
	}
	if len(r.Prefix) > maxDigits {
		return fieldError("prefix", fmt.Sprintf("is longer than %d digits", maxDigits))
	}
	if r.PricePerMinute < 0 {
		return fieldError("price_per_minute", "is negative")
	}
	if r.ConnectFee < 0 {
		return fieldError("connect_fee", "is negative")
	}
	if r.FirstIncrement < 1 || r.FirstIncrement > maxRateSeconds {
		return fieldError("first_increment", fmt.Sprintf("must be 1 to %d seconds", maxRateSeconds))
	}
	if r.NextIncrement < 1 || r.NextIncrement > maxRateSeconds {
		return fieldError("next_increment", fmt.Sprintf("must be 1 to %d seconds", maxRateSeconds))
	}
	if r.MinimumSeconds < 0 || r.MinimumSeconds > maxRateSeconds {
		return fieldError("minimum_seconds", fmt.Sprintf("must be 0 to %d seconds", maxRateSeconds))
	}
	if r.FreeSeconds < 0 || r.FreeSeconds > maxRateSeconds {
		return fieldError("free_seconds", fmt.Sprintf("must be 0 to %d seconds", maxRateSeconds))
	}
	if r.Days&^AllDays != 0 {
		return fieldError("days", "has bits beyond Sunday–Saturday")
	}
	if r.TimeFrom < 0 || r.TimeFrom >= endOfDay {
		return fieldError("time_from", "must be 00:00 to 23:59:59")
	}
	if r.TimeTo < 0 || r.TimeTo > endOfDay {
		return fieldError("time_to", "must be 00:00 to 24:00")
	}
	if r.TimeFrom == r.TimeTo && r.TimeFrom != 0 {
		return fieldError("time_to", "equals time_from (leave both empty for all day)")
	}
	if r.TimeFrom == 0 && r.TimeTo == endOfDay {
		return fieldError("time_to", "00:00–24:00 is all day: leave both empty")
	}
	for _, e := range []struct {
		name string
		t    time.Time
	}{{"effective_from", r.EffectiveFrom}, {"effective_to", r.EffectiveTo}} {
		if !e.t.IsZero() && (e.t.Year() < 1900 || e.t.Year() > 2200) {
			return fieldError(e.name, "must lie between the years 1900 and 2200")
		}
	}
	if !r.EffectiveFrom.IsZero() && !r.EffectiveTo.IsZero() && !r.EffectiveTo.After(r.EffectiveFrom) {
		return fieldError("effective_to", "is not after effective_from")
	}
	return nil
}

// FieldError is an invalid rate field: Field is its name as the deck's
// header and the API spell it, so each caller can name it in its own
// dialect. It matches ErrInvalidRate.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s: %s %s", ErrInvalidRate, e.Field, e.Reason)
}

// Unwrap makes errors.Is(err, ErrInvalidRate) hold.
func (e *FieldError) Unwrap() error { return ErrInvalidRate }

func fieldError(field, reason string) error {
	return &FieldError{Field: field, Reason: reason}
}

// allDay reports whether the rate has no time-of-day window.
func (r *Rate) allDay() bool { return r.TimeFrom == 0 && r.TimeTo == 0 }

// inWindow reports whether a local time of day (seconds since midnight)
// lies in the rate's window.
func (r *Rate) inWindow(sec TimeOfDay) bool {
	switch {
	case r.allDay():
		return true
	case r.TimeFrom < r.TimeTo:
		return sec >= r.TimeFrom && sec < r.TimeTo
	default:
		return sec >= r.TimeFrom || sec < r.TimeTo
	}
}

// windowSeconds is the time per week the rate can apply: the narrower of
// two otherwise equal rates is the more specific one.
func (r *Rate) windowSeconds() int {
	day := int(endOfDay)
	switch {
	case r.allDay():
	case r.TimeFrom < r.TimeTo:
		day = int(r.TimeTo - r.TimeFrom)
	default:
		day = int(endOfDay - r.TimeFrom + r.TimeTo)
	}
	return day * r.Days.count()
}

// Weekdays is a set of days of the week, bit 1<<time.Weekday each.
type Weekdays uint8

// AllDays is every day of the week; a Rate's zero Days means the same.
const AllDays Weekdays = 1<<7 - 1

// Has reports whether d is in the set (the empty set has every day).
func (w Weekdays) Has(d time.Weekday) bool { return w == 0 || w&(1<<d) != 0 }

func (w Weekdays) count() int {
	if w == 0 {
		return 7
	}
	n := 0
	for d := time.Sunday; d <= time.Saturday; d++ {
		if w&(1<<d) != 0 {
			n++
		}
	}
	return n
}

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// mondayFirst is the order days are written in: the working week first.
var mondayFirst = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday,
	time.Friday, time.Saturday, time.Sunday}

// ParseWeekdays reads "mon-fri", "sat,sun", "fri-mon" (a range may wrap
// over the weekend) or "" (every day), case-insensitively.
func ParseWeekdays(s string) (Weekdays, error) {
	var w Weekdays
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, ok := dayNumber(lo)
		if !ok {
			return 0, fmt.Errorf("%w: days: %q is not a day (mon, tue, … sun)", ErrInvalidRate, lo)
		}
		b := a
		if isRange {
			if b, ok = dayNumber(hi); !ok {
				return 0, fmt.Errorf("%w: days: %q is not a day (mon, tue, … sun)", ErrInvalidRate, hi)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			w |= 1 << d
			if d == b {
				break
			}
		}
	}
	if w == AllDays {
		return 0, nil
	}
	return w, nil
}

func dayNumber(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, n := range dayNames {
		if s == n {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// String writes the set as ParseWeekdays reads it, Monday first, runs of
// two or more days as a range (so that a deck cell needs no quotes):
// "mon-fri", "sat-sun", "mon,wed", "" for every day.
func (w Weekdays) String() string {
	if w == 0 || w == AllDays {
		return ""
	}
	var parts []string
	for i := 0; i < 7; {
		if !w.Has(mondayFirst[i]) {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.Has(mondayFirst[j+1]) {
			j++
		}
		switch {
		case j > i:
			parts = append(parts, dayNames[mondayFirst[i]]+"-"+dayNames[mondayFirst[j]])
		default:
			for k := i; k <= j; k++ {
				parts = append(parts, dayNames[mondayFirst[k]])
			}
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// TimeOfDay is a local wall-clock time in seconds since midnight; 24:00
// (86400) ends a window at midnight.
type TimeOfDay int32

const endOfDay TimeOfDay = 86400

// ParseTimeOfDay reads "HH:MM" or "HH:MM:SS", 00:00 to 24:00.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	if (len(s) != 5 && len(s) != 8) || s[2] != ':' || (len(s) == 8 && s[5] != ':') {
		return 0, fmt.Errorf("%w: %q is not HH:MM or HH:MM:SS", ErrInvalidRate, s)
	}
	var v [3]int // hours, minutes, seconds
	for i := 0; i*3 < len(s); i++ {
		a, b := s[i*3], s[i*3+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, fmt.Errorf("%w: %q is not HH:MM or HH:MM:SS", ErrInvalidRate, s)
		}
		v[i] = int(a-'0')*10 + int(b-'0')
	}
	t := TimeOfDay(v[0]*3600 + v[1]*60 + v[2])
	if v[1] > 59 || v[2] > 59 || t > endOfDay {
		return 0, fmt.Errorf("%w: %q is not a time of day", ErrInvalidRate, s)
	}
	return t, nil
}

// String writes "HH:MM", or "HH:MM:SS" when the seconds are not zero.
func (t TimeOfDay) String() string {
	h, m, s := t/3600, t/60%60, t%60
	if s != 0 {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, s)
	}
	return fmt.Sprintf("%02d:%02d", h, m)
}
