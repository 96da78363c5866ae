package freeswitch

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/internal/sqldb/sqldbtest"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// routingFixture is one tenant with every kind of routing object,
// provisioned through the Service on a real store.
type routingFixture struct {
	svc    *provisioning.Service
	tenant *provisioning.Tenant
	dids   []string // numbers, in creation order
	plan   *provisioning.Plan
	// ids of the objects the tests call
	accounts                            []*provisioning.Account
	ringAll, seq, rr, random, busyGroup *provisioning.HuntGroup
	// groups whose members are an extension with call waiting off and an
	// external number whose route has two gateways
	seqOut, ringOut    *provisioning.HuntGroup
	office, vip, night *provisioning.Condition
	x100, x101         *provisioning.Extension
	mobile, sipURI     *provisioning.CustomDestination
	gwA, gwB, gwC      *provisioning.Gateway
	// intl is a least-cost route (011… → +…) through carrier-a, -b, -c
	intl               *provisioning.OutboundRoute
	mainMenu, subMenu  *provisioning.IVRMenu
	bobBox, generalBox *provisioning.VoicemailBox
}

func newRoutingFixture(t testing.TB, db *sqldb.DB) *routingFixture {
	t.Helper()
	ctx := context.Background()
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	svc := provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4),
		provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	sc := provisioning.AdminScope()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	f := &routingFixture{svc: svc, tenant: &provisioning.Tenant{Name: "acme"}}
	must(svc.CreateTenant(ctx, sc, f.tenant))
	must(svc.CreateDomain(ctx, sc, &provisioning.Domain{TenantID: f.tenant.ID, Name: "acme.example"}))
	for i := range 4 {
		a := &provisioning.Account{Domain: "acme.example", Username: strconv.Itoa(201 + i), Secret: "secret-secret"}
		must(svc.CreateAccount(ctx, sc, a))
		f.accounts = append(f.accounts, a)
	}
	acct := func(i int) provisioning.Destination {
		return provisioning.Destination{Kind: provisioning.DestAccount, ID: f.accounts[i].ID}
	}
	f.gwA = &provisioning.Gateway{Name: "carrier-a", Host: "192.0.2.10"}
	f.gwB = &provisioning.Gateway{Name: "carrier-b", Host: "192.0.2.11"}
	must(svc.CreateGateway(ctx, sc, f.gwA))
	must(svc.CreateGateway(ctx, sc, f.gwB))
	f.gwC = &provisioning.Gateway{Name: "carrier-c", Host: "192.0.2.12"}
	must(svc.CreateGateway(ctx, sc, f.gwC))
	in := provisioning.RoutingMeta{TenantID: f.tenant.ID}
	for _, r := range []*provisioning.OutboundRoute{
		{RoutingMeta: in, Name: "premium", Priority: 1, Action: provisioning.RouteBlock, Patterns: []provisioning.DialPattern{"1900XXXXXXX"}},
		{RoutingMeta: in, Name: "nanp", Priority: 5, Patterns: []provisioning.DialPattern{"1NXXNXXXXXX", "+1NXXNXXXXXX"}, Strip: 1, Prepend: "+1", GatewayIDs: []int64{f.gwA.ID, f.gwB.ID}},
		{RoutingMeta: in, Name: "911", Priority: 100, Action: provisioning.RouteEmergency, Patterns: []provisioning.DialPattern{"911"}, GatewayIDs: []int64{f.gwB.ID}},
	} {
		must(svc.CreateOutboundRoute(ctx, sc, r))
	}
	f.x100 = &provisioning.Extension{RoutingMeta: in, Number: "100", Name: "reception", Destination: acct(0),
		FollowMe: &provisioning.FollowMe{CallerIDNumber: "+15145550100", Steps: []provisioning.FollowMeStep{
			{Destination: acct(1), RingSecs: 10}, {Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "15145550142"}, RingSecs: 15}}}}
	must(svc.CreateExtension(ctx, sc, f.x100))
	x := provisioning.Destination{Kind: provisioning.DestExtension, ID: f.x100.ID}
	f.x101 = &provisioning.Extension{RoutingMeta: in, Number: "101", Name: "bob", Destination: acct(1), Record: true}
	must(svc.CreateExtension(ctx, sc, f.x101))
	group := func(number string, s provisioning.HuntStrategy, skip bool, ring int, fo provisioning.Destination, members ...provisioning.HuntMember) *provisioning.HuntGroup {
		h := &provisioning.HuntGroup{RoutingMeta: in, Number: number, Name: number, Strategy: s, SkipBusy: skip, RingSecs: ring, Members: members, Failover: fo}
		must(svc.CreateHuntGroup(ctx, sc, h))
		return h
	}
	m := func(d provisioning.Destination, secs int) provisioning.HuntMember {
		return provisioning.HuntMember{Destination: d, RingSecs: secs}
	}
	f.ringAll = group("500", provisioning.HuntRingAll, false, 25, provisioning.Destination{}, m(acct(0), 0), m(acct(1), 0), m(acct(2), 0))
	f.seq = group("501", provisioning.HuntSequential, false, 0, provisioning.Destination{Kind: provisioning.DestExternal, Number: "15145550199"},
		m(x, 10), m(acct(2), 0))
	f.rr = group("502", provisioning.HuntRoundRobin, false, 30, provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: f.ringAll.ID},
		m(acct(0), 10), m(acct(1), 10), m(acct(2), 15))
	f.random = group("503", provisioning.HuntRandom, false, 0, provisioning.Destination{Kind: provisioning.DestBusy}, m(acct(0), 5), m(acct(3), 5))
	f.busyGroup = group("504", provisioning.HuntSequential, true, 0, provisioning.Destination{Kind: provisioning.DestHangup},
		m(acct(0), 8), m(acct(1), 8), m(provisioning.Destination{Kind: provisioning.DestExternal, Number: "19005550100"}, 8))
	f.office = &provisioning.Condition{RoutingMeta: in, Name: "office", TimeZone: "America/Montreal",
		Times: []string{"mon-fri 09:00-17:00", "sat 10:00-12:00", "2026-12-24..2027-01-02"},
		Match: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: f.ringAll.ID}, Miss: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: f.seq.ID}}
	must(svc.CreateCondition(ctx, sc, f.office))
	f.vip = &provisioning.Condition{RoutingMeta: in, Name: "vip", CallerIDs: []string{"+1514634*", "2001"},
		Match: x, Miss: provisioning.Destination{Kind: provisioning.DestCondition, ID: f.office.ID}}
	must(svc.CreateCondition(ctx, sc, f.vip))
	f.night = &provisioning.Condition{RoutingMeta: in, Name: "night", Manual: provisioning.ManualMatch,
		Match: provisioning.Destination{Kind: provisioning.DestHangup}, Miss: x}
	must(svc.CreateCondition(ctx, sc, f.night))
	f.mobile = &provisioning.CustomDestination{RoutingMeta: in, Name: "mobile", Number: "15145550142"}
	must(svc.CreateCustomDestination(ctx, sc, f.mobile))
	f.sipURI = &provisioning.CustomDestination{RoutingMeta: in, Name: "partner", URI: "sip:sales@partner.example", GatewayID: &f.gwB.ID}
	must(svc.CreateCustomDestination(ctx, sc, f.sipURI))
	for _, fw := range []*provisioning.Forward{
		{AccountID: &f.accounts[1].ID, On: provisioning.ForwardBusy, Destination: provisioning.Destination{Kind: provisioning.DestHangup}, Enabled: true},
		{AccountID: &f.accounts[1].ID, On: provisioning.ForwardNoAnswer, AfterSecs: 15, Destination: acct(2), Enabled: true},
		{AccountID: &f.accounts[1].ID, On: provisioning.ForwardUnreachable, Destination: provisioning.Destination{Kind: provisioning.DestExternal, Number: "15145550177"}, Enabled: true},
		{AccountID: &f.accounts[3].ID, On: provisioning.ForwardAlways, Destination: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: f.seq.ID}, Enabled: true},
	} {
		must(svc.CreateForward(ctx, sc, fw))
	}
	off := false // call waiting off: one with forwards, one without
	var waitless []provisioning.Destination
	for i, n := range []string{"102", "103"} {
		x := &provisioning.Extension{RoutingMeta: in, Number: n, Name: "no waiting " + n, Destination: acct(1 + i), CallWaiting: &off}
		if n == "103" { // the caller ID its phone's outside calls carry
			x.CallerIDNumber, x.CallerIDName = "+15145550103", "Front ${desk}"
		}
		must(svc.CreateExtension(ctx, sc, x))
		waitless = append(waitless, provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})
	}
	mobile := provisioning.Destination{Kind: provisioning.DestExternal, Number: "15145550142"} // nanp: carrier-a, then carrier-b
	f.seqOut = group("505", provisioning.HuntSequential, false, 0, provisioning.Destination{},
		m(waitless[1], 10), m(mobile, 12), m(acct(0), 10))
	f.ringOut = group("506", provisioning.HuntRingAll, false, 20, provisioning.Destination{},
		m(acct(0), 0), m(waitless[0], 0), m(mobile, 0))
	// IVR menus: 800 (keys 1, # and 0 to a submenu whose 9 comes back,
	// direct dialling, timeout to 101, invalid unset: hang up).
	clip := &audio.Clip{Rate: 8000, Samples: make([]int16, 4000)}
	for i := range clip.Samples {
		clip.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var wav bytes.Buffer
	must(clip.WriteWAV(&wav))
	greeting := &provisioning.Sound{TenantID: f.tenant.ID, Name: "greeting"}
	must(svc.CreateSound(ctx, sc, greeting, bytes.NewReader(wav.Bytes())))
	f.subMenu = &provisioning.IVRMenu{RoutingMeta: in, Name: "support", GreetingSoundID: greeting.ID, TimeoutSecs: 3,
		Options: []provisioning.IVROption{{Digit: "1", Destination: acct(2)}}, Timeout: provisioning.Destination{Kind: provisioning.DestBusy}}
	must(svc.CreateIVRMenu(ctx, sc, f.subMenu))
	f.mainMenu = &provisioning.IVRMenu{RoutingMeta: in, Number: "800", Name: "main", GreetingSoundID: greeting.ID, InvalidSoundID: &greeting.ID, DirectDial: true,
		Options: []provisioning.IVROption{{Digit: "1", Destination: x}, {Digit: "#", Destination: provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: f.ringAll.ID}},
			{Digit: "0", Destination: provisioning.Destination{Kind: provisioning.DestIVR, ID: f.subMenu.ID}}},
		Timeout: provisioning.Destination{Kind: provisioning.DestExtension, ID: f.x101.ID}}
	must(svc.CreateIVRMenu(ctx, sc, f.mainMenu))
	_, err := svc.UpdateIVRMenu(ctx, sc, f.subMenu.ID, func(m *provisioning.IVRMenu) error {
		m.Options = append(m.Options, provisioning.IVROption{Digit: "9", Destination: provisioning.Destination{Kind: provisioning.DestIVR, ID: f.mainMenu.ID}})
		return nil
	})
	must(err)
	// Voicemail: bob's box (both greetings, 60 s) and a general
	// delivery box that 203 forwards to when not answered in 20 s.
	busyGreeting := &provisioning.Sound{TenantID: f.tenant.ID, Name: "busy greeting"}
	must(svc.CreateSound(ctx, sc, busyGreeting, bytes.NewReader(wav.Bytes())))
	f.bobBox = &provisioning.VoicemailBox{RoutingMeta: in, Number: "9100", Name: "bob", ExtensionID: &f.x101.ID, PIN: "4711",
		UnavailableGreetingID: &greeting.ID, BusyGreetingID: &busyGreeting.ID, MaxMessageSecs: 60}
	must(svc.CreateVoicemailBox(ctx, sc, f.bobBox))
	f.generalBox = &provisioning.VoicemailBox{RoutingMeta: in, Number: "9000", Name: "General Delivery", PIN: "000000"}
	must(svc.CreateVoicemailBox(ctx, sc, f.generalBox))
	must(svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &f.accounts[2].ID, On: provisioning.ForwardNoAnswer, AfterSecs: 20,
		Destination: provisioning.Destination{Kind: provisioning.DestVoicemail, ID: f.generalBox.ID}, Enabled: true}))
	must(svc.CreateForward(ctx, sc, &provisioning.Forward{AccountID: &f.accounts[2].ID, On: provisioning.ForwardBusy,
		Destination: provisioning.Destination{Kind: provisioning.DestVoicemail, ID: f.bobBox.ID}, Enabled: true}))
	for i, d := range []provisioning.Destination{
		{Kind: provisioning.DestCondition, ID: f.vip.ID},
		{Kind: provisioning.DestHuntGroup, ID: f.rr.ID},
		{Kind: provisioning.DestCustom, ID: f.mobile.ID},
		{Kind: provisioning.DestCustom, ID: f.sipURI.ID},
		{Kind: provisioning.DestCondition, ID: f.night.ID},
		acct(3),
		acct(1),
		{Kind: provisioning.DestIVR, ID: f.mainMenu.ID},
		{Kind: provisioning.DestVoicemailMain},
		{Kind: provisioning.DestVoicemail, ID: f.bobBox.ID},
		{Kind: provisioning.DestExtension, ID: f.x101.ID},
		{Kind: provisioning.DestExternal, Number: "011442071234567"}, // the least-cost route, as sb-o
	} {
		n := fmt.Sprintf("+151455501%02d", i)
		d := d
		// recorded: the first (a condition) and the last (an extension
		// that records too)
		must(svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: f.tenant.ID, Number: n, Destination: &d, Record: i == 0 || i == 10}))
		f.dids = append(f.dids, n)
	}
	// Fax: the office fax has a number; the scanner's fax box is reached
	// only through its DID.
	office := &provisioning.FaxBox{RoutingMeta: in, Number: "9300", Name: "office fax"}
	must(svc.CreateFaxBox(ctx, sc, office))
	// 102 listens for fax tones for 8 s (to the office fax)
	_, err = svc.UpdateExtension(ctx, sc, waitless[0].ID, func(e *provisioning.Extension) error {
		e.FaxDetect = &provisioning.FaxDetect{BoxID: office.ID, Seconds: 8}
		return nil
	})
	must(err)
	scanner := &provisioning.FaxBox{RoutingMeta: in, Name: "scanner"}
	must(svc.CreateFaxBox(ctx, sc, scanner))
	must(svc.CreateDID(ctx, sc, &provisioning.DID{TenantID: f.tenant.ID, Number: "+15145550199",
		Destination: &provisioning.Destination{Kind: provisioning.DestFax, ID: scanner.ID}}))
	// made last: the other objects' ids (in the golden file) stay
	f.intl = &provisioning.OutboundRoute{RoutingMeta: in, Name: "intl", Priority: 10, Patterns: []provisioning.DialPattern{"011X."}, Strip: 3, Prepend: "+",
		GatewayIDs: []int64{f.gwA.ID, f.gwB.ID, f.gwC.ID}, Order: provisioning.RouteOrderCost}
	must(svc.CreateOutboundRoute(ctx, sc, f.intl))
	p, err := svc.TenantPlan(ctx, f.tenant.ID)
	must(err)
	f.plan = p
	return f
}

// checkGolden compares got with the golden file path, writing it first
// when write (go test -update).
func checkGolden(t *testing.T, path string, got []byte, write bool) {
	t.Helper()
	if write {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("differs from %s (go test -update rewrites it):\n%s", path, got)
	}
}

// TestRoutingRenderGolden compares the rendered context with
// testdata/routing/*.xml (go test -update rewrites it) and checks that
// it is well-formed.
// testRenderOptions are the fixture node's settings.
var testRenderOptions = renderOptions{Profile: "external", Else: "default", SoundsDir: "/usr/share/freeswitch/sounds/switchboard",
	FaxDir: "/var/spool/freeswitch/fax", RecordingsDir: "/var/spool/freeswitch/recordings"}

func TestRoutingRenderGolden(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		got := renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, testRenderOptions)
		checkGolden(t, filepath.Join("testdata", "routing", "tenant.xml"), got, *update && db.Engine == sqldb.SQLite)
		if _, err := parseDialplan(got); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRoutingRenderMatchesTrace runs the rendered dialplan in a small
// model of mod_dialplan_xml (simDialplan: hunting as parse_exten does it,
// execute_extension coming back, inline sets, time conditions in the
// channel's timezone, nobody answering) and compares what it rings and
// dials with Plan.Trace, for every number and DID, at several times and
// from several callers. It does the same through the live answers (the
// model asking the xml_curl handler for every hunt, as mod_xml_curl
// does), with least-cost routing on: there the least-cost route's
// number goes out through its gateways in the orderer's order, the rest
// as Trace says.
func TestRoutingRenderMatchesTrace(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f := newRoutingFixture(t, db)
		doc := renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, testRenderOptions)
		dp, err := parseDialplan(doc)
		if err != nil {
			t.Fatal(err)
		}
		montreal, _ := time.LoadLocation("America/Montreal")
		times := []time.Time{
			time.Date(2026, 7, 1, 10, 0, 0, 0, montreal),  // Wednesday, office hours
			time.Date(2026, 7, 1, 17, 0, 0, 0, montreal),  // the end minute is out
			time.Date(2026, 7, 1, 16, 59, 0, 0, montreal), // the last minute is in
			time.Date(2026, 7, 4, 11, 0, 0, 0, montreal),  // Saturday morning
			time.Date(2026, 7, 5, 11, 0, 0, 0, montreal),  // Sunday
			time.Date(2026, 12, 27, 3, 0, 0, 0, montreal), // holidays, in the date range
			time.Date(2027, 1, 2, 23, 59, 0, 0, montreal), // last day of the range
			time.Date(2027, 1, 3, 0, 0, 0, 0, montreal),   // just after it (a Sunday)
		}
		callers := []string{"+15146340001", "2001", "2002"}
		type entry struct {
			name string
			d    provisioning.Destination
			ctx  string // where the call enters, and the number dialled
			num  string
		}
		var entries []entry
		for _, x := range f.plan.Extensions {
			entries = append(entries, entry{"extension " + x.Number, provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}, RoutingContext(f.tenant.ID), x.Number})
		}
		for _, h := range f.plan.HuntGroups {
			entries = append(entries, entry{"hunt group " + h.Number, provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}, RoutingContext(f.tenant.ID), h.Number})
		}
		for _, b := range f.plan.Voicemails {
			entries = append(entries, entry{"voicemail " + b.Number, provisioning.Destination{Kind: provisioning.DestVoicemail, ID: b.ID}, RoutingContext(f.tenant.ID), b.Number})
		}
		for _, b := range f.plan.Faxes {
			if b.Number != "" {
				entries = append(entries, entry{"fax " + b.Number, provisioning.Destination{Kind: provisioning.DestFax, ID: b.ID}, RoutingContext(f.tenant.ID), b.Number})
			}
		}
		for _, n := range []string{"15145550123", "+15145550123", "19005551234", "911", "4420", "011442071234567"} {
			entries = append(entries, entry{"dialled " + n, provisioning.Destination{Kind: provisioning.DestExternal, Number: n}, RoutingContext(f.tenant.ID), n})
		}
		dids := map[string]provisioning.DID{}
		for _, d := range f.plan.DIDs {
			entries = append(entries, entry{"DID " + d.Number, *d.Destination, "public", d.Number})
			dids[d.Number] = d
		}
		dp.addDIDs(t, f.plan, testRenderOptions.RecordingsDir)
		// live: the least-cost route's number costs least through
		// carrier-c, then carrier-b, then carrier-a
		fo := &fakeOrderer{prices: map[string]map[int64]string{"+442071234567": {f.gwA.ID: "0.03", f.gwB.ID: "0.02", f.gwC.ID: "0.01"}}}
		live := liveDialplan(t, lcrHandler(f, fo, nil, nil, &bytes.Buffer{}))
		byCost := strings.NewReplacer("dial +442071234567 via carrier-a>carrier-b>carrier-c", "dial +442071234567 via carrier-c>carrier-b>carrier-a")
		for _, e := range entries {
			for _, at := range times {
				for _, caller := range callers {
					steps := f.plan.Trace(e.d, at, caller)
					if d, ok := dids[e.num]; ok && e.ctx == "public" {
						steps = f.plan.TraceDID(d, at, caller, nil) // a record step when the DID records
					}
					want := traceLines(f.plan, steps)
					if e.num == "4420" {
						want = "else default\n" // a number the plan does not route: the phones' own context
					}
					got := dp.call(t, e.ctx, e.num, caller, at)
					if got != want {
						t.Errorf("%s at %s from %s:\nrendered:\n%strace:\n%s", e.name, at.Format(time.RFC3339), caller, got, want)
					}
					want = byCost.Replace(want)
					if got := live.call(t, e.ctx, e.num, caller, at); got != want {
						t.Errorf("%s at %s from %s, live answers:\n%swant:\n%s", e.name, at.Format(time.RFC3339), caller, got, want)
					}
				}
			}
		}
	})
}

// TestRoutingRenderVoicemail: a box's number and a no-answer forward
// leave a message after the box's greeting (the general box: the
// switch's own), bounded to the box's length; a busy forward plays the
// busy greeting; the listening menu takes a phone whose extension owns
// a box to that box, anyone else to the box prompt.
func TestRoutingRenderVoicemail(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, dp, at := simFixture(t, db)
		ctx := RoutingContext(f.tenant.ID)
		g := *f.bobBox.UnavailableGreetingID
		for _, tc := range []struct{ num, want string }{
			{"9100", fmt.Sprintf("voicemail 9100 60s s%d\n", g)},
			{"9000", "voicemail 9000 180s s0\n"},
			{"sb-a" + strconv.FormatInt(f.accounts[2].ID, 10), "ring 203@acme.example 20s\nvoicemail 9000 180s s0\n"},
			{"sb-vm", "voicemail_main\n"},
		} {
			if got := dp.call(t, ctx, tc.num, "2001", at); got != tc.want {
				t.Errorf("%s: got\n%swant\n%s", tc.num, got, tc.want)
			}
		}
		r := renderPlan(f.plan, testRenderOptions)
		busy := r.byKey["sb-a"+strconv.FormatInt(f.accounts[2].ID, 10)+"f"]
		if !strings.Contains(busy, voicemailBoxLabel(f.bobBox.ID, true)+" XML") {
			t.Errorf("the busy forward to a box with a busy greeting does not run its busy label:\n%s", busy)
		}
		main := r.byKey[voicemailMainLabel]
		own := fmt.Sprintf(`expression="^202@acme\.example$"`)
		if !strings.Contains(main, own) || !strings.Contains(main, "check default "+VoicemailDomain(f.tenant.ID)+" 9100") {
			t.Errorf("bob's phone (202) is not sent to its own box 9100:\n%s", main)
		}
		if got := accountBox(f.plan, f.accounts[0].ID); got != nil {
			t.Errorf("account 201 has no extension with a box, got box %s", got.Number)
		}
	})
}

// simFixture is the fixture's plan rendered and parsed for the model,
// and a time when its conditions do not matter.
func simFixture(t *testing.T, db *sqldb.DB) (*routingFixture, *simDialplan, time.Time) {
	t.Helper()
	f := newRoutingFixture(t, db)
	dp, err := parseDialplan(renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, testRenderOptions))
	if err != nil {
		t.Fatal(err)
	}
	return f, dp, time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)
}

// TestRoutingRenderCallWaiting: an extension with call waiting off gives
// busy (or the busy forward) when its phone has a channel, and rings it
// otherwise; a phone whose address holds another's (2202@ holds 202@)
// is not taken for it, nor by a skip_busy group.
func TestRoutingRenderCallWaiting(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, dp, at := simFixture(t, db)
		ctx := RoutingContext(f.tenant.ID)
		trace := func(num string) string {
			for _, x := range f.plan.Extensions {
				if x.Number == num {
					return traceLines(f.plan, f.plan.Trace(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}, at, "2001"))
				}
			}
			for _, h := range f.plan.HuntGroups {
				if h.Number == num {
					return traceLines(f.plan, f.plan.Trace(provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}, at, "2001"))
				}
			}
			t.Fatalf("no number %s", num)
			return ""
		}
		for _, tc := range []struct {
			num    string
			onCall []string
			want   string
		}{
			// its busy forward: bob's box, after its busy greeting
			{"103", []string{"203@acme.example"}, fmt.Sprintf("phone busy\nvoicemail 9100 60s s%d\n", *f.bobBox.BusyGreetingID)},
			{"102", []string{"202@acme.example"}, strings.SplitN(trace("102"), "\n", 2)[0] + "\nphone busy\nrefuse\n"}, // fax detection, then its busy forward: hang up
			{"103", []string{"2203@acme.example", "203@acme.example.org"}, trace("103")},                               // other phones: it rings
			{"103", nil, trace("103")},
			{"101", []string{"202@acme.example"}, trace("101")}, // call waiting on: it rings
			{"504", []string{"2201@acme.example"}, trace("504")},
			{"504", []string{"201@acme.example"}, "phone busy\n" + strings.SplitN(trace("504"), "\n", 2)[1]},
			// Plan.SkipsBusy: in groups without skip_busy, an extension
			// member with call waiting off is left out while its phone is
			// on a call (sequential: its turn fails at once; ring-all:
			// its leg), other members are rung all the same
			{"505", []string{"203@acme.example"}, "phone busy\n" + strings.SplitN(trace("505"), "\n", 2)[1]},
			{"505", []string{"201@acme.example"}, trace("505")},
			{"506", []string{"202@acme.example"}, strings.Replace(trace("506"), "202@acme.example", "error/USER_BUSY", 1)},
			{"506", []string{"201@acme.example"}, trace("506")},
			{"501", []string{"201@acme.example"}, trace("501")}, // an extension member with call waiting on
		} {
			if got := dp.call(t, ctx, tc.num, "2001", at, tc.onCall...); got != tc.want {
				t.Errorf("%s with %v on a call:\n%swant:\n%s", tc.num, tc.onCall, got, tc.want)
			}
		}
	})
}

// TestRoutingRenderCallerID: a number dialled by a phone whose extension
// has a caller ID leaves with it (its name unexpanded); another phone's
// call, or a forward to a number (an sb-o label), keeps its own.
func TestRoutingRenderCallerID(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, dp, at := simFixture(t, db)
		for _, tc := range []struct {
			user, num, wantNum, wantName string
		}{
			{"203", "15145550123", "+15145550103", "Front {desk}"},
			{"203", "911", "+15145550103", "Front {desk}"},
			{"203", "sb-o15145550123", "", ""},
			{"2203", "15145550123", "", ""},
			{"202", "15145550123", "", ""},
		} {
			c := &simCall{t: t, dp: dp, vars: map[string]string{"user_name": tc.user, "domain_name": "acme.example"}, caller: tc.user, at: at}
			c.exec(RoutingContext(f.tenant.ID), tc.num)
			if !strings.Contains(c.out.String(), "dial ") {
				t.Errorf("%s from %s did not dial out: %s", tc.num, tc.user, c.out.String())
			}
			if c.vars["effective_caller_id_number"] != tc.wantNum || c.vars["effective_caller_id_name"] != tc.wantName {
				t.Errorf("%s from %s: caller ID %q %q, want %q %q", tc.num, tc.user,
					c.vars["effective_caller_id_number"], c.vars["effective_caller_id_name"], tc.wantNum, tc.wantName)
			}
		}
	})
}

// traceLines writes a trace as simDialplan writes what it ran: rings and
// dials with their targets as the switch dials them, refusals.
func traceLines(p *provisioning.Plan, steps []provisioning.Step) string {
	var b strings.Builder
	for _, s := range steps {
		switch s.Do {
		case "ring":
			var ts []string
			for _, t := range s.Targets {
				if strings.Contains(t, "@") {
					ts = append(ts, t)
					continue
				}
				out := p.RouteFor(t)
				if len(out.Gateways) == 0 {
					ts = append(ts, "error/NO_ROUTE_DESTINATION")
				} else {
					// every gateway of the route, in failover order
					var gws []string
					for _, g := range out.Gateways {
						gws = append(gws, g.Name)
					}
					ts = append(ts, strings.Join(gws, ">")+"/"+out.Number)
				}
			}
			fmt.Fprintf(&b, "ring %s %ds\n", strings.Join(ts, ","), s.Secs)
		case "dial_out":
			if s.Blocked || (len(s.Gateways) == 0 && !strings.HasPrefix(s.Targets[0], "sip")) {
				b.WriteString("refuse\n")
				continue
			}
			gws := s.Gateways
			if len(gws) == 0 {
				gws = []string{"profile"}
			}
			fmt.Fprintf(&b, "dial %s via %s\n", strings.TrimPrefix(strings.TrimPrefix(s.Targets[0], "sip:"), "sips:"), strings.Join(gws, ">"))
		case "hangup":
			b.WriteString("refuse\n")
		case "busy":
			b.WriteString("busy\n")
		case "voicemail":
			fmt.Fprintf(&b, "voicemail %s %ds s%d\n", s.Targets[0], s.Secs, s.Sound)
		case "voicemail_main":
			b.WriteString("voicemail_main\n")
		case "fax":
			for _, f := range p.Faxes {
				if f.Number == s.Targets[0] || f.Number == "" && f.Name == s.Targets[0] {
					fmt.Fprintf(&b, "fax t%d b%d\n", p.Tenant.ID, f.ID)
				}
			}
		case "menu":
			keys := slices.Sorted(maps.Keys(s.Options))
			fmt.Fprintf(&b, "menu s%d %ds×%d %s\n", s.Sound, s.Secs, s.Plays, strings.Join(keys, ","))
		case "record":
			b.WriteString("record\n")
		case "fax_detect":
			for _, f := range p.Faxes {
				if n := strings.TrimPrefix(s.Targets[0], "fax "); f.Number == n || f.Number == "" && f.Name == n {
					fmt.Fprintf(&b, "fax_detect %s %ds\n", faxBoxLabel(f.ID), s.Secs)
				}
			}
		}
	}
	return b.String()
}

// simDialplan is a model of mod_dialplan_xml and the applications the
// renderer uses, enough to run a call in which nobody answers (or, with
// simCall.gatewayAnswers, the first gateway leg that is not congested
// answers).
type simDialplan struct {
	contexts map[string][]simExt
	// fetch, when set, answers every hunt as mod_xml_curl does: the
	// handler is asked for the context and number with the channel's
	// data (liveDialplan); false is its not-found answer.
	fetch func(c *simCall, ctx, num string) ([]simExt, bool)
}

type simExt struct {
	Name     string    `xml:"name,attr"`
	Continue string    `xml:"continue,attr"`
	Conds    []simCond `xml:"condition"`
}

type simCond struct {
	Attrs   []xml.Attr  `xml:",any,attr"`
	Actions []simAction `xml:",any"`
}

type simAction struct {
	XMLName xml.Name
	App     string `xml:"application,attr"`
	Data    string `xml:"data,attr"`
	Inline  string `xml:"inline,attr"`
}

func (c simCond) attr(name string) string {
	for _, a := range c.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func parseDialplan(doc []byte) (*simDialplan, error) {
	type context struct {
		Name string   `xml:"name,attr"`
		Exts []simExt `xml:"extension"`
	}
	// the file (<include><context>) or an xml_curl answer
	// (<document><section><context>)
	var root struct {
		Contexts []context `xml:"context"`
		Section  struct {
			Contexts []context `xml:"context"`
		} `xml:"section"`
	}
	if err := xml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("the dialplan is not well-formed XML: %w", err)
	}
	dp := &simDialplan{contexts: map[string][]simExt{}}
	for _, c := range append(root.Contexts, root.Section.Contexts...) {
		dp.contexts[c.Name] = c.Exts
	}
	return dp, nil
}

// addDIDs adds the public context with p's DIDs, as the DID fallback
// file writes them.
func (dp *simDialplan) addDIDs(t *testing.T, p *provisioning.Plan, recDir string) {
	t.Helper()
	var dids xmlBuilder
	dids.open(0, "include")
	dids.open(1, "context", "name", "public")
	for _, d := range p.DIDs {
		dids.raw(didFallbackTransfer(d, recDir))
	}
	dids.close(1, "context")
	dids.close(0, "include")
	pub, err := parseDialplan([]byte(dids.String()))
	if err != nil {
		t.Fatal(err)
	}
	dp.contexts["public"] = pub.contexts["public"]
}

// simCall is one call's channel.
type simCall struct {
	t      *testing.T
	dp     *simDialplan
	vars   map[string]string
	caller string
	at     time.Time
	out    strings.Builder
	done   bool
	depth  int
	// onCall are the phones (user@domain) on a call: each has a channel
	// named sofia/internal/<phone>.
	onCall []string
	// ringReady: ring_ready ran (the caller got its 180).
	ringReady bool
	// recorded are the files record_session was started on.
	recorded []string
	// faxDetect is the fax box label and time fax detection listens for.
	faxDetect string
	// answered: the caller's channel was answered (answer, or the call
	// started answered); gatewayAnswers: a gateway leg dialled on its
	// own answers instead of failing with 503.
	answered, gatewayAnswers bool
	// exports are the names export gave (nolocal: included), in order:
	// copied onto every leg the channel originates.
	exports []string
}

// call runs a call to num entering ctx and returns what it did.
func (dp *simDialplan) call(t *testing.T, ctx, num, caller string, at time.Time, onCall ...string) string {
	c := &simCall{t: t, dp: dp, vars: map[string]string{"uuid": "0a1b2c3d-0000-4000-8000-000000000001"}, caller: caller, at: at, onCall: onCall}
	c.exec(ctx, num)
	return c.out.String()
}

// exec hunts num in ctx and runs the applications found.
func (c *simCall) exec(ctx, num string) {
	c.depth++
	defer func() { c.depth-- }()
	if c.depth > 64 {
		c.t.Fatalf("execute_extension nested too deep at %s", num)
	}
	exts, ok := c.dp.contexts[ctx]
	if c.dp.fetch != nil {
		exts, ok = c.dp.fetch(c, ctx, num)
	}
	if !ok {
		fmt.Fprintf(&c.out, "else %s\n", ctx)
		c.done = true
		return
	}
	var apps []simAction
	for _, e := range exts {
		proceed, matched := c.parse(e, num, &apps)
		_ = matched
		if proceed && e.Continue != "true" {
			break
		}
	}
	for _, a := range apps {
		if c.done {
			return
		}
		c.run(ctx, a)
	}
}

// parse is parse_exten: conditions in order, break rules, inline sets.
func (c *simCall) parse(e simExt, num string, apps *[]simAction) (proceed, matched bool) {
	for _, cond := range e.Conds {
		pass, captures := c.holds(cond, num)
		anti := !pass
		added := false
		for _, a := range cond.Actions {
			if (a.XMLName.Local == "anti-action") != anti {
				continue
			}
			a.Data = substitute(a.Data, captures)
			added = true
			if a.Inline == "true" {
				c.run("", a)
			} else {
				*apps = append(*apps, a)
			}
		}
		proceed = pass || (anti && added)
		br := cond.attr("break")
		if br == "" {
			br = "on-false"
		}
		if !pass && br == "on-false" || pass && br == "on-true" || br == "always" {
			break
		}
	}
	return proceed, true
}

func substitute(s string, captures []string) string {
	for i := len(captures) - 1; i >= 1; i-- {
		s = strings.ReplaceAll(s, "$"+strconv.Itoa(i), captures[i])
	}
	return s
}

// holds evaluates one condition: its time attributes in the channel's
// timezone, its field against its expression.
func (c *simCall) holds(cond simCond, num string) (bool, []string) {
	loc := time.UTC
	if tz := c.vars["timezone"]; tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil {
			c.t.Fatalf("timezone %q: %v", tz, err)
		}
		loc = l
	}
	now := c.at.In(loc)
	checks := []struct {
		attr string
		val  int
	}{{"wday", int(now.Weekday()) + 1}, {"year", now.Year()}, {"mon", int(now.Month())}, {"mday", now.Day()}}
	for _, ch := range checks {
		if v := cond.attr(ch.attr); v != "" && !numberCmp(v, ch.val) {
			return false, nil
		}
	}
	if v := cond.attr("time-of-day"); v != "" {
		var h1, m1, s1, h2, m2, s2 int
		if _, err := fmt.Sscanf(v, "%d:%d:%d-%d:%d:%d", &h1, &m1, &s1, &h2, &m2, &s2); err != nil {
			c.t.Fatalf("time-of-day %q: %v", v, err)
		}
		val, lo, hi := now.Hour()*3600+now.Minute()*60+now.Second(), h1*3600+m1*60+s1, h2*3600+m2*60+s2
		if !(lo <= hi && val >= lo && val <= hi || lo > hi && (val >= lo || val <= hi)) {
			return false, nil
		}
	}
	field := cond.attr("field")
	if field == "" {
		return true, nil
	}
	var data string
	switch {
	case field == "destination_number":
		data = num
	case field == "caller_id_number":
		data = c.caller
	default:
		data = c.expand(field)
	}
	re, err := regexp.Compile(cond.attr("expression"))
	if err != nil {
		c.t.Fatalf("expression %q: %v", cond.attr("expression"), err)
	}
	m := re.FindStringSubmatch(data)
	return m != nil, m
}

// numberCmp is switch_number_cmp / switch_dow_cmp on numbers: a comma
// list of values and ranges.
func numberCmp(expr string, v int) bool {
	for _, part := range strings.Split(expr, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, _ := strconv.Atoi(a)
		hi := lo
		if isRange {
			hi, _ = strconv.Atoi(b)
		}
		if v >= lo && v <= hi {
			return true
		}
	}
	return false
}

var simVarRe = regexp.MustCompile(`\$\{([^{}]+)\}`)

// expand expands ${var}, ${var:offset} and the APIs the renderer calls:
// show channels like lists the channels of the phones on a call whose
// name holds the text (a substring, as the switch's SQL like), nothing
// is remembered, the draw gives 0.
func (c *simCall) expand(s string) string {
	return simVarRe.ReplaceAllStringFunc(s, func(m string) string {
		name := m[2 : len(m)-1]
		switch {
		case strings.HasPrefix(name, "show(channels like "):
			like := strings.TrimSuffix(strings.TrimPrefix(name, "show(channels like "), ")")
			out := "uuid,direction,created,created_epoch,name,state,cid_name,cid_num\n"
			n := 0
			for i, p := range c.onCall {
				if strings.Contains("sofia/internal/"+p, like) {
					out += fmt.Sprintf("u%d,inbound,,,sofia/internal/%s,CS_EXECUTE,,%s\n", i, p, strings.Split(p, "@")[0])
					n++
				}
			}
			return fmt.Sprintf("%s\n%d total.\n", out, n)
		case strings.HasPrefix(name, "db(select/"):
			return ""
		case strings.HasPrefix(name, "expr("):
			return "0"
		}
		if v, off, ok := strings.Cut(name, ":"); ok {
			n, _ := strconv.Atoi(off)
			val := c.vars[v]
			return val[min(n, len(val)):]
		}
		return c.vars[name]
	})
}

// run runs one application.
func (c *simCall) run(ctx string, a simAction) {
	data := c.expand(a.Data)
	switch a.App {
	case "set":
		k, v, _ := strings.Cut(data, "=")
		c.vars[k] = v
	case "execute_extension":
		f := strings.Fields(data)
		c.exec(f[2], f[0])
	case "transfer":
		f := strings.Fields(data)
		c.exec(f[2], f[0])
		c.done = true
	case "ring_ready":
		c.ringReady = true
	case "hangup":
		if !regexp.MustCompile(`^[A-Z_]+$`).MatchString(data) {
			c.t.Errorf("hangup %q (from %q): not a cause name", data, a.Data)
		}
		if c.depth > 1 || data == "CALL_REJECTED" || data == "USER_BUSY" || data == "NO_ROUTE_DESTINATION" {
			if data == "USER_BUSY" {
				c.out.WriteString("busy\n")
			} else {
				c.out.WriteString("refuse\n")
			}
		}
		c.done = true
	case "bridge":
		c.bridge(data)
	case "answer":
		c.answered = true
	case "export":
		// switch_channel_export_variable_var_check: set under its whole
		// name (a nolocal: one is then no variable of this channel's),
		// listed in export_vars
		k, v, _ := strings.Cut(data, "=")
		c.vars[k] = v
		c.exports = append(c.exports, k)
	case "play_and_get_digits":
		c.menu(data)
	case "playback":
		c.vars["sim_played"] = strings.TrimSuffix(filepath.Base(data), ".wav")
	case "phrase":
		if !strings.HasPrefix(data, "voicemail_play_greeting,") {
			c.t.Errorf("phrase %q: want mod_voicemail's greeting", data)
		}
		c.vars["sim_played"] = "s0"
	case "sched_hangup":
		c.vars["sim_hangup_after"] = strings.TrimPrefix(strings.Fields(data)[0], "+")
	case "voicemail":
		c.voicemail(data)
	case "rxfax":
		c.rxfax(data)
	case "spandsp_start_fax_detect":
		// <app> '<arg>' <timeout>: a transfer to a fax box's label
		m := regexp.MustCompile(`^transfer '(sb-f[0-9]+) XML (sb-t[0-9]+)' ([0-9]+)$`).FindStringSubmatch(data)
		if m == nil || c.vars["ringback"] != ringTone || c.vars["transfer_ringback"] != ringTone {
			c.t.Errorf("spandsp_start_fax_detect %q (ringback %q, transfer_ringback %q)", data, c.vars["ringback"], c.vars["transfer_ringback"])
			break
		}
		c.faxDetect = m[1] + " " + m[3] + "s"
		fmt.Fprintf(&c.out, "fax_detect %s\n", c.faxDetect)
	case "record_session":
		file, vars, _ := strings.Cut(data, " ")
		if vars != recordingVars {
			c.t.Errorf("record_session %q: want the variables %s", data, recordingVars)
		}
		if c.vars[recordingGuard] != file || c.vars["ringback"] != ringTone {
			c.t.Errorf("record_session %s with %s=%q, ringback %q", file, recordingGuard, c.vars[recordingGuard], c.vars["ringback"])
		}
		c.recorded = append(c.recorded, file)
		c.out.WriteString("record\n")
		if len(c.recorded) > 1 {
			c.t.Errorf("the call is recorded twice: %v", c.recorded)
		}
	default:
		c.t.Fatalf("the simulator does not know application %s", a.App)
	}
}

var legVarsRe = regexp.MustCompile(`^\[([^\]]*)\]`)

// bridge rings (phones and gateway legs of a group) or dials out (one
// gateway leg without variables, or a profile); nobody answers, gateways
// answer 503. It reads the bridge as switch_ivr_originate does: ':_:'
// threads of an enterprise originate (each its own originate, the caller
// hearing only what ring_ready sent), each thread's {} variables, '|'
// elements tried in turn, ',' legs together with their [] variables. A
// '|' chain must be the gateways of one number failing over on
// congestion only (fail_on_single_reject=failoverReject, each leg with
// its leg_timeout): it is written as one target, gw1>gw2/number. Every
// leg of a ring must ring for the same time (leg_timeout, or the
// thread's originate_timeout).
func (c *simCall) bridge(data string) {
	threads := strings.Split(data, ":_:")
	if len(threads) > 1 && !c.ringReady {
		c.t.Errorf("enterprise originate %q without ring_ready first: the caller hears nothing", data)
	}
	var targets []string
	secs, gatewayOnly := -1, true
	ringFor := func(n int) {
		if secs != -1 && secs != n {
			c.t.Errorf("bridge %q: legs ring for different times (%d, %d s)", data, secs, n)
		}
		secs = n
	}
	for _, th := range threads {
		tvars := map[string]string{}
		if strings.HasPrefix(th, "{") {
			end := strings.Index(th, "}")
			for _, kv := range strings.Split(th[1:end], ",") {
				k, v, _ := strings.Cut(kv, "=")
				tvars[k] = v
			}
			th = th[end+1:]
			gatewayOnly = false
		}
		elems := splitTop(th, '|')
		if len(elems) > 1 {
			// a failover chain
			var gws []string
			num := ""
			for _, e := range elems {
				if !strings.Contains(e, "leg_timeout=") {
					// originate_timeout is not acted on under a cause list
					// in fail_on_single_reject: only leg_timeout ends a leg
					c.t.Errorf("bridge %q: a failover chain's legs without leg_timeout ring for ever", data)
				}
				e, _ = legVars(e, ringFor)
				rest, ok := strings.CutPrefix(e, "sofia/gateway/")
				gw, n, _ := strings.Cut(rest, "/")
				if !ok || num != "" && n != num || strings.Contains(e, ",") {
					c.t.Errorf("bridge %q: a '|' chain that is not one number's gateways", data)
				}
				num = n
				gws = append(gws, gw)
			}
			if tvars["fail_on_single_reject"] != failoverReject {
				c.t.Errorf("bridge %q: a failover chain without fail_on_single_reject=%s: a ring-out or busy would try the next gateway", data, failoverReject)
			}
			targets = append(targets, strings.Join(gws, ">")+"/"+num)
			continue
		}
		if v, ok := tvars["originate_timeout"]; ok {
			n, _ := strconv.Atoi(v)
			ringFor(n)
		}
		for _, leg := range splitTop(th, ',') {
			leg, hasVars := legVars(leg, ringFor)
			gatewayOnly = gatewayOnly && !hasVars
			switch {
			case strings.HasPrefix(leg, "user/"):
				targets = append(targets, strings.TrimPrefix(leg, "user/"))
				gatewayOnly = false
			case strings.HasPrefix(leg, "sofia/gateway/"):
				targets = append(targets, strings.TrimPrefix(leg, "sofia/gateway/"))
			case strings.HasPrefix(leg, "sofia/"):
				targets = append(targets, "profile/"+strings.SplitN(leg, "/", 3)[2])
			default:
				targets = append(targets, leg)
				gatewayOnly = false
			}
		}
	}
	cause := "NO_ANSWER"
	switch {
	case len(targets) == 1 && targets[0] == "error/USER_BUSY":
		c.out.WriteString("phone busy\n")
		cause = "USER_BUSY"
	case gatewayOnly && len(targets) == 1:
		gw, num, _ := strings.Cut(targets[0], "/")
		c.dialOut(gw, num)
		cause = "NORMAL_TEMPORARY_FAILURE"
		if c.gatewayAnswers {
			c.gatewayAnswered()
			return
		}
	default:
		fmt.Fprintf(&c.out, "ring %s %ds\n", strings.Join(targets, ","), max(secs, 0))
	}
	// as mod_dptools and switch_ivr_(enterprise_)originate leave them
	c.vars["originate_failed_cause"] = cause
	c.vars["originate_disposition"] = cause
	if len(threads) > 1 {
		c.vars["originate_disposition"] = "failure"
	}
}

// gatewayAnswered: the gateway leg just dialled answered. Its channel
// has the caller's exported variables (switch_channel_process_export,
// without their nolocal: prefix); its execute_on_answer* ones run as it
// is marked answered, then the caller's, when the bridge answers the
// caller (a caller answered before does not answer again: its never
// run). A sched_hangup +N among them is the call's limit, written as
// "answered, limit Ns" ("answered, no limit" without one). The call
// then ends with the bridge (hangup_after_bridge) or goes on.
func (c *simCall) gatewayAnswered() {
	leg := map[string]string{}
	for _, k := range c.exports {
		name := strings.TrimPrefix(strings.TrimPrefix(k, "nolocal:"), "_nolocal_")
		leg[name] = c.vars[k]
	}
	limit := -1
	fire := func(vars map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			if !strings.HasPrefix(k, "execute_on_answer") {
				continue
			}
			f := strings.Fields(vars[k])
			if len(f) < 2 || f[0] != "sched_hangup" || !strings.HasPrefix(f[1], "+") {
				continue
			}
			if n, err := strconv.Atoi(f[1][1:]); err == nil && (limit == -1 || n < limit) {
				limit = n
			}
		}
	}
	fire(leg)
	if !c.answered {
		fire(c.vars)
	}
	c.answered = true
	if limit >= 0 {
		fmt.Fprintf(&c.out, "answered, limit %ds\n", limit)
	} else {
		c.out.WriteString("answered, no limit\n")
	}
	c.vars["originate_disposition"] = "SUCCESS"
	if c.vars["hangup_after_bridge"] == "true" {
		c.done = true
	}
}

// legVars strips a leg's [] variables, passing its leg_timeout to
// ringFor; hasVars when it had some.
func legVars(leg string, ringFor func(int)) (rest string, hasVars bool) {
	m := legVarsRe.FindStringSubmatch(leg)
	if m == nil {
		return leg, false
	}
	for _, kv := range strings.Split(m[1], ",") {
		if v, ok := strings.CutPrefix(kv, "leg_timeout="); ok {
			n, _ := strconv.Atoi(v)
			ringFor(n)
		}
	}
	return leg[len(m[0]):], true
}

// dialOut records one gateway tried; consecutive tries of the same
// number are one dial with its gateways in order.
func (c *simCall) dialOut(gw, num string) {
	s := c.out.String()
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	last := lines[len(lines)-1]
	prefix := "dial " + num + " via "
	if c.vars["sb_dialing"] == num && strings.HasPrefix(last, prefix) {
		c.out.Reset()
		c.out.WriteString(strings.Join(lines[:len(lines)-1], "\n"))
		if len(lines) > 1 {
			c.out.WriteString("\n")
		}
		fmt.Fprintf(&c.out, "%s>%s\n", last, gw)
		return
	}
	c.vars["sb_dialing"] = num
	fmt.Fprintf(&c.out, "%s%s\n", prefix, gw)
}

// menu plays an IVR menu to a caller who presses nothing: it says the
// sound played, the wait and tries, and the single keys its expression
// takes (its longer entries are the plan's numbers, direct dialling).
func (c *simCall) menu(data string) {
	f := strings.Fields(data)
	if len(f) < 10 || f[4] != "none" || f[7] != "sb_ivr_key" {
		c.t.Fatalf("play_and_get_digits %q: want min max tries timeout none file invalid sb_ivr_key regex digit-timeout", data)
	}
	tries, _ := strconv.Atoi(f[2])
	ms, _ := strconv.Atoi(f[3])
	sound := strings.TrimSuffix(filepath.Base(f[5]), ".wav")
	var keys []string
	for _, alt := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(f[8], "^(?:"), ")$"), "|") {
		if k := strings.ReplaceAll(alt, `\`, ""); len(k) == 1 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	fmt.Fprintf(&c.out, "menu %s %ds×%d %s\n", sound, ms/1000, tries, strings.Join(keys, ","))
	c.vars["sb_ivr_key"], c.vars["sb_ivr_key_invalid"] = "", ""
}

// voicemail leaves a message (it says the box, the longest message the
// sched_hangup before it allows after the beep, and the greeting played
// before it) or opens the listening menu; either way the call ends.
func (c *simCall) voicemail(data string) {
	f := strings.Fields(data)
	switch {
	case len(f) >= 3 && f[0] == "check" && f[1] == "default":
		if _, ok := voicemailDomainTenant(f[2]); !ok {
			c.t.Errorf("voicemail %q: not a voicemail domain", data)
		}
		c.out.WriteString("voicemail_main\n")
	case len(f) == 3 && f[0] == "default":
		if _, ok := voicemailDomainTenant(f[1]); !ok {
			c.t.Errorf("voicemail %q: not a voicemail domain", data)
		}
		if c.vars["skip_greeting"] != "true" || c.vars["skip_instructions"] != "true" {
			c.t.Errorf("voicemail %q: the greeting must be played before it", data)
		}
		secs, _ := strconv.Atoi(c.vars["sim_hangup_after"])
		fmt.Fprintf(&c.out, "voicemail %s %ds %s\n", f[2], secs-1, c.vars["sim_played"])
	default:
		c.t.Errorf("voicemail %q: want default|check default <domain> <box>", data)
	}
	c.done = true
}

// splitTop splits a bridge string at sep outside the legs' [] and {}.
func splitTop(s string, sep byte) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// rxfax receives a fax into the fax_dir of testRenderOptions, in a file
// the indexer can read tenant and box from (it says them); T.38 must
// have been allowed (not requested) before it, and the call must be answered.
func (c *simCall) rxfax(data string) {
	dir, name := filepath.Split(data)
	if filepath.Clean(dir) != testRenderOptions.FaxDir {
		c.t.Errorf("rxfax %q: not in fax_dir %s", data, testRenderOptions.FaxDir)
	}
	tenant, box, uuid, ok := parseFaxFileName(name)
	if !ok || uuid != c.vars["uuid"] {
		c.t.Errorf("rxfax %q: not a fax file name of the call %q", data, c.vars["uuid"])
	}
	if c.vars["fax_enable_t38"] != "true" || c.vars["fax_enable_t38_request"] == "true" {
		c.t.Errorf("rxfax %q: T.38 not accepted, or requested", data)
	}
	fmt.Fprintf(&c.out, "fax t%d b%d\n", tenant, box)
	c.done = true
}

// TestRoutingRenderRecording runs calls through the model and checks
// which are recorded, each at most once (the model fails a second
// record_session), into recordings_dir/t<tenant>-<uuid>.wav: a DID that
// records (also when its extension records: once); an extension that
// records, whoever calls it and through a forward or a DID that does
// not; the calls its phone (202) places, to numbers and outside; no
// other call. With the tenant's policy recording all, every call but
// the fax box's. Without recordings_dir nothing is recorded.
func TestRoutingRenderRecording(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, _, at := simFixture(t, db)
		tenantCtx := RoutingContext(f.tenant.ID)
		want := "/var/spool/freeswitch/recordings/" + recordingFileName(f.tenant.ID, "0a1b2c3d-0000-4000-8000-000000000001")
		type call struct {
			name, ctx, num, user string
		}
		did := func(i int) call { return call{"DID " + f.dids[i], "public", f.dids[i], ""} }
		x101 := "sb-x" + strconv.FormatInt(f.x101.ID, 10)
		run := func(p *provisioning.Plan, o renderOptions, c call) []string {
			dp, err := parseDialplan(renderRoutingFallback("fs1", []*provisioning.Plan{p}, o))
			if err != nil {
				t.Fatal(err)
			}
			dp.addDIDs(t, p, o.RecordingsDir)
			sc := &simCall{t: t, dp: dp, vars: map[string]string{"uuid": "0a1b2c3d-0000-4000-8000-000000000001"}, caller: "+15146340001", at: at}
			if c.user != "" {
				sc.vars["user_name"], sc.vars["domain_name"], sc.caller = c.user, "acme.example", c.user
			}
			sc.exec(c.ctx, c.num)
			return sc.recorded
		}
		recorded := []call{
			did(0),  // the DID records
			did(10), // the DID and its extension (101) record: once
			{"101 from outside", tenantCtx, "101", ""},
			{"101's label (a forward, an IVR key)", tenantCtx, x101, ""},
			{"202 dials 100", tenantCtx, "100", "202"},
			{"202 dials out", tenantCtx, "15145550123", "202"},
			{"202 dials a hunt group", tenantCtx, "500", "202"},
		}
		notRecorded := []call{
			did(1), did(6), // a DID that does not record, to 202's account itself (not its extension)
			{"201 dials 100", tenantCtx, "100", "201"},
			{"201 dials out", tenantCtx, "15145550123", "201"},
			{"2202 dials out", tenantCtx, "15145550123", "2202"},
			{"a fax box", tenantCtx, "9300", "202"},
		}
		for _, c := range recorded {
			if got := run(f.plan, testRenderOptions, c); !slices.Equal(got, []string{want}) {
				t.Errorf("%s: recorded %v, want %s", c.name, got, want)
			}
		}
		for _, c := range notRecorded {
			if got := run(f.plan, testRenderOptions, c); len(got) != 0 {
				t.Errorf("%s: recorded %v, want nothing", c.name, got)
			}
		}
		// without recordings_dir: nothing
		off := testRenderOptions
		off.RecordingsDir = ""
		for _, c := range recorded {
			if got := run(f.plan, off, c); len(got) != 0 {
				t.Errorf("%s without recordings_dir: recorded %v", c.name, got)
			}
		}
		// the tenant records all: every call but the fax box's
		all := *f.plan
		all.Recording = &provisioning.RecordingPolicy{All: true}
		for _, c := range append(slices.Clone(recorded), notRecorded...) {
			got := run(&all, testRenderOptions, c)
			if c.num == "9300" {
				if len(got) != 0 {
					t.Errorf("all, %s: recorded %v", c.name, got)
				}
				continue
			}
			if !slices.Equal(got, []string{want}) {
				t.Errorf("all, %s: recorded %v, want %s", c.name, got, want)
			}
		}
	})
}

// TestRoutingRenderFaxDetect: a call to an extension that detects fax
// (102: 8 s, to the office fax) is answered and listens for CNG with a
// transfer to the box's label, then rings the phone as Trace says
// (TestRoutingRenderMatchesTrace); others do not listen; without
// fax_dir nothing listens (the box could not receive).
func TestRoutingRenderFaxDetect(t *testing.T) {
	sqldbtest.Each(t, func(t *testing.T, db *sqldb.DB) {
		f, _, at := simFixture(t, db)
		var office *provisioning.FaxBox
		for _, b := range f.plan.Faxes {
			if b.Number == "9300" {
				office = b
			}
		}
		detect := func(o renderOptions, num string) string {
			dp, err := parseDialplan(renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, o))
			if err != nil {
				t.Fatal(err)
			}
			c := &simCall{t: t, dp: dp, vars: map[string]string{"uuid": "u1"}, caller: "+15146340001", at: at}
			c.exec(RoutingContext(f.tenant.ID), num)
			if !strings.Contains(c.out.String(), "ring ") {
				t.Errorf("%s did not ring: %s", num, c.out.String())
			}
			return c.faxDetect
		}
		if got, want := detect(testRenderOptions, "102"), faxBoxLabel(office.ID)+" 8s"; got != want {
			t.Errorf("102 detects %q, want %q", got, want)
		}
		if got := detect(testRenderOptions, "101"); got != "" {
			t.Errorf("101 detects %q", got)
		}
		off := testRenderOptions
		off.FaxDir = ""
		if got := detect(off, "102"); got != "" {
			t.Errorf("without fax_dir 102 detects %q", got)
		}
		// the detector's transfer target answers and receives
		dp, err := parseDialplan(renderRoutingFallback("fs1", []*provisioning.Plan{f.plan}, testRenderOptions))
		if err != nil {
			t.Fatal(err)
		}
		if got := dp.call(t, RoutingContext(f.tenant.ID), faxBoxLabel(office.ID), "+15146340001", at); !strings.HasPrefix(got, "fax ") {
			t.Errorf("the box's label: %q", got)
		}
	})
}
