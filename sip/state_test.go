package sip

import (
	"testing"
	"time"
)

func TestApply(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ok := answered(200, "OK", 20*time.Millisecond)
	slow := answered(200, "OK", 1500*time.Millisecond)
	busy := answered(503, "Service Unavailable", 30*time.Millisecond)
	lost := missed(resultTimeout, reasonTimeout)
	refused := missed(resultError, reasonRefused)
	type step struct {
		o       outcome
		status  Status
		misses  int
		code    int
		rtt     time.Duration
		changed bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first answer", []step{{ok, StatusReachable, 0, 200, 20 * time.Millisecond, true}}},
		{"503 is alive", []step{{busy, StatusReachable, 0, 503, 30 * time.Millisecond, true}}},
		{"slow answer is lagged, still up", []step{
			{ok, StatusReachable, 0, 200, 20 * time.Millisecond, true},
			{slow, StatusLagged, 0, 200, 1500 * time.Millisecond, true},
			{ok, StatusReachable, 0, 200, 20 * time.Millisecond, true},
		}},
		{"down after three misses, back on one answer", []step{
			{ok, StatusReachable, 0, 200, 20 * time.Millisecond, true},
			{lost, StatusReachable, 1, 0, 20 * time.Millisecond, false}, // RTT of the last answer kept
			{refused, StatusReachable, 2, 0, 20 * time.Millisecond, false},
			{lost, StatusUnreachable, 3, 0, 20 * time.Millisecond, true},
			{lost, StatusUnreachable, 4, 0, 20 * time.Millisecond, false},
			{busy, StatusReachable, 0, 503, 30 * time.Millisecond, true},
		}},
		{"a miss between answers resets nothing but the count", []step{
			{ok, StatusReachable, 0, 200, 20 * time.Millisecond, true},
			{lost, StatusReachable, 1, 0, 20 * time.Millisecond, false},
			{ok, StatusReachable, 0, 200, 20 * time.Millisecond, false},
			{lost, StatusReachable, 1, 0, 20 * time.Millisecond, false},
			{lost, StatusReachable, 2, 0, 20 * time.Millisecond, false},
		}},
		{"never answered: unknown until the misses are in", []step{
			{lost, StatusUnknown, 1, 0, 0, false},
			{lost, StatusUnknown, 2, 0, 0, false},
			{lost, StatusUnreachable, 3, 0, 0, true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Result{Status: StatusUnknown}
			for i, s := range tt.steps {
				now := t0.Add(time.Duration(i) * time.Second)
				prev := r.LastChange
				changed := r.apply(s.o, now, 3, time.Second)
				if r.Status != s.status || r.Misses != s.misses || r.Code != s.code || r.RTT != s.rtt || changed != s.changed {
					t.Fatalf("step %d: got %s misses %d code %d rtt %v changed %v, want %s %d %d %v %v",
						i, r.Status, r.Misses, r.Code, r.RTT, changed, s.status, s.misses, s.code, s.rtt, s.changed)
				}
				if r.Reason != s.o.reason || !r.LastProbe.Equal(now) {
					t.Fatalf("step %d: reason %q last probe %v, want %q %v", i, r.Reason, r.LastProbe, s.o.reason, now)
				}
				if wantChange := map[bool]time.Time{true: now, false: prev}[changed]; !r.LastChange.Equal(wantChange) {
					t.Fatalf("step %d: LastChange %v, want %v", i, r.LastChange, wantChange)
				}
			}
		})
	}
}

func TestReasonPhrase(t *testing.T) {
	tests := []struct {
		code       int
		in, want   string
		standalone bool // want is a copy, not the standard constant
	}{
		{200, "OK", "OK", false},
		{200, "ok", "OK", false},
		{401, "Unauthorized", "Unauthorized", false},
		{500, "Server Internal Error", "Server Internal Error", false},
		{503, "Service Unavailable", "Service Unavailable", false},
		{503, "Maintenance", "Maintenance", true},
		{299, "", "", true},
	}
	for _, tt := range tests {
		if got := reasonPhrase(tt.code, tt.in); got != tt.want {
			t.Errorf("reasonPhrase(%d, %q) = %q, want %q", tt.code, tt.in, got, tt.want)
		}
	}
	long := make([]byte, 500)
	for i := range long {
		long[i] = 'x'
	}
	if got := reasonPhrase(503, string(long)); len(got) != 120 {
		t.Errorf("a 500-byte reason is kept as %d bytes, want 120", len(got))
	}
}
