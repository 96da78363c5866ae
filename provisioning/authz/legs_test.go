package authz

import (
	"context"
	"errors"
	"testing"
)

// Legs authorized ahead (Call.Of): each releases itself by its own id;
// the caller's release drops those still live (a member never dialled),
// and a leg released before its caller is not dropped twice.
func TestLegsReleasedWithTheirCall(t *testing.T) {
	f := &fakeSources{tenant: Limits{Concurrent: 3}}
	a, _ := newTest(t, f)
	ctx := context.Background()
	leg := func(id string) Call { c := call(id); c.Of = "caller"; return c }
	for _, id := range []string{"m0", "m1", "m2"} {
		if d, _ := a.Authorize(ctx, leg(id)); !d.Allowed {
			t.Fatalf("leg %s: %+v", id, d)
		}
	}
	if d, _ := a.Authorize(ctx, call("other")); d.Reason != ReasonConcurrent {
		t.Fatalf("a 4th call with 3 legs live: %+v, want concurrent_limit", d)
	}
	if err := a.ReleaseBooked("fs1", "m1"); err != nil { // the dialled leg's CDR
		t.Fatal(err)
	}
	if a.Live(1, 0) != 2 {
		t.Fatalf("live %d after one leg's release, want 2", a.Live(1, 0))
	}
	if err := a.ReleaseBooked("fs1", "caller"); err != nil { // the caller's CDR
		t.Fatalf("caller's release: %v", err)
	}
	if a.Live(1, 0) != 0 || len(a.legs) != 0 {
		t.Fatalf("live %d, legs %v after the caller's release; want none", a.Live(1, 0), a.legs)
	}
	if err := a.ReleaseBooked("fs1", "caller"); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("second release of the caller: %v, want ErrUnknownCall", err)
	}
	if err := a.ReleaseBooked("fs1", "m0"); !errors.Is(err, ErrUnknownCall) {
		t.Errorf("a leg's CDR after its caller's: %v, want ErrUnknownCall", err)
	}
}
