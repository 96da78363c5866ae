package aritest

import (
	"encoding/json"
	"fmt"
	"io"
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

// configState is the node's dynamic configuration beside presence.
type configState struct {
	readOnly map[string]bool                // types without a writable wizard
	objects  map[string][]map[string]string // "type/id" → fields
	modules  map[string]string              // name → status, over the recorded list
	// metricsDisabled: res_prometheus loaded with enabled = no, which
	// answers /metrics 503 with no body
	// (testdata/error-metrics-disabled-503.http).
	metricsDisabled bool
	// readOnlyUser: the ARI user has read_only = yes; a PUT answers 403
	// "Write access denied" (testdata/error-read-only-user-403.http).
	readOnlyUser bool
}

// config returns the node's configuration state; s.mu is held.
func (s *Server) config() *configState {
	if s.cfg == nil {
		c := &configState{readOnly: map[string]bool{}, objects: map[string][]map[string]string{}, modules: map[string]string{}}
		var udp []map[string]string
		if err := json.Unmarshal(Recorded("config-transport-udp.json"), &udp); err != nil {
			panic("aritest: " + err.Error())
		}
		c.objects["transport/transport-udp"] = udp
		tcp := make([]map[string]string, len(udp))
		for i, f := range udp {
			tcp[i] = map[string]string{"attribute": f["attribute"], "value": f["value"]}
			if f["attribute"] == "protocol" {
				tcp[i]["value"] = "tcp"
			}
		}
		c.objects["transport/transport-tcp"] = tcp
		s.cfg = c
	}
	return s.cfg
}

// SetWritable makes objects of a res_pjsip type creatable (a memory
// wizard) or not (only config,pjsip.conf: a PUT of a new object answers
// 403 "Cannot create sorcery objects of type …").
func (s *Server) SetWritable(typ string, writable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config().readOnly[typ] = !writable
}

// SetObject puts a res_pjsip object (a transport of pjsip.conf, a pushed
// registration) as GET answers it; nil fields remove it.
func (s *Server) SetObject(typ, id string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.config()
	if fields == nil {
		delete(c.objects, typ+"/"+id)
		return
	}
	c.objects[typ+"/"+id] = tuples(fields)
}

// SetModuleStatus overrides a module's status in GET /asterisk/modules
// ("Not Running"; "" removes the module from the list).
func (s *Server) SetModuleStatus(name, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config().modules[name] = status
}

// ConfigObjects lists the "type/id" of the objects created through PUT
// and not deleted (transports excluded).
func (s *Server) ConfigObjects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.config().objects {
		if !strings.HasPrefix(k, "transport/") {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func tuples(fields map[string]string) []map[string]string {
	var out []map[string]string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range fields {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, map[string]string{"attribute": k, "value": fields[k]})
	}
	return out
}

// serveDoctor answers the requests above; false leaves r to serve.
func (s *Server) serveDoctor(w http.ResponseWriter, r *http.Request, path string) bool {
	parts := strings.Split(path, "/")
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
	case len(parts) == 6 && strings.HasPrefix(path, "asterisk/config/dynamic/res_pjsip/") && r.Method == http.MethodPut:
		s.putObject(w, r, parts[4], parts[5])
	case len(parts) == 6 && strings.HasPrefix(path, "asterisk/config/dynamic/res_pjsip/") && r.Method == http.MethodGet:
		s.mu.Lock()
		fs, ok := s.config().objects[parts[4]+"/"+parts[5]]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, http.StatusNotFound, fmt.Sprintf(`{"message":"Object with id '%s' not found"}`, parts[5]))
			return true
		}
		b, _ := json.Marshal(fs)
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
	over := s.config().modules
	out := ms[:0]
	for _, m := range ms {
		name, _ := m["name"].(string)
		if st, ok := over[name]; ok {
			if st == "" {
				continue
			}
			m["status"] = st
		}
		out = append(out, m)
	}
	s.mu.Unlock()
	b, _ := json.Marshal(out)
	writeJSON(w, http.StatusOK, string(b))
}

// putObject creates or updates an object as ARI's dynamic configuration
// does: the fields are applied and validated first (400 "Creation of
// object '…' failed field value validation": an identify without
// endpoint, a registration without server_uri, as recorded), then a new
// object is created by a writable wizard (403 without one).
func (s *Server) putObject(w http.ResponseWriter, r *http.Request, typ, id string) {
	var body struct {
		Fields []map[string]string `json:"fields"`
	}
	raw, _ := io.ReadAll(r.Body)
	if len(raw) > 0 && json.Unmarshal(raw, &body) != nil {
		writeJSON(w, http.StatusBadRequest, `{"message":"Invalid JSON"}`)
		return
	}
	fields := map[string]string{}
	for _, f := range body.Fields {
		fields[f["attribute"]] = f["value"]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.config()
	if c.readOnlyUser {
		writeJSON(w, http.StatusForbidden, `{"message":"Write access denied"}`)
		return
	}
	key := typ + "/" + id
	_, exists := c.objects[key]
	verb := "Creation"
	if exists {
		verb = "Update"
	}
	if typ == "identify" && fields["endpoint"] == "" || typ == "registration" && (fields["server_uri"] == "" || fields["client_uri"] == "") {
		writeJSON(w, http.StatusBadRequest, fmt.Sprintf(`{"message":"%s of object '%s' failed field value validation"}`, verb, id))
		return
	}
	if !exists && c.readOnly[typ] {
		writeJSON(w, http.StatusForbidden, fmt.Sprintf(`{"message":"Cannot create sorcery objects of type '%s'"}`, typ))
		return
	}
	c.objects[key] = tuples(fields)
	b, _ := json.Marshal(c.objects[key])
	writeJSON(w, http.StatusOK, string(b))
}

// dropObject deletes a configuration object; s.mu is held.
func (s *Server) dropObject(typ, id string) bool {
	key := typ + "/" + id
	_, ok := s.config().objects[key]
	delete(s.config().objects, key)
	return ok
}

// DisableMetrics makes /metrics answer as res_prometheus does when
// prometheus.conf says enabled = no: 503 Service Unavailable, no body.
func (s *Server) DisableMetrics() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config().metricsDisabled = true
}

// SetReadOnlyUser makes the user's PUTs answer as for an ari.conf user
// with read_only = yes: 403 "Write access denied".
func (s *Server) SetReadOnlyUser() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.config().readOnlyUser = true
}
