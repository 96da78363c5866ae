package dcp

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// Parameter lengths. Where the model has a limit the dialect uses the
// same one, so that an over-long value is refused before any lookup.
const (
	maxPhoneNumber  = 20 // digits of a number the dcp dialect creates
	minPhoneNumber  = 2
	maxCallerNumber = 33 // "+" and 32 digits
	maxTime         = 40
	maxCDRNumber    = 64
)

var digitsRe = regexp.MustCompile(`^[0-9]+$`)

func checkLimit(v string) string {
	n, err := strconv.Atoi(v)
	if !digitsRe.MatchString(v) || err != nil || n < 1 || n > provisioning.MaxLimit {
		return fmt.Sprintf("must be an integer from 1 to %d", provisioning.MaxLimit)
	}
	return ""
}

func checkNewNumber(v string) string {
	if !digitsRe.MatchString(v) || len(v) < minPhoneNumber || len(v) > maxPhoneNumber {
		return fmt.Sprintf("must be %d to %d digits, optionally after a +", minPhoneNumber, maxPhoneNumber)
	}
	return ""
}

// normalizeNumber turns a phone number written in international format
// into the SIP username it names: "+841001" is "841001". A phone number
// of the document is the username phones register with and are dialled
// by, which is digits; the + only marks the international format, and no
// username can start with one (the model requires a letter or digit
// first), so dropping it never makes two numbers one. Anything else is
// left for the check to judge ("+" alone, "+ 84", "++84" stay invalid).
func normalizeNumber(v string) string {
	if len(v) > 1 && v[0] == '+' && v[1] >= '0' && v[1] <= '9' {
		return v[1:]
	}
	return v
}

func checkID(v string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if !digitsRe.MatchString(v) || err != nil || n < 1 {
		return "must be a positive integer"
	}
	return ""
}

func checkTime(v string) string {
	if _, err := parseTime(v); err != nil {
		return "must be an RFC 3339 time, YYYY-MM-DD HH:MM:SS (UTC) or unix seconds"
	}
	return ""
}

// parseTime accepts the three forms legacy CDR clients send.
func parseTime(v string) (time.Time, error) {
	if digitsRe.MatchString(v) {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil || s > 1<<40 {
			return time.Time{}, fmt.Errorf("dcp: unix time %q out of range", v)
		}
		return time.Unix(s, 0).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateTime, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("dcp: time %q: %w", v, err)
	}
	return t, nil
}

// dispositions maps the accepted spellings (case-insensitive; NO_ANSWER
// for callers that cannot send a space) to the model's value.
var dispositions = map[string]cdr.Disposition{
	"ANSWERED":   cdr.Answered,
	"NO ANSWER":  cdr.NoAnswer,
	"NO_ANSWER":  cdr.NoAnswer,
	"NOANSWER":   cdr.NoAnswer,
	"BUSY":       cdr.Busy,
	"FAILED":     cdr.Failed,
	"CONGESTION": cdr.Congestion,
}

func checkDisposition(v string) string {
	if _, ok := dispositions[strings.ToUpper(v)]; !ok {
		return "must be one of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION"
	}
	return ""
}

func checkCursor(v string) string {
	if _, err := api.DecodeCursor(v); err != nil {
		return "is not a cursor this API returned"
	}
	return ""
}

func checkPresenceCursor(v string) string {
	if !presence.ValidCursor(v) {
		return "is not a cursor this API returned"
	}
	return ""
}

func checkCDRCursor(v string) string {
	if _, err := api.DecodeCDRCursor(v); err != nil {
		return "is not a cursor this API returned"
	}
	return ""
}

// limitOf returns the limit parameter, or the default.
func limitOf(p *params) int {
	n, err := strconv.Atoi(p.get("limit"))
	if err != nil || n < 1 {
		return provisioning.DefaultLimit
	}
	return n
}

// pageOf returns the keyset page a list verb asks for (limit and cursor
// are validated already).
func pageOf(p *params) provisioning.Page {
	after, _ := api.DecodeCursor(p.get("cursor"))
	return provisioning.Page{After: after, Limit: limitOf(p)}
}
