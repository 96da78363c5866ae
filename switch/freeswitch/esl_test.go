package freeswitch

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scriptedNode accepts one ESL client and runs serve on it, with the
// client's commands read one by one (readCommandLines).
func scriptedNode(t testing.TB, serve func(c net.Conn, next func() string)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		serve(c, func() string {
			cmd, _, err := readCommandLines(br)
			if err != nil {
				return ""
			}
			return strings.TrimSpace(cmd)
		})
	}()
	return ln.Addr().String()
}

func testESLOptions(addr string) eslOptions {
	return eslOptions{addr: addr, password: "ClueCon", dialTimeout: time.Second, keepAlive: -1, window: time.Millisecond}
}

// TestLoginRudeRejection: a node whose ACL refuses the client sends
// text/rude-rejection instead of auth/request; the dial fails with its
// text, not a timeout.
func TestLoginRudeRejection(t *testing.T) {
	addr := scriptedNode(t, func(c net.Conn, _ func() string) {
		_, _ = io.WriteString(c, "Content-Type: text/rude-rejection\nContent-Length: 34\n\nAccess Denied, go away.\nBye bye.\n\n")
	})
	_, err := dialESL(context.Background(), testESLOptions(addr), []string{"CHANNEL_CREATE"})
	if err == nil || !strings.Contains(err.Error(), "Access Denied") || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the node's rejection", err)
	}
}

// TestLoginSilentNode: a node that accepts and says nothing is a timeout
// within the dial timeout.
func TestLoginSilentNode(t *testing.T) {
	addr := scriptedNode(t, func(c net.Conn, _ func() string) { time.Sleep(3 * time.Second) })
	start := time.Now()
	_, err := dialESL(context.Background(), testESLOptions(addr), []string{"CHANNEL_CREATE"})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err %v after %v, want a timeout within the 1 s dial timeout", err, time.Since(start))
	}
}

// TestCommandLateReply: a command whose context ends gives up its place;
// its reply, when it comes, is dropped, and the next command gets its own
// reply (eslgo handed the late one to it). The connection stays up.
func TestCommandLateReply(t *testing.T) {
	release := make(chan struct{})
	addr := scriptedNode(t, func(c net.Conn, next func() string) {
		_, _ = io.WriteString(c, "Content-Type: auth/request\n\n")
		next() // auth
		_, _ = io.WriteString(c, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
		next() // event plain …
		_, _ = io.WriteString(c, "Content-Type: command/reply\nReply-Text: +OK event listener enabled plain\n\n")
		for {
			cmd := next()
			if cmd == "" {
				return
			}
			if cmd == "api slow" {
				<-release
			}
			body := "answer to " + cmd + "\n"
			_, _ = io.WriteString(c, "Content-Type: api/response\nContent-Length: "+strconv.Itoa(len(body))+"\n\n"+body)
		}
	})
	e, err := dialESL(context.Background(), testESLOptions(addr), []string{"CHANNEL_CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = e.api(ctx, "slow")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow command: %v, want its deadline", err)
	}
	close(release) // the slow reply comes now, before the next one
	got, err := e.api(context.Background(), "fast")
	if err != nil || got != "answer to api fast" {
		t.Fatalf("next command got %q, %v; want its own reply", got, err)
	}
	if err := e.Err(); err != nil {
		t.Fatalf("connection closed: %v", err)
	}
}

// TestAPIRefusesLineBreaks: a command with a line break would be read as
// two; it is refused unsent.
func TestAPIRefusesLineBreaks(t *testing.T) {
	e := &eslConn{done: make(chan struct{})}
	for _, cmd := range []string{"status\n\nexit", "status\rexit"} {
		if _, err := e.api(context.Background(), cmd); err == nil || !strings.Contains(err.Error(), "line break") {
			t.Errorf("%q: %v", cmd, err)
		}
	}
}

// TestSequence: events overtaken within the window come out in
// Event-Sequence order; one older than the last released comes out at
// once.
func TestSequence(t *testing.T) {
	ev := func(seq string) Event {
		return NewEvent(map[string]string{"Event-Name": "CUSTOM", "Event-Sequence": seq}, nil)
	}
	for _, tc := range []struct {
		name string
		in   []string
		want []string
	}{
		{"in order", []string{"1", "2", "3"}, []string{"1", "2", "3"}},
		{"overtaken", []string{"5", "3", "4", "1", "2"}, []string{"1", "2", "3", "4", "5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			in, out := make(chan Event, len(tc.in)), make(chan Event, len(tc.in))
			for _, s := range tc.in {
				in <- ev(s)
			}
			go sequence(ctx, in, out, 50*time.Millisecond)
			var got []string
			for range tc.in {
				got = append(got, (<-out).Get("Event-Sequence"))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("late", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		in, out := make(chan Event, 2), make(chan Event, 2)
		go sequence(ctx, in, out, 0)
		in <- ev("9")
		if got := (<-out).Seq(); got != 9 {
			t.Fatalf("got %d, want 9", got)
		}
		in <- ev("7")
		if got := (<-out).Seq(); got != 7 {
			t.Fatalf("late event: got %d, want 7", got)
		}
	})
}
