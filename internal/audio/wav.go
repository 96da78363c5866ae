package audio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"time"
)

// WAVE format tags this package decodes, and the extensible wrapper that may carry them.
const (
	wavPCM        = 0x0001
	wavFloat      = 0x0003
	wavALaw       = 0x0006
	wavMuLaw      = 0x0007
	wavExtensible = 0xFFFE
)

// wavEncodingNames names the compressed encodings people most often find inside a .wav, so the
// error tells them what they have ("re-export as PCM") rather than a bare number.
var wavEncodingNames = map[uint16]string{
	0x0002: "Microsoft ADPCM",
	0x0011: "IMA ADPCM",
	0x0031: "GSM 6.10",
	0x0040: "G.721 ADPCM",
	0x0045: "G.726 ADPCM",
	0x0050: "MPEG audio inside WAV",
	0x0055: "MP3 inside WAV",
	0x0064: "G.726 ADPCM",
	0x0065: "G.722 ADPCM",
	0x00FF: "AAC",
}

// ksdataformatSuffix is the part of a WAVE_FORMAT_EXTENSIBLE SubFormat GUID after its first two
// bytes (which hold the ordinary format tag), as stored little endian.
var ksdataformatSuffix = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// wavFormat is what decoding needs from a fmt chunk.
type wavFormat struct {
	tag      uint16 // after unwrapping WAVE_FORMAT_EXTENSIBLE
	channels int
	rate     int
	bits     int // container size: samples take (bits+7)/8 bytes
}

func wavErr(format string, args ...any) error {
	return fmt.Errorf("%w: wav: "+format, append([]any{ErrFormat}, args...)...)
}

// decodeWAV decodes the data chunk of b (already known to start with RIFF/RIFX....WAVE).
func decodeWAV(b []byte, lim Limits) (*Clip, error) {
	f, data, order, err := walkWAV(b)
	if err != nil {
		return nil, err
	}
	return f.decode(data, order, lim)
}

// walkWAV walks the RIFF chunks of b (already known to start with RIFF/RIFX....WAVE), reads the
// fmt chunk and returns it with the data chunk. Chunks it does not need (LIST, fact, cue,
// bext…) are skipped; the RIFF size field is ignored because many writers get it wrong.
func walkWAV(b []byte) (*wavFormat, []byte, binary.ByteOrder, error) {
	var order binary.ByteOrder = binary.LittleEndian
	if bytes.HasPrefix(b, []byte("RIFX")) {
		order = binary.BigEndian
	}
	var f *wavFormat
	for rest := b[12:]; ; {
		if len(rest) < 8 {
			if f == nil {
				return nil, nil, nil, wavErr("no fmt chunk")
			}
			return nil, nil, nil, wavErr("no data chunk")
		}
		id, size := string(rest[:4]), int64(order.Uint32(rest[4:8]))
		rest = rest[8:]
		if id == "data" {
			if f == nil {
				return nil, nil, nil, wavErr("data chunk before fmt chunk")
			}
			// Writers that stream (or crashed) leave 0 or 0xFFFFFFFF: take the rest of the file.
			if size == 0 || size == 0xFFFFFFFF {
				size = int64(len(rest))
			}
			if size > int64(len(rest)) {
				return nil, nil, nil, wavErr("data chunk truncated: header says %d bytes, file has %d", size, len(rest))
			}
			return f, rest[:size], order, nil
		}
		if size > int64(len(rest)) {
			return nil, nil, nil, wavErr("%q chunk truncated: header says %d bytes, file has %d", id, size, len(rest))
		}
		if id == "fmt " {
			var err error
			if f, err = parseFmt(rest[:size], order); err != nil {
				return nil, nil, nil, err
			}
		}
		size += size & 1 // chunks are padded to an even length
		rest = rest[min(size, int64(len(rest))):]
	}
}

// WAVInfo is what ProbeWAV reads from a WAV's header.
type WAVInfo struct {
	Rate     int
	Channels int
	Bits     int
	Duration time.Duration // of the whole frames in the data chunk
}

// ProbeWAV reads a WAV's format and length without decoding its samples: a call recording
// may be an hour of audio, and storing it needs only to know that it is a WAV Decode would
// read and how long it plays. Errors wrap ErrFormat.
func ProbeWAV(b []byte) (WAVInfo, error) {
	if sniff(b) != FormatWAV {
		return WAVInfo{}, fmt.Errorf("%w: %s", ErrFormat, describeUnknown(b))
	}
	f, data, _, err := walkWAV(b)
	if err != nil {
		return WAVInfo{}, err
	}
	frames := len(data) / (((f.bits + 7) / 8) * f.channels)
	return WAVInfo{Rate: f.rate, Channels: f.channels, Bits: f.bits,
		Duration: time.Duration(frames) * time.Second / time.Duration(f.rate)}, nil
}

// parseFmt reads a fmt chunk and refuses what decode cannot handle, naming it.
func parseFmt(c []byte, order binary.ByteOrder) (*wavFormat, error) {
	if len(c) < 16 {
		return nil, wavErr("fmt chunk is %d bytes, want at least 16", len(c))
	}
	f := &wavFormat{
		tag:      order.Uint16(c[0:2]),
		channels: int(order.Uint16(c[2:4])),
		rate:     int(order.Uint32(c[4:8])),
		bits:     int(order.Uint16(c[14:16])),
	}
	if f.tag == wavExtensible {
		if len(c) < 40 {
			return nil, wavErr("extensible fmt chunk is %d bytes, want 40", len(c))
		}
		guid := c[24:40]
		if !bytes.Equal(guid[2:], ksdataformatSuffix) {
			return nil, wavErr("extensible subformat GUID %X not supported", guid)
		}
		f.tag = order.Uint16(guid[0:2])
	}
	if f.channels < 1 || f.channels > 8 {
		return nil, wavErr("%d channels, want 1 to 8", f.channels)
	}
	if f.rate < MinRate || f.rate > MaxRate {
		return nil, wavErr("sample rate %d Hz, want %d to %d", f.rate, MinRate, MaxRate)
	}
	switch f.tag {
	case wavPCM:
		if f.bits < 1 || f.bits > 32 {
			return nil, wavErr("PCM with %d bits per sample not supported", f.bits)
		}
	case wavFloat:
		if f.bits != 32 && f.bits != 64 {
			return nil, wavErr("IEEE float with %d bits per sample not supported", f.bits)
		}
	case wavALaw, wavMuLaw:
		if f.bits != 8 {
			return nil, wavErr("G.711 with %d bits per sample not supported", f.bits)
		}
	default:
		if name, ok := wavEncodingNames[f.tag]; ok {
			return nil, wavErr("encoding 0x%04X not supported (%s), want PCM, IEEE float, A-law or µ-law", f.tag, name)
		}
		return nil, wavErr("encoding 0x%04X not supported, want PCM, IEEE float, A-law or µ-law", f.tag)
	}
	return f, nil
}

// decode turns interleaved frames into mono samples. Each sample is first widened to a signed
// 32-bit full scale, the channels are averaged, and the mean is rounded to 16 bits, so 16-bit
// mono comes through bit-exact and wider formats are rounded rather than truncated.
func (f *wavFormat) decode(data []byte, order binary.ByteOrder, lim Limits) (*Clip, error) {
	width := (f.bits + 7) / 8
	frame := width * f.channels
	n := len(data) / frame // a trailing partial frame is dropped
	if d := time.Duration(n) * time.Second / time.Duration(f.rate); d > lim.MaxDuration {
		return nil, fmt.Errorf("%w: %s, limit %s", ErrTooLong, d.Round(time.Millisecond), lim.MaxDuration)
	}
	sample := f.sampleFunc(width, order)
	out := make([]int16, n)
	for i := range out {
		fr := data[i*frame : (i+1)*frame]
		var sum int64
		for ch := 0; ch < f.channels; ch++ {
			sum += int64(sample(fr[ch*width : (ch+1)*width]))
		}
		out[i] = round32to16(sum / int64(f.channels))
	}
	return &Clip{Rate: f.rate, Samples: out}, nil
}

// sampleFunc returns the reader of one sample as a signed 32-bit full-scale value.
func (f *wavFormat) sampleFunc(width int, order binary.ByteOrder) func([]byte) int32 {
	big := order == binary.BigEndian
	switch f.tag {
	case wavALaw:
		return func(b []byte) int32 { return int32(alawToLinear[b[0]]) << 16 }
	case wavMuLaw:
		return func(b []byte) int32 { return int32(mulawToLinear[b[0]]) << 16 }
	case wavFloat:
		if width == 4 {
			return func(b []byte) int32 { return floatTo32(float64(math.Float32frombits(order.Uint32(b)))) }
		}
		return func(b []byte) int32 { return floatTo32(math.Float64frombits(order.Uint64(b))) }
	}
	// PCM: samples are left-justified in their container, so reading the container as a
	// signed integer and shifting it to the top of 32 bits is right for 12-, 20-bit etc. too.
	switch width {
	case 1: // 8-bit WAV is unsigned
		return func(b []byte) int32 { return (int32(b[0]) - 128) << 24 }
	case 2:
		return func(b []byte) int32 { return int32(int16(order.Uint16(b))) << 16 }
	case 3:
		if big {
			return func(b []byte) int32 { return int32(b[0])<<24 | int32(b[1])<<16 | int32(b[2])<<8 }
		}
		return func(b []byte) int32 { return int32(b[2])<<24 | int32(b[1])<<16 | int32(b[0])<<8 }
	default:
		return func(b []byte) int32 { return int32(order.Uint32(b)) }
	}
}

// floatTo32 scales a float sample (full scale ±1) to 32 bits, clipping what is beyond full
// scale and mapping NaN to silence.
func floatTo32(v float64) int32 {
	switch {
	case v != v:
		return 0
	case v >= 1:
		return math.MaxInt32
	case v <= -1:
		return math.MinInt32
	}
	// A v just below 1 still rounds up to 1<<31, one past the largest int32.
	return int32(min(math.Round(v*(1<<31)), math.MaxInt32))
}

// round32to16 rounds a 32-bit full-scale value to 16 bits (halves upward), saturating at the top.
func round32to16(v int64) int16 {
	v = (v + 1<<15) >> 16
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	return int16(v)
}
