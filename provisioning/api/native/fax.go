package native

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

type faxBoxIn struct {
	TenantID int64  `json:"tenant_id"`
	Number   string `json:"number"`
	Name     string `json:"name"`
	Email    string `json:"email"`
}

func (in *faxBoxIn) load(b *provisioning.FaxBox) {
	*in = faxBoxIn{TenantID: b.TenantID, Number: b.Number, Name: b.Name, Email: b.Email}
}

func (in *faxBoxIn) store(_ *provisioning.Service, b *provisioning.FaxBox) error {
	b.TenantID, b.Number, b.Name, b.Email = in.TenantID, in.Number, in.Name, in.Email
	return nil
}

// faxRoutes are the faxes the boxes received: listed, fetched as PDF,
// deleted.
func (s *server) faxRoutes() []*route {
	base := Prefix + "/faxes"
	item := base + "/{id}"
	view := reflect.TypeFor[provisioning.Fax]()
	return []*route{
		{
			method: http.MethodGet, path: base, op: "listFaxes", tag: "faxes",
			summary: "List received faxes in the caller's scope, oldest first",
			query:   append([]param{pTenantID, {name: "box_id", typ: "id", doc: "only this fax box's faxes"}}, pageParams...),
			resp:    response{status: http.StatusOK, list: true, typ: view, name: "Fax"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				p, err := c.page()
				if err != nil {
					return err
				}
				f := provisioning.FaxFilter{Page: p}
				if f.TenantID, err = c.id("tenant_id"); err != nil {
					return err
				}
				if f.BoxID, err = c.id("box_id"); err != nil {
					return err
				}
				fs, err := s.svc.Faxes(req.Context(), c.scope, f)
				if err != nil {
					return err
				}
				out := list[provisioning.Fax]{Items: fs}
				if len(fs) == p.Limit && len(fs) > 0 {
					out.NextCursor = api.EncodeCursor(fs[len(fs)-1].ID)
				}
				return writeJSON(w, http.StatusOK, out)
			},
		},
		{
			method: http.MethodGet, path: item, op: "getFax", tag: "faxes",
			summary: "Get one received fax",
			resp:    response{status: http.StatusOK, typ: view, name: "Fax"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				f, err := s.svc.Fax(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				return writeJSON(w, http.StatusOK, f)
			},
		},
		{
			method: http.MethodGet, path: item + "/pdf", op: "getFaxPDF", tag: "faxes",
			summary: "The fax as a PDF, a page per fax page (404 when no page was received)",
			resp:    response{status: http.StatusOK, media: "application/pdf", mediaDoc: "the PDF"},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				_, pdf, err := s.svc.FaxPDF(req.Context(), c.scope, id)
				if err != nil {
					return err
				}
				w.Header().Set("Content-Type", "application/pdf")
				w.Header().Set("Content-Length", strconv.Itoa(len(pdf)))
				w.Header().Set("Cache-Control", "private, no-store")
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(pdf)
				return nil
			},
		},
		{
			method: http.MethodDelete, path: item, op: "deleteFax", tag: "faxes",
			summary: "Delete a received fax",
			resp:    response{status: http.StatusNoContent},
			handler: func(w http.ResponseWriter, req *http.Request, c *call) error {
				id, err := pathID(req)
				if err != nil {
					return err
				}
				if err := s.svc.DeleteFax(req.Context(), c.scope, id); err != nil {
					return err
				}
				w.Header().Set("Cache-Control", "no-store")
				w.WriteHeader(http.StatusNoContent)
				return nil
			},
		},
	}
}
