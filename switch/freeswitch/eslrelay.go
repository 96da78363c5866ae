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
// FreeSWITCH shutting down).
var ErrNodeDisconnected = errors.New("freeswitch: the node closed the ESL connection with a disconnect notice")

// maxFrameBody bounds one ESL frame's body: an event is a few kB, a
// `show channels` answer on a busy node some MB.
const maxFrameBody = 64 << 20

// forwardFrames copies the node's ESL frames to eslgo unchanged, frame by
// frame, except a text/disconnect-notice: that one is kept from eslgo and
// ends the copy with ErrNodeDisconnected. eslgo answers a disconnect
// notice by calling its own Close (disconnectLoop), which races with its
// authLoop over the response-channel map (see the package notes in
// esl.go): a data race and a possible fatal "concurrent map read and map
// write". A real FreeSWITCH sends one to every client when
// mod_event_socket is reloaded and when it shuts down, so the notice never
// reaches eslgo; the connection then ends the way every other one does
// (eslConn.close).
//
// Every whole frame read before the copy ends is delivered.
func forwardFrames(dst io.Writer, src io.Reader) error {
	bw := bufio.NewWriterSize(dst, 64<<10)
	err := copyFrames(bw, bufio.NewReaderSize(src, 64<<10))
	if ferr := bw.Flush(); ferr != nil && !errors.Is(err, ErrNodeDisconnected) {
		return ferr
	}
	return err
}

// copyFrames copies whole frames from br to bw until a read fails or a
// disconnect notice comes, flushing whenever br has nothing more buffered.
func copyFrames(bw *bufio.Writer, br *bufio.Reader) error {
	var frame, line []byte
	for {
		frame = frame[:0]
		length, notice := 0, false
		for {
			line = line[:0]
			for {
				part, err := br.ReadSlice('\n')
				line = append(line, part...)
				if err == nil {
					break
				}
				if !errors.Is(err, bufio.ErrBufferFull) {
					return err
				}
			}
			frame = append(frame, line...)
			h := bytes.TrimRight(line, "\r\n")
			if len(h) == 0 {
				break
			}
			name, value, _ := bytes.Cut(h, []byte(":"))
			value = bytes.TrimSpace(value)
			switch {
			case bytes.EqualFold(name, []byte("Content-Length")):
				n, err := strconv.Atoi(string(value))
				if err != nil || n < 0 || n > maxFrameBody {
					return fmt.Errorf("freeswitch: ESL frame with Content-Length %q", value)
				}
				length = n
			case bytes.EqualFold(name, []byte("Content-Type")):
				notice = string(value) == "text/disconnect-notice"
			}
		}
		start := len(frame)
		frame = append(frame, make([]byte, length)...)
		if _, err := io.ReadFull(br, frame[start:]); err != nil {
			return err
		}
		if notice {
			return fmt.Errorf("%w: %q", ErrNodeDisconnected, bytes.TrimSpace(frame[start:]))
		}
		if _, err := bw.Write(frame); err != nil {
			return err
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}
