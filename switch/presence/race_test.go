package presence

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentWritersAndReaders runs every writer and reader at once;
// its value is under -race, plus a few invariants readers can check
// whatever the interleaving.
func TestConcurrentWritersAndReaders(t *testing.T) {
	clk := newFakeClock()
	v := New(WithClock(clk.Now))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const switches, users = 3, 200

	var writers sync.WaitGroup
	for s := range switches {
		f := v.Feed(fmt.Sprintf("sw-%d", s))
		writers.Go(func() {
			for i := range 2000 {
				u := fmt.Sprintf("u%03d", i%users)
				d := fmt.Sprintf("d%d.example", i%4)
				r := reg(d, u, fmt.Sprint(i%3))
				if i%5 == 0 {
					r.Expires = clk.Now().Add(time.Duration(i%7) * time.Second)
				}
				switch i % 10 {
				case 0, 1, 2, 3, 4:
					f.PutRegistration(r)
				case 5:
					f.DeleteRegistration(d, u, "")
				case 6:
					f.PutCall(Call{ID: fmt.Sprint(i), Domain: d, Start: clk.Now()})
					f.PutGateway(Gateway{Name: fmt.Sprint("gw", i%3), State: GatewayUp})
				case 7:
					f.EndCall(fmt.Sprint(i - 1))
					f.SetConnected(i%20 == 7, nil)
				case 8:
					if i%200 == 8 {
						f.Replace(Snapshot{Registrations: []Registration{reg(d, u, "replaced")}})
					}
				case 9:
					f.DeleteRegistration(d, u, r.Contact)
				}
			}
		})
	}
	var readers sync.WaitGroup
	readers.Go(func() { // the janitor, with time moving on
		for ctx.Err() == nil {
			clk.Advance(100 * time.Millisecond)
			v.sweep()
			time.Sleep(time.Millisecond)
		}
	})
	for r := range 2 {
		readers.Go(func() {
			for ctx.Err() == nil {
				q := RegistrationQuery{Limit: 50}
				if r == 1 {
					q.Domains = []string{"d1.example", "d3.example"}
				}
				var prev *Registration
				for {
					page, next := v.Registrations(q)
					for i := range page {
						if prev != nil && compareRegKey(keyOf(*prev), keyOf(page[i])) >= 0 {
							t.Errorf("out of order: %+v then %+v", keyOf(*prev), keyOf(page[i]))
							return
						}
						prev = &page[i]
					}
					if next == "" {
						break
					}
					q.After = next
				}
				v.CountRegistrations("")
				v.CountRegistrations("d2.example")
				v.Online("d0.example", "u001")
				v.Calls(CallQuery{Limit: 10})
				gws := v.Gateways(GatewayQuery{})
				if !slices.IsSortedFunc(gws, func(a, b Gateway) int {
					return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Switch, b.Switch))
				}) {
					t.Error("gateways out of order")
				}
				v.Switches()
			}
		})
	}
	writers.Wait()
	cancel()
	readers.Wait()
}

func TestRun(t *testing.T) {
	clk := newFakeClock()
	v := New(WithClock(clk.Now))
	v.sweepEvery = time.Millisecond
	r := reg("d", "u", "c")
	r.Expires = clk.Now().Add(time.Minute)
	v.Feed("sw").PutRegistration(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	clk.Advance(time.Hour)
	deadline := time.Now().Add(5 * time.Second)
	for stored(v) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not drop the expired registration")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// stored counts the registrations held, expired or not.
func stored(v *View) int {
	v.mu.RLock()
	defer v.mu.RUnlock()
	n := 0
	for _, sd := range v.switches {
		n += sd.regs.n
	}
	return n
}
