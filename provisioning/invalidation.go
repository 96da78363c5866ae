package provisioning

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/internal/backoff"
)

// The Service caches what every request needs and rarely changes: a token's
// scope (Authenticate), a domain by name (DomainByName, DomainTenant) and
// the names of a scope's domains (ScopeDomainNames, which presence and CDR
// queries filter by). Correctness comes from invalidation, not from expiry:
// every write that changes one of them publishes an Invalidation, which
// this process applies before the write returns (so a token revoked through
// any API listener is refused by the very next request on every listener:
// they share the Service) and which the store carries to the other
// processes sharing the database (Broadcaster, InvalidationSource:
// PostgreSQL NOTIFY/LISTEN). CacheTTL is a safety net for an invalidation
// that never arrives (a process that crashed between its commit and its
// NOTIFY, or, on SQLite, which has no notifications, a token revoked by
// the command line while a daemon runs).

// InvalidationKind names what changed.
type InvalidationKind string

// The kinds of invalidation.
const (
	// InvalidateToken: token ID was revoked (or created: nothing cached
	// depends on a token that did not exist, but publishing it costs
	// nothing). ID 0 means every token.
	InvalidateToken InvalidationKind = "token"
	// InvalidateDomain: a domain was created, renamed, moved to another
	// tenant or deleted. Domain lookups and scope domain lists are dropped.
	InvalidateDomain InvalidationKind = "domain"
	// InvalidateTenant: a tenant was renamed, moved (every path below it
	// changes) or deleted. Token scopes, domain lookups and scope domain
	// lists are all dropped.
	InvalidateTenant InvalidationKind = "tenant"
	// InvalidateRouting: the routing of tenant ID changed (a routing
	// object or a DID of it), or with ID 0 something every tenant's
	// routing may name (an account, a gateway, a user's forwards). Cached
	// routing plans are dropped.
	InvalidateRouting InvalidationKind = "routing"
	// InvalidateTariff: tariff plan ID changed (its settings or rates),
	// or with ID 0 a tenant's or a DID's tariff assignment. Compiled
	// tariffs, or the assignments, are dropped (tariffs_cache.go).
	InvalidateTariff InvalidationKind = "tariff"
	// InvalidateWhitelist: a whitelist was created, changed or deleted.
	// The compiled whitelists are dropped (whitelists_cache.go).
	InvalidateWhitelist InvalidationKind = "whitelist"
	// InvalidateAll drops everything: sent for a payload a process does not
	// understand (a newer version's kind) and applied when the
	// notification stream (re)connects, since anything sent while it was
	// down is lost.
	InvalidateAll InvalidationKind = "all"
)

// Invalidation is one committed change that makes cached provisioning state
// stale.
type Invalidation struct {
	Kind InvalidationKind
	ID   int64 // the token, for InvalidateToken; the tenant, for InvalidateRouting; the plan, for InvalidateTariff; 0 otherwise
}

// String is the wire form carried between processes: "token:12",
// "routing:3", "routing", "tariff:5", "tariff", "whitelist", "domain",
// "tenant", "all".
func (i Invalidation) String() string {
	if (i.Kind == InvalidateToken || i.Kind == InvalidateRouting || i.Kind == InvalidateTariff) && i.ID != 0 {
		return string(i.Kind) + ":" + strconv.FormatInt(i.ID, 10)
	}
	return string(i.Kind)
}

// ParseInvalidation reads the wire form. Anything it does not understand
// becomes InvalidateAll: dropping too much is safe, too little is not.
func ParseInvalidation(s string) Invalidation {
	kind, id, hasID := strings.Cut(s, ":")
	switch k := InvalidationKind(kind); k {
	case InvalidateToken, InvalidateRouting, InvalidateTariff:
		if !hasID {
			return Invalidation{Kind: k}
		}
		if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
			return Invalidation{Kind: k, ID: n}
		}
	case InvalidateDomain, InvalidateTenant, InvalidateWhitelist:
		if !hasID {
			return Invalidation{Kind: k}
		}
	}
	return Invalidation{Kind: InvalidateAll}
}

// Broadcaster carries an invalidation to the other processes sharing the
// store. A Store that implements it is used by NewService. Broadcast is
// called after the write committed; a failure is logged, and the other
// processes then rely on CacheTTL.
type Broadcaster interface {
	Broadcast(ctx context.Context, inv Invalidation) error
}

// InvalidationSource delivers the invalidations every process broadcasts
// (this one's included). Listen calls ready once it is listening, then
// deliver for each invalidation, until ctx ends or the stream breaks (it
// then returns the error). It returns errors.ErrUnsupported at once when
// the store cannot notify (SQLite).
type InvalidationSource interface {
	Listen(ctx context.Context, ready func(), deliver func(Invalidation)) error
}

// CacheTTL is how long a cached answer is used without asking the store
// again. Invalidation keeps caches correct; the TTL only bounds how long a
// lost invalidation can go unnoticed.
const CacheTTL = 30 * time.Second

// invalidate applies inv to this process's caches.
func (s *Service) invalidate(inv Invalidation) {
	s.tariffs.invalidate(inv)
	s.invalidateBilling(inv)
	s.invalidateWhitelists(inv)
	switch inv.Kind {
	case InvalidateToken:
		if inv.ID == 0 {
			s.tokens.clear()
		} else {
			s.tokens.dropWhere(func(e tokenEntry) bool { return e.token.ID == inv.ID })
		}
	case InvalidateDomain:
		s.domains.clear()
		s.scopeDomains.clear()
		s.plans.clear() // accounts ring as user@domain
	case InvalidateRouting:
		if inv.ID == 0 {
			s.plans.clear()
		} else {
			s.plans.drop(inv.ID)
		}
	case InvalidateTariff, InvalidateWhitelist:
	default: // tenant, all and anything unknown
		s.tokens.clear()
		s.domains.clear()
		s.scopeDomains.clear()
		s.plans.clear()
	}
}

// changed publishes inv after a committed write: to this process's caches
// first (before the write returns to its caller), then to the others.
func (s *Service) changed(ctx context.Context, inv Invalidation) {
	s.invalidate(inv)
	if s.broadcaster == nil {
		return
	}
	// The write is committed: its caller's cancellation must not keep the
	// other processes from hearing of it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.broadcaster.Broadcast(ctx, inv); err != nil {
		s.log.WarnContext(ctx, "provisioning: could not broadcast a cache invalidation; other daemons notice within the cache TTL",
			"invalidation", inv.String(), "err", err)
	}
}

// fresh reports whether an entry cached at at may be used without asking
// the store: it is younger than the TTL and, when this process follows
// other processes' invalidations, the stream is connected (while it is
// not, an invalidation could be missed, so every lookup asks the store).
func (s *Service) fresh(at time.Time) bool {
	return (!s.following.Load() || s.listening.Load()) && time.Since(at) < s.cacheTTL
}

// FollowInvalidations applies the invalidations other processes broadcast
// until ctx ends. It returns nil at once when the store has no
// notifications (SQLite, or a store that is no InvalidationSource). While
// the stream is down, cached answers are not trusted (every lookup asks
// the store, falling back to the last known answer only when the store
// fails); when it (re)connects every cache is dropped, since whatever was
// sent meanwhile is lost. The caller runs it for the life of the daemon.
func (s *Service) FollowInvalidations(ctx context.Context) error {
	src, ok := s.store.(InvalidationSource)
	if !ok {
		return nil
	}
	s.following.Store(true)
	defer s.following.Store(false)
	b := backoff.New(100*time.Millisecond, 10*time.Second)
	for {
		err := src.Listen(ctx, func() {
			s.invalidate(Invalidation{Kind: InvalidateAll})
			s.listening.Store(true)
			s.sessions.Add(1)
			b.Reset()
		}, s.invalidate)
		s.listening.Store(false)
		if errors.Is(err, errors.ErrUnsupported) || ctx.Err() != nil {
			return nil
		}
		s.log.WarnContext(ctx, "provisioning: invalidation stream lost; caches bypassed until it is back", "err", err)
		if !b.Wait(ctx) {
			return nil
		}
	}
}
