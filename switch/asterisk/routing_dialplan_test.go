package asterisk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-voip/switchboard/internal/audio"
	"github.com/switchboard-voip/switchboard/internal/sqldb"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/sqlstore"
)

// routingFixture is one tenant with every routing object, built through
// the Service so that the plan is what the daemon renders.
type routingFixture struct {
	svc      *provisioning.Service
	tenant   *provisioning.Tenant
	accounts map[string]*provisioning.Account
	gateways map[string]*provisioning.Gateway
	objects  map[string]provisioning.Destination
}

func newRoutingService(t testing.TB) *provisioning.Service {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "routing.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := sqlstore.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return provisioning.NewService(sqlstore.New(db), provisioning.WithBcryptCost(4),
		provisioning.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
}

// testSound uploads half a second of a tone as sound name of tenant.
func testSound(t testing.TB, svc *provisioning.Service, tenant int64, name string) *provisioning.Sound {
	t.Helper()
	c := &audio.Clip{Rate: 8000, Samples: make([]int16, 4000)}
	for i := range c.Samples {
		c.Samples[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	var b bytes.Buffer
	must(t, c.WriteWAV(&b))
	s := &provisioning.Sound{TenantID: tenant, Name: name}
	must(t, svc.CreateSound(context.Background(), provisioning.AdminScope(), s, &b))
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// routingPlanFixture builds: accounts alice bob carol dave erin; gateways
// gw-a, gw-b; routes 911 (emergency), 1900 (block), 00. (strip 2,
// prepend +, gw-a then gw-b); extensions 100 (alice, caller ID), 101
// (bob, call waiting off, busy→erin, follow-me carol then an external
// number), 102 (carol, call waiting off), 103 (carol, call waiting
// off, follow-me alice), 104 (dave, call waiting off,
// whose forwards are busy→100, no answer after 15 s→external,
// unreachable→erin); hunt groups 500 ring_all, 501 sequential with
// failover, 502 round_robin, 503 random skip_busy, 504 ring_all
// skip_busy; conditions by time window and by caller ID; a custom
// destination; DIDs to each kind.
func routingPlanFixture(t testing.TB, svc *provisioning.Service, host string, gwPort int) *routingFixture {
	t.Helper()
	ctx := context.Background()
	admin := provisioning.AdminScope()
	f := &routingFixture{svc: svc, accounts: map[string]*provisioning.Account{}, gateways: map[string]*provisioning.Gateway{}, objects: map[string]provisioning.Destination{}}
	f.tenant = &provisioning.Tenant{Name: "acme"}
	must(t, svc.CreateTenant(ctx, admin, f.tenant))
	dom := &provisioning.Domain{TenantID: f.tenant.ID, Name: "acme.example"}
	must(t, svc.CreateDomain(ctx, admin, dom))
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin"} {
		a := &provisioning.Account{DomainID: dom.ID, Username: u, Secret: "secret-" + u}
		must(t, svc.CreateAccount(ctx, admin, a))
		f.accounts[u] = a
	}
	for _, g := range []string{"gw-a", "gw-b"} {
		gw := &provisioning.Gateway{Name: g, Host: host, Port: gwPort, TenantID: &f.tenant.ID}
		must(t, svc.CreateGateway(ctx, admin, gw))
		f.gateways[g] = gw
	}
	in := provisioning.RoutingMeta{TenantID: f.tenant.ID}
	acct := func(u string) provisioning.Destination {
		return provisioning.Destination{Kind: provisioning.DestAccount, ID: f.accounts[u].ID}
	}
	ext := func(n string) provisioning.Destination { return f.objects[n] }
	external := func(n string) provisioning.Destination {
		return provisioning.Destination{Kind: provisioning.DestExternal, Number: n}
	}
	gws := []int64{f.gateways["gw-a"].ID, f.gateways["gw-b"].ID}
	for _, r := range []*provisioning.OutboundRoute{
		{RoutingMeta: in, Name: "intl", Priority: 5, Patterns: []provisioning.DialPattern{"00."}, Strip: 2, Prepend: "+", GatewayIDs: gws},
		{RoutingMeta: in, Name: "premium", Priority: 1, Action: provisioning.RouteBlock, Patterns: []provisioning.DialPattern{"1900XXXXXXX"}},
		{RoutingMeta: in, Name: "emergency", Priority: 100, Action: provisioning.RouteEmergency, Patterns: []provisioning.DialPattern{"911", "112"}, GatewayIDs: gws[1:]},
	} {
		must(t, svc.CreateOutboundRoute(ctx, admin, r))
	}
	addExt := func(x *provisioning.Extension) {
		x.RoutingMeta = in
		must(t, svc.CreateExtension(ctx, admin, x))
		f.objects[x.Number] = provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID}
	}
	addExt(&provisioning.Extension{Number: "100", Name: "Alice", Destination: acct("alice"), CallerIDNumber: "+15145550100", CallerIDName: "Acme Alice"})
	off := false
	addExt(&provisioning.Extension{Number: "101", Name: "Bob", Destination: acct("bob"), CallWaiting: &off,
		FollowMe: &provisioning.FollowMe{CallerIDNumber: "+15145550101", Steps: []provisioning.FollowMeStep{{Destination: acct("carol"), RingSecs: 10}, {Destination: external("0015145550199"), RingSecs: 20}}}})
	addExt(&provisioning.Extension{Number: "104", Name: "Dave", Destination: acct("dave"), CallWaiting: &off})
	for _, fw := range []*provisioning.Forward{
		{AccountID: &f.accounts["dave"].ID, On: provisioning.ForwardBusy, Destination: ext("100"), Enabled: true},
		{AccountID: &f.accounts["dave"].ID, On: provisioning.ForwardNoAnswer, AfterSecs: 15, Destination: external("0015145550142"), Enabled: true},
		{AccountID: &f.accounts["dave"].ID, On: provisioning.ForwardUnreachable, Destination: acct("erin"), Enabled: true},
		{AccountID: &f.accounts["erin"].ID, On: provisioning.ForwardAlways, Destination: acct("carol"), Enabled: false},
	} {
		must(t, svc.CreateForward(ctx, admin, fw))
	}
	addHunt := func(h *provisioning.HuntGroup) {
		h.RoutingMeta = in
		must(t, svc.CreateHuntGroup(ctx, admin, h))
		f.objects[h.Number] = provisioning.Destination{Kind: provisioning.DestHuntGroup, ID: h.ID}
	}
	three := []provisioning.HuntMember{{Destination: acct("alice"), RingSecs: 10}, {Destination: acct("bob"), RingSecs: 10}, {Destination: acct("carol"), RingSecs: 10}}
	addHunt(&provisioning.HuntGroup{Number: "500", Name: "sales", Strategy: provisioning.HuntRingAll, RingSecs: 20, Members: three})
	addHunt(&provisioning.HuntGroup{Number: "501", Name: "support", Strategy: provisioning.HuntSequential, Members: three[:2], Failover: acct("carol")})
	addHunt(&provisioning.HuntGroup{Number: "502", Name: "rotation", Strategy: provisioning.HuntRoundRobin, Members: three})
	addHunt(&provisioning.HuntGroup{Number: "503", Name: "lottery", Strategy: provisioning.HuntRandom, SkipBusy: true, Members: three, Failover: provisioning.Destination{Kind: provisioning.DestBusy}})
	addHunt(&provisioning.HuntGroup{Number: "504", Name: "free ones", Strategy: provisioning.HuntRingAll, SkipBusy: true, RingSecs: 15,
		Members: []provisioning.HuntMember{{Destination: ext("100")}, {Destination: acct("bob")}, {Destination: external("0015145550177")}}, Failover: ext("104")})
	addCond := func(name string, c *provisioning.Condition) {
		c.RoutingMeta = in
		must(t, svc.CreateCondition(ctx, admin, c))
		f.objects[name] = provisioning.Destination{Kind: provisioning.DestCondition, ID: c.ID}
	}
	addCond("office", &provisioning.Condition{Name: "office", TimeZone: "Europe/Paris", Times: []string{"mon-fri 08:00-17:30", "sat 22:00-06:00 2026-12-24..2027-01-02"},
		Match: ext("500"), Miss: ext("501")})
	addCond("vip", &provisioning.Condition{Name: "vip", CallerIDs: []string{"+33612*", "5551234"}, Match: ext("100"), Miss: f.objects["office"]})
	addCond("night", &provisioning.Condition{Name: "night", Manual: provisioning.ManualMatch, Match: provisioning.Destination{Kind: provisioning.DestHangup}, Miss: ext("100")})
	custom := &provisioning.CustomDestination{RoutingMeta: in, Name: "mobile", Number: "15145550142", GatewayID: &f.gateways["gw-b"].ID}
	must(t, svc.CreateCustomDestination(ctx, admin, custom))
	f.objects["mobile"] = provisioning.Destination{Kind: provisioning.DestCustom, ID: custom.ID}
	addExt(&provisioning.Extension{Number: "102", Name: "Carol", Destination: acct("carol"), CallWaiting: &off})
	addExt(&provisioning.Extension{Number: "103", Name: "Carol FM", Destination: acct("carol"), CallWaiting: &off,
		FollowMe: &provisioning.FollowMe{Steps: []provisioning.FollowMeStep{{Destination: acct("alice"), RingSecs: 10}}}})
	// Groups without skip_busy whose member 102 has call waiting off:
	// only that member is left out while carol is on a call.
	addHunt(&provisioning.HuntGroup{Number: "505", Name: "mixed", Strategy: provisioning.HuntSequential,
		Members: []provisioning.HuntMember{{Destination: ext("102"), RingSecs: 10}, {Destination: acct("alice"), RingSecs: 10}, {Destination: external("0015145550177")}}})
	addHunt(&provisioning.HuntGroup{Number: "506", Name: "mixed all", Strategy: provisioning.HuntRingAll,
		Members: []provisioning.HuntMember{{Destination: ext("102")}, {Destination: acct("alice")}}})
	must(t, svc.CreateForward(ctx, admin, &provisioning.Forward{AccountID: &f.accounts["bob"].ID, On: provisioning.ForwardBusy, Destination: acct("erin"), Enabled: true}))
	// IVR menus: 800 (keys 1, 2, 0 to a submenu, direct dialling) whose
	// submenu's 9 comes back.
	greeting, sorry := testSound(t, svc, f.tenant.ID, "greeting"), testSound(t, svc, f.tenant.ID, "sorry")
	subMenu := &provisioning.IVRMenu{RoutingMeta: in, Name: "support", GreetingSoundID: greeting.ID, TimeoutSecs: 3,
		Options: []provisioning.IVROption{{Digit: "1", Destination: acct("dave")}}, Timeout: provisioning.Destination{Kind: provisioning.DestBusy}}
	must(t, svc.CreateIVRMenu(ctx, admin, subMenu))
	mainMenu := &provisioning.IVRMenu{RoutingMeta: in, Number: "800", Name: "main", GreetingSoundID: greeting.ID, InvalidSoundID: &sorry.ID, DirectDial: true,
		Options: []provisioning.IVROption{{Digit: "1", Destination: ext("100")}, {Digit: "2", Destination: ext("500")},
			{Digit: "0", Destination: provisioning.Destination{Kind: provisioning.DestIVR, ID: subMenu.ID}}},
		Timeout: ext("101")}
	must(t, svc.CreateIVRMenu(ctx, admin, mainMenu))
	f.objects["800"] = provisioning.Destination{Kind: provisioning.DestIVR, ID: mainMenu.ID}
	_, err := svc.UpdateIVRMenu(ctx, admin, subMenu.ID, func(m *provisioning.IVRMenu) error {
		m.Options = append(m.Options, provisioning.IVROption{Digit: "9", Destination: f.objects["800"]})
		return nil
	})
	must(t, err)
	// Voicemail: alice's box 700 (extension 100's) with both greetings,
	// taking her no-answer (20 s) and busy forwards; general delivery
	// box 799 with Asterisk's greetings; extension 198 is the listening
	// menu.
	vmGreet, vmBusy := testSound(t, svc, f.tenant.ID, "vm-unavailable"), testSound(t, svc, f.tenant.ID, "vm-busy")
	aliceExt := f.objects["100"].ID
	aliceBox := &provisioning.VoicemailBox{RoutingMeta: in, Number: "700", Name: "Alice, mailbox", ExtensionID: &aliceExt, PIN: "4321",
		UnavailableGreetingID: &vmGreet.ID, BusyGreetingID: &vmBusy.ID, MaxMessageSecs: 120}
	must(t, svc.CreateVoicemailBox(ctx, admin, aliceBox))
	f.objects["700"] = provisioning.Destination{Kind: provisioning.DestVoicemail, ID: aliceBox.ID}
	general := &provisioning.VoicemailBox{RoutingMeta: in, Number: "799", Name: "General Delivery", PIN: "0000"}
	must(t, svc.CreateVoicemailBox(ctx, admin, general))
	f.objects["799"] = provisioning.Destination{Kind: provisioning.DestVoicemail, ID: general.ID}
	for _, fw := range []*provisioning.Forward{
		{AccountID: &f.accounts["alice"].ID, On: provisioning.ForwardNoAnswer, AfterSecs: 20, Destination: f.objects["700"], Enabled: true},
		{AccountID: &f.accounts["alice"].ID, On: provisioning.ForwardBusy, Destination: f.objects["700"], Enabled: true},
	} {
		must(t, svc.CreateForward(ctx, admin, fw))
	}
	addExt(&provisioning.Extension{Number: "198", Name: "Voicemail", Destination: provisioning.Destination{Kind: provisioning.DestVoicemailMain}})
	for n, d := range map[string]provisioning.Destination{
		"+15145550700": f.objects["799"], "+15145550798": ext("198"),
		"+15145550100": f.objects["vip"], "+15145550101": ext("101"), "+15145550102": ext("102"), "+15145550103": ext("103"), "+15145550104": ext("104"),
		"+15145550105": acct("dave"), "+15145550106": f.objects["mobile"], "+15145550107": f.objects["night"],
		"+15145550500": ext("500"), "+15145550501": ext("501"), "+15145550502": ext("502"), "+15145550503": ext("503"), "+15145550504": ext("504"),
		"+15145550505": ext("505"), "+15145550506": ext("506"), "+15145550800": ext("800"),
	} {
		must(t, svc.CreateDID(ctx, admin, &provisioning.DID{TenantID: f.tenant.ID, Number: n, Destination: &d}))
	}
	return f
}

// TestRoutingDialplanGolden renders the fixture's plan: the file's text
// is reviewed once, then held by testdata/dialplan/routing.conf.
func TestRoutingDialplanGolden(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	p, err := svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	o := DefaultPushOptions()
	o.SoundsDir = testSoundsDir
	got := renderRouting("ast1", "extensions_switchboard.conf", o, nil, []*provisioning.Plan{p})
	checkDialplanGolden(t, "routing.conf", got)
}

// TestRoutingCallerIDWithDomain: with endpoints named user@domain (a node
// with an empty domain) each extension still gives its phone its caller
// ID; the lookup by ${CHANNEL(endpoint)} finds e-user@domain.
func TestRoutingCallerIDWithDomain(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	p, err := svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	o := DefaultPushOptions()
	o.IDWithDomain = true
	r := &routingRenderer{o: o, p: p, base: TenantContext(p.Tenant.ID), cid: TenantContext(p.Tenant.ID) + "-cid"}
	got := renderDialplan("ast1", "extensions_switchboard.conf", r.callerIDs())
	checkDialplanGolden(t, "routing_cid_with_domain.conf", got)
	steps := parseDialplan(t, got)[r.cid]["e-alice@acme.example"]
	if !slices.Contains(steps, "Set(CALLERID(num)=+15145550100)") {
		t.Errorf("e-alice@acme.example: %v, want extension 100's caller ID", steps)
	}
}

func checkDialplanGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "dialplan", name)
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it); got:\n%s", path, got)
	}
}

// parsedDialplan is the rendered file read back: context → extension →
// its steps (applications with their arguments), and each context's
// includes.
type parsedDialplan map[string]map[string][]string

var execLine = regexp.MustCompile(`^(?:exten => ([^,]+),1|\s*same => n)(?:\(([a-z0-9-]+)\))?,(.*)$`)

func parseDialplan(t testing.TB, text []byte) parsedDialplan {
	t.Helper()
	out := parsedDialplan{}
	var ctx, ext string
	for _, l := range strings.Split(string(text), "\n") {
		switch {
		case l == "" || strings.HasPrefix(l, ";"):
		case strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]"):
			ctx = l[1 : len(l)-1]
			if out[ctx] != nil {
				t.Fatalf("context %s twice", ctx)
			}
			out[ctx] = map[string][]string{}
		case strings.HasPrefix(l, "include => "):
			out[ctx]["include"] = append(out[ctx]["include"], strings.TrimPrefix(l, "include => "))
		default:
			m := execLine.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("line not understood: %q", l)
			}
			if m[1] != "" {
				ext = m[1]
				if out[ctx][ext] != nil {
					t.Fatalf("%s: extension %s twice", ctx, ext)
				}
			}
			out[ctx][ext] = append(out[ctx][ext], m[3])
		}
	}
	return out
}

// TestRoutingDialplanMatchesTrace checks the rendered dialplan against
// Plan.Trace for every entry point of the plan, at times inside and
// outside the office window and from callers on and off the VIP list:
// each phone or number a ring step rings is dialled by the object the
// step's Via names, for the step's time; each dial_out leaves through the
// trace's gateways in order; and every jump lands on an extension the
// file defines.
func TestRoutingDialplanMatchesTrace(t *testing.T) {
	svc := newRoutingService(t)
	f := routingPlanFixture(t, svc, "192.0.2.10", 5060)
	p, err := svc.TenantPlan(context.Background(), f.tenant.ID)
	must(t, err)
	o := DefaultPushOptions()
	o.SoundsDir = testSoundsDir
	text := renderRouting("ast1", "x.conf", o, nil, []*provisioning.Plan{p})
	dp := parseDialplan(t, text)
	base := TenantContext(f.tenant.ID)

	// Every Goto/Gosub/GotoIf target that names a context lands.
	jump := regexp.MustCompile(`(?:Goto|Gosub|GotoIf)\((?:[^?]*\?)?(sb-t[0-9]+(?:-[a-z]+)?),([^,()$]+),1\)`)
	for ctx, exts := range dp {
		for name, steps := range exts {
			for _, s := range steps {
				for _, m := range jump.FindAllStringSubmatch(s, -1) {
					if dp[m[1]] == nil {
						t.Errorf("%s,%s: %s jumps to a missing context", ctx, name, s)
						continue
					}
					if dp[m[1]][m[2]] == nil && !(m[1] == base+"-out" && dialplanDialled.MatchString(m[2])) {
						t.Errorf("%s,%s: %s jumps to a missing extension", ctx, name, s)
					}
				}
			}
		}
	}
	if inc := dp[base]["include"]; len(inc) != 1 || inc[0] != "phones" {
		t.Errorf("%s includes %v, want [phones] last", base, inc)
	}

	// What each object's extension holds, as one text to search.
	body := func(ctx, ext string) string { return strings.Join(dp[ctx][ext], "\n") }
	endpoint := map[string]string{}
	for u, a := range f.accounts {
		endpoint[a.AOR()] = "PJSIP/" + o.AccountID(a)
		_ = u
	}
	dialOf := func(target string) string {
		if ep, ok := endpoint[target]; ok {
			return ep
		}
		return "Local/L" + target + "@" + base + "-out"
	}
	labelOf := func(via string) (string, bool) {
		kind, rest, _ := strings.Cut(via, " ")
		num, _, _ := strings.Cut(rest, " ")
		switch kind {
		case "hunt_group":
			d := f.objects[num]
			return fmt.Sprintf("g%d", d.ID), true
		case "extension":
			d := f.objects[num]
			return fmt.Sprintf("x%d", d.ID), true
		}
		return "", false
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	times := []time.Time{time.Date(2026, 12, 7, 10, 0, 0, 0, paris), time.Date(2026, 12, 6, 10, 0, 0, 0, paris), time.Date(2026, 12, 26, 23, 0, 0, 0, paris)}
	checked := 0
	voicemails := map[string]int{}
	for _, did := range p.DIDs {
		if e := dp[DIDContext][did.Number]; len(e) == 0 || !strings.HasPrefix(e[0], "Gosub(") {
			t.Errorf("DID %s: %v, want a Gosub into its destination", did.Number, e)
		}
		for _, at := range times {
			for _, caller := range []string{"+33612345678", "+15140000000"} {
				for _, st := range p.Trace(*did.Destination, at, caller) {
					where := ""
					for i := len(st.Via) - 1; i >= 0 && where == ""; i-- {
						where, _ = labelOf(st.Via[i])
					}
					switch st.Do {
					case "ring":
						for _, tg := range st.Targets {
							d := dialOf(tg)
							b := string(text) // a phone on its own: dialled by its account
							if len(st.Via) > 0 {
								if last := st.Via[len(st.Via)-1]; last == "follow_me" || strings.HasPrefix(last, "hunt_group ") {
									b = body(base+"-obj", where)
								}
							}
							if !strings.Contains(b, d) {
								t.Errorf("DID %s at %s from %s: step %+v: %s is not dialled in %s", did.Number, at, caller, st, d, where)
							}
						}
						checkCallWaiting(t, st, body(base+"-obj", where), dialOf(st.Targets[0]), base)
						if strings.HasPrefix(where, "g") {
							checkSkipBusy(t, st, body(base+"-obj", where), dialOf)
						}
						if st.Secs > 0 && where != "" && strings.HasPrefix(where, "g") && !strings.Contains(body(base+"-obj", where), fmt.Sprint(st.Secs)) {
							t.Errorf("DID %s: step %+v: %d s not in %s", did.Number, st, st.Secs, where)
						}
						checked++
					case "menu":
						checkMenu(t, st, dp, base, f.tenant.ID)
						checked++
					case "voicemail":
						checkVoicemail(t, p, st, dp, base)
						voicemails[st.Targets[0]]++
						checked++
					case "voicemail_main":
						if !strings.Contains(body(base+"-vm", "s"), "VoiceMailMain(@"+VoicemailContext(f.tenant.ID)+")") {
							t.Errorf("DID %s: %+v: %s-vm,s does not ask for a box", did.Number, st, base)
						}
						voicemails["main"]++
						checked++
					case "dial_out":
						if len(st.Gateways) == 0 {
							continue
						}
						var gwsRendered []string
						for name, steps := range dp[base+"-out"] {
							if !strings.HasPrefix(name, "r") {
								continue
							}
							var g []string
							for _, s := range steps {
								if m := regexp.MustCompile(`@([a-z0-9-]+)\)$`).FindStringSubmatch(s); m != nil {
									g = append(g, m[1])
								}
							}
							if strings.Join(g, ">") == strings.Join(st.Gateways, ">") {
								gwsRendered = g
							}
						}
						custom := strings.Contains(string(text), "@"+st.Gateways[0]+")") && len(st.Gateways) == 1
						if gwsRendered == nil && !custom {
							t.Errorf("DID %s: %+v: no route dials %v in order", did.Number, st, st.Gateways)
						}
						checked++
					}
				}
			}
		}
	}
	if checked < 50 {
		t.Errorf("only %d trace steps checked", checked)
	}
	if voicemails["700"] == 0 || voicemails["799"] == 0 || voicemails["main"] == 0 {
		t.Errorf("voicemail steps checked: %v, want boxes 700 (a forward), 799 (a DID) and the listening menu", voicemails)
	}
}

// checkVoicemail: the box's vN (where an unconditional or no-answer
// route leaves a message) plays the step's greeting and then records
// without Asterisk's greeting, or Asterisk's unavailable greeting when
// the box has none; its vbN does the same with the busy greeting.
func checkVoicemail(t *testing.T, p *provisioning.Plan, st provisioning.Step, dp parsedDialplan, base string) {
	t.Helper()
	var box *provisioning.VoicemailBox
	for _, b := range p.Voicemails {
		if len(st.Targets) == 1 && b.Number == st.Targets[0] {
			box = b
		}
	}
	if box == nil {
		t.Fatalf("%+v: no box %v in the plan", st, st.Targets)
	}
	vm := "VoiceMail(" + box.Number + "@" + VoicemailContext(p.Tenant.ID)
	steps := dp[base+"-obj"][fmt.Sprintf("v%d", box.ID)]
	want := []string{vm + ",us)", "Hangup()"}
	if st.Sound != 0 {
		want = []string{"Playback(" + SoundPath(testSoundsDir, p.Tenant.ID, st.Sound) + ")", vm + ",s)", "Hangup()"}
	}
	if !slices.Equal(steps, want) {
		t.Errorf("%+v: v%d is %v, want %v", st, box.ID, steps, want)
	}
	busy := strings.Join(dp[base+"-obj"][fmt.Sprintf("vb%d", box.ID)], "\n")
	if box.BusyGreetingID != nil && !strings.Contains(busy, SoundPath(testSoundsDir, p.Tenant.ID, *box.BusyGreetingID)) || box.BusyGreetingID == nil && !strings.Contains(busy, vm+",bs)") {
		t.Errorf("vb%d: %s, want the busy greeting", box.ID, busy)
	}
	if st.Secs != box.MaxSecs() {
		t.Errorf("%+v: %d s, want the box's %d", st, st.Secs, box.MaxSecs())
	}
}

// testSoundsDir is the fixture node's sounds_dir.
const testSoundsDir = "/var/lib/asterisk/sounds/switchboard"

// checkMenu: a menu step's context plays the step's sound, waits its
// seconds, replays until its plays run out, and has each of its keys
// going to the key's destination.
func checkMenu(t *testing.T, st provisioning.Step, dp map[string]map[string][]string, base string, tenant int64) {
	t.Helper()
	for name, exts := range dp {
		if !strings.HasPrefix(name, base+"-ivr") {
			continue
		}
		s := strings.Join(exts["s"], "\n")
		if !strings.Contains(s, "Background("+SoundPath(testSoundsDir, tenant, st.Sound)+")") || !strings.Contains(s, fmt.Sprintf("WaitExten(%d)", st.Secs)) {
			continue
		}
		if len(exts)-3-countDirect(exts) != len(st.Options) {
			continue // another menu with the same greeting and wait
		}
		for _, e := range []string{"i", "t"} {
			if !strings.Contains(strings.Join(exts[e], "\n"), fmt.Sprintf("GotoIf($[${SB_IVR} >= %d]?out)", st.Plays)) {
				t.Errorf("%s,%s does not replay %d times: %v", name, e, st.Plays, exts[e])
			}
		}
		for key, d := range st.Options {
			kind, n, _ := strings.Cut(d, " ")
			letter := map[string]string{"account": "a", "extension": "x", "hunt_group": "g", "condition": "c", "custom": "u"}[kind]
			want := fmt.Sprintf("Goto(%s-obj,%s%s,1)", base, letter, n)
			if kind == "ivr" {
				want = fmt.Sprintf("Goto(%s-ivr%s,s,1)", base, n)
			}
			if got := strings.Join(exts[key], "\n"); got != want {
				t.Errorf("%s key %s: %q, want %q", name, key, got, want)
			}
		}
		return
	}
	t.Errorf("menu step %+v: no context plays sound %d and waits %d s with %d keys", st, st.Sound, st.Secs, len(st.Options))
}

// countDirect counts a menu context's direct-dialling extensions (the
// plan's numbers longer than a key).
func countDirect(exts map[string][]string) int {
	n := 0
	for name := range exts {
		if len(name) > 1 && name != "s" {
			n++
		}
	}
	return n
}

// checkCallWaiting: a ring of an extension's phone with call waiting off
// (NoCallWaiting) is preceded, in the extension's object, by the device
// state check that takes the busy forward (or busy); any other ring of an
// extension's own phone has no check.
func checkCallWaiting(t *testing.T, st provisioning.Step, body, dial, base string) {
	t.Helper()
	if len(st.Via) == 0 || !strings.HasPrefix(st.Via[len(st.Via)-1], "extension ") {
		if st.NoCallWaiting {
			t.Errorf("step %+v: NoCallWaiting not reached through an extension", st)
		}
		return
	}
	check := deviceBusy(dial)
	if !st.NoCallWaiting {
		if strings.Contains(body, "DEVICE_STATE") {
			t.Errorf("step %+v: call waiting on, but the extension checks the device:\n%s", st, body)
		}
		return
	}
	// Busy goes to the forward (a GotoIf to it, or with a follow-me list
	// a Gosub before the list), else to busy (with a list: to the list).
	onBusy := "GotoIf($[" + check + "]?" + base + "-obj,busy,1)"
	if fm := strings.Contains(body, "Return()"); fm {
		onBusy = "GotoIf($[" + check + "]?fm)"
	}
	if st.OnBusy != "" {
		kind, n, _ := strings.Cut(st.OnBusy, " ") // Destination.String: "extension 4"
		letter := map[string]string{"account": "a", "extension": "x", "hunt_group": "g", "condition": "c", "custom": "u"}[kind]
		fwd := fmt.Sprintf("%s-obj,%s%s,1", base, letter, n)
		onBusy = "GotoIf($[" + check + "]?" + fwd + ")"
		if strings.Contains(body, "Return()") {
			onBusy = "GotoIf($[!(" + check + ")]?ring)\nGosub(" + fwd + ")\nGoto(fm)"
		}
	}
	if !strings.Contains(body, onBusy) {
		t.Errorf("step %+v: want the device check of %s before the Dial, busy to %s; got:\n%s", st, dial, onBusy, body)
	}
}

// checkSkipBusy: in a hunt group's extension, the phones a ring step
// skips while on a call (Step.SkipBusy) are checked for their device
// state, the other members are not.
func checkSkipBusy(t *testing.T, st provisioning.Step, body string, dialOf func(string) string) {
	t.Helper()
	for _, tg := range st.Targets {
		d := dialOf(tg)
		skip := slices.Contains(st.SkipBusy, tg)
		var checked bool
		if strings.Contains(body, "Set(SB_D=") { // ring_all with some checks
			checked = strings.Contains(body, "ExecIf($[!("+deviceBusy(d)+")]?Set(SB_D=${SB_D}&"+d+"))")
		} else {
			loopCheck := strings.Contains(body, deviceBusy("${SB_M${SB_I}}"))
			m := regexp.MustCompile(`Set\(SB_M([0-9]+)=` + regexp.QuoteMeta(d) + `\)`).FindStringSubmatch(body)
			switch {
			case m == nil:
				checked = false
			case strings.Contains(body, "Set(SB_B"+m[1]+"="):
				checked = loopCheck && strings.Contains(body, "Set(SB_B"+m[1]+"=1)")
			default:
				checked = loopCheck
			}
		}
		if checked != skip {
			t.Errorf("step %+v: %s skipped while busy = %v, want %v:\n%s", st, tg, checked, skip, body)
		}
	}
}

// TestRoutingDialplanConditionTimes checks the time rules' translation:
// Asterisk counts a range's end minute in, the plan does not.
func TestRoutingDialplanConditionTimes(t *testing.T) {
	for _, tc := range []struct{ rule, times, days string }{
		{"mon-fri 08:00-17:30", "08:00-17:29", "mon&tue&wed&thu&fri"},
		{"22:00-06:00", "22:00-05:59", "*"},
		{"sat,sun", "*", "sun&sat"},
		{"fri-mon 00:00-24:00", "00:00-23:59", "sun&mon&fri&sat"},
	} {
		r, err := provisioning.ParseTimeRule(tc.rule)
		must(t, err)
		if got := asteriskTimes(r); got != tc.times {
			t.Errorf("%s: times %s, want %s", tc.rule, got, tc.times)
		}
		if got := asteriskWeekdays(r.Weekdays); got != tc.days {
			t.Errorf("%s: days %s, want %s", tc.rule, got, tc.days)
		}
	}
	if got, want := callerIDRegex([]string{"+33612*", "5551234"}), "^[+]33612|^5551234$"; got != want {
		t.Errorf("caller ID regex %s, want %s", got, want)
	}
}
