package sip

import (
	"context"
	"fmt"
	"time"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

var _ presence.Source = (*Prober)(nil)

// WatchPresence writes the gateway results into feed (the daemon passes
// view.Feed("sip"): the presence view gets them with source "sip") until
// ctx ends, then returns nil. Each gateway target is one presence.Gateway
// named after it: State up (reachable, lagged), down (unreachable) or
// unknown, the last RTT, and Detail "200 OK", "503 Service Unavailable",
// "lagged 1.2s (200 OK)", "timeout (2 misses)".
//
// Switch listeners are not written: they are switches, not gateways, and
// as gateways of the view they would be exported as
// switchboard_gateway_up{switch="sip"} (a switch down firing the gateway
// alert) and joined, by name, into the status of any gateway that shares
// a switch's name. They have switchboard_sip_probe_up{kind="switch"} and
// the probes API (kind switch), register checks included. Contacts are
// not written either: the caller reads them with Results and merges them
// into its registrations.
//
// The feed is connected while WatchPresence runs; it starts with a
// Replace, so a restart drops what a previous run wrote.
func (p *Prober) WatchPresence(ctx context.Context, feed *presence.Feed) error {
	wake := make(chan struct{}, 1)
	p.mu.Lock()
	p.watchers[wake] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watchers, wake)
		p.mu.Unlock()
		feed.SetConnected(false, nil)
	}()

	w := presenceWriter{p: p, feed: feed, written: map[string]writtenGateway{}}
	w.sync(true)
	feed.SetConnected(true, nil)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
			w.sync(false)
		}
	}
}

// presenceWriter remembers what it wrote, so that each wake writes only
// the targets probed since.
type presenceWriter struct {
	p       *Prober
	feed    *presence.Feed
	written map[string]writtenGateway
}

type writtenGateway struct {
	e       *entry
	version uint64
}

func (w *presenceWriter) sync(full bool) {
	var put []presence.Gateway
	present := make(map[string]bool, len(w.written))
	w.p.mu.Lock()
	for _, e := range w.p.infra {
		if e.res.Kind != KindGateway {
			continue
		}
		name := e.res.Name
		present[name] = true
		now := writtenGateway{e: e, version: e.version}
		if !full && w.written[name] == now {
			continue
		}
		w.written[name] = now
		put = append(put, presenceGateway(e.res))
	}
	w.p.mu.Unlock()

	if full {
		w.feed.Replace(presence.Snapshot{Gateways: put})
		return
	}
	for _, g := range put {
		w.feed.PutGateway(g)
	}
	for name := range w.written {
		if !present[name] {
			delete(w.written, name)
			w.feed.DeleteGateway(name)
		}
	}
}

// presenceGateway is r as the presence view shows a gateway. The prober
// does not register, so Registration is unknown: the switches report it.
func presenceGateway(r Result) presence.Gateway {
	g := presence.Gateway{
		Name:         r.Name,
		State:        presence.GatewayUnknown,
		Registration: presence.RegUnknown,
		RTT:          r.RTT,
		Detail:       detail(r),
		UpdatedAt:    r.LastProbe,
	}
	switch {
	case r.Status.Up():
		g.State = presence.GatewayUp
	case r.Status == StatusUnreachable:
		g.State = presence.GatewayDown
	}
	return g
}

// detail is the one-line account of r's last probe.
func detail(r Result) string {
	switch {
	case r.LastProbe.IsZero():
		return "not probed yet"
	case r.Misses == 1:
		return r.Reason + " (1 miss)"
	case r.Misses > 1:
		return fmt.Sprintf("%s (%d misses)", r.Reason, r.Misses)
	case r.Status == StatusLagged:
		return fmt.Sprintf("lagged %v (%d %s)", r.RTT.Round(time.Millisecond), r.Code, r.Reason)
	}
	return fmt.Sprintf("%d %s", r.Code, r.Reason)
}
