package asterisk

// `switchboard doctor` for an Asterisk node: what Switchboard needs of the
// live switch, read over ARI only (no CLI, no AMI), each finding with what
// to fix. Verified against Asterisk 23.4.1 (answers recorded in
// aritest/testdata): a PUT of a new object answers 403 "Cannot create
// sorcery objects of type 'auth'" when no wizard of the type can create
// (only config,pjsip.conf), 200 with a memory wizard; a GET or DELETE of
// an id that does not exist answers 404 "Object with id … not found"
// either way, so writability can only be seen by writing.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/doctor"
)

// DoctorConfig is what the doctor compares the node with.
type DoctorConfig struct {
	Node *NodeConfig
	// Options are the node's push options (transports, contexts).
	Options PushOptions
	// Gateways reads the provisioned gateways; nil skips the checks that
	// need them.
	Gateways func(ctx context.Context) ([]provisioning.Gateway, error)
	// Routes reads the outbound routes; nil skips the least-cost
	// routing check that needs them.
	Routes func(ctx context.Context) ([]*provisioning.OutboundRoute, error)
	// Timeout bounds each request (5 s when 0).
	Timeout    time.Duration
	HTTPClient *http.Client
}

// doctorModules are the modules Switchboard needs, with what each is for.
var doctorModules = []struct{ name, why string }{
	{"res_pjsip.so", "PJSIP"},
	{"chan_pjsip.so", "PJSIP channels"},
	{"res_pjsip_session.so", "calls"},
	{"res_pjsip_registrar.so", "phone registrations"},
	{"res_pjsip_authenticator_digest.so", "phone authentication"},
	{"res_pjsip_outbound_registration.so", "gateway registrations"},
	{"res_pjsip_outbound_authenticator_digest.so", "gateway authentication"},
	{"res_pjsip_endpoint_identifier_ip.so", "gateway identify by address"},
	{"res_http_websocket.so", "ARI events"},
	{"res_ari.so", "ARI"},
	{"res_stasis.so", "ARI"},
	{"res_ari_asterisk.so", "dynamic configuration (the push)"},
	{"res_ari_events.so", "ARI events"},
	{"res_ari_endpoints.so", "presence"},
	{"res_ari_channels.so", "calls and call control"},
	{"res_ari_applications.so", "the application check"},
	{"app_dial.so", "the phones and from-gateway contexts"},
	{"func_channel.so", "the negotiated codec"},
	{"func_cdr.so", "answer times after a resync"},
}

// doctorMediaModules are the modules of the media features: without one
// the feature does not work on the node, which a node may choose, so a
// missing one is a warning.
var doctorMediaModules = []struct{ name, why string }{
	{"format_wav.so", "sound files (.wav, .wav16) played from sounds_dir"},
	{"app_voicemail.so", "voicemail boxes"},
	{"res_pjsip_mwi.so", "message-waiting lamps"},
	{"res_fax.so", "fax boxes"},
	{"res_fax_spandsp.so", "fax over G.711 and T.38"},
	{"app_mixmonitor.so", "call recording (recordings_dir)"},
}

// ariModule is one entry of GET /asterisk/modules.
type ariModule struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// parseModules reads GET /asterisk/modules: each module's status by name
// ("Running", "Not Running").
func parseModules(b []byte) (map[string]string, error) {
	var ms []ariModule
	if err := json.Unmarshal(b, &ms); err != nil {
		return nil, fmt.Errorf("asterisk: modules: %w", err)
	}
	out := make(map[string]string, len(ms))
	for _, m := range ms {
		out[m.Name] = m.Status
	}
	return out, nil
}

// parseInfoVersion reads GET /asterisk/info: the system version.
func parseInfoVersion(b []byte) (string, error) {
	var info struct {
		System struct {
			Version string `json:"version"`
		} `json:"system"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return "", fmt.Errorf("asterisk: info: %w", err)
	}
	if info.System.Version == "" {
		return "", errors.New("asterisk: info: no system.version")
	}
	return info.System.Version, nil
}

// parseApplications reads GET /applications: the names of the
// applications with a client connected.
func parseApplications(b []byte) ([]string, error) {
	var apps []struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &apps); err != nil {
		return nil, fmt.Errorf("asterisk: applications: %w", err)
	}
	names := make([]string, len(apps))
	for i, a := range apps {
		names[i] = a.Name
	}
	return names, nil
}

// doctorField is the value of attr among fs.
func doctorField(fs []Field, attr string) (string, bool) {
	for _, f := range fs {
		if f.Attribute == attr {
			return f.Value, true
		}
	}
	return "", false
}

// astDoctor runs the checks.
type astDoctor struct {
	cfg    DoctorConfig
	rest   *restClient
	conf   *ConfigClient
	checks []doctor.Check
	gws    []provisioning.Gateway
}

func (d *astDoctor) add(name string, s doctor.Status, detail, fix string) {
	d.checks = append(d.checks, doctor.Check{Name: name, Status: s, Detail: detail, Fix: fix})
}

// Doctor checks the live node against what Switchboard needs. It never
// fails as a whole: an ARI it cannot reach is the first, failed check.
func Doctor(ctx context.Context, cfg DoctorConfig) []doctor.Check {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	n := cfg.Node
	base := strings.TrimRight(n.URL, "/")
	d := &astDoctor{cfg: cfg, rest: &restClient{base: base, user: n.User, password: n.Password, hc: hc},
		conf: NewConfigClient(base, n.User, n.Password, hc)}
	if !d.ari(ctx) {
		return d.checks
	}
	if cfg.Gateways != nil {
		gws, err := cfg.Gateways(ctx)
		if err != nil {
			d.add("store", doctor.Warn, "reading the provisioned gateways: "+err.Error(), "")
			d.cfg.Gateways = nil
		}
		d.gws = gws
	}
	modules := d.modules(ctx)
	d.mediaModules(modules)
	d.application(ctx)
	d.sorcery(ctx)
	d.registrations(ctx)
	d.transports(ctx)
	d.add("contexts", doctor.Info, fmt.Sprintf("not checked: ARI cannot read the dialplan without making a call, which Switchboard would record; pushed accounts use context %s, gateways %s", cfg.Options.PhoneContext, cfg.Options.GatewayContext),
		fmt.Sprintf("check on the switch: asterisk -rx 'dialplan show %s' and 'dialplan show %s' (switch/asterisk/README.md)", cfg.Options.PhoneContext, cfg.Options.GatewayContext))
	d.prometheus(ctx, modules)
	d.cdrFile(modules)
	d.curl(ctx, modules)
	return d.checks
}

// get reads an ARI path's raw answer.
func (d *astDoctor) get(ctx context.Context, path string) ([]byte, error) {
	var raw json.RawMessage
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	err := d.rest.do(ctx, http.MethodGet, path, nil, &raw)
	return raw, err
}

func (d *astDoctor) ari(ctx context.Context) bool {
	raw, err := d.get(ctx, "/asterisk/info")
	var re *RequestError
	switch {
	case errors.As(err, &re) && re.Status == http.StatusUnauthorized:
		d.add("ari", doctor.Fail, d.cfg.Node.URL+" refused the user and password (401)", "switches[].user and password must be an ari.conf user of type user with read_only = no")
		return false
	case errors.As(err, &re) && re.Status == http.StatusNotFound:
		d.add("ari", doctor.Fail, d.cfg.Node.URL+"/asterisk/info is not found (404)", "switches[].url must be ARI's base URL ending in /ari, and ari.conf must say enabled = yes")
		return false
	case err != nil:
		d.add("ari", doctor.Fail, err.Error(), "start Asterisk; http.conf must say enabled = yes with bindaddr and bindport matching switches[].url")
		return false
	}
	v, err := parseInfoVersion(raw)
	if err != nil {
		d.add("ari", doctor.Fail, d.cfg.Node.URL+" does not answer as ARI: "+err.Error(), "switches[].url must be ARI's base URL, like http://127.0.0.1:8088/ari")
		return false
	}
	d.add("ari", doctor.OK, fmt.Sprintf("%s, Asterisk %s, user %s authorised", d.cfg.Node.URL, v, d.cfg.Node.User), "")
	return true
}

func (d *astDoctor) modules(ctx context.Context) map[string]string {
	raw, err := d.get(ctx, "/asterisk/modules")
	if err != nil {
		d.add("modules", doctor.Warn, "GET /asterisk/modules: "+err.Error(), "")
		return nil
	}
	mods, err := parseModules(raw)
	if err != nil {
		d.add("modules", doctor.Warn, err.Error(), "")
		return nil
	}
	var missing []string
	for _, m := range doctorModules {
		if mods[m.name] != "Running" {
			missing = append(missing, fmt.Sprintf("%s (%s)", m.name, m.why))
		}
	}
	if len(missing) > 0 {
		d.add("modules", doctor.Fail, "not running: "+strings.Join(missing, ", "), "load them (modules.conf: remove their noload, or autoload = yes) and restart Asterisk")
	} else {
		d.add("modules", doctor.OK, fmt.Sprintf("the %d modules Switchboard uses are running", len(doctorModules)), "")
	}
	return mods
}

// mediaModules warns of the media features' modules that are not
// running (nothing when the module list could not be read).
func (d *astDoctor) mediaModules(mods map[string]string) {
	if mods == nil {
		return
	}
	var missing []string
	for _, m := range doctorMediaModules {
		if mods[m.name] != "Running" {
			missing = append(missing, fmt.Sprintf("%s (%s)", m.name, m.why))
		}
	}
	if len(missing) > 0 {
		d.add("media modules", doctor.Warn, "not running: "+strings.Join(missing, ", "),
			"load them where the node serves those features (res_fax_spandsp needs Asterisk built with spandsp; see switch/asterisk/README.md)")
		return
	}
	d.add("media modules", doctor.OK, fmt.Sprintf("the %d modules of sounds, voicemail, fax and recording are running", len(doctorMediaModules)), "")
}

func (d *astDoctor) application(ctx context.Context) {
	app := d.cfg.Node.App
	raw, err := d.get(ctx, "/applications")
	if err != nil {
		d.add("application", doctor.Warn, "GET /applications: "+err.Error(), "")
		return
	}
	apps, err := parseApplications(raw)
	if err != nil {
		d.add("application", doctor.Warn, err.Error(), "")
		return
	}
	if slices.Contains(apps, app) {
		d.add("application", doctor.OK, fmt.Sprintf("application %s has a client connected (Switchboard's daemon)", app), "")
		return
	}
	connected := "no application is connected"
	if len(apps) > 0 {
		connected = "connected: " + doctor.List(slices.Sorted(slices.Values(apps)), 5)
	}
	d.add("application", doctor.Info, fmt.Sprintf("no client is connected as application %s (%s): the daemon is not running or not connected", app, connected),
		"start switchboard serve; if another program uses the name "+app+", set switches[].app to one of Switchboard's own (a second client of an application takes its events over)")
}

// sorceryFix is the sorcery.conf change that makes type t writable.
func sorceryFix(t ObjectType) string {
	section := "res_pjsip"
	switch t {
	case PJSIPIdentify:
		section = "res_pjsip_endpoint_identifier_ip"
	case PJSIPRegistration:
		section = "res_pjsip_outbound_registration"
	}
	return fmt.Sprintf("in sorcery.conf [%s] add `%s = astdb,switchboard_%s` (kept across Asterisk restarts; `memory` works too but loses the pushed objects at each restart) after `%s = config,pjsip.conf,criteria=type=%s`, then restart Asterisk (switch/asterisk/README.md)", section, t, t, t, t)
}

// sorcery creates a probe auth, aor, endpoint and identify, in the
// order the push creates them, and deletes them at once: the only way to
// see a writable wizard (see the file's notes). The probe's endpoint
// names its auth, so it never takes an unauthenticated call; its
// identify matches 192.0.2.1 (TEST-NET-1), from which no request comes.
// Registrations are not probed: creating one sends a REGISTER (its apply
// handler registers before the object is stored, and a refused create
// leaves that registration running); registrations checks the pushed
// ones instead.
func (d *astDoctor) sorcery(ctx context.Context) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	id := "switchboard-doctor-" + hex.EncodeToString(b[:])
	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	probes := []PJSIPObject{
		{ObjectRef{PJSIPAuth, id}, []Field{{"auth_type", "userpass"}, {"username", id}, {"password", hex.EncodeToString(secret)}}},
		{ObjectRef{PJSIPAOR, id}, []Field{{"max_contacts", "1"}}},
		{ObjectRef{PJSIPEndpoint, id}, []Field{{"auth", id}, {"aors", id}, {"context", d.cfg.Options.PhoneContext}}},
		{ObjectRef{PJSIPIdentify, id}, []Field{{"endpoint", id}, {"match", "192.0.2.1"}}},
	}
	var created []ObjectRef
probing:
	for _, p := range probes {
		pctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		_, err := d.conf.Put(pctx, p.Ref, p.Fields)
		cancel()
		name := "sorcery " + string(p.Ref.Type)
		var ce *ConfigError
		switch {
		case err == nil:
			created = append(created, p.Ref)
			d.add(name, doctor.OK, string(p.Ref.Type)+" objects can be created (a probe object was created and deleted)", "")
		case errors.As(err, &ce) && ce.Status == http.StatusForbidden && ce.Message == "Write access denied":
			// Asterisk 23.4.1's answer to a write by a read_only user.
			d.add("ari write", doctor.Fail, "user "+d.cfg.Node.User+" is read-only: ARI refused the probe's PUT (403 Write access denied)",
				"ari.conf ["+d.cfg.Node.User+"] read_only = no, then module reload res_ari.so")
			break probing
		case errors.Is(err, ErrConfigForbidden):
			d.add(name, doctor.Fail, string(p.Ref.Type)+" objects cannot be created: no writable sorcery wizard (403)", sorceryFix(p.Ref.Type))
		default:
			d.add(name, doctor.Fail, "creating a probe "+string(p.Ref.Type)+": "+err.Error(), sorceryFix(p.Ref.Type))
		}
	}
	for i := len(created) - 1; i >= 0; i-- {
		dctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		if err := d.conf.Delete(dctx, created[i]); err != nil {
			d.add("sorcery cleanup", doctor.Warn, "deleting the probe "+created[i].String()+": "+err.Error(),
				"delete it: DELETE /ari/asterisk/config/dynamic/res_pjsip/"+created[i].String())
		}
		cancel()
	}
}

// registrations checks that every gateway that registers has its
// registration on the node, with line support.
func (d *astDoctor) registrations(ctx context.Context) {
	const name = "sorcery registration"
	if d.cfg.Gateways == nil {
		d.add(name, doctor.Info, "not checked (no store): creating a probe registration would send a REGISTER", sorceryFix(PJSIPRegistration))
		return
	}
	var regs []ObjectRef
	for i := range d.gws {
		objs, err := GatewayObjects(d.cfg.Options, &d.gws[i])
		if err != nil {
			continue
		}
		for _, o := range objs {
			if o.Ref.Type == PJSIPRegistration {
				regs = append(regs, o.Ref)
			}
		}
	}
	if len(regs) == 0 {
		d.add(name, doctor.Info, "no provisioned gateway registers, and a probe registration would send a REGISTER: not checked",
			"before provisioning a gateway with register: "+sorceryFix(PJSIPRegistration))
		return
	}
	var missing, noLine, ok []string
	for _, ref := range regs {
		gctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		fs, err := d.conf.Get(gctx, ref)
		cancel()
		switch {
		case errors.Is(err, ErrConfigNotFound):
			missing = append(missing, ref.ID)
		case err != nil:
			missing = append(missing, ref.ID+" ("+err.Error()+")")
		default:
			if v, _ := doctorField(fs, "line"); v != "true" {
				noLine = append(noLine, ref.ID)
			} else {
				ok = append(ok, ref.ID)
			}
		}
	}
	if len(missing) > 0 {
		d.add(name, doctor.Fail, "registrations of provisioned gateways missing on the switch: "+doctor.List(missing, 5),
			"see the gateway's push state (GET /api/v1/gateways/status) and the daemon's log; "+sorceryFix(PJSIPRegistration))
	}
	if len(noLine) > 0 {
		d.add("line", doctor.Warn, "registrations without line support: "+doctor.List(noLine, 5)+" (calls the carrier sends to the registered contact are not matched to the gateway)",
			"these were not pushed by this version of Switchboard: restart the daemon to push them again")
	}
	if len(ok) > 0 {
		d.add(name, doctor.OK, fmt.Sprintf("%s on the switch, with line support: %s", doctor.Count(len(ok), "gateway registration"), doctor.List(ok, 5)), "")
	}
}

func (d *astDoctor) transports(ctx context.Context) {
	used := map[provisioning.Transport][]string{provisioning.TransportUDP: {"accounts"}}
	for _, g := range d.gws {
		t := g.Transport
		if t == "" {
			t = provisioning.TransportUDP
		}
		used[t] = append(used[t], "gateway "+g.Name)
	}
	for _, t := range []provisioning.Transport{provisioning.TransportUDP, provisioning.TransportTCP, provisioning.TransportTLS} {
		id := d.cfg.Options.Transports[t]
		if id == "" {
			continue
		}
		name := "transport " + string(t)
		gctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		fs, err := d.conf.Get(gctx, ObjectRef{"transport", id})
		cancel()
		switch {
		case err == nil:
			proto, _ := doctorField(fs, "protocol")
			bind, _ := doctorField(fs, "bind")
			d.add(name, doctor.OK, fmt.Sprintf("%s: %s on %s", id, proto, bind), "")
		case errors.Is(err, ErrConfigNotFound) && len(used[t]) > 0:
			d.add(name, doctor.Fail, fmt.Sprintf("%s does not exist, but %s use it", id, doctor.List(used[t], 5)),
				fmt.Sprintf("define [%s] type = transport, protocol = %s in pjsip.conf (switch/asterisk/README.md)", id, t))
		case errors.Is(err, ErrConfigNotFound):
			d.add(name, doctor.Info, fmt.Sprintf("%s does not exist; no provisioned gateway uses %s", id, t),
				fmt.Sprintf("define [%s] in pjsip.conf before provisioning a %s gateway", id, t))
		default:
			d.add(name, doctor.Warn, "reading "+id+": "+err.Error(), "")
		}
	}
}

func (d *astDoctor) prometheus(ctx context.Context, modules map[string]string) {
	const name = "res_prometheus"
	u := d.cfg.Node.MetricsURL
	if u == "-" {
		d.add(name, doctor.Info, "metrics_url is -: gateway registration states are not read", "")
		return
	}
	if u == "" {
		p, err := url.Parse(d.cfg.Node.URL)
		if err != nil {
			return
		}
		p.Path = strings.TrimSuffix(strings.TrimRight(p.Path, "/"), "/ari") + "/metrics"
		u = p.String()
	}
	mctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	_, err := d.rest.metrics(mctx, u)
	var re *RequestError
	switch {
	case err == nil:
		d.add(name, doctor.OK, u+" answers", "")
	case errors.Is(err, errMetricsOff):
		status := modules["res_prometheus.so"]
		if status == "" {
			status = "not loaded"
		}
		d.add(name, doctor.Warn, fmt.Sprintf("%s answers 404 (res_prometheus.so: %s): gateway registration states are unknown (ARI sends no event for them)", u, status),
			"optional: load res_prometheus with prometheus.conf [general] enabled = yes, uri = metrics; or set metrics_url: \"-\"")
	case errors.As(err, &re) && re.Status == http.StatusServiceUnavailable:
		// Asterisk 23.4.1 with prometheus.conf enabled = no.
		d.add(name, doctor.Warn, u+" answers 503: res_prometheus is loaded but disabled, so gateway registration states are unknown (ARI sends no event for them)",
			"optional: prometheus.conf [general] enabled = yes, uri = metrics, then module reload res_prometheus.so; or set metrics_url: \"-\"")
	default:
		d.add(name, doctor.Warn, err.Error(), "optional: check metrics_url")
	}
}

func (d *astDoctor) cdrFile(modules map[string]string) {
	path := d.cfg.Node.CDRFile
	if path == "" {
		return
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(filepath.Dir(path)); derr == nil {
			d.add("cdr_file", doctor.Warn, path+" does not exist yet: Asterisk creates it with its first CDR", "if calls were made, check cdr.conf [csv] (or cdr_custom) and that cdr_file names the file it writes")
			return
		}
	}
	if err != nil {
		d.add("cdr_file", doctor.Fail, err.Error(), "cdr_file must be Asterisk's Master.csv (or cdr_custom file) on this machine, readable by Switchboard")
		return
	}
	f.Close()
	if modules != nil && modules["cdr_csv.so"] != "Running" && modules["cdr_custom.so"] != "Running" {
		d.add("cdr_file", doctor.Warn, path+" is readable, but neither cdr_csv nor cdr_custom is running: nothing is written to it", "load cdr_csv (cdr.conf [csv])")
		return
	}
	d.add("cdr_file", doctor.OK, path+" is readable", "")
}

// curl checks what the routing dialplan's CURL() requests need: the
// module, and for routes ordered by cost (routing_lcr.go) an endpoint to
// ask, without which they dial in listed order.
func (d *astDoctor) curl(ctx context.Context, modules map[string]string) {
	o := d.cfg.Options
	if (o.Authz.URL != "" || o.LCR.URL != "") && modules != nil && modules["func_curl.so"] != "Running" {
		d.add("func_curl", doctor.Fail, "func_curl.so is not running: the routing dialplan's CURL() finds no function, so every authorization goes unanswered (the node's fail policy applies) and routes ordered by cost dial in listed order",
			"load func_curl.so (Asterisk built with libcurl; modules.conf: load => func_curl.so) and restart Asterisk")
	}
	if d.cfg.Routes == nil {
		return
	}
	routes, err := d.cfg.Routes(ctx)
	if err != nil {
		d.add("lcr", doctor.Warn, "reading the outbound routes: "+err.Error(), "check the store")
		return
	}
	var byCost []string
	for _, r := range routes {
		if r.Order == provisioning.RouteOrderCost && r.Action == provisioning.RouteNormal {
			byCost = append(byCost, fmt.Sprintf("%s (tenant %d)", r.Name, r.TenantID))
		}
	}
	switch {
	case len(byCost) == 0:
	case o.LCR.URL == "":
		d.add("lcr", doctor.Warn, fmt.Sprintf("outbound routes ordered by cost dial their gateways in listed order on this node, which has no authz_url to ask (%d): %s", len(byCost), strings.Join(byCost, ", ")),
			"set the node's authz_url to the daemon's /asterisk/<name>/authz as Asterisk reaches it (switch/asterisk/README.md, least-cost routing)")
	default:
		d.add("lcr", doctor.OK, fmt.Sprintf("outbound routes ordered by cost (%d) ask %s/lcr on every call", len(byCost), o.LCR.URL), "")
	}
}
