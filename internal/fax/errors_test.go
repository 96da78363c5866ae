package fax

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
)

// tiffTag is one IFD entry for buildTIFF: SHORT (3), LONG (4) or
// RATIONAL (5, vals as numerator, denominator pairs).
type tiffTag struct {
	tag, typ uint16
	vals     []uint32
}

// testPage is one page for buildTIFF: its tags, and its one strip, whose
// StripOffsets and StripByteCounts buildTIFF adds unless the tags have
// them.
type testPage struct {
	tags  []tiffTag
	strip []byte
}

// bilevel gives the tags of a w×h uncompressed bilevel page at fine
// resolution.
func bilevel(w, h, compression uint32) []tiffTag {
	return []tiffTag{
		{tagImageWidth, 4, []uint32{w}}, {tagImageLength, 4, []uint32{h}},
		{tagCompression, 3, []uint32{compression}}, {tagPhotometric, 3, []uint32{0}},
		{tagXResolution, 5, []uint32{204, 1}}, {tagYResolution, 5, []uint32{196, 1}},
	}
}

// buildTIFF writes a little-endian TIFF: the header, then per page its
// strip, the values that do not fit an entry and the IFD. nextIFD, when
// not nil, replaces the last IFD's link (to make loops).
func buildTIFF(pages []testPage, nextIFD func(ifdOffsets []uint32) uint32) []byte {
	le := binary.LittleEndian
	b := []byte("II*\x00\x00\x00\x00\x00")
	link := 4 // where the offset of the next IFD goes
	var ifds []uint32
	for _, p := range pages {
		stripAt := uint32(len(b))
		b = append(b, p.strip...)
		tags := p.tags
		has := map[uint16]bool{}
		for _, t := range tags {
			has[t.tag] = true
		}
		if !has[tagStripOffsets] {
			tags = append(tags, tiffTag{tagStripOffsets, 4, []uint32{stripAt}})
		}
		if !has[tagStripByteCounts] {
			tags = append(tags, tiffTag{tagStripByteCounts, 4, []uint32{uint32(len(p.strip))}})
		}
		type valueAt struct {
			entry int
			data  []byte
		}
		var entries []byte
		var outside []valueAt
		for i, t := range tags {
			var v []byte
			for _, x := range t.vals {
				if t.typ == 3 {
					v = le.AppendUint16(v, uint16(x))
				} else {
					v = le.AppendUint32(v, x)
				}
			}
			count := len(t.vals)
			if t.typ == 5 {
				count /= 2
			}
			e := le.AppendUint16(le.AppendUint16(nil, t.tag), t.typ)
			e = le.AppendUint32(e, uint32(count))
			if len(v) <= 4 {
				e = append(e, append(v, make([]byte, 4-len(v))...)...)
			} else {
				e = append(e, 0, 0, 0, 0)
				outside = append(outside, valueAt{i, v})
			}
			entries = append(entries, e...)
		}
		for _, o := range outside {
			le.PutUint32(entries[o.entry*12+8:], uint32(len(b)))
			b = append(b, o.data...)
		}
		at := uint32(len(b))
		ifds = append(ifds, at)
		le.PutUint32(b[link:], at)
		b = le.AppendUint16(b, uint16(len(tags)))
		b = append(b, entries...)
		link = len(b)
		b = append(b, 0, 0, 0, 0)
	}
	if nextIFD != nil {
		le.PutUint32(b[link:], nextIFD(ifds))
	}
	return b
}

// withTag returns tags with tag set to vals (replaced or added).
func withTag(tags []tiffTag, tag, typ uint16, vals ...uint32) []tiffTag {
	out := []tiffTag{{tag, typ, vals}}
	for _, t := range tags {
		if t.tag != tag {
			out = append(out, t)
		}
	}
	return out
}

// TestBuildTIFF: the builder makes TIFFs libtiff's way, so the error
// cases below differ from a good file only in what they name.
func TestBuildTIFF(t *testing.T) {
	row := []byte{0xF0} // 4 black then 4 white
	b := buildTIFF([]testPage{{bilevel(8, 1, compressionNone), row}, {bilevel(8, 1, compressionNone), row}}, nil)
	doc, err := ReadTIFF(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Pages) != 2 || !bytes.Equal(doc.Pages[1].Image.Pix, []byte{0, 0, 0, 0, 1, 1, 1, 1}) {
		t.Fatalf("%d pages, page 2 %v", len(doc.Pages), doc.Pages[len(doc.Pages)-1].Image.Pix)
	}
}

// TestReadTIFFErrors: each bad input gives an error wrapping ErrFormat
// that names what is wrong.
func TestReadTIFFErrors(t *testing.T) {
	g4, err := os.ReadFile("testdata/g4.tif")
	if err != nil {
		t.Fatal(err)
	}
	row := []byte{0xF0}
	page := func(tags []tiffTag) []byte { return buildTIFF([]testPage{{tags, row}}, nil) }
	ok := bilevel(8, 1, compressionNone)
	many := make([]testPage, 4)
	for i := range many {
		many[i] = testPage{ok, row}
	}
	offsets, counts, _ := stripsOf(t, g4)
	g4StripZeroed := bytes.Clone(g4)
	clear(g4StripZeroed[offsets[2] : offsets[2]+counts[2]])
	allWhiteG4 := bytes.Repeat([]byte{0xFF}, 100/8) // V0 on every row: 100 white rows

	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "not a TIFF (0 bytes)"},
		{"text", []byte("Hello, this is a fax"), "not a TIFF (header 48 65 6c 6c)"},
		{"bigtiff", []byte("II+\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "BigTIFF is not supported"},
		{"no pages", []byte("II*\x00\x00\x00\x00\x00"), "no pages"},
		{"IFD past the end", []byte("II*\x00\x00\x01\x00\x00"), "page 1: IFD: 2 bytes at 256 past the end"},
		{"lzw", page(withTag(ok, tagCompression, 3, 5)), "page 1: unsupported compression 5"},
		{"jpeg", page(withTag(ok, tagCompression, 3, 7)), "unsupported compression 7"},
		{"g3 uncompressed mode", page(withTag(withTag(ok, tagCompression, 3, 3), tagT4Options, 4, 2)), "Group 3 uncompressed mode is not supported"},
		{"grey", page(withTag(ok, tagBitsPerSample, 3, 8)), "not bilevel: 1 samples of 8 bits per pixel"},
		{"rgb", page(withTag(ok, tagSamplesPerPixel, 3, 3)), "not bilevel: 3 samples of 1 bits"},
		{"palette", page(withTag(ok, tagPhotometric, 3, 3)), "unsupported PhotometricInterpretation 3"},
		{"fill order", page(withTag(ok, tagFillOrder, 3, 3)), "unsupported FillOrder 3"},
		{"no width", page(withTag(ok, tagImageWidth, 4, 0)), "image of 0 × 1 pixels"},
		{"too wide", page(withTag(ok, tagImageWidth, 4, 20000)), "page too large: 20000 × 1 pixels (limit 10000 × 10000)"},
		{"too long", page(withTag(ok, tagImageLength, 4, 1<<31)), "page too large: 8 × 2147483648 pixels"},
		{"tiled", page(withTag(ok, tagTileWidth, 4, 16)), "tiled images are not supported"},
		{"rows per strip 0", page(withTag(ok, tagRowsPerStrip, 4, 0)), "RowsPerStrip is 0"},
		{"missing strips", page(withTag(withTag(ok, tagImageLength, 4, 4), tagRowsPerStrip, 4, 2)), "4 rows in strips of 2 need 2 strips, StripOffsets has 1"},
		{"strip past the end", page(withTag(ok, tagStripOffsets, 4, 1000)), "truncated strip 0: 1 bytes at 1000 past the end"},
		{"strip longer than the file", page(withTag(ok, tagStripByteCounts, 4, 1<<32-1)), "truncated strip 0: strips of 4294967295 bytes"},
		{"short strip", page(withTag(ok, tagImageLength, 4, 2)), "strip 0: truncated: 1 bytes for 2 rows of 1"},
		{"packbits short", buildTIFF([]testPage{{bilevel(8, 3, compressionPackBits), []byte{0x00, 0xF0}}}, nil), "strip 0: truncated: 1 of 3 bytes"},
		{"packbits repeat", page(withTag(ok, tagCompression, 3, compressionPackBits)), "strip 0: repeat run past the end of the strip"},
		{"packbits literal", buildTIFF([]testPage{{bilevel(8, 3, compressionPackBits), []byte{0x05, 0xF0}}}, nil), "strip 0: literal run past the end of the strip"},
		{"bad g4", buildTIFF([]testPage{{bilevel(8, 4, compressionG4), []byte{0, 0, 0, 0}}}, nil), "strip 0: ccitt: invalid code"},
		{"bad g3", buildTIFF([]testPage{{bilevel(8, 4, compressionG3), []byte{0x00, 0x10, 0, 0, 0, 0}}}, nil), "strip 0: row 0: invalid code"},
		{"g3 run past the row", buildTIFF([]testPage{{bilevel(8, 1, compressionG3), []byte{0x00, 0x1A, 0x00}}}, nil), "strip 0: row 0: run longer than the row"},
		{"g3 ends early", buildTIFF([]testPage{{bilevel(8, 2, compressionG3), []byte{0x00, 0x19, 0x80}}}, nil), "strip 0: row 1: data ends inside a row"},
		{"resolution", page(withTag(ok, tagXResolution, 5, 1, 1)), "implausible resolution 1 × 196 dpi"},
		{"resolution unit", page(withTag(ok, tagResolutionUnit, 3, 9)), "unsupported ResolutionUnit 9"},
		{"resolution type", page(withTag(ok, tagXResolution, 3, 204)), "tag 282 has type 3, not a rational"},
		{"width type", page(withTag(ok, tagImageWidth, 5, 8, 1)), "tag 256 has type 5, not an integer"},
		{"huge array", page(withTag(ok, tagStripOffsets, 4, make([]uint32, 10001)...)), "tag 273 has 10001 values (limit 10000)"},
		{"loop", buildTIFF(many, func(ifds []uint32) uint32 { return ifds[1] }), "IFD at"},
		{"g4 cut", g4[:len(g4)/2], "page 1: IFD"},
		{"g4 strip zeroed", g4StripZeroed, "page 1: strip 2: ccitt: invalid code"},
		{"g4 all white but 100 rows", buildTIFF([]testPage{{bilevel(8, 200, compressionG4), allWhiteG4}}, nil), "strip 0:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, err := ReadTIFF(bytes.NewReader(c.in), int64(len(c.in)))
			if err == nil {
				t.Fatalf("no error, %d pages", len(doc.Pages))
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want ErrFormat and %q", err, c.want)
			}
		})
	}
}

// TestLimits: ReadTIFF stops at the page and pixel limits before
// decoding (or allocating) the page over them.
func TestLimits(t *testing.T) {
	saved := limits
	t.Cleanup(func() { limits = saved })
	row := []byte{0xF0}
	pages := make([]testPage, 5)
	for i := range pages {
		pages[i] = testPage{bilevel(8, 1, compressionNone), row}
	}
	b := buildTIFF(pages, nil)
	read := func() error {
		_, err := ReadTIFF(bytes.NewReader(b), int64(len(b)))
		return err
	}

	limits.pages = 5
	if err := read(); err != nil {
		t.Fatalf("5 pages with a limit of 5: %v", err)
	}
	limits.pages = 4
	if err := read(); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "more than 4 pages") {
		t.Fatalf("5 pages with a limit of 4: %v", err)
	}
	limits.pages = MaxPages
	limits.pixels = 4*8 + 7
	if err := read(); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "page 5: document too large: over 39 pixels") {
		t.Fatalf("40 pixels with a limit of 39: %v", err)
	}

	// A bomb: 200 bytes of Group 4 claiming 10000 × 10000 white pixels
	// per page is refused at the page dimensions with a lower limit.
	limits = saved
	limits.width, limits.height = 1000, 1000
	white := bytes.Repeat([]byte{0xFF}, 10000/8)
	bomb := buildTIFF([]testPage{{bilevel(10000, 10000, compressionG4), white}}, nil)
	if _, err := ReadTIFF(bytes.NewReader(bomb), int64(len(bomb))); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "page too large: 10000 × 10000") {
		t.Fatalf("bomb: %v", err)
	}
	limits = saved
	small := buildTIFF([]testPage{{bilevel(1000, 1000, compressionG4), white[:1000/8]}}, nil)
	doc, err := ReadTIFF(bytes.NewReader(small), int64(len(small)))
	if err != nil || len(doc.Pages[0].Image.Pix) != 1000*1000 {
		t.Fatalf("1000 V0 codes as 1000 white rows: %v", err)
	}
}
