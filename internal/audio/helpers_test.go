package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// Test signals are built here rather than stored: a WAV of every encoding is a few lines of
// code, and generating it keeps the expected samples next to the bytes.

// tone returns n samples of amplitude·sin(2π·freq·i/rate), amplitude relative to full scale.
func tone(freq, amplitude float64, rate, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = amplitude * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))
	}
	return s
}

// wavSpec describes a WAV to build.
type wavSpec struct {
	tag        uint16 // wavPCM, wavFloat, wavALaw, wavMuLaw
	bits       int
	rate       int
	extensible bool
	bigEndian  bool     // RIFX
	before     [][]byte // whole chunks written between "WAVE" and "fmt "
	after      [][]byte // whole chunks written after the data chunk
	dataSize   int64    // if non-zero, the size written in the data chunk header (0xFFFFFFFF: streaming)
}

// chunk returns a RIFF chunk, padded to an even length.
func chunk(id string, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(id), uint32(len(body)))
	b = append(b, body...)
	if len(body)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// buildWAV encodes channels (each a slice of samples in [-1, 1]) as spec says.
func buildWAV(t testing.TB, spec wavSpec, channels ...[]float64) []byte {
	t.Helper()
	var order byteOrder = binary.LittleEndian
	if spec.bigEndian {
		order = binary.BigEndian
	}
	nch, width := len(channels), (spec.bits+7)/8
	fmtc := order.AppendUint16(nil, spec.tag)
	if spec.extensible {
		fmtc = order.AppendUint16(nil, wavExtensible)
	}
	fmtc = order.AppendUint16(fmtc, uint16(nch))
	fmtc = order.AppendUint32(fmtc, uint32(spec.rate))
	fmtc = order.AppendUint32(fmtc, uint32(spec.rate*nch*width))
	fmtc = order.AppendUint16(fmtc, uint16(nch*width))
	fmtc = order.AppendUint16(fmtc, uint16(spec.bits))
	if spec.extensible {
		fmtc = order.AppendUint16(fmtc, 22)
		fmtc = order.AppendUint16(fmtc, uint16(spec.bits))
		fmtc = order.AppendUint32(fmtc, 0)
		fmtc = order.AppendUint16(fmtc, spec.tag)
		fmtc = append(fmtc, ksdataformatSuffix...)
	}
	var data []byte
	for i := range channels[0] {
		for _, ch := range channels {
			data = appendSample(data, order, spec, ch[i])
		}
	}
	var b []byte
	for _, c := range spec.before {
		b = append(b, c...)
	}
	b = append(b, fixOrder(chunk("fmt ", fmtc), order)...)
	dc := fixOrder(chunk("data", data), order)
	if spec.dataSize != 0 {
		order.PutUint32(dc[4:8], uint32(spec.dataSize))
	}
	b = append(b, dc...)
	for _, c := range spec.after {
		b = append(b, c...)
	}
	magic := "RIFF"
	if spec.bigEndian {
		magic = "RIFX"
	}
	head := order.AppendUint32([]byte(magic), uint32(len(b)+4))
	return append(append(head, "WAVE"...), b...)
}

type byteOrder interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

// fixOrder rewrites a chunk's size field in the file's byte order.
func fixOrder(c []byte, order byteOrder) []byte {
	order.PutUint32(c[4:8], binary.LittleEndian.Uint32(c[4:8]))
	return c
}

func appendSample(b []byte, order byteOrder, spec wavSpec, v float64) []byte {
	switch spec.tag {
	case wavFloat:
		if spec.bits == 32 {
			return order.AppendUint32(b, math.Float32bits(float32(v)))
		}
		return order.AppendUint64(b, math.Float64bits(v))
	case wavALaw:
		return append(b, linearToALaw(int16(math.Round(v*32767))))
	case wavMuLaw:
		return append(b, linearToMuLaw(int16(math.Round(v*32767))))
	}
	// PCM: 8-bit is unsigned; wider samples are signed and left-justified in whole bytes (a
	// 12-bit sample fills the top of 16 bits).
	width := (spec.bits + 7) / 8
	if width == 1 {
		return append(b, byte(min(int(math.Round(v*128)), 127)+128))
	}
	x := uint64(int64(math.Round(v*float64(int64(1)<<(spec.bits-1)-1))) << (8*width - spec.bits))
	for i := range width {
		shift := 8 * i // little endian: low byte first
		if order == byteOrder(binary.BigEndian) {
			shift = 8 * (width - 1 - i)
		}
		b = append(b, byte(x>>shift))
	}
	return b
}

// linearToALaw and linearToMuLaw are the reference G.711 encoders (Sun's g711.c), used to make
// A-law and µ-law inputs.
func linearToALaw(pcm int16) byte {
	v, mask := int(pcm)>>3, byte(0xD5)
	if v < 0 {
		v, mask = -v-1, 0x55
	}
	seg := segment(v, []int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF})
	if seg >= 8 {
		return 0x7F ^ mask
	}
	a := byte(seg << 4)
	if seg < 2 {
		a |= byte(v>>1) & 0x0F
	} else {
		a |= byte(v>>seg) & 0x0F
	}
	return a ^ mask
}

func linearToMuLaw(pcm int16) byte {
	v, mask := int(pcm)>>2, byte(0xFF)
	if v < 0 {
		v, mask = -v, 0x7F
	}
	v = min(v, 8159) + 0x21
	seg := segment(v, []int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF})
	if seg >= 8 {
		return 0x7F ^ mask
	}
	return byte(seg<<4|(v>>(seg+1))&0x0F) ^ mask
}

func segment(v int, ends []int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return len(ends)
}

// level returns the amplitude (relative to full scale) of the component of s at freq, by the
// Goertzel algorithm over s (best over a whole number of periods).
func level(s []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range s {
		s1, s2 = float64(x)/32768+coeff*s1-s2, s1
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	return 2 * math.Sqrt(math.Max(power, 0)) / float64(len(s))
}

// rms returns the root mean square of s relative to full scale.
func rms(s []int16) float64 {
	var sum float64
	for _, x := range s {
		sum += float64(x) / 32768 * float64(x) / 32768
	}
	return math.Sqrt(sum / float64(len(s)))
}

func dB(ratio float64) float64 { return 20 * math.Log10(ratio) }

// middle returns s without its first and last tenth, where filters start and stop.
func middle(s []int16) []int16 { return s[len(s)/10 : len(s)-len(s)/10] }

// wholePeriods trims s to a whole number of periods of freq, so Goertzel has no leakage.
func wholePeriods(s []int16, rate int, freq float64) []int16 {
	period := float64(rate) / freq
	n := int(math.Floor(float64(len(s))/period) * period)
	// Exact only when period is an integer; otherwise the leakage is below 0.01 dB at these lengths.
	return s[:max(n, 1)]
}

func decodeBytes(t testing.TB, b []byte, lim Limits) (*Clip, Format) {
	t.Helper()
	c, f, err := Decode(bytes.NewReader(b), lim)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return c, f
}
