package provisioning

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/rating"
)

// MaxTariffRates bounds one plan's deck: five times the 100,000 rows of a
// full international wholesale deck, while the import holds the rates
// (about 150 bytes each) and their compiled tariff in memory.
const MaxTariffRates = 500_000

// RateImportOptions tune a deck import.
type RateImportOptions struct {
	// Comma is the deck's separator; 0 lets the header decide (',', or
	// ';' / tab as spreadsheets with a decimal comma write).
	Comma rune
	// DryRun reads, checks and compiles the deck but writes nothing.
	DryRun bool
	// Progress, when set, is called as the import advances.
	Progress func(RateImportProgress)
}

// RateImportProgress is how far an import has come: Phase "read" while
// the deck is read and checked (Bytes of it consumed), "stored" while the
// checked rates are written (Rows written so far).
type RateImportProgress struct {
	Phase string
	Rows  int
	Bytes int64
}

// RateImport is what an import did.
type RateImport struct {
	Plan *TariffPlan `json:"plan"`
	// Rates is how many rates the deck had (and the plan now has, unless
	// DryRun).
	Rates  int   `json:"rates"`
	Bytes  int64 `json:"bytes"`
	DryRun bool  `json:"dry_run"`
	// ReadMS, CompileMS and StoreMS time the import's three steps.
	ReadMS    int64 `json:"read_ms"`
	CompileMS int64 `json:"compile_ms"`
	StoreMS   int64 `json:"store_ms"`
}

// ReplaceTariffRates replaces plan id's rates with the CSV rate deck read
// from r (internal/rating's deck format; bare dates are midnight in the
// plan's zone). The deck is read through rating.DeckDecoder one row at a
// time and checked as a whole (every rate with Rate.Validate, then the
// plan with rating.Compile, which refuses duplicates) before anything is
// written; only then are the rates written, in batched INSERTs inside one
// transaction. So a bad deck writes nothing, and the transaction never
// waits on the client's upload (on SQLite it holds the one write lock).
//
// A bad row is an InvalidError on its column whose reason starts with
// "rate deck line N"; a deck with more than MaxTariffRates rows is a
// TooLargeError on "rates". The compiled tariff is cached at once, so
// that the next TenantTariff does not compile it again.
func (s *Service) ReplaceTariffRates(ctx context.Context, sc Scope, id int64, r io.Reader, opt RateImportOptions) (*RateImport, error) {
	if err := requireWrite(sc); err != nil {
		return nil, err
	}
	ts, err := s.tariffStore()
	if err != nil {
		return nil, err
	}
	p, err := s.TariffPlan(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	out := &RateImport{DryRun: opt.DryRun}
	started := time.Now()
	rates, bytes, err := readDeck(r, p, opt)
	if err != nil {
		return nil, err
	}
	out.Rates, out.Bytes = len(rates), bytes
	compiling := time.Now()
	out.ReadMS = compiling.Sub(started).Milliseconds()
	tariff, err := rating.Compile(p.ratingPlan(rates))
	if err != nil {
		return nil, deckPlanError(err)
	}
	storing := time.Now()
	out.CompileMS = storing.Sub(compiling).Milliseconds()
	if opt.DryRun {
		out.Plan = p
		return out, nil
	}
	var progress func(int)
	if opt.Progress != nil {
		progress = func(n int) { opt.Progress(RateImportProgress{Phase: "stored", Rows: n, Bytes: bytes}) }
	}
	if out.Plan, err = ts.ReplaceTariffRates(ctx, id, rates, progress); err != nil {
		return nil, err
	}
	out.StoreMS = time.Since(storing).Milliseconds()
	s.changed(ctx, Invalidation{Kind: InvalidateTariff, ID: id})
	s.tariffs.keep(out.Plan, tariff)
	return out, nil
}

// readDeck reads a whole deck for plan p.
func readDeck(r io.Reader, p *TariffPlan, opt RateImportOptions) ([]rating.Rate, int64, error) {
	var bytes int64
	d := rating.NewDeckDecoder(r, rating.DeckOptions{Location: p.location(), Comma: opt.Comma,
		Progress: func(pr rating.DeckProgress) {
			bytes = pr.Bytes
			if opt.Progress != nil {
				opt.Progress(RateImportProgress{Phase: "read", Rows: pr.Rows, Bytes: pr.Bytes})
			}
		}})
	var rates []rating.Rate
	for {
		rate, err := d.Next()
		if err == io.EOF {
			return rates, bytes, nil
		}
		if err != nil {
			return nil, 0, deckError(err)
		}
		if len(rates) == MaxTariffRates {
			return nil, 0, TooLarge("rates", "a plan has at most %d rates", MaxTariffRates)
		}
		rates = append(rates, rate)
	}
}

// deckError turns a deck's error into the caller's: a bad row or header
// names its column and line; a failing reader (an upload cut off, a body
// over its limit) is returned as it is.
func deckError(err error) error {
	var de *rating.DeckError
	if !errors.As(err, &de) && errors.Is(err, rating.ErrDeck) {
		return Invalid("rates", "rate deck: %s", trimPrefixes(err.Error(), rating.ErrDeck.Error()+": "))
	}
	if de == nil {
		var tle *TooLargeError
		if errors.As(err, &tle) {
			return tle
		}
		return fmt.Errorf("provisioning: read rate deck: %w", err)
	}
	field := de.Column
	if field == "" {
		field = "rates"
	}
	reason := de.Err.Error()
	var fe *rating.FieldError
	switch {
	case errors.As(de.Err, &fe):
		reason = fe.Reason
	case errors.Is(de.Err, rating.ErrInvalidRate):
		reason = trimPrefixes(reason, rating.ErrInvalidRate.Error()+": ")
	case errors.Is(de.Err, rating.ErrDeck):
		reason = trimPrefixes(reason, rating.ErrDeck.Error()+": ")
	}
	return Invalid(field, "rate deck line %d: %s", de.Line, reason)
}

func trimPrefixes(s, prefix string) string {
	for len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		s = s[len(prefix):]
	}
	return s
}

// deckPlanError is a deck whose rows are each valid but that is no plan:
// two rates a lookup could not tell apart, or a plan setting.
func deckPlanError(err error) error {
	switch {
	case errors.Is(err, rating.ErrDuplicateRate):
		return Invalid("prefix", "rate deck: %s (rates counted from the first row after the header)",
			trimPrefixes(err.Error(), rating.ErrDuplicateRate.Error()+": "))
	case errors.Is(err, rating.ErrInvalidPlan):
		return Invalid("tariff_plan", "%s", err)
	}
	return fmt.Errorf("provisioning: compile rate deck: %w", err)
}

// ExportTariffRates writes plan id's rates to w as a CSV rate deck, in
// deck order, one row at a time from one store statement (a consistent
// snapshot however long the transfer takes). Before writes nothing and
// is called once the plan is found, so that a caller can set headers
// first. Reading it back with ReplaceTariffRates gives the same rates.
func (s *Service) ExportTariffRates(ctx context.Context, sc Scope, id int64, w io.Writer, before func(*TariffPlan), opt rating.DeckOptions) error {
	ts, err := s.tariffStore()
	if err != nil {
		return err
	}
	p, err := s.TariffPlan(ctx, sc, id)
	if err != nil {
		return err
	}
	return exportPlan(ctx, ts, p, w, before, opt)
}

// ExportTenantTariffRates writes the rates of the plan that prices tenant
// id's calls, as ExportTariffRates does: a tenant reads the rates it is
// charged even when the plan is its parent's, which it cannot otherwise
// see. No plan applying is a NotFoundError.
func (s *Service) ExportTenantTariffRates(ctx context.Context, sc Scope, id int64, w io.Writer, before func(*TariffPlan), opt rating.DeckOptions) error {
	ts, err := s.tariffStore()
	if err != nil {
		return err
	}
	info, err := s.TenantTariffPlan(ctx, sc, id)
	if err != nil {
		return err
	}
	if info.Plan == nil {
		return NotFound("tariff plan", fmt.Sprintf("of tenant %d", id))
	}
	return exportPlan(ctx, ts, info.Plan, w, before, opt)
}

func exportPlan(ctx context.Context, ts TariffStore, p *TariffPlan, w io.Writer, before func(*TariffPlan), opt rating.DeckOptions) error {
	if before != nil {
		before(p)
	}
	opt.Location = p.location()
	enc := rating.NewDeckEncoder(w, opt)
	if err := ts.TariffRates(ctx, p.ID, TariffRateFilter{}, func(_ int64, r *rating.Rate) error {
		return enc.Write(r)
	}); err != nil {
		return err
	}
	return enc.Flush()
}

// TariffRate is one rate of a plan with its row number in the deck.
type TariffRate struct {
	Row int64
	rating.Rate
}

// TariffRates returns a page of plan id's rates in deck order (rows
// after f.After, prefixes starting with f.Prefix), for a person browsing
// them; Limit is clamped as every page's.
func (s *Service) TariffRates(ctx context.Context, sc Scope, id int64, f TariffRateFilter) (*TariffPlan, []TariffRate, error) {
	ts, err := s.tariffStore()
	if err != nil {
		return nil, nil, err
	}
	p, err := s.TariffPlan(ctx, sc, id)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i < len(f.Prefix); i++ {
		if f.Prefix[i] < '0' || f.Prefix[i] > '9' {
			return nil, nil, Invalid("prefix", "must be digits")
		}
	}
	f.Limit = Page{Limit: f.Limit}.Normalize().Limit
	out := []TariffRate{}
	err = ts.TariffRates(ctx, id, f, func(row int64, r *rating.Rate) error {
		out = append(out, TariffRate{Row: row, Rate: *r})
		return nil
	})
	return p, out, err
}

// Quote is what a call would cost: the plan, the rate found and the
// charge.
type Quote struct {
	Plan   *TariffPlan
	Charge rating.Charge
	// MaxSeconds is how long the call could last for the budget, when one
	// was given (rating.Unlimited for a free destination, 0 when the
	// budget does not pay the first increment); -1 without a budget.
	MaxSeconds int
}

// QuoteCall prices a call of tenant id to number, started at at, lasting
// seconds, with the plan that prices the tenant's calls (the compiled
// tariff of TenantTariff: what the CDR pipeline will charge). A tenant
// with no plan is a NotFoundError on "tariff plan"; a number without a
// rate an InvalidError on number. With a budget, MaxSeconds is what the
// authorizer would tell the switch (rating.Tariff.MaxDuration).
func (s *Service) QuoteCall(ctx context.Context, sc Scope, id int64, number string, at time.Time, seconds int, budget *money.Amount) (*Quote, error) {
	info, err := s.TenantTariffPlan(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	if info.Plan == nil {
		return nil, NotFound("tariff plan", fmt.Sprintf("of tenant %d", id))
	}
	t, err := s.compiledTariff(ctx, *info.EffectivePlanID)
	if err != nil {
		return nil, err
	}
	c, err := t.Rate(number, at, seconds)
	switch {
	case errors.Is(err, rating.ErrInvalidDestination):
		return nil, Invalid("number", "must be digits, optionally after a +")
	case errors.Is(err, rating.ErrNoRate):
		return nil, Invalid("number", "has no rate in plan %q at %s", info.Plan.Name, at.In(info.Plan.location()).Format(time.RFC3339))
	case errors.Is(err, rating.ErrInvalidDuration):
		return nil, Invalid("seconds", "must be 0 or more")
	case err != nil:
		return nil, err
	}
	q := &Quote{Plan: info.Plan, Charge: c, MaxSeconds: -1}
	if budget != nil {
		if *budget < 0 {
			return nil, Invalid("budget", "must be 0 or more")
		}
		secs, _, err := t.MaxDuration(number, at, *budget)
		switch {
		case errors.Is(err, rating.ErrInsufficientFunds):
			q.MaxSeconds = 0
		case err != nil:
			return nil, err
		default:
			q.MaxSeconds = secs
		}
	}
	return q, nil
}
