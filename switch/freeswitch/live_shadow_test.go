package freeswitch

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// TestLiveStaticUserShadow is issue 12 item 17 on a real node that still
// has a static directory user with a password in Switchboard's domain
// (the vanilla directory/default/1000.xml, password 1234): skipped when
// the node has none. An account of that name in Switchboard registers
// with its own secret, not with the file's password; once deleted in
// Switchboard the file's password is refused too (it was accepted before
// the fix); with Switchboard down the file answers again, the limit the
// README tells operators to close by deleting the files.
func TestLiveStaticUserShadow(t *testing.T) {
	r := startLive(t)
	node := r.node
	answer := eslCommand(t, node, "api xml_locate directory")
	users, err := parseStaticDirectory([]byte(answer[max(0, strings.Index(answer, "<section")):]))
	if err != nil {
		t.Fatalf("xml_locate directory: %v", err)
	}
	var static staticUser
	for _, u := range users {
		if u.Domain == node.Domain && u.Password != "" {
			static = u
			break
		}
	}
	if static.ID == "" {
		t.Skipf("the node has no static user with a password in domain %s: put back the vanilla directory/default/1000.xml to run this test", node.Domain)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	register := func(name, password string) error {
		p := startPhone(t, name, "phone_register.xml", node.SIP, "-s", static.ID, "-au", static.ID, "-ap", password,
			"-key", "contact_port", "0", "-d", "200", "-recv_timeout", "3000")
		return p.result(ctx)
	}
	a, secret := r.account(t, static.ID)
	if err := register("store secret", secret); err != nil {
		t.Fatalf("account %s with Switchboard's secret: %v", static.ID, err)
	}
	if err := register("file password, account in the store", static.Password); err == nil {
		t.Fatalf("static user %s registered with the file's password while Switchboard has the account", static.ID)
	}
	if err := r.svc.DeleteAccount(ctx, provisioning.AdminScope(), a.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the Reloader's xml_flush_cache
	if err := register("file password, account deleted", static.Password); err == nil {
		t.Fatalf("the deleted account %s registered with the file's password (item 17)", static.ID)
	}
	answered := r.xml.find(func(p loggedPost) bool {
		return p.form.Get("action") == "sip_auth" && p.form.Get("user") == static.ID && p.status == http.StatusOK
	})
	if len(answered) == 0 {
		t.Error("FreeSWITCH never asked Switchboard for the static user")
	}
	r.stopHTTP()
	defer r.startHTTP(t)
	err = register("file password, Switchboard down", static.Password)
	t.Logf("static user %s@%s with the file's password while Switchboard is down: err=%v (nil: the files answer again, as the README says)", static.ID, node.Domain, err)
}
