package freeswitch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// ErrNodeDisconnected is the end of a connection the node closed with a
// text/disconnect-notice (mod_event_socket unloaded or reloaded,
// FreeSWITCH shutting down, or the answer to exit and to a refused
// login).
var ErrNodeDisconnected = errors.New("freeswitch: the node closed the ESL connection with a disconnect notice")

// maxFrameBody bounds one ESL frame's body: an event is a few kB, a
// `show channels` answer on a busy node some MB.
const maxFrameBody = 64 << 20

// maxFrameHeader bounds one frame's header block (a command/reply's
// Reply-Text can be long; nothing FreeSWITCH sends comes near it).
const maxFrameHeader = 1 << 20

// The frame types the connection tells apart (Content-Type).
const (
	ctAuthRequest  = "auth/request"
	ctCommandReply = "command/reply"
	ctAPIResponse  = "api/response"
	ctEventPlain   = "text/event-plain"
	ctDisconnect   = "text/disconnect-notice"
	ctRude         = "text/rude-rejection"
)

// eslFrame is one frame the node sent: the outer headers the connection
// reads and the Content-Length body.
type eslFrame struct {
	contentType string
	replyText   string // Reply-Text of a command/reply
	// body is a fresh slice, owned by whoever takes the frame.
	body []byte
}

// frameReader reads the node's ESL frames: header lines ("Name: value"),
// a blank line, then Content-Length bytes of body. Blank lines between
// frames are skipped, as SplitFrames does. It reads only the three outer
// headers the connection acts on, so a frame costs one scan of its
// header block and one read of its body; the event inside an event frame
// is parsed by whoever takes it (ParsePlainEvent).
type frameReader struct {
	br   *bufio.Reader
	line []byte // a header line longer than br's buffer, reassembled
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// next reads one frame. Where SplitFrames reads a frame, next reads the
// same Content-Type and body (FuzzFrameReader). A read error is returned as it came (io.EOF when
// the node closed the connection between frames, io.ErrUnexpectedEOF
// inside one); bad framing is an error wrapping ErrMalformedEvent.
func (r *frameReader) next() (eslFrame, error) {
	var f eslFrame
	length, headerBytes, lines := -1, 0, 0
	typed, replied := false, false // the first of a repeated header counts, as in SplitFrames
	for {
		line, err := r.readLine()
		if err != nil {
			if lines > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return f, err
		}
		headerBytes += len(line)
		if headerBytes > maxFrameHeader {
			return f, fmt.Errorf("%w: frame headers over %d bytes", ErrMalformedEvent, maxFrameHeader)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if lines == 0 {
				continue // between frames
			}
			break
		}
		lines++
		name, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 || n > maxFrameBody {
				return f, fmt.Errorf("%w: frame with Content-Length %q", ErrMalformedEvent, eslClip(string(value)))
			}
			if length < 0 {
				length = n
			}
		case bytes.EqualFold(name, []byte("Content-Type")) && !typed:
			f.contentType, typed = string(value), true
		case bytes.EqualFold(name, []byte("Reply-Text")) && !replied:
			f.replyText, replied = string(value), true
		}
	}
	if length > 0 {
		f.body = make([]byte, length)
		if _, err := io.ReadFull(r.br, f.body); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return eslFrame{}, err
		}
	}
	return f, nil
}

// readLine returns the next line with its line break; the slice is valid
// until the next call.
func (r *frameReader) readLine() ([]byte, error) {
	part, err := r.br.ReadSlice('\n')
	if err == nil {
		return part, nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if len(part) > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.line = append(r.line[:0], part...)
	for {
		part, err = r.br.ReadSlice('\n')
		r.line = append(r.line, part...)
		if err == nil {
			return r.line, nil
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if len(r.line) > maxFrameHeader {
			return nil, fmt.Errorf("%w: frame header line over %d bytes", ErrMalformedEvent, maxFrameHeader)
		}
	}
}
