// Package cdr is Switchboard's call detail record model and the contracts
// around it: the sources that produce CDRs (switch adapters, durable
// submissions, imports) and the store that keeps them.
package cdr

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
)

// Direction of a call leg as seen from the switch.
type Direction string

// The directions a CDR may have.
const (
	DirectionInbound  Direction = "inbound"  // from a gateway to a local account
	DirectionOutbound Direction = "outbound" // from a local account to a gateway
	DirectionInternal Direction = "internal" // between local accounts
)

// Disposition is the outcome of a call leg, in Asterisk's vocabulary which
// billing systems already speak.
type Disposition string

// The dispositions.
const (
	Answered   Disposition = "ANSWERED"
	NoAnswer   Disposition = "NO ANSWER"
	Busy       Disposition = "BUSY"
	Failed     Disposition = "FAILED"
	Congestion Disposition = "CONGESTION"
)

// Record is one call leg. (Switch, CallID) identifies it across replays,
// reconnect resyncs and imports: the store keeps one row per pair.
type Record struct {
	ID        int64     `json:"id" db:"id"`
	Switch    string    `json:"switch" db:"switch"`
	CallID    string    `json:"call_id" db:"call_id"`     // Asterisk uniqueid / FreeSWITCH uuid
	LinkedID  string    `json:"linked_id" db:"linked_id"` // shared by the legs of one call
	Direction Direction `json:"direction" db:"direction"`
	Domain    string    `json:"domain" db:"domain"`
	// TenantID is the tenant that owned Domain when the CDR was ingested
	// (see Owners): the owner whose users may read it, whoever owns the
	// domain name later. nil when no tenant owned it or the owner could
	// not be looked up: such a CDR is visible to admins only.
	TenantID     *int64      `json:"tenant_id" db:"tenant_id"`
	Account      string      `json:"account" db:"account"` // SIP account username
	Gateway      string      `json:"gateway" db:"gateway"`
	CallerNumber string      `json:"caller_number" db:"caller_number"`
	CallerName   string      `json:"caller_name" db:"caller_name"`
	Dialed       string      `json:"dialed" db:"dialed"`           // what the caller dialled
	Destination  string      `json:"destination" db:"destination"` // where the call was delivered
	Start        time.Time   `json:"start" db:"start_time"`
	Answer       *time.Time  `json:"answer" db:"answer_time"`
	End          time.Time   `json:"end" db:"end_time"`
	Duration     int         `json:"duration" db:"duration"` // seconds, start to end
	Billsec      int         `json:"billsec" db:"billsec"`   // seconds, answer to end
	Disposition  Disposition `json:"disposition" db:"disposition"`
	Cause        int         `json:"cause" db:"cause"` // Q.850
	CauseText    string      `json:"cause_text" db:"cause_text"`
	SIPStatus    int         `json:"sip_status" db:"sip_status"` // 0 when unknown
	Codec        string      `json:"codec" db:"codec"`
	UserAgent    string      `json:"user_agent" db:"user_agent"`
	// Raw is the record as the switch produced it, kept for audit.
	Raw json.RawMessage `json:"raw,omitempty" db:"raw"`

	// The price, set by the pipeline as the record is stored (see
	// PriceRecords) and by rerate. Cost is nil when the leg is not priced:
	// then Unpriced says why (empty when nothing priced it: no tariff
	// source). A leg that costs nothing by rule (internal, unanswered, an
	// inbound call to a DID without a plan) has Cost 0 and no rate. Cost
	// is in Currency, charged to TenantID's balance in the same
	// transaction as the insert (cdrstore's ledger).
	Cost            *money.Amount  `json:"cost" db:"cost"`
	Currency        money.Currency `json:"currency" db:"currency"`
	RatePrefix      string         `json:"rate_prefix" db:"rate_prefix"`           // the prefix of the rate used
	RateDestination string         `json:"rate_destination" db:"rate_destination"` // its destination name
	RateGroup       string         `json:"rate_group" db:"rate_group"`             // its destination group (invoice line)
	Plan            string         `json:"plan" db:"plan"`                         // the tariff plan's name
	Unpriced        Unpriced       `json:"unpriced" db:"unpriced"`                 // why Cost is nil

	// The supplier price: what the gateway's carrier charges us for the
	// leg (the buy price, next to Cost, the sell price), set with the price
	// by the pipeline and by rerate, from the gateway's supplier plan (see
	// PriceRecords: only the leg that went to the gateway has one).
	// SupplierCost is nil on every other leg, and on a gateway leg that
	// could not be priced (SupplierUnpriced says why); 0 on an unanswered
	// gateway leg. It is never charged to a tenant's balance nor invoiced:
	// it is what we owe, for margin (Cost − SupplierCost) and the NOC's
	// cost rate.
	SupplierCost     *money.Amount  `json:"supplier_cost" db:"supplier_cost"`
	SupplierCurrency money.Currency `json:"supplier_currency" db:"supplier_currency"`
	SupplierPrefix   string         `json:"supplier_prefix" db:"supplier_prefix"`     // the prefix of the supplier's rate used
	SupplierPlan     string         `json:"supplier_plan" db:"supplier_plan"`         // the supplier plan's name
	SupplierUnpriced Unpriced       `json:"supplier_unpriced" db:"supplier_unpriced"` // why SupplierCost is nil on a gateway leg
}

// Sink accepts CDRs. Put returns once the record is durable (in the store or
// the spool) or has been refused; a source that must acknowledge its
// producer (mod_json_cdr, an import) does so only after Put returns nil.
type Sink interface {
	Put(ctx context.Context, recs ...Record) error
}

// Source is the CDR side of a switch adapter: it runs until ctx ends,
// handing every finished call leg to sink. A source may hand the same leg
// more than once (after a reconnect); the store keeps one.
type Source interface {
	StreamCDRs(ctx context.Context, sink Sink) error
}
