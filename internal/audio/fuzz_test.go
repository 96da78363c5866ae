package audio

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzDecode: whatever the bytes, Decode does not panic, refuses with one of its sentinels, and
// what it accepts is a sane clip within the limits.
func FuzzDecode(f *testing.F) {
	for _, spec := range []wavSpec{
		{tag: wavPCM, bits: 8}, {tag: wavPCM, bits: 16}, {tag: wavPCM, bits: 24}, {tag: wavPCM, bits: 32},
		{tag: wavFloat, bits: 32}, {tag: wavFloat, bits: 64}, {tag: wavALaw, bits: 8}, {tag: wavMuLaw, bits: 8},
		{tag: wavPCM, bits: 16, extensible: true}, {tag: wavFloat, bits: 32, extensible: true},
		{tag: wavPCM, bits: 24, bigEndian: true}, {tag: wavPCM, bits: 16, dataSize: 0xFFFFFFFF},
		{tag: wavPCM, bits: 16, before: [][]byte{chunk("LIST", []byte("INFO odd"))}},
	} {
		spec.rate = 8000
		f.Add(buildWAV(f, spec, tone(1000, 0.5, 8000, 64), tone(1000, 0.5, 8000, 64)))
	}
	for _, c := range decodeErrorCases(f) {
		f.Add(c.in)
	}
	for _, name := range []string{"tone-1k-44100.mp3", "tone-1k-22050.mp3"} {
		b := readMP3(f, name)
		tag, info, frames := mp3Parts(f, b)
		f.Add(b)
		f.Add(cat(tag, frames))
		f.Add(cat(info, frames[:1000]))
	}
	lim := Limits{MaxBytes: 1 << 20, MaxDuration: 2 * time.Second}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, format, err := Decode(bytes.NewReader(in), lim)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrTooLong) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			if c != nil || format != "" {
				t.Fatalf("error %v with a clip or format %q", err, format)
			}
			return
		}
		if format != FormatWAV && format != FormatMP3 {
			t.Fatalf("format %q", format)
		}
		if c.Rate < MinRate || c.Rate > MaxRate {
			t.Fatalf("rate %d", c.Rate)
		}
		if d := c.Duration(); d > lim.MaxDuration {
			t.Fatalf("duration %s over the limit", d)
		}
		if format != FormatWAV {
			return
		}
		// ProbeWAV reads the header Decode read: it must agree without decoding.
		info, err := ProbeWAV(in)
		if err != nil {
			t.Fatalf("Decode read the WAV, ProbeWAV refused it: %v", err)
		}
		if info.Rate != c.Rate || info.Duration != c.Duration() {
			t.Fatalf("ProbeWAV %d Hz %s, Decode %d Hz %s", info.Rate, info.Duration, c.Rate, c.Duration())
		}
	})
}
