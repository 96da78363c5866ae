package audio

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run with -update to accept):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// pcm16 is a small valid WAV to damage.
func pcm16(t testing.TB, rate, n int) []byte {
	return buildWAV(t, wavSpec{tag: wavPCM, bits: 16, rate: rate}, tone(1000, 0.5, rate, n), tone(1000, 0.5, rate, n))
}

// withFmt returns a WAV whose fmt chunk is body (and a short data chunk).
func withFmt(body []byte) []byte {
	b := append([]byte("RIFF\x00\x00\x00\x00WAVE"), chunk("fmt ", body)...)
	return append(b, chunk("data", make([]byte, 8))...)
}

// fmtBody returns a fmt chunk body.
func fmtBody(tag, channels uint16, rate uint32, bits uint16) []byte {
	le := func(b []byte, v uint64, n int) []byte {
		for i := range n {
			b = append(b, byte(v>>(8*i)))
		}
		return b
	}
	b := le(nil, uint64(tag), 2)
	b = le(b, uint64(channels), 2)
	b = le(b, uint64(rate), 4)
	b = le(b, uint64(rate)*uint64(channels)*uint64(bits/8), 4)
	b = le(b, uint64(channels)*uint64(bits/8), 2)
	return le(b, uint64(bits), 2)
}

func extensibleBody(sub []byte) []byte {
	b := append(fmtBody(wavExtensible, 2, 44100, 16), 22, 0, 16, 0, 3, 0, 0, 0)
	return append(b, sub...)
}

func readMP3(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type decodeErrorCase struct {
	name string
	in   []byte
	lim  Limits
	want error
}

// decodeErrorCases are the inputs Decode must refuse (also seeds for FuzzDecode).
func decodeErrorCases(t testing.TB) []decodeErrorCase {
	good := pcm16(t, 8000, 800)
	mp3 := readMP3(t, "tone-1k-44100.mp3")
	audioStart := len(mp3) - len(must(skipID3v2(mp3)))
	return []decodeErrorCase{
		{"empty", nil, Limits{}, ErrFormat},
		{"text", []byte("hello, this is not audio at all"), Limits{}, ErrFormat},
		{"ogg", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), Limits{}, ErrFormat},
		{"flac", []byte("fLaC\x00\x00\x00\x22"), Limits{}, ErrFormat},
		{"m4a", []byte("\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00"), Limits{}, ErrFormat},
		{"riff avi", []byte("RIFF\x00\x00\x00\x00AVI LIST"), Limits{}, ErrFormat},
		{"wav header only", good[:12], Limits{}, ErrFormat},
		{"fmt chunk truncated", good[:30], Limits{}, ErrFormat},
		{"no data chunk", good[:36], Limits{}, ErrFormat},
		{"data chunk truncated", good[:len(good)-1], Limits{}, ErrFormat},
		{"data before fmt", append([]byte("RIFF\x00\x00\x00\x00WAVE"), chunk("data", make([]byte, 4))...), Limits{}, ErrFormat},
		{"fmt chunk too short", withFmt(make([]byte, 14)), Limits{}, ErrFormat},
		{"mp3 in wav", withFmt(fmtBody(0x0055, 2, 44100, 0)), Limits{}, ErrFormat},
		{"ima adpcm", withFmt(fmtBody(0x0011, 1, 8000, 4)), Limits{}, ErrFormat},
		{"unknown encoding", withFmt(fmtBody(0x1234, 1, 8000, 16)), Limits{}, ErrFormat},
		{"12 channels", withFmt(fmtBody(wavPCM, 12, 8000, 16)), Limits{}, ErrFormat},
		{"0 channels", withFmt(fmtBody(wavPCM, 0, 8000, 16)), Limits{}, ErrFormat},
		{"rate too low", withFmt(fmtBody(wavPCM, 1, 2000, 16)), Limits{}, ErrFormat},
		{"rate too high", withFmt(fmtBody(wavPCM, 1, 384000, 16)), Limits{}, ErrFormat},
		{"pcm 0 bits", withFmt(fmtBody(wavPCM, 1, 8000, 0)), Limits{}, ErrFormat},
		{"pcm 40 bits", withFmt(fmtBody(wavPCM, 1, 8000, 40)), Limits{}, ErrFormat},
		{"float 16 bits", withFmt(fmtBody(wavFloat, 1, 8000, 16)), Limits{}, ErrFormat},
		{"a-law 16 bits", withFmt(fmtBody(wavALaw, 1, 8000, 16)), Limits{}, ErrFormat},
		{"extensible too short", withFmt(fmtBody(wavExtensible, 2, 44100, 16)), Limits{}, ErrFormat},
		{"extensible foreign guid", withFmt(extensibleBody(bytes.Repeat([]byte{0xAB}, 16))), Limits{}, ErrFormat},
		{"extensible adpcm", withFmt(extensibleBody(append([]byte{0x02, 0x00}, ksdataformatSuffix...))), Limits{}, ErrFormat},
		{"id3 truncated", []byte("ID3\x03\x00"), Limits{}, ErrFormat},
		{"id3 past end", []byte("ID3\x03\x00\x00\x00\x00\x10\x00 short"), Limits{}, ErrFormat},
		{"id3 damaged size", []byte("ID3\x03\x00\x00\xFF\x00\x00\x00"), Limits{}, ErrFormat},
		{"id3 then garbage", append([]byte("ID3\x03\x00\x00\x00\x00\x00\x00"), "garbage!"...), Limits{}, ErrFormat},
		{"mp3 layer II", append([]byte{0xFF, 0xFD, 0x90, 0x00}, make([]byte, 400)...), Limits{}, ErrFormat},
		{"mp3 layer I", append([]byte{0xFF, 0xFF, 0x90, 0x00}, make([]byte, 400)...), Limits{}, ErrFormat},
		{"mpeg-2.5", append([]byte{0xFF, 0xE3, 0x90, 0x00}, make([]byte, 400)...), Limits{}, ErrFormat},
		{"mp3 cut in first frame", mp3[:audioStart+100], Limits{}, ErrFormat},
		{"mp3 cut after 10 frames", mp3[:audioStart+209*10+50], Limits{}, ErrFormat},
		{"wav over MaxBytes", good, Limits{MaxBytes: int64(len(good)) - 1}, ErrTooLarge},
		{"mp3 over MaxBytes", mp3, Limits{MaxBytes: 4096}, ErrTooLarge},
		{"wav over MaxDuration", good, Limits{MaxDuration: 99 * time.Millisecond}, ErrTooLong},
		{"mp3 over MaxDuration", mp3, Limits{MaxDuration: 999 * time.Millisecond}, ErrTooLong},
		{"mp3 far over MaxDuration", mp3, Limits{MaxDuration: 100 * time.Millisecond}, ErrTooLong},
	}
}

// TestDecodeErrors: every way an upload can be refused, with the message the API will show
// (collected in testdata/decode-errors.golden so wording changes are reviewed).
func TestDecodeErrors(t *testing.T) {
	var report strings.Builder
	for _, tt := range decodeErrorCases(t) {
		c, f, err := Decode(bytes.NewReader(tt.in), tt.lim)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: got (%v, %q, %v), want an error wrapping %v", tt.name, c, f, err, tt.want)
			continue
		}
		fmt.Fprintf(&report, "%s: %v\n", tt.name, err)
	}
	golden(t, "decode-errors.golden", []byte(report.String()))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestDecodeAtLimits: exactly MaxBytes and exactly MaxDuration are allowed.
func TestDecodeAtLimits(t *testing.T) {
	good := pcm16(t, 8000, 800)
	if _, _, err := Decode(bytes.NewReader(good), Limits{MaxBytes: int64(len(good)), MaxDuration: 100 * time.Millisecond}); err != nil {
		t.Errorf("WAV at both limits: %v", err)
	}
	if _, _, err := Decode(bytes.NewReader(readMP3(t, "tone-1k-44100.mp3")), Limits{MaxDuration: time.Second}); err != nil {
		t.Errorf("1 s MP3 with MaxDuration 1s: %v", err)
	}
}

// countingReader counts what Decode takes from an upload.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestDecodeStopsAtMaxBytes: an endless upload is refused after MaxBytes+1 bytes, not read to
// its end.
func TestDecodeStopsAtMaxBytes(t *testing.T) {
	for _, max := range []int64{0, 1, 1000, 1 << 20} {
		r := &countingReader{r: io.MultiReader(bytes.NewReader(pcm16(t, 8000, 10)), neverEnding('x'))}
		_, _, err := Decode(r, Limits{MaxBytes: max})
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("MaxBytes %d: %v, want ErrTooLarge", max, err)
		}
		limit := max
		if limit == 0 {
			limit = DefaultMaxBytes
		}
		if r.n > limit+1 {
			t.Errorf("MaxBytes %d: read %d bytes", max, r.n)
		}
	}
}

type neverEnding byte

func (b neverEnding) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

// TestDecodeTruncated: every prefix of a WAV (short of the whole) and of an MP3 (past its first
// frame header) is refused as ErrFormat, never half-decoded.
func TestDecodeTruncated(t *testing.T) {
	inputs := map[string][]byte{
		"wav": pcm16(t, 8000, 40),
		"mp3": readMP3(t, "tone-1k-22050.mp3"),
	}
	for name, b := range inputs {
		// The MP3's trailing 128-byte ID3v1 tag is not audio: cutting into it loses nothing.
		end := len(b)
		if name == "mp3" {
			end -= 128
		}
		// Every cut through the headers and the first frames; then every 13th byte (each cut
		// costs go-mp3 a scan of the file, and later cuts differ only in how many frames remain).
		dense := 600
		for n := range end {
			if n >= dense && n%13 != 0 {
				continue
			}
			c, _, err := Decode(bytes.NewReader(b[:n]), Limits{})
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%s cut to %d of %d bytes: got %v samples, err %v; want ErrFormat", name, n, len(b), c, err)
			}
		}
	}
}

// TestDecodeGarbage: random bytes, alone or behind a real header, are refused as ErrFormat.
func TestDecodeGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	prefixes := map[string][]byte{
		"none": nil,
		"RIFF": []byte("RIFF\x24\x00\x00\x00WAVE"),
		"ID3":  []byte("ID3\x03\x00\x00\x00\x00\x00\x00"),
		"sync": {0xFF, 0xFB, 0x90, 0x64},
	}
	for name, p := range prefixes {
		for i := range 200 {
			junk := make([]byte, rng.IntN(4096))
			for j := range junk {
				junk[j] = byte(rng.Uint32())
			}
			in := append(append([]byte{}, p...), junk...)
			if c, _, err := Decode(bytes.NewReader(in), Limits{}); err == nil {
				// Random bytes after a frame sync can happen to decode as noise; anything else
				// decoding is a bug.
				if name != "sync" && name != "ID3" {
					t.Errorf("%s garbage #%d decoded as %d samples", name, i, len(c.Samples))
				}
			} else if !errors.Is(err, ErrFormat) {
				t.Errorf("%s garbage #%d: %v, want ErrFormat", name, i, err)
			}
		}
	}
}

// TestGuard: a decoder that panics yields ErrFormat naming the format, not a crash.
func TestGuard(t *testing.T) {
	c, err := guard(FormatMP3, func() (*Clip, error) {
		var s []int16
		return &Clip{Samples: s[:1]}, nil // index out of range
	})
	if c != nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "mp3: damaged data") {
		t.Errorf("got (%v, %v), want ErrFormat naming mp3", c, err)
	}
}
