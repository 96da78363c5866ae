package authz

import "slices"

// Legs authorized ahead of being dialled (Call.Of): a FreeSWITCH hunt
// group's external members are all authorized in the one lookup of the
// group, each with its own call id (the gateway leg's uuid, released by
// that leg's CDR). A member whose turn never came has no leg and so no
// CDR; the caller's CDR releases what its legs still hold. a.mu is held
// by every function here.

// addLeg records c as a leg of c.Of.
func (a *Authorizer) addLeg(c *Call) {
	if c.Of == "" {
		return
	}
	if a.legs == nil {
		a.legs = map[string][]string{}
	}
	pk := c.Switch + "/" + c.Of
	a.legs[pk] = append(a.legs[pk], c.key())
}

// removeLeg forgets c as a leg of its call (c was dropped).
func (a *Authorizer) removeLeg(c *Call) {
	if c.Of == "" {
		return
	}
	pk := c.Switch + "/" + c.Of
	keys := slices.DeleteFunc(a.legs[pk], func(k string) bool { return k == c.key() })
	if len(keys) == 0 {
		delete(a.legs, pk)
		return
	}
	a.legs[pk] = keys
}

// dropLegs drops every live leg of the call of key (Switch + "/" +
// CallID) at no cost, and returns how many it dropped.
func (a *Authorizer) dropLegs(key string) int {
	keys := slices.Clone(a.legs[key])
	now := a.cfg.Now()
	n := 0
	for _, k := range keys {
		if l, ok := a.calls[k]; ok {
			a.drop(l, 0, now)
			n++
		}
	}
	delete(a.legs, key)
	return n
}
