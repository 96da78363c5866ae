package freeswitch

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Each invalid block is refused naming its key; defaults fill what is
// left out; the guard gets the allowed networks parsed.
func TestNodeConfig(t *testing.T) {
	good := NodeConfig{ESL: "127.0.0.1:8021", Password: "secret", HTTPAllow: []string{"127.0.0.1", "10.0.0.0/8"}}
	tests := []struct {
		name      string
		edit      func(c *NodeConfig)
		wantField string
	}{
		{"good", func(*NodeConfig) {}, ""},
		{"credentials only", func(c *NodeConfig) { c.HTTPAllow, c.HTTPUser, c.HTTPPassword = nil, "fs", "pw" }, ""},
		{"no esl", func(c *NodeConfig) { c.ESL = "" }, "esl"},
		{"esl without port", func(c *NodeConfig) { c.ESL = "fs.example" }, "esl"},
		{"esl port out of range", func(c *NodeConfig) { c.ESL = "fs.example:70000" }, "esl"},
		{"no password", func(c *NodeConfig) { c.Password = "" }, "password"},
		{"no http protection", func(c *NodeConfig) { c.HTTPAllow = nil }, "http_password"},
		{"user without password", func(c *NodeConfig) { c.HTTPUser = "fs" }, "http_user"},
		{"bad network", func(c *NodeConfig) { c.HTTPAllow = []string{"127.0.0.1", "10.0.0.0/33"} }, "http_allow[1]"},
		{"directory cache off", func(c *NodeConfig) { c.DirectoryCacheMS = -1 }, ""},
		{"directory cache a minute", func(c *NodeConfig) { c.DirectoryCacheMS = 60000 }, ""},
		{"directory cache in seconds", func(c *NodeConfig) { c.DirectoryCacheMS = 60 }, "directory_cache_ms"},
		{"directory cache negative", func(c *NodeConfig) { c.DirectoryCacheMS = -2 }, "directory_cache_ms"},
		{"directory cache at FreeSWITCH's limit", func(c *NodeConfig) { c.DirectoryCacheMS = MaxDirectoryCacheMS }, ""},
		{"directory cache an hour (overflows in FreeSWITCH)", func(c *NodeConfig) { c.DirectoryCacheMS = 3600000 }, "directory_cache_ms"},
		{"dialplan fallback", func(c *NodeConfig) { c.DialplanFallbackDir = "/etc/freeswitch/dialplan/public" }, ""},
		{"relative dialplan fallback", func(c *NodeConfig) { c.DialplanFallbackDir = "dialplan/public" }, "dialplan_fallback_dir"},
		{"fax dir", func(c *NodeConfig) { c.FaxDir = "/var/spool/freeswitch/fax" }, ""},
		{"relative fax dir", func(c *NodeConfig) { c.FaxDir = "fax" }, "fax_dir"},
		{"recordings dir", func(c *NodeConfig) { c.RecordingsDir = "/var/spool/freeswitch/recordings" }, ""},
		{"relative recordings dir", func(c *NodeConfig) { c.RecordingsDir = "recordings" }, "recordings_dir"},
		{"recordings dir with a space (splits record_session's data)", func(c *NodeConfig) { c.RecordingsDir = "/var/spool/call recordings" }, "recordings_dir"},
		{"routing fallback", func(c *NodeConfig) { c.RoutingFallbackDir = "/etc/freeswitch/dialplan" }, ""},
		{"relative routing fallback", func(c *NodeConfig) { c.RoutingFallbackDir = "dialplan" }, "routing_fallback_dir"},
		{"relative voicemail dir", func(c *NodeConfig) { c.VoicemailDir = "storage/voicemail" }, "voicemail_dir"},
		{"relative directory fallback", func(c *NodeConfig) { c.DirectoryFallbackDir = "directory" }, "directory_fallback_dir"},
	}
	for _, tc := range tests {
		c := good
		tc.edit(&c)
		c.SetDefaults()
		err := c.Validate()
		var fe *provisioning.FieldError
		switch {
		case tc.wantField == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantField != "" && (!errors.As(err, &fe) || fe.Field != tc.wantField):
			t.Errorf("%s: err = %v, want one naming %s", tc.name, err, tc.wantField)
		}
	}
	for _, tc := range []struct{ dids, routing, want string }{
		{"", "", ""},
		{"/etc/freeswitch/dialplan/public", "", "/etc/freeswitch/dialplan"},
		{"/etc/freeswitch/dialplan/public", "/srv/fs/routing", "/srv/fs/routing"},
		{"", "/srv/fs/routing", "/srv/fs/routing"},
	} {
		c := NodeConfig{DialplanFallbackDir: tc.dids, RoutingFallbackDir: tc.routing}
		if got := c.RoutingDir(); got != tc.want {
			t.Errorf("RoutingDir with %q, %q = %q, want %q", tc.dids, tc.routing, got, tc.want)
		}
	}
	c := good
	c.SetDefaults()
	if c.PhoneProfile != "internal" || c.GatewayProfile != "external" || c.UserContext != "default" {
		t.Errorf("defaults: %+v", c)
	}
	g, err := c.Guard()
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	if err != nil || !reflect.DeepEqual(g.Allow, want) {
		t.Errorf("Guard = %+v, %v; want allow %v", g, err, want)
	}
}

// TestNodeConfigDirectoryCache checks the default and the off switch of
// the directory cache.
func TestNodeConfigDirectoryCache(t *testing.T) {
	for set, want := range map[int]int{0: DefaultDirectoryCacheMS, -1: 0, 60000: 60000} {
		c := NodeConfig{DirectoryCacheMS: set}
		c.SetDefaults()
		if got := c.CacheMS(); got != want {
			t.Errorf("directory_cache_ms %d: CacheMS() = %d, want %d", set, got, want)
		}
	}
}
