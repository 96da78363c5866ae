package presence

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// recordingController is a CallController that records what it was asked.
type recordingController struct {
	mu       sync.Mutex
	hangups  []string
	requests []OriginateRequest
	err      error
}

func (c *recordingController) Originate(ctx context.Context, req OriginateRequest) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return "", c.err
	}
	c.requests = append(c.requests, req)
	return "new-call", nil
}

func (c *recordingController) Hangup(ctx context.Context, callID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	c.hangups = append(c.hangups, callID)
	return nil
}

func TestHangupRouting(t *testing.T) {
	v := New()
	a, b, c := v.Feed("a"), v.Feed("b"), v.Feed("no-controller")
	ca, cb := &recordingController{}, &recordingController{}
	v.AttachController("a", ca)
	v.AttachController("b", cb)
	a.PutCall(Call{ID: "on-a"})
	b.PutCall(Call{ID: "on-b"})
	a.PutCall(Call{ID: "on-both"})
	b.PutCall(Call{ID: "on-both"})
	c.PutCall(Call{ID: "uncontrolled"})
	a.PutCall(Call{ID: "ended"})
	a.EndCall("ended")

	tests := []struct {
		id      string
		wantErr error
		wantOn  *recordingController
	}{
		{"on-a", nil, ca},
		{"on-b", nil, cb},
		{"nope", ErrUnknownCall, nil},
		{"ended", ErrUnknownCall, nil},
		{"on-both", ErrAmbiguousCall, nil},
		{"uncontrolled", ErrUnknownSwitch, nil},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			ca.hangups, cb.hangups = nil, nil
			err := v.Hangup(context.Background(), tt.id)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Hangup(%q) = %v, want %v", tt.id, err, tt.wantErr)
			}
			for _, ctl := range []*recordingController{ca, cb} {
				want := 0
				if ctl == tt.wantOn {
					want = 1
				}
				if len(ctl.hangups) != want {
					t.Errorf("a controller got %v", ctl.hangups)
				}
			}
		})
	}

	// A controller's own error is wrapped, not replaced.
	boom := errors.New("ARI: 404 channel not found")
	cb.err = boom
	if err := v.Hangup(context.Background(), "on-b"); !errors.Is(err, boom) {
		t.Errorf("Hangup with failing controller = %v, want it to wrap %v", err, boom)
	}
	// Detaching leaves the call known but uncontrolled.
	v.AttachController("a", nil)
	if err := v.Hangup(context.Background(), "on-a"); !errors.Is(err, ErrUnknownSwitch) {
		t.Errorf("Hangup after detach = %v, want ErrUnknownSwitch", err)
	}
}

func TestOriginate(t *testing.T) {
	v := New()
	ca := &recordingController{}
	v.AttachController("a", ca)
	req := OriginateRequest{From: "1001@example.com", To: "1002@example.com"}
	id, err := v.Originate(context.Background(), "a", req)
	if err != nil || id != "new-call" || len(ca.requests) != 1 || ca.requests[0] != req {
		t.Errorf("Originate on a = %q, %v; controller saw %+v", id, err, ca.requests)
	}
	if _, err := v.Originate(context.Background(), "b", req); !errors.Is(err, ErrUnknownSwitch) {
		t.Errorf("Originate on unknown switch = %v, want ErrUnknownSwitch", err)
	}
	boom := errors.New("not connected")
	ca.err = boom
	if _, err := v.Originate(context.Background(), "a", req); !errors.Is(err, boom) {
		t.Errorf("Originate with failing controller = %v, want it to wrap %v", err, boom)
	}
}
