package asterisk

import (
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// Voicemail in the routing dialplan. A tenant's boxes live in
// app_voicemail's context VoicemailContext(tenant) (the generated
// voicemail include, voicemail_conf.go); the objects context has, per
// box N:
//
//	vN   a message after the unavailable greeting: Playback of the box's
//	     greeting sound, then VoiceMail(box@ctx,s) (no u or b option:
//	     app_voicemail plays no greeting of its own; s: nor its
//	     instructions, the tenant's greeting said what to do; the beep
//	     stays), or, without a greeting sound (or sounds_dir),
//	     VoiceMail(box@ctx,us): the unavailable greeting the box's owner
//	     recorded by phone (VoiceMailMain's options: unavail.wav in the
//	     box's spool), else Asterisk's own "the person at extension ...
//	     is unavailable"; s skips the instructions after it, as with an
//	     uploaded greeting and as FreeSWITCH does (only the beep). An
//	     uploaded greeting wins over one recorded by phone, which stays
//	     in the spool and plays again once the upload is taken off.
//	vbN  the same with the busy greeting (bs: busy.wav), where a busy forward
//	     (Dial's BUSY, or a phone on a call with call waiting off) goes.
//
// and [sb-tT-vm] is the listening menu (VoiceMailMain): a phone whose
// extension owns a box (the extension's destination is the phone's
// account: the rule of PlanMailboxes, which also gives the phone its
// message-waiting light) is asked only for that box's PIN; any other
// caller is asked for the box number, then its PIN. The lookup is by
// ${CHANNEL(endpoint)}, like the caller IDs of [sb-tT-cid]: a DID's
// gateway endpoint or a Local channel has no entry and is asked.

// VoicemailContext is app_voicemail's context of tenant id's boxes
// (voicemail.conf); the name is the tenant's dialplan context's, the two
// name spaces being apart.
func VoicemailContext(id int64) string { return TenantContext(id) }

// PlanMailboxes are the boxes (box@context, as app_voicemail and
// PJSIP's mailboxes name them) of the extensions whose destination is
// account id: that account's phones get their message-waiting light and
// reach them from the listening menu without the box number.
func PlanMailboxes(p *provisioning.Plan, accountID int64) []string {
	var out []string
	for _, b := range p.Voicemails {
		if b.ExtensionID == nil {
			continue
		}
		x := p.Extension(*b.ExtensionID)
		if x != nil && x.Destination.Kind == provisioning.DestAccount && x.Destination.ID == accountID {
			out = append(out, b.Number+"@"+VoicemailContext(p.Tenant.ID))
		}
	}
	return out
}

// voicemailTarget is where a call sent to box d goes: its vN, or vbN
// when busy.
func (r *routingRenderer) voicemailTarget(d provisioning.Destination, busy bool) string {
	if r.p.Voicemail(d.ID) == nil {
		return r.obj + ",hangup,1"
	}
	if busy {
		return r.obj + ",vb" + id(d.ID) + ",1"
	}
	return r.obj + ",v" + id(d.ID) + ",1"
}

// forwardTarget is target, with a busy forward to a box taking its busy
// greeting.
func (r *routingRenderer) forwardTarget(on provisioning.ForwardOn, d provisioning.Destination) string {
	if on == provisioning.ForwardBusy && d.Kind == provisioning.DestVoicemail {
		return r.voicemailTarget(d, true)
	}
	return r.target(d)
}

// voicemails are the boxes' vN and vbN.
func (r *routingRenderer) voicemails() []dialplanExten {
	var out []dialplanExten
	ctx := VoicemailContext(r.p.Tenant.ID)
	for _, b := range r.p.Voicemails {
		for _, v := range []struct {
			name     string
			greeting *int64
			option   string
		}{{"v", b.UnavailableGreetingID, "us"}, {"vb", b.BusyGreetingID, "bs"}} {
			e := dialplanExten{Name: v.name + id(b.ID), Comment: fmt.Sprintf("voicemail %s (%s)", b.Number, dialplanText(b.Name))}
			if v.greeting != nil && r.o.SoundsDir != "" {
				e.Steps = []string{"Playback(" + SoundPath(r.o.SoundsDir, r.p.Tenant.ID, *v.greeting) + ")", "VoiceMail(" + b.Number + "@" + ctx + ",s)"}
			} else {
				e.Steps = []string{"VoiceMail(" + b.Number + "@" + ctx + "," + v.option + ")"}
			}
			out = append(out, e.with("Hangup()"))
		}
	}
	return out
}

// voicemailMain is [sb-tT-vm], rendered when the tenant has a box.
func (r *routingRenderer) voicemailMain() []dialplanContext {
	if len(r.p.Voicemails) == 0 {
		return nil
	}
	name, ctx := r.base+"-vm", VoicemailContext(r.p.Tenant.ID)
	c := dialplanContext{Name: name, Comment: []string{fmt.Sprintf("Tenant %d: the voicemail listening menu (a phone's own box, or the box asked for).", r.p.Tenant.ID)}}
	c.Exts = append(c.Exts, dialplanExten{Name: "s", Steps: []string{
		"GotoIf(${DIALPLAN_EXISTS(" + name + ",e-${CHANNEL(endpoint)},1)}?e-${CHANNEL(endpoint)},1)",
		"VoiceMailMain(@" + ctx + ")",
		"Hangup()",
	}})
	for _, aid := range sortedIDs(r.p.Accounts) {
		a := r.p.Accounts[aid]
		boxes := PlanMailboxes(r.p, a.ID)
		ep := r.o.AccountID(a.Account)
		if len(boxes) == 0 || !dialplanTarget.MatchString(ep) {
			continue
		}
		// An extension has one box; an account rung by two extensions
		// with a box each gets the first (by number) here.
		c.Exts = append(c.Exts, dialplanExten{Name: "e-" + ep, Comment: "account " + a.AOR(), Steps: []string{"VoiceMailMain(" + boxes[0] + ")", "Hangup()"}})
	}
	return []dialplanContext{c}
}
