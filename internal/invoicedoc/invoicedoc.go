// Package invoicedoc renders a stored invoice (cdrstore.Invoice) as the
// documents a customer receives: a one-table PDF and a CSV of the same
// lines and totals. Rendering is a pure function of the stored invoice,
// so a document rendered again years later is the same document.
package invoicedoc

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"codeberg.org/go-pdf/fpdf"

	"github.com/switchboard-voip/switchboard/cdr/cdrstore"
	"github.com/switchboard-voip/switchboard/internal/money"
)

// Party is who the invoice is addressed to (the tenant) and who issues
// it (its parent, or the operator).
type Party struct {
	Name string
}

// Doc is an invoice with the names printed on it.
type Doc struct {
	Invoice  *cdrstore.Invoice
	Customer Party
	Issuer   Party
}

// amount prints a at two decimals at least (9 at most: an amount is
// never rounded by printing).
func amount(a money.Amount) string { return a.StringFixed(2) }

// minutes prints seconds as minutes with two decimals.
func minutes(sec int64) string {
	return strconv.FormatInt(sec/60, 10) + "." + fmt.Sprintf("%02d", (sec%60)*100/60)
}

// WritePDF writes d as an A4 PDF: header, one row per line (calls by
// destination group with count and minutes, subscriptions, then the
// payments received), subtotal, VAT and total.
func WritePDF(w io.Writer, d Doc) error {
	inv := d.Invoice
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetProducer("Switchboard", true)
	pdf.SetTitle(fmt.Sprintf("Invoice %d", inv.Number), true)
	pdf.SetCreationDate(inv.IssuedAt)
	pdf.SetModificationDate(inv.IssuedAt)
	tr := pdf.UnicodeTranslatorFromDescriptor("") // core fonts are cp1252
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 10, tr(fmt.Sprintf("Invoice %d", inv.Number)), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range []string{
		"Issued by: " + d.Issuer.Name,
		"Customer: " + d.Customer.Name,
		"Period: " + inv.Period,
		"Issued: " + inv.IssuedAt.Format("2006-01-02"),
		"Currency: " + string(inv.Currency),
	} {
		pdf.CellFormat(0, 6, tr(l), "", 1, "L", false, 0, "")
	}
	pdf.Ln(4)
	widths := []float64{30, 80, 20, 25, 35}
	row := func(style string, cells ...string) {
		pdf.SetFont("Helvetica", style, 10)
		for i, c := range cells {
			align := "R"
			if i < 2 {
				align = "L"
			}
			pdf.CellFormat(widths[i], 7, tr(c), "B", 0, align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	row("B", "Item", "Description", "Count", "Minutes", "Amount")
	for _, l := range inv.Lines {
		if l.Kind == cdrstore.LinePayment {
			continue
		}
		count, mins := strconv.FormatInt(l.Count, 10), ""
		if l.Kind == cdrstore.LineCalls {
			mins = minutes(l.Seconds)
		}
		row("", l.Kind, l.Description, count, mins, amount(l.Amount))
	}
	pdf.Ln(2)
	total := func(label string, a money.Amount, style string) {
		pdf.SetFont("Helvetica", style, 10)
		pdf.CellFormat(widths[0]+widths[1]+widths[2]+widths[3], 7, tr(label), "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[4], 7, tr(amount(a)), "", 1, "R", false, 0, "")
	}
	total("Subtotal", inv.Subtotal, "")
	total("VAT "+inv.VATPercent.String()+" %", inv.VAT, "")
	total("Total "+string(inv.Currency), inv.Total, "B")
	payments := false
	for _, l := range inv.Lines {
		if l.Kind != cdrstore.LinePayment {
			continue
		}
		if !payments {
			pdf.Ln(4)
			row("B", "Payments received", "", "", "", "")
			payments = true
		}
		row("", l.Kind, l.Description, "", "", amount(l.Amount))
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("invoice %d: PDF: %w", inv.Number, err)
	}
	return nil
}

// CSVHeader is the CSV's header row.
var CSVHeader = []string{"invoice", "period", "currency", "kind", "description", "count", "seconds", "amount"}

// WriteCSV writes d as CSV: one row per line, then subtotal, vat and
// total rows (kind names them), amounts as exact decimals.
func WriteCSV(w io.Writer, d Doc) error {
	inv := d.Invoice
	cw := csv.NewWriter(w)
	num := strconv.FormatInt(inv.Number, 10)
	rec := func(kind, desc string, count, sec int64, a money.Amount) {
		cw.Write([]string{num, inv.Period, string(inv.Currency), kind, desc, //nolint:errcheck // Flush reports it
			strconv.FormatInt(count, 10), strconv.FormatInt(sec, 10), amount(a)})
	}
	cw.Write(CSVHeader) //nolint:errcheck // Flush reports it
	for _, l := range inv.Lines {
		rec(l.Kind, l.Description, l.Count, l.Seconds, l.Amount)
	}
	rec("subtotal", "", 0, 0, inv.Subtotal)
	rec("vat", inv.VATPercent.String()+" %", 0, 0, inv.VAT)
	rec("total", "", 0, 0, inv.Total)
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("invoice %d: CSV: %w", inv.Number, err)
	}
	return nil
}
