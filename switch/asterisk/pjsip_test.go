package asterisk

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// recordingOptions are the options that reproduce the recorded push of
// account 2001 (transport-udp, context phones, ulaw only).
func recordingOptions() PushOptions {
	o := DefaultPushOptions()
	o.Codecs = []string{"ulaw"}
	o.DirectMedia = nil // the recording predates the direct_media default
	return o
}

// Pushed endpoints keep the media through Asterisk unless the node's
// block says otherwise: Asterisk's own default (direct_media=yes)
// re-INVITEs both phones to talk to each other (seen live on 23.4.1).
func TestPushedDirectMedia(t *testing.T) {
	yes := true
	gw := &provisioning.Gateway{ID: 1, Name: "gw", Host: "192.0.2.1"}
	for _, tc := range []struct {
		name string
		node NodeConfig
		want string
	}{
		{"default", NodeConfig{}, "no"},
		{"direct_media: true", NodeConfig{DirectMedia: &yes}, "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.node.PushOptions()
			acc, err := AccountObjects(opts, &dave)
			if err != nil {
				t.Fatal(err)
			}
			gwo, err := GatewayObjects(opts, gw)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, o := range append(acc, gwo...) {
				if o.Ref.Type != PJSIPEndpoint {
					continue
				}
				n++
				if got := fieldValue(o.Fields, "direct_media"); got != tc.want {
					t.Errorf("%s: direct_media = %q, want %q", o.Ref, got, tc.want)
				}
			}
			if n != 2 {
				t.Fatalf("got %d endpoints, want the account's and the gateway's", n)
			}
		})
	}
}

// The node's phone_qualify_secs becomes the pushed AOR's
// qualify_frequency; without it Asterisk qualifies nothing.
func TestPushedQualify(t *testing.T) {
	for secs, want := range map[int]string{0: "0", 30: "30"} {
		objs, err := AccountObjects((&NodeConfig{PhoneQualifySecs: secs}).PushOptions(), &dave)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(objs, func(o PJSIPObject) bool { return o.Ref.Type == PJSIPAOR })
		if i < 0 {
			t.Fatal("no AOR pushed")
		}
		if got := fieldValue(objs[i].Fields, "qualify_frequency"); got != want {
			t.Errorf("phone_qualify_secs %d: qualify_frequency %q, want %q", secs, got, want)
		}
	}
}

var dave = provisioning.Account{ID: 7, Domain: "example.com", Username: "2001", Secret: "secret2001",
	CallerIDName: "Dave"}

// The bodies Switchboard sends for account 2001 are byte for byte the
// ones real Asterisk accepted in the recording.
func TestAccountObjectsMatchRecording(t *testing.T) {
	objs, err := AccountObjects(recordingOptions(), &dave)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("got %d objects, want auth, aor, endpoint", len(objs))
	}
	for _, o := range objs {
		if o.Ref.ID != "2001" {
			t.Errorf("%s: id must be the SIP username", o.Ref)
		}
		got, err := marshalPutBody(o.Fields)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "rest", "config-put-"+string(o.Ref.Type)+"-2001.request.json"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != strings.TrimSpace(string(want)) {
			t.Errorf("%s body:\n got %s\nwant %s", o.Ref, got, want)
		}
	}
}

// What Asterisk returned after the recorded push counts as "already
// there", and a change of any pushed value does not.
func TestSameFieldsAgainstRecordedAnswers(t *testing.T) {
	objs, err := AccountObjects(recordingOptions(), &dave)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		got := readFields(t, "config-put-"+string(o.Ref.Type)+"-2001.response.json")
		if !sameFields(o.Fields, got) {
			t.Errorf("%s: recorded answer should match what was sent", o.Ref)
		}
		for i, f := range o.Fields {
			if f.Attribute == "disallow" {
				continue
			}
			changed := append([]Field(nil), o.Fields...)
			changed[i].Value = f.Value + "9"
			if sameFields(changed, got) {
				t.Errorf("%s: %s changed to %q still counts as equal", o.Ref, f.Attribute, changed[i].Value)
			}
		}
	}
	// 1001 from pjsip.conf: allow (ulaw|alaw), aor qualify 10.
	opts := DefaultPushOptions()
	opts.PhoneQualifySecs = 10
	alice := provisioning.Account{ID: 1, Username: "1001", Secret: "secret1001", CallerIDName: "Alice"}
	objs, err = AccountObjects(opts, &alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if !sameFields(o.Fields, readFields(t, "config-res-pjsip-"+string(o.Ref.Type)+"-1001.json")) {
			t.Errorf("%s: should match the recorded pjsip.conf object", o.Ref)
		}
	}
}

func TestGatewayObjectsGolden(t *testing.T) {
	direct := false
	tests := []struct {
		name string
		opts func(*PushOptions)
		gw   provisioning.Gateway
	}{
		{"udp-register", nil, provisioning.Gateway{ID: 1, Name: "carrier", Host: "192.0.2.10", Port: 5060,
			Transport: provisioning.TransportUDP, Username: "acct42", Secret: "s3cret", Register: true, QualifySecs: 30}},
		{"tcp-ip-auth", func(o *PushOptions) { o.DirectMedia = &direct }, provisioning.Gateway{ID: 2, Name: "pbx-b",
			Host: "pbx.example.net", Transport: provisioning.TransportTCP, QualifySecs: 0}},
		{"tls-auth-no-register", nil, provisioning.Gateway{ID: 3, Name: "tls-trunk", Host: "sip.example.org",
			Port: 5061, Transport: provisioning.TransportTLS, Username: "u", Secret: "p", QualifySecs: 60}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := DefaultPushOptions()
			if tt.opts != nil {
				tt.opts(&opts)
			}
			objs, err := GatewayObjects(opts, &tt.gw)
			if err != nil {
				t.Fatal(err)
			}
			// One request body per line, as PUT would send it.
			var b strings.Builder
			for _, o := range objs {
				body, _ := marshalPutBody(o.Fields)
				b.WriteString("PUT res_pjsip/" + o.Ref.String() + " " + string(body) + "\n")
			}
			golden := filepath.Join("testdata", "pjsip", "gateway-"+tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
			}
			for _, o := range objs {
				if u := unknownAttributes(o.Ref.Type, o.Fields); len(u) > 0 {
					t.Errorf("%s sends attributes Asterisk 23 lacks: %v", o.Ref, u)
				}
			}
		})
	}
}

func TestMappingRefusals(t *testing.T) {
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"no secret", func() error {
			_, err := AccountObjects(DefaultPushOptions(), &provisioning.Account{ID: 1, Username: "2001"})
			return err
		}, "has no secret"},
		{"empty username", func() error {
			_, err := AccountObjects(DefaultPushOptions(), &provisioning.Account{ID: 1, Secret: "x"})
			return err
		}, "empty id"},
		{"slash in username", func() error {
			_, err := AccountObjects(DefaultPushOptions(), &provisioning.Account{ID: 1, Username: "a/b", Secret: "x"})
			return err
		}, `id "a/b"`},
		{"register without username", func() error {
			_, err := GatewayObjects(DefaultPushOptions(), &provisioning.Gateway{ID: 1, Name: "g", Host: "h", Register: true})
			return err
		}, "register without a username"},
		{"host with a semicolon", func() error {
			_, err := GatewayObjects(DefaultPushOptions(), &provisioning.Gateway{ID: 1, Name: "g", Host: "h;x"})
			return err
		}, "bad host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if !errors.Is(err, ErrUnmappable) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrUnmappable with %q", err, tt.want)
			}
		})
	}
}

func TestAccountIDWithDomainAndCallerID(t *testing.T) {
	opts := DefaultPushOptions()
	opts.IDWithDomain = true
	a := provisioning.Account{ID: 3, Domain: "b.example", Username: "100", Secret: "x",
		CallerIDName: "Evil \"<x>\"\n", CallerIDNumber: "+15550100"}
	objs, err := AccountObjects(opts, &a)
	if err != nil {
		t.Fatal(err)
	}
	ep := objs[2]
	if ep.Ref != (ObjectRef{PJSIPEndpoint, "100@b.example"}) {
		t.Errorf("ref = %v", ep.Ref)
	}
	want := map[string]string{"auth": "100@b.example", "aors": "100@b.example", "callerid": `"Evil x" <+15550100>`}
	for _, f := range ep.Fields {
		if w, ok := want[f.Attribute]; ok && f.Value != w {
			t.Errorf("%s = %q, want %q", f.Attribute, f.Value, w)
		}
	}
	if objs[0].Fields[1] != (Field{"username", "100"}) {
		t.Errorf("auth username = %v, want the bare SIP username", objs[0].Fields[1])
	}
}

// With TenantContexts an account's endpoint lands in its tenant's
// routing context; without a tenant (an account read without its join)
// it keeps the phone context.
func TestAccountObjectsTenantContext(t *testing.T) {
	o := recordingOptions()
	o.TenantContexts = true
	for _, tc := range []struct {
		tenant int64
		want   string
	}{{42, "sb-t42"}, {0, o.PhoneContext}} {
		a := dave
		a.TenantID = tc.tenant
		objs, err := AccountObjects(o, &a)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, f := range objs[2].Fields {
			if f.Attribute == "context" {
				got = f.Value
			}
		}
		if objs[2].Ref.Type != PJSIPEndpoint || got != tc.want {
			t.Errorf("tenant %d: %s context %q, want %q", tc.tenant, objs[2].Ref, got, tc.want)
		}
	}
}
