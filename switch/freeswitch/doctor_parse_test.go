package freeswitch

import (
	"errors"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/switch/freeswitch/esltest"
)

// doctorRecorded are the recorded answers the doctor's parsers read.
func doctorRecorded(name string) []byte { return esltest.RecordedBody(name) }

func TestParseXMLCurlConf(t *testing.T) {
	got, err := parseXMLCurlConf(doctorRecorded("api-xml-locate-xml-curl-conf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "switchboard" {
		t.Fatalf("bindings %+v, want the one named switchboard", got)
	}
	want := map[string]string{
		"gateway-url":         "http://127.0.0.1:8099/freeswitch/fsdoc/xml-curl",
		"bindings":            "directory|dialplan",
		"gateway-credentials": "freeswitch:sb-live-http-secret",
		"auth-scheme":         "basic",
		"timeout":             "5",
	}
	for k, v := range want {
		if got[0].Params[k] != v {
			t.Errorf("%s = %q, want %q", k, got[0].Params[k], v)
		}
	}
	two := `<configuration name="xml_curl.conf"><bindings><binding name="a"><param name="Gateway-URL" value="http://x/a" bindings="configuration"/></binding><binding name="b"><param name="gateway-url" value="http://y/b"/></binding></bindings></configuration>`
	got, err = parseXMLCurlConf([]byte(two))
	if err != nil || len(got) != 2 || got[0].Params["bindings"] != "configuration" || got[1].Params["gateway-url"] != "http://y/b" || got[1].Params["bindings"] != "" {
		t.Fatalf("two bindings: %+v, %v", got, err)
	}
}

func TestParseSettings(t *testing.T) {
	got, err := parseSettings(doctorRecorded("api-xml-locate-json-cdr-conf.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"url": "http://127.0.0.1:8099/freeswitch/fsdoc/cdr", "log-b-leg": "true", "retries": "5", "delay": "5", "err-log-dir": "/opt/fs-doc/log/json_cdr"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["queue-capacity"]; ok {
		t.Error("queue-capacity found; the recording has none")
	}
}

func TestParseStaticDirectory(t *testing.T) {
	users, err := parseStaticDirectory(doctorRecorded("api-xml-locate-directory-stock.txt"))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]staticUser{}
	stock := 0
	for _, u := range users {
		if _, dup := byID[u.ID]; dup {
			t.Errorf("user %s twice (a type=\"pointer\" entry counted?)", u.ID)
		}
		byID[u.ID] = u
		if u.Domain != "127.0.0.1" {
			t.Errorf("user %s in domain %q, want 127.0.0.1", u.ID, u.Domain)
		}
		if u.Password == stockPassword {
			stock++
		}
	}
	if stock != 20 {
		t.Errorf("%d users with password 1234, want the vanilla 1000-1019", stock)
	}
	if u := byID["1019"]; !u.Credential || u.Password != "1234" {
		t.Errorf("1019 = %+v", u)
	}
	// example.com.xml's user has a gateway whose password is "password"
	// and a password of its own, also "password".
	if u := byID["example.com"]; !u.Credential || u.Password != "password" {
		t.Errorf("example.com = %+v", u)
	}
	// A gateway's password is the gateway's, not its user's.
	users, err = parseStaticDirectory([]byte(`<section name="directory"><domain name="d"><user id="gw"><gateways><gateway name="g"><param name="password" value="1234"/></gateway></gateways></user></domain></section>`))
	if err != nil || len(users) != 1 || users[0].Credential || users[0].Password != "" {
		t.Errorf("user with a gateway only: %+v, %v", users, err)
	}
}

func TestParseSofiaXMLStatus(t *testing.T) {
	got, err := parseSofiaXMLStatus(doctorRecorded("api-sofia-xmlstatus-ws-wss.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var profiles, gateways []string
	for _, e := range got {
		switch e.Kind {
		case "profile":
			profiles = append(profiles, e.Name+" "+e.State)
		case "gateway":
			gateways = append(gateways, e.Name+" "+e.State)
		}
	}
	if strings.Join(profiles, ",") != "external RUNNING (0),internal RUNNING (0),internal RUNNING (0) (WS),internal RUNNING (0) (WSS)" {
		t.Errorf("profiles %q", profiles)
	}
	if strings.Join(gateways, ",") != "example.com NOREG" {
		t.Errorf("gateways %q", gateways)
	}
}

// TestDoctorParsersMalformed checks that what is not the XML asked for is
// a malformed reply, never a silent empty answer.
func TestDoctorParsersMalformed(t *testing.T) {
	inputs := []string{"", "can't find anything\n", "-ERR bad args", "<configuration", "<a><b></a>"}
	parsers := map[string]func([]byte) error{
		"xml_curl": func(b []byte) error { _, err := parseXMLCurlConf(b); return err },
		"settings": func(b []byte) error { _, err := parseSettings(b); return err },
		"directory": func(b []byte) error {
			_, err := parseStaticDirectory(b)
			return err
		},
		"sofia": func(b []byte) error { _, err := parseSofiaXMLStatus(b); return err },
	}
	for name, parse := range parsers {
		for _, in := range inputs {
			if err := parse([]byte(in)); !errors.Is(err, ErrMalformedReply) {
				t.Errorf("%s(%q) = %v, want ErrMalformedReply", name, in, err)
			}
		}
	}
}

// FuzzDoctorParsers feeds every doctor parser the same bytes: none may
// panic, and what they return is consistent.
func FuzzDoctorParsers(f *testing.F) {
	for _, name := range []string{"api-xml-locate-xml-curl-conf.txt", "api-xml-locate-json-cdr-conf.txt", "api-xml-locate-directory-stock.txt", "api-sofia-xmlstatus-ws-wss.txt", "api-xml-locate-nosuch-conf.txt"} {
		f.Add(doctorRecorded(name))
	}
	f.Add([]byte(`<domain name="d"><user id="1"><params><param name="password" value="1234"/></params></user><user id="2" type="pointer"/></domain>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if bs, err := parseXMLCurlConf(b); err == nil {
			for _, x := range bs {
				if x.Params == nil {
					t.Fatal("binding without params map")
				}
			}
		}
		if s, err := parseSettings(b); err == nil && s == nil {
			t.Fatal("settings nil without error")
		}
		if us, err := parseStaticDirectory(b); err == nil {
			for _, u := range us {
				if u.ID == "" {
					t.Fatalf("user without id: %+v", u)
				}
				if u.Password != "" && !u.Credential {
					t.Fatalf("password without credential: %+v", u)
				}
			}
		}
		_, _ = parseSofiaXMLStatus(b)
	})
}
