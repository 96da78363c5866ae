// Package smtptest is a loopback SMTP server for tests: it speaks enough
// of RFC 5321 (EHLO with the extensions it is told to offer, AUTH PLAIN,
// MAIL, RCPT, DATA, QUIT) to take messages, and keeps what it got, so
// that a test reads the e-mail a component really sent.
package smtptest

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is a running loopback SMTP server.
type Server struct {
	ln         net.Listener
	mu         sync.Mutex
	offerTLS   bool
	rejectRcpt string
	got        []Received
	wg         sync.WaitGroup
}

// OfferTLS makes the next connections announce STARTTLS (and then
// refuse it), or not.
func (s *Server) OfferTLS(on bool) { s.mu.Lock(); s.offerTLS = on; s.mu.Unlock() }

// RejectRcpt makes the next connections refuse recipients containing
// part (550); "" accepts all.
func (s *Server) RejectRcpt(part string) { s.mu.Lock(); s.rejectRcpt = part; s.mu.Unlock() }

// Received is one message the server took.
type Received struct {
	From, Auth string // the MAIL command, AUTH PLAIN's base64
	To         []string
	Data       []byte // the message, dot-unstuffed
}

// Start runs a server on 127.0.0.1 until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Messages returns what the server took so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

func (s *Server) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	say := func(line string) { w.WriteString(line + "\r\n"); w.Flush() }
	s.mu.Lock()
	offerTLS, reject := s.offerTLS, s.rejectRcpt
	s.mu.Unlock()
	say("220 loopback ESMTP")
	var cur Received
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.TrimRight(line, "\r\n")
		switch verb := strings.ToUpper(strings.SplitN(cmd, " ", 2)[0]); {
		case verb == "EHLO":
			say("250-loopback")
			if offerTLS {
				say("250-STARTTLS")
			}
			say("250 AUTH PLAIN")
		case verb == "STARTTLS":
			say("454 TLS not available")
		case verb == "AUTH":
			cur.Auth = strings.TrimPrefix(cmd, "AUTH PLAIN ")
			say("235 ok")
		case verb == "MAIL":
			cur.From = cmd
			say("250 ok")
		case verb == "RCPT":
			if reject != "" && strings.Contains(cmd, reject) {
				say("550 no such user")
				continue
			}
			cur.To = append(cur.To, cmd)
			say("250 ok")
		case verb == "DATA":
			say("354 go on")
			var data bytes.Buffer
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				data.WriteString(strings.TrimPrefix(l, "."))
			}
			cur.Data = data.Bytes()
			s.mu.Lock()
			s.got = append(s.got, cur)
			s.mu.Unlock()
			cur = Received{}
			say("250 queued")
		case verb == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}
