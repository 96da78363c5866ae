package freeswitch

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestReloaderObservedGateway: an observed gateway (the operator's own
// sofia gateway) costs the node no command when it is created, changed
// or deleted, and a managed one turned observed is handed over as it is:
// neither killed nor rescanned.
func TestReloaderObservedGateway(t *testing.T) {
	observed := func(op provisioning.Op, id int64, name string, updated time.Time) provisioning.Change {
		c := reloadGatewayChange(op, id, name, updated)
		c.Gateway.Username, c.Gateway.Secret, c.Gateway.Register, c.Gateway.Observed = "", "", false, true
		return c
	}
	fc := &reloadFakeCommander{}
	r, _ := newReloadTestReloader(fc)
	ctx := context.Background()
	for _, c := range []provisioning.Change{
		observed(provisioning.OpUpsert, 1, "pbx-trunk", reloadT0),
		observed(provisioning.OpUpsert, 1, "pbx-trunk", reloadT1),
		observed(provisioning.OpDelete, 1, "pbx-trunk", reloadT1),
	} {
		_ = r.Apply(ctx, c)
		r.round(ctx)
	}
	if got := fc.take(); len(got) != 0 {
		t.Errorf("commands for an observed gateway: %q", got)
	}
	_ = r.Apply(ctx, reloadGatewayChange(provisioning.OpUpsert, 2, "gw2", reloadT0))
	r.round(ctx)
	fc.take()
	_ = r.Apply(ctx, observed(provisioning.OpUpsert, 2, "gw2", reloadT1))
	r.round(ctx)
	if got := fc.take(); len(got) != 0 {
		t.Errorf("commands for a gateway turned observed: %q", got)
	}
	if _, ok := r.GatewayState(2); ok {
		t.Error("an observed gateway has a push state")
	}
}

// TestReloaderGatewayStates: with CheckGateways, a round's rescan is
// followed by `sofia xmlstatus gateway <name>` for each gateway it
// created or changed: found, the gateway is applied; "Invalid Gateway!"
// (twice: once more after a pause), failed naming the gateway; a failed
// rescan fails every gateway of the round with FreeSWITCH's answer. A
// gateway queued for the next round is pending; a deleted one has no
// state.
func TestReloaderGatewayStates(t *testing.T) {
	const found = `<?xml version="1.0" encoding="ISO-8859-1"?>
  <gateway>
    <name>gw1</name>
    <state>REGED</state>
  </gateway>
`
	tests := []struct {
		name      string
		answer    func(cmd string, n int) (string, error)
		want      GatewayPushStatus
		errSubstr string
		lookups   int
	}{
		{"found", func(cmd string, n int) (string, error) {
			if strings.HasPrefix(cmd, "sofia xmlstatus gateway ") {
				return found, nil
			}
			return reloadFakeAnswer(cmd), nil
		}, GatewayApplied, "", 1},
		{"found on the second look", func(cmd string, n int) (string, error) {
			if strings.HasPrefix(cmd, "sofia xmlstatus gateway ") && n > 0 {
				return found, nil
			}
			if strings.HasPrefix(cmd, "sofia xmlstatus gateway ") {
				return "Invalid Gateway!\n", nil
			}
			return reloadFakeAnswer(cmd), nil
		}, GatewayApplied, "", 2},
		{"not there after the rescan", func(cmd string, n int) (string, error) {
			if strings.HasPrefix(cmd, "sofia xmlstatus gateway ") {
				return "Invalid Gateway!\n", nil
			}
			return reloadFakeAnswer(cmd), nil
		}, GatewayFailed, "sofia has no gateway gw1 after the rescan of profile external", 2},
		{"rescan refused", func(cmd string, n int) (string, error) {
			if strings.HasSuffix(cmd, " rescan") {
				return reloadAnsRescanNoConfig, nil
			}
			return reloadFakeAnswer(cmd), nil
		}, GatewayFailed, "cannot find config for profile external", 0},
		{"ESL down", func(cmd string, n int) (string, error) {
			if strings.HasSuffix(cmd, " rescan") {
				return "", errors.New("freeswitch: not connected")
			}
			return reloadFakeAnswer(cmd), nil
		}, GatewayFailed, "not connected", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fc := &reloadFakeCommander{answer: tc.answer}
			r := NewReloader(fc, ReloaderConfig{RetryBackoff: time.Millisecond, KillSettle: time.Millisecond, Attempts: 2,
				CheckGateways: true, Logger: slog.New(slog.DiscardHandler)})
			ctx := context.Background()
			_ = r.Apply(ctx, reloadGatewayChange(provisioning.OpUpsert, 1, "gw1", reloadT0))
			if st, ok := r.GatewayState(1); !ok || st.Status != GatewayPending {
				t.Errorf("queued: %+v %v, want pending", st, ok)
			}
			r.round(ctx)
			st, ok := r.GatewayState(1)
			if !ok || st.Status != tc.want || !strings.Contains(st.Error, tc.errSubstr) || (tc.errSubstr == "") != (st.Error == "") {
				t.Errorf("state %+v %v, want %s with %q", st, ok, tc.want, tc.errSubstr)
			}
			n := 0
			for _, c := range fc.take() {
				if c == "sofia xmlstatus gateway gw1" {
					n++
				}
			}
			if n != tc.lookups {
				t.Errorf("%d lookups of gw1, want %d", n, tc.lookups)
			}
			_ = r.Apply(ctx, reloadGatewayChange(provisioning.OpDelete, 1, "gw1", reloadT1))
			if _, ok := r.GatewayState(1); ok {
				t.Error("a deleted gateway keeps a push state")
			}
		})
	}
}
