package freeswitch

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestNewGuardRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  GuardConfig
		open bool // the error is ErrGuardOpen
	}{
		{"nothing", GuardConfig{}, true},
		{"empty allow list", GuardConfig{Allow: []netip.Prefix{}}, true},
		{"user without password", GuardConfig{User: "fs"}, false},
		{"password without user", GuardConfig{Password: "pw"}, false},
		{"colon in user", GuardConfig{User: "fs:1", Password: "pw"}, false},
		{"invalid prefix", GuardConfig{Allow: []netip.Prefix{{}}}, false},
	}
	for _, tc := range tests {
		g, err := NewGuard(tc.cfg)
		if err == nil || g != nil {
			t.Errorf("%s: NewGuard = %v, %v; want an error", tc.name, g, err)
			continue
		}
		if errors.Is(err, ErrGuardOpen) != tc.open {
			t.Errorf("%s: %v; ErrGuardOpen = %v, want %v", tc.name, err, errors.Is(err, ErrGuardOpen), tc.open)
		}
	}
}

func TestGuard(t *testing.T) {
	lan := []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("10.1.2.3/8")}
	type req struct {
		remote         string
		user, password string // basic credentials; none when user is ""
	}
	tests := []struct {
		name string
		cfg  GuardConfig
		req  req
		want int
	}{
		{"credentials right", GuardConfig{User: "freeswitch", Password: "s3cret"}, req{"203.0.113.9:4000", "freeswitch", "s3cret"}, 200},
		{"credentials missing", GuardConfig{User: "freeswitch", Password: "s3cret"}, req{"203.0.113.9:4000", "", ""}, 401},
		{"wrong password", GuardConfig{User: "freeswitch", Password: "s3cret"}, req{"203.0.113.9:4000", "freeswitch", "s3cre"}, 401},
		{"wrong user", GuardConfig{User: "freeswitch", Password: "s3cret"}, req{"203.0.113.9:4000", "freeswitcH", "s3cret"}, 401},
		{"password as prefix", GuardConfig{User: "freeswitch", Password: "s3cret"}, req{"203.0.113.9:4000", "freeswitch", "s3cret-and-more"}, 401},
		{"network allowed", GuardConfig{Allow: lan}, req{"192.0.2.77:5000", "", ""}, 200},
		{"network not allowed", GuardConfig{Allow: lan}, req{"198.51.100.1:5000", "", ""}, 403},
		{"IPv6 allowed", GuardConfig{Allow: lan}, req{"[2001:db8::5]:5000", "", ""}, 200},
		{"IPv6 zone ignored", GuardConfig{Allow: lan}, req{"[2001:db8::5%eth0]:5000", "", ""}, 200},
		{"IPv4-mapped IPv6 peer", GuardConfig{Allow: lan}, req{"[::ffff:192.0.2.8]:5000", "", ""}, 200},
		{"unmasked prefix", GuardConfig{Allow: lan}, req{"10.200.0.1:5000", "", ""}, 200},
		{"address without a port", GuardConfig{Allow: lan}, req{"192.0.2.9", "", ""}, 200},
		{"unparsable peer", GuardConfig{Allow: lan}, req{"@unix", "", ""}, 403},
		{"both, all right", GuardConfig{User: "fs", Password: "pw", Allow: lan}, req{"192.0.2.1:1", "fs", "pw"}, 200},
		{"both, wrong network first", GuardConfig{User: "fs", Password: "pw", Allow: lan}, req{"198.51.100.1:1", "fs", "pw"}, 403},
		{"both, no credentials", GuardConfig{User: "fs", Password: "pw", Allow: lan}, req{"192.0.2.1:1", "", ""}, 401},
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGuard(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodPost, "/xml", nil)
			r.RemoteAddr = tc.req.remote
			// X-Forwarded-For is never believed.
			r.Header.Set("X-Forwarded-For", "192.0.2.1")
			if tc.req.user != "" {
				r.SetBasicAuth(tc.req.user, tc.req.password)
			}
			w := httptest.NewRecorder()
			g.Wrap(inner).ServeHTTP(w, r)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
			challenge := w.Header().Get("WWW-Authenticate")
			if (tc.want == http.StatusUnauthorized) != (challenge != "") {
				t.Errorf("WWW-Authenticate %q with status %d", challenge, w.Code)
			}
		})
	}
}
