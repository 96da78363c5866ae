package sip

import (
	"net"
	"net/netip"
	"strconv"
	"testing"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		uri, addr string
		tp        Transport
		transport string
		dest      string
		ap        string // "" when the destination is a name
		err       bool
	}{
		{uri: "sip:gw.example.com", transport: "UDP", dest: "gw.example.com:5060"},
		{uri: "sip:gw.example.com:5080", transport: "UDP", dest: "gw.example.com:5080"},
		{uri: "sip:10.0.0.1", transport: "UDP", dest: "10.0.0.1:5060", ap: "10.0.0.1:5060"},
		{uri: "sip:10.0.0.1;transport=tcp", transport: "TCP", dest: "10.0.0.1:5060", ap: "10.0.0.1:5060"},
		{uri: "sip:10.0.0.1;transport=TLS", transport: "TLS", dest: "10.0.0.1:5061", ap: "10.0.0.1:5061"},
		{uri: "sips:10.0.0.1", transport: "TLS", dest: "10.0.0.1:5061", ap: "10.0.0.1:5061"},
		{uri: "sip:10.0.0.1;transport=udp", tp: TCP, transport: "TCP", dest: "10.0.0.1:5060", ap: "10.0.0.1:5060"},
		{uri: "sip:10.0.0.1", tp: "TLS", transport: "TLS", dest: "10.0.0.1:5061", ap: "10.0.0.1:5061"},
		{uri: "sip:alice@192.168.1.20:5062;ob", addr: "203.0.113.7:61001", transport: "UDP", dest: "203.0.113.7:61001", ap: "203.0.113.7:61001"},
		{uri: "sip:alice@[2001:db8::1]:5062", transport: "UDP", dest: "[2001:db8::1]:5062", ap: "[2001:db8::1]:5062"},
		{uri: "sip:alice@host", addr: "[2001:db8::2]:7000", transport: "UDP", dest: "[2001:db8::2]:7000", ap: "[2001:db8::2]:7000"},
		{uri: " sip:gw.example.com ", transport: "UDP", dest: "gw.example.com:5060"},
		{uri: "", err: true},
		{uri: "gw.example.com", err: true},
		{uri: "tel:+15551234567", err: true},
		{uri: "sip:gw.example.com;transport=ws", err: true},
		{uri: "sip:gw.example.com", tp: "sctp", err: true},
		{uri: "sip:gw.example.com", addr: "203.0.113.7", err: true},
		{uri: "sip:gw.example.com", addr: "203.0.113.7:0", err: true},
		{uri: "sip:gw.example.com", addr: "203.0.113.7:99999", err: true},
		{uri: "sip:gw.example.com:99999", err: true},
	}
	for _, tt := range tests {
		s, err := parseTarget(tt.uri, tt.addr, tt.tp)
		if tt.err {
			if err == nil {
				t.Errorf("parseTarget(%q, %q, %q) = %+v, want an error", tt.uri, tt.addr, tt.tp, s)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseTarget(%q, %q, %q): %v", tt.uri, tt.addr, tt.tp, err)
			continue
		}
		ap := ""
		if s.destAP.IsValid() {
			ap = s.destAP.String()
		}
		if s.transport != tt.transport || s.dest != tt.dest || ap != tt.ap {
			t.Errorf("parseTarget(%q, %q, %q) = %s %s %q, want %s %s %q", tt.uri, tt.addr, tt.tp, s.transport, s.dest, ap, tt.transport, tt.dest, tt.ap)
		}
	}
}

func TestContactTarget(t *testing.T) {
	reg := presence.Registration{
		Switch: "pbx1", User: "1001", Domain: "acme.example",
		Contact: "sip:1001@192.168.1.20:5062;ob", Address: "203.0.113.7:61001", Transport: "UDP",
	}
	got, ok := ContactTarget(reg)
	want := Target{
		Kind: KindContact, Name: "1001@acme.example sip:1001@192.168.1.20:5062;ob",
		URI: reg.Contact, Addr: reg.Address, Transport: UDP, Domain: "acme.example",
	}
	if !ok || got != want {
		t.Errorf("ContactTarget = %+v %v, want %+v", got, ok, want)
	}

	tests := []struct {
		name string
		edit func(*presence.Registration)
		ok   bool
		addr string
		tp   Transport
	}{
		{"tcp", func(r *presence.Registration) { r.Transport = "tcp" }, true, reg.Address, TCP},
		{"no transport: the URI's", func(r *presence.Registration) { r.Transport = "" }, true, reg.Address, ""},
		{"websocket", func(r *presence.Registration) { r.Transport = "WSS" }, false, "", ""},
		{"websocket in the URI", func(r *presence.Registration) { r.Transport = ""; r.Contact = "sip:x@h;transport=ws" }, false, "", ""},
		{"no address: the URI's", func(r *presence.Registration) { r.Address = "" }, true, "", UDP},
		{"bad address: the URI's", func(r *presence.Registration) { r.Address = "sip:203.0.113.7" }, true, "", UDP},
		{"bad contact", func(r *presence.Registration) { r.Contact = "<unparsable" }, false, "", ""},
	}
	for _, tt := range tests {
		r := reg
		tt.edit(&r)
		got, ok := ContactTarget(r)
		if ok != tt.ok || (ok && (got.Addr != tt.addr || got.Transport != tt.tp)) {
			t.Errorf("%s: ContactTarget = %+v %v, want ok %v addr %q transport %q", tt.name, got, ok, tt.ok, tt.addr, tt.tp)
		}
	}
}

// FuzzParseTarget feeds parseTarget what provisioning and switches hand
// it (URIs, NAT addresses, transports): it must not panic, and what it
// accepts must be something sipgo can send to.
func FuzzParseTarget(f *testing.F) {
	for _, s := range [][3]string{
		{"sip:gw.example.com", "", ""},
		{"sips:10.0.0.1:5061", "", ""},
		{"sip:alice@[2001:db8::1]:5062;transport=tcp;ob", "203.0.113.7:61001", ""},
		{"sip:1001@192.168.1.20:5062;ob?x=y", "[2001:db8::2]:7000", "UDP"},
		{"sip:a@b:0", "c:65536", "tls"},
		{"sip:[::1", "", ""},
		{"sip:%41@host;transport=", ":5060", "tcp"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, uri, addr, tp string) {
		s, err := parseTarget(uri, addr, Transport(tp))
		if err != nil {
			return
		}
		switch s.transport {
		case "UDP", "TCP", "TLS":
		default:
			t.Fatalf("transport %q", s.transport)
		}
		host, port, err := net.SplitHostPort(s.dest)
		if err != nil || host == "" {
			t.Fatalf("dest %q: %v", s.dest, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
			t.Fatalf("dest %q: port %q", s.dest, port)
		}
		if s.destAP.IsValid() {
			if ap, err := netip.ParseAddrPort(s.dest); err != nil || ap.Addr().Unmap() != s.destAP.Addr() || ap.Port() != s.destAP.Port() {
				t.Fatalf("dest %q but destAP %v", s.dest, s.destAP)
			}
		}
	})
}

// FuzzContactTarget: what a switch reports about a registration must never
// make ContactTarget panic, and an accepted contact must parse.
func FuzzContactTarget(f *testing.F) {
	f.Add("1001", "acme.example", "sip:1001@192.168.1.20:5062;ob", "203.0.113.7:61001", "UDP")
	f.Add("", "", "sips:x@[::1]", "", "tls")
	f.Add("u", "d", "sip:u@h;transport=ws", "1.2.3.4:5", "")
	f.Fuzz(func(t *testing.T, user, domain, contact, address, transport string) {
		tgt, ok := ContactTarget(presence.Registration{User: user, Domain: domain, Contact: contact, Address: address, Transport: transport})
		if !ok {
			return
		}
		if _, err := parseTarget(tgt.URI, tgt.Addr, tgt.Transport); err != nil {
			t.Fatalf("accepted %+v does not parse: %v", tgt, err)
		}
		if tgt.Kind != KindContact || tgt.Domain != domain {
			t.Fatalf("target %+v", tgt)
		}
	})
}
