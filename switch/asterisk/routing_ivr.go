package asterisk

import (
	"fmt"

	"github.com/switchboard-voip/switchboard/provisioning"
)

// menuContext is the context of IVR menu id.
func (r *routingRenderer) menuContext(n int64) string { return r.base + "-ivr" + id(n) }

// menus renders every IVR menu of the plan as its own context: WaitExten
// takes the caller's keys as extensions of the context it waits in, and
// Asterisk's own matching then waits for more digits while a longer
// number (direct dialling) could still match.
func (r *routingRenderer) menus() []dialplanContext {
	var out []dialplanContext
	for _, m := range r.p.IVRs {
		c := r.menu(m)
		c.Exts = append(c.Exts, r.faxDetected()...) // an extension with fax detection sent to the menu
		out = append(out, c)
	}
	return out
}

// menu is one menu's context. SB_IVR counts the greeting's plays; i
// (a key that is no option) plays the invalid sound and t (no key) go
// back to play until Plays() is reached, then to the invalid or timeout
// destination. Without a sounds_dir the menu waits in silence.
func (r *routingRenderer) menu(m *provisioning.IVRMenu) dialplanContext {
	c := dialplanContext{Name: r.menuContext(m.ID), Comment: []string{fmt.Sprintf("Tenant %d: IVR menu %d %q (number %q).", r.p.Tenant.ID, m.ID, dialplanText(m.Name), m.Number)}}
	play := []string{
		"Answer()",
		"Set(SB_IVR=0)",
		"n(play)|Set(SB_IVR=$[${SB_IVR} + 1])",
		"Set(TIMEOUT(digit)=3)",
	}
	if r.o.SoundsDir != "" {
		play = append(play, "Background("+SoundPath(r.o.SoundsDir, r.p.Tenant.ID, m.GreetingSoundID)+")")
	} else {
		c.Comment = append(c.Comment, "No sounds_dir on this node: the menu waits for keys in silence.")
	}
	play = append(play, fmt.Sprintf("WaitExten(%d)", m.Wait()))
	c.Exts = append(c.Exts, dialplanExten{Name: "s", Steps: play})
	keys := map[string]bool{}
	for _, o := range m.Options {
		keys[o.Digit] = true
		c.Exts = append(c.Exts, dialplanExten{Name: o.Digit, Comment: "key " + o.Digit, Steps: []string{"Goto(" + r.target(o.Destination) + ")"}})
	}
	if m.DirectDial {
		for _, n := range r.p.Numbers() {
			if keys[n] {
				continue
			}
			d, _ := r.p.Number(n)
			c.Exts = append(c.Exts, dialplanExten{Name: n, Steps: []string{"Goto(" + r.target(d) + ")"}})
		}
	}
	again := func(name string, d provisioning.Destination, sound *int64) dialplanExten {
		e := dialplanExten{Name: name, Steps: []string{fmt.Sprintf("GotoIf($[${SB_IVR} >= %d]?out)", m.Plays())}}
		if sound != nil && r.o.SoundsDir != "" {
			e.Steps = append(e.Steps, "Playback("+SoundPath(r.o.SoundsDir, r.p.Tenant.ID, *sound)+")")
		}
		target := r.obj + ",hangup,1"
		if !d.IsZero() {
			target = r.target(d)
		}
		return e.with("Goto(s,play)", "n(out)|Goto("+target+")")
	}
	c.Exts = append(c.Exts, again("i", m.Invalid, m.InvalidSoundID), again("t", m.Timeout, nil))
	return c
}

func (e dialplanExten) with(steps ...string) dialplanExten {
	e.Steps = append(e.Steps, steps...)
	return e
}
