package asterisk

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/switchboard-voip/switchboard/switch/presence"
)

// metricOutboundRegistration is res_prometheus's gauge of each PJSIP
// outbound registration: 0 unregistered, 1 registered, 2 rejected. It is
// the only place outside the CLI and AMI where Asterisk shows that state:
// ARI sends no event for it.
const metricOutboundRegistration = "asterisk_pjsip_outbound_registration_status"

// OutboundRegistration is one series of metricOutboundRegistration.
type OutboundRegistration struct {
	ServerURI string // the "domain" label: the registration's server_uri
	ClientURI string // the "username" label: its client_uri
	State     presence.RegistrationState
}

// ParseOutboundRegistrations reads the outbound registration states from
// res_prometheus's text exposition. Other metrics are ignored.
func ParseOutboundRegistrations(text []byte) ([]OutboundRegistration, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("asterisk: res_prometheus metrics: %w", err)
	}
	fam := fams[metricOutboundRegistration]
	if fam == nil {
		return nil, nil
	}
	var out []OutboundRegistration
	for _, m := range fam.GetMetric() {
		var r OutboundRegistration
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "domain":
				r.ServerURI = l.GetValue()
			case "username":
				r.ClientURI = l.GetValue()
			}
		}
		v := m.GetGauge().GetValue()
		if m.GetGauge() == nil {
			v = m.GetUntyped().GetValue()
		}
		switch v {
		case 0:
			r.State = presence.RegUnregistered
		case 1:
			r.State = presence.RegRegistered
		case 2:
			r.State = presence.RegFailed
		default:
			r.State = presence.RegUnknown
		}
		out = append(out, r)
	}
	return out, nil
}

// uriHostPort is the host:port a SIP URI points at, "" if it has none.
func uriHostPort(uri string) string {
	addr, _ := contactAddress(uri)
	if addr == "" {
		return ""
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return ""
	}
	return strings.ToLower(addr)
}

// registrationsByGateway assigns each outbound registration to a gateway:
// by gatewayOf when set, else to the gateway whose contact has the
// registration server's host:port. Unassigned registrations are dropped.
func registrationsByGateway(regs []OutboundRegistration, gatewayOf func(serverURI, clientURI string) string, hosts map[string]string) map[string]presence.RegistrationState {
	out := map[string]presence.RegistrationState{}
	for _, r := range regs {
		gw := ""
		if gatewayOf != nil {
			gw = gatewayOf(r.ServerURI, r.ClientURI)
		}
		if gw == "" {
			gw = hosts[uriHostPort(r.ServerURI)]
		}
		if gw != "" {
			out[gw] = r.State
		}
	}
	return out
}
