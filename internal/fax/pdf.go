package fax

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"io"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

// Meta is what the PDF's document information says about the fax; the
// caller words it (e.g. Title "Fax from +4930123456", Author the sender's
// number or station id, Created the time it was received).
type Meta struct {
	Title, Subject, Author, Creator string
	// Created is the PDF's creation and modification date; the zero time
	// leaves fpdf's default (now).
	Created time.Time
}

// WritePDF writes the document as a PDF: one page per fax page at the
// page's physical size (1728 pixels at 204 dpi make an 8.47 in wide page
// whatever the vertical resolution), the whole page one image. The image
// is the page's pixels as a 1-bit PNG, which PDF embeds as is (Flate with
// the PNG predictor), so nothing is lost and a fine A4 page takes some
// tens of kilobytes.
//
// fpdf (codeberg.org/go-pdf/fpdf, the maintained successor of
// jung-kurt/gofpdf and github.com/go-pdf/fpdf) writes the PDF: a PDF's
// cross-reference table, object numbering, info dictionary with UTF-16
// strings and image XObjects with the right DecodeParms are detail enough
// to not write by hand, and it is pure Go with no dependencies.
func (d *Document) WritePDF(w io.Writer, meta Meta) error {
	if len(d.Pages) == 0 {
		return errors.New("fax: no pages to write")
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{UnitStr: "pt"})
	pdf.SetProducer("Switchboard", true)
	pdf.SetTitle(meta.Title, true)
	pdf.SetSubject(meta.Subject, true)
	pdf.SetAuthor(meta.Author, true)
	pdf.SetCreator(meta.Creator, true)
	if !meta.Created.IsZero() {
		pdf.SetCreationDate(meta.Created)
		pdf.SetModificationDate(meta.Created)
	}
	pdf.SetMargins(0, 0, 0)
	pdf.SetAutoPageBreak(false, 0)
	// BestCompression saves 9% on a fine page and takes 5 times as long
	// (BenchmarkSend2P: 57 against 63 KB, 290 against 60 ms for 2 pages).
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	var buf bytes.Buffer
	for i, p := range d.Pages {
		// A Document from ReadTIFF always passes; one built by hand may not.
		if p.Image == nil || p.Image.Bounds().Empty() || !(p.DPIX > 0 && p.DPIY > 0) {
			return fmt.Errorf("fax: page %d has no image or no resolution", i+1)
		}
		wIn, hIn := p.SizeInches()
		size := fpdf.SizeType{Wd: wIn * 72, Ht: hIn * 72}
		pdf.AddPageFormat("P", size)
		buf.Reset()
		if err := enc.Encode(&buf, p.Image); err != nil {
			return fmt.Errorf("fax: page %d: %w", i+1, err)
		}
		name := fmt.Sprintf("page%d", i+1)
		opt := fpdf.ImageOptions{ImageType: "PNG"}
		pdf.RegisterImageOptionsReader(name, opt, &buf)
		pdf.ImageOptions(name, 0, 0, size.Wd, size.Ht, false, opt, 0, "")
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("fax: writing the PDF: %w", err)
	}
	return nil
}
