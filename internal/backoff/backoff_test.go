package backoff

import (
	"context"
	"testing"
	"time"
)

func TestNextDoublesWithinJitterAndCaps(t *testing.T) {
	tests := []struct {
		name     string
		min, max time.Duration
		steps    []time.Duration // the step each Next draws from
	}{
		{"doubling", 100 * time.Millisecond, time.Second,
			[]time.Duration{100, 200, 400, 800, 1000, 1000}},
		{"max below min", time.Second, 10 * time.Millisecond,
			[]time.Duration{1000, 1000, 1000}},
		{"equal", 50 * time.Millisecond, 50 * time.Millisecond,
			[]time.Duration{50, 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for trial := range 200 {
				b := New(tt.min, tt.max)
				for i, ms := range tt.steps {
					step := ms * time.Millisecond
					if d := b.Next(); d < step/2 || d > step {
						t.Fatalf("trial %d, wait %d: %v outside [%v, %v]", trial, i, d, step/2, step)
					}
				}
			}
		})
	}
}

func TestResetStartsOver(t *testing.T) {
	b := New(10*time.Millisecond, time.Second)
	for range 6 {
		b.Next()
	}
	b.Reset()
	if d := b.Next(); d > 10*time.Millisecond {
		t.Fatalf("after Reset: %v, want at most 10ms", d)
	}
}

func TestWaitUsesSleepAndStopsWithContext(t *testing.T) {
	var got []time.Duration
	b := New(time.Second, 4*time.Second)
	b.Sleep = func(ctx context.Context, d time.Duration) bool {
		got = append(got, d)
		return ctx.Err() == nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	if !b.Wait(ctx) || !b.Pause(ctx, time.Minute) {
		t.Fatal("Wait on a live context reported it ended")
	}
	cancel()
	if b.Wait(ctx) {
		t.Fatal("Wait on an ended context reported it live")
	}
	if len(got) != 3 || got[1] != time.Minute || got[2] < time.Second || got[2] > 2*time.Second {
		t.Fatalf("waits %v: want [~1s, 1m, 1s..2s]: Pause does not advance the step", got)
	}
}

func TestSleepReturnsEarlyWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Fatal("Sleep on an ended context reported it live")
	}
	if !Sleep(context.Background(), 0) {
		t.Fatal("Sleep(0) on a live context reported it ended")
	}
}
