package provisioning

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by the Service wraps exactly one of
// them, so API dialects map errors to their own status codes with errors.Is
// and never by inspecting messages.
var (
	// ErrInvalid marks input that fails validation. The concrete error is a
	// *FieldError naming the offending field.
	ErrInvalid = errors.New("provisioning: invalid input")
	// ErrNotFound marks an object that does not exist or that the caller's
	// scope cannot see: the two are deliberately indistinguishable so that a
	// tenant cannot probe for IDs belonging to another tenant.
	ErrNotFound = errors.New("provisioning: not found")
	// ErrConflict marks a uniqueness violation or a delete refused because the
	// object still owns children.
	ErrConflict = errors.New("provisioning: conflict")
	// ErrForbidden marks an operation the caller's role may not perform on an
	// object it can see.
	ErrForbidden = errors.New("provisioning: forbidden")
	// ErrUnauthenticated marks a missing, unknown or revoked API token.
	ErrUnauthenticated = errors.New("provisioning: invalid token")
	// ErrTooLarge marks an upload over its limit (a sound file). The
	// concrete error is a *TooLargeError naming the field.
	ErrTooLarge = errors.New("provisioning: too large")
)

// TooLargeError reports an upload over its limit.
type TooLargeError struct {
	Field  string
	Reason string
}

func (e *TooLargeError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap makes errors.Is(err, ErrTooLarge) true.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// TooLarge returns a *TooLargeError for field.
func TooLarge(field, format string, args ...any) error {
	return &TooLargeError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// FieldError reports one invalid field. Field uses the native API's JSON
// name (for example "caller_id_number"); dialects rename it for their
// callers when their parameter names differ.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %s", e.Field, e.Reason) }

// Unwrap lets callers test errors.Is(err, ErrInvalid).
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Invalid returns a *FieldError for field.
func Invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// NotFoundError names the kind of object and the key that was looked up.
type NotFoundError struct {
	Kind string // "tenant", "domain", "user", "account", "gateway", "did", "token"
	Key  string // the id or natural key that was asked for
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.Kind, e.Key) }

// Unwrap lets callers test errors.Is(err, ErrNotFound).
func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// NotFound returns a *NotFoundError.
func NotFound(kind string, key any) error { return &NotFoundError{Kind: kind, Key: fmt.Sprint(key)} }

// ForbiddenError is an operation the caller's role may not perform on
// objects it can see. Field names the field that asked for it (parent_id
// null for a root tenant, tenant_id null for a shared gateway), or is empty
// when the operation itself is refused.
type ForbiddenError struct {
	Field  string
	Reason string
}

func (e *ForbiddenError) Error() string {
	if e.Field == "" {
		return "forbidden: " + e.Reason
	}
	return fmt.Sprintf("forbidden: %s: %s", e.Field, e.Reason)
}

// Unwrap lets callers test errors.Is(err, ErrForbidden).
func (e *ForbiddenError) Unwrap() error { return ErrForbidden }

// Forbidden returns a *ForbiddenError. Role refusals are forbidden, never
// invalid: the request is well-formed, the caller may just not make it.
func Forbidden(field, format string, args ...any) error {
	return &ForbiddenError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ConflictError names the field whose uniqueness was violated, or the reason
// a delete was refused (Field is then empty).
type ConflictError struct {
	Field  string
	Reason string
}

func (e *ConflictError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Reason)
}

// Unwrap lets callers test errors.Is(err, ErrConflict).
func (e *ConflictError) Unwrap() error { return ErrConflict }

// Conflict returns a *ConflictError.
func Conflict(field, format string, args ...any) error {
	return &ConflictError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// fieldNotFound turns the not-found of a referenced object into a
// validation error naming the referencing field, so a caller learns which
// parameter was wrong.
func fieldNotFound(field string, err error) error {
	var nf *NotFoundError
	if errors.As(err, &nf) {
		return &RefError{Field: field, NotFoundError: nf}
	}
	return err
}

// RefError is a reference, in field Field, to an object that does not exist
// or is out of scope. It is both a not-found and names the field.
type RefError struct {
	Field string
	*NotFoundError
}

func (e *RefError) Error() string { return e.Field + ": " + e.NotFoundError.Error() }

// Unwrap lets callers test errors.Is(err, ErrNotFound) and errors.As into
// *NotFoundError.
func (e *RefError) Unwrap() error { return e.NotFoundError }
