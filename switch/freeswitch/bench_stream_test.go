package freeswitch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/percipia/eslgo"
)

// BenchmarkESLStream measures the options of issue 12 item 14 side by
// side, each reading the same recorded events from a loopback TCP socket
// into what the adapter reads (an Event, or the part of it named): the
// recorded session's subscribed events, its json twin for the json
// format, and the smaller stream of the subscription the adapter could
// narrow to. The server writes pre-framed bytes, so nearly all the CPU in
// the figures is the reader's. Ratios matter, not absolute figures (the
// machine is shared).
//
//   - eslgo-relay: the path before item 14 (eslgo v1.4.1 through the
//     relay: textproto's reader, a goroutine per event, EventFromHeaders).
//   - eslgo-direct: the same without the relay (its extra copy).
//   - reader-plain: the adapter's reader now (eslframe.go) and
//     ParsePlainEvent.
//   - reader-json: the same reader, `event json`, each body decoded with
//     encoding/json into the same Event.
//   - reader-lazy: the reader and an index of each event's header lines,
//     decoding only Event-Name, Unique-ID and Event-Sequence: the floor of
//     parsing lazily only what is read.
//   - reader-plain/minimal: reader-plain on the stream of the adapter's
//     subscription now (CHANNEL_CREATE, CHANNEL_ANSWER,
//     CHANNEL_HANGUP_COMPLETE, BACKGROUND_JOB and the sofia events), or
//     of the old one with a switch-side `filter` on those names: the
//     same bytes. Compare legs/s, not events/s.
//
// All the others read the stream of the subscription before item 14
// (widerSubscription).
//
// legs/s counts the call legs (CDRs) each round's events carry (9).
func BenchmarkESLStream(b *testing.B) {
	plain, json, minimal := streamPayloads(b)
	run := func(name string, payload streamPayload, consume func(b *testing.B, addr string, total int)) {
		b.Run(name, func(b *testing.B) {
			addr := streamServer(b, payload.frames)
			cpu0 := cpuTime(b)
			b.ResetTimer()
			consume(b, addr, b.N*payload.events)
			b.StopTimer()
			reportRate(b, b.N*payload.events, cpu0)
			b.ReportMetric(float64(b.N*payload.legs)/b.Elapsed().Seconds(), "legs/s")
			b.ReportMetric(float64(len(payload.frames))*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
	run("eslgo-relay", plain, func(b *testing.B, addr string, total int) { consumeEslgo(b, addr, total, true) })
	run("eslgo-direct", plain, func(b *testing.B, addr string, total int) { consumeEslgo(b, addr, total, false) })
	run("reader-plain", plain, func(b *testing.B, addr string, total int) {
		consumeReader(b, addr, total, func(f eslFrame) error { _, err := ParsePlainEvent(f.body); return err })
	})
	run("reader-json", json, func(b *testing.B, addr string, total int) {
		consumeReader(b, addr, total, func(f eslFrame) error { _, err := jsonEvent(f.body); return err })
	})
	run("reader-lazy", plain, func(b *testing.B, addr string, total int) {
		consumeReader(b, addr, total, func(f eslFrame) error { return lazyRead(f.body) })
	})
	run("reader-plain/minimal", minimal, func(b *testing.B, addr string, total int) {
		consumeReader(b, addr, total, func(f eslFrame) error { _, err := ParsePlainEvent(f.body); return err })
	})
}

// streamPayload is one round of framed events as FreeSWITCH writes them.
type streamPayload struct {
	frames []byte
	events int
	legs   int
}

// streamPayloads frames the recorded session's events of the old
// subscription: plain, json (the recorded json session's bodies of the
// same events), and plain for the adapter's subscription now.
func streamPayloads(b *testing.B) (plain, js, minimal streamPayload) {
	want, now := map[string]bool{}, map[string]bool{}
	for _, s := range widerSubscription {
		want[s] = true
	}
	for _, s := range subscribed {
		now[s] = true
	}
	frames, err := SplitFrames(mustRead(b, filepath.Join("esltest", "testdata", "scenario-json.txt")))
	if err != nil {
		b.Fatal(err)
	}
	jsonBySeq := map[string][]byte{}
	for _, f := range frames {
		if f.Headers["Content-Type"] != "text/event-json" {
			continue
		}
		var h struct {
			Seq string `json:"Event-Sequence"`
		}
		if err := json.Unmarshal(f.Body, &h); err != nil {
			b.Fatal(err)
		}
		jsonBySeq[h.Seq] = f.Body
	}
	bodies, err := eslScenarioBodies()
	if err != nil {
		b.Fatal(err)
	}
	frame := func(dst []byte, body []byte, typ string) []byte {
		dst = fmt.Appendf(dst, "Content-Length: %d\nContent-Type: text/event-%s\n\n", len(body), typ)
		return append(dst, body...)
	}
	for _, body := range bodies {
		ev, err := ParsePlainEvent(body)
		if err != nil {
			b.Fatal(err)
		}
		if !want[ev.Name()] || ev.Name() == "CUSTOM" && !want[ev.Subclass()] {
			continue
		}
		legs := 0
		if ev.Name() == callEventComplete {
			legs = 1
		}
		plain.frames = frame(plain.frames, body, "plain")
		plain.events++
		plain.legs += legs
		jb, ok := jsonBySeq[ev.Headers()["Event-Sequence"]]
		if !ok {
			b.Fatalf("no json twin of event %s", ev.Headers()["Event-Sequence"])
		}
		js.frames = frame(js.frames, jb, "json")
		js.events++
		js.legs += legs
		if now[ev.Name()] && (ev.Name() != "CUSTOM" || now[ev.Subclass()]) {
			minimal.frames = frame(minimal.frames, body, "plain")
			minimal.events++
			minimal.legs += legs
		}
	}
	return plain, js, minimal
}

func mustRead(b *testing.B, path string) []byte {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// streamServer serves one ESL client: auth/request, +OK to its login,
// and round after round of frames (later commands are read and dropped:
// eslgo sends none, the reader none).
func streamServer(b *testing.B, frames []byte) string {
	return scriptedNode(b, func(c net.Conn, next func() string) {
		_, _ = io.WriteString(c, "Content-Type: auth/request\n\n")
		if next() == "" {
			return
		}
		_, _ = io.WriteString(c, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
		go func() {
			for next() != "" {
			}
		}()
		for {
			if _, err := c.Write(frames); err != nil {
				return
			}
		}
	})
}

// readCommandLines reads one command up to its blank line.
func readCommandLines(br *bufio.Reader) (string, int, error) {
	var cmd strings.Builder
	n := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", n, err
		}
		if strings.TrimRight(line, "\r\n") == "" {
			if n == 0 {
				continue
			}
			return cmd.String(), n, nil
		}
		cmd.WriteString(line)
		n++
	}
}

// consumeReader logs in and reads event frames with the adapter's reader
// until total events were handled by parse.
func consumeReader(b *testing.B, addr string, total int, parse func(eslFrame) error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	fr, err := login(ctx, nc, eslOptions{addr: addr, password: "ClueCon", dialTimeout: 5 * time.Second})
	if err != nil {
		b.Fatal(err)
	}
	for n := 0; n < total; {
		f, err := fr.next()
		if err != nil {
			b.Fatal(err)
		}
		if !strings.HasPrefix(f.contentType, "text/event-") {
			continue
		}
		if err := parse(f); err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// consumeEslgo reads the events with eslgo v1.4.1 as the adapter did
// before item 14: each handed to a listener goroutine and mapped by
// EventFromHeaders; relay puts the relay of those days (benchRelayFrames)
// between the socket and eslgo.
func consumeEslgo(b *testing.B, addr string, total int, relay bool) {
	var n atomic.Int64
	done := make(chan struct{})
	dialAddr, network := addr, "tcp"
	if relay {
		dir := b.TempDir()
		path := filepath.Join(dir, "s")
		ln, err := net.Listen("unix", path)
		if err != nil {
			b.Fatal(err)
		}
		defer ln.Close()
		tcp, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer tcp.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			go func() { _, _ = io.Copy(tcp, c) }()
			_ = benchRelayFrames(c, tcp)
		}()
		dialAddr, network = path, "unix"
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := eslgo.DefaultInboundOptions
	o.Network = network
	o.Password = "ClueCon"
	o.Context = ctx
	o.Logger = eslgo.NilLogger{}
	var once atomic.Bool
	c, err := o.Dial(dialAddr)
	if err != nil {
		b.Fatal(err)
	}
	_ = c
	c.RegisterEventListener(eslgo.EventListenAll, func(ev *eslgo.Event) {
		_ = EventFromHeaders(ev.Headers, ev.Body)
		if n.Add(1) == int64(total) && once.CompareAndSwap(false, true) {
			close(done)
		}
	})
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%d events of %d", n.Load(), total)
	}
}

// benchRelayFrames is the relay the adapter ran before item 14
// (eslrelay.go's forwardFrames): frame by frame, through a 64 kB buffer
// each way.
func benchRelayFrames(dst io.Writer, src io.Reader) error {
	bw := bufio.NewWriterSize(dst, 64<<10)
	br := bufio.NewReaderSize(src, 64<<10)
	var frame, line []byte
	for {
		frame = frame[:0]
		length := 0
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
			if bytes.EqualFold(name, []byte("Content-Length")) {
				length, _ = strconv.Atoi(string(bytes.TrimSpace(value)))
			}
		}
		start := len(frame)
		frame = append(frame, make([]byte, length)...)
		if _, err := io.ReadFull(br, frame[start:]); err != nil {
			return err
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

// jsonEvent decodes a text/event-json body into the Event the plain
// format gives: canonical keys, the first of repeated keys kept… as far
// as encoding/json allows (it keeps the last), arrays as FreeSWITCH's
// "ARRAY::a|:b", "_body" as the body.
func jsonEvent(body []byte) (Event, error) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return Event{}, err
	}
	headers := make(map[string]string, len(m))
	var evBody []byte
	for k, v := range m {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case []any:
			var sb strings.Builder
			sb.WriteString("ARRAY::")
			for i, x := range v {
				if i > 0 {
					sb.WriteString("|:")
				}
				str, _ := x.(string)
				sb.WriteString(str)
			}
			s = sb.String()
		}
		if k == "_body" {
			evBody = []byte(s)
			continue
		}
		headers[canonicalHeaderKey(k)] = s
	}
	return NewEvent(headers, evBody), nil
}

// lazyRead indexes an event's header lines and decodes only the three
// headers every event is looked at for.
func lazyRead(body []byte) error {
	var idx [512][2]int32
	n := 0
	for pos := 0; pos < len(body); {
		nl := bytes.IndexByte(body[pos:], '\n')
		if nl <= 0 {
			break
		}
		if n < len(idx) {
			idx[n] = [2]int32{int32(pos), int32(pos + nl)}
			n++
		}
		pos += nl + 1
	}
	found := 0
	for _, span := range idx[:n] {
		line := body[span[0]:span[1]]
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			return fmt.Errorf("line %q", line)
		}
		switch string(k) {
		case "Event-Name", "Unique-ID", "Event-Sequence":
			_ = unescapeValue(string(v))
			found++
		}
	}
	if found == 0 {
		return errors.New("no Event-Name")
	}
	return nil
}
