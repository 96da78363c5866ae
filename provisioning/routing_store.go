package provisioning

import (
	"context"
	"time"
)

// RoutingRecord is a routing object as a RoutingStore keeps it: the
// columns every kind has, and the kind's own fields as a JSON body.
// Keeping the kinds in one table gives the numbering plan one uniqueness
// rule (Slot, unique per tenant: an extension and a hunt group cannot
// share a number) and the references one table the deletes check.
type RoutingRecord struct {
	ID        int64       `db:"id"`
	TenantID  int64       `db:"tenant_id"`
	Kind      RoutingKind `db:"kind"`
	Slot      *string     `db:"slot"` // nil: no uniqueness
	Name      string      `db:"name"`
	Body      []byte      `db:"body"`
	CreatedAt time.Time   `db:"created_at"`
	UpdatedAt time.Time   `db:"updated_at"`
}

// RoutingFilter selects routing records.
type RoutingFilter struct {
	Subtree  string
	TenantID int64
	Kind     RoutingKind
	Page
}

// RoutingStore is what call routing needs of the Store. Writes record
// the object's references in the same transaction, after checking that
// each target exists (and, on engines that can, locking it against a
// concurrent delete); a delete is refused while anything points at the
// object, naming what does.
type RoutingStore interface {
	CreateRouting(ctx context.Context, r *RoutingRecord, refs []RoutingRef) error
	UpdateRouting(ctx context.Context, r *RoutingRecord, refs []RoutingRef) error
	DeleteRouting(ctx context.Context, id int64) error
	Routing(ctx context.Context, id int64) (*RoutingRecord, error)
	Routings(ctx context.Context, f RoutingFilter) ([]RoutingRecord, error)
}
