package native

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// voicemailPatch is what a caller may change of a message: whether it
// was listened to.
type voicemailPatch struct {
	Read *bool `json:"read"`
}

// voicemailRoutes are the messages left in the tenants' boxes: listed,
// fetched as audio, marked read, deleted (on the switch too).
func (s *server) voicemailRoutes() []*route {
	base := Prefix + "/voicemail-messages"
	item := base + "/{id}"
	view := reflect.TypeFor[provisioning.VoicemailMessage]()
	return []*route{
		{
			method: http.MethodGet, path: base, op: "listVoicemailMessages", tag: "voicemail-messages",
			summary: "List voicemail messages in the caller's scope, oldest first",
			query: append([]param{pTenantID,
				{name: "box_id", typ: "id", doc: "only this box's messages"},
				{name: "unread", typ: "bool", doc: "only messages nobody listened to"},
			}, pageParams...),
			resp: response{status: http.StatusOK, list: true, typ: view, name: "VoicemailMessage"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				p, err := c.page()
				if err != nil {
					return err
				}
				f := provisioning.VoicemailFilter{Page: p}
				if f.TenantID, err = c.id("tenant_id"); err != nil {
					return err
				}
				if f.BoxID, err = c.id("box_id"); err != nil {
					return err
				}
				if v := c.str("unread"); v != "" {
					if f.Unread, err = strconv.ParseBool(v); err != nil {
						return badParam("unread", "must be true or false")
					}
				}
				ms, err := s.svc.VoicemailMessages(req.Context(), c.scope, f)
				if err != nil {
					return err
				}
				out := list[provisioning.VoicemailMessage]{Items: ms}
				if len(ms) == p.Limit && len(ms) > 0 {
					out.NextCursor = api.EncodeCursor(ms[len(ms)-1].ID)
				}
				return writeJSON(w, http.StatusOK, out)
			},
		},
		{
			method: http.MethodGet, path: item, op: "getVoicemailMessage", tag: "voicemail-messages",
			summary: "Get one voicemail message",
			resp:    response{status: http.StatusOK, typ: view, name: "VoicemailMessage"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				m, err := s.svc.VoicemailMessage(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, m)
			},
		},
		{
			method: http.MethodGet, path: item + "/audio", op: "getVoicemailAudio", tag: "voicemail-messages",
			summary: "The message's audio, 8 kHz mono 16-bit WAV",
			resp:    response{status: http.StatusOK, media: "audio/wav", mediaDoc: "the WAV file"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				_, wav, err := s.svc.VoicemailAudio(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				w.Header().Set("Content-Type", "audio/wav")
				w.Header().Set("Content-Length", strconv.Itoa(len(wav)))
				w.Header().Set("Cache-Control", "private, no-store")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(wav)
				return nil
			},
		},
		{
			method: http.MethodPatch, path: item, op: "updateVoicemailMessage", tag: "voicemail-messages",
			summary: "Mark a message read or unread (the phones' message-waiting lamps follow)",
			body:    &body{typ: reflect.TypeFor[voicemailPatch](), name: "VoicemailMessagePatch", required: []string{"read"}},
			resp:    response{status: http.StatusOK, typ: view, name: "VoicemailMessage"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				raw, err := s.readBody(req)
				if err != nil {
					return err
				}
				var in voicemailPatch
				if err := decodeJSON(raw, &in); err != nil {
					return err
				}
				if in.Read == nil {
					return provisioning.Invalid("read", "is required")
				}
				m, err := s.svc.MarkVoicemail(req.Context(), c.scope, id, *in.Read)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, m)
			},
		},
		{
			method: http.MethodDelete, path: item, op: "deleteVoicemailMessage", tag: "voicemail-messages",
			summary: "Delete a message, here and on the switch that recorded it",
			resp:    response{status: http.StatusNoContent},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if err := s.svc.DeleteVoicemail(req.Context(), c.scope, id); err != nil {
					return err
				}
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusNoContent)
				return nil
			},
		},
	}
}
