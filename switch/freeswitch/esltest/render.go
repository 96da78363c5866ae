package esltest

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The recorded node's constants.
const (
	hostname   = "vm"
	coreUUID   = "c68f2e19-98e0-40ec-b872-545f54db3d55"
	xmlHeader  = `<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n"
	rule       = "=================================================================================================\n"
	localStamp = "2006-01-02 15:04:05"
	gmtStamp   = "Mon, 02 Jan 2006 15:04:05 GMT"
	// gatewayPeer is where every gateway of the fake registers, as gw1
	// did in the recording.
	gatewayPeer = "127.0.0.1:5091"
	// gatewayRetry is how long a FAIL_WAIT gateway waits before trying
	// again.
	gatewayRetry = 30 * time.Second
)

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// gatewayUser is the username a gateway registers with: gw1 → gw1user, as
// recorded.
func gatewayUser(g *gateway) string { return g.name + "user" }

func (g *gateway) uptimeUsec(now time.Time) int64 {
	if g.fixedUptime >= 0 {
		return g.fixedUptime
	}
	if g.upSince.IsZero() {
		return 0
	}
	return now.Sub(g.upSince).Microseconds()
}

func (g *gateway) retrySeconds(now time.Time) int64 {
	return max(0, int64((gatewayRetry - now.Sub(g.stateAt)).Seconds()))
}

// renderSofiaStatus answers `sofia status`.
func renderSofiaStatus(st *state, now time.Time) string {
	var b strings.Builder
	row := func(name, typ, data, state string) {
		fmt.Fprintf(&b, "%25s\t%7s\t%42s\t%s\n", name, typ, data, state)
	}
	row("Name", "Type", "Data", "State")
	b.WriteString(rule)
	row("127.0.0.1", "alias", "internal", "ALIASED")
	row("external", "profile", "sip:mod_sofia@127.0.0.1:5080", "RUNNING (0)")
	for _, g := range st.gateways {
		s := g.state
		if s == "FAILED" || s == "TRYING" {
			// As mod_sofia's sofia status prints it.
			if r := g.retrySeconds(now); r > 0 {
				s += fmt.Sprintf(" (retry: %ds)", r)
			} else {
				s += " (retry: NEVER)"
			}
		}
		row(g.profile+"::"+g.name, "gateway", "sip:"+gatewayUser(g)+"@"+gatewayPeer, s)
	}
	row("internal", "profile", "sip:mod_sofia@127.0.0.1:5070", "RUNNING (0)")
	b.WriteString(rule)
	b.WriteString("2 profiles 1 alias\n")
	return b.String()
}

// renderSofiaXMLStatus answers `sofia xmlstatus`.
func renderSofiaXMLStatus(st *state) string {
	var b strings.Builder
	item := func(tag, name, typ, data, state string) {
		fmt.Fprintf(&b, "<%s>\n<name>%s</name>\n<type>%s</type>\n<data>%s</data>\n<state>%s</state>\n</%s>\n",
			tag, xmlEscape(name), typ, xmlEscape(data), state, tag)
	}
	b.WriteString(xmlHeader)
	b.WriteString("<profiles>\n")
	item("alias", "127.0.0.1", "alias", "internal", "ALIASED")
	item("profile", "external", "profile", "sip:mod_sofia@127.0.0.1:5080", "RUNNING (0)")
	for _, g := range st.gateways {
		item("gateway", g.name, "gateway", "sip:"+gatewayUser(g)+"@"+gatewayPeer, g.state)
	}
	if len(st.gateways) > 0 {
		b.WriteString("\n")
	}
	item("profile", "internal", "profile", "sip:mod_sofia@127.0.0.1:5070", "RUNNING (0)")
	b.WriteString("</profiles>\n")
	return b.String()
}

func writeGatewayXML(b *strings.Builder, g *gateway, now time.Time) {
	u := gatewayUser(g)
	f := func(tag, v string) { fmt.Fprintf(b, "    <%s>%s</%s>\n", tag, xmlEscape(v), tag) }
	b.WriteString("  <gateway>\n")
	f("name", g.name)
	f("profile", g.profile)
	f("scheme", "Digest")
	f("realm", "127.0.0.1")
	f("username", u)
	f("password", "yes")
	f("from", "<sip:"+u+"@"+gatewayPeer+">")
	f("contact", "<sip:gw+"+g.name+"@127.0.0.1:5080;transport=udp;gw="+g.name+">")
	f("exten", u)
	f("to", "sip:"+u+"@"+gatewayPeer)
	f("proxy", "sip:"+gatewayPeer)
	f("context", "public")
	f("expires", "60")
	f("freq", "60")
	f("ping", strconv.FormatInt(g.pingAt, 10))
	f("pingfreq", "10")
	f("pingmin", "1")
	f("pingcount", "0")
	f("pingmax", "1")
	f("pingtime", "0.00")
	f("pinging", "0")
	f("state", g.state)
	f("status", g.ping)
	f("uptime-usec", strconv.FormatInt(g.uptimeUsec(now), 10))
	f("calls-in", "0")
	f("calls-out", "0")
	f("failed-calls-in", "0")
	f("failed-calls-out", "0")
	if g.state == "FAIL_WAIT" {
		f("retry", fmt.Sprintf("%ds", g.retrySeconds(now)))
	}
	b.WriteString("  </gateway>\n")
}

// renderGatewaysXML answers `sofia xmlstatus gateway` (name "": every
// gateway) and `sofia xmlstatus gateway <name>`.
func renderGatewaysXML(st *state, name string, now time.Time) string {
	var b strings.Builder
	b.WriteString(xmlHeader)
	if name != "" {
		g := st.gateway(name)
		if g == nil {
			return "Invalid Gateway!\n"
		}
		writeGatewayXML(&b, g, now)
		return b.String()
	}
	b.WriteString("<gateways>\n")
	for _, g := range st.gateways {
		writeGatewayXML(&b, g, now)
	}
	b.WriteString("</gateways>\n")
	return b.String()
}

// renderGatewayText answers `sofia status gateway <name>`.
func renderGatewayText(st *state, name string, now time.Time) string {
	g := st.gateway(name)
	if g == nil {
		return "Invalid Gateway!\n"
	}
	u := gatewayUser(g)
	var b strings.Builder
	f := func(label, v string) { fmt.Fprintf(&b, "%s\t%s\n", label, v) }
	b.WriteString(rule)
	f("Name    ", g.name)
	f("Profile ", g.profile)
	f("Scheme  ", "Digest")
	f("Realm   ", "127.0.0.1")
	f("Username", u)
	f("Password", "yes")
	f("From    ", "<sip:"+u+"@"+gatewayPeer+">")
	f("Contact ", "<sip:gw+"+g.name+"@127.0.0.1:5080;transport=udp;gw="+g.name+">")
	f("Exten   ", u)
	f("To      ", "sip:"+u+"@"+gatewayPeer)
	f("Proxy   ", "sip:"+gatewayPeer)
	f("Context ", "public")
	f("Expires ", "60")
	f("Freq    ", "60")
	f("Ping    ", strconv.FormatInt(g.pingAt, 10))
	f("PingFreq", "10")
	f("PingTime", "0.00")
	f("PingState", "1/0/1")
	f("State   ", g.state)
	f("Status  ", g.ping)
	f("Uptime  ", fmt.Sprintf("%ds", g.uptimeUsec(now)/1e6))
	f("CallsIN ", "0")
	f("CallsOUT", "0")
	f("FailedCallsIN", "0")
	f("FailedCallsOUT", "0")
	b.WriteString(rule)
	return b.String()
}

// regStatus is the status column of a registration, with its expiry.
func regStatus(r *registration, now time.Time, loc *time.Location, upper bool) string {
	exp, secs := "exp", "expsecs"
	if upper {
		exp, secs = "EXP", "EXPSECS"
	}
	return fmt.Sprintf("%s(%s) %s(%s) %s(%d)", r.status, r.rpid, exp,
		time.Unix(r.expires, 0).In(loc).Format(localStamp), secs, r.expires-now.Unix())
}

func (st *state) profileRegs(profile string) []*registration {
	var out []*registration
	for _, r := range st.regs {
		if r.profile == profile {
			out = append(out, r)
		}
	}
	return out
}

// renderRegsXML answers `sofia xmlstatus profile <profile> reg` (who
// "") and `sofia xmlstatus profile <profile> user <user>@<host>` (who
// user@host: that user's rows).
func renderRegsXML(st *state, profile, who string, now time.Time, loc *time.Location) string {
	var b strings.Builder
	b.WriteString(xmlHeader)
	b.WriteString("<profile>\n  <registrations>\n")
	for _, r := range st.profileRegs(profile) {
		if who != "" && who != r.user+"@"+r.domain {
			continue
		}
		f := func(tag, v string) { fmt.Fprintf(&b, "        <%s>%s</%s>\n", tag, xmlEscape(v), tag) }
		b.WriteString("    <registration>\n")
		f("call-id", r.callID)
		f("user", r.user+"@"+r.domain)
		f("contact", r.contact)
		f("agent", r.agent)
		f("status", regStatus(r, now, loc, false))
		ping := "Reachable"
		if r.unreachable {
			ping = "Unreachable"
		}
		f("ping-status", ping)
		f("ping-time", fmt.Sprintf("%.2f", r.pingMS))
		f("host", hostname)
		f("network-ip", r.ip)
		f("network-port", r.port)
		f("sip-auth-user", r.user)
		f("sip-auth-realm", r.domain)
		f("mwi-account", r.user+"@"+r.domain)
		b.WriteString("    </registration>\n")
	}
	b.WriteString("  </registrations>\n</profile>\n")
	return b.String()
}

// renderRegsText answers `sofia status profile <profile> reg`.
func renderRegsText(st *state, profile string, now time.Time, loc *time.Location) string {
	var b strings.Builder
	b.WriteString("\nRegistrations:\n")
	b.WriteString(rule)
	regs := st.profileRegs(profile)
	for _, r := range regs {
		f := func(label, v string) { fmt.Fprintf(&b, "%s\t%s\n", label, v) }
		f("Call-ID:    ", r.callID)
		f("User:       ", r.user+"@"+r.domain)
		f("Contact:    ", r.contact)
		f("Agent:      ", r.agent)
		f("Status:     ", regStatus(r, now, loc, true))
		f("Ping-Status:", "Reachable")
		f("Ping-Time:", "0.00")
		f("Host:       ", hostname)
		f("IP:         ", r.ip)
		f("Port:       ", r.port)
		f("Auth-User:  ", r.user)
		f("Auth-Realm: ", r.domain)
		f("MWI-Account:", r.user+"@"+r.domain)
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Total items returned: %d\n", len(regs))
	b.WriteString(rule)
	return b.String()
}

// jsonRows renders the answer of `show … as json`: {"row_count": 0} with
// a space and a newline when there is no row, else compact JSON without a
// newline, as recorded.
func jsonRows(rows [][]header) string {
	if len(rows) == 0 {
		return "{\"row_count\": 0}\n"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"row_count":%d,"rows":[`, len(rows))
	for i, row := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, h := range row {
			if j > 0 {
				b.WriteByte(',')
			}
			writeJSONString(&b, h.name)
			b.WriteByte(':')
			writeJSONString(&b, h.value)
		}
		b.WriteByte('}')
	}
	b.WriteString("]}")
	return b.String()
}

// renderRegistrationsJSON answers `show registrations as json`. (Real
// FreeSWITCH purges this core table late: it kept listing an expired
// registration for 20 s. The fake is always current.)
func renderRegistrationsJSON(st *state) string {
	var rows [][]header
	for _, r := range st.regs {
		uri := r.contact
		if i := strings.IndexByte(uri, '<'); i >= 0 {
			uri = strings.TrimSuffix(uri[i+1:], ">")
		}
		rows = append(rows, []header{
			{"reg_user", r.user}, {"realm", r.domain}, {"token", r.callID},
			{"url", "sofia/" + r.profile + "/" + uri}, {"expires", strconv.FormatInt(r.expires, 10)},
			{"network_ip", r.ip}, {"network_port", r.port}, {"network_proto", "udp"},
			{"hostname", hostname}, {"metadata", ""},
		})
	}
	return jsonRows(rows)
}

// sortedChannels returns the channels ordered by created_epoch, as the
// show commands' SQL does.
func (st *state) sortedChannels() []channel {
	chans := slices.Clone(st.channels)
	slices.SortStableFunc(chans, func(a, b channel) int {
		x, _ := strconv.ParseInt(a["created_epoch"], 10, 64)
		y, _ := strconv.ParseInt(b["created_epoch"], 10, 64)
		return int(x - y)
	})
	return chans
}

// renderChannelsJSON answers `show channels as json`.
func renderChannelsJSON(st *state) string {
	var rows [][]header
	for _, c := range st.sortedChannels() {
		row := make([]header, 0, len(channelColumns))
		for _, col := range channelColumns {
			row = append(row, header{col, c[col]})
		}
		rows = append(rows, row)
	}
	return jsonRows(rows)
}

var (
	callColumns = strings.Split("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,ip_addr,"+
		"dest,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,callee_direction,"+
		"call_uuid,hostname,sent_callee_name,sent_callee_num", ",")
	calleeColumns = strings.Split("uuid,direction,created,created_epoch,name,state,cid_name,cid_num,"+
		"ip_addr,dest,presence_id,presence_data,accountcode,callstate,callee_name,callee_num,"+
		"callee_direction,sent_callee_name,sent_callee_num", ",")
)

// renderCallsJSON answers `show calls as json`: FreeSWITCH's basic_calls
// view, one row per channel that is not the b-leg of a bridge, with the
// bridged b-leg's columns prefixed b_ (empty when unbridged).
func renderCallsJSON(st *state) string {
	var rows [][]header
	for _, a := range st.sortedChannels() {
		if slices.ContainsFunc(st.bridges, func(x bridge) bool { return x.callee == a["uuid"] }) {
			continue
		}
		var br *bridge
		if i := slices.IndexFunc(st.bridges, func(x bridge) bool { return x.caller == a["uuid"] }); i >= 0 {
			br = &st.bridges[i]
		}
		b := channel{}
		if br != nil && st.channel(br.callee) != nil {
			b = st.channel(br.callee)
		}
		row := make([]header, 0, len(callColumns)+len(calleeColumns)+1)
		for _, col := range callColumns {
			row = append(row, header{col, a[col]})
		}
		for _, col := range calleeColumns {
			row = append(row, header{"b_" + col, b[col]})
		}
		created := ""
		if br != nil {
			created = br.createdEpoch
		}
		rows = append(rows, append(row, header{"call_created_epoch", created}))
	}
	return jsonRows(rows)
}
