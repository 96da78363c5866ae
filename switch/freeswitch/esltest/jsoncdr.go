package esltest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// cdrPoster is the fake's mod_json_cdr: one worker posting the records in
// the order the legs ended, each tried up to tries times, delay apart,
// until it gets a 2xx.
type cdrPoster struct {
	ctx    context.Context
	url    string
	client *http.Client
	tries  int
	delay  time.Duration

	mu      sync.Mutex
	queue   []cdrRecord
	wake    chan struct{}
	done    chan struct{}
	posted  int // records delivered (2xx)
	dropped int // records given up on
}

func newCDRPoster(ctx context.Context, url string, client *http.Client, tries int, delay time.Duration) *cdrPoster {
	p := &cdrPoster{ctx: ctx, url: url, client: client, tries: tries, delay: delay,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	go p.run()
	return p
}

func (p *cdrPoster) add(recs []cdrRecord) {
	p.mu.Lock()
	p.queue = append(p.queue, recs...)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *cdrPoster) wait() { <-p.done }

func (p *cdrPoster) run() {
	defer close(p.done)
	for {
		p.mu.Lock()
		var rec *cdrRecord
		if len(p.queue) > 0 {
			r := p.queue[0]
			rec = &r
		}
		p.mu.Unlock()
		if rec == nil {
			select {
			case <-p.ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		ok := p.post(*rec)
		p.mu.Lock()
		p.queue = p.queue[1:]
		if ok {
			p.posted++
		} else {
			p.dropped++
		}
		p.mu.Unlock()
		if p.ctx.Err() != nil {
			return
		}
	}
}

// post sends one record as mod_json_cdr does: POST <url>?uuid=<uuid>
// (the url as configured, "?uuid=" appended even when it has a query).
func (p *cdrPoster) post(rec cdrRecord) bool {
	for try := 0; try < p.tries; try++ {
		if try > 0 {
			select {
			case <-p.ctx.Done():
				return false
			case <-time.After(p.delay):
			}
		}
		req, err := http.NewRequestWithContext(p.ctx, http.MethodPost, p.url+"?uuid="+url.QueryEscape(rec.uuid), bytes.NewReader(rec.body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "freeswitch-json/1.0")
		resp, err := p.client.Do(req)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return true
		}
	}
	return false
}

// postCDRs queues the json_cdr records of legs that ended, when
// WithJSONCDR is set.
func (s *Server) postCDRs(recs []cdrRecord) {
	if s.cdr != nil && len(recs) > 0 {
		s.cdr.add(recs)
	}
}

// CDRsPending returns how many json_cdr records are still to be posted
// (queued or being tried); with CDRsFailed, it lets a test wait for the
// POSTs to settle.
func (s *Server) CDRsPending() int {
	if s.cdr == nil {
		return 0
	}
	s.cdr.mu.Lock()
	defer s.cdr.mu.Unlock()
	return len(s.cdr.queue)
}

// CDRsFailed returns how many json_cdr records were given up on after
// every try failed (mod_json_cdr would then write them to its err-log-dir).
func (s *Server) CDRsFailed() int {
	if s.cdr == nil {
		return 0
	}
	s.cdr.mu.Lock()
	defer s.cdr.mu.Unlock()
	return s.cdr.dropped
}
