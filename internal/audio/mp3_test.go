package audio

import (
	"bytes"
	"math"
	"testing"
	"time"
)

// The MP3 fixtures were made once, with LAME 3.100 (Debian package lame 3.100-6), from 1 s of a
// 1 kHz sine at half full scale (-6 dBFS), 16-bit mono, written by Python's wave module:
//
//	python3 -c 'import wave,math,struct
//	for r in (44100, 22050):
//	    w = wave.open(f"tone-{r}.wav", "wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(r)
//	    w.writeframes(b"".join(struct.pack("<h", round(16384*math.sin(2*math.pi*1000*i/r))) for i in range(r)))'
//	lame --quiet -b 64 --tt "Switchboard test tone" --add-id3v2 tone-44100.wav tone-1k-44100.mp3  # MPEG-1
//	lame --quiet -b 64 --tt "Switchboard test tone" --add-id3v2 tone-22050.wav tone-1k-22050.mp3  # MPEG-2
//
// Each has an ID3v2 tag, a LAME Info frame (gapless delay and padding), 40 audio frames and an
// ID3v1 tag at the end.

// mp3FrameLen returns the length of the Layer III frame whose header starts b.
func mp3FrameLen(t testing.TB, b []byte) int {
	t.Helper()
	h, ok := parseMP3Header(b)
	if !ok || h.layer != 3 {
		t.Fatalf("no Layer III frame header at % X", b[:4])
	}
	kbps := [][]int{
		1: {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},
		2: {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},
	}[h.version][b[2]>>4]
	rate := map[int][]int{1: {44100, 48000, 32000}, 2: {22050, 24000, 16000}}[h.version][(b[2]>>2)&3]
	pad := int(b[2]>>1) & 1
	return h.samplesPerFrame()/8*kbps*1000/rate + pad
}

// mp3Parts splits an MP3 fixture into its ID3v2 tag, its Info frame and the rest.
func mp3Parts(t testing.TB, b []byte) (tag, info, rest []byte) {
	audio, err := skipID3v2(b)
	if err != nil {
		t.Fatal(err)
	}
	tag = b[:len(b)-len(audio)]
	n := mp3FrameLen(t, audio)
	return tag, audio[:n], audio[n:]
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestDecodeMP3 decodes the fixtures as they are and rearranged: the tone must come out at
// 1 kHz, at its level (within 0.5 dB: MP3 is lossy) and for 1 s within one frame — exactly 1 s
// when the LAME Info frame is there to say how much the encoder added.
func TestDecodeMP3(t *testing.T) {
	mpeg1, mpeg2 := readMP3(t, "tone-1k-44100.mp3"), readMP3(t, "tone-1k-22050.mp3")
	tag, info, frames := mp3Parts(t, mpeg1)
	tests := []struct {
		name    string
		in      []byte
		rate    int
		gapless bool
	}{
		{"MPEG-1 44.1 kHz", mpeg1, 44100, true},
		{"MPEG-2 22.05 kHz", mpeg2, 22050, true},
		{"no ID3v2 tag", cat(info, frames), 44100, true},
		{"two ID3v2 tags", cat(tag, tag, info, frames), 44100, true},
		{"no Info frame", cat(tag, frames), 44100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, f := decodeBytes(t, tt.in, Limits{})
			if f != FormatMP3 || c.Rate != tt.rate {
				t.Fatalf("got %s at %d Hz, want mp3 at %d Hz", f, c.Rate, tt.rate)
			}
			frame := time.Duration(1152) * time.Second / time.Duration(tt.rate)
			if tt.rate < 32000 {
				frame /= 2
			}
			d := c.Duration()
			switch {
			case tt.gapless && len(c.Samples) != tt.rate:
				t.Errorf("%d samples (%s), want exactly %d (1 s)", len(c.Samples), d, tt.rate)
			case !tt.gapless && (d < time.Second-frame || d > time.Second+2*frame+time.Duration(decoderDelay+576)*time.Second/time.Duration(tt.rate)):
				// Without the Info frame nothing says how much delay and padding the encoder added.
				t.Errorf("duration %s, want 1 s plus at most the encoder's delay and padding", d)
			}
			mid := middle(c.Samples)
			peak, peakLevel := 0.0, 0.0
			for f := 900.0; f <= 1100; f += 10 {
				if l := level(mid, c.Rate, f); l > peakLevel {
					peak, peakLevel = f, l
				}
			}
			if peak != 1000 {
				t.Errorf("strongest component at %.0f Hz, want 1000 Hz", peak)
			}
			if got := level(wholePeriods(mid, c.Rate, 1000), c.Rate, 1000); math.Abs(dB(got/0.5)) > 0.5 {
				t.Errorf("1 kHz at %.2f dB, want -6.02 dBFS within 0.5 dB", dB(got))
			}
			if tt.gapless {
				// Trimmed right, the tone fills the clip to both ends: too little trimmed at the
				// start leaves silence there, too much leaves the encoder's padding at the end.
				ms := c.Rate / 1000
				for _, edge := range []struct {
					name string
					s    []int16
				}{{"first", c.Samples[ms : 6*ms]}, {"last", c.Samples[len(c.Samples)-6*ms : len(c.Samples)-ms]}} {
					if got := rms(edge.s); math.Abs(dB(got/(0.5/math.Sqrt2))) > 3 {
						t.Errorf("%s 5 ms at %.1f dBFS RMS, want the tone's -9 dBFS within 3 dB", edge.name, dB(got))
					}
				}
			}
		})
	}
}
