package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

const rerateAbout = `rerate prices the CDRs that ended in [--from, --to) again with the tariff plans of now,
updates each CDR whose price changed and books the difference on its owner's balance
(a "rerate" ledger entry). It reads the period a page of 1,000 CDRs at a time, each
page in one transaction, and prints its progress and a summary to standard error.

Running it again is safe: each CDR's ledger entries always add up to its stored cost,
so a run interrupted (a crash, ^C, a tariff lookup failing) and started again books
nothing twice, and a run over a period already re-rated changes nothing.`

// errNoTariffs is a rerate without a tariff source (tests that remove it).
var errNoTariffs = errors.New("rerate: no tariff plans to price with (no tariff source)")

func runRerate(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rerate", "--from T --to T [--tenant ID] [flags]", rerateAbout)
	var from, to string
	var tenant int64
	fs.StringVar(&from, "from", "", "re-rate the CDRs that ended at or after this `time` (RFC 3339; required)")
	fs.StringVar(&to, "to", "", "and ended before this `time` (RFC 3339, after --from; required)")
	fs.Int64Var(&tenant, "tenant", 0, "only the CDRs of this tenant `id` (default: every tenant)")
	cf := addConfigFlags(fs, "database.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	opt := cdrstore.RerateOptions{TenantID: tenant}
	var err error
	for _, v := range []struct {
		name, val string
		dst       *time.Time
	}{{"from", from, &opt.From}, {"to", to, &opt.To}} {
		if v.val == "" {
			return usagef(fs.Name(), "--%s is required", v.name)
		}
		if *v.dst, err = time.Parse(time.RFC3339, v.val); err != nil {
			return usagef(fs.Name(), "--%s must be an RFC 3339 time like 2026-11-01T00:00:00Z, not %q", v.name, v.val)
		}
	}
	if !opt.To.After(opt.From) {
		return usagef(fs.Name(), "--to (%s) must be after --from (%s)", to, from)
	}
	if tenant < 0 {
		return usagef(fs.Name(), "--tenant must be a tenant id, not %d", tenant)
	}
	db, err := openQuiet(ctx, cf, fs, env, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if opt.Tariffs = tariffSource(provisioning.NewService(sqlstore.New(db))); opt.Tariffs == nil {
		return errNoTariffs
	}
	rp := newRerateProgress(stderr)
	opt.Progress = rp.update
	pr, err := cdrstore.NewStore(db).Rerate(ctx, opt)
	rp.done()
	fmt.Fprintf(stderr, "rerate run %d: %d of %d CDRs examined, %d changed (%d supplier costs), %d skipped (changed meanwhile); balances adjusted by %s\n",
		pr.Run, pr.Examined, pr.Total, pr.Changed, pr.SupplierChanged, pr.Skipped, adjusted(pr))
	return err
}

// adjusted renders a run's adjustments per currency ("-12.5 EUR, 3 USD"),
// or "nothing".
func adjusted(pr cdrstore.RerateProgress) string {
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(pr.Adjusted)) {
		parts = append(parts, pr.Adjusted[c].String()+" "+string(c))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}

// rerateProgress reports a run's progress: a bar redrawn on a terminal,
// else a line every few seconds (a log file, a cron mail).
type rerateProgress struct {
	bar  *progress
	w    io.Writer
	last time.Time
}

func newRerateProgress(w io.Writer) *rerateProgress {
	return &rerateProgress{bar: newProgress(w, 0), w: w, last: time.Now()}
}

func (r *rerateProgress) update(pr cdrstore.RerateProgress) {
	if r.bar.tty {
		r.bar.total = max(pr.Total, 1)
		r.bar.add(pr.Examined - r.bar.n)
		return
	}
	if time.Since(r.last) >= 5*time.Second {
		r.last = time.Now()
		fmt.Fprintf(r.w, "rerate: %s of %d CDRs examined, %d changed\n", strconv.FormatInt(pr.Examined, 10), pr.Total, pr.Changed)
	}
}

func (r *rerateProgress) done() { r.bar.done() }
