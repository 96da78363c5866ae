package provisioning

import (
	"testing"
	"time"
)

func TestParseTimeRule(t *testing.T) {
	cases := []struct {
		in, canonical string
		err           bool
	}{
		{in: "mon-fri 08:00-17:30", canonical: "mon-fri 08:00-17:30"},
		{in: "08:00-17:30 mon-fri", canonical: "mon-fri 08:00-17:30"},
		{in: "sat,sun", canonical: "sat,sun"},
		{in: "sun,sat", canonical: "sat,sun"},
		{in: "fri-mon", canonical: "mon,fri-sun"},
		{in: "mon,tue,wed", canonical: "mon-wed"},
		{in: "mon-sun", canonical: "mon-sun"},
		{in: "22:00-06:00", canonical: "22:00-06:00"},
		{in: "00:00-24:00", canonical: "00:00-24:00"},
		{in: "2026-12-24", canonical: "2026-12-24"},
		{in: "2026-12-24..2026-12-26", canonical: "2026-12-24..2026-12-26"},
		{in: "  mon-fri   09:00-12:00 2026-07-01..2026-08-31 ", canonical: "mon-fri 09:00-12:00 2026-07-01..2026-08-31"},
		{in: "", err: true},
		{in: "monday", err: true},
		{in: "mon-funday", err: true},
		{in: "8:00-17:00", err: true},
		{in: "08:00-08:00", err: true},
		{in: "24:00-06:00", err: true},
		{in: "08:00-24:01", err: true},
		{in: "08:60-09:00", err: true},
		{in: "+8:00-09:00", err: true},
		{in: "08:00", err: true},
		{in: "mon tue", err: true},
		{in: "08:00-09:00 10:00-11:00", err: true},
		{in: "2026-02-30", err: true},
		{in: "2026-12-26..2026-12-24", err: true},
		{in: "1999-01-01", err: true},
		{in: "mon 08:00-09:00 2026-01-01 extra", err: true},
	}
	for _, tc := range cases {
		r, err := ParseTimeRule(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseTimeRule(%q) = %v, want an error", tc.in, r)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTimeRule(%q): %v", tc.in, err)
			continue
		}
		if got := r.String(); got != tc.canonical {
			t.Errorf("ParseTimeRule(%q).String() = %q, want %q", tc.in, got, tc.canonical)
		}
	}
}

func TestTimeRuleMatches(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 2026-12-07 is a Monday.
	cases := []struct {
		rule, at string
		want     bool
	}{
		{"mon-fri 08:00-17:30", "2026-12-07 08:00", true},
		{"mon-fri 08:00-17:30", "2026-12-07 07:59", false},
		{"mon-fri 08:00-17:30", "2026-12-07 17:29", true},
		{"mon-fri 08:00-17:30", "2026-12-07 17:30", false}, // the end is excluded
		{"mon-fri 08:00-17:30", "2026-12-06 12:00", false}, // Sunday
		{"sat,sun", "2026-12-06 12:00", true},
		{"fri-mon", "2026-12-07 12:00", true},
		{"fri-mon", "2026-12-08 12:00", false},
		{"22:00-06:00", "2026-12-07 23:59", true},
		{"22:00-06:00", "2026-12-07 00:00", true},
		{"22:00-06:00", "2026-12-07 05:59", true},
		{"22:00-06:00", "2026-12-07 06:00", false},
		{"22:00-06:00", "2026-12-07 21:59", false},
		{"mon 22:00-06:00", "2026-12-08 01:00", false}, // Tuesday morning: each part on its own
		{"00:00-24:00", "2026-12-07 23:59", true},
		{"2026-12-24..2026-12-26", "2026-12-24 00:00", true},
		{"2026-12-24..2026-12-26", "2026-12-26 23:59", true},
		{"2026-12-24..2026-12-26", "2026-12-27 00:00", false},
		{"2026-12-24..2026-12-26", "2027-12-25 12:00", false},
		{"mon-fri 09:00-12:00 2026-12-01..2026-12-31", "2026-12-07 10:00", true},
		{"mon-fri 09:00-12:00 2026-12-01..2026-12-31", "2027-01-04 10:00", false},
	}
	for _, tc := range cases {
		r, err := ParseTimeRule(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Matches(at(tc.at)); got != tc.want {
			t.Errorf("%q at %s = %v, want %v", tc.rule, tc.at, got, tc.want)
		}
	}
}

// TestConditionHoldsAcrossDST: a condition's time of day is local time in
// its zone, on both sides of a daylight-saving change.
func TestConditionHoldsAcrossDST(t *testing.T) {
	c := &Condition{Name: "office", TimeZone: "America/Montreal", Times: []string{"mon-fri 09:00-17:00"},
		Match: Destination{Kind: DestBusy}, Miss: Destination{Kind: DestHangup}}
	if err := c.validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		utc  string
		want bool
	}{
		{"2026-03-06T13:59:00Z", false}, // Friday 08:59 EST (UTC-5)
		{"2026-03-06T14:00:00Z", true},  // 09:00 EST
		{"2026-03-09T13:00:00Z", true},  // Monday 09:00 EDT (UTC-4), after the change on the 8th
		{"2026-03-09T12:59:00Z", false}, // 08:59 EDT
		{"2026-03-09T21:00:00Z", false}, // 17:00 EDT
	}
	for _, tc := range cases {
		at, _ := time.Parse(time.RFC3339, tc.utc)
		if got := c.Holds(at, "5145550100"); got != tc.want {
			t.Errorf("Holds(%s) = %v, want %v", tc.utc, got, tc.want)
		}
	}
}

func TestConditionCallerIDAndManual(t *testing.T) {
	base := Condition{Name: "vip", CallerIDs: []string{"5146349955", "+1514*"},
		Match: Destination{Kind: DestBusy}, Miss: Destination{Kind: DestHangup}}
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		manual ConditionManual
		caller string
		want   bool
	}{
		{ManualAuto, "5146349955", true},
		{ManualAuto, "+15145550100", true},
		{ManualAuto, "+15145", true},
		{ManualAuto, "5145550100", false},
		{ManualAuto, "", false},
		{ManualMatch, "5145550100", true},
		{ManualMiss, "5146349955", false},
	}
	for _, tc := range cases {
		c := base
		c.Manual = tc.manual
		if err := c.validate(); err != nil {
			t.Fatal(err)
		}
		if got := c.Holds(now, tc.caller); got != tc.want {
			t.Errorf("manual %s, caller %q: Holds = %v, want %v", tc.manual, tc.caller, got, tc.want)
		}
	}
	night := Condition{Name: "night switch", Match: Destination{Kind: DestBusy}, Miss: Destination{Kind: DestHangup}}
	if err := night.validate(); err != nil {
		t.Fatal(err)
	}
	if night.Holds(now, "1") {
		t.Error("a condition without rules holds only when forced")
	}
}

// FuzzParseTimeRule: whatever parses writes back to a form that parses to
// the same rule, and matching never panics.
func FuzzParseTimeRule(f *testing.F) {
	for _, s := range []string{"mon-fri 08:00-17:30", "sat,sun", "22:00-06:00", "2026-12-24..2026-12-26", "fri-mon 00:00-24:00 2026-01-01", "mon,,tue", "-", "..", "99:99-00:00"} {
		f.Add(s)
	}
	at := time.Date(2026, 12, 7, 12, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseTimeRule(s)
		if err != nil {
			return
		}
		back, err := ParseTimeRule(r.String())
		if err != nil {
			t.Fatalf("%q parsed as %+v, whose text %q does not parse: %v", s, r, r.String(), err)
		}
		if back != r {
			t.Fatalf("%q: %+v → %q → %+v", s, r, r.String(), back)
		}
		_ = r.Matches(at)
	})
}
