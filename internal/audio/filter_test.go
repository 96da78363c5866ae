package audio

import (
	"math"
	"math/cmplx"
	"testing"
)

// TestFilterBank measures each row of the resampling filter bank in floating point, where the
// documented figures hold (in the int16 output they disappear below the quantisation): flat to
// 90% of the lower Nyquist frequency, at least 80 dB down from 100% of it.
func TestFilterBank(t *testing.T) {
	tests := []struct {
		from, to int
	}{
		{44100, 8000}, {44100, 16000}, {48000, 8000}, {16000, 8000}, {44101, 8000}, {8000, 16000},
	}
	for _, tt := range tests {
		g := gcd(tt.from, tt.to)
		phases := min(tt.to/g, maxPhases)
		bank, taps := filterBank(float64(tt.to)/float64(tt.from), phases)
		nyq := float64(min(tt.from, tt.to)) / 2
		var ripple, stop float64
		stop = math.Inf(-1)
		for p := 0; p <= phases; p += max(1, phases/16) {
			row := bank[p*taps : (p+1)*taps]
			resp := func(f float64) float64 {
				var sum complex128
				w := 2 * math.Pi * f / float64(tt.from)
				for q, v := range row {
					sum += complex(float64(v), 0) * cmplx.Exp(complex(0, -w*float64(q)))
				}
				return dB(cmplx.Abs(sum))
			}
			for f := 0.0; f <= 0.9*nyq; f += nyq / 200 {
				ripple = math.Max(ripple, math.Abs(resp(f)))
			}
			if tt.to < tt.from { // only downsampling folds the input band above the output's Nyquist
				for f := nyq; f <= float64(tt.from)/2; f += nyq / 50 {
					stop = math.Max(stop, resp(f))
				}
			}
		}
		t.Logf("%d→%d: %d phases of %d taps, passband ripple ±%.4f dB, stopband ≤ %.1f dB", tt.from, tt.to, phases, taps, ripple, stop)
		if ripple > 0.01 {
			t.Errorf("%d→%d: passband ripple ±%.4f dB, want ≤ 0.01 dB", tt.from, tt.to, ripple)
		}
		if stop > -80 {
			t.Errorf("%d→%d: stopband reaches %.1f dB, want ≤ -80 dB", tt.from, tt.to, stop)
		}
	}
}
