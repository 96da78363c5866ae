package provisioning

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// TimeRule is one time window of a Condition, written as text so that a
// person reads and writes it as they say it, and a dialect maps its own
// fields onto it:
//
//	mon-fri 08:00-17:30            weekdays and a time of day
//	sat,sun                        whole days
//	22:00-06:00                    overnight, every day
//	2026-12-24..2026-12-26         a date range, inclusive
//	mon-fri 09:00-12:00 2026-07-01..2026-08-31
//
// Tokens are separated by spaces, in any order, each kind at most once;
// a rule needs at least one. Weekdays are mon tue wed thu fri sat sun,
// as a list and/or ranges (a range may wrap: fri-mon). Times are HH:MM
// from 00:00 to 24:00, the end excluded; an end before the start is
// overnight. Each part is checked against the call's local time on its
// own, as Asterisk's GotoIfTime and FreeSWITCH's wday/time-of-day do:
// "mon 22:00-06:00" holds Monday 22:00–24:00 and Monday 00:00–06:00.
type TimeRule struct {
	Weekdays uint8 // bit n is time.Weekday(n) (0 is Sunday); 0: every day
	// From and To are minutes since midnight; both 0: all day.
	From, To int
	// DateFrom and DateTo are YYYYMMDD, inclusive; both 0: every date.
	DateFrom, DateTo int
}

var weekdayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekdayOrder is the order weekdays are written in: Monday first.
var weekdayOrder = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// AllDay reports whether the rule has no time of day.
func (r TimeRule) AllDay() bool { return r.From == 0 && r.To == 0 }

// ParseTimeRule reads a rule written as TimeRule documents.
func ParseTimeRule(s string) (TimeRule, error) {
	var r TimeRule
	var seenDays, seenTime, seenDates bool
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return r, fmt.Errorf("empty time rule: give weekdays, a time of day and/or dates")
	}
	if len(fields) > 3 {
		return r, fmt.Errorf("%q: at most one weekday list, one time of day and one date range", s)
	}
	for _, f := range fields {
		var err error
		switch {
		case strings.Contains(f, ":"):
			if seenTime {
				return r, fmt.Errorf("%q: two times of day", s)
			}
			seenTime = true
			r.From, r.To, err = parseTimeRange(f)
		case f[0] >= '0' && f[0] <= '9':
			if seenDates {
				return r, fmt.Errorf("%q: two date ranges", s)
			}
			seenDates = true
			r.DateFrom, r.DateTo, err = parseDateRange(f)
		default:
			if seenDays {
				return r, fmt.Errorf("%q: two weekday lists", s)
			}
			seenDays = true
			r.Weekdays, err = parseWeekdays(f)
		}
		if err != nil {
			return TimeRule{}, err
		}
	}
	return r, nil
}

func parseWeekdays(s string) (uint8, error) {
	var mask uint8
	for _, part := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(part, "-")
		a, ok := weekdayIndex(from)
		if !ok {
			return 0, fmt.Errorf("%q: %q is not a weekday (mon tue wed thu fri sat sun)", s, from)
		}
		b := a
		if isRange {
			if b, ok = weekdayIndex(to); !ok {
				return 0, fmt.Errorf("%q: %q is not a weekday (mon tue wed thu fri sat sun)", s, to)
			}
		}
		for d := a; ; d = (d + 1) % 7 {
			mask |= 1 << d
			if d == b {
				break
			}
		}
	}
	return mask, nil
}

func weekdayIndex(s string) (int, bool) {
	for i, n := range weekdayNames {
		if s == n {
			return i, true
		}
	}
	return 0, false
}

func parseTimeRange(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%q: a time of day is HH:MM-HH:MM", s)
	}
	if from, err = parseClock(a); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	if to, err = parseClock(b); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	switch {
	case from == to:
		return 0, 0, fmt.Errorf("%q: the start and the end are the same time (leave the time out for all day)", s)
	case from == 1440:
		return 0, 0, fmt.Errorf("%q: a time of day cannot start at 24:00", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[3] == '+' || s[0] == '-' || s[3] == '-' || h > 24 || m > 59 || h == 24 && m != 0 {
		return 0, fmt.Errorf("%q is not a time of day from 00:00 to 24:00", s)
	}
	return h*60 + m, nil
}

func parseDateRange(s string) (from, to int, err error) {
	a, b, isRange := strings.Cut(s, "..")
	if from, err = parseDate(a); err != nil {
		return 0, 0, fmt.Errorf("%q: %w", s, err)
	}
	to = from
	if isRange {
		if to, err = parseDate(b); err != nil {
			return 0, 0, fmt.Errorf("%q: %w", s, err)
		}
	}
	if to < from {
		return 0, 0, fmt.Errorf("%q: the range ends before it starts", s)
	}
	return from, to, nil
}

func parseDate(s string) (int, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil || t.Year() < 2000 || t.Year() > 2199 {
		return 0, fmt.Errorf("%q is not a date YYYY-MM-DD (years 2000 to 2199)", s)
	}
	return t.Year()*10000 + int(t.Month())*100 + t.Day(), nil
}

// String writes the rule in its canonical form: weekdays (Monday first,
// runs of three or more as ranges), time of day, dates.
func (r TimeRule) String() string {
	var parts []string
	if r.Weekdays != 0 {
		parts = append(parts, formatWeekdays(r.Weekdays))
	}
	if !r.AllDay() {
		parts = append(parts, formatClock(r.From)+"-"+formatClock(r.To))
	}
	if r.DateFrom != 0 {
		d := formatDate(r.DateFrom)
		if r.DateTo != r.DateFrom {
			d += ".." + formatDate(r.DateTo)
		}
		parts = append(parts, d)
	}
	return strings.Join(parts, " ")
}

func formatWeekdays(mask uint8) string {
	var out []string
	for i := 0; i < 7; {
		if mask&(1<<weekdayOrder[i]) == 0 {
			i++
			continue
		}
		j := i
		for j+1 < 7 && mask&(1<<weekdayOrder[j+1]) != 0 {
			j++
		}
		switch j - i {
		case 0:
			out = append(out, weekdayNames[weekdayOrder[i]])
		case 1:
			out = append(out, weekdayNames[weekdayOrder[i]], weekdayNames[weekdayOrder[j]])
		default:
			out = append(out, weekdayNames[weekdayOrder[i]]+"-"+weekdayNames[weekdayOrder[j]])
		}
		i = j + 1
	}
	return strings.Join(out, ",")
}

func formatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

func formatDate(d int) string { return fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100) }

// Matches reports whether the local time t (already in the condition's
// time zone) falls in the rule.
func (r TimeRule) Matches(t time.Time) bool {
	if r.Weekdays != 0 && r.Weekdays&(1<<t.Weekday()) == 0 {
		return false
	}
	if !r.AllDay() {
		m := t.Hour()*60 + t.Minute()
		if r.From < r.To && (m < r.From || m >= r.To) || r.From > r.To && m < r.From && m >= r.To {
			return false
		}
	}
	if r.DateFrom != 0 {
		d := t.Year()*10000 + int(t.Month())*100 + t.Day()
		if d < r.DateFrom || d > r.DateTo {
			return false
		}
	}
	return true
}
