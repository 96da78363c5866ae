package freeswitch

// Call recording on FreeSWITCH (provisioning/routing_recording.go says
// which calls): record_session on the caller's channel (the a-leg: the
// channel that runs the tenant's dialplan), once per call, into the
// node's recordings_dir as t<tenant>-<uuid>.wav, where uuid is the
// recorded channel's: its CDR's call_id and the linked_id of the legs it
// bridges (jsoncdr.go), which is how provisioning finds a recording from
// either leg's CDR.
//
//   - The recording holds the conversation only: record_session's
//     RECORD_BRIDGE_REQ (given in its own {} variables, so that other
//     media bugs of the channel, such as fax detection, are not
//     affected) keeps the bug from writing until the channel is bridged
//     to the phone or number that answered, as Asterisk's MixMonitor b
//     option does: ringing, menus, voicemail and fax detection before
//     the answer are not in the file, on either switch. A call nobody
//     answers leaves an empty file, which FreeSWITCH removes itself
//     ("Discarding empty file", RECORD_STOP with Record-Completion-Cause
//     empty-file).
//   - Adding a media bug to a channel that has no media yet pre-answers
//     it (switch_core_media_bug_add): the caller gets a 183 with SDP
//     before the destination rings, and no 180 of its own. The
//     recording actions therefore set ringback, so that the caller hears
//     a ring tone from the switch while the destination rings.
//   - Mono (RECORD_STEREO=false: both directions mixed), 8 kHz
//     (record_sample_rate: otherwise the rate of the channel's codec, 16
//     kHz for G.722), 16-bit PCM WAV (mod_sndfile's .wav): 16000 bytes a
//     second, 960 kB a minute.
//   - Once per call: the actions set sb_recording to the file, and every
//     place that starts a recording first checks that it is empty, so a
//     DID and an extension both recording, a forward to another recorded
//     extension, or a follow-me step start nothing twice. The DID's own
//     extension records without the check: it is where the call enters.
//
// Where the recording starts: the DID's extension (DID.Record); the
// label of an extension that records (sb-x<id>: every path to the
// extension runs it, forwards and follow-me included); the plan's
// numbers and the outbound routes when the calling phone is one an
// extension that records points at (by user_name@domain_name, as the
// caller-ID extensions know the phone); and, when the tenant's policy
// records every call, every label and number of its context and its
// outbound routes, whichever the call enters by. Fax boxes are never
// recorded. A member of a hunt group is rung directly (user/), not
// through its extension's label: its own Record flag does not record
// the group's calls (the group's DID or the policy does), as in
// Plan.Trace, where a member is a ring target.
//
// The RecordingIndexer (recording_indexer.go) deposits each file once it
// is complete.

import (
	"path"
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// recordingGuard is the channel variable that holds the file being
// recorded: empty while the call is not recorded.
const recordingGuard = "sb_recording"

// ringTone is the ring tone a pre-answered (or answered) caller hears
// while the destination rings (North American ring: 2 s on, 4 s off).
const ringTone = "%(2000,4000,440,480)"

// recordingVars are record_session's own variables (read before the
// channel's): mono, 8 kHz, written while bridged, every length kept.
const recordingVars = "{RECORD_STEREO=false,record_sample_rate=8000,RECORD_BRIDGE_REQ=true,RECORD_MIN_SEC=0}"

// recordingFileName is the file a tenant's call is recorded into (uuid
// is ${uuid} in the dialplan); parseRecordingFileName reads it back.
func recordingFileName(tenantID int64, uuid string) string {
	return "t" + strconv.FormatInt(tenantID, 10) + "-" + uuid + ".wav"
}

// parseRecordingFileName reads a recordingFileName back; false for any
// other name.
func parseRecordingFileName(name string) (tenantID int64, uuid string, ok bool) {
	s, ok := strings.CutSuffix(name, ".wav")
	if !ok {
		return 0, "", false
	}
	t, uuid, ok := strings.Cut(s, "-")
	if !ok || uuid == "" || len(t) < 2 || t[0] != 't' || strings.ContainsAny(uuid, "/\\") {
		return 0, "", false
	}
	tenantID, ok = positiveID(t[1:])
	return tenantID, uuid, ok
}

// recordActs are the actions that record the call of tenantID into dir.
func recordActs(dir string, tenantID int64) []act {
	file := path.Join(dir, recordingFileName(tenantID, "${uuid}"))
	return []act{
		{app: "set", data: recordingGuard + "=" + file},
		{app: "set", data: "ringback=" + ringTone},
		{app: "record_session", data: file + " " + recordingVars},
	}
}

// recordingExt is a continue extension run before key's own: it starts
// the recording when conds hold and the call is not recorded yet.
func (r *renderer) recordingExt(name string, conds ...cond) string {
	guard := cond{field: "${" + recordingGuard + "}", expr: "^$", acts: recordActs(r.recDir, r.p.Tenant.ID)}
	return extXML(name, true, append(conds, guard)...)
}

// recording puts the recording extensions in front of the keys that
// record (see the file comment); nothing without a recordings_dir.
func (r *renderer) recording() {
	if r.recDir == "" {
		return
	}
	all := r.p.RecordsAll()
	skip := map[string]bool{}
	for _, b := range r.p.Faxes {
		skip[faxBoxLabel(b.ID)] = true
		if b.Number != "" {
			skip[b.Number] = true
		}
	}
	extensions := map[string]bool{}
	var phones []string
	seen := map[int64]bool{}
	for _, x := range r.p.Extensions {
		if !r.p.RecordsExtension(x) {
			continue
		}
		extensions[label(provisioning.Destination{Kind: provisioning.DestExtension, ID: x.ID})] = true
		if x.Destination.Kind == provisioning.DestAccount && !seen[x.Destination.ID] {
			if a := r.p.Accounts[x.Destination.ID]; a != nil {
				seen[a.ID] = true
				phones = append(phones, regexQuote(a.AOR()))
			}
		}
	}
	var caller []cond
	if !all && len(phones) > 0 {
		caller = []cond{{field: "${user_name}@${domain_name}", expr: "^(?:" + strings.Join(phones, "|") + ")$"}}
	}
	// where a call enters the context: the plan's numbers (a phone
	// dials them) and the DIDs' destinations
	entries := map[string]bool{}
	for _, d := range r.p.DIDs {
		if d.Destination != nil {
			entries[label(*d.Destination)] = true
		}
	}
	for _, k := range r.out.keys {
		isLabel := strings.HasPrefix(k, "sb-")
		switch {
		case skip[k]:
		case extensions[k] || all && (!isLabel || entries[k]):
			r.out.byKey[k] = r.recordingExt(k+"-rec", dest(k)) + r.out.byKey[k]
		case !isLabel && caller != nil:
			r.out.byKey[k] = r.recordingExt(k+"-rec", append([]cond{dest(k)}, caller...)...) + r.out.byKey[k]
		}
	}
	// the outbound routes: numbers a phone dials, and sb-o labels (a
	// destination's external number) when every call records
	switch {
	case all:
		r.out.routes = r.recordingExt("sb-rec", cond{field: "destination_number", expr: "^(?:[0-9+*#]|sb-o)"}) + r.out.routes
	case caller != nil:
		r.out.routes = r.recordingExt("sb-rec", append([]cond{{field: "destination_number", expr: "^[0-9+*#]"}}, caller...)...) + r.out.routes
	}
}
