package fax

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"image"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/image/ccitt"
)

// The fixtures in testdata, and how each was made (libtiff 4.5 tools):
//
//	send-2p.tif   the 2-page fine fax from /opt/src/media-notes/fax: ITU
//	              test charts 1 and 2, 1728×2376, 204×196 dpi, Group 4.
//	p1-g3-2d.tif  its page 1 alone as Group 3 2-D with fill bits (p1.tif
//	              there).
//
// The rest are one crop of page 1 of send-2p.tif, 1728×160 (the
// letterhead), made with
//
//	tiffcp send-2p.tif,0 p1.tif
//	tiffcrop -U px -z 1,121,1728,280 p1.tif crop.tif
//	tiffcp -c none crop.tif W.tif
//
// then tiffcp from W.tif (tiffcp writes strips of 37 rows unless -r):
//
//	g4.tif                 -c g4
//	g4-strips.tif          -c g4 -r 32
//	g4-be.tif              -B -c g4                (big-endian)
//	g4-lsb.tif             -f lsb2msb -c g4        (FillOrder 2)
//	g3-1d.tif              -c g3:1d
//	g3-1d-fill.tif         -c g3:1d:fill
//	g3-2d.tif              -c g3:2d
//	g3-2d-fill-lsb-be.tif  -B -f lsb2msb -c g3:2d:fill -r 40
//	none-be.tif            -B -c none -r 64
//	packbits.tif           -c packbits
//	packbits-lsb.tif       -f lsb2msb -c packbits -r 50
//	g4-minisblack.tif      g4.tif, then tiffset -s 262 1 (the same codes
//	                       now mean the inverse image)
//
// and at normal resolution, every second row of W.tif (a Python slice
// written as PBM, then ppm2tiff -c none -R 204 and tiffset -s 283 98 into
// N.tif, 1728×80 at 204×98 dpi):
//
//	normal-g3.tif          tiffcp -c g3:1d:fill N.tif
//	normal-g3-cm.tif       normal-g3.tif, then tiffset -s 282 80, -s 283
//	                       38.5, -s 296 3 (pixels per centimetre)
//	normal-minisblack.tif  tiffcp -c none -r 80 N.tif, strip bytes
//	                       inverted and PhotometricInterpretation set to 1
//	                       (the same picture)
//	2p.tif                 tiffcp g4.tif normal-g3.tif (two pages, two
//	                       resolutions)
//
// The expected pixels are libtiff's: tiffcp -f msb2lsb -c none of each
// fixture, then /opt/src/media-notes/fax/tiffpages.py (SHA-1 of the rows
// of bits as min-is-white, 1 = black, and the count of black pixels).

type wantPage struct {
	w, h       int
	dpiX, dpiY float64
	sha1       string
	black      int
}

var (
	crop = wantPage{1728, 160, 204, 196, "4d9e35a059d69493dbb017c4e14dfce3bb534216", 19206}
	// cropInverse is crop with PhotometricInterpretation 1.
	cropInverse = wantPage{1728, 160, 204, 196, "a93c774f288c68d459ae2612482bd24f73e9ad03", 257274}
	cropNormal  = wantPage{1728, 80, 204, 98, "7dea2c4357579e63eb56ff2b16a5606179acf2a4", 9479}
	chart1      = wantPage{1728, 2376, 204, 196, "7f65c44c37b9284691e3d85f86da20237fc2b089", 155591}
	chart2      = wantPage{1728, 2376, 204, 196, "fc0b9db4269f658941c5623351edf0bb675420f5", 184240}
)

var fixtures = []struct {
	file  string
	pages []wantPage
}{
	{"send-2p.tif", []wantPage{chart1, chart2}},
	{"p1-g3-2d.tif", []wantPage{chart1}},
	{"g4.tif", []wantPage{crop}},
	{"g4-strips.tif", []wantPage{crop}},
	{"g4-be.tif", []wantPage{crop}},
	{"g4-lsb.tif", []wantPage{crop}},
	{"g3-1d.tif", []wantPage{crop}},
	{"g3-1d-fill.tif", []wantPage{crop}},
	{"g3-2d.tif", []wantPage{crop}},
	{"g3-2d-fill-lsb-be.tif", []wantPage{crop}},
	{"none-be.tif", []wantPage{crop}},
	{"packbits.tif", []wantPage{crop}},
	{"packbits-lsb.tif", []wantPage{crop}},
	{"g4-minisblack.tif", []wantPage{cropInverse}},
	{"normal-g3.tif", []wantPage{cropNormal}},
	{"normal-g3-cm.tif", []wantPage{{1728, 80, 203.2, 97.79, cropNormal.sha1, cropNormal.black}}},
	{"normal-minisblack.tif", []wantPage{cropNormal}},
	{"2p.tif", []wantPage{crop, cropNormal}},
}

// readFixture reads testdata/name and parses it.
func readFixture(t testing.TB, name string) (*Document, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ReadTIFF(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc, b
}

// minIsWhiteBits packs a page as tiffpages.py hashes it: rows of bits,
// 1 = black, each row padded to a byte.
func minIsWhiteBits(img *image.Paletted) (bits []byte, black int) {
	b := img.Bounds()
	stride := (b.Dx() + 7) / 8
	bits = make([]byte, stride*b.Dy())
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			if img.Pix[y*img.Stride+x] == 0 {
				bits[y*stride+x/8] |= 0x80 >> (x % 8)
				black++
			}
		}
	}
	return bits, black
}

// TestReadTIFF decodes every fixture and checks each page against
// libtiff's decode, its resolution and its physical size.
func TestReadTIFF(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			doc, _ := readFixture(t, f.file)
			if len(doc.Pages) != len(f.pages) {
				t.Fatalf("%d pages, want %d", len(doc.Pages), len(f.pages))
			}
			for i, want := range f.pages {
				p := doc.Pages[i]
				if b := p.Image.Bounds(); b.Dx() != want.w || b.Dy() != want.h {
					t.Errorf("page %d: %v, want %d×%d", i+1, b, want.w, want.h)
				}
				if math.Abs(p.DPIX-want.dpiX) > 0.01 || math.Abs(p.DPIY-want.dpiY) > 0.01 {
					t.Errorf("page %d: %.2f×%.2f dpi, want %.2f×%.2f", i+1, p.DPIX, p.DPIY, want.dpiX, want.dpiY)
				}
				wIn, hIn := p.SizeInches()
				if math.Abs(wIn-float64(want.w)/want.dpiX) > 0.001 || math.Abs(hIn-float64(want.h)/want.dpiY) > 0.001 {
					t.Errorf("page %d: %.3f × %.3f in", i+1, wIn, hIn)
				}
				bits, black := minIsWhiteBits(p.Image)
				sum := sha1.Sum(bits)
				if got := hex.EncodeToString(sum[:]); got != want.sha1 || black != want.black {
					t.Errorf("page %d: sha1 %s with %d black pixels, libtiff decodes %s with %d", i+1, got, black, want.sha1, want.black)
				}
			}
		})
	}
}

// TestPhysicalSize: a fax page 1728 pixels wide at 204 dpi is 8.47 in
// wide (A4 and Letter faxes alike), and 2376 fine lines are 12.12 in.
func TestPhysicalSize(t *testing.T) {
	doc, _ := readFixture(t, "send-2p.tif")
	for i, p := range doc.Pages {
		w, h := p.SizeInches()
		if math.Abs(w-8.47) > 0.005 || math.Abs(h-12.12) > 0.005 {
			t.Errorf("page %d: %.3f × %.3f in, want 8.47 × 12.12", i+1, w, h)
		}
	}
	normal, _ := readFixture(t, "normal-g3.tif")
	fine, _ := readFixture(t, "g4.tif")
	_, hn := normal.Pages[0].SizeInches()
	_, hf := fine.Pages[0].SizeInches()
	if math.Abs(hn-hf) > 0.01 {
		t.Errorf("the normal-resolution crop is %.3f in high, the fine one %.3f: same paper, want the same", hn, hf)
	}
}

// TestCompressionsAgree: every compression of the same page decodes to
// the same pixels, byte for byte (the Group 3 decoder here against the
// x/image Group 4 one, both against uncompressed and PackBits).
func TestCompressionsAgree(t *testing.T) {
	for _, set := range [][]string{
		{"g4.tif", "g4-strips.tif", "g4-be.tif", "g4-lsb.tif", "g3-1d.tif", "g3-1d-fill.tif", "g3-2d.tif",
			"g3-2d-fill-lsb-be.tif", "none-be.tif", "packbits.tif", "packbits-lsb.tif"},
		{"normal-g3.tif", "normal-g3-cm.tif", "normal-minisblack.tif"},
	} {
		ref, _ := readFixture(t, set[0])
		for _, name := range set[1:] {
			doc, _ := readFixture(t, name)
			if !bytes.Equal(doc.Pages[0].Image.Pix, ref.Pages[0].Image.Pix) {
				t.Errorf("%s decodes differently from %s", name, set[0])
			}
		}
	}
	g4, _ := readFixture(t, "send-2p.tif")
	g3, _ := readFixture(t, "p1-g3-2d.tif")
	if !bytes.Equal(g4.Pages[0].Image.Pix, g3.Pages[0].Image.Pix) {
		t.Error("chart 1 as Group 3 2-D decodes differently from Group 4")
	}
	inv, _ := readFixture(t, "g4-minisblack.tif")
	base, _ := readFixture(t, "g4.tif")
	for i, v := range inv.Pages[0].Image.Pix {
		if v == base.Pages[0].Image.Pix[i] {
			t.Fatalf("pixel %d: PhotometricInterpretation 1 did not invert the image", i)
		}
	}
}

// TestGroup3AgainstXImage decodes the strips of the one Group 3 variant
// x/image/ccitt can read (1-D, no fill bits) with both decoders.
func TestGroup3AgainstXImage(t *testing.T) {
	b, err := os.ReadFile("testdata/g3-1d.tif")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := readFixture(t, "g3-1d.tif")
	offsets, counts, rps := stripsOf(t, b)
	const w, h = 1728, 160
	for i := range offsets {
		rows := min(int(rps), h-i*int(rps))
		data := b[offsets[i] : offsets[i]+counts[i]]
		ours := make([]byte, w*rows)
		if err := decodeT4(data, w, rows, false, ours); err != nil {
			t.Fatalf("strip %d: %v", i, err)
		}
		gray := image.NewGray(image.Rect(0, 0, w, rows))
		if err := ccitt.DecodeIntoGray(gray, bytes.NewReader(data), ccitt.MSB, ccitt.Group3, nil); err != nil {
			t.Fatalf("strip %d: x/image: %v", i, err)
		}
		for k, v := range gray.Pix {
			if ours[k] != ^v&1 {
				t.Fatalf("strip %d pixel %d: x/image %#x, here %d", i, k, v, ours[k])
			}
		}
		page := doc.Pages[0].Image.Pix[i*int(rps)*w:]
		for k, v := range ours {
			if page[k] != v^1 {
				t.Fatalf("strip %d pixel %d differs from the page ReadTIFF made", i, k)
			}
		}
	}
}

// stripsOf gives the strips of a TIFF's first page and its RowsPerStrip.
func stripsOf(t *testing.T, b []byte) (offsets, counts []uint32, rowsPerStrip uint32) {
	t.Helper()
	tr := &tiffReader{r: bytes.NewReader(b), size: int64(len(b)), bo: byteOrder(b)}
	ifd, _, err := tr.readIFD(int64(tr.bo.Uint32(b[4:])))
	if err != nil {
		t.Fatal(err)
	}
	offsets, err1 := tr.uints(ifd, tagStripOffsets)
	counts, err2 := tr.uints(ifd, tagStripByteCounts)
	rowsPerStrip, err3 := tr.uint(ifd, tagRowsPerStrip, 0)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	return offsets, counts, rowsPerStrip
}

// TestLibTIFFDecode has libtiff's tiffcp uncompress every fixture now and
// compares (the constants above were made the same way once).
func TestLibTIFFDecode(t *testing.T) {
	tiffcp, err := exec.LookPath("tiffcp")
	if err != nil {
		t.Skip("tiffcp not found (Debian package libtiff-tools)")
	}
	dir := t.TempDir()
	for _, f := range fixtures {
		out := filepath.Join(dir, f.file)
		if b, err := exec.Command(tiffcp, "-f", "msb2lsb", "-c", "none", filepath.Join("testdata", f.file), out).CombinedOutput(); err != nil {
			t.Fatalf("tiffcp %s: %v\n%s", f.file, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lib, err := ReadTIFF(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("%s uncompressed by libtiff: %v", f.file, err)
		}
		doc, _ := readFixture(t, f.file)
		for i := range doc.Pages {
			if !bytes.Equal(doc.Pages[i].Image.Pix, lib.Pages[i].Image.Pix) {
				t.Errorf("%s page %d: pixels differ from libtiff's", f.file, i+1)
			}
		}
	}
}
