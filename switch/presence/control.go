package presence

import (
	"context"
	"errors"
	"fmt"
)

// Call control errors. The errors returned by Hangup and Originate wrap
// them, so APIs map them to status codes with errors.Is.
var (
	// ErrUnknownCall marks a call id that no switch reports as live.
	ErrUnknownCall = errors.New("presence: unknown call")
	// ErrUnknownSwitch marks a switch that has no call controller attached.
	ErrUnknownSwitch = errors.New("presence: unknown switch")
	// ErrAmbiguousCall marks a call id that two switches report (Asterisk
	// uniqueids are only unique per switch): hanging up either could end a
	// stranger's call, so neither is.
	ErrAmbiguousCall = errors.New("presence: call id reported by more than one switch")
)

// AttachController sets the call controller of a switch, replacing any
// earlier one; nil detaches it.
func (v *View) AttachController(switchName string, c CallController) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c == nil {
		delete(v.controllers, switchName)
		return
	}
	v.controllers[switchName] = c
}

// Hangup ends a live call on the switch that reported it. The controller is
// called without any View lock held, so it may take its time (and its feed
// may report the hangup meanwhile).
func (v *View) Hangup(ctx context.Context, callID string) error {
	v.mu.RLock()
	var on []string
	for _, n := range v.names {
		if _, ok := v.switches[n].calls[callID]; ok {
			on = append(on, n)
		}
	}
	var c CallController
	if len(on) == 1 {
		c = v.controllers[on[0]]
	}
	v.mu.RUnlock()
	switch {
	case len(on) == 0:
		return fmt.Errorf("presence: hangup %q: %w", callID, ErrUnknownCall)
	case len(on) > 1:
		return fmt.Errorf("presence: hangup %q on %v: %w", callID, on, ErrAmbiguousCall)
	case c == nil:
		return fmt.Errorf("presence: hangup %q: switch %q: %w", callID, on[0], ErrUnknownSwitch)
	}
	if err := c.Hangup(ctx, callID); err != nil {
		return fmt.Errorf("presence: hangup %q on %s: %w", callID, on[0], err)
	}
	return nil
}

// Originate asks the named switch to place a call and returns the new
// call's id.
func (v *View) Originate(ctx context.Context, switchName string, req OriginateRequest) (string, error) {
	v.mu.RLock()
	c := v.controllers[switchName]
	v.mu.RUnlock()
	if c == nil {
		return "", fmt.Errorf("presence: originate on %q: %w", switchName, ErrUnknownSwitch)
	}
	id, err := c.Originate(ctx, req)
	if err != nil {
		return "", fmt.Errorf("presence: originate on %s: %w", switchName, err)
	}
	return id, nil
}
