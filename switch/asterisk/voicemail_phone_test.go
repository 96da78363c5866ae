package asterisk

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// newIndexerFixture is a Service on SQLite with the routing plan
// fixture, a spool in a temporary directory, the directory of box 700
// in it, and an indexer of node ast1 on them (a sink of the Service).
func newIndexerFixture(t *testing.T) (*provisioning.Service, *routingFixture, string, *VoicemailIndexer) {
	t.Helper()
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	spool := t.TempDir()
	ix := NewVoicemailIndexer(VoicemailIndexerConfig{Node: "ast1", Spool: spool, Plans: func(ctx context.Context) ([]*provisioning.Plan, error) {
		p, err := svc.TenantPlan(ctx, f.tenant.ID)
		return []*provisioning.Plan{p}, err
	}, Service: svc})
	svc.AddSink(ix)
	return svc, f, filepath.Join(spool, VoicemailContext(f.tenant.ID), "700"), ix
}

// TestVoicemailIndexerHeardByPhone: what app_voicemail did when the
// owner listened by phone (seen live on 23.4.1: close_mailbox, at the
// hang-up, moved the heard INBOX/msg0000 to Old/msg0000 and the next
// INBOX message down to msg0000) is read in the Service at the next
// scan; the message not heard stays unread.
func TestVoicemailIndexerHeardByPhone(t *testing.T) {
	ctx := context.Background()
	svc, f, box, ix := newIndexerFixture(t)
	spoolMsg(t, box, "INBOX", 0, "1796608800-00000001", 5)
	spoolMsg(t, box, "INBOX", 1, "1796608801-00000002", 3)
	must(t, ix.Scan(ctx))

	must(t, os.MkdirAll(filepath.Join(box, "Old"), 0o770))
	for _, ext := range []string{"wav", "txt"} {
		must(t, os.Rename(msgBase(filepath.Join(box, "INBOX"), 0)+"."+ext, msgBase(filepath.Join(box, "Old"), 0)+"."+ext))
	}
	for _, ext := range []string{"wav", "txt"} {
		must(t, os.Rename(msgBase(filepath.Join(box, "INBOX"), 1)+"."+ext, msgBase(filepath.Join(box, "INBOX"), 0)+"."+ext))
	}
	must(t, ix.Scan(ctx))
	ms, err := svc.VoicemailMessages(ctx, provisioning.AdminScope(), provisioning.VoicemailFilter{BoxID: f.objects["700"].ID})
	must(t, err)
	read := map[string]bool{}
	for _, m := range ms {
		read[m.SwitchRef] = m.Read
	}
	if len(ms) != 2 || !read["1796608800-00000001"] || read["1796608801-00000002"] {
		t.Errorf("after listening by phone: %+v, want the heard one read, the other unread", ms)
	}
}
