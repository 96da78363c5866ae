package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hajimehoshi/go-mp3"
)

// MP3 decoding is delegated to github.com/hajimehoshi/go-mp3: pure Go (no cgo, so the daemon
// stays a static binary), small, and the one maintained Layer III decoder in Go. This file does
// what it does not: bounded ID3v2 skipping (go-mp3 allocates whatever size a tag header claims,
// up to 256 MiB), clear errors for Layer I/II and MPEG-2.5, the duration limit before decoding,
// and LAME gapless trimming.

func mp3Err(format string, args ...any) error {
	return fmt.Errorf("%w: mp3: "+format, append([]any{ErrFormat}, args...)...)
}

// mp3Header is the part of an MPEG audio frame header this file needs.
type mp3Header struct {
	version int // 1 (MPEG-1), 2 (MPEG-2) or 25 (MPEG-2.5)
	layer   int // 1, 2 or 3
	crc     bool
	mono    bool
}

// parseMP3Header reads the 4-byte frame header at the start of b; ok is false if there is none.
func parseMP3Header(b []byte) (h mp3Header, ok bool) {
	if !isFrameSync(b) || b[2]>>4 == 0x0F || (b[2]>>2)&3 == 3 {
		return h, false
	}
	switch (b[1] >> 3) & 3 {
	case 0:
		h.version = 25
	case 1:
		return h, false // reserved
	case 2:
		h.version = 2
	case 3:
		h.version = 1
	}
	h.layer = 4 - int((b[1]>>1)&3)
	h.crc = b[1]&1 == 0
	h.mono = b[3]>>6 == 3
	return h, true
}

func (h mp3Header) samplesPerFrame() int {
	if h.version == 1 {
		return 1152
	}
	return 576
}

// skipID3v2 returns b after any ID3v2 tags at its start (some taggers write more than one).
func skipID3v2(b []byte) ([]byte, error) {
	for len(b) >= 3 && string(b[:3]) == "ID3" {
		if len(b) < 10 {
			return nil, mp3Err("ID3v2 tag truncated")
		}
		var size int
		for _, c := range b[6:10] {
			if c >= 0x80 {
				return nil, mp3Err("ID3v2 tag has a damaged size")
			}
			size = size<<7 | int(c)
		}
		size += 10
		if b[5]&0x10 != 0 { // footer present
			size += 10
		}
		if size > len(b) {
			return nil, mp3Err("ID3v2 tag of %d bytes runs past the end of the file (%d bytes)", size, len(b))
		}
		b = b[size:]
	}
	return b, nil
}

// gapless is what a LAME/Xing "Info" frame says about the stream: the frame itself decodes to
// silence, and the encoder added delay samples at the start and padding at the end.
type gapless struct {
	infoFrame        bool
	frames           int // audio frames after the Info frame, if recorded (0: unknown)
	delay, padding   int
	spf              int
	lameDelayPresent bool
}

// decoderDelay is the standard Layer III decoder's delay in samples (the synthesis filterbank),
// which LAME's delay field does not include.
const decoderDelay = 529

// parseGapless looks for a Xing/Info header (and LAME's extension) in the first frame.
func parseGapless(frame []byte, h mp3Header) gapless {
	g := gapless{spf: h.samplesPerFrame()}
	side := 32
	switch {
	case h.version == 1 && h.mono, h.version != 1 && !h.mono:
		side = 17
	case h.version != 1 && h.mono:
		side = 9
	}
	off := 4 + side
	if h.crc {
		off += 2
	}
	if len(frame) < off+8 {
		return g
	}
	if tag := string(frame[off : off+4]); tag != "Xing" && tag != "Info" {
		return g
	}
	g.infoFrame = true
	flags := binary.BigEndian.Uint32(frame[off+4 : off+8])
	lame := off + 8
	if flags&1 != 0 && len(frame) >= off+12 {
		g.frames = int(binary.BigEndian.Uint32(frame[off+8 : off+12]))
	}
	for _, f := range []struct {
		bit  uint32
		size int
	}{{1, 4}, {2, 4}, {4, 100}, {8, 4}} {
		if flags&f.bit != 0 {
			lame += f.size
		}
	}
	// The LAME extension: a 9-byte encoder name, then at offset 21 the 12-bit delay and padding.
	if len(frame) >= lame+24 && (string(frame[lame:lame+4]) == "LAME" || string(frame[lame:lame+4]) == "Lavc" || string(frame[lame:lame+4]) == "Lavf") {
		d := frame[lame+21 : lame+24]
		g.delay = int(d[0])<<4 | int(d[1])>>4
		g.padding = int(d[1]&0x0F)<<8 | int(d[2])
		g.lameDelayPresent = true
	}
	return g
}

func decodeMP3(b []byte, lim Limits) (*Clip, error) {
	b, err := skipID3v2(b)
	if err != nil {
		return nil, err
	}
	h, ok := parseMP3Header(b)
	if !ok {
		return nil, mp3Err("no MPEG audio frame at the start (after any ID3v2 tag)")
	}
	if h.layer != 3 {
		return nil, mp3Err("MPEG-%d Layer %s not supported, want Layer III", h.version, strings.Repeat("I", h.layer))
	}
	if h.version == 25 {
		return nil, mp3Err("MPEG-2.5 not supported, want MPEG-1 or MPEG-2 Layer III")
	}
	g := parseGapless(b[:min(len(b), 4096)], h)

	d, err := mp3.NewDecoder(bytes.NewReader(b))
	if errors.Is(err, io.EOF) {
		return nil, mp3Err("file truncated in its first frame")
	}
	if err != nil {
		return nil, goMP3Err(err)
	}
	rate := d.SampleRate()
	if rate < MinRate || rate > MaxRate {
		return nil, mp3Err("sample rate %d Hz not supported", rate)
	}
	// go-mp3 always yields 16-bit stereo (4 bytes a frame), and knows the length from a scan of
	// the frame headers, so an over-long file is refused before anything is decoded.
	total := int(d.Length() / 4)
	if err := g.complete(total); err != nil {
		return nil, err // refused before decoding
	}
	if dur := time.Duration(g.trimmedLen(total)) * time.Second / time.Duration(rate); dur > lim.MaxDuration {
		return nil, fmt.Errorf("%w: %s, limit %s", ErrTooLong, dur.Round(time.Millisecond), lim.MaxDuration)
	}
	// The scan and the decoding find frames alike; should they ever differ, the limit still holds.
	head, tail := g.cut()
	most := int(int64(lim.MaxDuration)*int64(rate)/int64(time.Second)) + head + tail
	out := make([]int16, 0, total)
	buf := make([]byte, 16<<10)
	for {
		n, err := d.Read(buf)
		for i := 0; i+4 <= n; i += 4 {
			l := int32(int16(binary.LittleEndian.Uint16(buf[i:])))
			r := int32(int16(binary.LittleEndian.Uint16(buf[i+2:])))
			out = append(out, int16((l+r)>>1))
		}
		if len(out) > most {
			return nil, fmt.Errorf("%w: over %s", ErrTooLong, lim.MaxDuration)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, goMP3Err(err)
		}
	}
	if err := g.complete(len(out)); err != nil {
		return nil, err
	}
	return &Clip{Rate: rate, Samples: g.trim(out)}, nil
}

// goMP3Err wraps an error of go-mp3 (which says "mp3: …" itself) in ErrFormat.
func goMP3Err(err error) error {
	return mp3Err("%s", strings.TrimSpace(strings.TrimPrefix(err.Error(), "mp3: ")))
}

// trim drops the Info frame's silence and, when LAME recorded them, the encoder delay (plus the
// decoder's own) and padding, so a clip starts and ends where the encoded audio did.
func (g gapless) trim(s []int16) []int16 {
	head, tail := g.cut()
	if head+tail >= len(s) {
		return s[:0]
	}
	return s[head : len(s)-tail]
}

// complete checks n decoded samples against the frame count the Info frame recorded, if any,
// so a file cut short (an interrupted download) is refused rather than played half.
func (g gapless) complete(n int) error {
	if g.frames > 0 && n < (g.frames+1)*g.spf {
		return mp3Err("file truncated: %d of %d frames", max(n/g.spf-1, 0), g.frames)
	}
	return nil
}

// trimmedLen is the length trim will leave of n decoded samples.
func (g gapless) trimmedLen(n int) int {
	head, tail := g.cut()
	return max(n-head-tail, 0)
}

// cut returns how many samples trim drops from the start and the end.
func (g gapless) cut() (head, tail int) {
	if !g.infoFrame {
		return 0, 0
	}
	head = g.spf
	if g.lameDelayPresent {
		head += g.delay + decoderDelay
		tail = max(g.padding-decoderDelay, 0)
	}
	return head, tail
}
