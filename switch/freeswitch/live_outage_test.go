package freeswitch

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// liveOutage is how long TestLiveDirectoryCacheOutage keeps Switchboard's
// endpoints down.
const liveOutage = 10 * time.Second

// TestLiveDirectoryCacheOutage (issue 12 item 13): a phone that
// registered once keeps registering while Switchboard's xml-curl endpoint
// is down, because its sip_auth answer was cacheable; an account never
// looked up cannot; and once Switchboard is back a changed secret takes
// effect at once (the Reloader's xml_flush_cache), although the node had
// the old credential cached for 30 minutes.
func TestLiveDirectoryCacheOutage(t *testing.T) {
	r := startLive(t)
	node := r.node
	user, cold := liveUser(t, 1), liveUser(t, 2)
	acct, secret := r.account(t, user)
	_, coldSecret := r.account(t, cold)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	register := func(name, user, secret string, hold time.Duration) error {
		t.Helper()
		port := freeUDPPort(t)
		p := startPhoneOn(t, name, port, "phone_register.xml", node.SIP, "-s", user, "-au", user, "-ap", secret,
			"-key", "contact_port", strconv.Itoa(port), "-d", strconv.Itoa(int(hold.Milliseconds())), "-recv_timeout", "3000")
		return p.result(ctx)
	}
	sipAuths := func(user string) int {
		return len(r.xml.find(func(p loggedPost) bool {
			return p.form.Get("action") == "sip_auth" && p.form.Get("user") == user && p.status == http.StatusOK
		}))
	}

	if err := register("before the outage", user, secret, 200*time.Millisecond); err != nil {
		t.Fatalf("registering with Switchboard up: %v", err)
	}
	if n := sipAuths(user); n != 1 {
		t.Fatalf("%d sip_auth lookups for the REGISTER and un-REGISTER, want 1 (the second from the cache)", n)
	}

	r.stopHTTP()
	down := time.Now()
	if err := register("during the outage", user, secret, 500*time.Millisecond); err != nil {
		t.Errorf("a phone whose lookup is cached could not register while Switchboard was down: %v", err)
	}
	if err := register("cold, during the outage", cold, coldSecret, 0); err == nil {
		t.Error("an account never looked up registered while Switchboard was down: the test proves nothing")
	}
	if n := sipAuths(user); n != 1 {
		t.Errorf("%d sip_auth lookups, want still 1", n)
	}
	time.Sleep(time.Until(down.Add(liveOutage)))
	if err := register("at the end of the outage", user, secret, 0); err != nil {
		t.Errorf("registering %v into the outage: %v", time.Since(down).Round(time.Millisecond), err)
	}
	r.startHTTP(t)
	t.Logf("Switchboard down %v: the cached phone registered throughout, the uncached one was refused", time.Since(down).Round(time.Millisecond))

	if _, err := r.svc.UpdateAccount(ctx, provisioning.AdminScope(), acct.ID, func(a *provisioning.Account) error {
		a.Secret = secret + "-rotated"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The Reloader debounces 200 ms, then sends xml_flush_cache and logs
	// the answer it accepted.
	flushed := `msg="freeswitch: reload command done" cmd="xml_flush_cache id ` + user + " " + node.Domain + `"`
	took := waitFor(t, 10*time.Second, "the flush of the cached user", func() bool {
		b, _ := os.ReadFile(r.logs)
		return strings.Contains(string(b), flushed)
	})
	t.Logf("cached user flushed %v after the secret changed", took)
	if err := register("old secret after the change", user, secret, 0); err == nil {
		t.Errorf("the old secret still registered %v after the change: the cached user was not flushed", took)
	}
	if err := register("new secret after the change", user, secret+"-rotated", 0); err != nil {
		t.Errorf("the new secret did not register: %v", err)
	}
	if n := sipAuths(user); n < 2 {
		t.Errorf("%d sip_auth lookups, want a new one after the flush", n)
	}
}
