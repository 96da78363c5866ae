package audio

import (
	"math"
	"testing"
)

func toneClip(freq, amplitude float64, rate, n int) *Clip {
	c := &Clip{Rate: rate, Samples: make([]int16, n)}
	for i, v := range tone(freq, amplitude, rate, n) {
		c.Samples[i] = int16(math.Round(v * 32767))
	}
	return c
}

// TestResampleKeepsTone: a tone in the passband keeps its frequency and level (within 0.5 dB;
// the filter's ripple is far smaller) and the clip its duration, for the conversions Switchboard
// makes and some odd ones (44101 Hz needs the interpolated filter bank).
func TestResampleKeepsTone(t *testing.T) {
	tests := []struct {
		from, to int
		freq     float64
	}{
		{44100, 8000, 1000},
		{44100, 8000, 3400}, // top of the telephone band
		{44100, 16000, 1000},
		{44100, 16000, 7000},
		{48000, 8000, 1000},
		{22050, 8000, 1000},
		{11025, 16000, 1000},
		{16000, 8000, 1000},
		{8000, 16000, 1000},
		{8000, 44100, 3000},
		{44101, 8000, 1000},
		{7999, 16000, 1000},
		{192000, 8000, 1000},
		{4000, 192000, 1000},
	}
	for _, tt := range tests {
		in := toneClip(tt.freq, 0.5, tt.from, tt.from/2) // 500 ms
		out := in.Resample(tt.to)
		if out.Rate != tt.to {
			t.Fatalf("%d→%d: rate %d", tt.from, tt.to, out.Rate)
		}
		if want := (len(in.Samples)*tt.to + tt.from - 1) / tt.from; len(out.Samples) != want {
			t.Errorf("%d→%d: %d samples, want %d", tt.from, tt.to, len(out.Samples), want)
		}
		mid := middle(out.Samples)
		got := level(wholePeriods(mid, tt.to, tt.freq), tt.to, tt.freq)
		t.Logf("%d→%d: %.0f Hz level %+.4f dB, %.1f dB above the residual", tt.from, tt.to, tt.freq, dB(got/0.5), dB(0.5/math.Sqrt2/residual(mid, tt.to, tt.freq)))
		if math.Abs(dB(got/0.5)) > 0.5 {
			t.Errorf("%d→%d: %.0f Hz at %.3f dB relative to the input, want within 0.5 dB", tt.from, tt.to, tt.freq, dB(got/0.5))
		}
		// Keeps its frequency: what is left after removing the tone is noise far below it.
		if snr := dB(0.5 / math.Sqrt2 / residual(mid, tt.to, tt.freq)); snr < 60 {
			t.Errorf("%d→%d: only %.1f dB above everything else at %.0f Hz", tt.from, tt.to, snr, tt.freq)
		}
	}
}

// residual returns the RMS of s after subtracting its best-fitting sine at freq (a least-squares
// fit of the sine and cosine components), relative to full scale.
func residual(s []int16, rate int, freq float64) float64 {
	var ss, cc, sc, xs, xc float64
	w := 2 * math.Pi * freq / float64(rate)
	for i, x := range s {
		sn, cs := math.Sincos(w * float64(i))
		v := float64(x) / 32768
		ss, cc, sc, xs, xc = ss+sn*sn, cc+cs*cs, sc+sn*cs, xs+v*sn, xc+v*cs
	}
	det := ss*cc - sc*sc
	a, b := (xs*cc-xc*sc)/det, (xc*ss-xs*sc)/det
	var sum float64
	for i, x := range s {
		sn, cs := math.Sincos(w * float64(i))
		e := float64(x)/32768 - a*sn - b*cs
		sum += e * e
	}
	return math.Sqrt(sum / float64(len(s)))
}

// TestResampleNoAliasing: tones the output rate cannot carry are removed, not folded back (a
// 6 kHz tone resampled to 8 kHz would otherwise reappear at 2 kHz). The brief asks for 40 dB;
// the filter is designed for 80 dB from the output's Nyquist frequency up.
func TestResampleNoAliasing(t *testing.T) {
	tests := []struct {
		from, to int
		freq     float64
		minDB    float64
	}{
		{44100, 8000, 6000, 75},
		{44100, 8000, 4000, 75}, // the stopband edge
		{44100, 8000, 20000, 75},
		{44100, 16000, 9000, 75},
		{48000, 8000, 5000, 75},
		{16000, 8000, 4500, 75},
		{44101, 8000, 6000, 75},
	}
	for _, tt := range tests {
		out := toneClip(tt.freq, 0.5, tt.from, tt.from/2).Resample(tt.to)
		alias := math.Abs(math.Remainder(tt.freq, float64(tt.to)))
		got := dB(rms(middle(out.Samples)) / (0.5 / math.Sqrt2))
		t.Logf("%d→%d: %.0f Hz attenuated to %.1f dB", tt.from, tt.to, tt.freq, got)
		if got > -tt.minDB {
			t.Errorf("%d→%d: %.0f Hz comes out at %.1f dB (aliased to %.0f Hz), want ≤ -%.0f dB", tt.from, tt.to, tt.freq, got, alias, tt.minDB)
		}
	}
}

// TestResampleRoundTrip: 8 kHz → 16 kHz → 8 kHz gives back the original (telephone-band speech
// survives the switch's wideband leg), apart from the ends where the filter runs out of input.
func TestResampleRoundTrip(t *testing.T) {
	c := &Clip{Rate: 8000, Samples: make([]int16, 8000)}
	parts := [][]float64{tone(300, 0.2, 8000, 8000), tone(1000, 0.2, 8000, 8000), tone(2500, 0.2, 8000, 8000), tone(3400, 0.2, 8000, 8000)}
	for i := range c.Samples {
		var v float64
		for _, p := range parts {
			v += p[i]
		}
		c.Samples[i] = int16(math.Round(v * 32767))
	}
	back := c.Resample(16000).Resample(8000)
	if len(back.Samples) != len(c.Samples) {
		t.Fatalf("%d samples back, want %d", len(back.Samples), len(c.Samples))
	}
	var diff, sig float64
	for i := 800; i < 7200; i++ {
		d := float64(back.Samples[i] - c.Samples[i])
		diff += d * d
		sig += float64(c.Samples[i]) * float64(c.Samples[i])
	}
	snr := 10 * math.Log10(sig/diff)
	t.Logf("8000→16000→8000: %.1f dB above the error", snr)
	if snr < 60 {
		t.Errorf("round trip is %.1f dB above its error, want ≥ 60 dB", snr)
	}
}

func TestResampleSameRate(t *testing.T) {
	c := toneClip(1000, 0.5, 8000, 100)
	if c.Resample(8000) != c {
		t.Error("Resample to the clip's own rate made a copy")
	}
	empty := (&Clip{Rate: 44100}).Resample(8000)
	if empty.Rate != 8000 || len(empty.Samples) != 0 {
		t.Errorf("empty clip resampled to %d Hz, %d samples", empty.Rate, len(empty.Samples))
	}
}
