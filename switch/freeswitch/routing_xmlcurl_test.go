package freeswitch

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
)

// routingHandler is the xml_curl handler with routing over f's store.
func routingHandler(f *routingFixture) http.Handler {
	return NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func askXMLCurl(h http.Handler, form url.Values) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// extNames lists the extension names of a dialplan answer.
func extNames(t *testing.T, body string) []string {
	t.Helper()
	dp, err := parseDialplan([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, exts := range dp.contexts {
		for _, e := range exts {
			out = append(out, e.Name)
		}
	}
	return out
}

// TestXMLCurlRouting asks the handler what FreeSWITCH asks during calls:
// a number of a tenant's plan, a label run by execute_extension, a number
// no object has (the outbound routes), another tenant's context, a DID
// with a destination, and a phone's directory entry (its user_context).
func TestXMLCurlRouting(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		h := routingHandler(f)
		tctx := RoutingContext(f.tenant.ID)
		dialplan := func(ctx, dest string) *httptest.ResponseRecorder {
			return askXMLCurl(h, url.Values{"section": {"dialplan"}, "Hunt-Context": {ctx}, "Hunt-Destination-Number": {dest}, "Caller-Destination-Number": {dest}})
		}
		for _, tc := range []struct {
			name, ctx, dest string
			want            []string // extension names, in order
		}{
			{"plan number", tctx, "500", []string{"sb-n500"}},
			{"hunt group label", tctx, "sb-h" + strconv.FormatInt(f.ringAll.ID, 10), []string{"sb-h" + strconv.FormatInt(f.ringAll.ID, 10)}},
			{"round-robin rotations", tctx, "sb-h" + strconv.FormatInt(f.rr.ID, 10), []string{
				"sb-h" + strconv.FormatInt(f.rr.ID, 10) + "-from1", "sb-h" + strconv.FormatInt(f.rr.ID, 10) + "-from2", "sb-h" + strconv.FormatInt(f.rr.ID, 10) + "-from0"}},
			{"external number", tctx, "15145550123", nil}, // checked below: the routes
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := dialplan(tc.ctx, tc.dest)
				if w.Code != http.StatusOK {
					t.Fatalf("status %d: %s", w.Code, w.Body)
				}
				got := extNames(t, w.Body.String())
				if tc.want == nil {
					if !strings.Contains(strings.Join(got, " "), "sb-dial-") || got[len(got)-1] != "sb-else" {
						t.Errorf("a number of no object got %v, want the outbound routes then sb-else", got)
					}
					return
				}
				if strings.Join(got, " ") != strings.Join(tc.want, " ") {
					t.Errorf("extensions %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("unknown tenant", func(t *testing.T) {
			if w := dialplan(RoutingContext(f.tenant.ID+1000), "100"); w.Body.String() != xmlNotFound {
				t.Errorf("a tenant that does not exist: %d %s, want not found", w.Code, w.Body)
			}
		})
		t.Run("DID with a destination", func(t *testing.T) {
			w := dialplan("public", f.dids[0])
			body := w.Body.String()
			want := "execute_extension\" data=\"sb-c" + strconv.FormatInt(f.vip.ID, 10) + " XML " + tctx + "\""
			if w.Code != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("DID %s: %d\n%s\nwant an action %s", f.dids[0], w.Code, body, want)
			}
			// the number as the carrier sent it, without its +
			w = dialplan("public", strings.TrimPrefix(f.dids[0], "+"))
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("DID without its +: %s", w.Body)
			}
			// the DID records: not without a recordings_dir; with one,
			// record_session into it before the destination
			if strings.Contains(body, "record_session") {
				t.Errorf("a node without recordings_dir records:\n%s", body)
			}
			rec := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Router: ServiceRouter(f.svc), RecordingsDir: "/rec",
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			body = askXMLCurl(rec, url.Values{"section": {"dialplan"}, "Hunt-Context": {"public"}, "Hunt-Destination-Number": {f.dids[0]}}).Body.String()
			r, e := strings.Index(body, `"record_session" data="/rec/`+recordingFileName(f.tenant.ID, "${uuid}")+" "), strings.Index(body, want)
			if r < 0 || e < r {
				t.Errorf("a DID that records, with recordings_dir:\n%s", body)
			}
			body = askXMLCurl(rec, url.Values{"section": {"dialplan"}, "Hunt-Context": {"public"}, "Hunt-Destination-Number": {f.dids[1]}}).Body.String()
			if strings.Contains(body, "record_session") {
				t.Errorf("a DID that does not record:\n%s", body)
			}
		})
		t.Run("user_context", func(t *testing.T) {
			a := f.accounts[0]
			w := askXMLCurl(h, url.Values{"section": {"directory"}, "action": {"sip_auth"}, "user": {a.Username}, "domain": {a.Domain}, "sip_auth_realm": {a.Domain}})
			if !strings.Contains(w.Body.String(), `name="user_context" value="`+tctx+`"`) {
				t.Errorf("a phone of a tenant with routing:\n%s\nwant user_context %s", w.Body, tctx)
			}
			// a tenant without a numbering plan: its context all the same
			// (the directory cache would keep a context that changed with
			// the first extension), sending every number on
			ctx := context.Background()
			other := &provisioning.Tenant{Name: "no-plan"}
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(f.svc.CreateTenant(ctx, provisioning.AdminScope(), other))
			must(f.svc.CreateDomain(ctx, provisioning.AdminScope(), &provisioning.Domain{TenantID: other.ID, Name: "other.example"}))
			o := &provisioning.Account{Domain: "other.example", Username: "300", Secret: "secret-secret"}
			must(f.svc.CreateAccount(ctx, provisioning.AdminScope(), o))
			w = askXMLCurl(h, url.Values{"section": {"directory"}, "action": {"sip_auth"}, "user": {"300"}, "domain": {"other.example"}})
			if !strings.Contains(w.Body.String(), `name="user_context" value="`+RoutingContext(other.ID)+`"`) {
				t.Errorf("a phone of a tenant without a plan:\n%s", w.Body)
			}
			if got := extNames(t, dialplan(RoutingContext(other.ID), "1000").Body.String()); strings.Join(got, " ") != "sb-noroute sb-else" {
				t.Errorf("a number in a tenant without a plan: %v, want sb-noroute sb-else", got)
			}
			plain := NewXMLCurlHandler(XMLCurlConfig{Directory: ServiceDirectory(f.svc), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			w = askXMLCurl(plain, url.Values{"section": {"directory"}, "action": {"sip_auth"}, "user": {a.Username}, "domain": {a.Domain}})
			if !strings.Contains(w.Body.String(), `name="user_context" value="default"`) {
				t.Errorf("without a Router the context stays the configured one:\n%s", w.Body)
			}
		})
		t.Run("a change is answered at once", func(t *testing.T) {
			ctx := context.Background()
			if err := f.svc.DeleteHuntGroup(ctx, provisioning.AdminScope(), f.busyGroup.ID); err != nil {
				t.Fatal(err)
			}
			got := extNames(t, dialplan(tctx, "504").Body.String())
			if strings.Contains(strings.Join(got, " "), "sb-n504") {
				t.Errorf("a deleted hunt group's number still answered: %v", got)
			}
		})
	})
}

// FuzzRoutingContext: any context name either is a tenant's (and names
// it back exactly) or is not.
func FuzzRoutingContext(f *testing.F) {
	for _, s := range []string{"sb-t1", "sb-t0", "sb-t01", "sb-t-1", "sb-t9223372036854775807", "sb-t9223372036854775808", "public", "sb-t", "sb-t1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := routingContextTenant(s)
		if ok != (id > 0) {
			t.Fatalf("%q: id %d, ok %v", s, id, ok)
		}
		if ok && RoutingContext(id) != s {
			t.Fatalf("%q read as tenant %d, which is %q", s, id, RoutingContext(id))
		}
	})
}

// FuzzXMLCurlRoutingDialplan sends dialplan requests with any context and
// destination: every answer is a 200 with a well-formed document whose
// extensions parse
// (what FreeSWITCH hunts with is the expressions; the destination is
// only looked up).
func FuzzXMLCurlRoutingDialplan(f *testing.F) {
	f.Add("sb-t1", "500")
	f.Add("sb-t1", "sb-h3")
	f.Add("public", "+15145550100")
	f.Add("sb-t1", "\"/><action application=\"system\" data=\"x")
	f.Add("sb-t2", "${system(rm)}")
	db, err := sqldb.Open(context.Background(), "sqlite:"+f.TempDir()+"/fuzz.db")
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	fx := newRoutingFixture(f, db)
	h := routingHandler(fx)
	f.Fuzz(func(t *testing.T, ctx, dest string) {
		w := askXMLCurl(h, url.Values{"section": {"dialplan"}, "Hunt-Context": {ctx}, "Hunt-Destination-Number": {dest}})
		if w.Code != http.StatusOK {
			t.Fatalf("%q/%q: status %d %s", ctx, dest, w.Code, w.Body)
		}
		if w.Body.String() == xmlNotFound {
			return
		}
		if _, err := parseDialplan(w.Body.Bytes()); err != nil {
			t.Fatalf("%q/%q: %v\n%s", ctx, dest, err, w.Body)
		}
	})
}
