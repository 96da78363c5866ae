package audio

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkPipeline is what an upload costs: decode, resample to 8 kHz and 16 kHz, write both
// WAVs. MB/s is of the uploaded bytes.
func BenchmarkPipeline(b *testing.B) {
	// One minute of a 44.1 kHz 16-bit stereo WAV (10 MiB).
	n := 60 * 44100
	wav := buildWAV(b, wavSpec{tag: wavPCM, bits: 16, rate: 44100}, tone(1000, 0.5, 44100, n), tone(440, 0.3, 44100, n))
	// One minute of MP3: the 1 s fixture's audio frames, 60 times over (no Info frame, so
	// nothing trims or checks the frame count).
	tag, _, frames := mp3Parts(b, readMP3(b, "tone-1k-44100.mp3"))
	frames = frames[:len(frames)-128] // without the ID3v1 tag
	mp3 := append([]byte{}, tag...)
	for range 60 {
		mp3 = append(mp3, frames...)
	}
	for _, in := range []struct {
		name string
		data []byte
	}{{"wav-44k1-stereo-1min", wav}, {"mp3-44k1-64kbps-1min", mp3}} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				c, _, err := Decode(bytes.NewReader(in.data), Limits{})
				if err != nil {
					b.Fatal(err)
				}
				for _, rate := range []int{8000, 16000} {
					if err := c.Resample(rate).WriteWAV(io.Discard); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkStages splits the WAV pipeline into its parts.
func BenchmarkStages(b *testing.B) {
	n := 60 * 44100
	wav := buildWAV(b, wavSpec{tag: wavPCM, bits: 16, rate: 44100}, tone(1000, 0.5, 44100, n), tone(440, 0.3, 44100, n))
	c := decodeBytesB(b, wav)
	b.Run("decode-wav", func(b *testing.B) {
		b.SetBytes(int64(len(wav)))
		for b.Loop() {
			decodeBytesB(b, wav)
		}
	})
	for _, rate := range []int{8000, 16000} {
		b.Run("resample-44k1-to-"+map[int]string{8000: "8k", 16000: "16k"}[rate], func(b *testing.B) {
			for b.Loop() {
				c.Resample(rate)
			}
		})
	}
	b.Run("write-wav-8k", func(b *testing.B) {
		c8 := c.Resample(8000)
		for b.Loop() {
			if err := c8.WriteWAV(io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func decodeBytesB(b *testing.B, in []byte) *Clip {
	c, _ := decodeBytes(b, in, Limits{})
	return c
}
