package cdr

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// ErrInvalidRecord is returned (wrapped, naming the record and the field)
// by Validate, and by a store's Insert and InsertNew when a record cannot
// be stored. A batch holding one is refused whole, before anything is
// written, so a pipeline can tell a poison record (set it aside) from a
// database failure (retry or spool).
var ErrInvalidRecord = errors.New("cdr: invalid record")

// ErrRefused is wrapped by a store's errors when the database refused a
// batch for what it contains (a constraint, a value out of range, a row
// too large) rather than failing to take it. The pipeline isolates the
// refused record as a dead letter instead of retrying it forever; every
// other error is taken for an outage and retried. The store decides,
// since only it knows its database's error codes.
var ErrRefused = errors.New("cdr: the store refused the data")

// Limits Validate enforces on the dedup key. They bound the key's index
// entries; real identifiers are far shorter (an Asterisk uniqueid is about
// 20 bytes, a FreeSWITCH uuid 36).
const (
	MaxSwitchLen = 64
	MaxCallIDLen = 128
)

// The end times Validate accepts: an end time picks the day partition a
// leg goes to on PostgreSQL and must be a day both engines can name and
// store (years 1970 to 9999, UTC).
var (
	minEnd = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEnd = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// EndInRange reports whether t is an end time Validate accepts (years
// 1970 to 9999, UTC); stores bound their partition requests by it.
func EndInRange(t time.Time) bool { return !t.Before(minEnd) && t.Before(maxEnd) }

// Validate reports whether r can be stored, as an error wrapping
// ErrInvalidRecord that names the offending field. The pipeline calls it
// before queueing a record so that a poison record goes to the dead
// letters at once instead of failing a whole batch later; Insert and
// InsertNew check again.
//
// It requires the dedup key (Switch up to MaxSwitchLen bytes, CallID up to
// MaxCallIDLen), an End between 1970 and 9999, Start (when set) not after
// End, Duration and Billsec not negative with Billsec <= Duration, one of
// the five dispositions, integers that fit the int32 columns, a TenantID,
// when set, above 0, and Raw, when set, valid JSON.
func (r *Record) Validate() error {
	bad := func(field, format string, a ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidRecord, field, fmt.Sprintf(format, a...))
	}
	switch {
	case r.Switch == "":
		return bad("switch", "empty")
	case len(r.Switch) > MaxSwitchLen:
		return bad("switch", "%d bytes, more than %d", len(r.Switch), MaxSwitchLen)
	case r.CallID == "":
		return bad("call_id", "empty")
	case len(r.CallID) > MaxCallIDLen:
		return bad("call_id", "%d bytes, more than %d", len(r.CallID), MaxCallIDLen)
	case r.End.IsZero():
		return bad("end", "not set")
	case !EndInRange(r.End):
		return bad("end", "%s is outside 1970-9999", r.End.UTC().Format(time.RFC3339))
	case !r.Start.IsZero() && r.Start.After(r.End):
		return bad("start", "%s is after end %s", r.Start.UTC().Format(time.RFC3339Nano), r.End.UTC().Format(time.RFC3339Nano))
	}
	for _, v := range [...]struct {
		name string
		n    int
	}{{"duration", r.Duration}, {"billsec", r.Billsec}, {"cause", r.Cause}, {"sip_status", r.SIPStatus}} {
		if v.n < math.MinInt32 || v.n > math.MaxInt32 {
			return bad(v.name, "%d out of range", v.n)
		}
	}
	switch {
	case r.Duration < 0:
		return bad("duration", "%d is negative", r.Duration)
	case r.Billsec < 0:
		return bad("billsec", "%d is negative", r.Billsec)
	case r.Billsec > r.Duration:
		return bad("billsec", "%d exceeds duration %d", r.Billsec, r.Duration)
	}
	switch r.Disposition {
	case Answered, NoAnswer, Busy, Failed, Congestion:
	case "":
		return bad("disposition", "empty")
	default:
		return bad("disposition", "%.32q is not one of ANSWERED, NO ANSWER, BUSY, FAILED, CONGESTION", string(r.Disposition))
	}
	if r.TenantID != nil && *r.TenantID <= 0 {
		return bad("tenant_id", "%d is not a tenant id", *r.TenantID)
	}
	if len(r.Raw) > 0 && !json.Valid(r.Raw) {
		return bad("raw", "not valid JSON")
	}
	if err := r.validatePrice(bad); err != nil {
		return err
	}
	return r.validateSupplierPrice(bad)
}

// validatePrice checks the price fields: a cost other than zero needs its
// currency, and a reason for no price goes with no price.
func (r *Record) validatePrice(bad func(field, format string, a ...any) error) error {
	return validateAmount(bad, "", r.Cost, r.Currency, r.Unpriced, UnpricedReasons)
}

// validateSupplierPrice checks the supplier price fields by
// validatePrice's rules.
func (r *Record) validateSupplierPrice(bad func(field, format string, a ...any) error) error {
	return validateAmount(bad, "supplier_", r.SupplierCost, r.SupplierCurrency, r.SupplierUnpriced, SupplierUnpricedReasons)
}

// validateAmount checks a price (cost, currency and unpriced, their field
// names prefixed by prefix) by validatePrice's rules, the reason one of
// reasons.
func validateAmount(bad func(field, format string, a ...any) error, prefix string, cost *money.Amount, cur money.Currency, reason Unpriced, reasons []Unpriced) error {
	if cur != "" {
		if c, err := money.ParseCurrency(string(cur)); err != nil || c != cur {
			return bad(prefix+"currency", "%.16q is not an upper-case ISO 4217 code", string(cur))
		}
	}
	switch {
	case cost != nil && *cost != 0 && cur == "":
		return bad(prefix+"currency", "empty while %scost is %s", prefix, *cost)
	case cost != nil && reason != "":
		return bad(prefix+"unpriced", "%q while %scost is set", string(reason), prefix)
	case reason != "" && !slices.Contains(reasons, reason):
		return bad(prefix+"unpriced", "%.32q is not a known reason", string(reason))
	}
	return nil
}
