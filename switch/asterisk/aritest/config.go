package aritest

// ARI's dynamic configuration of res_pjsip objects
// (/ari/asterisk/config/dynamic/res_pjsip/{type}/{id}), as the sorcery
// memory wizard of Asterisk 23.4.1 keeps them: PUT creates or updates an
// object and answers its fields, GET answers them or 404, DELETE removes
// it. Objects of pjsip.conf (AddStaticObject) are served by GET and
// refused to PUT and DELETE with 403 (which is also what a DELETE that
// lost a race with another gets, LoseDeleteRace), and a PUT the test marks refused
// (RefuseObject) gets the 400 Asterisk 23 gives a registration that names
// an endpoint without line=yes. Answers carry the recorded bodies
// (config-put-registration-gw2-no-line-400.http,
// error-config-delete-static-endpoint-403.http,
// error-config-object-not-found-404.http) with the object's id.
//
// A PUT does not add to GET /endpoints: the recorded endpoints stay the
// node's; the config objects are what the pusher reads and writes.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// configKey is "type/id".
func configKey(typ, id string) string { return typ + "/" + id }

// AddStaticObject puts an object on the node as pjsip.conf would: GET
// answers it, PUT and DELETE are refused with 403.
func (s *Server) AddStaticObject(typ, id string, fields map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initConfig()
	s.config[configKey(typ, id)] = toTuples(fields)
	s.static[configKey(typ, id)] = true
}

// RefuseObject makes every PUT of the object answer Asterisk's 400 for
// field values it refuses ("Creation of object '<id>' failed field value
// validation", as a registration with an endpoint and no line=yes).
func (s *Server) RefuseObject(typ, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initConfig()
	s.refused[configKey(typ, id)] = true
}

// LoseDeleteRace makes the next DELETE of the object answer as one that
// lost a race with another delete of it does on Asterisk 23.4.1 (seen
// live, the routing rig's cleanup against its pusher): ARI found the
// object, sorcery found it gone, and the answer is 403 "Could not delete
// object with id '<id>'" — the recorded answer of a pjsip.conf object —
// although the object is gone.
func (s *Server) LoseDeleteRace(typ, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initConfig()
	s.lostRace[configKey(typ, id)] = true
}

// ConfigObject returns the fields of an object on the node and whether
// there is one.
func (s *Server) ConfigObject(typ, id string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.config[configKey(typ, id)]
	if !ok {
		return nil, false
	}
	out := make(map[string]string, len(ts))
	for _, t := range ts {
		out[t.Attribute] = t.Value
	}
	return out, true
}

type tuple struct {
	Attribute string `json:"attribute"`
	Value     string `json:"value"`
}

func toTuples(fields map[string]string) []tuple {
	out := make([]tuple, 0, len(fields))
	for k, v := range fields {
		out = append(out, tuple{k, v})
	}
	return out
}

// initConfig makes the maps; s.mu is held.
func (s *Server) initConfig() {
	if s.config == nil {
		s.config, s.static, s.refused, s.lostRace = map[string][]tuple{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		for id, fields := range recordedTransports() {
			s.config[configKey("transport", id)] = fields
		}
	}
}

// recordedError answers with a recorded error's status and its message,
// the recorded id replaced by id.
func recordedError(w http.ResponseWriter, name, recordedID, id string) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(Recorded(name))), nil)
	if err != nil {
		panic("aritest: " + name + ": " + err.Error())
	}
	body, _ := io.ReadAll(resp.Body)
	writeJSON(w, resp.StatusCode, strings.Replace(string(body), "'"+recordedID+"'", "'"+id+"'", 1))
}

// serveConfig answers GET, PUT and DELETE of a config object of a type
// other than contact (and other than a known endpoint's aor, which
// serveAOR answers with its contacts); it reports false for a request it
// leaves to the others.
func (s *Server) serveConfig(w http.ResponseWriter, r *http.Request, typ, id string) bool {
	key := configKey(typ, id)
	s.mu.Lock()
	s.initConfig()
	fields, exists := s.config[key]
	static, refused := s.static[key], s.refused[key]
	s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		if !exists {
			recordedError(w, "error-config-object-not-found-404.http", "9999", id)
			return true
		}
		b, _ := json.Marshal(fields)
		writeJSON(w, http.StatusOK, string(b))
	case http.MethodPut:
		switch {
		case static:
			recordedError(w, "error-config-delete-static-endpoint-403.http", "1001", id)
			return true
		case refused:
			recordedError(w, "config-put-registration-gw2-no-line-400.http", "gw2", id)
			return true
		}
		var body struct {
			Fields []tuple `json:"fields"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, `{"message":"Request body is not valid JSON"}`)
			return true
		}
		s.mu.Lock()
		if s.refusePut(w, typ, id, body.Fields, exists) { // doctor.go
			s.mu.Unlock()
			return true
		}
		s.config[key] = body.Fields
		s.mu.Unlock()
		b, _ := json.Marshal(body.Fields)
		writeJSON(w, http.StatusOK, string(b))
	case http.MethodDelete:
		if static {
			recordedError(w, "error-config-delete-static-endpoint-403.http", "1001", id)
			return true
		}
		if !exists {
			return false // deleteObject: the recorded endpoints and contacts
		}
		s.mu.Lock()
		delete(s.config, key)
		lost := s.lostRace[key]
		delete(s.lostRace, key)
		s.mu.Unlock()
		s.deleteObject(discard{}, typ, id)
		if lost {
			recordedError(w, "error-config-delete-static-endpoint-403.http", "1001", id)
			return true
		}
		w.Header().Set("Server", "Asterisk/23.4.1")
		w.WriteHeader(http.StatusNoContent)
	default:
		return false
	}
	return true
}

// discard is a ResponseWriter whose answer nobody reads.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}

// dropObject deletes a configuration object and reports whether there
// was one; s.mu is held.
func (s *Server) dropObject(typ, id string) bool {
	key := configKey(typ, id)
	_, ok := s.config[key]
	delete(s.config, key)
	return ok
}
