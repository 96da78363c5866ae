package cdr

import (
	"fmt"
	"sync"
	"testing"
)

func recs(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = Record{Switch: "s", CallID: fmt.Sprint(i)}
	}
	return out
}

func TestFeedDeliversInOrder(t *testing.T) {
	f := NewFeed()
	s := f.Subscribe(10)
	f.Publish(recs(3))
	f.Publish(recs(2))
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, (<-s.C).CallID)
	}
	if fmt.Sprint(got) != "[0 1 2 0 1]" {
		t.Errorf("got %v", got)
	}
	s.Close()
	s.Close()
	if _, ok := <-s.C; ok {
		t.Error("C open after Close")
	}
	if s.Lagged() || f.Subscribers() != 0 {
		t.Error("a closed subscription is lagged or still counted")
	}
}

// A slow subscriber is cut off, never blocks Publish, and does not disturb
// the others.
func TestFeedCutsOffSlowSubscriber(t *testing.T) {
	f := NewFeed()
	slow := f.Subscribe(2)
	fast := f.Subscribe(100)
	f.Publish(recs(5))
	if !slow.Lagged() {
		t.Fatal("slow subscriber not marked lagged")
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != 2 {
		t.Errorf("slow subscriber got %d records before being cut off, want 2", n)
	}
	if len(fast.C) != 5 || fast.Lagged() {
		t.Errorf("fast subscriber: %d records, lagged %v", len(fast.C), fast.Lagged())
	}
	slow.Close() // after being cut off: harmless
}

func TestFeedConcurrent(t *testing.T) {
	f := NewFeed()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); f.Publish(recs(50)) }()
		go func() {
			defer wg.Done()
			s := f.Subscribe(10)
			s.Close()
		}()
	}
	wg.Wait()
}
