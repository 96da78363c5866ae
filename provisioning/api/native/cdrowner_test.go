package native

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// Issue 11, item 1: tenant B has domain d with CDRs and deletes it;
// tenant A creates d. A must see none of B's calls however it asks (list,
// export, live stream), B still sees them (it owned them), and a CDR of a
// domain nobody provisioned stays the admin's even once A creates it.
func TestCDRDomainChangesHands(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.tree()
		dB := ce.create("domains", ce.admin, fmt.Sprintf(`{"tenant_id":%d,"name":"d.example"}`, tr.b.tenant))
		ce.insert(
			leg("b-old-1", "d.example", 1, func(r *cdr.Record) { r.CallerNumber = "+15557770001" }),
			leg("b-old-2", "D.Example", 2),
			leg("never-1", "never.example", 3),
		)
		ce.do("DELETE", fmt.Sprintf("/api/v1/domains/%d", dB), tr.tokB, "").must(t, http.StatusNoContent)
		ce.create("domains", tr.tokA, fmt.Sprintf(`{"tenant_id":%d,"name":"d.example"}`, tr.a.tenant))
		ce.create("domains", tr.tokA, fmt.Sprintf(`{"tenant_id":%d,"name":"never.example"}`, tr.a.tenant))
		ce.insert(leg("a-new-1", "d.example", 4))

		for _, tc := range []struct{ who, tok, query, want string }{
			{"A, the domain", tr.tokA, "?domain=d.example", "a-new-1"},
			{"A, everything", tr.tokA, "", "a-new-1"},
			{"A, the never-provisioned domain", tr.tokA, "?domain=never.example", ""},
			{"A, by B's caller", tr.tokA, "?caller=%2B15557770001", ""},
			// The domain filter compares the stored name exactly (lower
			// case); the owner was found whatever the case.
			{"B, the domain it deleted", tr.tokB, "?domain=d.example", "b-old-1"},
			{"B, everything", tr.tokB, "", "b-old-2 b-old-1"},
			{"admin", ce.admin, "", "a-new-1 never-1 b-old-2 b-old-1"},
			{"admin, the never-provisioned domain", ce.admin, "?domain=never.example", "never-1"},
		} {
			if got := strings.Join(ce.listIDs(t, tc.tok, tc.query), " "); got != tc.want {
				t.Errorf("%s %s: %q, want %q", tc.who, tc.query, got, tc.want)
			}
			r := ce.do("GET", "/api/v1/cdrs/export"+tc.query, tc.tok, "").must(t, http.StatusOK)
			if got := strings.Join(csvCallIDs(t, r.body), " "); got != tc.want {
				t.Errorf("export %s %s: %q, want %q", tc.who, tc.query, got, tc.want)
			}
		}

		// The live stream: A follows d.example; B's late leg of d (stamped
		// B when it was ingested, before the hand-over) must not reach it,
		// A's own does.
		srv := httptest.NewServer(api.Instrument(ce.srv.log, ce.h))
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_, a := openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream?domain=d.example", tr.tokA)
		_, b := openStream(t, ctx, srv.URL+"/api/v1/cdrs/stream", tr.tokB)
		waitSubscribers(t, ce.feed, 2)
		bLate := published(10, leg("b-old-3", "d.example", 5))
		bLate.TenantID = &tr.b.tenant
		never := published(11, leg("never-2", "never.example", 6)) // ingested before A created it: no owner
		ce.feed.Publish([]cdr.Record{bLate, never})
		ce.feed.Publish(ce.owned(published(12, leg("a-new-2", "d.example", 7))))
		if ev := a.next(t); !strings.Contains(ev.data, `"call_id":"a-new-2"`) {
			t.Errorf("A's stream got %+v, want only a-new-2", ev)
		}
		if ev := b.next(t); !strings.Contains(ev.data, `"call_id":"b-old-3"`) {
			t.Errorf("B's stream got %+v, want b-old-3", ev)
		}
	})
}

// Only an admin may submit CDRs, so the owner a submission carries is
// trusted and kept (a CDR read from the API sent back keeps its owner);
// without one, the domain's owner now is stamped by the ingest path. A
// tenant's token cannot submit at all, so it cannot forge an owner.
func TestCDRSubmitOwner(t *testing.T) {
	eachCDR(t, func(t *testing.T, ce *cdrEnv) {
		tr := ce.tree()
		body := fmt.Sprintf(`{"switch":"s1","call_id":"forged","domain":"a.example.com","tenant_id":%d,"end":%q,"disposition":"ANSWERED"}`,
			tr.b.tenant, t0.Format("2006-01-02T15:04:05Z"))
		checkError(t, ce.do("POST", "/api/v1/cdrs", tr.tokA, body), http.StatusForbidden, codeForbidden, "")
		ce.do("POST", "/api/v1/cdrs", ce.admin, body).must(t, http.StatusOK)
		if got := ce.listIDs(t, tr.tokB, ""); strings.Join(got, " ") != "forged" {
			t.Errorf("B sees %v, want the CDR the admin gave it", got)
		}
		if got := ce.listIDs(t, tr.tokA, ""); len(got) != 0 {
			t.Errorf("A sees %v", got)
		}
		bad := strings.Replace(body, fmt.Sprintf(`"tenant_id":%d`, tr.b.tenant), `"tenant_id":0`, 1)
		checkError(t, ce.do("POST", "/api/v1/cdrs", ce.admin, bad), http.StatusBadRequest, codeInvalid, "tenant_id")
	})
}
