package freeswitch

// Voicemail on FreeSWITCH: mod_voicemail records, keeps, plays and
// counts the messages (it goes on taking them while Switchboard is
// down), Switchboard tells it about the boxes and indexes what it
// records (voicemail_index.go). Checked against mod_voicemail.c of
// FreeSWITCH 1.10.12 and on the switch (README "Voicemail").
//
//   - A box is the user <number>@<VoicemailDomain(tenant)> of the
//     directory, answered over xml_curl (voicemailDirectory). The domain
//     is one per tenant and not the tenant's SIP domain: box numbers are
//     numbers of the plan, account usernames are not, so box 201 and the
//     phone account 201@acme.example may both exist, and a tenant may
//     have several SIP domains while its boxes are one set. .invalid is
//     reserved (RFC 2606): it never clashes with a SIP domain.
//     mod_voicemail keeps the box's messages in
//     <storage>/voicemail/default/<that domain>/<number>/.
//   - Leaving a message (label sb-m<id>, sb-m<id>b for a busy forward
//     when the box has a busy greeting): answer, play the box's greeting
//     ourselves (a sound of the tenant, from sounds_dir; without one,
//     the greeting the owner recorded by phone, which mod_voicemail
//     keeps in voicemail_prefs.greeting_path and the vm_prefs api
//     answers, and without that mod_voicemail's greeting phrase for the
//     box: the rule Asterisk's app_voicemail follows too), then
//     sched_hangup bounds the message, then `voicemail default <domain>
//     <number>` with skip_greeting and skip_instructions (only the beep
//     is left). The greeting is played here and not through
//     voicemail_greeting_path because mod_voicemail tests that path with
//     switch_file_exists, and a sound of sounds_dir is named without its
//     rate directory (SoundPath: mod_sndfile finds t<id>/<rate>/s<id>.wav
//     for t<id>/s<id>.wav, switch_file_exists does not). The message
//     length is bounded by sched_hangup because mod_voicemail's own bound
//     is the profile's max-record-len, one for the whole node (keep it at
//     or above MaxVoicemailMaxSecs): the beep takes a second, so the
//     hang-up comes MaxSecs()+1 s after the greeting. mod_voicemail keeps
//     what was recorded when the caller (or sched_hangup) hangs up.
//   - The listening menu (voicemail_main, label sb-vm): `voicemail check
//     default <domain>` asks for the box number, then its PIN; a phone
//     whose account has a box (accountBox) is asked only for the PIN of
//     its own box (`voicemail check default <domain> <number>`), known by
//     ${user_name}@${domain_name} as the caller ID extensions know it.

import (
	"strconv"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// VoicemailDomainSuffix ends every tenant's voicemail domain.
const VoicemailDomainSuffix = ".voicemail.switchboard.invalid"

// VoicemailDomain is the directory domain of tenant id's boxes.
func VoicemailDomain(tenantID int64) string {
	return "t" + strconv.FormatInt(tenantID, 10) + VoicemailDomainSuffix
}

// voicemailDomainTenant reads the tenant out of a voicemail domain;
// false for any other domain.
func voicemailDomainTenant(domain string) (int64, bool) {
	s, ok := strings.CutSuffix(strings.ToLower(domain), VoicemailDomainSuffix)
	if !ok {
		return 0, false
	}
	s, ok = strings.CutPrefix(s, "t")
	if !ok {
		return 0, false
	}
	return positiveID(s)
}

// boxByNumber is the box with that number in p, nil when none.
func boxByNumber(p *provisioning.Plan, number string) *provisioning.VoicemailBox {
	d, ok := p.Number(number)
	if !ok || d.Kind != provisioning.DestVoicemail {
		return nil
	}
	return p.Voicemail(d.ID)
}

// accountBox is the box of phone account id: the box of the first
// extension (in number order) that rings that account and owns a box.
// Its phones get that box's message-waiting light and reach it from the
// listening menu with its PIN only. nil when none.
func accountBox(p *provisioning.Plan, accountID int64) *provisioning.VoicemailBox {
	for _, x := range p.Extensions {
		if x.Destination.Kind != provisioning.DestAccount || x.Destination.ID != accountID {
			continue
		}
		for _, b := range p.Voicemails {
			if b.ExtensionID != nil && *b.ExtensionID == x.ID {
				return b
			}
		}
	}
	return nil
}

// voicemailMainLabel is the listening menu's label.
const voicemailMainLabel = "sb-vm"

// voicemailBoxLabel is the label that leaves a message in box id; busy
// is the label of a busy forward (the busy greeting).
func voicemailBoxLabel(id int64, busy bool) string {
	l := "sb-m" + strconv.FormatInt(id, 10)
	if busy {
		l += "b"
	}
	return l
}

// voicemailBox renders box b's labels.
func (r *renderer) voicemailBox(b *provisioning.VoicemailBox) {
	r.voicemailLeave(b, voicemailBoxLabel(b.ID, false), b.UnavailableGreetingID)
	if b.BusyGreetingID != nil {
		r.voicemailLeave(b, voicemailBoxLabel(b.ID, true), b.BusyGreetingID)
	}
}

// voicemailLeave renders one label that leaves a message in b after
// greeting (nil: the box's greeting recorded by phone, else
// mod_voicemail's phrase).
func (r *renderer) voicemailLeave(b *provisioning.VoicemailBox, key string, greeting *int64) {
	c := dest(key)
	vmd := VoicemailDomain(r.p.Tenant.ID)
	c.acts = []act{
		{app: "answer"},
		{app: "set", data: "skip_greeting=true"},
		{app: "set", data: "skip_instructions=true"},
	}
	record := []act{
		{app: "sched_hangup", data: "+" + strconv.Itoa(b.MaxSecs()+1) + " ALLOTTED_TIMEOUT"},
		{app: "voicemail", data: "default " + vmd + " " + b.Number},
		{app: "hangup", data: "NORMAL_CLEARING"},
	}
	if greeting != nil && r.sounds != "" {
		c.acts = append(c.acts, act{app: "playback", data: SoundPath(r.sounds, r.p.Tenant.ID, *greeting)})
		c.acts = append(c.acts, record...)
		r.ext(key, key, false, c)
		return
	}
	// No uploaded greeting: the one the owner recorded by phone
	// (voicemail_prefs.greeting_path, which vm_prefs answers, empty when
	// none), as mod_voicemail would play it, else its phrase.
	recorded := cond{field: "${vm_prefs(default/" + b.Number + "@" + vmd + "|greeting_path)}", expr: "^(.+)$", breakOn: "never",
		acts: []act{{app: "playback", data: "$1"}}}
	recorded.acts = append(recorded.acts, record...)
	recorded.acts = append(recorded.acts, act{app: "phrase", data: "voicemail_play_greeting," + b.Number, anti: true})
	for _, a := range record {
		a.anti = true
		recorded.acts = append(recorded.acts, a)
	}
	r.ext(key, key, false, c, recorded)
}

// voicemailMain renders the listening menu: a phone whose account has a
// box goes to its own, anyone else is asked for the box number.
func (r *renderer) voicemailMain() {
	vmd := VoicemailDomain(r.p.Tenant.ID)
	for _, id := range r.accountIDs() {
		b := accountBox(r.p, id)
		if b == nil {
			continue
		}
		a := r.p.Accounts[id]
		r.ext(voicemailMainLabel, voicemailMainLabel+"-a"+strconv.FormatInt(id, 10), false, dest(voicemailMainLabel),
			cond{field: "${user_name}@${domain_name}", expr: "^" + regexQuote(a.AOR()) + "$", acts: []act{
				{app: "answer"},
				{app: "voicemail", data: "check default " + vmd + " " + b.Number},
				{app: "hangup", data: "NORMAL_CLEARING"},
			}})
	}
	c := dest(voicemailMainLabel)
	c.acts = []act{{app: "answer"}, {app: "voicemail", data: "check default " + vmd}, {app: "hangup", data: "NORMAL_CLEARING"}}
	r.ext(voicemailMainLabel, voicemailMainLabel, false, c)
}
