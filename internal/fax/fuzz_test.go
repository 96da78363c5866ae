package fax

import (
	"bytes"
	"errors"
	"image"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/ccitt"
)

// FuzzReadTIFF: no input makes ReadTIFF panic, every error wraps
// ErrFormat, and what it returns respects the limits (lowered here so
// that one run does not allocate 100-megapixel pages, still above the
// seeds' 1728 × 160) and is well formed.
// Run it with -fuzzminimizetime of a few seconds: the default 60 s of
// minimizing each new input leaves a short run doing little else.
// Seeds: the fixtures under 8 KB (every compression and variant; the
// fuzzer minimizes each new input byte by byte, which on the 30 KB
// full-page faxes stalls it for minutes) and a few built files.
func FuzzReadTIFF(f *testing.F) {
	files, err := filepath.Glob("testdata/*.tif")
	if err != nil || len(files) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) < 8<<10 {
			f.Add(b)
		}
	}
	row := []byte{0xF0}
	f.Add(buildTIFF([]testPage{{bilevel(8, 1, compressionNone), row}, {bilevel(8, 1, compressionPackBits), []byte{0, 0xF0}}}, nil))
	f.Add(buildTIFF([]testPage{{bilevel(16, 16, compressionG4), bytes.Repeat([]byte{0xFF}, 2)}}, nil))
	f.Add(buildTIFF([]testPage{{withTag(bilevel(8, 1, compressionG3), tagT4Options, 4, 5), []byte{0x00, 0x1C, 0xC0}}}, nil))

	saved := limits
	defer func() { limits = saved }()
	limits.width, limits.height, limits.pages, limits.pixels = 2000, 2000, 20, 1<<22

	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := ReadTIFF(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %q does not wrap ErrFormat", err)
			}
			return
		}
		if len(doc.Pages) == 0 || len(doc.Pages) > limits.pages {
			t.Fatalf("%d pages (limit %d)", len(doc.Pages), limits.pages)
		}
		pixels := 0
		for i, p := range doc.Pages {
			b := p.Image.Bounds()
			if b.Dx() < 1 || b.Dy() < 1 || b.Dx() > limits.width || b.Dy() > limits.height {
				t.Fatalf("page %d: %v", i+1, b)
			}
			if p.Image.Stride != b.Dx() || len(p.Image.Pix) != b.Dx()*b.Dy() {
				t.Fatalf("page %d: stride %d, %d pixels for %v", i+1, p.Image.Stride, len(p.Image.Pix), b)
			}
			for _, v := range p.Image.Pix {
				if v > 1 {
					t.Fatalf("page %d: palette index %d", i+1, v)
				}
			}
			if p.DPIX < 50 || p.DPIY < 50 || p.DPIX > 4800 || p.DPIY > 4800 {
				t.Fatalf("page %d: %g × %g dpi", i+1, p.DPIX, p.DPIY)
			}
			pixels += len(p.Image.Pix)
		}
		if pixels > limits.pixels {
			t.Fatalf("%d pixels (limit %d)", pixels, limits.pixels)
		}
	})
}

// FuzzT4AgainstXImage decodes the same bits with the decoder here and
// with x/image/ccitt, as Group 4 (2-D rows, the code Group 3 2-D shares)
// or as Group 3 1-D without fill bits, the two modes both read; where both
// succeed the pixels must be the same.
func FuzzT4AgainstXImage(f *testing.F) {
	g4, err := os.ReadFile("testdata/g4-strips.tif")
	if err != nil {
		f.Fatal(err)
	}
	g3, err := os.ReadFile("testdata/g3-1d.tif")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(g4[8:400], uint16(1728), uint8(8), false) // inside the first strip
	f.Add(g3[8:400], uint16(1728), uint8(4), true)
	f.Add([]byte{0xFF, 0xFF}, uint16(16), uint8(16), false)
	f.Fuzz(func(t *testing.T, data []byte, width uint16, rows uint8, oneD bool) {
		w, h := int(width%4096)+1, int(rows%64)+1
		ours := make([]byte, w*h)
		var errOurs error
		sf := ccitt.Group4
		if oneD {
			sf = ccitt.Group3
			errOurs = decodeT4(data, w, h, false, ours)
		} else {
			r, ref := newBitReader(data), make([]byte, w)
			for y := 0; y < h && errOurs == nil; y++ {
				row := ours[y*w : (y+1)*w]
				errOurs = r.decodeRow2D(row, ref)
				ref = row
			}
		}
		gray := image.NewGray(image.Rect(0, 0, w, h))
		errX := ccitt.DecodeIntoGray(gray, bytes.NewReader(data), ccitt.MSB, sf, nil)
		if errOurs != nil || errX != nil {
			return
		}
		for i, v := range gray.Pix {
			if ours[i] != ^v&1 {
				t.Fatalf("%d×%d: pixel (%d,%d): x/image %#x, here %d", w, h, i%w, i/w, v, ours[i])
			}
		}
	})
}
