// Package audio turns the sound files tenants upload (WAV or MP3) into what the switches play:
// mono 16-bit PCM at 8 kHz or 16 kHz, written as a canonical WAV.
//
// Uploads are outside input, so Decode bounds what it reads (Limits), names the problem in every
// error (wrapping ErrFormat, ErrTooLarge or ErrTooLong, which the API maps to a 4xx) and never
// panics, whatever the bytes.
package audio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"
)

// Clip is mono 16-bit PCM audio at Rate samples per second.
type Clip struct {
	Rate    int
	Samples []int16
}

// Format names what an upload was: "wav" or "mp3".
type Format string

// The formats Decode recognises.
const (
	FormatWAV Format = "wav"
	FormatMP3 Format = "mp3"
)

// Limits bound what Decode accepts. A zero (or negative) field takes its default:
// DefaultMaxBytes and DefaultMaxDuration.
type Limits struct {
	MaxBytes    int64
	MaxDuration time.Duration
}

// The defaults of Limits: a ten-minute 16-bit stereo 44.1 kHz WAV is about 100 MiB, so 20 MiB
// admits roughly two minutes of CD-quality WAV or any ten-minute MP3 — enough for prompts,
// greetings and hold music.
const (
	DefaultMaxBytes    int64         = 20 << 20
	DefaultMaxDuration time.Duration = 10 * time.Minute
)

// The sample rates Decode accepts (and Resample is meant for).
const (
	MinRate = 4000
	MaxRate = 192000
)

// Errors wrapped by Decode; test with errors.Is.
var (
	// ErrFormat: the upload is not WAV or MP3, is damaged, or uses an encoding this package does
	// not decode. The wrapping message says which.
	ErrFormat = errors.New("audio: not a usable WAV or MP3 file")
	// ErrTooLarge: the upload has more bytes than Limits.MaxBytes.
	ErrTooLarge = errors.New("audio: file too large")
	// ErrTooLong: the audio plays for longer than Limits.MaxDuration.
	ErrTooLong = errors.New("audio: recording too long")
)

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	if l.MaxDuration <= 0 {
		l.MaxDuration = DefaultMaxDuration
	}
	return l
}

// Decode reads a whole WAV or MP3 upload, recognised from its content (never from a file name),
// and returns it as a mono Clip at its own sample rate.
//
// WAV: RIFF (little endian) or RIFX (big endian) WAVE with PCM 8-bit unsigned or 16/24/32-bit
// signed integers, IEEE float 32/64, G.711 A-law or µ-law, or WAVE_FORMAT_EXTENSIBLE carrying one
// of those; any rate from MinRate to MaxRate; 1 to 8 channels, averaged to mono.
//
// MP3: MPEG-1 or MPEG-2 Layer III, with or without ID3v2 tags, decoded by
// github.com/hajimehoshi/go-mp3; encoder delay and padding recorded in a LAME/Xing header are
// trimmed so the clip starts and ends where the encoded audio did.
//
// A file without samples decodes to an empty clip (which Silent reports as silence). Errors wrap
// ErrFormat, ErrTooLarge (Decode stops reading one byte past MaxBytes) or ErrTooLong.
func Decode(r io.Reader, lim Limits) (clip *Clip, f Format, err error) {
	lim = lim.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("audio: reading upload: %w", err)
	}
	if int64(len(data)) > lim.MaxBytes {
		return nil, "", fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	decode := decodeWAV
	switch f = sniff(data); f {
	case FormatWAV:
	case FormatMP3:
		decode = decodeMP3
	default:
		return nil, "", fmt.Errorf("%w: %s", ErrFormat, describeUnknown(data))
	}
	if clip, err = guard(f, func() (*Clip, error) { return decode(data, lim) }); err != nil {
		return nil, "", err
	}
	return clip, f, nil
}

// guard runs a decoder so that a bug in it (or in go-mp3) cannot take the server down: whatever
// panics is a file that cannot be read.
func guard(f Format, decode func() (*Clip, error)) (clip *Clip, err error) {
	defer func() {
		if p := recover(); p != nil {
			clip, err = nil, fmt.Errorf("%w: %s: damaged data (%v)", ErrFormat, f, p)
		}
	}()
	return decode()
}

// sniff recognises WAV by its RIFF/RIFX WAVE header and MP3 by an ID3v2 tag or an MPEG audio
// frame sync at the start.
func sniff(b []byte) Format {
	if len(b) >= 12 && (bytes.HasPrefix(b, []byte("RIFF")) || bytes.HasPrefix(b, []byte("RIFX"))) &&
		string(b[8:12]) == "WAVE" {
		return FormatWAV
	}
	if bytes.HasPrefix(b, []byte("ID3")) || isFrameSync(b) {
		return FormatMP3
	}
	return ""
}

// isFrameSync reports whether b starts with an MPEG audio frame header (any layer, so that
// Layer I/II files get a message naming their layer rather than "not audio").
func isFrameSync(b []byte) bool {
	return len(b) >= 4 && b[0] == 0xFF && b[1]&0xE0 == 0xE0 && (b[1]>>1)&3 != 0
}

// describeUnknown names a few formats people upload by mistake, so the error says what was
// received rather than only what was expected.
func describeUnknown(b []byte) string {
	known := []struct{ magic, name string }{
		{"OggS", "Ogg (Vorbis/Opus)"},
		{"fLaC", "FLAC"},
		{"FORM", "AIFF"},
		{"RF64", "RF64 (64-bit WAV)"},
		{"#!AMR", "AMR"},
		{".snd", "Sun/NeXT AU"},
		{"%PDF", "PDF"},
		{"PK\x03\x04", "ZIP"},
	}
	for _, k := range known {
		if bytes.HasPrefix(b, []byte(k.magic)) {
			return "looks like " + k.name + ", want WAV or MP3"
		}
	}
	if len(b) >= 12 && string(b[4:8]) == "ftyp" {
		return "looks like MP4/M4A, want WAV or MP3"
	}
	if len(b) >= 12 && (bytes.HasPrefix(b, []byte("RIFF")) || bytes.HasPrefix(b, []byte("RIFX"))) {
		return fmt.Sprintf("RIFF file of type %q, want WAVE", b[8:12])
	}
	if len(b) == 0 {
		return "empty file"
	}
	return "not WAV or MP3"
}
