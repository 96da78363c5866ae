package freeswitch

import (
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/genfile"
	"github.com/switchboard-voip/switchboard/provisioning"
)

func fallbackRoute(number, user, domain string) provisioning.DIDRoute {
	return provisioning.DIDRoute{Number: number, Account: provisioning.Account{Username: user, Domain: domain}}
}

// TestDIDFallbackGolden compares the fallback file with
// testdata/didfallback/*.xml (go test -update rewrites them), checks that
// it is well-formed XML with one extension per routable DID, and that
// the extension matches the number with and without its + as the
// xml_curl answer's does.
func TestDIDFallbackGolden(t *testing.T) {
	for _, tc := range []struct {
		name   string
		routes []provisioning.DIDRoute
		exts   int
	}{
		{"dids", []provisioning.DIDRoute{
			fallbackRoute("+4930100001", "2001", "pbx.example.com"),
			fallbackRoute("+4930100002", "alice.b", "pbx.example.com"),
			fallbackRoute("+4930100003", "x\"/><action application=\"system", "pbx.example.com"), // never passes provisioning; left out
		}, 2},
		{"empty", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := renderDIDFallback("fs1", tc.routes, nil, "")
			golden := filepath.Join("testdata", "didfallback", tc.name+".xml")
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
				t.Errorf("fallback differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
			var doc struct {
				Exts []struct {
					Name string `xml:"name,attr"`
					Cond struct {
						Field string `xml:"field,attr"`
						Expr  string `xml:"expression,attr"`
						Acts  []struct {
							App  string `xml:"application,attr"`
							Data string `xml:"data,attr"`
						} `xml:"action"`
					} `xml:"condition"`
				} `xml:"extension"`
			}
			if err := xml.Unmarshal(got, &doc); err != nil {
				t.Fatalf("not XML: %v", err)
			}
			if len(doc.Exts) != tc.exts {
				t.Fatalf("%d extensions, want %d", len(doc.Exts), tc.exts)
			}
			for _, e := range doc.Exts {
				if len(e.Cond.Acts) != 1 || e.Cond.Acts[0].App != "bridge" || !strings.HasPrefix(e.Cond.Acts[0].Data, "user/") {
					t.Errorf("%s: actions %+v, want one bridge to user/", e.Name, e.Cond.Acts)
				}
			}
			if tc.exts > 0 && doc.Exts[0].Cond.Expr != `^\+?4930100001$` {
				t.Errorf("expression = %q", doc.Exts[0].Cond.Expr)
			}
		})
	}
}

// TestDIDFallbackReloads: the file follows DID changes, is written only
// when its content changes, and each write is followed by reloadxml; an
// -ERR answer is retried; an account change that moves no DID sends
// nothing.
func TestDIDFallbackReloads(t *testing.T) {
	dir := t.TempDir()
	var rmu sync.Mutex
	routes := []provisioning.DIDRoute{fallbackRoute("+4930100001", "2001", "pbx.example.com")}
	fc := &reloadFakeCommander{answer: func(cmd string, n int) (string, error) {
		if n == 1 { // the second reloadxml fails once
			return "-ERR reloadxml failed\n", nil
		}
		return reloadFakeAnswer(cmd), nil
	}}
	f := NewDIDFallback(DIDFallbackConfig{
		Node: "fs1", Dir: dir, Commander: fc,
		Routes: func(context.Context) ([]provisioning.DIDRoute, error) {
			rmu.Lock()
			defer rmu.Unlock()
			return append([]provisioning.DIDRoute(nil), routes...), nil
		},
		Keeper: genfile.Config{Debounce: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)},
	})
	if f.Path() != filepath.Join(dir, DIDFallbackFile) {
		t.Errorf("Path = %s", f.Path())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	}()
	wait := func(cmds int, contains string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			fc.mu.Lock()
			n := len(fc.cmds)
			fc.mu.Unlock()
			b, _ := os.ReadFile(f.Path())
			if n >= cmds && strings.Contains(string(b), contains) {
				if n != cmds {
					t.Fatalf("%d commands, want %d: %q", n, cmds, fc.take())
				}
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("want %d commands and %q in the file; have %q", cmds, contains, fc.take())
	}
	wait(1, "user/2001@pbx.example.com")

	rmu.Lock()
	routes = append(routes, fallbackRoute("+4930100002", "2002", "pbx.example.com"))
	rmu.Unlock()
	_ = f.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, DID: &provisioning.DID{Number: "+4930100002"}})
	wait(3, "user/2002@pbx.example.com") // one refused, one accepted

	_ = f.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Account: &provisioning.Account{Username: "2003"}})
	_ = f.Apply(ctx, provisioning.Change{Op: provisioning.OpUpsert, Gateway: &provisioning.Gateway{Name: "gw"}})
	time.Sleep(100 * time.Millisecond)
	for _, c := range fc.take() {
		if c != "reloadxml" {
			t.Errorf("sent %q", c)
		}
	}
	wait(0, "user/2002@pbx.example.com")
}
