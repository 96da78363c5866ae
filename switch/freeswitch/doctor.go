package freeswitch

// `switchboard doctor` for a FreeSWITCH node: what Switchboard needs of
// the live switch, read over ESL only (api commands that change nothing
// but an empty directory cache entry), each finding with what to fix.

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/switch/doctor"
)

// DoctorConfig is what the doctor compares the node with.
type DoctorConfig struct {
	// Name is the switch's name: the node's xml_curl and json_cdr URLs
	// end in /freeswitch/<Name>/xml-curl and /freeswitch/<Name>/cdr.
	Name string
	Node *NodeConfig
	// Domain is the switch's SIP domain ("" = every domain).
	Domain string
	// HTTPListen is the daemon's http.listen, to compare the URLs' ports
	// with.
	HTTPListen string
	// Directory is the store, for the accounts and domains static users
	// could shadow; nil skips that comparison.
	Directory Directory
	// Timeout bounds the ESL login and each command (5 s when 0).
	Timeout time.Duration
}

// stockPassword is the password of the users 1000-1019 of FreeSWITCH's
// vanilla configuration ($${default_password} in vars.xml).
const stockPassword = "1234"

// doctorModules are the modules Switchboard needs, with what each does
// for it.
var doctorModules = []struct{ name, why string }{
	{"mod_sofia", "SIP"},
	{"mod_xml_curl", "directory and DID lookups from Switchboard"},
	{"mod_json_cdr", "CDRs posted to Switchboard"},
	{"mod_commands", "the api commands Switchboard runs (xml_flush_cache, show, uuid_kill)"},
	{"mod_dialplan_xml", "the dialplan Switchboard answers for DIDs and call routing"},
	{"mod_dptools", "the applications the routing dialplan runs (bridge, set, execute_extension)"},
	{"mod_db", "round-robin hunt groups' memory (db insert/select: the node's database, kept across restarts)"},
	{"mod_expr", "random hunt groups' draw"},
}

// doctorMediaModules are the modules of the media features: without one
// the feature does not work on the node, which a node may choose, so a
// missing one is a warning.
var doctorMediaModules = []struct{ name, why string }{
	{"mod_sndfile", "sound files (IVR greetings) played from sounds_dir, and call recordings written as WAV into recordings_dir"},
	{"mod_voicemail", "voicemail boxes (messages, message-waiting, the listening menu)"},
	{"mod_spandsp", "fax boxes (rxfax, T.38)"},
}

// Doctor checks the live node against what Switchboard needs. It never
// fails as a whole: an ESL it cannot reach is the first, failed check.
func Doctor(ctx context.Context, cfg DoctorConfig) []doctor.Check {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	n := cfg.Node
	conn, err := dialESL(ctx, eslOptions{addr: n.ESL, password: n.Password, dialTimeout: timeout, keepAlive: -1, window: 10 * time.Millisecond}, []string{"HEARTBEAT"})
	if err != nil {
		c := doctor.Check{Name: "esl", Status: doctor.Fail, Detail: err.Error()}
		if errors.Is(err, ErrAuth) {
			c.Fix = "switches[].password must be event_socket.conf.xml's password"
		} else {
			c.Fix = "start FreeSWITCH with mod_event_socket loaded; switches[].esl must be event_socket.conf.xml's listen-ip:listen-port, and its apply-inbound-acl must admit this host"
		}
		return []doctor.Check{c}
	}
	defer conn.Close()
	api := func(cmd string) (string, error) {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return conn.api(cctx, cmd)
	}
	d := &fsDoctor{cfg: cfg, api: api}
	return d.run(ctx)
}

// fsDoctor runs the checks over one connection.
type fsDoctor struct {
	cfg    DoctorConfig
	api    func(cmd string) (string, error)
	checks []doctor.Check
}

func (d *fsDoctor) add(name string, s doctor.Status, detail, fix string) {
	d.checks = append(d.checks, doctor.Check{Name: name, Status: s, Detail: detail, Fix: fix})
}

func (d *fsDoctor) run(ctx context.Context) []doctor.Check {
	version, err := d.api("version")
	if err != nil {
		d.add("esl", doctor.Fail, "logged in, but the version command failed: "+err.Error(), "load mod_commands")
		return d.checks
	}
	d.add("esl", doctor.OK, fmt.Sprintf("%s, logged in (%s)", d.cfg.Node.ESL, strings.TrimSpace(version)), "")
	if d.cfg.Node.Password == DefaultPassword {
		d.add("esl password", doctor.Warn, "the event socket uses the well-known default password ClueCon",
			"set a long random password in event_socket.conf.xml and in switches[].password: whoever reaches the port controls the switch")
	}
	loaded := d.modules()
	d.mediaModules()
	if loaded["mod_xml_curl"] {
		d.xmlCurl()
	}
	if loaded["mod_json_cdr"] {
		d.jsonCDR()
	}
	if loaded["mod_sofia"] {
		d.sofia(ctx)
	}
	d.cache()
	d.staticUsers(ctx)
	return d.checks
}

func (d *fsDoctor) modules() map[string]bool {
	loaded := map[string]bool{}
	var missing []string
	for _, m := range doctorModules {
		out, err := d.api("module_exists " + m.name)
		if err == nil && strings.TrimSpace(out) == "true" {
			loaded[m.name] = true
			continue
		}
		missing = append(missing, m.name+" ("+m.why+")")
	}
	if len(missing) > 0 {
		d.add("modules", doctor.Fail, "not loaded: "+strings.Join(missing, ", "),
			"add <load module=\"…\"/> to modules.conf.xml (mod_xml_curl before mod_sofia) and restart FreeSWITCH")
		return loaded
	}
	names := make([]string, len(doctorModules))
	for i, m := range doctorModules {
		names[i] = m.name
	}
	d.add("modules", doctor.OK, "loaded: "+strings.Join(names, ", "), "")
	return loaded
}

// mediaModules warns of the media features' missing modules.
func (d *fsDoctor) mediaModules() {
	var missing, names []string
	for _, m := range doctorMediaModules {
		names = append(names, m.name)
		if out, err := d.api("module_exists " + m.name); err != nil || strings.TrimSpace(out) != "true" {
			missing = append(missing, m.name+" ("+m.why+")")
		}
	}
	if len(missing) > 0 {
		d.add("media modules", doctor.Warn, "not loaded: "+strings.Join(missing, ", "),
			"load them in modules.conf.xml where the node serves those features (mod_spandsp needs spandsp 3; see switch/freeswitch/README.md)")
		return
	}
	d.add("media modules", doctor.OK, "loaded: "+strings.Join(names, ", "), "")
}

// locateConfig reads a module's configuration as FreeSWITCH holds it;
// "" when there is none ("can't find anything").
func (d *fsDoctor) locateConfig(name string) (string, error) {
	out, err := d.api("xml_locate configuration configuration name " + name)
	if err != nil {
		return "", err
	}
	if !strings.Contains(out, "<configuration") {
		return "", nil
	}
	return out, nil
}

// moduleConfig reads file for check name, or adds its failure.
func (d *fsDoctor) moduleConfig(name, file string) (string, bool) {
	conf, err := d.locateConfig(file)
	switch {
	case err != nil:
		d.add(name, doctor.Fail, "xml_locate "+file+": "+err.Error(), "load mod_commands")
	case conf == "":
		d.add(name, doctor.Fail, file+" not found", "write autoload_configs/"+file+".xml (see switch/freeswitch/README.md)")
	}
	return conf, err == nil && conf != ""
}

// endpointURL checks that raw is the daemon's endpoint path: the same
// path, and the port of http.listen. It returns what is wrong, or "".
func (d *fsDoctor) endpointURL(raw, path string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("%q is not an http URL", raw)
	}
	if u.Path != path {
		return fmt.Sprintf("%s has path %s, want %s", raw, u.Path, path)
	}
	if _, lport, err := net.SplitHostPort(d.cfg.HTTPListen); err == nil && u.Port() != "" && u.Port() != lport {
		return fmt.Sprintf("%s is port %s, but http.listen is %s", raw, u.Port(), d.cfg.HTTPListen)
	}
	return ""
}

// credentials compares a user:password param with the node's http_user
// and http_password, without showing either.
func (d *fsDoctor) credentials(got string) string {
	n := d.cfg.Node
	if n.HTTPPassword == "" {
		return ""
	}
	if got == "" {
		return "sends no credentials, but switches[].http_password is set (every request is refused 401)"
	}
	if got != n.HTTPUser+":"+n.HTTPPassword {
		return "its credentials are not switches[].http_user:http_password (every request is refused 401)"
	}
	return ""
}

func (d *fsDoctor) xmlCurl() {
	const name = "xml_curl"
	path := "/freeswitch/" + d.cfg.Name + "/xml-curl"
	conf, ok := d.moduleConfig(name, "xml_curl.conf")
	if !ok {
		return
	}
	bindings, err := parseXMLCurlConf([]byte(conf))
	if err != nil {
		d.add(name, doctor.Fail, "xml_curl.conf: "+err.Error(), "rewrite autoload_configs/xml_curl.conf.xml (see switch/freeswitch/README.md)")
		return
	}
	var problems []string
	for _, b := range bindings {
		raw := b.Params["gateway-url"]
		if !strings.Contains(raw, path) {
			continue
		}
		sections := strings.Split(strings.ToLower(b.Params["bindings"]), "|")
		if p := d.endpointURL(raw, path); p != "" {
			problems = append(problems, p)
		}
		if p := d.credentials(b.Params["gateway-credentials"]); p != "" {
			problems = append(problems, "binding "+b.Name+": "+p)
		}
		switch {
		case b.Params["bindings"] != "" && !slices.Contains(sections, "directory"):
			problems = append(problems, "binding "+b.Name+" does not bind directory: accounts cannot register")
		}
		if len(problems) > 0 {
			d.add(name, doctor.Fail, strings.Join(problems, "; "), "fix the binding in xml_curl.conf.xml, then reload mod_xml_curl")
			return
		}
		if b.Params["bindings"] != "" && !slices.Contains(sections, "dialplan") {
			d.add(name, doctor.Warn, "binding "+b.Name+" does not bind dialplan: DIDs are not routed", `bindings="directory|dialplan"`)
		} else {
			d.add(name, doctor.OK, fmt.Sprintf("binding %s → %s (%s)", b.Name, raw, b.Params["bindings"]), "")
		}
		if t, _ := strconv.Atoi(b.Params["timeout"]); t <= 0 {
			d.add("xml_curl timeout", doctor.Warn, "binding "+b.Name+" has no timeout: a lookup waits forever on a hung Switchboard, holding the REGISTER or call",
				`<param name="timeout" value="5"/>`)
		}
		return
	}
	d.add(name, doctor.Fail, "no binding's gateway-url is "+path+" of this daemon",
		"add a binding with gateway-url http://<http.listen>"+path+` bindings="directory|dialplan" (switch/freeswitch/README.md), then reload mod_xml_curl`)
}

func (d *fsDoctor) jsonCDR() {
	const name = "json_cdr"
	path := "/freeswitch/" + d.cfg.Name + "/cdr"
	conf, ok := d.moduleConfig(name, "json_cdr.conf")
	if !ok {
		return
	}
	s, err := parseSettings([]byte(conf))
	if err != nil {
		d.add(name, doctor.Fail, "json_cdr.conf: "+err.Error(), "rewrite autoload_configs/json_cdr.conf.xml (see switch/freeswitch/README.md)")
		return
	}
	var fails []string
	urls := strings.Split(s["url"], "|") // mod_json_cdr takes several, tried in turn
	ours := ""
	for _, u := range urls {
		if strings.Contains(u, path) {
			ours = u
		}
	}
	if ours == "" {
		fails = append(fails, fmt.Sprintf("url %q is not %s of this daemon", s["url"], path))
	} else if p := d.endpointURL(ours, path); p != "" {
		fails = append(fails, p)
	}
	if p := d.credentials(s["cred"]); p != "" {
		fails = append(fails, "cred "+p)
	}
	if len(fails) > 0 {
		d.add(name, doctor.Fail, strings.Join(fails, "; "), "fix json_cdr.conf.xml, then reload mod_json_cdr")
		return
	}
	d.add(name, doctor.OK, "url → "+ours, "")
	if !truthy(s["log-b-leg"]) {
		d.add("json_cdr legs", doctor.Warn, "log-b-leg is not true: the callee legs' CDRs are not posted", `<param name="log-b-leg" value="true"/>`)
	}
	var risks []string
	if s["queue-capacity"] == "" {
		risks = append(risks, "no queue-capacity: each record is posted from its channel's thread, so a slow or down Switchboard delays every hang-up by the retries")
	}
	if t, _ := strconv.Atoi(s["timeout"]); t <= 0 {
		risks = append(risks, "no timeout: a post waits forever on a hung Switchboard")
	}
	retries, _ := strconv.Atoi(s["retries"])
	delay, _ := strconv.Atoi(s["delay"])
	if s["err-log-dir"] == "" && s["log-errors-to-disk"] != "true" {
		risks = append(risks, "no err-log-dir: a record not delivered after its retries is lost")
	}
	if len(risks) > 0 {
		d.add("json_cdr delivery", doctor.Warn, strings.Join(risks, "; "),
			`set timeout (e.g. 15), queue-capacity (e.g. 1000: one thread then posts the records in turn, so keep retries × delay short) and err-log-dir, and let Switchboard import err-log-dir (json_cdr_err_log_dir) or import it with switchboard cdr import`)
	} else {
		d.add("json_cdr delivery", doctor.OK, fmt.Sprintf("queue-capacity %s, timeout %ss, %d retries %ds apart, then err-log-dir %s", s["queue-capacity"], s["timeout"], retries, delay, s["err-log-dir"]), "")
	}
}

func truthy(s string) bool {
	switch strings.ToLower(s) {
	case "true", "yes", "on", "1", "enabled", "active", "allow":
		return true
	}
	return false
}

func (d *fsDoctor) sofia(ctx context.Context) {
	out, err := d.api("sofia xmlstatus")
	if err != nil {
		d.add("sofia", doctor.Fail, "sofia xmlstatus: "+err.Error(), "")
		return
	}
	entries, err := parseSofiaXMLStatus([]byte(out))
	if err != nil {
		d.add("sofia", doctor.Fail, "sofia xmlstatus: "+err.Error(), "")
		return
	}
	state := map[string]string{}
	for _, e := range entries {
		if e.Kind == "profile" && state[e.Name] == "" {
			state[e.Name] = e.State + " at " + e.Data
		}
	}
	n := d.cfg.Node
	for _, p := range []struct{ name, role, key string }{{n.PhoneProfile, "phones", "phone_profile"}, {n.GatewayProfile, "gateways", "gateway_profile"}} {
		st, ok := state[p.name]
		switch {
		case !ok:
			d.add("sofia "+p.name, doctor.Fail, fmt.Sprintf("profile %s (%s, switches[].%s) is not running", p.name, p.role, p.key),
				"start it (sofia profile "+p.name+" start; its log says why it failed) or set switches[]."+p.key)
		case !strings.HasPrefix(st, "RUNNING"):
			d.add("sofia "+p.name, doctor.Fail, fmt.Sprintf("profile %s is %s", p.name, st), "restart it: sofia profile "+p.name+" restart")
		default:
			d.add("sofia "+p.name, doctor.OK, fmt.Sprintf("profile %s (%s) %s", p.name, p.role, st), "")
		}
	}
	d.staticGateways(ctx, entries)
}

// staticGateways flags gateways of sofia.conf's profiles that Switchboard
// also provisions: FreeSWITCH 1.10.12 keeps the static one and logs
// "Ignoring duplicate gateway 'carrier1'" for Switchboard's (seen live),
// so Switchboard's settings never apply.
func (d *fsDoctor) staticGateways(ctx context.Context, entries []sofiaEntry) {
	if d.cfg.Directory == nil {
		return
	}
	gws, err := d.cfg.Directory.Gateways(ctx)
	if err != nil {
		d.add("gateways", doctor.Warn, "could not read the provisioned gateways: "+err.Error(), "")
		return
	}
	ours := map[string]bool{}
	for _, g := range gws {
		ours[g.Name] = true
	}
	conf, err := d.locateConfig("sofia.conf")
	if err != nil || conf == "" {
		return
	}
	var static []string
	_ = eachXMLElement([]byte(conf), "gateway", func(_ *xml.Decoder, start xml.StartElement) error {
		if name := xmlAttr(start, "name"); ours[name] {
			static = append(static, name)
		}
		return nil
	})
	if len(static) > 0 {
		d.add("gateways", doctor.Fail, "gateways defined in sip_profiles and also provisioned in Switchboard: "+strings.Join(static, ", ")+"; FreeSWITCH keeps the static definition and ignores Switchboard's (log: Ignoring duplicate gateway)",
			"remove their static definitions (sip_profiles/"+d.cfg.Node.GatewayProfile+"/*.xml), then sofia profile "+d.cfg.Node.GatewayProfile+" rescan")
	}
}

func (d *fsDoctor) cache() {
	ms := d.cfg.Node.DirectoryCacheMS
	if ms < 0 {
		d.add("directory cache", doctor.Warn, "directory_cache_ms is -1: nothing is cached, so no phone can register while Switchboard is down",
			fmt.Sprintf("leave directory_cache_ms unset (%d ms) or set up to %d", DefaultDirectoryCacheMS, MaxDirectoryCacheMS))
	}
	domain := d.cfg.Domain
	if domain == "" {
		domain = "switchboard.invalid"
	}
	out, err := d.api("xml_flush_cache id switchboard-doctor " + domain)
	if err != nil || !strings.HasPrefix(out, "+OK") {
		d.add("directory cache", doctor.Fail, fmt.Sprintf("xml_flush_cache answered %q %v: Switchboard cannot flush a changed account", out, err), "load mod_commands")
		return
	}
	if ms > 0 {
		d.add("directory cache", doctor.OK, fmt.Sprintf("users cached %s after each lookup (phones keep registering that long while Switchboard is down); xml_flush_cache works", time.Duration(ms)*time.Millisecond), "")
	}
}

func (d *fsDoctor) staticUsers(ctx context.Context) {
	out, err := d.api("xml_locate directory")
	if err != nil {
		d.add("static users", doctor.Warn, "xml_locate directory: "+err.Error(), "")
		return
	}
	if !strings.Contains(out, "<section") {
		d.add("static users", doctor.OK, "FreeSWITCH has no static directory", "")
		return
	}
	users, err := parseStaticDirectory([]byte(out))
	if err != nil {
		d.add("static users", doctor.Warn, "xml_locate directory: "+err.Error(), "")
		return
	}
	var stock, overlap, shadow []string
	owned := map[string]bool{}
	for _, u := range users {
		aor := u.ID + "@" + u.Domain
		if u.Password == stockPassword {
			stock = append(stock, aor)
		}
		if d.cfg.Directory == nil || !u.Credential {
			continue // a user without a credential cannot authenticate
		}
		own, seen := owned[u.Domain]
		if !seen {
			ok, err := d.cfg.Directory.DomainExists(ctx, u.Domain)
			if err != nil {
				d.add("static users", doctor.Warn, "reading the store: "+err.Error(), "")
				return
			}
			owned[u.Domain], own = ok, ok
		}
		if !own {
			continue
		}
		_, err := d.cfg.Directory.AccountByUsername(ctx, u.Domain, u.ID)
		switch {
		case err == nil:
			overlap = append(overlap, aor)
		case errors.Is(err, provisioning.ErrNotFound):
			shadow = append(shadow, aor)
		default:
			d.add("static users", doctor.Warn, "reading the store: "+err.Error(), "")
			return
		}
	}
	const fix = "delete the static users of Switchboard's domains (in the vanilla configuration directory/default/1000.xml to 1019.xml, brian.xml and example.com.xml), then reloadxml"
	if len(overlap) > 0 {
		d.add("static users", doctor.Fail, fmt.Sprintf("%s also in Switchboard's store: %s; while Switchboard is down or failing, FreeSWITCH authenticates them with the file's credentials", doctor.Count(len(overlap), "static directory user")+are(len(overlap)), doctor.List(overlap, 5)), fix)
	}
	if len(shadow) > 0 {
		d.add("static users", doctor.Fail, fmt.Sprintf("%s in a domain Switchboard owns: %s; Switchboard answers them \"no such user\", but while it is down they register with the file's credentials (a deleted account comes back)", doctor.Count(len(shadow), "static directory user")+are(len(shadow)), doctor.List(shadow, 5)), fix)
	}
	if len(stock) > 0 {
		d.add("stock password", doctor.Fail, fmt.Sprintf("%s FreeSWITCH's stock password 1234: %s; anyone who reaches the switch can register as them", doctor.Count(len(stock), "static directory user")+has(len(stock)), doctor.List(stock, 5)),
			"delete them, or change default_password in vars.xml, then reloadxml")
	}
	if len(overlap)+len(shadow)+len(stock) == 0 {
		d.add("static users", doctor.OK, doctor.Count(len(users), "static directory user")+", none in Switchboard's domains, none with the stock password", "")
	}
}

// are and has agree a verb with a count.
func are(n int) string {
	if n == 1 {
		return " is"
	}
	return " are"
}

func has(n int) string {
	if n == 1 {
		return " has"
	}
	return " have"
}
