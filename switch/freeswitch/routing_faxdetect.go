package freeswitch

// Fax detection on an extension (provisioning.Extension.FaxDetect, the
// seed's "Faxdetect" call-flow action): the extension's label answers
// the call and starts mod_spandsp's CNG detector before it rings the
// destination, so that a calling fax machine (CNG, a 1100 Hz beep every
// 3 s) is sent to the fax box and a voice call rings on:
//
//	answer
//	set ringback / transfer_ringback = a ring tone
//	spandsp_start_fax_detect transfer 'sb-f<box> XML sb-t<tenant>' <secs>
//
// spandsp_start_fax_detect ("<app> <arg> <timeout> [ced]", mod_spandsp.c;
// its data is split at blanks with '…' quoting, and the quotes are
// stripped) puts a media bug on the channel for <secs> seconds; on a
// tone it queues <app> <arg> to the channel (execute_application_async),
// which the bridge's originate loop runs while the destination rings
// (switch_ivr_originate parses the caller's events on every turn): the
// transfer takes the call to the fax box's label, which answers with
// rxfax. The call is answered first so that the detector hears the
// caller (a fax machine sends CNG only once connected); the caller then
// hears the ring tone the switch plays while the bridge rings
// (transfer_ringback for an answered channel). Detection ends at the
// timeout; a voice call is bridged as before. Without fax_dir, or with a
// box the plan does not have, nothing is detected (the box could not
// receive).

import (
	"strconv"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// faxDetectActs are the actions that start fax detection for extension
// x, none when it has none or it cannot receive.
func (r *renderer) faxDetectActs(x *provisioning.Extension) []act {
	d := x.FaxDetect
	if d == nil || r.faxDir == "" || r.p.Fax(d.BoxID) == nil {
		return nil
	}
	target := faxBoxLabel(d.BoxID) + " XML " + r.ctx
	return []act{
		{app: "answer"},
		{app: "set", data: "ringback=" + ringTone},
		{app: "set", data: "transfer_ringback=" + ringTone},
		{app: "spandsp_start_fax_detect", data: "transfer '" + target + "' " + strconv.Itoa(d.DetectSecs())},
	}
}
