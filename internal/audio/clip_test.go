package audio

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestWriteWAV: the canonical header byte for byte (testdata/write-8k.wav.golden), and what is
// written decodes back to the same clip.
func TestWriteWAV(t *testing.T) {
	c := &Clip{Rate: 8000, Samples: []int16{0, 1, -1, 32767, -32768, 0x1234, -0x1234}}
	var b bytes.Buffer
	if err := c.WriteWAV(&b); err != nil {
		t.Fatal(err)
	}
	if b.Len() != wavHeaderSize+2*len(c.Samples) {
		t.Errorf("wrote %d bytes, want %d", b.Len(), wavHeaderSize+2*len(c.Samples))
	}
	golden(t, "write-8k.wav.golden", b.Bytes())
	for _, n := range []int{0, 1, 16 << 10, 16<<10 + 1, 100000} { // around WriteWAV's buffer size
		in := toneClip(1000, 0.5, 16000, n)
		var w bytes.Buffer
		if err := in.WriteWAV(&w); err != nil {
			t.Fatal(err)
		}
		out, f := decodeBytes(t, w.Bytes(), Limits{})
		if f != FormatWAV || out.Rate != in.Rate || !slices.Equal(out.Samples, in.Samples) {
			t.Errorf("%d samples: decoded %s %d Hz %d samples, not the clip written", n, f, out.Rate, len(out.Samples))
		}
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("disk full")
	}
	w.after--
	return len(p), nil
}

func TestWriteWAVErrors(t *testing.T) {
	c := toneClip(1000, 0.5, 8000, 100000)
	for _, after := range []int{0, 1, 3} {
		if err := c.WriteWAV(&failingWriter{after: after}); err == nil {
			t.Errorf("write failing after %d calls: no error", after)
		}
	}
	if err := (&Clip{Samples: []int16{1}}).WriteWAV(&bytes.Buffer{}); err == nil {
		t.Error("clip without a rate written")
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		c    Clip
		want time.Duration
	}{
		{Clip{Rate: 8000, Samples: make([]int16, 8000)}, time.Second},
		{Clip{Rate: 44100, Samples: make([]int16, 441)}, 10 * time.Millisecond},
		{Clip{Rate: 16000}, 0},
		{Clip{Samples: make([]int16, 10)}, 0},
	}
	for _, tt := range tests {
		if got := tt.c.Duration(); got != tt.want {
			t.Errorf("%d samples at %d Hz: %s, want %s", len(tt.c.Samples), tt.c.Rate, got, tt.want)
		}
	}
}

// TestSilent: the threshold is -60 dBFS (a peak of 33 in 16 bits), either polarity.
func TestSilent(t *testing.T) {
	tests := []struct {
		name    string
		samples []int16
		want    bool
	}{
		{"empty", nil, true},
		{"zeros", make([]int16, 1000), true},
		{"dither ±32", []int16{32, -32, 5, -1}, true},
		{"peak 33", []int16{0, 33, 0}, false},
		{"peak -33", []int16{0, -33, 0}, false},
		{"full scale", []int16{-32768}, false},
		{"-6 dBFS tone", toneClip(1000, 0.5, 8000, 800).Samples, false},
		{"-61 dBFS tone", toneClip(1000, 0.00089, 8000, 800).Samples, true},
	}
	for _, tt := range tests {
		if got := (&Clip{Rate: 8000, Samples: tt.samples}).Silent(); got != tt.want {
			t.Errorf("%s: Silent() = %v, want %v", tt.name, got, tt.want)
		}
	}
}
