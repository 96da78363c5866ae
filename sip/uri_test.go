package sip

import (
	"net"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in                       string
		wantHostPort, wantTransp string
		wantErr                  string
	}{
		{"sip:127.0.0.1:5060;transport=udp", "127.0.0.1:5060", "udp", ""},
		{"sip:127.0.0.1", "127.0.0.1:5060", "udp", ""},
		{"SIP:pbx.example.com;transport=TCP", "pbx.example.com:5060", "tcp", ""},
		{"sips:pbx.example.com", "pbx.example.com:5061", "tls", ""},
		{"sip:pbx.example.com;transport=tls", "pbx.example.com:5061", "tls", ""},
		{"sip:1001@192.0.2.10:5062;ob;transport=udp?X-Foo=bar", "192.0.2.10:5062", "udp", ""},
		{"sip:1001:pw@[2001:db8::1]:5070;transport=tcp", "[2001:db8::1]:5070", "tcp", ""},
		{"sip:1001@[2001:db8::1]", "[2001:db8::1]:5060", "udp", ""},
		{"http://127.0.0.1:5060", "", "", "must be a sip: or sips: URI"},
		{"sip:", "", "", "has no host"},
		{"127.0.0.1:5060", "", "", "must be a sip: or sips: URI"},
		{"sip:127.0.0.1:", "", "", "has an empty port"},
		{"sip:127.0.0.1:0", "", "", "has an invalid port"},
		{"sip:127.0.0.1:http", "", "", "has an invalid port"},
		{"sip:1001@[2001:db8::1", "", "", "unclosed"},
		{"sip:[nonsense]:5060", "", "", "invalid IPv6"},
		{"sip:[::1]x", "", "", "junk"},
		{"sip:1001@", "", "", "has no valid host"},
		{"sip:a b", "", "", "has no valid host"},
		{"sip:127.0.0.1;transport=ws", "", "", `transport "ws"`},
	}
	for _, tc := range tests {
		u, err := ParseURI(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseURI(%q) err = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || u.HostPort() != tc.wantHostPort || string(u.Transport()) != tc.wantTransp {
			t.Errorf("ParseURI(%q) = %s over %s, %v; want %s over %s", tc.in, u.HostPort(), u.Transport(), err, tc.wantHostPort, tc.wantTransp)
		}
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{"sip:127.0.0.1:5060;transport=udp", "sips:[::1]:5061", "sip:u@h;ob?x=y", "sip:[", "sip::", "sip:@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		if _, _, err := net.SplitHostPort(u.HostPort()); err != nil {
			t.Errorf("ParseURI(%q) accepted, but its host:port %q does not split: %v", s, u.HostPort(), err)
		}
		if tr := u.Transport(); tr != UDP && tr != TCP && tr != TLS {
			t.Errorf("ParseURI(%q) transport %q", s, tr)
		}
	})
}
