package audio

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"time"
)

// Duration of the clip; zero for a clip without a rate.
func (c *Clip) Duration() time.Duration {
	if c.Rate <= 0 {
		return 0
	}
	return time.Duration(len(c.Samples)) * time.Second / time.Duration(c.Rate)
}

// silenceThreshold is -60 dBFS as a 16-bit peak: 32768 × 10^(-60/20) ≈ 33.
const silenceThreshold = 33

// Silent reports whether the clip's peak is below about -60 dBFS (an empty clip is silent):
// such an upload would play as nothing, so the API refuses it.
func (c *Clip) Silent() bool {
	for _, s := range c.Samples {
		if s >= silenceThreshold || s <= -silenceThreshold {
			return false
		}
	}
	return true
}

// wavHeaderSize is the size of the canonical RIFF/WAVE header WriteWAV writes.
const wavHeaderSize = 44

// WriteWAV writes the clip as a canonical 44-byte-header PCM WAV (format 1, mono, 16-bit, little
// endian): the one layout every switch plays without conversion.
func (c *Clip) WriteWAV(w io.Writer) error {
	dataSize := 2 * int64(len(c.Samples))
	if dataSize > math.MaxUint32-wavHeaderSize+8 {
		return fmt.Errorf("audio: clip of %d samples too long for a WAV file", len(c.Samples))
	}
	if c.Rate <= 0 {
		return fmt.Errorf("audio: clip has no sample rate")
	}
	var h [wavHeaderSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], uint32(dataSize+wavHeaderSize-8))
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)               // fmt chunk size
	le.PutUint16(h[20:], wavPCM)           // format
	le.PutUint16(h[22:], 1)                // channels
	le.PutUint32(h[24:], uint32(c.Rate))   // sample rate
	le.PutUint32(h[28:], uint32(c.Rate)*2) // byte rate
	le.PutUint16(h[32:], 2)                // block align
	le.PutUint16(h[34:], 16)               // bits per sample
	copy(h[36:], "data")
	le.PutUint32(h[40:], uint32(dataSize))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("audio: writing WAV: %w", err)
	}
	buf := make([]byte, 0, 32<<10)
	for i, s := range c.Samples {
		buf = le.AppendUint16(buf, uint16(s))
		if len(buf) == cap(buf) || i == len(c.Samples)-1 {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("audio: writing WAV: %w", err)
			}
			buf = buf[:0]
		}
	}
	return nil
}
