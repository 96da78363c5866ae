package asterisk

import (
	"fmt"
	"path"
	"regexp"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Fax boxes in the routing dialplan. With the node's fax_dir set
// (PushOptions.FaxDir), the objects context has, per box N:
//
//	fN     answers and receives the fax (ReceiveFAX, f: ECM allowed) into
//	       <fax_dir>/<tenant>-<box>-${UNIQUEID}.tif, after pushing the
//	       hangup handler fdone;
//	fdone  the hangup handler: appends the outcome (FAXSTATUS, FAXPAGES,
//	       FAXERROR, REMOTESTATIONID, CALLERID(num)) to the sidecar
//	       <same name>.done, one key=value line each (FILE(...,,,al,u): the
//	       u is needed, FILE cannot guess the line format of a file not
//	       there yet and writes nothing),
//	       then end=1, which tells FaxIndexer the sidecar is complete.
//
// A hangup handler, not the steps after ReceiveFAX: a sender that hangs
// up mid-fax ends the dialplan there, and the handler still runs, with
// the channel's FAX variables, so a failed or partial fax is reported
// too. The trusted keys come first and the parser keeps the first value
// of a key, so a caller ID holding a newline cannot pose as the status.
// Without fax_dir a box hangs up: there would be nowhere to write it.

// faxDirChars are what fax_dir may hold: it is written into dialplan
// arguments, where a comma, parenthesis, $ or ; would mean something.
var faxDirChars = regexp.MustCompile(`^/[A-Za-z0-9._/-]*$`)

// FaxBase is the path (without .tif / .done) of the fax of tenant's box
// received on call uniqueid.
func FaxBase(dir string, tenant, box int64, uniqueid string) string {
	return path.Join(dir, fmt.Sprintf("%d-%d-%s", tenant, box, uniqueid))
}

// faxTarget is where a call sent to box d goes.
func (r *routingRenderer) faxTarget(d provisioning.Destination) string {
	if r.o.FaxDir == "" || r.p.Fax(d.ID) == nil {
		return r.obj + ",hangup,1"
	}
	return r.obj + ",f" + id(d.ID) + ",1"
}

// faxes are the boxes' fN and the handler fdone.
func (r *routingRenderer) faxes() []dialplanExten {
	if len(r.p.Faxes) == 0 {
		return nil
	}
	if r.o.FaxDir == "" {
		return nil // no fax_dir: faxTarget sent the boxes' calls to hangup
	}
	var out []dialplanExten
	for _, b := range r.p.Faxes {
		out = append(out, dialplanExten{Name: "f" + id(b.ID), Comment: "fax box " + dialplanText(b.Name), Steps: []string{
			"Answer()",
			"Set(SBFAX=" + FaxBase(r.o.FaxDir, r.p.Tenant.ID, b.ID, "${UNIQUEID}") + ")",
			"Set(CHANNEL(hangup_handler_push)=" + r.obj + ",fdone,1)",
			"ReceiveFAX(${SBFAX}.tif,f)",
			"Hangup()",
		}})
	}
	done := dialplanExten{Name: "fdone", Comment: "a fax call's outcome, for Switchboard (FaxIndexer)"}
	for _, kv := range []string{"status=${FAXSTATUS}", "pages=${FAXPAGES}", "error=${FAXERROR}",
		"station=${REMOTESTATIONID}", "caller=${CALLERID(num)}", "end=1"} {
		done.Steps = append(done.Steps, "Set(FILE(${SBFAX}.done,,,al,u)="+kv+")")
	}
	return append(out, done.with("Return()"))
}

// Fax detection on an extension (provisioning.Extension.FaxDetect): xN
// starts with
//
//	Answer()                          so that the caller's audio flows
//	Set(SB_FAXBOX=<box>)              which box the fax extension sends to
//	Set(FAXOPT(faxdetect)=yes,<secs>) res_fax's detector: CNG in the audio,
//	                                  or a T.38 re-INVITE, for <secs>
//	TryExec(Playtones(ring))          the caller hears ringing until Dial's
//	                                  (TryExec: without a ring tone in
//	                                  indications.conf Playtones fails, which
//	                                  would end the call)
//
// then rings its destination as usual. A caller already answered hears
// Dial's ringing too: chan_pjsip cannot send a 180 on an answered
// channel, so Asterisk plays the ring tone in-band instead (channel.c,
// indicate: a RINGING the driver refuses becomes the indications.conf
// tone), and Dial stops it when the phone answers. On detection res_fax
// redirects the channel (ast_async_goto, which ends the Dial) to the
// extension fax of the context the channel is in, which is where its
// Dial runs: [sb-tT-obj] (accounts, groups, follow-me) or [sb-tT-out]
// (external numbers), or where it waits for keys: an IVR menu's context.
// All have fax => Goto(fN of ${SB_FAXBOX}), the box's receive logic. After <secs> the detector detaches itself; a fax that
// calls later rings on as a voice call. Without fax_dir, or a box the
// plan does not have, the extension rings as it would without detection.

// faxDetects reports whether an extension of the plan detects faxes on
// this node.
func (r *routingRenderer) faxDetects() bool {
	for _, x := range r.p.Extensions {
		if len(r.faxDetect(x)) > 0 {
			return true
		}
	}
	return false
}

// faxDetect are the steps xN starts with to detect faxes, or none.
func (r *routingRenderer) faxDetect(x *provisioning.Extension) []string {
	fd := x.FaxDetect
	if fd == nil || r.o.FaxDir == "" || r.p.Fax(fd.BoxID) == nil {
		return nil
	}
	return []string{
		"Answer()",
		"Set(SB_FAXBOX=" + id(fd.BoxID) + ")",
		fmt.Sprintf("Set(FAXOPT(faxdetect)=yes,%d)", fd.DetectSecs()),
		"TryExec(Playtones(ring))",
	}
}

// faxDetected is the fax extension res_fax's detector jumps to.
func (r *routingRenderer) faxDetected() []dialplanExten {
	if !r.faxDetects() {
		return nil
	}
	return []dialplanExten{{Name: "fax", Comment: "fax tones detected (FAXOPT(faxdetect)): the extension's fax box",
		Steps: []string{"Goto(" + r.obj + ",f${SB_FAXBOX},1)"}}}
}
