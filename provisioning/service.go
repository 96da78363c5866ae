package provisioning

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Service is the provisioning core: validation, scoping and change
// notification over a Store. It is safe for concurrent use.
type Service struct {
	store Store
	sinks []ConfigSink
	log   *slog.Logger
	// The caches of invalidation.go: token checks by token hash, domains
	// by name, and the domain names of a scope by its subtree path.
	tokens       versioned[string, tokenEntry]
	domains      versioned[string, domainEntry]
	scopeDomains versioned[string, []string]
	// plans caches each tenant's resolved routing (TenantPlan).
	plans    versioned[int64, *Plan]
	cacheTTL time.Duration
	// broadcaster carries invalidations to other processes (nil: none).
	broadcaster Broadcaster
	// following is set while FollowInvalidations runs, listening while
	// its stream is connected: cached answers are trusted only when both
	// or neither are set. sessions counts the connections it made.
	following, listening atomic.Bool
	sessions             atomic.Int64
	// bcryptCost is lowered only by tests.
	bcryptCost int
	// recordingRetention: WithRecordingRetention.
	recordingRetention time.Duration
	// tariffs caches compiled tariffs and who they apply to (tariffs_cache.go).
	tariffs tariffCaches
	// billing caches BillingPolicy's answers by tenant (billing.go).
	billing versioned[int64, billingPolicy]
	// whitelists caches the compiled whitelists of tenants and users
	// (whitelists_cache.go).
	whitelists whitelistCaches
}

// Option configures a Service.
type Option func(*Service)

// WithSink adds a switch adapter's configuration sink.
func WithSink(s ConfigSink) Option { return func(svc *Service) { svc.sinks = append(svc.sinks, s) } }

// WithLogger sets the logger used for sink failures.
func WithLogger(l *slog.Logger) Option { return func(svc *Service) { svc.log = l } }

// WithCacheTTL sets how long a cached token check or domain lookup is
// used without asking the store (default CacheTTL; 0 asks the store every
// time). Invalidation, not the TTL, keeps the caches correct.
func WithCacheTTL(d time.Duration) Option { return func(svc *Service) { svc.cacheTTL = d } }

// WithBcryptCost sets the bcrypt cost for password hashes (tests lower it).
func WithBcryptCost(c int) Option { return func(svc *Service) { svc.bcryptCost = c } }

// NewService returns a Service over store. A store that is also a
// Broadcaster carries the Service's cache invalidations to the other
// processes sharing it.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, log: slog.Default(), bcryptCost: bcrypt.DefaultCost, cacheTTL: CacheTTL}
	s.broadcaster, _ = store.(Broadcaster)
	for _, o := range opts {
		o(s)
	}
	return s
}

// AddSink registers a configuration sink after construction, for adapters
// that are built after the service (cmd wires them in this order).
func (s *Service) AddSink(sink ConfigSink) { s.sinks = append(s.sinks, sink) }

// notify hands a committed change to every sink. A sink failure is logged
// and not returned: the change is committed and the adapter reconciles.
func (s *Service) notify(ctx context.Context, c Change) {
	for _, sink := range s.sinks {
		if err := sink.Apply(ctx, c); err != nil {
			s.log.WarnContext(ctx, "config sink refused change", "op", c.Op, "object", c.describe(), "err", err)
		}
	}
}

func (c Change) describe() string {
	switch {
	case c.Account != nil:
		return "account " + c.Account.AOR()
	case c.Gateway != nil:
		return "gateway " + c.Gateway.Name
	case c.DID != nil:
		return "did " + c.DID.Number
	case c.Routing != nil:
		return fmt.Sprintf("%s %d of tenant %d", c.Routing.Kind, c.Routing.ID, c.Routing.TenantID)
	case c.Sound != nil:
		return fmt.Sprintf("sound %d of tenant %d", c.Sound.ID, c.Sound.TenantID)
	case c.Fax != nil:
		return fmt.Sprintf("fax %d (%s/%s)", c.Fax.ID, c.Fax.Switch, c.Fax.SwitchRef)
	case c.Voicemail != nil:
		return fmt.Sprintf("voicemail message %d (%s/%s)", c.Voicemail.ID, c.Voicemail.Switch, c.Voicemail.SwitchRef)
	}
	return "nothing"
}

func requireWrite(sc Scope) error {
	if !sc.CanWrite() {
		return Forbidden("", "role %q is read-only", sc.Role)
	}
	return nil
}
