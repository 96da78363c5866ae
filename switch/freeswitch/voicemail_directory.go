package freeswitch

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// voicemailDirectory answers a directory lookup in a tenant's voicemail
// domain (VoicemailDomain): mod_voicemail looking a box up
// (action=voicemail-lookup when a message is left or a box is opened by
// phone; other actions of its APIs) gets the box as a user with
//
//   - vm-password: the PIN (mod_voicemail compares the digits entered
//     with it; it is never logged, and the answer travels only to the
//     node over its guarded endpoint);
//   - vm-enabled: true;
//   - no vm-mailto or vm-notify-mailto: Switchboard sends the e-mails
//     itself, with the audio it indexed (mod_voicemail would need an MTA
//     on the switch);
//   - no password or a1-hash, and a sip_auth lookup (a REGISTER or
//     INVITE claiming to be the box) gets the domain without the user:
//     sofia takes a user without a credential as authenticated when
//     allow-empty-password is on (its default, sofia_reg.c), so a box
//     must never be answered to sip_auth.
//
// Box answers carry no cacheable attribute: FreeSWITCH asks again on
// every lookup, so a changed PIN or a deleted box counts at once (a box
// is looked up once per message left or login, not per REGISTER).
// While Switchboard is down the lookups fail and fall back to the static
// directory, where the boxes are not: the voicemail application then
// ends the call without recording (README "Voicemail").
func (h *xmlCurlHandler) voicemailDirectory(ctx context.Context, f url.Values, domain string, tenantID int64) (string, error) {
	user := f.Get("user")
	action := f.Get("action")
	if h.router == nil || user == "" || action == "sip_auth" || action == "reverse-auth-lookup" {
		return xmlDomainDocument(domain, nil, ""), nil
	}
	if key := f.Get("key"); key != "" && key != "id" {
		return xmlDomainDocument(domain, nil, ""), nil
	}
	p, err := h.router.TenantPlan(ctx, tenantID)
	if errors.Is(err, provisioning.ErrNotFound) {
		return xmlNotFound, nil
	}
	if err != nil {
		return "", fmt.Errorf("freeswitch: voicemail box %s@%s: %w", user, domain, err)
	}
	b := boxByNumber(p, user)
	if b == nil {
		return xmlDomainDocument(domain, nil, ""), nil
	}
	return xmlBoxDocument(domain, b), nil
}

// xmlBoxDocument is the directory answer for box b.
func xmlBoxDocument(domain string, b *provisioning.VoicemailBox) string {
	return xmlDirectoryDocument(domain, func(x *xmlBuilder) {
		xmlInUsers(x, func() { xmlBoxUser(x, b, false) })
	})
}

// xmlBoxUser writes box b as a user (at depth 6); forbid adds
// sip-forbid-register (the static fallback file).
func xmlBoxUser(x *xmlBuilder, b *provisioning.VoicemailBox, forbid bool) {
	x.open(6, "user", "id", b.Number)
	x.open(7, "params")
	x.empty(8, "param", "name", "vm-password", "value", b.PIN)
	x.empty(8, "param", "name", "vm-enabled", "value", "true")
	if forbid {
		x.empty(8, "param", "name", "sip-forbid-register", "value", "true")
	}
	x.close(7, "params")
	x.close(6, "user")
}

// mwiAccount is the mwi-account param of account a's sip_auth answer:
// the box of a's extension (accountBox) as mod_voicemail names it in
// its MESSAGE_WAITING events (<number>@<voicemail domain>). sofia keeps
// it with the registration (sofia_reg.c: mwi_user, mwi_host) and sends
// the phone a message-summary NOTIFY for every event of that account,
// subscribed or not. "" when a has no box or routing is off.
//
// sofia also sends every registration the state of its mwi-account (by
// default the phone's own AOR) at each REGISTER (the profile's
// send-message-query-on-register, on by default, answered by
// mod_voicemail for any account): with routing on, a phone without a
// box gets send-message-query-on-register=false, so that it is not sent
// an unsolicited "Messages-Waiting: no" for a mailbox it does not have
// (some phones then show a voicemail key; sipp phones take the NOTIFY
// for a call). A phone with a box keeps it: it learns its box's state
// at REGISTER, e.g. after a restart of the phone.
func (h *xmlCurlHandler) mwiAccount(ctx context.Context, a *provisioning.Account) (string, error) {
	if h.router == nil || a.TenantID == 0 {
		return "", nil
	}
	p, err := h.router.TenantPlan(ctx, a.TenantID)
	if errors.Is(err, provisioning.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("freeswitch: voicemail box of %s: %w", a.AOR(), err)
	}
	b := accountBox(p, a.ID)
	if b == nil {
		return "", nil
	}
	return b.Number + "@" + VoicemailDomain(a.TenantID), nil
}
