package invoicedoc_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/cdr/cdrtest"
	"github.com/switchboard-voip/switchboard/internal/invoicedoc"
	"github.com/switchboard-voip/switchboard/internal/money"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
)

// invoice generates a real invoice from a SQLite store: 7 calls to two
// destination groups, a subscription and a payment, 19 % VAT.
func invoice(t *testing.T) *cdrstore.Invoice {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "sb.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := cdrstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s := cdrstore.NewStore(db)
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	var recs []cdr.Record
	for i, c := range []struct {
		group, cost string
		billsec     int
	}{
		{"Deutschland Mobil", "0.1234", 61}, {"Deutschland Mobil", "0.2", 120}, {"Deutschland Mobil", "0.05", 15},
		{"France Fixe", "0.01", 30}, {"France Fixe", "0.02", 60}, {"France Fixe", "0.03", 90}, {"France Fixe", "0.04", 120},
	} {
		r := cdrtest.Minimal("pbx", fmt.Sprint("call-", i), "example.com", month.Add(time.Duration(i+1)*time.Hour))
		cost := money.MustParse(c.cost)
		tenant := int64(4)
		r.TenantID, r.Direction, r.Billsec, r.Duration = &tenant, cdr.DirectionOutbound, c.billsec, c.billsec+1
		r.Start = r.End.Add(-time.Duration(c.billsec+1) * time.Second)
		r.Cost, r.Currency, r.Plan, r.RatePrefix, r.RateGroup = &cost, "EUR", "retail", "49", c.group
		recs = append(recs, r)
	}
	if _, err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	for _, e := range []cdrstore.Entry{
		{TenantID: 4, Currency: "EUR", Kind: cdrstore.KindSubscription, Amount: money.MustParse("-12.5"), Reference: "subscription:1:" + month.Format("2006-01")},
		{TenantID: 4, Currency: "EUR", Kind: cdrstore.KindPayment, Amount: money.MustParse("100"), Reference: "SEPA-42"},
	} {
		if _, err := s.Post(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	inv, _, err := s.GenerateInvoice(ctx, cdrstore.InvoiceRequest{TenantID: 4, Month: month, Currency: "EUR", VATPercent: money.MustParse("19"),
		Describe: func(string) string { return "Hosted PBX" }})
	if err != nil {
		t.Fatal(err)
	}
	return inv
}

// TestPDFTotalsReadBack renders the invoice and reads its totals back
// with pdftotext (poppler-utils).
func TestPDFTotalsReadBack(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext is not installed (Debian: apt-get install poppler-utils); CI must run this test")
		}
		t.Skip("pdftotext is not installed (Debian: apt-get install poppler-utils); CI runs this test")
	}
	inv := invoice(t)
	// Calls 0.37 + 0.10 (rounded per group) + 12.50 = 12.97; VAT 2.4643 → 2.46.
	if inv.Subtotal != money.MustParse("12.97") || inv.VAT != money.MustParse("2.46") || inv.Total != money.MustParse("15.43") {
		t.Fatalf("invoice = %+v", inv)
	}
	var buf bytes.Buffer
	if err := invoicedoc.WritePDF(&buf, invoicedoc.Doc{Invoice: inv, Customer: invoicedoc.Party{Name: "Müller GmbH"}, Issuer: invoicedoc.Party{Name: "Reseller"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "invoice.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	text := string(out)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(fmt.Sprintf(`Invoice %d\b`, inv.Number)),
		regexp.MustCompile(`Customer: Müller GmbH`),
		regexp.MustCompile(`Period: ` + inv.Period),
		regexp.MustCompile(`Deutschland Mobil\s+3\s+3\.26\s+0\.37\b`),
		regexp.MustCompile(`France Fixe\s+4\s+5\.00\s+0\.10\b`),
		regexp.MustCompile(`Hosted PBX\s+1\s+12\.50\b`),
		regexp.MustCompile(`Subtotal\s+12\.97\b`),
		regexp.MustCompile(`VAT 19 %\s+2\.46\b`),
		regexp.MustCompile(`Total EUR\s+15\.43\b`),
		regexp.MustCompile(`SEPA-42\s+100\.00\b`),
	} {
		if !want.MatchString(text) {
			t.Errorf("the PDF's text lacks %s:\n%s", want, text)
		}
	}
}

func TestCSV(t *testing.T) {
	inv := invoice(t)
	var buf bytes.Buffer
	if err := invoicedoc.WriteCSV(&buf, invoicedoc.Doc{Invoice: inv}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(invoicedoc.CSVHeader, ",") || len(rows) != 1+len(inv.Lines)+3 {
		t.Fatalf("rows = %q", rows)
	}
	// The lines' amounts add up to the subtotal row, and the total row is
	// subtotal + VAT, read back from the text.
	var sum money.Amount
	for _, r := range rows[1 : 1+len(inv.Lines)] {
		if r[3] == cdrstore.LinePayment {
			continue
		}
		sum += money.MustParse(r[7])
	}
	tail := rows[len(rows)-3:]
	sub, vat, total := money.MustParse(tail[0][7]), money.MustParse(tail[1][7]), money.MustParse(tail[2][7])
	if tail[0][3] != "subtotal" || tail[2][3] != "total" || sum != sub || sub+vat != total || total != inv.Total {
		t.Fatalf("totals: lines %s, rows %q", sum, tail)
	}
}
