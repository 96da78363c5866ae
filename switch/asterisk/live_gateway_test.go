package asterisk

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// testLiveGatewayRegistration: a registering gateway pushed through the
// ConfigPusher is accepted whole by Asterisk 23 (its registration carries
// line=yes, without which Asterisk refuses it with 400), registers with
// a sipp registrar on loopback, and is removed whole on delete.
func testLiveGatewayRegistration(t *testing.T, n *liveNode) {
	port := freeUDPPort(t)
	gw := provisioning.Gateway{ID: 1, Name: "sblive-gw-" + strconv.Itoa(liveUserBase), Host: "127.0.0.1", Port: port,
		Username: "gw" + strconv.Itoa(liveUserBase), Secret: "gw-secret", Register: true}
	reg := startSipp(t, "registrar_uas.xml", []string{"GW_USER", gw.Username, "GW_SECRET", gw.Secret}, "-p", strconv.Itoa(port))
	waitUDPBound(t, reg, port)

	owned := &MemoryOwnership{}
	client := NewConfigClient(n.url, n.user, n.password, nil)
	p := newConfigPusher(client, PusherConfig{Ownership: owned, Options: DefaultPushOptions()})
	t.Cleanup(func() {
		// Whatever a failed test left: delete the gateway's objects.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		objs, _ := GatewayObjects(DefaultPushOptions(), &gw)
		for i := len(objs) - 1; i >= 0; i-- {
			_ = client.Delete(ctx, objs[i].Ref)
		}
	})
	start := time.Now()
	if err := p.Reconcile(t.Context(), nil, []provisioning.Gateway{gw}); err != nil {
		t.Fatalf("pushing gateway %s: %v", gw.Name, err)
	}
	t.Logf("gateway %s pushed in %v", gw.Name, time.Since(start).Round(time.Millisecond))
	fs, err := client.Get(t.Context(), ObjectRef{PJSIPRegistration, gw.Name})
	if err != nil {
		t.Fatalf("GET res_pjsip/registration/%s: %v", gw.Name, err)
	}
	if v := fieldValue(fs, "line"); v != "true" {
		t.Errorf("registration %s: line = %q, want true", gw.Name, v)
	}
	if v := fieldValue(fs, "endpoint"); v != gw.Name {
		t.Errorf("registration %s: endpoint = %q, want %s", gw.Name, v, gw.Name)
	}

	if n.cli != nil {
		// Asterisk waits up to max_random_initial_delay (10 s) before the
		// first REGISTER.
		status := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(gw.Name) + `/\S+\s+\S+\s+(\S+)`)
		var last string
		took := waitFor(t, 25*time.Second, "pjsip show registrations to list the gateway Registered", func() bool {
			out, err := n.runCLI(t.Context(), "pjsip show registrations")
			if err != nil {
				t.Fatal(err)
			}
			if m := status.FindStringSubmatch(out); m != nil {
				last = m[1]
			}
			return last == "Registered"
		})
		t.Logf("registered with the sipp registrar %v after the push (REGISTERs received: %d)", took.Round(time.Millisecond), reg.received("REGISTER"))
	} else if got := reg.received("REGISTER"); got == 0 {
		waitFor(t, 25*time.Second, "a REGISTER at the sipp registrar", func() bool { return reg.received("REGISTER") >= 2 })
	}

	// Deleted whole.
	if err := p.Reconcile(t.Context(), nil, nil); err != nil {
		t.Fatalf("deleting gateway %s: %v", gw.Name, err)
	}
	objs, _ := GatewayObjects(DefaultPushOptions(), &gw)
	for _, o := range objs {
		if _, err := client.Get(t.Context(), o.Ref); err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("res_pjsip/%s after the delete: %v, want a 404", o.Ref, err)
		}
	}
}
