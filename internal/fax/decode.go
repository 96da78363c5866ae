package fax

import (
	"bytes"
	"errors"
	"fmt"
	"image"

	"golang.org/x/image/ccitt"
)

// A decodeFunc decodes one strip of rows rows of width pixels into dst,
// one sample value (0 or 1) per byte.
type decodeFunc func(data []byte, width, rows int, dst []byte) error

// stripDecoder picks the decoder for a Compression tag value and, for
// Group 3, its T4Options.
func stripDecoder(compression, t4Options uint32) (decodeFunc, error) {
	switch compression {
	case compressionNone:
		return decodeUncompressed, nil
	case compressionPackBits:
		return decodePackBits, nil
	case compressionG3:
		if t4Options&t4OptionUncompressed != 0 {
			return nil, errors.New("Group 3 uncompressed mode is not supported")
		}
		twoD := t4Options&t4Option2D != 0
		return func(data []byte, width, rows int, dst []byte) error {
			return decodeT4(data, width, rows, twoD, dst)
		}, nil
	case compressionG4:
		return decodeG4, nil
	}
	return nil, fmt.Errorf("unsupported compression %d", compression)
}

// decodeG4 decodes a Group 4 (T.6) strip with golang.org/x/image/ccitt,
// the decoder the Go team maintains for x/image/tiff. That package says it
// is not hardened against malicious input, so a panic in it becomes an
// error here: a fax comes from anyone who can dial the number.
func decodeG4(data []byte, width, rows int, dst []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("Group 4 decoder failed: %v", p)
		}
	}()
	img := &image.Gray{Pix: dst, Stride: width, Rect: image.Rect(0, 0, width, rows)}
	if err := ccitt.DecodeIntoGray(img, bytes.NewReader(data), ccitt.MSB, ccitt.Group4, nil); err != nil {
		return err
	}
	// x/image writes 0x00 for black runs and 0xFF for white ones.
	for i, v := range dst {
		dst[i] = ^v & 1
	}
	return nil
}

// decodeUncompressed unpacks rows of bits, each row padded to a byte.
func decodeUncompressed(data []byte, width, rows int, dst []byte) error {
	stride := (width + 7) / 8
	if len(data) < stride*rows {
		return fmt.Errorf("truncated: %d bytes for %d rows of %d", len(data), rows, stride)
	}
	unpackRows(data, width, rows, dst)
	return nil
}

// decodePackBits expands PackBits (Apple's run-length code, TIFF 6.0
// section 9) into rows of bits, then unpacks them.
func decodePackBits(data []byte, width, rows int, dst []byte) error {
	need := (width + 7) / 8 * rows
	out := make([]byte, 0, need)
	for i := 0; len(out) < need; {
		if i >= len(data) {
			return fmt.Errorf("truncated: %d of %d bytes", len(out), need)
		}
		n := int(int8(data[i]))
		i++
		switch {
		case n >= 0: // n+1 literal bytes
			if i+n+1 > len(data) || len(out)+n+1 > need {
				return errors.New("literal run past the end of the strip")
			}
			out = append(out, data[i:i+n+1]...)
			i += n + 1
		case n != -128: // the next byte 1-n times
			if i >= len(data) || len(out)+1-n > need {
				return errors.New("repeat run past the end of the strip")
			}
			for k := 0; k < 1-n; k++ {
				out = append(out, data[i])
			}
			i++
		}
	}
	unpackRows(out, width, rows, dst)
	return nil
}

func unpackRows(src []byte, width, rows int, dst []byte) {
	stride := (width + 7) / 8
	for y := 0; y < rows; y++ {
		row, d := src[y*stride:], dst[y*width:(y+1)*width]
		for x := range d {
			d[x] = row[x>>3] >> (7 - x&7) & 1
		}
	}
}
