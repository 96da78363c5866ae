package native

import (
	"time"

	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
)

// switchApplied is how far an account or gateway reached one switch
// (api.ConfigState), as every account and gateway answer shows it in
// "applied". Error is for admins only, as /api/v1/switches' last_error:
// a switch's answer may name its internal addresses.
type switchApplied struct {
	Switch string           `json:"switch"`
	State  api.ConfigStatus `json:"state"`
	Error  string           `json:"error"`
	Since  *time.Time       `json:"since"`
}

func appliedOf(sc provisioning.Scope, sts []api.ConfigState) []switchApplied {
	out := make([]switchApplied, 0, len(sts))
	for _, st := range sts {
		a := switchApplied{Switch: st.Switch, State: st.Status}
		if sc.All() {
			a.Error = st.Error
		}
		if !st.Since.IsZero() {
			since := st.Since.UTC()
			a.Since = &since
		}
		out = append(out, a)
	}
	return out
}

func (s *server) accountApplied(sc provisioning.Scope, a *provisioning.Account) []switchApplied {
	if s.d.Config == nil {
		return []switchApplied{}
	}
	return appliedOf(sc, s.d.Config.AccountStates(a))
}

func (s *server) gatewayApplied(sc provisioning.Scope, g *provisioning.Gateway) []switchApplied {
	if s.d.Config == nil {
		return []switchApplied{}
	}
	return appliedOf(sc, s.d.Config.GatewayStates(g))
}
