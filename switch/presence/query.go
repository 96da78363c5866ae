package presence

import (
	"cmp"
	"slices"
	"strings"
)

// The page size of Registrations.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// RegistrationQuery selects registrations. Domain names are compared
// exactly: adapters report them as they were provisioned.
type RegistrationQuery struct {
	Domain  string   // one domain; "" = no domain filter
	Domains []string // restrict to these domains (a tenant's scope); nil = no restriction, empty = nothing
	User    string   // exact user
	Switch  string
	After   string // opaque cursor returned by the previous page
	Limit   int    // default 100, max 1000
}

// Registrations returns one page of the live registrations matching q, in
// (Domain, User, Contact, Switch) order, and the cursor of the next page
// ("" on the last page). The cursor is the key of the last item returned,
// so a page starts right after it whatever was inserted or deleted in
// between: every registration present throughout a walk is returned exactly
// once. An invalid cursor yields an empty last page (see ValidCursor).
//
// Cost: a binary search per switch and domain visited, then one step per
// item: a page never scans or sorts the whole View.
func (v *View) Registrations(q RegistrationQuery) (regs []Registration, next string) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var after *regKey
	if q.After != "" {
		k, ok := decodeCursor(q.After)
		if !ok {
			return []Registration{}, ""
		}
		after = &k
	}
	now := v.now()

	v.mu.RLock()
	defer v.mu.RUnlock()
	domains, ok := v.queryDomains(q)
	if !ok {
		return []Registration{}, ""
	}
	if after != nil { // skip the domains before the cursor's
		i, _ := slices.BinarySearch(domains, after.Domain)
		domains = domains[i:]
	}
	switches := v.sources(q.Switch)
	out := make([]Registration, 0, min(limit, 64))
	srcs := make([]mergeSource, 0, len(switches))
	for _, d := range domains {
		srcs = srcs[:0]
		for _, sd := range switches {
			x := sd.regs.byDomain[d]
			if x == nil {
				continue
			}
			p := pos{}
			if q.User != "" {
				p = x.seek(q.User, "", false)
			}
			if after != nil && after.Domain == d {
				// Entries with the cursor's (User, Contact) come after it
				// only on switches that sort after the cursor's switch.
				if pa := x.seek(after.User, after.Contact, sd.name <= after.Switch); p.before(pa) {
					p = pa
				}
			}
			srcs = append(srcs, mergeSource{x: x, p: p})
		}
		for {
			e := nextMerged(srcs, q.User)
			if e == nil {
				break
			}
			if expired(&e.Registration, now) {
				continue
			}
			if len(out) == limit {
				return out, encodeCursor(&out[len(out)-1])
			}
			out = append(out, e.Registration)
		}
	}
	return out, ""
}

// queryDomains returns the sorted domains a query visits; ok is false when
// the query can match nothing.
func (v *View) queryDomains(q RegistrationQuery) (ds []string, ok bool) {
	switch {
	case q.Domain != "" && q.Domains != nil && !slices.Contains(q.Domains, q.Domain):
		return nil, false
	case q.Domain != "":
		return []string{q.Domain}, true
	case q.Domains != nil:
		return normDomains(q.Domains), true
	default:
		return v.domains.names, true
	}
}

// mergeSource is one switch's index of one domain, positioned.
type mergeSource struct {
	x *regIndex
	p pos
}

// nextMerged returns the smallest (User, Contact, Switch) among the
// sources' current entries and advances its source; nil when all are done
// (or past user, when user is set). A linear scan is right: there are few
// switches.
func nextMerged(srcs []mergeSource, user string) *regEntry {
	best := -1
	var be *regEntry
	for i := range srcs {
		e := srcs[i].x.at(srcs[i].p)
		if e == nil || (user != "" && e.User != user) {
			continue
		}
		if be == nil || compareMerged(e, be) < 0 {
			best, be = i, e
		}
	}
	if best >= 0 {
		srcs[best].p = srcs[best].x.next(srcs[best].p)
	}
	return be
}

func compareMerged(a, b *regEntry) int {
	if c := compareKey(a, b.User, b.Contact); c != 0 {
		return c
	}
	return strings.Compare(a.Switch, b.Switch)
}

// CountRegistrations returns the number of live registrations in domain,
// or in every domain when domain is "". It is O(1) per switch unless a
// registration may have expired since the janitor last ran.
func (v *View) CountRegistrations(domain string) int {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	n := 0
	for _, sd := range v.switches {
		t := sd.regs
		var xs []*regIndex
		if domain == "" {
			if !t.mayHaveExpired(now) {
				n += t.n
				continue
			}
			for _, x := range t.byDomain {
				xs = append(xs, x)
			}
		} else if x := t.byDomain[domain]; x != nil {
			if !t.mayHaveExpired(now) {
				n += x.n
				continue
			}
			xs = append(xs, x)
		}
		for _, x := range xs {
			for _, ch := range x.chunks {
				for _, e := range ch {
					if !expired(&e.Registration, now) {
						n++
					}
				}
			}
		}
	}
	return n
}

// Online reports whether user@domain has at least one live registration on
// any switch.
func (v *View) Online(domain, user string) bool {
	now := v.now()
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, sd := range v.switches {
		x := sd.regs.byDomain[domain]
		if x == nil {
			continue
		}
		for p := x.seek(user, "", false); ; p = x.next(p) {
			e := x.at(p)
			if e == nil || e.User != user {
				break
			}
			if !expired(&e.Registration, now) {
				return true
			}
		}
	}
	return false
}

// GatewayQuery selects gateways.
type GatewayQuery struct {
	Names  []string // nil = all; empty = none (a tenant without gateways)
	Switch string
}

// Gateways returns the gateways matching q, sorted by (Name, Switch).
func (v *View) Gateways(q GatewayQuery) []Gateway {
	var names map[string]bool
	if q.Names != nil {
		names = make(map[string]bool, len(q.Names))
		for _, n := range q.Names {
			names[n] = true
		}
	}
	v.mu.RLock()
	out := []Gateway{}
	for _, sd := range v.sources(q.Switch) {
		if names != nil && len(names) < len(sd.gateways) {
			for n := range names {
				if g, ok := sd.gateways[n]; ok {
					out = append(out, g)
				}
			}
			continue
		}
		for _, g := range sd.gateways {
			if names == nil || names[g.Name] {
				out = append(out, g)
			}
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b Gateway) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Switch, b.Switch))
	})
	return out
}

// CallQuery selects live calls.
type CallQuery struct {
	Domains []string // nil = all; otherwise calls whose Domain is one of these
	Switch  string
	Limit   int // 0 = all
}

// Calls returns the live calls matching q, newest first (by Start, then by
// ID and Switch for a stable order).
func (v *View) Calls(q CallQuery) []Call {
	var domains map[string]bool
	if q.Domains != nil {
		domains = make(map[string]bool, len(q.Domains))
		for _, d := range q.Domains {
			domains[d] = true
		}
	}
	v.mu.RLock()
	out := []Call{}
	for _, sd := range v.sources(q.Switch) {
		for _, c := range sd.calls {
			if domains == nil || domains[c.Domain] {
				out = append(out, cloneCall(c))
			}
		}
	}
	v.mu.RUnlock()
	slices.SortFunc(out, func(a, b Call) int {
		return cmp.Or(b.Start.Compare(a.Start), strings.Compare(a.ID, b.ID), strings.Compare(a.Switch, b.Switch))
	})
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit:q.Limit]
	}
	return out
}
