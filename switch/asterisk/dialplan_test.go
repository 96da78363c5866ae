package asterisk

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

func didRoute(number, user, domain string) provisioning.DIDRoute {
	return provisioning.DIDRoute{Number: number, Account: provisioning.Account{Username: user, Domain: domain, Secret: "s"}}
}

// TestDialplanGolden compares the generated file with
// testdata/dialplan/*.conf; go test -update rewrites them.
func TestDialplanGolden(t *testing.T) {
	routes := []provisioning.DIDRoute{
		didRoute("+4930100001", "2001", "pbx.example.com"),
		didRoute("+4930100002", "2002", "pbx.example.com"),
		didRoute("+4930100003", "bad,user", "pbx.example.com"), // cannot be dialled
		didRoute("4930100004", "2004", "pbx.example.com"),      // stored without + (not by provisioning, but safe)
	}
	withDomain := DefaultPushOptions()
	withDomain.IDWithDomain = true
	for _, tc := range []struct {
		name   string
		opts   PushOptions
		routes []provisioning.DIDRoute
	}{
		{"dids", DefaultPushOptions(), routes},
		{"dids-multidomain", withDomain, routes[:2]},
		{"empty", DefaultPushOptions(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderDialplan("ast1", "extensions_switchboard.conf", didContext(tc.opts, tc.routes))
			golden := filepath.Join("testdata", "dialplan", tc.name+".conf")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("dialplan differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
			if strings.Contains(string(got), "bad,user") {
				t.Error("an endpoint id with a comma was written into a Dial")
			}
		})
	}
}

// TestDialplanFileReloads: the file follows DID changes and changes to
// routed accounts (others are not even read), is written only when its
// content changes, and every write is followed by a pbx_config reload over
// ARI (PUT /asterisk/modules/pbx_config, with the ARI user); a refused
// reload is tried again.
func TestDialplanFileReloads(t *testing.T) {
	var mu sync.Mutex
	var reloads []string
	refuse := 1
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if u, p, _ := r.BasicAuth(); u != "switchboard" || p != "pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if refuse > 0 {
			refuse--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		reloads = append(reloads, r.Method+" "+r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "extensions_switchboard.conf")
	routes := []provisioning.DIDRoute{didRoute("+4930100001", "2001", "pbx.example.com")}
	routes[0].Account.ID = 1
	var rmu sync.Mutex
	var reads int
	d := NewDialplan(DialplanConfig{
		Node: "ast1", Path: path, Options: DefaultPushOptions(),
		Routes: func(context.Context) ([]provisioning.DIDRoute, error) {
			rmu.Lock()
			defer rmu.Unlock()
			reads++
			return append([]provisioning.DIDRoute(nil), routes...), nil
		},
		Client: NewConfigClient(srv.URL+"/ari", "switchboard", "pw", nil),
		Keeper: genfile.Config{Debounce: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()
	wait := func(n int, contains string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			got := len(reloads)
			mu.Unlock()
			b, _ := os.ReadFile(path)
			if got >= n && strings.Contains(string(b), contains) {
				if got != n {
					t.Fatalf("%d reloads, want %d", got, n)
				}
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		b, _ := os.ReadFile(path)
		t.Fatalf("want %d reloads and %q in the file; have %v and:\n%s", n, contains, reloads, b)
	}
	wait(1, "exten => +4930100001,1,")

	// A new DID: written, reloaded.
	rmu.Lock()
	routes = append(routes, didRoute("+4930100002", "2002", "pbx.example.com"))
	rmu.Unlock()
	if err := d.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, DID: &provisioning.DID{Number: "+4930100002"}}); err != nil {
		t.Fatal(err)
	}
	wait(2, "Dial(PJSIP/2002,30)")

	// A change to an account no DID routes to (a bulk import, say): not
	// even a read of the routes.
	rmu.Lock()
	before := reads
	rmu.Unlock()
	if err := d.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &provisioning.Account{ID: 3, Username: "2003"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	wait(2, "Dial(PJSIP/2002,30)")
	rmu.Lock()
	if reads != before {
		t.Errorf("an account no DID routes to made %d reads of the routes", reads-before)
	}
	// The routed account renamed: rewritten and reloaded.
	routes[0].Account.Username = "2001b"
	rmu.Unlock()
	if err := d.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &routes[0].Account}); err != nil {
		t.Fatal(err)
	}
	wait(3, "Dial(PJSIP/2001b,30)")
	mu.Lock()
	defer mu.Unlock()
	if reloads[0] != "PUT /ari/asterisk/modules/pbx_config" {
		t.Errorf("reload request = %q", reloads[0])
	}
}

func TestReloadModuleNotLoaded(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Module not found in running modules"}`))
	}))
	defer srv.Close()
	err := NewConfigClient(srv.URL+"/ari", "u", "p", nil).ReloadModule(context.Background(), "pbx_config")
	if err == nil || !strings.Contains(err.Error(), "Module not found in running modules") {
		t.Errorf("err = %v, want Asterisk's message", err)
	}
}
