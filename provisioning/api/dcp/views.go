package dcp

import (
	"net"
	"strconv"
	"time"

	"github.com/switchboard-voip/switchboard/cdr"
	"github.com/switchboard-voip/switchboard/provisioning"
	"github.com/switchboard-voip/switchboard/provisioning/api"
	"github.com/switchboard-voip/switchboard/switch/presence"
)

// The data objects. Their member names are the dcp document's parameter
// names, so that what a caller reads back is what it would send.

type userView struct {
	AccID     string `json:"accid"`
	Email     string `json:"email"`
	FirstName string `json:"firstname"`
	LastName  string `json:"lastname"`
	Role      string `json:"role"`
	Tenant    int64  `json:"tenant"`
	Created   string `json:"created"`
	Updated   string `json:"updated"`
}

func viewUser(u *provisioning.User) userView {
	return userView{
		AccID: u.Login, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Role: string(u.Role), Tenant: u.TenantID, Created: stamp(u.CreatedAt), Updated: stamp(u.UpdatedAt),
	}
}

type phoneView struct {
	PhoneNumber    string `json:"phonenumber"`
	DCP            string `json:"dcp"`
	User           string `json:"user"`
	Desc           string `json:"desc"`
	CallerIDName   string `json:"callerid_name"`
	CallerIDNumber string `json:"callerid_number"`
	Created        string `json:"created"`
	Updated        string `json:"updated"`
	// Secret is set only in the answer to a phonenumber/create that
	// generated it: it is shown once, never listed.
	Secret string `json:"secret,omitempty"`
}

func viewPhone(a *provisioning.Account, owner string) phoneView {
	return phoneView{
		PhoneNumber: a.Username, DCP: a.Domain, User: owner, Desc: a.Description,
		CallerIDName: a.CallerIDName, CallerIDNumber: a.CallerIDNumber,
		Created: stamp(a.CreatedAt), Updated: stamp(a.UpdatedAt),
	}
}

type domainView struct {
	DCP     string `json:"dcp"`
	Desc    string `json:"desc"`
	Tenant  int64  `json:"tenant"`
	Created string `json:"created"`
}

func viewDomain(d *provisioning.Domain) domainView {
	return domainView{DCP: d.Name, Desc: d.Description, Tenant: d.TenantID, Created: stamp(d.CreatedAt)}
}

type onlineView struct {
	PhoneNumber string   `json:"phonenumber"`
	DCP         string   `json:"dcp"`
	Contact     string   `json:"contact"`
	IP          string   `json:"ip"`
	Port        int      `json:"port"`
	Transport   string   `json:"transport"`
	UserAgent   string   `json:"user_agent"`
	Expires     *string  `json:"expires"` // null when the switch does not say
	Status      string   `json:"status"`
	RTTms       *float64 `json:"rtt_ms"` // null when not qualified
	Switch      string   `json:"switch"`
}

func viewOnline(r *presence.Registration) onlineView {
	v := onlineView{
		PhoneNumber: r.User, DCP: r.Domain, Contact: r.Contact, IP: r.Address,
		Transport: r.Transport, UserAgent: r.UserAgent, Status: string(r.Status),
		RTTms: millis(r.RTT), Switch: r.Switch,
	}
	if host, port, err := net.SplitHostPort(r.Address); err == nil {
		v.IP = host
		v.Port, _ = strconv.Atoi(port)
	}
	if !r.Expires.IsZero() {
		s := stamp(r.Expires)
		v.Expires = &s
	}
	return v
}

type gatewayView struct {
	Name         string          `json:"name"`
	Host         string          `json:"host"`
	Port         int             `json:"port"`
	Transport    string          `json:"transport"`
	Desc         string          `json:"desc"`
	Tenant       *int64          `json:"tenant"` // null for a gateway shared by every tenant
	Register     bool            `json:"register"`
	Username     string          `json:"username"`
	Status       string          `json:"status"`
	Registration string          `json:"registration"`
	RTTms        *float64        `json:"rtt_ms"`
	Switch       string          `json:"switch"`
	Switches     []gatewayStatus `json:"switches"`
}

// gatewayStatus is a gateway's status on one switch.
type gatewayStatus struct {
	Switch       string   `json:"switch"`
	Status       string   `json:"status"`
	Registration string   `json:"registration"`
	RTTms        *float64 `json:"rtt_ms"`
	Detail       string   `json:"detail"`
	Updated      string   `json:"updated"`
}

// viewGateway combines a provisioned gateway with what the switches and
// Switchboard's own SIP prober report of it. Every switch report is listed
// in Switches (the prober's too, as switch "sip", when probing is on).
//
// The top-level status and rtt_ms are the prober's word whenever it has
// probed the gateway (up when it answers OPTIONS, lagged included; down
// after sip.misses unanswered probes), and switch is then "sip": the
// prober's word is Switchboard's own, uniform across switch types and
// fresh to sip.interval. Otherwise they are those of the first switch
// where the gateway is up, else of the first switch that has it down, else
// of the first that reports it at all, else unknown. registration is
// always the switches' (the prober does not register).
func viewGateway(g *provisioning.Gateway, live []presence.Gateway, probe *api.ProbeResult) gatewayView {
	v := gatewayView{
		Name: g.Name, Host: g.Host, Port: g.Port, Transport: string(g.Transport), Desc: g.Description,
		Tenant: g.TenantID, Register: g.Register, Username: g.Username,
		Status: string(presence.GatewayUnknown), Registration: string(presence.RegUnknown),
		Switches: []gatewayStatus{},
	}
	var best *presence.Gateway
	rank := func(s presence.GatewayState) int {
		switch s {
		case presence.GatewayUp:
			return 2
		case presence.GatewayDown:
			return 1
		}
		return 0
	}
	for i := range live {
		s := &live[i]
		v.Switches = append(v.Switches, gatewayStatus{
			Switch: s.Switch, Status: string(s.State), Registration: string(s.Registration),
			RTTms: millis(s.RTT), Detail: s.Detail, Updated: stamp(s.UpdatedAt),
		})
		if s.Switch == api.ProbeFeed && probe != nil {
			continue // the prober's word is taken from probe below
		}
		if best == nil || rank(s.State) > rank(best.State) {
			best = s
		}
	}
	if best != nil {
		v.Status, v.Registration, v.RTTms, v.Switch = string(best.State), string(best.Registration), millis(best.RTT), best.Switch
	}
	if probe != nil && probe.Status != api.ProbeUnknown {
		v.Status, v.RTTms, v.Switch = string(presence.GatewayDown), nil, api.ProbeFeed
		if probe.Status == api.ProbeReachable || probe.Status == api.ProbeLagged {
			v.Status, v.RTTms = string(presence.GatewayUp), millis(probe.RTT)
		}
	}
	return v
}

type cdrView struct {
	ID          int64  `json:"id"`
	CallID      string `json:"call_id"`
	Switch      string `json:"switch"`
	Direction   string `json:"direction"`
	DCP         string `json:"dcp"`
	PhoneNumber string `json:"phonenumber"`
	Gateway     string `json:"gateway"`
	Caller      string `json:"caller"`
	CallerName  string `json:"caller_name"`
	Callee      string `json:"callee"`
	Destination string `json:"destination"`
	Start       string `json:"start"`
	Answer      string `json:"answer,omitempty"`
	End         string `json:"end"`
	Duration    int    `json:"duration"`
	Billsec     int    `json:"billsec"`
	Disposition string `json:"disposition"`
	Cause       int    `json:"cause"`
	SIPStatus   int    `json:"sip_status"`
	Codec       string `json:"codec"`
}

func viewCDR(r *cdr.Record) cdrView {
	v := cdrView{
		ID: r.ID, CallID: r.CallID, Switch: r.Switch, Direction: string(r.Direction), DCP: r.Domain,
		PhoneNumber: r.Account, Gateway: r.Gateway, Caller: r.CallerNumber, CallerName: r.CallerName,
		Callee: r.Dialed, Destination: r.Destination, Start: stamp(r.Start), End: stamp(r.End),
		Duration: r.Duration, Billsec: r.Billsec, Disposition: string(r.Disposition), Cause: r.Cause,
		SIPStatus: r.SIPStatus, Codec: r.Codec,
	}
	if r.Answer != nil {
		v.Answer = stamp(*r.Answer)
	}
	return v
}

// stamp formats a time as RFC 3339 in UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// millis is a round-trip time in milliseconds (to the microsecond), or
// nil when unknown.
func millis(d time.Duration) *float64 {
	if d <= 0 {
		return nil
	}
	ms := float64(d.Microseconds()) / 1000
	return &ms
}
