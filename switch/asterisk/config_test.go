package asterisk

import (
	"errors"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Each invalid block is refused naming its key; defaults fill what is
// left out.
func TestNodeConfig(t *testing.T) {
	good := NodeConfig{URL: "http://127.0.0.1:8088/ari", User: "sb", Password: "pw"}
	tests := []struct {
		name      string
		edit      func(c *NodeConfig)
		wantField string
	}{
		{"good", func(*NodeConfig) {}, ""},
		{"https", func(c *NodeConfig) { c.URL = "https://pbx.example.com/ari" }, ""},
		{"url without scheme", func(c *NodeConfig) { c.URL = "127.0.0.1:8088" }, "url"},
		{"no user", func(c *NodeConfig) { c.User = "" }, "user"},
		{"no password", func(c *NodeConfig) { c.Password = "" }, "password"},
		{"zone", func(c *NodeConfig) { c.CDRFileTimezone = "Europe/Berlin" }, ""},
		{"bad zone", func(c *NodeConfig) { c.CDRFileTimezone = "Mars/Olympus" }, "cdr_file_timezone"},
		{"qualify", func(c *NodeConfig) { c.PhoneQualifySecs = 30 }, ""},
		{"negative qualify", func(c *NodeConfig) { c.PhoneQualifySecs = -1 }, "phone_qualify_secs"},
		{"dialplan file", func(c *NodeConfig) { c.DialplanFile = "/etc/asterisk/extensions_switchboard.conf" }, ""},
		{"relative dialplan file", func(c *NodeConfig) { c.DialplanFile = "extensions_switchboard.conf" }, "dialplan_file"},
		{"relative voicemail file", func(c *NodeConfig) { c.VoicemailFile = "voicemail_switchboard.conf" }, "voicemail_file"},
		{"relative voicemail spool", func(c *NodeConfig) { c.VoicemailSpool = "spool/voicemail" }, "voicemail_spool"},
		{"voicemail", func(c *NodeConfig) {
			c.VoicemailFile, c.VoicemailSpool = "/etc/asterisk/voicemail_switchboard.conf", "/var/spool/asterisk/voicemail"
		}, ""},
		{"routing", func(c *NodeConfig) { c.DialplanFile, c.Routing = "/etc/asterisk/extensions_switchboard.conf", true }, ""},
		{"routing without a dialplan file", func(c *NodeConfig) { c.Routing = true }, "routing"},
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
	c := good
	c.DialplanFile, c.Routing = "/etc/asterisk/extensions_switchboard.conf", true
	if !c.PushOptions().TenantContexts || good.PushOptions().TenantContexts {
		t.Errorf("PushOptions: tenant contexts with routing only")
	}
	c = good
	c.SetDefaults()
	if c.App != "switchboard" || c.CDRFileTimezone != "UTC" {
		t.Errorf("defaults: %+v", c)
	}
	if loc, err := c.Location(); err != nil || loc.String() != "UTC" {
		t.Errorf("Location = %v, %v", loc, err)
	}
}
