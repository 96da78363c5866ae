package native

import (
	"bytes"
	"net/http"
	"reflect"
	"strconv"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

type recordingPolicyIn struct {
	TenantID      int64 `json:"tenant_id"`
	All           bool  `json:"all"`
	RetentionDays int   `json:"retention_days"`
}

func (in *recordingPolicyIn) load(p *provisioning.RecordingPolicy) {
	*in = recordingPolicyIn{TenantID: p.TenantID, All: p.All, RetentionDays: p.RetentionDays}
}

func (in *recordingPolicyIn) store(_ *provisioning.Service, p *provisioning.RecordingPolicy) error {
	p.TenantID, p.All, p.RetentionDays = in.TenantID, in.All, in.RetentionDays
	return nil
}

// recordingRoutes are the recorded calls: listed (all, or a CDR's),
// fetched as WAV, deleted.
func (s *server) recordingRoutes() []*route {
	base := Prefix + "/recordings"
	item := base + "/{id}"
	view := reflect.TypeFor[provisioning.Recording]()
	return []*route{
		{
			method: http.MethodGet, path: base, op: "listRecordings", tag: "recordings",
			summary: "List call recordings in the caller's scope, oldest first",
			query: append([]param{pTenantID,
				{name: "switch", typ: "string", doc: "only this switch's recordings"},
				{name: "call_id", typ: "string", doc: "only the recording of this channel (a CDR's call_id or linked_id); needs switch"},
			}, pageParams...),
			resp: response{status: http.StatusOK, list: true, typ: view, name: "Recording"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				p, err := c.page()
				if err != nil {
					return err
				}
				f := provisioning.RecordingFilter{Page: p, Switch: c.str("switch")}
				if f.TenantID, err = c.id("tenant_id"); err != nil {
					return err
				}
				if id := c.str("call_id"); id != "" {
					if f.Switch == "" {
						return badParam("switch", "is required with call_id: a channel id is unique on its switch only")
					}
					f.Refs = []string{id}
				}
				rs, err := s.svc.Recordings(req.Context(), c.scope, f)
				if err != nil {
					return err
				}
				return writeRecordings(w, rs, p.Limit)
			},
		},
		{
			method: http.MethodGet, path: Prefix + "/cdrs/{id}/recordings", op: "listCDRRecordings", tag: "recordings",
			summary: "The recordings of a CDR's call: those of its own channel and of the call's first leg (its linked_id)",
			resp:    response{status: http.StatusOK, list: true, typ: view, name: "Recording"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				if s.d.CDRs == nil {
					return unavailable("this daemon keeps no CDRs")
				}
				id, err := pathID(req)
				if err != nil {
					return err
				}
				tenants, err := s.svc.ScopeTenants(req.Context(), c.scope)
				if err != nil {
					return err
				}
				recs, _, err := s.d.CDRs.Query(req.Context(), cdr.Filter{ID: id, Tenants: tenants, Limit: 1})
				if err != nil {
					return err
				}
				if len(recs) == 0 {
					return provisioning.NotFound("cdr", id)
				}
				r := recs[0]
				refs := []string{r.CallID}
				if r.LinkedID != "" && r.LinkedID != r.CallID {
					refs = append(refs, r.LinkedID)
				}
				rs, err := s.svc.Recordings(req.Context(), c.scope, provisioning.RecordingFilter{Switch: r.Switch, Refs: refs,
					Page: provisioning.Page{Limit: provisioning.MaxLimit}})
				if err != nil {
					return err
				}
				return writeRecordings(w, rs, 0)
			},
		},
		{
			method: http.MethodGet, path: item, op: "getRecording", tag: "recordings",
			summary: "Get one call recording",
			resp:    response{status: http.StatusOK, typ: view, name: "Recording"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				r, err := s.svc.Recording(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, r)
			},
		},
		{
			method: http.MethodGet, path: item + "/audio", op: "getRecordingAudio", tag: "recordings",
			summary: "The recording as the switch wrote it: 8 kHz mono 16-bit WAV. Range requests are served, so players can seek",
			resp:    response{status: http.StatusOK, media: "audio/wav", mediaDoc: "the WAV file"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				r, wav, err := s.svc.RecordingAudio(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				w.Header().Set("Content-Type", "audio/wav")
				w.Header().Set("Cache-Control", "private, no-store")
				w.Header().Set("Content-Disposition", `attachment; filename="recording-`+strconv.FormatInt(r.ID, 10)+`.wav"`)
				http.ServeContent(w, req, "", r.CreatedAt, bytes.NewReader(wav))
				return nil
			},
		},
		{
			method: http.MethodDelete, path: item, op: "deleteRecording", tag: "recordings",
			summary: "Delete a call recording before its retention ends",
			resp:    response{status: http.StatusNoContent},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if err := s.svc.DeleteRecording(req.Context(), c.scope, id); err != nil {
					return err
				}
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusNoContent)
				return nil
			},
		},
	}
}

// writeRecordings answers a list, with a cursor when the page is full.
func writeRecordings(w http.ResponseWriter, rs []provisioning.Recording, limit int) error {
	if rs == nil {
		rs = []provisioning.Recording{}
	}
	out := list[provisioning.Recording]{Items: rs}
	if limit > 0 && len(rs) == limit {
		out.NextCursor = api.EncodeCursor(rs[len(rs)-1].ID)
	}
	return writeJSON(w, http.StatusOK, out)
}
