package freeswitch

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// liveRecordEnv names a directory the live DID test writes the raw
// records of its legs into (ESL event as JSON, mod_json_cdr document):
// how the recordings in esltest/testdata were made.
const liveRecordEnv = "SWITCHBOARD_TEST_FREESWITCH_RECORD"

// profileAddress asks the node for a sofia profile's UDP SIP address
// (`sofia xmlstatus`: <data>sip:mod_sofia@127.0.0.1:5082</data>), so the
// test needs no setting of its own for the gateway profile.
func profileAddress(t *testing.T, node liveNode, profile string) string {
	t.Helper()
	reply := eslCommand(t, node, "api sofia xmlstatus")
	var doc struct {
		Profiles []struct {
			Name string `xml:"name"`
			Data string `xml:"data"`
		} `xml:"profile"`
	}
	dec := xmlDecoder([]byte(reply[max(0, strings.Index(reply, "<?xml")):]))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("sofia xmlstatus: %v: %s", err, reply)
	}
	for _, p := range doc.Profiles {
		if p.Name != profile || strings.Contains(p.Data, "transport=") {
			continue
		}
		if _, addr, ok := strings.Cut(p.Data, "@"); ok {
			return addr
		}
	}
	t.Fatalf("the node has no profile %q: %s", profile, reply)
	return ""
}

// TestLiveCarrierDID: a carrier that is no provisioned gateway calls a DID
// on the gateway profile (external, unauthenticated INVITE from a
// loopback address): the DID routes to a registered phone, and both legs
// are inbound with no gateway, live and in their CDRs from both sources
// (issue 12 item 11: they were internal).
func TestLiveCarrierDID(t *testing.T) {
	r := startLive(t)
	node := r.node
	external := profileAddress(t, node, "external")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	callee := liveUser(t, 3)
	acct, secret := r.account(t, callee)
	did := "+1555" + callee[1:]
	if err := r.svc.CreateDID(ctx, provisioning.AdminScope(), &provisioning.DID{
		TenantID: acct.TenantID, Number: did, AccountID: &acct.ID,
	}); err != nil {
		t.Fatal(err)
	}
	uas := startPhone(t, "callee UAS", "phone_answer.xml", "", "-s", callee)
	startPhone(t, "callee", "phone_register.xml", node.SIP, "-s", callee, "-au", callee, "-ap", secret,
		"-key", "contact_port", strconv.Itoa(uas.port), "-d", "20000")
	waitFor(t, 10*time.Second, "the callee registered", func() bool { return len(r.registered(callee)) == 1 })

	call := startPhone(t, "carrier", "carrier_call.xml", external, "-s", "carrier", "-key", "dest", did, "-d", "2000")
	var live []presence.Call
	waitFor(t, 15*time.Second, "both legs up in the view", func() bool {
		live = nil
		for _, c := range r.view.Calls(presence.CallQuery{Switch: node.Name}) {
			if c.Answer != nil && (c.Account == callee || c.LinkedID != "" && c.Callee == did) {
				live = append(live, c)
			}
		}
		return len(live) == 2
	})
	var legs []string
	for _, c := range live {
		if c.Direction != string(cdr.DirectionInbound) || c.Gateway != "" {
			t.Errorf("live leg %+v: direction %q gateway %q, want inbound with no gateway", c, c.Direction, c.Gateway)
		}
		legs = append(legs, c.ID)
	}
	call.wait(ctx)
	uas.wait(ctx)
	waitFor(t, 15*time.Second, "both CDRs of both legs", func() bool {
		for _, id := range legs {
			if len(r.sink.of(id, "esl")) == 0 || len(r.sink.of(id, "json_cdr")) == 0 {
				return false
			}
		}
		return true
	})
	dir := os.Getenv(liveRecordEnv)
	for _, id := range legs {
		esl, js, ok := r.legRecords(t, id)
		if !ok {
			continue
		}
		rec := js.rec
		if rec.Direction != cdr.DirectionInbound || rec.Gateway != "" || rec.Disposition != cdr.Answered {
			t.Errorf("leg %s: %s, want inbound, no gateway, answered", id, formatRecord(rec))
		}
		t.Logf("leg %s: direction %s, gateway %q, account %q, caller %s, dialled %s, destination %s",
			id, rec.Direction, rec.Gateway, rec.Account, rec.CallerNumber, rec.Dialed, rec.Destination)
		if dir != "" {
			for _, x := range []liveRecord{esl, js} {
				name := filepath.Join(dir, "carrier-did-"+x.source+"-"+id+".json")
				if err := os.WriteFile(name, x.rec.Raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}
