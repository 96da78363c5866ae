package provisioning

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Service is the provisioning core: validation, scoping and change
// notification over a Store. It is safe for concurrent use.
type Service struct {
	store Store
	sinks []ConfigSink
	log   *slog.Logger
	// tokens caches successful token checks (see Authenticate).
	tokens   tokenCache
	tokenTTL time.Duration
	// bcryptCost is lowered only by tests.
	bcryptCost int
}

// Option configures a Service.
type Option func(*Service)

// WithSink adds a switch adapter's configuration sink.
func WithSink(s ConfigSink) Option { return func(svc *Service) { svc.sinks = append(svc.sinks, s) } }

// WithLogger sets the logger used for sink failures.
func WithLogger(l *slog.Logger) Option { return func(svc *Service) { svc.log = l } }

// WithTokenCacheTTL sets how long a token check is reused (default
// TokenCacheTTL; 0 checks the store on every request).
func WithTokenCacheTTL(d time.Duration) Option { return func(svc *Service) { svc.tokenTTL = d } }

// WithBcryptCost sets the bcrypt cost for password hashes (tests lower it).
func WithBcryptCost(c int) Option { return func(svc *Service) { svc.bcryptCost = c } }

// NewService returns a Service over store.
func NewService(store Store, opts ...Option) *Service {
	s := &Service{store: store, log: slog.Default(), bcryptCost: bcrypt.DefaultCost, tokenTTL: TokenCacheTTL}
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
	}
	return "nothing"
}

func requireWrite(sc Scope) error {
	if !sc.CanWrite() {
		return fmt.Errorf("%w: role %q is read-only", ErrForbidden, sc.Role)
	}
	return nil
}
