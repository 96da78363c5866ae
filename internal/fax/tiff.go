package fax

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// ErrFormat is wrapped by every error ReadTIFF returns: the input is not a
// fax TIFF this package can read, and the message says why (not a TIFF,
// unsupported compression, truncated strip, over a limit...).
var ErrFormat = errors.New("fax: bad TIFF")

// Limits against decompression bombs: a few hundred bytes of Group 4 can
// claim pages of any size, so ReadTIFF checks every page's dimensions
// before allocating and stops at the first page over a limit. A fax page
// is 1728 (A4, Letter) to 2432 (A3) pixels wide and at most about 4700
// lines long at superfine resolution (391 lpi).
const (
	MaxWidth  = 10000
	MaxHeight = 10000
	MaxPages  = 200
	// MaxPixels bounds the pixels of all pages together (a page holds one
	// byte per pixel): 256 MiB, about 65 A4 pages at fine resolution or
	// 130 at normal.
	MaxPixels = 1 << 28
)

// limits are the limits ReadTIFF applies: the constants above, lowered by
// tests to reach them with small inputs.
var limits = struct{ width, height, pages, pixels int }{MaxWidth, MaxHeight, MaxPages, MaxPixels}

// Document is a fax as read from its TIFF: its pages in order.
type Document struct {
	Pages []Page
}

// Page is one page of a fax. Image has the two-colour Palette (index 0
// black, 1 white) so that image/png writes it with one bit per pixel; DPIX
// and DPIY give its physical size, which differs across and down on a fax
// (204 × 98 dpi normal, 204 × 196 fine).
type Page struct {
	Image      *image.Paletted
	DPIX, DPIY float64
}

// Palette is the colours of every Page.Image.
var Palette = color.Palette{color.Gray{Y: 0}, color.Gray{Y: 255}}

// SizeInches is the page's physical width and height.
func (p Page) SizeInches() (w, h float64) {
	b := p.Image.Bounds()
	return float64(b.Dx()) / p.DPIX, float64(b.Dy()) / p.DPIY
}

// TIFF tags and values read here (TIFF 6.0 and its Class F section).
const (
	tagImageWidth      = 256
	tagImageLength     = 257
	tagBitsPerSample   = 258
	tagCompression     = 259
	tagPhotometric     = 262
	tagFillOrder       = 266
	tagStripOffsets    = 273
	tagSamplesPerPixel = 277
	tagRowsPerStrip    = 278
	tagStripByteCounts = 279
	tagXResolution     = 282
	tagYResolution     = 283
	tagT4Options       = 292
	tagResolutionUnit  = 296
	tagTileWidth       = 322

	compressionNone     = 1
	compressionG3       = 3
	compressionG4       = 4
	compressionPackBits = 32773

	t4Option2D           = 1
	t4OptionUncompressed = 2
)

// Default resolution when a TIFF gives none or gives only the aspect
// ratio (ResolutionUnit 1): fax fine, the most common.
const (
	defaultDPIX = 204
	defaultDPIY = 196
)

// maxArray bounds the length of a tag's array (strip offsets and counts):
// a strip holds at least one row.
const maxArray = MaxHeight

// ReadTIFF reads every page of a bilevel fax TIFF. It takes an
// io.ReaderAt and the size because a TIFF is read by offsets, and the size
// lets every offset be checked before anything is read or allocated.
func ReadTIFF(r io.ReaderAt, size int64) (*Document, error) {
	t := &tiffReader{r: r, size: size}
	var hdr [8]byte
	if err := t.readAt(hdr[:], 0); err != nil {
		return nil, fmt.Errorf("%w: not a TIFF (%d bytes)", ErrFormat, size)
	}
	if t.bo = byteOrder(hdr[:]); t.bo == nil {
		if string(hdr[:4]) == "II+\x00" || string(hdr[:4]) == "MM\x00+" {
			return nil, fmt.Errorf("%w: BigTIFF is not supported", ErrFormat)
		}
		return nil, fmt.Errorf("%w: not a TIFF (header % x)", ErrFormat, hdr[:4])
	}
	doc := &Document{}
	seen := map[int64]bool{}
	pixels := 0
	for off := int64(t.bo.Uint32(hdr[4:])); off != 0; {
		if len(doc.Pages) == limits.pages {
			return nil, fmt.Errorf("%w: more than %d pages", ErrFormat, limits.pages)
		}
		if seen[off] {
			return nil, fmt.Errorf("%w: IFD at %d loops back", ErrFormat, off)
		}
		seen[off] = true
		ifd, next, err := t.readIFD(off)
		if err != nil {
			return nil, fmt.Errorf("%w: page %d: %w", ErrFormat, len(doc.Pages)+1, err)
		}
		p, err := t.readPage(ifd, limits.pixels-pixels)
		if err != nil {
			return nil, fmt.Errorf("%w: page %d: %w", ErrFormat, len(doc.Pages)+1, err)
		}
		pixels += len(p.Image.Pix)
		doc.Pages = append(doc.Pages, p)
		off = next
	}
	if len(doc.Pages) == 0 {
		return nil, fmt.Errorf("%w: no pages", ErrFormat)
	}
	return doc, nil
}

// byteOrder reads a classic TIFF header's byte order, nil if it is none.
func byteOrder(hdr []byte) binary.ByteOrder {
	switch string(hdr[:4]) {
	case "II*\x00":
		return binary.LittleEndian
	case "MM\x00*":
		return binary.BigEndian
	}
	return nil
}

type tiffReader struct {
	r    io.ReaderAt
	size int64
	bo   binary.ByteOrder
}

// readAt fills b from off, or fails if the file is shorter.
func (t *tiffReader) readAt(b []byte, off int64) error {
	if off < 0 || off > t.size || int64(len(b)) > t.size-off {
		return fmt.Errorf("%d bytes at %d past the end of the file (%d bytes)", len(b), off, t.size)
	}
	n, err := t.r.ReadAt(b, off)
	if n == len(b) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("reading %d bytes at %d: %w", len(b), off, err)
}

// entry is one IFD entry: its type, count and the 4 bytes holding the
// value or its offset.
type entry struct {
	typ   uint16
	count uint32
	val   [4]byte
}

// typeSizes are the byte sizes of the TIFF field types; a type not listed
// is skipped, as TIFF 6.0 asks of readers.
var typeSizes = map[uint16]int{1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}

func (t *tiffReader) readIFD(off int64) (map[uint16]entry, int64, error) {
	var n [2]byte
	if err := t.readAt(n[:], off); err != nil {
		return nil, 0, fmt.Errorf("IFD: %w", err)
	}
	count := int(t.bo.Uint16(n[:]))
	b := make([]byte, count*12+4)
	if err := t.readAt(b, off+2); err != nil {
		return nil, 0, fmt.Errorf("IFD of %d entries: %w", count, err)
	}
	ifd := make(map[uint16]entry, count)
	for i := 0; i < count; i++ {
		e := b[i*12 : i*12+12]
		en := entry{typ: t.bo.Uint16(e[2:]), count: t.bo.Uint32(e[4:])}
		copy(en.val[:], e[8:])
		if _, ok := typeSizes[en.typ]; ok {
			ifd[t.bo.Uint16(e)] = en
		}
	}
	return ifd, int64(t.bo.Uint32(b[count*12:])), nil
}

// uints reads an integer array tag (BYTE, SHORT or LONG).
func (t *tiffReader) uints(ifd map[uint16]entry, tag uint16) ([]uint32, error) {
	e, ok := ifd[tag]
	if !ok {
		return nil, nil
	}
	size := typeSizes[e.typ]
	if e.typ != 1 && e.typ != 3 && e.typ != 4 {
		return nil, fmt.Errorf("tag %d has type %d, not an integer", tag, e.typ)
	}
	if e.count > maxArray {
		return nil, fmt.Errorf("tag %d has %d values (limit %d)", tag, e.count, maxArray)
	}
	b := e.val[:]
	if n := int(e.count) * size; n > 4 {
		b = make([]byte, n)
		if err := t.readAt(b, int64(t.bo.Uint32(e.val[:]))); err != nil {
			return nil, fmt.Errorf("tag %d: %w", tag, err)
		}
	}
	v := make([]uint32, e.count)
	for i := range v {
		switch size {
		case 1:
			v[i] = uint32(b[i])
		case 2:
			v[i] = uint32(t.bo.Uint16(b[2*i:]))
		default:
			v[i] = t.bo.Uint32(b[4*i:])
		}
	}
	return v, nil
}

// uint reads a single-valued integer tag, def when absent.
func (t *tiffReader) uint(ifd map[uint16]entry, tag uint16, def uint32) (uint32, error) {
	v, err := t.uints(ifd, tag)
	if err != nil {
		return 0, err
	}
	if len(v) == 0 {
		return def, nil
	}
	return v[0], nil
}

// rational reads a RATIONAL tag; ok is false when absent or zero.
func (t *tiffReader) rational(ifd map[uint16]entry, tag uint16) (v float64, ok bool, err error) {
	e, present := ifd[tag]
	if !present {
		return 0, false, nil
	}
	if e.typ != 5 || e.count < 1 {
		return 0, false, fmt.Errorf("tag %d has type %d, not a rational", tag, e.typ)
	}
	var b [8]byte
	if err := t.readAt(b[:], int64(t.bo.Uint32(e.val[:]))); err != nil {
		return 0, false, fmt.Errorf("tag %d: %w", tag, err)
	}
	num, den := t.bo.Uint32(b[:]), t.bo.Uint32(b[4:])
	if num == 0 || den == 0 {
		return 0, false, nil
	}
	return float64(num) / float64(den), true, nil
}

// readPage checks one IFD's tags and decodes its strips; budget is the
// number of pixels the document may still hold.
func (t *tiffReader) readPage(ifd map[uint16]entry, budget int) (Page, error) {
	var tags struct {
		width, height, bps, spp, compression, photometric, fillOrder, rowsPerStrip, t4, unit uint32
	}
	for _, f := range []struct {
		tag uint16
		def uint32
		dst *uint32
	}{
		{tagImageWidth, 0, &tags.width},
		{tagImageLength, 0, &tags.height},
		{tagBitsPerSample, 1, &tags.bps},
		{tagSamplesPerPixel, 1, &tags.spp},
		{tagCompression, compressionNone, &tags.compression},
		{tagPhotometric, 0, &tags.photometric},
		{tagFillOrder, 1, &tags.fillOrder},
		{tagRowsPerStrip, 1<<32 - 1, &tags.rowsPerStrip},
		{tagT4Options, 0, &tags.t4},
		{tagResolutionUnit, 2, &tags.unit},
	} {
		v, err := t.uint(ifd, f.tag, f.def)
		if err != nil {
			return Page{}, err
		}
		*f.dst = v
	}
	w, h := int(tags.width), int(tags.height)
	switch {
	case w == 0 || h == 0:
		return Page{}, fmt.Errorf("image of %d × %d pixels", w, h)
	case w > limits.width || h > limits.height:
		return Page{}, fmt.Errorf("page too large: %d × %d pixels (limit %d × %d)", w, h, limits.width, limits.height)
	case w*h > budget:
		return Page{}, fmt.Errorf("document too large: over %d pixels", limits.pixels)
	case tags.bps != 1 || tags.spp != 1:
		return Page{}, fmt.Errorf("not bilevel: %d samples of %d bits per pixel", tags.spp, tags.bps)
	case tags.photometric > 1:
		return Page{}, fmt.Errorf("unsupported PhotometricInterpretation %d", tags.photometric)
	case tags.fillOrder != 1 && tags.fillOrder != 2:
		return Page{}, fmt.Errorf("unsupported FillOrder %d", tags.fillOrder)
	case tags.rowsPerStrip == 0:
		return Page{}, errors.New("RowsPerStrip is 0")
	}
	if _, tiled := ifd[tagTileWidth]; tiled {
		return Page{}, errors.New("tiled images are not supported")
	}
	dec, err := stripDecoder(tags.compression, tags.t4)
	if err != nil {
		return Page{}, err
	}
	dpiX, dpiY, err := t.resolution(ifd, tags.unit)
	if err != nil {
		return Page{}, err
	}

	offsets, err := t.uints(ifd, tagStripOffsets)
	if err != nil {
		return Page{}, err
	}
	counts, err := t.uints(ifd, tagStripByteCounts)
	if err != nil {
		return Page{}, err
	}
	rowsPerStrip := int(min(tags.rowsPerStrip, uint32(h)))
	strips := (h + rowsPerStrip - 1) / rowsPerStrip
	if len(offsets) < strips || len(counts) < strips {
		return Page{}, fmt.Errorf("%d rows in strips of %d need %d strips, StripOffsets has %d and StripByteCounts %d",
			h, rowsPerStrip, strips, len(offsets), len(counts))
	}
	samples := make([]byte, w*h) // one sample value (0 or 1) per pixel
	var read int64
	for i := 0; i < strips; i++ {
		rows := min(rowsPerStrip, h-i*rowsPerStrip)
		// Strips do not overlap, so together they fit in the file: a
		// bound on the bytes read for strips that all claim the file.
		if read += int64(counts[i]); read > t.size {
			return Page{}, fmt.Errorf("truncated strip %d: strips of %d bytes in a file of %d", i, read, t.size)
		}
		data := make([]byte, counts[i])
		if err := t.readAt(data, int64(offsets[i])); err != nil {
			return Page{}, fmt.Errorf("truncated strip %d: %w", i, err)
		}
		if tags.fillOrder == 2 {
			reverseBits(data)
		}
		dst := samples[i*rowsPerStrip*w : (i*rowsPerStrip+rows)*w]
		if err := dec(data, w, rows, dst); err != nil {
			return Page{}, fmt.Errorf("strip %d: %w", i, err)
		}
	}
	// Sample 1 is black for WhiteIsZero (0), white for BlackIsZero (1);
	// palette index 0 is black.
	flip := byte(1)
	if tags.photometric == 1 {
		flip = 0
	}
	for i := range samples {
		samples[i] ^= flip
	}
	img := &image.Paletted{Pix: samples, Stride: w, Rect: image.Rect(0, 0, w, h), Palette: Palette}
	return Page{Image: img, DPIX: dpiX, DPIY: dpiY}, nil
}

// resolution gives the page's dots per inch. Without a resolution, or
// with only an aspect ratio (ResolutionUnit 1), the page is taken to be
// 204 dpi across, as every fax is, and down at the given ratio or fine.
func (t *tiffReader) resolution(ifd map[uint16]entry, unit uint32) (float64, float64, error) {
	x, okX, err := t.rational(ifd, tagXResolution)
	if err != nil {
		return 0, 0, err
	}
	y, okY, err := t.rational(ifd, tagYResolution)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case !okX || !okY:
		return defaultDPIX, defaultDPIY, nil
	case unit == 1:
		x, y = defaultDPIX, defaultDPIX*y/x
	case unit == 3: // per centimetre
		x, y = x*2.54, y*2.54
	case unit != 2:
		return 0, 0, fmt.Errorf("unsupported ResolutionUnit %d", unit)
	}
	// A PDF page is at most 14400 units (200 in) on a side: 10000 pixels
	// need at least 50 dpi; more than 4800 dpi is no fax.
	const minDPI, maxDPI = 50, 4800
	if x < minDPI || y < minDPI || x > maxDPI || y > maxDPI {
		return 0, 0, fmt.Errorf("implausible resolution %.4g × %.4g dpi", x, y)
	}
	return x, y, nil
}

// reverseBits turns FillOrder 2 data (least significant bit first) into
// FillOrder 1, as libtiff does before decoding.
func reverseBits(b []byte) {
	for i, c := range b {
		c = c>>4 | c<<4
		c = c>>2&0x33 | c<<2&0xcc
		b[i] = c>>1&0x55 | c<<1&0xaa
	}
}
