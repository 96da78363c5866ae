package asterisk

import (
	"net"
	"sync"
	"testing"
)

// liveProxy is a loopback TCP forwarder between the adapter and the live
// node's HTTP server (ARI and its event socket), so that a test can do to
// the adapter's connections what a network does: cut them (Cut), keep the
// node out of reach for a while (Refuse), or swallow everything without
// closing anything (Stall), as when the node vanishes without a FIN.
type liveProxy struct {
	t      *testing.T
	ln     net.Listener
	target string

	mu      sync.Mutex
	pairs   map[*proxyPair]struct{}
	refuse  bool
	stalled bool
	wg      sync.WaitGroup
}

// proxyPair is one forwarded connection.
type proxyPair struct {
	client, server net.Conn
	stalled        chan struct{} // closed by Stall: copying stops
	stallOnce      sync.Once
}

func (pair *proxyPair) stall() { pair.stallOnce.Do(func() { close(pair.stalled) }) }

// startProxy forwards 127.0.0.1:<port> to target until the test ends.
func startProxy(t *testing.T, target string) *liveProxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &liveProxy{t: t, ln: ln, target: target, pairs: map[*proxyPair]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *liveProxy) Addr() string { return p.ln.Addr().String() }

func (p *liveProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse, stalled := p.refuse, p.stalled
		p.mu.Unlock()
		if refuse {
			c.Close() // the node is out of reach: nothing answers
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pair := &proxyPair{client: c, server: s, stalled: make(chan struct{})}
		if stalled {
			pair.stall()
		}
		p.mu.Lock()
		p.pairs[pair] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(func() { p.copy(pair, pair.server, pair.client) })
		p.wg.Go(func() { p.copy(pair, pair.client, pair.server) })
	}
}

// copy forwards src to dst until either side fails or closes; a stalled
// pair reads and drops what comes, so that the peers see silence, not a
// close, until one of them gives up and closes its end.
func (p *liveProxy) copy(pair *proxyPair, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, rerr := src.Read(buf)
		var werr error
		if n > 0 {
			select {
			case <-pair.stalled:
			default:
				_, werr = dst.Write(buf[:n])
			}
		}
		if rerr != nil || werr != nil {
			pair.client.Close()
			pair.server.Close()
			p.mu.Lock()
			delete(p.pairs, pair)
			p.mu.Unlock()
			return
		}
	}
}

// Cut closes every forwarded connection at once, both ways, as a broken
// link or a restarting node would.
func (p *liveProxy) Cut() {
	p.mu.Lock()
	pairs := make([]*proxyPair, 0, len(p.pairs))
	for pair := range p.pairs {
		pairs = append(pairs, pair)
	}
	clear(p.pairs)
	p.mu.Unlock()
	for _, pair := range pairs {
		pair.client.Close()
		pair.server.Close()
	}
}

// Refuse makes new connections close at once (on) or be forwarded again
// (off).
func (p *liveProxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Stall makes every connection, open and new, a black hole until Unstall:
// nothing is forwarded either way and nothing is closed.
func (p *liveProxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
	for pair := range p.pairs {
		pair.stall()
	}
}

// Unstall forwards new connections again; the stalled ones stay dark
// until they are closed.
func (p *liveProxy) Unstall() {
	p.mu.Lock()
	p.stalled = false
	p.mu.Unlock()
}
