package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strconv"
)

// NumberRange is an inclusive range of decimal numbers from which account
// usernames are allocated automatically (the dcp dialect's phonenumber/create
// without a phonenumber). A username belongs to the range when it is all
// digits, has no leading zero and its value is within [First, Last]; every
// other username of the domain (names, longer phone numbers, "0123") is
// ignored by the allocation, so it can neither exhaust nor derail it.
type NumberRange struct {
	First, Last int64
}

// MaxAllocatable is the largest number a NumberRange may end at: 18 digits,
// so that every number and its successor fit an int64 on both engines.
const MaxAllocatable = 999_999_999_999_999_999

// Valid reports whether r can be allocated from.
func (r NumberRange) Valid() bool {
	return r.First >= 1 && r.First <= r.Last && r.Last <= MaxAllocatable
}

// ErrNoFreeNumber is returned when every number of the range is taken in
// the domain. It is a conflict: the domain's state, not the request, is
// what refuses.
var ErrNoFreeNumber = fmt.Errorf("%w: no free number left in the range", ErrConflict)

// NumberStore is what automatic numbering needs of the Store, in one
// transaction: pick the next free number and insert the account under it.
// sqlstore.Store implements it with a per-domain lock and an index probe,
// so the pick costs the same however many accounts the domain has, and
// concurrent allocations in a domain never collide.
type NumberStore interface {
	// CreateNumberedAccount sets a.Username to the number after the
	// highest number of r in a's domain (r.First when there is none); when
	// that is past r.Last, to the smallest free number of r; and inserts
	// a as CreateAccount does. Once the username is set, and before the
	// insert, it calls prepare to derive what depends on the username.
	// Every number of r taken: ErrNoFreeNumber.
	CreateNumberedAccount(ctx context.Context, a *Account, r NumberRange, prepare func(*Account) error) error
}

// errNoNumberStore reports a Store that cannot allocate numbers.
var errNoNumberStore = errors.New("provisioning: the store cannot allocate numbers")

// CreateNumberedAccount creates a SIP account like CreateAccount, with the
// next free number of r in its domain as its username (a.Username is
// ignored and set). Numbers go up rather than back into gaps, so that a
// number just removed (its phone may still try to register, its CDRs name
// it) is not handed to someone else at once; gaps are reused only when the
// top of the range is reached.
func (s *Service) CreateNumberedAccount(ctx context.Context, sc Scope, a *Account, r NumberRange) error {
	if err := requireWrite(sc); err != nil {
		return err
	}
	if !r.Valid() {
		return fmt.Errorf("provisioning: number range %d–%d: %w", r.First, r.Last, ErrInvalid)
	}
	ns, ok := s.store.(NumberStore)
	if !ok {
		return errNoNumberStore
	}
	if a.Secret == "" {
		a.Secret = GenerateSecret()
	}
	// Everything but the number is checked before the store is asked,
	// with a number of the range standing in for it.
	a.Username = strconv.FormatInt(r.First, 10)
	if err := s.prepareAccount(ctx, sc, a); err != nil {
		return err
	}
	err := ns.CreateNumberedAccount(ctx, a, r, func(a *Account) error {
		a.HA1 = HA1(a.Username, a.Domain, a.Secret)
		return nil
	})
	if err != nil {
		return err
	}
	s.notify(ctx, Change{Op: OpUpsert, Account: a})
	return nil
}
