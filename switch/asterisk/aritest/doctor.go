package aritest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// What `switchboard doctor` reads and writes on a node, answered as
// Asterisk 23.4.1 answered (testdata/asterisk-modules.json,
// config-transport-udp.json, error-config-*.http,
// error-application-not-found-404.http): GET /asterisk/modules, GET
// /applications, and PUT, GET and DELETE of res_pjsip objects other than
// the AORs and contacts the presence model keeps (server.go). A new
// node's wizards are writable (memory, as the recorded node's
// sorcery.conf); SetWritable makes a type config-only.

// configState is what doctor reads of the node beside its objects
// (which config.go keeps).
type configState struct {
	readOnly map[string]bool   // types without a writable wizard
	modules  map[string]string // name → status, over the recorded list
	// metricsDisabled: res_prometheus loaded with enabled = no, which
	// answers /metrics 503 with no body
	// (testdata/error-metrics-disabled-503.http).
	metricsDisabled bool
	// readOnlyUser: the ARI user has read_only = yes; a PUT answers 403
	// "Write access denied" (testdata/error-read-only-user-403.http).
	readOnlyUser bool
}

// docState returns the node's doctor state; s.mu is held.
func (s *Server) docState() *configState {
	if s.cfg == nil {
		s.cfg = &configState{readOnly: map[string]bool{}, modules: map[string]string{}}
	}
	return s.cfg
}

// recordedTransports are the node's pjsip.conf transports: udp as
// recorded (config-transport-udp.json) and tcp alike.
func recordedTransports() map[string][]tuple {
	var udp []tuple
	if err := json.Unmarshal(Recorded("config-transport-udp.json"), &udp); err != nil {
		panic("aritest: " + err.Error())
	}
	tcp := slices.Clone(udp)
	for i := range tcp {
		if tcp[i].Attribute == "protocol" {
			tcp[i].Value = "tcp"
		}
	}
	return map[string][]tuple{"transport-udp": udp, "transport-tcp": tcp}
}

// SetWritable makes objects of a res_pjsip type creatable (a memory
// wizard) or not (only config,pjsip.conf: a PUT of a new object answers
// 403 "Cannot create sorcery objects of type …").
func (s *Server) SetWritable(typ string, writable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docState().readOnly[typ] = !writable
}

// SetObject puts a res_pjsip object (a transport of pjsip.conf, a pushed
// registration) as GET answers it; nil fields remove it.
func (s *Server) SetObject(typ, id string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initConfig()
	if fields == nil {
		delete(s.config, configKey(typ, id))
		return
	}
	s.config[configKey(typ, id)] = toTuples(fields)
}

// SetModuleStatus overrides a module's status in GET /asterisk/modules
// ("Not Running"; "" removes the module from the list); a module the
// recorded node did not have is added (a node built with it).
func (s *Server) SetModuleStatus(name, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docState().modules[name] = status
}

// ConfigObjects lists the "type/id" of the objects created through PUT
// (or SetObject) and not deleted, transports excluded.
func (s *Server) ConfigObjects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.config {
		if !strings.HasPrefix(k, "transport/") && !s.static[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// serveDoctor answers the requests above; false leaves r to serve.
func (s *Server) serveDoctor(w http.ResponseWriter, r *http.Request, path string) bool {
	switch {
	case r.Method == http.MethodGet && path == "asterisk/modules":
		s.serveModules(w)
	case r.Method == http.MethodGet && path == "applications":
		s.mu.Lock()
		apps := []map[string]any{}
		seen := map[string]bool{}
		for so := range s.sockets {
			if !seen[so.app] {
				seen[so.app] = true
				apps = append(apps, map[string]any{"name": so.app, "channel_ids": []string{}, "bridge_ids": []string{}, "endpoint_ids": []string{}, "device_names": []string{}})
			}
		}
		s.mu.Unlock()
		b, _ := json.Marshal(apps)
		writeJSON(w, http.StatusOK, string(b))
	default:
		return false
	}
	return true
}

func (s *Server) serveModules(w http.ResponseWriter) {
	var ms []map[string]any
	if err := json.Unmarshal(Recorded("asterisk-modules.json"), &ms); err != nil {
		panic("aritest: " + err.Error())
	}
	s.mu.Lock()
	over := s.docState().modules
	out := ms[:0]
	seen := map[string]bool{}
	for _, m := range ms {
		name, _ := m["name"].(string)
		seen[name] = true
		if st, ok := over[name]; ok {
			if st == "" {
				continue
			}
			m["status"] = st
		}
		out = append(out, m)
	}
	for _, name := range slices.Sorted(maps.Keys(over)) {
		if st := over[name]; !seen[name] && st != "" {
			out = append(out, map[string]any{"name": name, "description": "", "use_count": 0, "status": st, "support_level": "core"})
		}
	}
	s.mu.Unlock()
	b, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, string(b))
}

// refusePut answers a PUT the node refuses before storing anything, as
// Asterisk 23.4.1 does: a read-only ARI user (403 "Write access denied"),
// field values that fail validation (400 "Creation of object '…' failed
// field value validation": an identify without endpoint, a registration
// without server_uri or client_uri), a new object of a type without a
// writable wizard (403 "Cannot create sorcery objects of type …"). It
// reports whether it answered; s.mu is held.
func (s *Server) refusePut(w http.ResponseWriter, typ, id string, fields []tuple, exists bool) bool {
	c := s.docState()
	get := func(name string) string {
		for _, f := range fields {
			if f.Attribute == name {
				return f.Value
			}
		}
		return ""
	}
	verb := "Creation"
	if exists {
		verb = "Update"
	}
	switch {
	case c.readOnlyUser:
		writeJSON(w, http.StatusForbidden, `{"message":"Write access denied"}`)
	case typ == "identify" && get("endpoint") == "" || typ == "registration" && (get("server_uri") == "" || get("client_uri") == ""):
		writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"message":"%s of object '%s' failed field value validation"}`, verb, id))
	case !exists && c.readOnly[typ]:
		writeJSON(w, http.StatusForbidden, fmt.Sprintf(`{"message":"Cannot create sorcery objects of type '%s'"}`, typ))
	default:
		return false
	}
	return true
}

// DisableMetrics makes /metrics answer as res_prometheus does when
// prometheus.conf says enabled = no: 503 Service Unavailable, no body.
func (s *Server) DisableMetrics() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docState().metricsDisabled = true
}

// SetReadOnlyUser makes the user's PUTs answer as for an ari.conf user
// with read_only = yes: 403 "Write access denied".
func (s *Server) SetReadOnlyUser() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docState().readOnlyUser = true
}
