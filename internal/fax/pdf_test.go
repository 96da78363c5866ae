package fax

import (
	"bytes"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// poppler finds a poppler-utils tool, or skips the test: .ci/run installs
// the package, so a skip happens only on a machine without it.
func poppler(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s not found (Debian package poppler-utils)", tool)
	}
	return p
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

var testMeta = Meta{
	Title:   "Fax from +49 30 1234567 – Müller GmbH",
	Subject: "2 pages received on DID +49 30 7654321",
	Author:  "+49301234567",
	Creator: "Switchboard",
	Created: time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC),
}

// writePDF converts a fixture into a PDF file and returns its path.
func writePDF(t *testing.T, doc *Document) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fax.pdf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.WritePDF(f, testMeta); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfinfoLines keeps what the golden compares from pdfinfo: the document
// information and the page list; pdfimagesColumns the columns of
// pdfimages -list that do not depend on the zlib in use.
var (
	pdfinfoLines     = regexp.MustCompile(`(?m)^(Title|Subject|Author|Creator|Producer|CreationDate|Pages|Page +\d+ size):.*$`)
	pdfimagesColumns = []int{0, 2, 3, 4, 5, 6, 7, 12, 13}
)

// TestWritePDF reads the PDF of each fax back with poppler: its pages and
// their sizes in points and the document information against a golden
// file, every page image 1 bit deep at the page's resolution, and
// extracted by pdfimages, pixel for pixel the decoded page.
func TestWritePDF(t *testing.T) {
	pdfinfo, pdfimages := poppler(t, "pdfinfo"), poppler(t, "pdfimages")
	for _, name := range []string{"send-2p.tif", "2p.tif"} {
		t.Run(name, func(t *testing.T) {
			doc, _ := readFixture(t, name)
			path := writePDF(t, doc)
			n := len(doc.Pages)
			var got strings.Builder
			for _, l := range pdfinfoLines.FindAllString(run(t, pdfinfo, "-f", "1", "-l", fmt.Sprint(n), path), -1) {
				got.WriteString(l + "\n")
			}
			got.WriteString("\n")
			for _, l := range strings.Split(strings.TrimSpace(run(t, pdfimages, "-list", path)), "\n") {
				f := strings.Fields(l)
				if strings.HasPrefix(l, "---") || len(f) < 14 {
					continue
				}
				var keep []string
				for _, c := range pdfimagesColumns {
					keep = append(keep, f[c])
				}
				fmt.Fprintf(&got, "%s\n", strings.Join(keep, " "))
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".tif")+".pdf.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got.String() != string(want) {
				t.Errorf("pdfinfo and pdfimages -list:\n%s\nwant (%s):\n%s", got.String(), golden, want)
			}

			dir := t.TempDir()
			run(t, pdfimages, "-png", path, filepath.Join(dir, "img"))
			for i, p := range doc.Pages {
				img := readPNG(t, filepath.Join(dir, fmt.Sprintf("img-%03d.png", i)))
				if img.Bounds() != p.Image.Bounds() {
					t.Fatalf("page %d: image %v in the PDF, %v decoded", i+1, img.Bounds(), p.Image.Bounds())
				}
				for k, v := range p.Image.Pix {
					x, y := k%p.Image.Stride, k/p.Image.Stride
					if r, _, _, _ := img.At(x, y).RGBA(); (r >= 0x8000) != (v == 1) {
						t.Fatalf("page %d pixel (%d,%d): %v in the PDF, palette index %d decoded", i+1, x, y, img.At(x, y), v)
					}
				}
			}
		})
	}
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestPDFSize: the 2-page fine fax (29 KB of Group 4) stays a small PDF;
// an 8-bit image would take several times as much.
func TestPDFSize(t *testing.T) {
	doc, tiff := readFixture(t, "send-2p.tif")
	var buf bytes.Buffer
	if err := doc.WritePDF(&buf, testMeta); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 100<<10 {
		t.Errorf("PDF of %d bytes from a TIFF of %d, want under 100 KiB", buf.Len(), len(tiff))
	}
	t.Logf("TIFF %d bytes, PDF %d bytes", len(tiff), buf.Len())
}

// TestWritePDFInvalid: a Document built by hand without pages, image or
// resolution is refused, not written as a broken PDF.
func TestWritePDFInvalid(t *testing.T) {
	img := image.NewPaletted(image.Rect(0, 0, 8, 8), Palette)
	for _, c := range []struct {
		doc  Document
		want string
	}{
		{Document{}, "fax: no pages to write"},
		{Document{Pages: []Page{{DPIX: 204, DPIY: 196}}}, "fax: page 1 has no image or no resolution"},
		{Document{Pages: []Page{{Image: img, DPIX: 204, DPIY: 196}, {Image: img, DPIX: 204}}}, "fax: page 2 has no image"},
		{Document{Pages: []Page{{Image: image.NewPaletted(image.Rect(0, 0, 0, 8), Palette), DPIX: 204, DPIY: 196}}}, "fax: page 1 has no image"},
	} {
		if err := c.doc.WritePDF(io.Discard, Meta{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}

// BenchmarkSend2P measures what receiving a fax costs: the 2-page fine
// fax read, written as PDF, and both; pdf-bytes is the PDF's size.
func BenchmarkSend2P(b *testing.B) {
	doc, tiff := readFixture(b, "send-2p.tif")
	read := func(b *testing.B) *Document {
		d, err := ReadTIFF(bytes.NewReader(tiff), int64(len(tiff)))
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	write := func(b *testing.B, d *Document) {
		var buf bytes.Buffer
		if err := d.WritePDF(&buf, testMeta); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(buf.Len()), "pdf-bytes")
	}
	b.Run("ReadTIFF", func(b *testing.B) {
		for b.Loop() {
			read(b)
		}
	})
	b.Run("WritePDF", func(b *testing.B) {
		for b.Loop() {
			write(b, doc)
		}
	})
	b.Run("both", func(b *testing.B) {
		for b.Loop() {
			write(b, read(b))
		}
	})
}
