package audio

import (
	"math"
	"testing"
)

// TestDecodeWAV decodes a 1 kHz tone in every supported encoding and layout. The channels have
// different levels (mean 0.4 of full scale), so the downmix is checked too; each decoded sample
// must be within the encoding's quantisation of the ideal tone.
func TestDecodeWAV(t *testing.T) {
	stereo := []float64{0.6, 0.2}
	tests := []struct {
		name string
		spec wavSpec
		amps []float64 // per channel; their mean is 0.4
		tol  int       // largest allowed error, in 16-bit steps
	}{
		{"pcm16 stereo", wavSpec{tag: wavPCM, bits: 16}, stereo, 2},
		{"pcm8 unsigned", wavSpec{tag: wavPCM, bits: 8}, stereo, 400},
		{"pcm24", wavSpec{tag: wavPCM, bits: 24}, stereo, 1},
		{"pcm32", wavSpec{tag: wavPCM, bits: 32}, stereo, 1},
		{"pcm 12-bit in 16", wavSpec{tag: wavPCM, bits: 12}, stereo, 16},
		{"pcm 20-bit in 24", wavSpec{tag: wavPCM, bits: 20}, stereo, 1},
		{"float32", wavSpec{tag: wavFloat, bits: 32}, stereo, 1},
		{"float64", wavSpec{tag: wavFloat, bits: 64}, stereo, 1},
		{"A-law", wavSpec{tag: wavALaw, bits: 8}, stereo, 600},
		{"µ-law", wavSpec{tag: wavMuLaw, bits: 8}, stereo, 600},
		{"extensible pcm16", wavSpec{tag: wavPCM, bits: 16, extensible: true}, stereo, 2},
		{"extensible pcm24", wavSpec{tag: wavPCM, bits: 24, extensible: true}, stereo, 1},
		{"extensible float32", wavSpec{tag: wavFloat, bits: 32, extensible: true}, stereo, 1},
		{"extensible µ-law", wavSpec{tag: wavMuLaw, bits: 8, extensible: true}, stereo, 600},
		{"extensible 6 channels", wavSpec{tag: wavPCM, bits: 16, extensible: true}, []float64{0.6, 0.2, 0.4, 0.4, 0, 0.8}, 2},
		{"8 channels", wavSpec{tag: wavPCM, bits: 16}, []float64{0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4}, 2},
		{"RIFX pcm16", wavSpec{tag: wavPCM, bits: 16, bigEndian: true}, stereo, 2},
		{"RIFX pcm24", wavSpec{tag: wavPCM, bits: 24, bigEndian: true}, stereo, 1},
		{"RIFX float64", wavSpec{tag: wavFloat, bits: 64, bigEndian: true}, stereo, 1},
		{"mono 8 kHz", wavSpec{tag: wavPCM, bits: 16, rate: 8000}, []float64{0.4}, 1},
		{"mono 4 kHz", wavSpec{tag: wavPCM, bits: 16, rate: 4000}, []float64{0.4}, 1},
		{"192 kHz float32", wavSpec{tag: wavFloat, bits: 32, rate: 192000}, stereo, 1},
		{"odd LIST chunk before fmt, chunk after data", wavSpec{tag: wavPCM, bits: 16,
			before: [][]byte{chunk("LIST", []byte("INFOISFT\x05\x00\x00\x00Lavf\x00"))},
			after:  [][]byte{chunk("id3 ", []byte("ID3\x03"))}}, stereo, 2},
		{"streaming data size 0xFFFFFFFF", wavSpec{tag: wavPCM, bits: 16, dataSize: 0xFFFFFFFF}, stereo, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.spec.rate == 0 {
				tt.spec.rate = 44100
			}
			n := tt.spec.rate / 10 // 100 ms
			var chans [][]float64
			for _, a := range tt.amps {
				chans = append(chans, tone(1000, a, tt.spec.rate, n))
			}
			c, f := decodeBytes(t, buildWAV(t, tt.spec, chans...), Limits{})
			if f != FormatWAV || c.Rate != tt.spec.rate || len(c.Samples) != n {
				t.Fatalf("got %s, %d Hz, %d samples; want wav, %d Hz, %d samples", f, c.Rate, len(c.Samples), tt.spec.rate, n)
			}
			want := tone(1000, 0.4, tt.spec.rate, n)
			worst := 0
			for i, s := range c.Samples {
				worst = max(worst, int(math.Abs(float64(s)-want[i]*32768)))
			}
			if worst > tt.tol {
				t.Errorf("largest error %d steps, want ≤ %d", worst, tt.tol)
			}
			if got := level(c.Samples, c.Rate, 1000); math.Abs(dB(got/0.4)) > 0.05 {
				t.Errorf("1 kHz level %.4f, want 0.4 (within 0.05 dB)", got)
			}
		})
	}
}

// TestDecodeWAVFloatOutOfRange: float WAVs may exceed full scale (or hold NaN); such samples
// clip rather than wrap around.
func TestDecodeWAVFloatOutOfRange(t *testing.T) {
	in := []float64{1.5, -2, math.NaN(), math.Inf(1), math.Inf(-1), 0.99999999, -1}
	want := []int16{32767, -32768, 0, 32767, -32768, 32767, -32768}
	for _, bits := range []int{32, 64} {
		c, _ := decodeBytes(t, buildWAV(t, wavSpec{tag: wavFloat, bits: bits, rate: 8000}, in), Limits{})
		for i := range want {
			if c.Samples[i] != want[i] {
				t.Errorf("float%d: sample %v decoded as %d, want %d", bits, in[i], c.Samples[i], want[i])
			}
		}
	}
}

// TestDecodeWAVPCM16Exact: 16-bit mono, the most common upload, comes through bit for bit,
// trailing partial frames dropped.
func TestDecodeWAVPCM16Exact(t *testing.T) {
	in := []float64{0, 1, -1, 0.5, -0.5, 1.0 / 32767, -1.0 / 32767}
	b := buildWAV(t, wavSpec{tag: wavPCM, bits: 16, rate: 16000}, in)
	b = append(b, 0x7F) // an odd byte past the data chunk: ignored
	c, _ := decodeBytes(t, b, Limits{})
	want := []int16{0, 32767, -32767, 16384, -16384, 1, -1}
	if len(c.Samples) != len(want) {
		t.Fatalf("got %d samples, want %d", len(c.Samples), len(want))
	}
	for i := range want {
		if c.Samples[i] != want[i] {
			t.Errorf("sample %d = %d, want %d", i, c.Samples[i], want[i])
		}
	}
}

// TestG711 checks the expansion tables against known points of ITU-T G.711 and against the
// reference encoders: decoding, re-encoding and decoding again must be stable for every code.
func TestG711(t *testing.T) {
	known := []struct {
		name string
		got  int16
		want int16
	}{
		{"µ-law 0x00", mulawToLinear[0x00], -32124},
		{"µ-law 0x80", mulawToLinear[0x80], 32124},
		{"µ-law 0xFF", mulawToLinear[0xFF], 0},
		{"µ-law 0x7F", mulawToLinear[0x7F], 0},
		{"µ-law 0xFE", mulawToLinear[0xFE], 8},
		{"A-law 0xD5", alawToLinear[0xD5], 8},
		{"A-law 0x55", alawToLinear[0x55], -8},
		{"A-law 0xAA", alawToLinear[0xAA], 32256},
		{"A-law 0x2A", alawToLinear[0x2A], -32256},
	}
	for _, k := range known {
		if k.got != k.want {
			t.Errorf("%s = %d, want %d", k.name, k.got, k.want)
		}
	}
	for i := range 256 {
		if a := alawToLinear[i]; alawToLinear[linearToALaw(a)] != a {
			t.Errorf("A-law 0x%02X: %d re-encodes to 0x%02X", i, a, linearToALaw(a))
		}
		if u := mulawToLinear[i]; mulawToLinear[linearToMuLaw(u)] != u {
			t.Errorf("µ-law 0x%02X: %d re-encodes to 0x%02X", i, u, linearToMuLaw(u))
		}
	}
}
