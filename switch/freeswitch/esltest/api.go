package esltest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// apiResult is what an API command does: events fired before its answer
// (an originate's call set-up), the answer, events fired after it (a
// uuid_kill's hang-up) and the json_cdr records of the legs that ended.
type apiResult struct {
	before []*event
	reply  string
	after  []*event
	cdrs   []cdrRecord
}

func apiResponse(body string) []byte {
	return []byte(fmt.Sprintf("Content-Type: api/response\nContent-Length: %d\n\n%s", len(body), body))
}

// apiEvent is the API event switch_api_execute fires for every command,
// known or not.
func (s *Server) apiEvent(cmd, arg string, hasArg bool) *event {
	e := s.newEvent(seqAPIWithArg)
	e.set("API-Command", cmd)
	if hasArg {
		e.set("API-Command-Argument", arg)
	} else {
		e.del("API-Command-Argument")
	}
	return e
}

// api runs "api <cmd> [<arg>]".
func (c *conn) api(line string) {
	s := c.s
	cmd, arg, hasArg := strings.Cut(line, " ")
	s.emit(s.apiEvent(cmd, arg, hasArg))
	r := s.runAPI(cmd, arg)
	s.emit(r.before...)
	reply := r.reply
	if reply == "" {
		reply = "-ERR no reply\n"
	}
	c.send(apiResponse(reply))
	s.emit(r.after...)
	s.postCDRs(r.cdrs)
}

// bgapi runs "bgapi <cmd> [<arg>]": the Job-UUID reply at once, then the
// command, then its BACKGROUND_JOB event carrying the answer as body.
func (c *conn) bgapi(line, jobUUID string) {
	s := c.s
	if jobUUID == "" {
		jobUUID = newUUID()
	}
	c.send([]byte(fmt.Sprintf("Content-Type: command/reply\nReply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n", jobUUID, jobUUID)))
	cmd, arg, hasArg := strings.Cut(line, " ")
	s.emit(s.apiEvent(cmd, arg, hasArg))
	r := s.runAPI(cmd, arg)
	s.emit(r.before...)
	s.emit(r.after...)
	job := s.newEvent(seqBackgroundJob)
	job.set("Job-UUID", jobUUID)
	job.set("Job-Command", cmd)
	if hasArg {
		job.set("Job-Command-Arg", arg)
	}
	job.setBody([]byte(r.reply))
	s.emit(job)
	s.postCDRs(r.cdrs)
}

func notModelled(cmd, arg string) apiResult {
	return apiResult{reply: fmt.Sprintf("-ERR esltest: not modelled: %s %s\n", cmd, arg)}
}

// runAPI answers one API command.
func (s *Server) runAPI(cmd, arg string) apiResult {
	switch cmd {
	case "status":
		return apiResult{reply: string(RecordedBody("api-status.txt"))}
	case "reloadxml":
		return apiResult{before: []*event{s.newEvent(seqReloadXML)}, reply: "+OK [Success]\n"}
	case "sofia":
		return s.sofiaAPI(arg)
	case "show":
		s.mu.Lock()
		defer s.mu.Unlock()
		switch strings.Join(strings.Fields(arg), " ") {
		case "channels as json":
			return apiResult{reply: renderChannelsJSON(s.st)}
		case "calls as json":
			return apiResult{reply: renderCallsJSON(s.st)}
		case "registrations as json":
			return apiResult{reply: renderRegistrationsJSON(s.st)}
		}
		return notModelled(cmd, arg)
	case "xml_flush_cache":
		return s.xmlFlushCache(arg)
	case "module_exists", "xml_locate", "version":
		return s.doctorAPI(cmd, arg)
	case "uuid_kill":
		return s.uuidKill(arg)
	case "uuid_exists":
		// mod_commands writes "true" or "false", no newline
		s.mu.Lock()
		defer s.mu.Unlock()
		return apiResult{reply: strconv.FormatBool(s.st.channel(strings.TrimSpace(arg)) != nil)}
	case "originate":
		return s.originate(arg)
	case "vm_list", "vm_read", "vm_delete":
		return s.voicemailAPI(cmd, arg)
	}
	return apiResult{reply: fmt.Sprintf("-ERR %s Command not found!\n", cmd)}
}

// sofiaAPI answers mod_sofia's "sofia" command.
func (s *Server) sofiaAPI(arg string) apiResult {
	f := strings.Fields(arg)
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(f) == 1 && f[0] == "status":
		return apiResult{reply: renderSofiaStatus(s.st, now)}
	case len(f) == 1 && f[0] == "xmlstatus":
		return apiResult{reply: renderSofiaXMLStatus(s.st)}
	case len(f) == 4 && f[0] == "status" && f[1] == "profile" && f[3] == "reg" && isProfile(f[2]):
		return apiResult{reply: renderRegsText(s.st, f[2], now, s.opts.loc)}
	case len(f) == 4 && f[0] == "xmlstatus" && f[1] == "profile" && f[3] == "reg" && isProfile(f[2]):
		return apiResult{reply: renderRegsXML(s.st, f[2], "", now, s.opts.loc)}
	case len(f) == 5 && f[0] == "xmlstatus" && f[1] == "profile" && f[3] == "user" && isProfile(f[2]) && strings.Contains(f[4], "@"):
		return apiResult{reply: renderRegsXML(s.st, f[2], f[4], now, s.opts.loc)}
	case len(f) == 3 && f[0] == "status" && f[1] == "gateway":
		return apiResult{reply: renderGatewayText(s.st, f[2], now)}
	case len(f) >= 2 && len(f) <= 3 && f[0] == "xmlstatus" && f[1] == "gateway":
		name := ""
		if len(f) == 3 {
			name = f[2]
		}
		return apiResult{reply: renderGatewaysXML(s.st, name, now)}
	case len(f) == 3 && f[0] == "profile" && f[2] == "rescan" && isProfile(f[1]):
		r := apiResult{reply: string(RecordedBody("api-sofia-profile-external-rescan.txt"))}
		r.before = append(r.before, s.newEvent(seqReloadXML))
		// A rescan re-adds the gateways a killgw deleted; they then
		// register again: TRYING, REGISTER, REGED.
		for _, g := range s.st.killed {
			if g.profile != f[1] {
				continue
			}
			r.before = append(r.before, s.gatewayEvent(seqGatewayAdd, g.name, g.profile))
			for _, st := range []string{"TRYING", "REGISTER", "REGED"} {
				ping := "DOWN"
				if st == "REGED" {
					ping = "UP"
				}
				r.after = append(r.after, s.gatewayStateEvent(g.name, st, ping))
			}
		}
		return r
	case len(f) >= 3 && f[0] == "profile" && f[2] == "flush_inbound_reg" && isProfile(f[1]):
		// sofia.c: with an argument, sofia_reg_expire_call_id (a call-id
		// or user@host); the registrations then expire: sofia::expire.
		if len(f) == 3 {
			return apiResult{reply: "+OK flushing all registrations\n"}
		}
		r := apiResult{reply: "+OK flushing all registrations matching specified call_id\n"}
		user, host, isAOR := strings.Cut(f[3], "@")
		now := time.Now().Unix()
		for _, reg := range s.st.regs {
			if isAOR && (reg.user != user || reg.domain != host) || !isAOR && reg.callID != f[3] {
				continue
			}
			e := s.userEvent(seqExpire1002, "1002", "25002", reg.domain, reg.user, reg.port)
			e.set("call-id", reg.callID)
			e.set("contact", reg.contact)
			e.set("expires", strconv.FormatInt(min(reg.expires, now), 10))
			r.after = append(r.after, e)
		}
		return r
	case len(f) == 4 && f[0] == "profile" && f[2] == "killgw" && isProfile(f[1]):
		g := s.st.gateway(f[3])
		if g == nil || g.profile != f[1] {
			return apiResult{reply: "-ERR no such gateway.\n"}
		}
		return apiResult{
			reply: string(RecordedBody("api-sofia-profile-external-killgw-gw1.txt")),
			after: []*event{s.gatewayStateEvent(g.name, "DOWN", "DOWN"), s.gatewayEvent(seqGatewayDelete, g.name, g.profile)},
		}
	}
	return notModelled("sofia", arg)
}

func isProfile(p string) bool { return p == "internal" || p == "external" }

// gatewayEvent is sofia::gateway_add or sofia::gateway_delete (the
// recorded event seq) for gateway name.
func (s *Server) gatewayEvent(seq int, name, profile string) *event {
	e := s.newEvent(seq)
	e.set("Gateway", name)
	e.set("profile-name", profile)
	return e
}

// gatewayStateEvent is a sofia::gateway_state event in the recorded shape
// of that state: TRYING without the registrar's address, REGISTER with
// Status 200 / Phrase OK, FAILED with 503 Service Unavailable, the others
// as REGED.
func (s *Server) gatewayStateEvent(name, state, ping string) *event {
	seq := seqGatewayReged
	switch state {
	case "DOWN":
		seq = seqGatewayStateDown
	case "TRYING":
		seq = seqGatewayTrying
	case "REGISTER":
		seq = seqGatewayRegister
	case "FAILED":
		seq = seqGatewayFailed
	}
	e := s.newEvent(seq)
	e.set("Gateway", name)
	e.set("State", state)
	e.set("Ping-Status", ping)
	return e
}

// xmlFlushCacheDomain is the global domain variable of the recorded
// switch, which xml_flush_cache uses when no domain is given.
const xmlFlushCacheDomain = "127.0.0.1"

// xmlFlushCache answers mod_commands' xml_flush_cache <key> <user>
// [domain] as FreeSWITCH 1.10.12 did (api-xml-flush-cache-*.txt, from the
// fidelity recordings): "+OK cleared N entry|entries", never an error;
// with fewer than two arguments the whole user cache is cleared. The
// fake's cache holds every user that registered (state.cached).
func (s *Server) xmlFlushCache(arg string) apiResult {
	f := strings.Fields(arg)
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if len(f) < 2 {
		n = len(s.st.cached)
		clear(s.st.cached)
	} else {
		domain := xmlFlushCacheDomain
		if len(f) > 2 {
			domain = f[2]
		}
		if key := f[1] + "@" + domain; s.st.cached[key] {
			delete(s.st.cached, key)
			n = 1
		}
	}
	if n == 1 {
		return apiResult{reply: "+OK cleared 1 entry\n"}
	}
	return apiResult{reply: fmt.Sprintf("+OK cleared %d entries\n", n)}
}
