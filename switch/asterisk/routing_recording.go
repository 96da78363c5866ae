package asterisk

import (
	"fmt"
	"path"
	"strconv"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Call recording in the routing dialplan (provisioning.Plan.RecordsDID,
// RecordsExtension, RecordsAll). With the node's recordings_dir set
// (PushOptions.RecordingsDir), a tenant that records anything has
//
//	[sb-tT-rec]  s  starts MixMonitor on the channel running it, once per
//	                call: the guard SB_REC is inherited (__), so the Local
//	                channels of hunt groups and follow-me, a forward, or a
//	                DID and an extension both flagged find it set and
//	                start nothing more;
//	             p  the calling phone's: s when the phone's extension
//	                records (e-<endpoint>, found by ${CHANNEL(endpoint)}
//	                as [sb-tT-cid] does), nothing otherwise.
//
// and Gosubs into it from a recorded DID's entry (after
// switchboard-from), from each phone entry point of [sb-tT] (p; s when
// the tenant records all), and first thing in a recorded extension's xN.
// Those all run on the call's first channel, the caller's, so the file is
// named after the uniqueid of the leg whose CDR is the call's A leg: its
// call_id, and the linked_id of the other legs.
//
// MixMonitor(<dir>/<tenant>-${UNIQUEID}.wav,b,: > <same>.done):
//
//   - b writes audio only while the channel is bridged: ringing, the
//     ringback Dial plays, an IVR greeting or a fax-detect wait are not in
//     the file, and an unanswered call leaves a WAV of a header only
//     (MixMonitor opens the file when it starts), which DepositRecording
//     refuses with ErrNoAudio and RecordingIndexer removes. A call
//     answered by voicemail or an IVR is not bridged and not recorded
//     (voicemail keeps its own recording).
//   - the third argument is a shell command app_mixmonitor runs (with
//     /bin/sh -c, ast_safe_system) after it closed the file, the WAV
//     header's sizes written (apps/app_mixmonitor.c, mixmonitor_thread:
//     mixmonitor_ds_close_fs, then post_process). `: >` is the shell's
//     own way to create an empty file, so no program has to be on
//     Asterisk's PATH. Its variables are substituted when MixMonitor
//     starts (${UNIQUEID} is the same then), and nothing from the caller
//     is in it: recordings_dir has only safe characters
//     (recordingsDirChars), the tenant is a number and a uniqueid is
//     digits and a dot.
//
// The empty <tenant>-<uniqueid>.done tells RecordingIndexer the WAV is
// complete. Without recordings_dir nothing is recorded on the node.

// recordingsDirChars: the same characters as fax_dir, for the same reason
// (it is written into dialplan arguments, and into a shell command).
var recordingsDirChars = faxDirChars

// RecordingBase is the path (without .wav / .done) of tenant's recording
// of the call whose first channel is uniqueid.
func RecordingBase(dir string, tenant int64, uniqueid string) string {
	return path.Join(dir, strconv.FormatInt(tenant, 10)+"-"+uniqueid)
}

// recContext is [sb-tT-rec].
func (r *routingRenderer) recContext() string { return r.base + "-rec" }

// recording reports whether the node records and the tenant records
// something.
func (r *routingRenderer) recording() bool {
	if r.o.RecordingsDir == "" {
		return false
	}
	if r.p.RecordsAll() {
		return true
	}
	for _, d := range r.p.DIDs {
		if d.Record {
			return true
		}
	}
	for _, x := range r.p.Extensions {
		if x.Record {
			return true
		}
	}
	return false
}

// recordDID is the step a DID's entry point starts with when its calls
// are recorded, or "".
func (r *routingRenderer) recordDID(d provisioning.DID) string {
	if r.o.RecordingsDir == "" || !r.p.RecordsDID(d) {
		return ""
	}
	return "Gosub(" + r.recContext() + ",s,1)"
}

// recordPhone is the step each phone entry point has when some phone's
// calls are recorded, or "".
func (r *routingRenderer) recordPhone() string {
	if !r.recording() {
		return ""
	}
	if r.p.RecordsAll() {
		return "Gosub(" + r.recContext() + ",s,1)"
	}
	if len(r.recordedPhones()) == 0 {
		return ""
	}
	return "Gosub(" + r.recContext() + ",p,1)"
}

// recordExtension is the step extension x starts with when calls to it
// are recorded, or "".
func (r *routingRenderer) recordExtension(x *provisioning.Extension) string {
	if r.o.RecordingsDir == "" || !r.p.RecordsExtension(x) {
		return ""
	}
	return "Gosub(" + r.recContext() + ",s,1)"
}

// recordedPhones are the endpoint ids of the phones whose calls are
// recorded (their account is an extension's with Record), sorted as the
// extensions are.
func (r *routingRenderer) recordedPhones() []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range r.p.Extensions {
		if !x.Record || x.Destination.Kind != provisioning.DestAccount {
			continue
		}
		a := r.p.Accounts[x.Destination.ID]
		if a == nil {
			continue
		}
		ep := r.o.AccountID(a.Account)
		if !dialplanTarget.MatchString(ep) || seen[ep] {
			continue
		}
		seen[ep] = true
		out = append(out, ep)
	}
	return out
}

// recordings is [sb-tT-rec], or nothing when the tenant records nothing.
func (r *routingRenderer) recordings() []dialplanContext {
	if !r.recording() {
		return nil
	}
	base := RecordingBase(r.o.RecordingsDir, r.p.Tenant.ID, "${UNIQUEID}")
	c := dialplanContext{Name: r.recContext(), Comment: []string{fmt.Sprintf("Tenant %d: call recording, started once per call on the caller's channel.", r.p.Tenant.ID)}}
	c.Exts = append(c.Exts, dialplanExten{Name: "s", Steps: []string{
		`GotoIf($["${SB_REC}"!=""]?done)`,
		"Set(__SB_REC=${UNIQUEID})",
		"MixMonitor(" + base + ".wav,b,: > " + base + ".done)",
		"n(done)|Return()",
	}})
	phones := r.recordedPhones()
	if r.p.RecordsAll() || len(phones) == 0 {
		return []dialplanContext{c}
	}
	c.Exts = append(c.Exts, dialplanExten{Name: "p", Comment: "the calling phone's", Steps: []string{
		"GotoIf(${DIALPLAN_EXISTS(" + r.recContext() + ",e-${CHANNEL(endpoint)},1)}?s,1)",
		"Return()",
	}})
	for _, ep := range phones {
		c.Exts = append(c.Exts, dialplanExten{Name: "e-" + ep, Steps: []string{"Goto(s,1)"}})
	}
	return []dialplanContext{c}
}
