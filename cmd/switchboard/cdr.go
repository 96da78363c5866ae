package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
	"github.com/switchboard-voip/switchboard/switch/asterisk"
	"github.com/switchboard-voip/switchboard/switch/freeswitch"
)

const cdrImportAbout = `import reads Asterisk CDR files (Master.csv, cdr_custom CSV or JSON lines) and
FreeSWITCH mod_json_cdr files (one call leg per file), and stores each leg once: importing
the same file twice, or a file overlapping live CDRs, adds nothing. Rows that cannot be
parsed are kept as dead letters with the reason, and the others are stored. It prints a
summary, and exits with status 1 when any row was rejected.`

// errRejected is an import that kept some rows as dead letters: the
// command fails (exit status 1) after the summary, so that a script or
// an operator notices a file that was not wholly imported. The rows that
// were valid are stored, and importing the file again adds nothing twice.
var errRejected = errors.New("rows rejected as dead letters")

// importBatch is how many records one import transaction carries.
const importBatch = 5000

func runCDRImport(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cdr import", "--switch NAME [--format auto|asterisk|freeswitch] [--domain D] [--timezone TZ] [flags] FILE...", cdrImportAbout)
	var (
		switchName = fs.String("switch", "", "name of the switch the files come from, as configured (required: it is half of each CDR's identity)")
		format     = fs.String("format", "auto", "auto, asterisk or freeswitch")
		domain     = fs.String("domain", "", "SIP domain of the switch's accounts (Asterisk CSV does not record it)")
		tz         = fs.String("timezone", "UTC", "time zone Asterisk wrote its CSV times in (UTC when usegmtime=yes)")
	)
	cf := addConfigFlags(fs, "database.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	files := fs.Args()
	if *switchName == "" {
		return usagef(fs.Name(), "--switch is required")
	}
	if len(files) == 0 {
		return usagef(fs.Name(), "name at least one file")
	}
	if *format != "auto" && *format != "asterisk" && *format != "freeswitch" {
		return usagef(fs.Name(), "--format must be auto, asterisk or freeswitch, not %q", *format)
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return usagef(fs.Name(), "--timezone: %v", err)
	}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return fmt.Errorf("cdr import: %w", err)
		}
		total += fi.Size()
	}
	db, err := openQuiet(ctx, cf, fs, env, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	store := cdrstore.NewStore(db)
	// The import runs with the database's own access, an admin's: the
	// records' owners are looked up from the domains as the pipeline
	// does at ingest, never taken from the files.
	owners := provisioning.NewService(sqlstore.New(db))
	tariffs := tariffSource(owners)
	isGateway, err := provisionedGateways(ctx, db)
	if err != nil {
		return err
	}
	prog := newProgress(stderr, total)
	var sum importSummary
	opt := asterisk.CSVOptions{Switch: *switchName, Domain: strings.ToLower(*domain), Location: loc, IsGateway: isGateway}
	for _, f := range files {
		if err := importFile(ctx, store, owners, tariffs, f, *format, opt, &sum, prog); err != nil {
			prog.done()
			return err
		}
	}
	prog.done()
	fmt.Fprintf(stderr, "imported %d files: %d CDRs read, %d new, %d already stored, %d rejected as dead letters\n",
		len(files), sum.read, sum.inserted, sum.read-sum.inserted, sum.rejected)
	if sum.rejected > 0 {
		return fmt.Errorf("cdr import: %d %w (the other CDRs are stored)", sum.rejected, errRejected)
	}
	return nil
}

type importSummary struct{ read, inserted, rejected int }

func importFile(ctx context.Context, store *cdrstore.Store, owners cdr.Owners, tariffs cdr.Tariffs, path, format string, opt asterisk.CSVOptions, sum *importSummary, prog *progress) error {
	body, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cdr import: %w", err)
	}
	if format == "auto" {
		format = detectFormat(path, body)
	}
	var (
		recs []cdr.Record
		dead []cdr.DeadLetter
		now  = time.Now().UTC()
		name = filepath.Base(path)
	)
	switch format {
	case "freeswitch":
		rec, err := freeswitch.ParseJSONCDRFile(body, freeswitch.JSONCDROptions{Switch: opt.Switch, IsGateway: opt.IsGateway})
		if err != nil {
			dead = append(dead, cdr.DeadLetter{Source: "import " + name, Reason: err.Error(), Raw: text(body), ReceivedAt: now})
		} else {
			recs = append(recs, rec)
		}
	default:
		rs, bad, err := asterisk.ParseCSV(bytes.NewReader(body), opt)
		if err != nil {
			return fmt.Errorf("cdr import: %s: %w", path, err)
		}
		recs = rs
		for _, b := range bad {
			dead = append(dead, cdr.DeadLetter{Source: fmt.Sprintf("import %s:%d", name, b.Line), Reason: b.Reason, Raw: text([]byte(b.Raw)), ReceivedAt: now})
		}
	}
	// Records the store would refuse become dead letters too, so one bad
	// row never fails a whole file.
	valid := recs[:0]
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			raw := string(r.Raw)
			dead = append(dead, cdr.DeadLetter{Source: "import " + name, Reason: err.Error(), Raw: raw, ReceivedAt: now})
			continue
		}
		valid = append(valid, r)
	}
	sum.read += len(valid)
	// Each CDR belongs to the tenant owning its domain now, as live ones
	// do. An import is not acknowledged to anyone, so a lookup that fails
	// fails the file, which can be imported again (nothing is stored
	// twice).
	if err := cdr.StampOwners(ctx, owners, valid); err != nil {
		return fmt.Errorf("cdr import: %s: owners: %w", path, err)
	}
	// Priced as the pipeline prices live ones (and charged as they are
	// stored); a tariff lookup that fails fails the file likewise.
	if tariffs != nil {
		if err := cdr.PriceRecords(ctx, tariffs, valid); err != nil {
			return fmt.Errorf("cdr import: %s: tariffs: %w", path, err)
		}
	}
	for len(valid) > 0 {
		n := min(importBatch, len(valid))
		fresh, err := store.InsertNew(ctx, valid[:n])
		if err != nil {
			return fmt.Errorf("cdr import: %s: %w", path, err)
		}
		sum.inserted += len(fresh)
		valid = valid[n:]
	}
	if len(dead) > 0 {
		if err := store.PutDeadLetters(ctx, dead); err != nil {
			return fmt.Errorf("cdr import: %s: dead letters: %w", path, err)
		}
		sum.rejected += len(dead)
	}
	prog.add(int64(len(body)))
	return nil
}

// provisionedGateways classifies endpoint names as gateways by the
// gateways provisioned in the store, so imported CDRs get the same
// direction and gateway as live ones.
func provisionedGateways(ctx context.Context, db *sqldb.DB) (func(string) bool, error) {
	svc := provisioning.NewService(sqlstore.New(db))
	names := map[string]bool{}
	var after int64
	for {
		gws, err := svc.Gateways(ctx, provisioning.AdminScope(), provisioning.GatewayFilter{Page: provisioning.Page{After: after, Limit: provisioning.MaxLimit}})
		if err != nil {
			return nil, fmt.Errorf("cdr import: gateways: %w", err)
		}
		for _, g := range gws {
			names[g.Name] = true
		}
		if len(gws) < provisioning.MaxLimit {
			return func(name string) bool { return names[name] }, nil
		}
		after = gws[len(gws)-1].ID
	}
}

// detectFormat tells a FreeSWITCH JSON CDR (one JSON object with
// "variables" or "callflow") from Asterisk's CSV and JSON-lines files.
func detectFormat(path string, body []byte) string {
	if strings.HasSuffix(path, ".cdr.json") { // mod_json_cdr's err-log-dir names
		return "freeswitch"
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) >= 3 && bytes.EqualFold(trimmed[:3], []byte("%7B")) { // encode=true
		return "freeswitch"
	}
	if bytes.HasPrefix(trimmed, []byte("{")) && (bytes.Contains(trimmed, []byte(`"callflow"`)) || bytes.Contains(trimmed, []byte(`"variables"`))) {
		return "freeswitch"
	}
	if bytes.HasPrefix(trimmed, []byte("cdr=")) { // a saved form-encoded mod_json_cdr POST
		return "freeswitch"
	}
	return "asterisk"
}

func text(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func runCDRExport(ctx context.Context, args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cdr export", "[--from T] [--to T] [filters] [flags] > FILE.csv",
		"export writes the stored CDRs that match every filter given to standard output as CSV, and\nthe count to standard error.")
	var f cdr.Filter
	var from, to, domain, disposition, direction string
	fs.StringVar(&from, "from", "", "only CDRs that ended at or after this `time` (RFC 3339)")
	fs.StringVar(&to, "to", "", "only CDRs that ended before this `time` (RFC 3339), which is after --from")
	fs.StringVar(&domain, "domain", "", "only this SIP domain")
	fs.StringVar(&f.Switch, "switch", "", "only this switch")
	fs.StringVar(&f.Account, "account", "", "only this SIP account (username)")
	fs.StringVar(&f.Caller, "caller", "", "only this caller number")
	fs.StringVar(&f.CalleePrefix, "callee-prefix", "", "only dialled numbers starting with this")
	fs.StringVar(&disposition, "disposition", "", "ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION")
	fs.StringVar(&f.Gateway, "gateway", "", "only this gateway")
	fs.StringVar(&direction, "direction", "", "inbound, outbound or internal")
	fs.IntVar(&f.MinBillsec, "min-billsec", 0, "only calls billed at least this many seconds")
	cf := addConfigFlags(fs, "database.")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	var err error
	if f.From, err = parseFlagTime("from", from); err != nil {
		return err
	}
	if f.To, err = parseFlagTime("to", to); err != nil {
		return err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return usagef(fs.Name(), "--to (%s) must be after --from (%s)", to, from)
	}
	if domain != "" {
		f.Domain = strings.ToLower(domain)
	}
	if disposition != "" {
		f.Disposition = cdr.Disposition(strings.ToUpper(strings.ReplaceAll(disposition, "_", " ")))
		switch f.Disposition {
		case cdr.Answered, cdr.NoAnswer, cdr.Busy, cdr.Failed, cdr.Congestion:
		default:
			return usagef(fs.Name(), "--disposition must be ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION, not %q", disposition)
		}
	}
	if direction != "" {
		f.Direction = cdr.Direction(direction)
		switch f.Direction {
		case cdr.DirectionInbound, cdr.DirectionOutbound, cdr.DirectionInternal:
		default:
			return usagef(fs.Name(), "--direction must be inbound, outbound or internal, not %q", direction)
		}
	}
	if f.MinBillsec < 0 {
		return usagef(fs.Name(), "--min-billsec must not be negative")
	}
	db, err := openQuiet(ctx, cf, fs, env, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := cdr.ExportCSV(ctx, stdout, cdrstore.NewStore(db), f, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "exported %d CDRs\n", n)
	return nil
}

func parseFlagTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usagef("cdr export", "--%s must be an RFC 3339 time like 2026-11-25T00:00:00Z", name)
	}
	return t, nil
}

// progress draws a bar on a terminal and stays silent otherwise (the
// summary line is printed either way).
type progress struct {
	w          io.Writer
	total, n   int64
	tty        bool
	lastRedraw time.Time
}

func newProgress(w io.Writer, total int64) *progress {
	p := &progress{w: w, total: total}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) add(n int64) {
	p.n += n
	if !p.tty || time.Since(p.lastRedraw) < 100*time.Millisecond && p.n < p.total {
		return
	}
	p.lastRedraw = time.Now()
	const width = 40
	frac := 1.0
	if p.total > 0 {
		frac = float64(p.n) / float64(p.total)
	}
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100)
}

func (p *progress) done() {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
