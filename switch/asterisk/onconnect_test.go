package asterisk

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// OnConnect runs after every (re)connect, and its context ends with the
// connection it belongs to.
func TestAdapterOnConnect(t *testing.T) {
	srv := aritest.New(t)
	cfg := adapterConfig(srv)
	var calls, ended atomic.Int32
	cfg.OnConnect = func(ctx context.Context) {
		calls.Add(1)
		<-ctx.Done()
		ended.Add(1)
	}
	r := start(t, cfg)
	switchtest.WaitFor(t, "the first OnConnect", func() bool { return calls.Load() == 1 })
	srv.DropSockets()
	switchtest.WaitFor(t, "OnConnect after the reconnect", func() bool { return calls.Load() == 2 })
	if ended.Load() != 1 {
		t.Errorf("the first connection's OnConnect context did not end with it (%d ended)", ended.Load())
	}
	r.stop()
	if ended.Load() != 2 {
		t.Errorf("OnConnect still running after the adapter stopped (%d of 2 ended)", ended.Load())
	}
}
