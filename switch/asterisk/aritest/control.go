package aritest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Originated is an originate the fake accepted.
type Originated struct {
	// Query is the request's query string: endpoint, extension, context,
	// priority, callerId, timeout, channelId…
	Query map[string]string
	// Variables are the channel variables of the JSON body.
	Variables map[string]string
	// ID is the new channel's id.
	ID string
}

// Hangup is a hangup the fake accepted.
type Hangup struct {
	ID, Reason string
}

// hangupReasons are the reasons ARI's DELETE /channels/{id} accepts.
var hangupReasons = []string{"normal", "busy", "congestion", "no_answer", "timeout", "rejected",
	"unallocated", "normal_unspecified", "number_incomplete", "codec_mismatch", "interworking",
	"failure", "answered_elsewhere"}

// Call control: originate (POST /ari/channels) and hangup
// (DELETE /ari/channels/{id}), answered as Asterisk 23 does (200 with the
// new channel, 204, 404 "Channel not found"). An originated channel is
// announced with ChannelCreated and ChannelStateChange (Ringing: the phone
// rings at once), a hung-up one with ChannelHangupRequest and
// ChannelDestroyed (cause 16), through Push, so GET /channels and the
// event sockets follow.

// Originated returns the originates accepted so far.
func (s *Server) Originated() []Originated {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.originated)
}

// HungUp returns the hangups accepted so far.
func (s *Server) HungUp() []Hangup {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.hungUp)
}

func (s *Server) originate(w http.ResponseWriter, r *http.Request) {
	q := map[string]string{}
	for k, v := range r.URL.Query() {
		q[k] = v[0]
	}
	var body struct {
		Variables map[string]string `json:"variables"`
	}
	if raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20)); len(strings.TrimSpace(string(raw))) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			writeJSON(w, http.StatusBadRequest, `{"message":"Request body is not valid JSON"}`)
			return
		}
	}
	tech, res, ok := strings.Cut(q["endpoint"], "/")
	switch {
	case q["endpoint"] == "":
		writeJSON(w, http.StatusBadRequest, `{"message":"Endpoint must be specified"}`)
		return
	case !ok || tech == "" || res == "":
		writeJSON(w, http.StatusBadRequest, `{"message":"Invalid endpoint specified"}`)
		return
	case q["extension"] == "" && q["app"] == "":
		writeJSON(w, http.StatusBadRequest, `{"message":"Application or extension must be specified"}`)
		return
	}
	id := q["channelId"]
	s.mu.Lock()
	s.seq++
	seq := s.seq
	if id == "" {
		id = fmt.Sprintf("%d.%d", time.Now().Unix(), 9000+seq)
	}
	dup := slices.ContainsFunc(s.channels, func(c channel) bool { return c.id == id })
	s.mu.Unlock()
	if dup {
		writeJSON(w, http.StatusConflict, `{"message":"Channel with given unique ID already exists"}`)
		return
	}
	name, number := parseCallerID(q["callerId"])
	ctx := q["context"]
	if ctx == "" {
		ctx = "default"
	}
	now := time.Now().UTC().Format(ariTimeLayout)
	ch, _ := json.Marshal(map[string]any{
		"id": id, "name": fmt.Sprintf("%s/%s-%08x", tech, res, 0x100+seq), "state": "Down", "protocol_id": "",
		"caller": map[string]string{"name": name, "number": number}, "connected": map[string]string{"name": "", "number": ""},
		"accountcode": "", "dialplan": map[string]any{"context": ctx, "exten": q["extension"], "priority": 1, "app_name": "", "app_data": ""},
		"creationtime": now, "language": "en",
	})
	s.mu.Lock()
	s.originated = append(s.originated, Originated{Query: q, Variables: body.Variables, ID: id})
	s.mu.Unlock()
	// Asterisk answers with the channel still Down; the phone then
	// rings (180), which the fake's does at once.
	ringing := bytes.Replace(ch, []byte(`"state":"Down"`), []byte(`"state":"Ringing"`), 1)
	tail := `,"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}`
	s.Push(
		[]byte(fmt.Sprintf(`{"type":"ChannelCreated","timestamp":%q,"channel":%s`, now, ch)+tail),
		[]byte(fmt.Sprintf(`{"type":"ChannelStateChange","timestamp":%q,"channel":%s`, now, ringing)+tail),
	)
	writeJSON(w, http.StatusOK, string(ch))
}

func (s *Server) hangup(w http.ResponseWriter, r *http.Request, id string) {
	reason := r.URL.Query().Get("reason")
	if reason != "" && !slices.Contains(hangupReasons, reason) {
		writeJSON(w, http.StatusBadRequest, `{"message":"Invalid reason for hangup provided"}`)
		return
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.channels, func(c channel) bool { return c.id == id })
	var raw json.RawMessage
	if i >= 0 {
		raw = slices.Clone(s.channels[i].raw)
	}
	s.mu.Unlock()
	if i < 0 {
		writeJSON(w, http.StatusNotFound, `{"message":"Channel not found"}`)
		return
	}
	s.mu.Lock()
	s.hungUp = append(s.hungUp, Hangup{ID: id, Reason: reason})
	s.mu.Unlock()
	now := time.Now().UTC().Format(ariTimeLayout)
	tail := `,"asterisk_id":"02:fc:00:00:00:01","application":"switchboard"}`
	s.Push(
		[]byte(fmt.Sprintf(`{"type":"ChannelHangupRequest","timestamp":%q,"cause":16,"channel":%s`, now, raw)+tail),
		[]byte(fmt.Sprintf(`{"type":"ChannelDestroyed","timestamp":%q,"cause":16,"cause_txt":"Normal Clearing","channel":%s`, now, raw)+tail),
	)
	w.Header().Set("Server", "Asterisk/23.4.1")
	w.Header().Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(http.StatusNoContent)
}

// parseCallerID splits `"name" <number>` (or `<number>`, or a bare
// number) as Asterisk's caller ID parser does for the cases Switchboard
// sends.
func parseCallerID(s string) (name, number string) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		number = s[i+1 : len(s)-1]
		name = strings.Trim(strings.TrimSpace(s[:i]), `"`)
		return name, number
	}
	if strings.HasPrefix(s, `"`) {
		return strings.Trim(s, `"`), ""
	}
	return "", s
}
