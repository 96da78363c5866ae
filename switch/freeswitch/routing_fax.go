package freeswitch

// Fax boxes on FreeSWITCH: a call sent to a box (label sb-f<id>) is
// answered and mod_spandsp's rxfax writes the fax into the node's
// fax_dir as t<tenant>-b<box>-<uuid>.tif; T.38 is accepted when the
// sender asks for it (fax_enable_t38) but not requested
// (fax_enable_t38_request): on fs-media a request on an audio-only leg
// (loopback) left the transfer hanging until the call dropped (T30 result
// 49, 0 pages), so G.711 audio stays what the box starts with. mod_spandsp then fires the CUSTOM event spandsp::rxfaxresult
// (fax-success, fax-result-text, fax-document-transferred-pages,
// fax-remote-station-id, with the channel's headers); the FaxIndexer
// (fax_indexer.go) deposits the file on it. Without a fax_dir the
// renderer has nowhere to put faxes: the box's label hangs up
// (CALL_REJECTED), as before fax support.

import (
	"path"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// faxBoxLabel is the label that receives a fax for box id.
func faxBoxLabel(id int64) string { return "sb-f" + strconv.FormatInt(id, 10) }

// faxFileName is the file rxfax writes for a box's call (uuid is
// ${uuid} in the dialplan); the indexer reads tenant and box back with
// parseFaxFileName.
func faxFileName(tenantID, boxID int64, uuid string) string {
	return "t" + strconv.FormatInt(tenantID, 10) + "-b" + strconv.FormatInt(boxID, 10) + "-" + uuid + ".tif"
}

// faxBox renders box b's label.
func (r *renderer) faxBox(b *provisioning.FaxBox) {
	l := faxBoxLabel(b.ID)
	c := dest(l)
	if r.faxDir == "" {
		c.acts = []act{{app: "hangup", data: "CALL_REJECTED"}}
		r.ext(l, l, false, c)
		return
	}
	c.acts = []act{
		{app: "answer"},
		{app: "set", data: "fax_enable_t38=true"},
		{app: "set", data: "sb_fax_box=" + strconv.FormatInt(b.ID, 10)},
		{app: "rxfax", data: path.Join(r.faxDir, faxFileName(r.p.Tenant.ID, b.ID, "${uuid}"))},
		{app: "hangup", data: "NORMAL_CLEARING"},
	}
	r.ext(l, l, false, c)
}

// parseFaxFileName reads a faxFileName back; false for any other name.
func parseFaxFileName(name string) (tenantID, boxID int64, uuid string, ok bool) {
	s, ok := strings.CutSuffix(name, ".tif")
	if !ok {
		return 0, 0, "", false
	}
	t, rest, ok1 := strings.Cut(s, "-")
	b, uuid, ok2 := strings.Cut(rest, "-")
	if !ok1 || !ok2 || uuid == "" || len(t) < 2 || t[0] != 't' || len(b) < 2 || b[0] != 'b' {
		return 0, 0, "", false
	}
	tenantID, ok1 = positiveID(t[1:])
	boxID, ok2 = positiveID(b[1:])
	if !ok1 || !ok2 || strings.ContainsAny(uuid, "/\\") {
		return 0, 0, "", false
	}
	return tenantID, boxID, uuid, true
}

// positiveID parses a decimal id above zero, digits only.
func positiveID(s string) (int64, bool) {
	if s == "" || len(s) > 18 || s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' { // ParseInt takes a sign
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}
