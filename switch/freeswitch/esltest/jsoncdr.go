package esltest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// cdrPoster is the fake's mod_json_cdr. As in FreeSWITCH, where each
// leg's record is posted from that channel's own thread when it reaches
// its reporting state, every record is posted on its own: a record being
// retried holds up no other. Each is tried up to tries times, delay
// apart, until it gets a 2xx; one given up on is written to errDir (when
// set) as <uuid>.cdr.json, as mod_json_cdr writes it to its err-log-dir.
type cdrPoster struct {
	ctx    context.Context
	url    string
	client *http.Client
	tries  int
	delay  time.Duration
	errDir string

	mu      sync.Mutex
	closed  bool
	pending int // records queued or being tried
	posted  int // records delivered (2xx)
	dropped int // records given up on
	wg      sync.WaitGroup
}

func newCDRPoster(ctx context.Context, url string, client *http.Client, tries int, delay time.Duration, errDir string) *cdrPoster {
	return &cdrPoster{ctx: ctx, url: url, client: client, tries: tries, delay: delay, errDir: errDir}
}

func (p *cdrPoster) add(recs []cdrRecord) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.pending += len(recs)
	for _, rec := range recs {
		p.wg.Go(func() { p.deliver(rec) })
	}
}

// wait waits for every POST under way once the server's context ended.
func (p *cdrPoster) wait() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *cdrPoster) deliver(rec cdrRecord) {
	ok := p.post(rec)
	if !ok && p.ctx.Err() == nil && p.errDir != "" {
		// mod_json_cdr's backup_cdr: the body as it would have been posted.
		_ = os.WriteFile(filepath.Join(p.errDir, rec.uuid+".cdr.json"), rec.body, 0o644)
	}
	p.mu.Lock()
	p.pending--
	if ok {
		p.posted++
	} else {
		p.dropped++
	}
	p.mu.Unlock()
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
	return s.cdr.pending
}

// CDRsFailed returns how many json_cdr records were given up on after
// every try failed (kept in the WithJSONCDRErrLogDir directory, if set, as
// mod_json_cdr keeps them in its err-log-dir).
func (s *Server) CDRsFailed() int {
	if s.cdr == nil {
		return 0
	}
	s.cdr.mu.Lock()
	defer s.cdr.mu.Unlock()
	return s.cdr.dropped
}
