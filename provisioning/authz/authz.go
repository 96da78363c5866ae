package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// Reason is why a call was refused; it is the label of the refused-calls
// metric and what the switch logs, so it is a short fixed word.
type Reason string

// The refusal reasons.
const (
	ReasonNotWhitelisted    Reason = "not_whitelisted"    // the destination is in none of the tenant's (or user's) whitelists
	ReasonNoRate            Reason = "no_rate"            // no rate for the destination in the tenant's tariff
	ReasonNoPlan            Reason = "no_plan"            // the tenant has no tariff plan and Config.RequirePlan is set
	ReasonInsufficientFunds Reason = "insufficient_funds" // the balance (+ credit) does not pay for the first increment
	ReasonConcurrent        Reason = "concurrent_limit"   // the tenant or user has its maximum of live calls
	ReasonCallsPerMinute    Reason = "calls_per_minute"   // the tenant or user started its maximum of calls in the last minute
	ReasonCostPerHour       Reason = "cost_per_hour"      // spending this hour reached its limit
	ReasonCostPerDay        Reason = "cost_per_day"       // spending today (UTC) reached its limit
	ReasonCostPerMonth      Reason = "cost_per_month"     // spending this month (UTC) reached its limit
	ReasonError             Reason = "error"              // a source failed: the caller applies its fail policy
)

// Reasons lists every reason, for metrics that export all label values.
var Reasons = []Reason{ReasonNotWhitelisted, ReasonNoRate, ReasonNoPlan, ReasonInsufficientFunds, ReasonConcurrent,
	ReasonCallsPerMinute, ReasonCostPerHour, ReasonCostPerDay, ReasonCostPerMonth, ReasonError}

// Direction of a call as the tenant sees it.
const (
	Outbound = "outbound" // to a gateway: priced by the tenant's tariff
	Inbound  = "inbound"  // from a DID: only the abuse limits apply
)

// Errors callers test with errors.Is.
var (
	// ErrInvalidCall is a Call missing what authorization needs.
	ErrInvalidCall = errors.New("authz: invalid call")
	// ErrUnknownCall is a Release of a call id with no reservation.
	ErrUnknownCall = errors.New("authz: unknown call")
)

// Call is what a switch knows when it asks whether a call may proceed.
type Call struct {
	TenantID    int64
	UserID      int64  // 0: not placed by a user (a DID, a trunk)
	Destination string // dialed number, E.164 digits for outbound calls
	Direction   string // Outbound or Inbound
	Switch      string // the node asking, for logs and reservations' keys
	CallID      string // the switch's call id; Release takes the same
	// Of is the call id of the call this one is a leg of, when the switch
	// authorizes a leg ahead of dialling it (FreeSWITCH: a hunt group's
	// or follow-me's external members, all asked in the group's lookup):
	// besides its own release (its leg's CDR), ReleaseBooked of Of drops
	// it, so a leg that was never dialled (a member whose turn never
	// came) does not hold its slot and money until it expires.
	Of string
}

// Decision is Authorize's answer.
type Decision struct {
	Allowed bool
	Reason  Reason // set when !Allowed
	// MaxSeconds is the longest the call may last once answered: the
	// switch hangs it up then. Always > 0 when Allowed.
	MaxSeconds int
	// Reserved is what the call may cost at most (in Currency): the
	// amount held back from the balance while it is live.
	Reserved money.Amount
	Currency money.Currency
	// Detail says more about a refusal (which limit, which scope).
	Detail string
}

// Limits are the abuse limits of a tenant or of a user; a zero field is
// no limit.
type Limits struct {
	Concurrent     int
	CallsPerMinute int
	CostPerHour    money.Amount
	CostPerDay     money.Amount
	CostPerMonth   money.Amount
	MaxCallSeconds int
}

// TariffSource gives a tenant's compiled tariff; nil without a plan.
// provisioning.Service implements it.
type TariffSource interface {
	TenantTariff(ctx context.Context, tenantID int64) (*rating.Tariff, error)
}

// BalanceSource gives a tenant's balance in a currency, and when it last
// changed (the time of the last ledger entry posted to it). A tenant
// never charged nor paid has 0 and a zero time.
type BalanceSource interface {
	Balance(ctx context.Context, tenantID int64, currency money.Currency) (money.Amount, time.Time, error)
}

// CreditPolicySource says whether a tenant is prepaid and, when
// postpaid, how far below zero its balance may go (nil: no limit).
// The billing settings of provisioning implement it.
type CreditPolicySource interface {
	CreditPolicy(ctx context.Context, tenantID int64) (prepaid bool, creditLimit *money.Amount, err error)
}

// LimitSource gives the abuse limits of a tenant and of one of its users
// (userID 0: only the tenant's).
type LimitSource interface {
	Limits(ctx context.Context, tenantID, userID int64) (tenant, user Limits, err error)
}

// WhitelistSource says whether the whitelists of a tenant (and of one of
// its users; userID 0: the tenant's alone) allow a call to a destination,
// and when not, a detail naming whose refused it. provisioning.Service
// implements it (Whitelisted), answering from memory.
type WhitelistSource interface {
	Whitelisted(ctx context.Context, tenantID, userID int64, dest string) (ok bool, detail string, err error)
}

// SpendSource gives what a tenant (userID 0) or one of its users spent
// on calls that ended since a time: the priced CDRs.
type SpendSource interface {
	Spent(ctx context.Context, tenantID, userID int64, since time.Time) (money.Amount, error)
}

// Config tunes an Authorizer; zero values take the defaults.
type Config struct {
	// MaxCallSeconds caps every call (default 4 h): what a call reserves
	// when no limit is smaller, so one call never holds a whole balance.
	MaxCallSeconds int
	// Grace is how long past its authorized duration a call's
	// reservation lives if the switch never reports its end (default
	// 2 min: ringing time and a late hangup report).
	Grace time.Duration
	// SettleWindow is how long a released call's cost stays deducted
	// while its CDR's ledger entry is not yet in the balance
	// (default 2 min).
	SettleWindow time.Duration
	// RequirePlan refuses the outbound calls of a tenant without a
	// tariff plan; by default such calls are not priced and only the
	// abuse limits apply.
	RequirePlan bool
	// Whitelists, when set, refuses outbound calls to destinations the
	// tenant's or user's whitelists do not allow (ReasonNotWhitelisted);
	// nil: every destination with a rate is allowed.
	Whitelists WhitelistSource
	// Journal, when set, keeps the reservations across a restart
	// (journal.go): changes are written behind, every JournalEvery, by
	// RunJournal, and Restore reads them back at start. Nil: in memory
	// only, a restarted daemon forgets the live calls.
	Journal ReservationStore
	// JournalEvery is how often the journal is written (default 50 ms):
	// the most a SIGKILL loses.
	JournalEvery time.Duration
	// Log receives the journal's failures; default slog.Default().
	Log *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Authorizer answers Authorize and keeps the live calls' reservations.
type Authorizer struct {
	tariffs TariffSource
	bal     BalanceSource
	credit  CreditPolicySource // nil: every tenant prepaid
	limits  LimitSource        // nil: no abuse limits
	spend   SpendSource        // nil: cost limits count live calls only
	cfg     Config

	mu    sync.Mutex
	calls map[string]*live // by Switch + "/" + CallID
	// legs are the keys of the live calls authorized as legs of a call
	// (Call.Of), by Switch + "/" + Of (legs.go).
	legs  map[string][]string
	scope map[scopeKey]*scopeState
	// refused counts refusals by reason, for the metrics.
	refused map[Reason]uint64
	swept   time.Time // last expire sweep
	// pending are the journal's changes not yet written, by call key;
	// journalFailures counts the failed writes (journal.go).
	pending         map[string]pending
	journalFailures uint64
}

// New returns an Authorizer over its sources; credit, limits and spend
// may be nil (see the fields' doc).
func New(tariffs TariffSource, bal BalanceSource, credit CreditPolicySource, limits LimitSource, spend SpendSource, cfg Config) *Authorizer {
	if cfg.MaxCallSeconds <= 0 {
		cfg.MaxCallSeconds = 4 * 3600
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 2 * time.Minute
	}
	if cfg.SettleWindow <= 0 {
		cfg.SettleWindow = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.JournalEvery <= 0 {
		cfg.JournalEvery = 50 * time.Millisecond
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	return &Authorizer{tariffs: tariffs, bal: bal, credit: credit, limits: limits, spend: spend, cfg: cfg,
		calls: map[string]*live{}, scope: map[scopeKey]*scopeState{}, refused: map[Reason]uint64{}, pending: map[string]pending{}}
}

// Refused returns how many calls were refused per reason since start.
func (a *Authorizer) Refused() map[Reason]uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[Reason]uint64, len(a.refused))
	for r, n := range a.refused {
		out[r] = n
	}
	return out
}

func (c *Call) key() string { return c.Switch + "/" + c.CallID }

func (c *Call) validate() error {
	switch {
	case c.TenantID <= 0:
		return fmt.Errorf("%w: tenant_id %d", ErrInvalidCall, c.TenantID)
	case c.CallID == "":
		return fmt.Errorf("%w: call_id is empty", ErrInvalidCall)
	case c.Direction != Outbound && c.Direction != Inbound:
		return fmt.Errorf("%w: direction %q is not %s or %s", ErrInvalidCall, c.Direction, Outbound, Inbound)
	case c.Direction == Outbound && c.Destination == "":
		return fmt.Errorf("%w: destination is empty", ErrInvalidCall)
	}
	return nil
}
