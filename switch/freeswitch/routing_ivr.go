package freeswitch

import (
	"fmt"
	"slices"
	"strings"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// menu renders IVR menu m as label sb-v<id>: answer, then
// play_and_get_digits plays the greeting and reads one key (or, with
// direct dialling, a number of the plan) for m.Plays() tries, each
// followed by m.Wait() seconds; an entry its regular expression refuses
// counts as a try (the invalid sound plays). The entry goes to sb-v<id>-k<entry>:
// the key's destination, or the number's. No entry left after the tries
// is sb-v<id>-k, which takes the invalid destination when the caller
// entered something refused (${sb_ivr_key_invalid}), else the timeout
// destination. Without a sounds_dir the menu waits in silence.
func (r *renderer) menu(m *provisioning.IVRMenu) {
	key := label(provisioning.Destination{Kind: provisioning.DestIVR, ID: m.ID})
	entries := map[string]provisioning.Destination{}
	for _, o := range m.Options {
		entries[o.Digit] = o.Destination
	}
	maxDigits := 1
	if m.DirectDial {
		for _, n := range r.p.Numbers() {
			if _, ok := entries[n]; !ok {
				d, _ := r.p.Number(n)
				entries[n] = d
				maxDigits = max(maxDigits, len(n))
			}
		}
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = regexQuote(k)
	}
	greeting, invalid := "silence_stream://250", "silence_stream://250"
	if r.sounds != "" {
		greeting = SoundPath(r.sounds, r.p.Tenant.ID, m.GreetingSoundID)
		if m.InvalidSoundID != nil {
			invalid = SoundPath(r.sounds, r.p.Tenant.ID, *m.InvalidSoundID)
		}
	}
	digitTimeout := 2000 // between the digits of a number dialled directly
	pagd := fmt.Sprintf("1 %d %d %d none %s %s sb_ivr_key ^(?:%s)$ %d", maxDigits, m.Plays(), m.Wait()*1000,
		greeting, invalid, strings.Join(quoted, "|"), digitTimeout)
	c := dest(key)
	c.acts = []act{
		{app: "answer"},
		{app: "set", data: "sb_ivr_key="},
		{app: "play_and_get_digits", data: pagd},
		{app: "execute_extension", data: key + "-k${sb_ivr_key} XML " + r.ctx},
	}
	r.ext(key, key, false, c)
	for _, k := range keys {
		kc := dest(key + "-k" + k)
		kc.acts = []act{r.run(entries[k])}
		r.ext(key+"-k"+k, key+"-k"+k, false, kc)
	}
	// No entry left: invalid when one was refused, else the timeout.
	none := key + "-k"
	anti := r.runOr(m.Timeout)
	anti.anti = true
	branch := cond{field: "${sb_ivr_key_invalid}", expr: "^.+$", acts: []act{r.runOr(m.Invalid), anti}}
	r.ext(none, none, false, dest(none), branch)
}

// runOr is run(d), hanging up (as a hangup destination) when d is unset.
func (r *renderer) runOr(d provisioning.Destination) act {
	if d.IsZero() {
		d = provisioning.Destination{Kind: provisioning.DestHangup}
	}
	return r.run(d)
}
