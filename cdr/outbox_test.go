package cdr

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// flakySink refuses its first fails Puts, then keeps what it is given.
type flakySink struct {
	mu    sync.Mutex
	fails int
	calls int
	got   []Record
}

func (s *flakySink) Put(_ context.Context, recs ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.fails > 0 {
		s.fails--
		return errors.New("sink down")
	}
	s.got = append(s.got, recs...)
	return nil
}

func (s *flakySink) records() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Record(nil), s.got...)
}

// TestOutbox: records queued before and while Stream runs all reach the
// sink once, in order, through refusals; an ack is told only after its
// record was accepted; what is queued after Stream ends waits for the
// next one.
func TestOutbox(t *testing.T) {
	tests := []struct {
		name  string
		fails int
	}{
		{"sink up", 0},
		{"sink refuses twice", 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var o Outbox
			sink := &flakySink{fails: tc.fails}
			o.Add([]Record{{CallID: "a"}, {CallID: "b"}}, nil)
			if o.Pending() != 2 {
				t.Fatalf("pending %d, want 2", o.Pending())
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- o.Stream(ctx, sink, nil) }()
			ack := make(chan error, 1)
			o.Add([]Record{{CallID: "c"}}, ack)
			select {
			case err := <-ack:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no ack")
			}
			got := sink.records()
			if len(got) != 3 || got[0].CallID != "a" || got[2].CallID != "c" {
				t.Fatalf("sink got %+v", got)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			o.Add([]Record{{CallID: "d"}}, nil)
			if o.Pending() != 1 {
				t.Errorf("pending after Stream ended: %d, want 1", o.Pending())
			}
			if n := o.Discard(); n != 1 || o.Pending() != 0 {
				t.Errorf("Discard = %d, pending %d", n, o.Pending())
			}
			if sink.calls < 2+tc.fails-1 {
				t.Errorf("%d Put calls with %d refusals", sink.calls, tc.fails)
			}
		})
	}
}
