package presence

import "time"

// Feed is one switch's writer handle on a View. An adapter owns it and
// calls it from its event loop; its methods are safe to call concurrently
// with each other and with queries. Every record written through a Feed has
// its Switch forced to the feed's name, so an adapter cannot write into
// another switch's state.
type Feed struct {
	v  *View
	sw *switchData
}

// Name returns the switch's name.
func (f *Feed) Name() string { return f.sw.name }

// Replace swaps the switch's whole state for s, as read in one resync, and
// sets LastSync. Readers see either the old state or the new one, never a
// mix, and the other switches are not touched (see View).
func (f *Feed) Replace(s Snapshot) {
	now := f.v.now()
	// Everything costly happens before the lock is taken.
	regs := buildRegTable(s.Registrations, f.normRegistration(now), now)
	gws := make(map[string]Gateway, len(s.Gateways))
	for _, g := range s.Gateways {
		gws[g.Name] = f.normGateway(g, now)
	}
	calls := make(map[string]Call, len(s.Calls))
	for _, c := range s.Calls {
		calls[c.ID] = f.normCall(c)
	}

	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	for name, g := range gws {
		gws[name] = keepRTT(f.sw.gateways[name], g)
	}
	f.v.domains.swap(f.sw.regs.byDomain, regs.byDomain)
	f.sw.regs, f.sw.gateways, f.sw.calls = regs, gws, calls
	f.sw.state.LastSync = now
}

// PutRegistration inserts or updates the registration (Domain, User,
// Contact) of this switch. A registration that has already expired is
// deleted instead.
func (f *Feed) PutRegistration(r Registration) {
	now := f.v.now()
	f.normRegistration(now)(&r)
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	if expired(&r, now) {
		if f.sw.regs.delete(r.Domain, r.User, r.Contact) {
			f.v.domains.remove(r.Domain)
		}
		return
	}
	if f.sw.regs.put(r) {
		f.v.domains.add(r.Domain)
	}
}

// DeleteRegistration removes one contact of user@domain from this switch,
// or every contact of that user when contact is "".
func (f *Feed) DeleteRegistration(domain, user, contact string) {
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	if f.sw.regs.delete(domain, user, contact) {
		f.v.domains.remove(domain)
	}
}

// PutGateway inserts or updates a gateway's status on this switch.
func (f *Feed) PutGateway(g Gateway) {
	g = f.normGateway(g, f.v.now())
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	f.sw.gateways[g.Name] = keepRTT(f.sw.gateways[g.Name], g)
}

// keepRTT returns g, the new status of a gateway whose previous one was
// old, keeping old's round trip when g is still up but does not know it
// (RTT 0). Not every report of a switch carries the ping time:
// FreeSWITCH's sofia::gateway_state events never do, while its xmlstatus
// reconcile does, and Asterisk's resync reads no RTT where its
// ContactStatusChange events carry one. Taken as they came, such a report
// zeroed the last measured round trip, so the same gateway read 0.58 ms
// in /metrics and 0 (null in dcp) in the API depending on which report
// came last. A gateway that goes down or unknown loses its round trip.
func keepRTT(old, g Gateway) Gateway {
	if g.RTT == 0 && g.State == GatewayUp && old.State == GatewayUp {
		g.RTT = old.RTT
	}
	return g
}

// DeleteGateway removes a gateway from this switch.
func (f *Feed) DeleteGateway(name string) {
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	delete(f.sw.gateways, name)
}

// PutCall inserts or updates a live call leg on this switch.
func (f *Feed) PutCall(c Call) {
	c = f.normCall(c)
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	f.sw.calls[c.ID] = c
}

// EndCall removes a call leg that has hung up.
func (f *Feed) EndCall(id string) {
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	delete(f.sw.calls, id)
}

// SetConnected records whether the adapter is connected to its switch and
// the error that broke or prevented the connection (nil clears it). Since
// moves only when Connected changes. The switch's last known state stays in
// the View while it is disconnected: stale but usually right, and replaced
// by the resync on reconnect. Each loss of a connection (true to false)
// counts as a reconnect in the metrics.
func (f *Feed) SetConnected(connected bool, err error) {
	now := f.v.now()
	f.v.mu.Lock()
	defer f.v.mu.Unlock()
	st := &f.sw.state
	if st.Connected != connected {
		if st.Connected {
			f.sw.reconnects++
		}
		st.Connected, st.Since = connected, now
	}
	st.LastError = ""
	if err != nil {
		st.LastError = err.Error()
	}
}

func (f *Feed) normRegistration(now time.Time) func(*Registration) {
	return func(r *Registration) {
		r.Switch = f.sw.name
		if r.UpdatedAt.IsZero() {
			r.UpdatedAt = now
		}
	}
}

func (f *Feed) normGateway(g Gateway, now time.Time) Gateway {
	g.Switch = f.sw.name
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = now
	}
	return g
}

func (f *Feed) normCall(c Call) Call {
	c = cloneCall(c)
	c.Switch = f.sw.name
	return c
}

// cloneCall copies c deeply, so that neither the writer nor a reader can
// change a stored call through its Answer pointer.
func cloneCall(c Call) Call {
	if c.Answer != nil {
		a := *c.Answer
		c.Answer = &a
	}
	return c
}
