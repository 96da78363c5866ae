package asterisk

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/switch/asterisk/aritest"
	"github.com/switchboard-voip/switchboard/switch/presence"
	"github.com/switchboard-voip/switchboard/switch/switchtest"
)

// The contact id and details come out of the recorded Asterisk 23.4.1
// answer to GET .../res_pjsip/contact/1001%3B%4005b1…a3fa.
func TestContactDetailsFromRecording(t *testing.T) {
	if got, want := ContactID("1001", "sip:1001@127.0.0.1:5071"), "1001;@05b159396a728bfe3eaa865b94eca3fa"; got != want {
		t.Errorf("ContactID = %q, want the recorded %q", got, want)
	}
	if got, want := aritest.ContactID("1001", "sip:1001@127.0.0.1:5071"), ContactID("1001", "sip:1001@127.0.0.1:5071"); got != want {
		t.Errorf("the fake names the contact %q, the adapter %q", got, want)
	}
	var fs []Field
	if err := json.Unmarshal(aritest.Recorded("config-contact-1001.json"), &fs); err != nil {
		t.Fatal(err)
	}
	want := ContactDetails{UserAgent: "SIPp-phone-1001", Expires: time.Date(2026, 12, 6, 20, 20, 9, 0, time.UTC),
		Source: "127.0.0.1:5171", QualifySecs: 10}
	if got := parseContactDetails(fs); got != want {
		t.Errorf("details = %+v, want %+v", got, want)
	}
	if got := parseContactDetails([]Field{{"expiration_time", "x"}, {"via_addr", "::1"}, {"via_port", "0"}, {"qualify_frequency", "0"}}); got != (ContactDetails{}) {
		t.Errorf("unusable fields gave %+v, want nothing", got)
	}
}

// A resync reads contacts with no status (ARI has none); Presence gives
// them the status Asterisk must have given them.
func TestPresenceInferredStatus(t *testing.T) {
	const a, b = "sip:1001@192.0.2.1:5060", "sip:1001@192.0.2.2:5060"
	// The view drops registrations past their expiry by the wall clock:
	// times relative to now, or the test fails once a fixed date passes.
	now := time.Now().UTC().Truncate(time.Second)
	qualified := ContactDetails{UserAgent: "Yealink SIP-T46S", QualifySecs: 30,
		Expires: now.Add(time.Hour), Source: "198.51.100.7:40001"}
	notQualified := ContactDetails{UserAgent: "baresip"}
	tests := []struct {
		name    string
		uris    []string
		details map[string]ContactDetails
		event   string // a contact first reported Reachable by an event
		want    map[string]presence.ContactStatus
	}{
		{"one qualified contact of an online endpoint is Reachable", []string{a},
			map[string]ContactDetails{a: qualified}, "", map[string]presence.ContactStatus{a: presence.ContactReachable}},
		{"NonQualified: registered, not qualified", []string{a},
			map[string]ContactDetails{a: notQualified}, "", map[string]presence.ContactStatus{a: presence.ContactUnknown}},
		{"two qualified contacts: which one is up is not known", []string{a, b},
			map[string]ContactDetails{a: qualified, b: qualified}, "",
			map[string]presence.ContactStatus{a: presence.ContactUnknown, b: presence.ContactUnknown}},
		{"the other one is known Reachable", []string{a, b},
			map[string]ContactDetails{b: qualified}, a,
			map[string]presence.ContactStatus{a: presence.ContactReachable, b: presence.ContactUnknown}},
		{"details not read: qualify not known", []string{a},
			nil, "", map[string]presence.ContactStatus{a: presence.ContactUnknown}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := presence.New()
			feed := v.Feed("ast1")
			p := NewPresence(presOptions())
			if tc.event != "" {
				for _, ev := range aritest.ContactEvents("1001", tc.event, time.Millisecond, false, now) {
					applyRaw(t, p, ev, now, feed)
				}
			}
			for uri, d := range tc.details {
				p.SetDetails(ContactRef{"1001", uri}, d, nil)
			}
			eps := []Endpoint{{Technology: "PJSIP", Resource: "1001", State: "online"}}
			feed.Replace(p.Snapshot(eps, map[string][]string{"1001": tc.uris}, now))
			regs, _ := v.Registrations(presence.RegistrationQuery{Limit: presence.MaxLimit})
			if len(regs) != len(tc.uris) {
				t.Fatalf("%d registrations, want %d", len(regs), len(tc.uris))
			}
			for _, r := range regs {
				if r.Status != tc.want[r.Contact] {
					t.Errorf("%s: status %s, want %s", r.Contact, r.Status, tc.want[r.Contact])
				}
				d := tc.details[r.Contact]
				if r.UserAgent != d.UserAgent || !r.Expires.Equal(d.Expires) {
					t.Errorf("%s: user agent %q expires %v, want %q %v", r.Contact, r.UserAgent, r.Expires, d.UserAgent, d.Expires)
				}
				if d.Source != "" && r.Address != d.Source {
					t.Errorf("%s: address %s, want the REGISTER's source %s", r.Contact, r.Address, d.Source)
				}
			}
		})
	}
}

// Phones registered before the adapter connected get their status (no
// 69 s of unknown as seen live), user agent and expiry at the resync;
// a phone registered while connected gets its user agent and expiry
// from the contact object the adapter reads on its ContactStatusChange.
func TestAdapterContactDetails(t *testing.T) {
	srv := aritest.New(t)
	srv.SetEndpoints("offline", "1001", "1002", "1003")
	exp := time.Now().Add(time.Hour).Truncate(time.Second).UTC()
	for i, ua := range []string{"Yealink SIP-T46S", "baresip v4.1.0", "Linphone 5.2"} {
		id, uri := fmt.Sprint(1001+i), fmt.Sprintf("sip:%d@192.0.2.%d:5060", 1001+i, i+1)
		f := map[string]string{"user_agent": ua, "expiration_time": fmt.Sprint(exp.Unix())}
		if id == "1002" {
			f["qualify_frequency"] = "0"
		}
		srv.SetContact(id, uri, f)
		if id != "1003" {
			pushContacts(srv, id, uri, 2*time.Millisecond, false) // before the adapter: no socket hears it
		}
	}
	r := start(t, adapterConfig(srv))
	r.waitConnected(t)
	want := []string{
		"1001 sip:1001@192.0.2.1:5060 reachable Yealink SIP-T46S",
		"1002 sip:1002@192.0.2.2:5060 unknown baresip v4.1.0",
	}
	lines := func() []string {
		regs, _ := r.view.Registrations(presence.RegistrationQuery{Limit: presence.MaxLimit})
		var out []string
		for _, g := range regs {
			if !g.Expires.Equal(exp) {
				continue
			}
			out = append(out, fmt.Sprintf("%s %s %s %s", g.User, g.Contact, g.Status, g.UserAgent))
		}
		slices.Sort(out)
		return out
	}
	if got := lines(); !slices.Equal(got, want) {
		t.Errorf("after the resync:\n got %q\nwant %q", got, want)
	}
	pushContacts(srv, "1003", "sip:1003@192.0.2.3:5060", 2*time.Millisecond, false)
	want = append(want, "1003 sip:1003@192.0.2.3:5060 reachable Linphone 5.2")
	switchtest.WaitFor(t, "the user agent of a phone registered while connected", func() bool { return slices.Equal(lines(), want) })
}
