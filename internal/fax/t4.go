package fax

import (
	"errors"
	"fmt"
)

// This file decodes CCITT Group 3 (ITU-T T.4) strips: one-dimensional
// (Modified Huffman) and two-dimensional (Modified READ) rows, each led by
// an EOL that may carry fill bits. golang.org/x/image/ccitt, which decodes
// the Group 4 strips, reads only one-dimensional Group 3 rows whose EOLs
// carry no fill bits, and spandsp writes Group 3 TIFFs with fill bits
// always and with 2-D rows when the call negotiated them (t4_rx.c
// set_tiff_directory_info); hence a decoder here, checked in the tests
// against x/image and libtiff on the same pages.

// maxCodeLen is the longest code of Tables 2 to 4 (the black make-up
// codes of 13 bits).
const maxCodeLen = 13

// codeTable maps a code, by its length and value, to what it codes: the
// run length, or for the mode table a mode constant. -1 marks no code.
type codeTable [maxCodeLen + 1][]int16

func (t *codeTable) add(code string, v int) {
	n := len(code)
	if t[n] == nil {
		t[n] = make([]int16, 1<<n)
		for i := range t[n] {
			t[n][i] = -1
		}
	}
	k := 0
	for _, c := range code {
		k = k<<1 | int(c-'0')
	}
	t[n][k] = int16(v)
}

// Modes of two-dimensional coding, as the mode table returns them; the
// vertical modes are modeV0 plus the offset of a1 from b1.
const (
	modePass = iota
	modeHorizontal
	modeExtension
	modeV0 = 6
)

var whiteRuns, blackRuns, modeCodes codeTable

func init() {
	for _, rt := range []struct {
		t                   *codeTable
		terminating, makeUp []string
	}{
		{&whiteRuns, whiteTerminating[:], whiteMakeUp[:]},
		{&blackRuns, blackTerminating[:], blackMakeUp[:]},
	} {
		for i, c := range rt.terminating {
			rt.t.add(c, i)
		}
		for i, c := range rt.makeUp {
			rt.t.add(c, (i+1)*64)
		}
		for i, c := range extendedMakeUp {
			rt.t.add(c, 1792+i*64)
		}
	}
	for c, m := range map[string]int{
		codePass: modePass, codeHorizontal: modeHorizontal, codeExtension: modeExtension,
		codeV0: modeV0, codeVR1: modeV0 + 1, codeVR2: modeV0 + 2, codeVR3: modeV0 + 3,
		codeVL1: modeV0 - 1, codeVL2: modeV0 - 2, codeVL3: modeV0 - 3,
	} {
		modeCodes.add(c, m)
	}
}

var (
	errCodeTruncated = errors.New("data ends inside a row")
	errCodeInvalid   = errors.New("invalid code")
)

// bitReader reads a strip most significant bit first (a FillOrder 2
// strip is bit-reversed before it gets here).
type bitReader struct {
	data     []byte
	pos, end int // in bits
}

func newBitReader(data []byte) *bitReader {
	return &bitReader{data: data, end: len(data) * 8}
}

func (r *bitReader) bit() (int, error) {
	if r.pos >= r.end {
		return 0, errCodeTruncated
	}
	b := int(r.data[r.pos>>3]>>(7-r.pos&7)) & 1
	r.pos++
	return b, nil
}

// code reads one code of t.
func (r *bitReader) code(t *codeTable) (int, error) {
	k := 0
	for n := 1; n <= maxCodeLen; n++ {
		b, err := r.bit()
		if err != nil {
			return 0, err
		}
		k = k<<1 | b
		if t[n] != nil && t[n][k] >= 0 {
			return int(t[n][k]), nil
		}
	}
	return 0, errCodeInvalid
}

// eol consumes an EOL (at least 11 zero bits then a one: the zeros
// beyond 11 are fill bits) if one comes next, and reports whether it did.
func (r *bitReader) eol() bool {
	p := r.pos
	for p < r.end && r.data[p>>3]>>(7-p&7)&1 == 0 {
		p++
	}
	if p-r.pos < 11 || p >= r.end {
		return false
	}
	r.pos = p + 1
	return true
}

// run reads a run length of the given colour: make-up codes then one
// terminating code.
func (r *bitReader) run(black bool) (int, error) {
	t := &whiteRuns
	if black {
		t = &blackRuns
	}
	total := 0
	for {
		v, err := r.code(t)
		if err != nil {
			return 0, err
		}
		total += v
		if v < 64 {
			return total, nil
		}
		if total > MaxWidth {
			return 0, errors.New("run longer than the row")
		}
	}
}

// Pixels of a decoded row before PhotometricInterpretation applies: a
// white run gives sample value 0, a black run 1, as in libtiff.
const (
	runWhite = 0
	runBlack = 1
)

func fill(row []byte, from, to int, v byte) {
	for i := from; i < to; i++ {
		row[i] = v
	}
}

// decodeRow1D decodes a Modified Huffman row: alternating white and black
// runs, starting with white, filling the row exactly.
func (r *bitReader) decodeRow1D(row []byte) error {
	a0, color := 0, byte(runWhite)
	for a0 < len(row) {
		n, err := r.run(color == runBlack)
		if err != nil {
			return err
		}
		if n > len(row)-a0 {
			return errors.New("run longer than the row")
		}
		fill(row, a0, a0+n, color)
		a0 += n
		color ^= 1
	}
	return nil
}

// decodeRow2D decodes a row coded against the reference row ref (the row
// above; all white for the first row of a Group 4 strip), T.4 §4.2.1.3.
// Every mode either advances a0 or consumes bits, so the work per row is
// bounded by the row width plus the strip's bits.
func (r *bitReader) decodeRow2D(row, ref []byte) error {
	width := len(row)
	a0, color := -1, byte(runWhite)
	for a0 < width {
		m, err := r.code(&modeCodes)
		if err != nil {
			return err
		}
		start := max(a0, 0)
		switch {
		case m == modePass:
			b2 := nextChange(ref, firstB1(ref, a0, color))
			fill(row, start, b2, color)
			a0 = b2
		case m == modeHorizontal:
			n1, err := r.run(color == runBlack)
			if err != nil {
				return err
			}
			n2, err := r.run(color != runBlack)
			if err != nil {
				return err
			}
			if n1 > width-start || n2 > width-start-n1 {
				return errors.New("run longer than the row")
			}
			fill(row, start, start+n1, color)
			fill(row, start+n1, start+n1+n2, color^1)
			a0 = start + n1 + n2
		case m == modeExtension:
			return errors.New("uncompressed-mode extension is not supported")
		default:
			a1 := firstB1(ref, a0, color) + m - modeV0
			if a1 < start || a1 > width {
				return fmt.Errorf("vertical mode outside the row at pixel %d", a1)
			}
			fill(row, start, a1, color)
			a0 = a1
			color ^= 1
		}
	}
	return nil
}

// firstB1 finds b1: the first changing element of ref right of a0 whose
// colour is opposite to the current colour, or the row width.
func firstB1(ref []byte, a0 int, color byte) int {
	i := a0 + 1
	if i <= 0 {
		if ref[0] != color && ref[0] != runWhite {
			return 0
		}
		i = 1
	}
	for ; i < len(ref); i++ {
		if ref[i] != ref[i-1] && ref[i] != color {
			return i
		}
	}
	return len(ref)
}

// nextChange finds the changing element of ref after b (b2 from b1).
func nextChange(ref []byte, b int) int {
	for i := b + 1; i < len(ref); i++ {
		if ref[i] != ref[i-1] {
			return i
		}
	}
	return len(ref)
}

// decodeT4 decodes a Group 3 strip of rows rows into dst (width bytes per
// row). Each row may be led by an EOL (libtiff and spandsp always write
// one); with twoD (T4Options bit 0) a tag bit after it says whether the
// row is 1-D (1) or 2-D (0). What follows the last row (RTC) is ignored.
func decodeT4(data []byte, width, rows int, twoD bool, dst []byte) error {
	r := newBitReader(data)
	ref := make([]byte, width) // the imaginary white row above the first
	for y := 0; y < rows; y++ {
		row := dst[y*width : (y+1)*width]
		r.eol()
		oneD := true
		if twoD {
			tag, err := r.bit()
			if err != nil {
				return fmt.Errorf("row %d: %w", y, err)
			}
			oneD = tag == 1
		}
		var err error
		if oneD {
			err = r.decodeRow1D(row)
		} else {
			err = r.decodeRow2D(row, ref)
		}
		if err != nil {
			return fmt.Errorf("row %d: %w", y, err)
		}
		ref = row
	}
	return nil
}
